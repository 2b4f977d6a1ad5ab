/**
 * Every failure the CLI reports has a stable code (documented in docs/errors.md) and an exit code.
 * Only the CLI's top-level handler turns an AppError into an exit; nothing below it exits.
 */
export const EXIT_CODES = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  CONFIG: 3,
  SCHEMA: 4,
  DATABASE: 5,
  SUPERSEDED: 6,
  DIGEST_POST_FAILED: 7,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

export const ERROR_CODES = {
  /** Unknown command, flag or argument. */
  USAGE: EXIT_CODES.USAGE,
  /** One or more configuration values (environment, flags, files) are invalid. */
  CONFIG_INVALID: EXIT_CODES.CONFIG,
  /** The database has migrations this version of the code does not know. */
  SCHEMA_NEWER_THAN_CODE: EXIT_CODES.SCHEMA,
  /** A migration failed to apply. */
  MIGRATION_FAILED: EXIT_CODES.SCHEMA,
  /** A one-shot command could not reach or use the database. */
  DATABASE_UNAVAILABLE: EXIT_CODES.DATABASE,
  /** Another aggregator took over the ingest cursor; this one stopped writing. */
  SUPERSEDED: EXIT_CODES.SUPERSEDED,
  /** Slack did not accept the digest. */
  DIGEST_POST_FAILED: EXIT_CODES.DIGEST_POST_FAILED,
  /** A bug: something that should not happen did. */
  INTERNAL: EXIT_CODES.INTERNAL,
} as const satisfies Record<string, ExitCode>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  readonly code: ErrorCode;
  /** Individual problems, for errors that gather several (configuration). */
  readonly problems: readonly string[];

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; problems?: readonly string[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.problems = options.problems ?? [];
  }

  get exitCode(): ExitCode {
    return ERROR_CODES[this.code];
  }
}

/** The message of any thrown value, for log lines. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
