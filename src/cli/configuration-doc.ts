/**
 * Renders the tables of docs/configuration.md from the settings table and the commands' flags, so
 * the document cannot drift from the code (a test compares them; `npm run docs:config` rewrites).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { SETTINGS, flagOf, type SettingSpec } from '../config/settings.js';
import { loadAllCommands } from './commands.js';

const START = '<!-- generated:start (npm run docs:config) -->';
const END = '<!-- generated:end -->';

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function settingRow(setting: SettingSpec): string {
  const flag = setting.secret === true ? '(environment only)' : `\`--${flagOf(setting.env)}\``;
  const fallback = setting.default === undefined ? '' : `\`${setting.default}\``;
  return `| \`${setting.env}\` | ${flag} | ${setting.commands.join(', ')} | ${fallback} | ${cell(setting.description)} |`;
}

export async function renderConfigurationTables(): Promise<string> {
  const commands = await loadAllCommands();
  const settings = [
    '### Settings (environment variable, or the flag that overrides it)',
    '',
    '| Variable | Flag | Commands | Default | Meaning |',
    '|---|---|---|---|---|',
    ...SETTINGS.map(settingRow),
  ];
  const flags = [
    '### Command flags (no environment variable)',
    '',
    '| Command | Flag | Default | Meaning |',
    '|---|---|---|---|',
    ...commands.flatMap((command) =>
      command.flags.map(
        (flag) =>
          `| ${command.name} | \`--${flag.name}${flag.type === 'string' ? ` ${flag.placeholder ?? 'VALUE'}` : ''}\` | ${flag.default === undefined ? '' : `\`${flag.default}\``} | ${cell(flag.description)} |`,
      ),
    ),
  ];
  return [...settings, '', ...flags].join('\n');
}

/** The generated part of a document, or null if it has no markers. */
export function generatedPart(document: string): string | null {
  const start = document.indexOf(START);
  const end = document.indexOf(END);
  if (start === -1 || end === -1) return null;
  return document.slice(start + START.length, end).trim();
}

export async function updateConfigurationDoc(path: string): Promise<void> {
  const document = readFileSync(path, 'utf8');
  const start = document.indexOf(START);
  const end = document.indexOf(END);
  if (start === -1 || end === -1) throw new Error(`${path} has no ${START} ... ${END} markers`);
  writeFileSync(
    path,
    `${document.slice(0, start + START.length)}\n${await renderConfigurationTables()}\n${document.slice(end)}`,
  );
}
