/**
 * The command line: dispatches to one subcommand and is the only place that turns errors into
 * exit codes. Data goes to stdout, diagnostics to stderr, errors as `error [CODE]: message`
 * (the stack only with --verbose).
 */
import { readFileSync } from 'node:fs';
import { AppError, EXIT_CODES } from '../errors.js';
import { PROGRAM, commandHelp, parseCommandArgs, type CommandContext } from './command.js';
import { COMMANDS, loadAllCommands } from './commands.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function programHelp(): Promise<string> {
  const commands = await loadAllCommands();
  const width = Math.max(...commands.map((command) => command.name.length));
  const lines = commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return `Usage: ${PROGRAM} <command> [flags]

Turns Calico Goldmane's flow stream into a durable who-talks-to-whom edge table in PostgreSQL.

Commands:
${lines.join('\n')}

Run \`${PROGRAM} <command> --help\` for a command's flags. Configuration: docs/configuration.md.
Global flags: --help, --version, --verbose (stack traces on errors).
`;
}

export async function main(
  argv: readonly string[],
  io: Pick<CommandContext, 'env' | 'stdout' | 'stderr'> = {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
  },
): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((arg) => arg !== '--verbose');
  try {
    const [name, ...rest] = args;
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      (name === undefined ? io.stderr : io.stdout).write(await programHelp());
      return name === undefined ? EXIT_CODES.USAGE : EXIT_CODES.OK;
    }
    if (name === '--version') {
      io.stdout.write(`${version()}\n`);
      return EXIT_CODES.OK;
    }
    const entry = COMMANDS.find((candidate) => candidate.name === name);
    if (entry === undefined) {
      throw new AppError(
        'USAGE',
        `unknown command "${name}"; the commands are ${COMMANDS.map((c) => c.name).join(', ')}`,
      );
    }
    const command = await entry.load();
    const { flags, positionals } = parseCommandArgs(command, rest);
    if (flags.help === true) {
      io.stdout.write(commandHelp(command));
      return EXIT_CODES.OK;
    }
    return await command.run({ ...io, flags, positionals });
  } catch (error) {
    const appError = error instanceof AppError ? error : null;
    const code = appError?.code ?? 'INTERNAL';
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`error [${code}]: ${message}\n`);
    if (verbose && error instanceof Error && error.stack !== undefined) io.stderr.write(`${error.stack}\n`);
    return appError?.exitCode ?? EXIT_CODES.INTERNAL;
  }
}
