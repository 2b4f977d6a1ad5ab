/**
 * Grammar checks for the graph formats of `edges`, without a Graphviz or Mermaid install.
 *
 * parseDot is a parser for the DOT language as Graphviz documents it (graph, stmt_list, node,
 * edge and attribute statements, ID = identifier | numeral | quoted string, keywords
 * case-insensitive; HTML strings and subgraphs are refused because we never emit them). It throws
 * on anything outside the grammar and returns the edges, so tests can compare them exactly.
 *
 * parseMermaidFlowchart checks the flowchart subset we emit, line by line: a `flowchart DIR`
 * header, node declarations `id["text"]`, and edges `id ARROW|"text"| id`; every id must be a
 * declared node and no id may be a Mermaid keyword. Mermaid's own parser ships inside the
 * mermaid package, which needs a browser DOM; a strict checker of the subset is the honest
 * alternative.
 */

export interface DotGraph {
  readonly directed: boolean;
  readonly name: string | null;
  readonly nodes: Map<string, Record<string, string>>;
  readonly edges: { from: string; to: string; attrs: Record<string, string> }[];
}

type Token = { kind: 'id'; value: string; quoted: boolean } | { kind: 'punct'; value: string };

const KEYWORDS = new Set(['node', 'edge', 'graph', 'digraph', 'subgraph', 'strict']);

function tokenizeDot(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const startOfLine = (at: number): boolean => at === 0 || text[at - 1] === '\n';
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#' && startOfLine(i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) throw new Error('DOT: unterminated comment');
      i = end + 2;
    } else if (text.startsWith('->', i) || text.startsWith('--', i)) {
      tokens.push({ kind: 'punct', value: text.slice(i, i + 2) });
      i += 2;
    } else if ('{}[];,=:'.includes(c)) {
      tokens.push({ kind: 'punct', value: c });
      i++;
    } else if (c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('DOT: unterminated string');
        const d = text[i]!;
        if (d === '"') break;
        if (d === '\\' && text[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (d === '\\' && text[i + 1] === '\n') {
          i += 2;
        } else {
          value += d;
          i++;
        }
      }
      i++;
      tokens.push({ kind: 'id', value, quoted: true });
    } else if (c === '<') {
      throw new Error('DOT: HTML strings are not expected in our output');
    } else {
      const id = /^(?:[A-Za-z_\u0080-\uffff][A-Za-z_0-9\u0080-\uffff]*|-?(?:\.\d+|\d+(?:\.\d*)?))/.exec(
        text.slice(i),
      );
      if (id === null) throw new Error(`DOT: unexpected character ${JSON.stringify(c)} at ${i}`);
      tokens.push({ kind: 'id', value: id[0], quoted: false });
      i += id[0].length;
    }
  }
  return tokens;
}

export function parseDot(text: string): DotGraph {
  const tokens = tokenizeDot(text);
  let at = 0;
  const peek = (): Token | undefined => tokens[at];
  const isPunct = (value: string): boolean => peek()?.kind === 'punct' && peek()!.value === value;
  const isKeyword = (word: string): boolean => {
    const t = peek();
    return t?.kind === 'id' && !t.quoted && t.value.toLowerCase() === word;
  };
  const expectPunct = (value: string): void => {
    if (!isPunct(value))
      throw new Error(`DOT: expected "${value}" at token ${at}, got ${JSON.stringify(peek())}`);
    at++;
  };
  const id = (): string => {
    const t = peek();
    if (t?.kind !== 'id') throw new Error(`DOT: expected an ID at token ${at}, got ${JSON.stringify(t)}`);
    if (!t.quoted && KEYWORDS.has(t.value.toLowerCase()))
      throw new Error(`DOT: keyword ${t.value} used as an ID`);
    at++;
    return t.value;
  };
  const attrList = (): Record<string, string> => {
    const attrs: Record<string, string> = {};
    while (isPunct('[')) {
      at++;
      while (!isPunct(']')) {
        const key = id();
        expectPunct('=');
        attrs[key] = id();
        if (isPunct(';') || isPunct(',')) at++;
      }
      at++;
    }
    return attrs;
  };
  const nodeId = (): string => {
    const name = id();
    if (isPunct(':')) {
      at++;
      id();
      if (isPunct(':')) {
        at++;
        id();
      }
    }
    return name;
  };

  if (isKeyword('strict')) at++;
  let directed: boolean;
  if (isKeyword('digraph')) directed = true;
  else if (isKeyword('graph')) directed = false;
  else throw new Error('DOT: a graph starts with graph or digraph');
  at++;
  const name = isPunct('{') ? null : id();
  expectPunct('{');
  const graph: DotGraph = { directed, name, nodes: new Map(), edges: [] };
  const touch = (node: string): void => {
    if (!graph.nodes.has(node)) graph.nodes.set(node, {});
  };
  while (!isPunct('}')) {
    if (peek() === undefined) throw new Error('DOT: missing "}"');
    if (isKeyword('subgraph') || isPunct('{'))
      throw new Error('DOT: subgraphs are not expected in our output');
    if (isKeyword('graph') || isKeyword('node') || isKeyword('edge')) {
      at++;
      if (!isPunct('[')) throw new Error('DOT: an attribute statement needs "["');
      attrList();
    } else {
      const first = nodeId();
      if (isPunct('=')) {
        at++;
        id();
      } else if (isPunct('->') || isPunct('--')) {
        const chain = [first];
        while (isPunct('->') || isPunct('--')) {
          const op = (peek() as { value: string }).value;
          if (op !== (directed ? '->' : '--'))
            throw new Error(`DOT: edge operator ${op} in a ${directed ? 'digraph' : 'graph'}`);
          at++;
          chain.push(nodeId());
        }
        const attrs = attrList();
        chain.forEach(touch);
        for (let k = 1; k < chain.length; k++)
          graph.edges.push({ from: chain[k - 1]!, to: chain[k]!, attrs });
      } else {
        touch(first);
        Object.assign(graph.nodes.get(first)!, attrList());
      }
    }
    if (isPunct(';')) at++;
  }
  at++;
  if (at !== tokens.length) throw new Error('DOT: text after the closing "}"');
  return graph;
}

