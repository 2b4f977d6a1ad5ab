import { describe, expect, it } from 'vitest';
import { dotString, edgesToDot, type GraphEdge } from '../../src/cli/format/edges-to-dot.js';
import { edgesToMermaid, mermaidText } from '../../src/cli/format/edges-to-mermaid.js';
import { parseDot, parseMermaidFlowchart } from '../support/graph-grammar.js';

const EDGES: GraphEdge[] = [
  { src: 'cart', dst: 'shop', action: 'allow', flowCount: 100n },
  { src: 'shop', dst: '-', action: 'allow', flowCount: 7n },
  { src: 'shop', dst: 'dbaas', action: 'allow', flowCount: 9007199254740993n },
  { src: 'shop', dst: 'payments', action: 'deny', flowCount: 9n },
  { src: 'shop', dst: 'search', action: 'pass', flowCount: 3n },
  // DOT and Mermaid keywords as namespace names.
  { src: 'node', dst: 'end', action: 'allow', flowCount: 1n },
  { src: 'graph', dst: 'ox', action: 'allow', flowCount: 2n },
];

describe('edgesToDot', () => {
  it('is a digraph that parses back to exactly the edges', () => {
    const graph = parseDot(edgesToDot(EDGES));
    expect(graph.directed).toBe(true);
    expect(graph.name).toBe('edges');
    expect(graph.edges.map((e) => [e.from, e.to, e.attrs.label])).toEqual(
      EDGES.map((e) => [e.src, e.dst, `${e.action} ${e.flowCount}`]),
    );
    expect(graph.nodes.get('-')).toEqual({ label: 'off-cluster', shape: 'ellipse' });
  });

  it('draws denied edges red and dashed', () => {
    const denied = parseDot(edgesToDot(EDGES)).edges.find((e) => e.to === 'payments')!;
    expect(denied.attrs).toEqual({ label: 'deny 9', color: 'red', fontcolor: 'red', style: 'dashed' });
  });

  it('escapes quotes and backslashes, and drops control characters', () => {
    expect(dotString('a"b\\c\nd')).toBe('"a\\"b\\\\c d"');
    const graph = parseDot(edgesToDot([{ src: 'x"y', dst: 'z', action: 'allow', flowCount: 1n }]));
    expect(graph.edges[0]!.from).toBe('x"y');
  });

  it('is a valid empty graph when there are no edges', () => {
    expect(parseDot(edgesToDot([])).edges).toEqual([]);
  });

  it('the checker itself refuses broken DOT', () => {
    expect(() => parseDot('digraph { "a" -> }')).toThrow();
    expect(() => parseDot('digraph { a -- b }')).toThrow(/edge operator/);
    expect(() => parseDot('digraph { a -> edge }')).toThrow(/keyword/);
    expect(() => parseDot('digraph { "a -> b }')).toThrow(/unterminated/);
  });
});

describe('edgesToMermaid', () => {
  it('is a flowchart that parses back to exactly the edges, keywords and all', () => {
    const chart = parseMermaidFlowchart(edgesToMermaid(EDGES));
    expect(chart.direction).toBe('LR');
    const name = (id: string): string => chart.nodes.get(id)!;
    expect(chart.edges.map((e) => [name(e.from), name(e.to), e.label])).toEqual(
      EDGES.map((e) => [e.src, e.dst === '-' ? 'off-cluster' : e.dst, `${e.action} ${e.flowCount}`]),
    );
  });

  it('draws denied edges dotted', () => {
    const chart = parseMermaidFlowchart(edgesToMermaid(EDGES));
    expect(chart.edges.filter((e) => e.arrow === '-.->').map((e) => e.label)).toEqual(['deny 9']);
  });

  it('escapes quotes and markup as entity codes', () => {
    expect(mermaidText('a"b<c>&#')).toBe('a#quot;b#lt;c#gt;#amp;#35;');
    const chart = parseMermaidFlowchart(
      edgesToMermaid([{ src: 'x"y', dst: 'z', action: 'allow', flowCount: 1n }]),
    );
    expect([...chart.nodes.values()]).toEqual(['x"y', 'z']);
  });

  it('the checker itself refuses broken Mermaid', () => {
    expect(() => parseMermaidFlowchart('flowchart LR\n  a --> b')).toThrow(/outside the flowchart grammar/);
    expect(() => parseMermaidFlowchart('flowchart LR\n  n1["a"]\n  n1 -->|"x"| n2')).toThrow(/undeclared/);
    expect(() => parseMermaidFlowchart('flowchart LR\n  end["a"]')).toThrow(/keyword/);
  });
});
