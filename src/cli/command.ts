/**
 * What every subcommand is: a name, its flags, its help, and a run function that returns an exit
 * code (or throws an AppError). Settings from config/settings.ts become flags automatically.
 */
import { parseArgs } from 'node:util';
import { settingsFor, flagOf, type CommandName } from '../config/settings.js';
import type { Env, FlagValues } from '../config/settings-reader.js';
import { AppError } from '../errors.js';

export interface FlagSpec {
  readonly name: string;
  readonly type: 'string' | 'boolean';
  readonly description: string;
  readonly placeholder?: string;
  readonly short?: string;
  readonly default?: string;
}

export interface CommandContext {
  readonly flags: FlagValues;
  readonly positionals: readonly string[];
  readonly env: Env;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface Command {
  readonly name: CommandName;
  readonly summary: string;
  /** Arguments after the flags, for the usage line, e.g. "[NS...]". */
  readonly arguments?: string;
  readonly description: string;
  readonly flags: readonly FlagSpec[];
  /** How many positional arguments are allowed (default 0). */
  readonly maxPositionals?: number;
  run(context: CommandContext): Promise<number>;
}

export const PROGRAM = 'goldmane-edge-aggregator';

const HELP_FLAG: FlagSpec = { name: 'help', short: 'h', type: 'boolean', description: 'Show this help.' };

function allFlags(command: Command): FlagSpec[] {
  // Secrets are environment-only: a flag would show the value in `ps` and in shell history.
  const fromSettings: FlagSpec[] = settingsFor(command.name)
    .filter((setting) => setting.secret !== true)
    .map((setting) => ({
      name: flagOf(setting.env),
      type: setting.boolean === true ? 'boolean' : 'string',
      placeholder: 'VALUE',
      description: `${setting.description} [env ${setting.env}${setting.default === undefined ? '' : `, default ${setting.default}`}]`,
    }));
  return [...command.flags, ...fromSettings, HELP_FLAG];
}

export function parseCommandArgs(
  command: Command,
  args: readonly string[],
): { flags: FlagValues; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const flag of allFlags(command)) {
    options[flag.name] =
      flag.short === undefined ? { type: flag.type } : { type: flag.type, short: flag.short };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new AppError('USAGE', `${(error as Error).message}; see \`${PROGRAM} ${command.name} --help\``);
  }
  const max = command.maxPositionals ?? 0;
  if (parsed.values.help !== true && parsed.positionals.length > max) {
    throw new AppError(
      'USAGE',
      `unexpected argument "${parsed.positionals[max]}"; see \`${PROGRAM} ${command.name} --help\``,
    );
  }
  return { flags: parsed.values, positionals: parsed.positionals };
}

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l)).join('\n');
}

export function commandHelp(command: Command): string {
  const flags = allFlags(command)
    .map((flag) => {
      const name = `${flag.short === undefined ? '    ' : `-${flag.short}, `}--${flag.name}${flag.type === 'string' ? ` ${flag.placeholder ?? 'VALUE'}` : ''}`;
      const description =
        flag.default === undefined ? flag.description : `${flag.description} [default ${flag.default}]`;
      return `  ${name}\n        ${wrap(description, 90, '        ')}`;
    })
    .join('\n');
  const args = command.arguments === undefined ? '' : ` ${command.arguments}`;
  const secrets = settingsFor(command.name)
    .filter((setting) => setting.secret === true)
    .map((setting) => `  ${setting.env}\n        ${wrap(setting.description, 90, '        ')}`);
  const environment =
    secrets.length === 0 ? '' : `\nEnvironment only (secrets are never flags):\n${secrets.join('\n')}\n`;
  return `Usage: ${PROGRAM} ${command.name} [flags]${args}\n\n${command.summary}\n\n${command.description}\n${environment}\nFlags (each setting can also come from its environment variable; a flag wins):\n${flags}\n`;
}
