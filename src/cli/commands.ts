/**
 * The subcommands, loaded on demand: `aggregate` runs in a 64 MiB pod, and importing every other
 * command (the digest's Slack client, the policy generator's YAML, the simulator) would cost it
 * memory for code it never runs.
 */
import type { CommandName } from '../config/settings.js';
import type { Command } from './command.js';

export interface CommandEntry {
  readonly name: CommandName;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'aggregate', load: async () => (await import('./commands/aggregate.js')).aggregateCommand },
  { name: 'migrate', load: async () => (await import('./commands/migrate.js')).migrateCommand },
  { name: 'digest', load: async () => (await import('./commands/digest.js')).digestCommand },
  { name: 'edges', load: async () => (await import('./commands/edges.js')).edgesCommand },
  { name: 'allowlist', load: async () => (await import('./commands/allowlist.js')).allowlistCommand },
  { name: 'policy', load: async () => (await import('./commands/policy.js')).policyCommand },
  { name: 'simulate', load: async () => (await import('./commands/simulate.js')).simulateCommand },
  { name: 'demo', load: async () => (await import('./commands/demo.js')).demoCommand },
];

export function loadAllCommands(): Promise<Command[]> {
  return Promise.all(COMMANDS.map((entry) => entry.load()));
}
