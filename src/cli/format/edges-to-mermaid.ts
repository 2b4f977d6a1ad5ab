/**
 * The edge set as a Mermaid flowchart (renders in GitHub and GitLab markdown). Nodes get synthetic
 * ids (n1, n2, ...) and carry the namespace as a quoted label: a namespace such as `end`, or one
 * starting with `o` or `x` right after an arrow, would otherwise be read as Mermaid syntax.
 * Denied edges are dotted arrows.
 */
import { NO_NAMESPACE } from '../../edges/flow-to-edge.js';
import type { GraphEdge } from './edges-to-dot.js';

/** Text inside a quoted Mermaid label: `"` and markup characters as Mermaid entity codes. */
export function mermaidText(text: string): string {
  return [...text]
    .map((c) => {
      if (c < ' ' || c === '\u007f') return ' ';
      if (c === '#') return '#35;';
      if (c === '"') return '#quot;';
      if (c === '<') return '#lt;';
      if (c === '>') return '#gt;';
      if (c === '&') return '#amp;';
      return c;
    })
    .join('');
}

export function edgesToMermaid(edges: readonly GraphEdge[]): string {
  const names = [...new Set(edges.flatMap((edge) => [edge.src, edge.dst]))].sort();
  const ids = new Map(names.map((name, i) => [name, `n${i + 1}`]));
  const lines = ['flowchart LR'];
  for (const name of names) {
    lines.push(`  ${ids.get(name)!}["${mermaidText(name === NO_NAMESPACE ? 'off-cluster' : name)}"]`);
  }
  for (const edge of edges) {
    const arrow = edge.action === 'deny' ? '-.->' : '-->';
    lines.push(
      `  ${ids.get(edge.src)!} ${arrow}|"${mermaidText(`${edge.action} ${edge.flowCount}`)}"| ${ids.get(edge.dst)!}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
