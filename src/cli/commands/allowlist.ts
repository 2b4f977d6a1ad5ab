import { DEMO_DATA_DIR_FLAG } from '../demo-database.js';
import { AppError, EXIT_CODES } from '../../errors.js';
import { deriveAllowlists, type Allowlist } from '../../policy/allowlist.js';
import { assessReadiness, describeObservation, type TrailObservation } from '../../policy/readiness.js';
import { readEgressEdges, readObservationFacts } from '../../store/trail-queries.js';
import type { CommandContext, Command } from '../command.js';
import { ALLOWLIST_FORMATS, renderAllowlists, type AllowlistEntry } from '../format/allowlist-output.js';
import {
  formatArgument,
  namespaceArgument,
  note,
  readTrail,
  usageHint,
  writeOut,
} from '../trail-arguments.js';

/** Namespaces on one command line; far above any real use, low enough to keep a query sane. */
export const MAX_NAMESPACE_ARGUMENTS = 10_000;

export interface TrailAllowlists {
  readonly observation: TrailObservation;
  readonly entries: readonly AllowlistEntry[];
}

/** The namespaces named on the command line (checked), or null for --all. */
export function namespaceSelection(
  command: string,
  context: Pick<CommandContext, 'flags' | 'positionals'>,
  allImplied = false,
): string[] | null {
  const names = context.positionals.map((name) => namespaceArgument('namespace', name));
  const all = context.flags.all === true;
  if (all && names.length > 0) {
    throw new AppError('USAGE', `give namespaces or --all, not both; ${usageHint(command)}`);
  }
  if (all || (names.length === 0 && allImplied)) return null;
  if (names.length === 0) {
    throw new AppError(
      'USAGE',
      `name one or more namespaces, or --all for every source namespace; ${usageHint(command)}`,
    );
  }
  return names;
}

/** Reads the trail once and judges every selected namespace. */
export async function loadAllowlists(
  context: Pick<CommandContext, 'env' | 'flags' | 'stderr'>,
  command: string,
  namespaces: readonly string[] | null,
): Promise<TrailAllowlists> {
  const { facts, edges } = await readTrail(context, command, async (db) => {
    const facts = await readObservationFacts(db);
    return { facts, edges: await readEgressEdges(db, namespaces, facts.tables) };
  });
  const observation = describeObservation(facts);
  const allowlists: Allowlist[] = deriveAllowlists(namespaces, edges);
  for (const allowlist of allowlists) {
    const empty = allowlist.allowed.length + allowlist.denied.length + allowlist.other.length === 0;
    if (empty && namespaces !== null) {
      note(
        context.stderr,
        `warning: ${allowlist.namespace} has no egress edges in the trail (a typo, or a namespace that never sent traffic to another namespace?)`,
      );
    }
  }
  return {
    observation,
    entries: allowlists.map((allowlist) => ({
      allowlist,
      readiness: assessReadiness(observation, allowlist),
    })),
  };
}

export const allowlistCommand: Command = {
  name: 'allowlist',
  summary: "Each namespace's internal egress allowlist, with evidence and a readiness verdict.",
  arguments: '[NS...]',
  maxPositionals: MAX_NAMESPACE_ARGUMENTS,
  description: `For each source namespace: the namespaces it was observed reaching with action allow (first seen, last seen, flow count each), the denied and unclassified edges, and a verdict. not-ready: the trail has observed less than 7 days (recorded gaps subtracted), the runbook's rule. stabilizing: 7 days or more, but the namespace's allow set grew in the last 7 days of observation. ready: neither. Attention items (denied or mixed destinations, off-cluster egress, gaps, a stale trail) are listed whatever the verdict. Observation comes from the aggregator's ingest_cursor; without one (a database of the original service) it falls back to the edge table's first_seen..last_seen and says so. --all covers every namespace that is the source of an edge. Formats: table (blocks), matrix (one line per namespace), json, csv (one row per edge). Read-only.`,
  flags: [
    { name: 'all', type: 'boolean', description: 'Every source namespace in the trail (the full matrix).' },
    {
      name: 'format',
      type: 'string',
      placeholder: 'FORMAT',
      default: 'table',
      description: ALLOWLIST_FORMATS.join(', '),
    },
    { name: 'json', type: 'boolean', description: 'Short for --format json.' },
    DEMO_DATA_DIR_FLAG,
  ],
  async run(context) {
    const namespaces = namespaceSelection('allowlist', context);
    const format = formatArgument(context.flags, ALLOWLIST_FORMATS, 'table');
    const report = await loadAllowlists(context, 'allowlist', namespaces);
    await writeOut(context.stdout, renderAllowlists(report, format));
    return EXIT_CODES.OK;
  },
};