export interface MermaidFlowchart {
  readonly direction: string;
  /** id → label text (entity codes decoded). */
  readonly nodes: Map<string, string>;
  readonly edges: { from: string; to: string; arrow: string; label: string }[];
}

const MERMAID_KEYWORDS = new Set([
  'end',
  'subgraph',
  'graph',
  'flowchart',
  'style',
  'class',
  'classDef',
  'click',
  'linkStyle',
]);
const ENTITIES: Record<string, string> = { quot: '"', lt: '<', gt: '>', amp: '&' };

function decodeMermaid(text: string): string {
  if (text.includes('"')) throw new Error(`Mermaid: a raw quote inside a quoted label: ${text}`);
  return text.replace(/#(\w+);/g, (whole, code: string) => {
    if (/^\d+$/.test(code)) return String.fromCodePoint(Number(code));
    const decoded = ENTITIES[code];
    if (decoded === undefined) throw new Error(`Mermaid: unknown entity ${whole}`);
    return decoded;
  });
}

export function parseMermaidFlowchart(text: string): MermaidFlowchart {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const header = /^flowchart (LR|RL|TB|TD|BT)$/.exec(lines[0] ?? '');
  if (header === null) throw new Error(`Mermaid: expected "flowchart DIR", got ${JSON.stringify(lines[0])}`);
  const chart: MermaidFlowchart = { direction: header[1]!, nodes: new Map(), edges: [] };
  const checkId = (id: string): void => {
    if (MERMAID_KEYWORDS.has(id)) throw new Error(`Mermaid: keyword ${id} used as a node id`);
  };
  for (const line of lines.slice(1)) {
    const node = /^ {2}([A-Za-z][A-Za-z0-9_]*)\["([^"]*)"\]$/.exec(line);
    if (node !== null) {
      checkId(node[1]!);
      if (chart.nodes.has(node[1]!)) throw new Error(`Mermaid: node ${node[1]} declared twice`);
      chart.nodes.set(node[1]!, decodeMermaid(node[2]!));
      continue;
    }
    const edge = /^ {2}([A-Za-z][A-Za-z0-9_]*) (-->|-\.->|==>)\|"([^"]*)"\| ([A-Za-z][A-Za-z0-9_]*)$/.exec(
      line,
    );
    if (edge !== null) {
      const [, from, arrow, label, to] = edge as unknown as [string, string, string, string, string];
      for (const end of [from, to]) {
        checkId(end);
        if (!chart.nodes.has(end)) throw new Error(`Mermaid: edge uses undeclared node ${end}`);
      }
      chart.edges.push({ from, to, arrow, label: decodeMermaid(label) });
      continue;
    }
    throw new Error(`Mermaid: line outside the flowchart grammar: ${JSON.stringify(line)}`);
  }
  return chart;
}
