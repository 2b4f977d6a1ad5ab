/**
 * The edge set as a Graphviz digraph: one node per namespace, one arrow per edge labelled with its
 * action and flow count; denied edges red and dashed. Every identifier is a quoted string, so a
 * namespace called `node`, `edge` or `graph` (DOT keywords) is still just a name.
 */
import { NO_NAMESPACE } from '../../edges/flow-to-edge.js';

export interface GraphEdge {
  readonly src: string;
  readonly dst: string;
  readonly action: string;
  readonly flowCount: bigint;
}

/**
 * A DOT quoted string. `"` must be escaped; a backslash is escaped too because labels give
 * `\n`, `\l`, `\N` ... a meaning; line breaks and other control characters cannot be in a name.
 */
export function dotString(text: string): string {
  const clean = [...text].map((c) => (c < ' ' || c === '\u007f' ? ' ' : c)).join('');
  return `"${clean.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

const ACTION_STYLE: Record<string, string> = {
  deny: ', color="red", fontcolor="red", style="dashed"',
  pass: ', color="gray40", style="dotted"',
  unspecified: ', color="gray40", style="dotted"',
};

export function edgesToDot(edges: readonly GraphEdge[]): string {
  const lines = ['digraph edges {', '  rankdir=LR;', '  node [shape=box];'];
  if (edges.some((edge) => edge.src === NO_NAMESPACE || edge.dst === NO_NAMESPACE)) {
    lines.push(`  ${dotString(NO_NAMESPACE)} [label="off-cluster", shape=ellipse];`);
  }
  for (const edge of edges) {
    const label = dotString(`${edge.action} ${edge.flowCount}`);
    lines.push(
      `  ${dotString(edge.src)} -> ${dotString(edge.dst)} [label=${label}${ACTION_STYLE[edge.action] ?? ''}];`,
    );
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
