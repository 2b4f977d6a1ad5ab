import { DEMO_DATA_DIR_FLAG } from '../demo-database.js';
import { EDGE_ACTIONS, type EdgeAction } from '../../edges/flow-to-edge.js';
import { AppError, EXIT_CODES } from '../../errors.js';
import { EDGE_SORTS, queryEdges, queryPeers, type EdgeFilter } from '../../store/trail-queries.js';
import type { Command } from '../command.js';
import { EDGE_FORMATS, renderEdges, renderPeers } from '../format/edge-output.js';
import {
  choiceArgument,
  formatArgument,
  limitArgument,
  namespaceArgument,
  note,
  readTrail,
  sinceArgument,
  stringFlag,
  writeOut,
} from '../trail-arguments.js';

/** Enough for a screen or a review; a whole trail is asked for with --limit 0. */
export const DEFAULT_EDGE_LIMIT = 200;

export const edgesCommand: Command = {
  name: 'edges',
  summary: 'List who talks to whom: edges of the trail, filtered, sorted, as a table, JSON, CSV or a graph.',
  description: `Filters combine with AND. Namespaces are checked as Kubernetes names before any query; '-' selects off-cluster endpoints (kept only with INCLUDE_OFF_CLUSTER). --peers-of NS lists the distinct namespaces NS talks to or hears from (direction out, in or both; flows summed), after the other filters. WHEN is a duration back from the database's clock (24h, 7d), a UTC date (2026-06-01) or a timestamp (2026-06-01T08:00:00Z). At most --limit rows are printed; when rows were cut, stderr says how many matched (and JSON has "truncated": true and "total"). The table is the same on a terminal and in a pipe; use --json or --format csv for programs. JSON keeps flow_count exact as a decimal string. Read-only: works with a role that has SELECT only. docs/queries.md pairs each runbook SQL recipe with its command.`,
  flags: [
    { name: 'ns', type: 'string', placeholder: 'NS', description: 'Edges with NS on either side.' },
    { name: 'src', type: 'string', placeholder: 'NS', description: 'Edges from NS (outbound).' },
    { name: 'dst', type: 'string', placeholder: 'NS', description: 'Edges to NS (inbound).' },
    {
      name: 'peers-of',
      type: 'string',
      placeholder: 'NS',
      description: 'List the distinct peer namespaces of NS instead of edges (not with dot or mermaid).',
    },
    {
      name: 'new-since',
      type: 'string',
      placeholder: 'WHEN',
      description: 'Edges first seen after WHEN (the runbook\'s "new edges" recipe: --new-since 24h).',
    },
    { name: 'seen-since', type: 'string', placeholder: 'WHEN', description: 'Edges last seen after WHEN.' },
    {
      name: 'action',
      type: 'string',
      placeholder: 'ACTION',
      description: `One of ${EDGE_ACTIONS.join(', ')}.`,
    },
    { name: 'denied', type: 'boolean', description: 'Only denied edges (--action deny).' },
    {
      name: 'sort',
      type: 'string',
      placeholder: 'KEY',
      default: 'src',
      description:
        'src (src_ns, dst_ns, action), dst (dst_ns, src_ns, action), or, largest or newest first: flow-count, first-seen, last-seen. With --peers-of, src and dst sort by peer.',
    },
    {
      name: 'limit',
      type: 'string',
      placeholder: 'N',
      default: String(DEFAULT_EDGE_LIMIT),
      description: 'Print at most N rows; 0 for all.',
    },
    {
      name: 'format',
      type: 'string',
      placeholder: 'FORMAT',
      default: 'table',
      description: EDGE_FORMATS.join(', '),
    },
    { name: 'json', type: 'boolean', description: 'Short for --format json.' },
    DEMO_DATA_DIR_FLAG,
  ],
  async run(context) {
    const { flags, stdout, stderr } = context;
    // Every argument is checked before the database is opened.
    const filter: { -readonly [K in keyof EdgeFilter]: EdgeFilter[K] } = {};
    for (const key of ['ns', 'src', 'dst'] as const) {
      const value = stringFlag(flags, key);
      if (value !== undefined) filter[key] = namespaceArgument(`--${key}`, value, { allowOffCluster: true });
    }
    const peersOfFlag = stringFlag(flags, 'peers-of');
    const peersOf =
      peersOfFlag === undefined
        ? undefined
        : namespaceArgument('--peers-of', peersOfFlag, { allowOffCluster: true });
    const action = stringFlag(flags, 'action');
    if (action !== undefined) filter.action = choiceArgument<EdgeAction>('action', action, EDGE_ACTIONS);
    if (flags.denied === true) {
      if (filter.action !== undefined && filter.action !== 'deny') {
        throw new AppError('USAGE', `--denied and --action ${filter.action} contradict each other; give one`);
      }
      filter.action = 'deny';
    }
    const newSince = stringFlag(flags, 'new-since');
    if (newSince !== undefined) filter.newSince = sinceArgument('new-since', newSince);
    const seenSince = stringFlag(flags, 'seen-since');
    if (seenSince !== undefined) filter.seenSince = sinceArgument('seen-since', seenSince);
    const sort = choiceArgument('sort', stringFlag(flags, 'sort') ?? 'src', EDGE_SORTS);
    const limit = limitArgument(stringFlag(flags, 'limit'), DEFAULT_EDGE_LIMIT);
    const format = formatArgument(flags, EDGE_FORMATS, 'table');
    if (peersOf !== undefined && (format === 'dot' || format === 'mermaid')) {
      throw new AppError(
        'USAGE',
        `--peers-of lists namespaces, not edges, so it has no ${format} form; for the graph around ${peersOf} use --ns ${peersOf} --format ${format}`,
      );
    }

    if (peersOf !== undefined) {
      const page = await readTrail(context, 'edges', (db) => queryPeers(db, peersOf, filter, sort, limit));
      await writeOut(stdout, renderPeers(peersOf, page, format as 'table' | 'json' | 'csv', limit));
      if (page.truncated)
        note(
          stderr,
          `showing ${page.rows.length} of ${page.total} peers (--limit ${limit}); use --limit 0 for all`,
        );
      else if (page.rows.length === 0) note(stderr, 'no peers match');
    } else {
      const page = await readTrail(context, 'edges', (db) => queryEdges(db, filter, sort, limit));
      await writeOut(stdout, renderEdges(page, format, limit));
      if (page.truncated) {
        note(
          stderr,
          `showing ${page.rows.length} of ${page.total} edges (--limit ${limit}); use --limit 0 for all, or narrow the filters`,
        );
      } else if (page.rows.length === 0) {
        note(stderr, 'no edges match');
      }
    }
    return EXIT_CODES.OK;
  },
};
