/**
 * Reads settings from the environment and flags (flags win), gathering every problem instead of
 * stopping at the first, so that one run tells the operator everything that is wrong.
 */
import { AppError } from '../errors.js';
import { formatDuration, parseDuration } from './duration.js';
import { flagOf, settingSpec, type SettingName } from './settings.js';

export type Env = Readonly<Record<string, string | undefined>>;
/** Parsed flag values keyed by flag name without dashes (`goldmane-host`). */
export type FlagValues = Readonly<Record<string, string | boolean | undefined>>;

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

export class SettingsReader {
  readonly problems: string[] = [];

  constructor(
    private readonly env: Env,
    private readonly flags: FlagValues = {},
  ) {}

  /** The raw value (flag, else environment, else default); "" counts as unset. */
  raw(name: SettingName): string | undefined {
    const spec = settingSpec(name);
    const flag = spec.secret === true ? undefined : this.flags[flagOf(name)];
    if (typeof flag === 'string' && flag !== '') return flag;
    if (flag === true) return 'true';
    const fromEnv = this.env[name];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    return spec.default;
  }

  /** Where a value came from, for error messages that say what to change. */
  source(name: SettingName): string {
    return this.flags[flagOf(name)] !== undefined ? `--${flagOf(name)}` : name;
  }

  string(name: SettingName): string | undefined {
    return this.raw(name);
  }

  requiredString(name: SettingName, hint: string): string {
    const value = this.raw(name);
    if (value === undefined) {
      this.problems.push(`${name} is not set: ${hint}`);
      return '';
    }
    return value;
  }

  boolean(name: SettingName): boolean {
    const value = this.raw(name);
    if (value === undefined) return false;
    const word = value.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    this.problems.push(`${this.source(name)}: "${value}" is not a boolean; use true or false`);
    return false;
  }

  /**
   * A duration setting. `max` comes with the reason a longer value would not do what it says,
   * for the message.
   */
  durationMs(
    name: SettingName,
    limits: { min?: number; max?: { ms: number; why: string }; allowZero?: boolean } = {},
  ): number {
    const value = this.raw(name) ?? '0ms';
    if (limits.allowZero === true && value.trim() === '0') return 0;
    try {
      const ms = parseDuration(value);
      if (ms === 0 && limits.allowZero === true) return 0;
      if (limits.min !== undefined && ms < limits.min) {
        this.problems.push(
          `${this.source(name)}: ${value} is too short; the minimum is ${limits.min / 1000}s`,
        );
      }
      if (limits.max !== undefined && ms > limits.max.ms) {
        this.problems.push(
          `${this.source(name)}: ${value} is too long; the maximum is ${formatDuration(limits.max.ms)} (${limits.max.why})`,
        );
      }
      return ms;
    } catch (error) {
      this.problems.push(`${this.source(name)}: ${(error as Error).message}`);
      return 0;
    }
  }

  port(name: SettingName): number {
    const value = this.raw(name) ?? '0';
    const port = Number(value);
    if (!/^\d+$/.test(value.trim()) || port > 65535) {
      this.problems.push(`${this.source(name)}: "${value}" is not a port number (0-65535)`);
      return 0;
    }
    return port;
  }

  oneOf<T extends string>(name: SettingName, choices: readonly T[]): T {
    const value = this.raw(name) ?? choices[0]!;
    if ((choices as readonly string[]).includes(value)) return value as T;
    this.problems.push(`${this.source(name)}: "${value}" is not one of ${choices.join(', ')}`);
    return choices[0]!;
  }

  /** Throws one CONFIG_INVALID error listing every problem, if there are any. */
  throwIfProblems(): void {
    if (this.problems.length === 0) return;
    const count = this.problems.length === 1 ? '1 problem' : `${this.problems.length} problems`;
    throw new AppError(
      'CONFIG_INVALID',
      `invalid configuration (${count}):\n  - ${this.problems.join('\n  - ')}`,
      {
        problems: this.problems,
      },
    );
  }
}
