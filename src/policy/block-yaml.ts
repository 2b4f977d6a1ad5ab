/**
 * A small block-style YAML writer for the policy documents: plain data (maps, lists, strings,
 * numbers, booleans) plus comments before list items and before the document. The `yaml` library
 * builds a node tree per document and took about 6 ms per policy of 100 rules (10 s for --out over
 * 100,000 edges); this writes the same shape directly. The tests parse every document back with
 * the `yaml` library.
 * Pure: no I/O.
 *
 * A string is written plain only when no YAML 1.1 or 1.2 reader can take it for anything but that
 * string; otherwise it is double-quoted with JSON escapes (JSON strings are YAML double-quoted
 * scalars).
 */

/** A list item with comment lines before it. */
export class Commented {
  constructor(
    readonly comment: string,
    readonly value: unknown,
  ) {}
}

/** Words YAML 1.1 or 1.2 resolves to booleans or null (compared lower-case). */
const RESERVED = new Set(['true', 'false', 'yes', 'no', 'on', 'off', 'y', 'n', 'null', '~']);
// Starts with a letter (so never a number, timestamp, indicator or .inf), and holds nothing that
// could end or comment a plain scalar.
const PLAIN = /^[A-Za-z][A-Za-z0-9 ._/()'=!&|-]*$/;

export function yamlScalar(value: unknown): string {
  if (typeof value === 'string') {
    const plain =
      PLAIN.test(value) &&
      !value.endsWith(' ') &&
      !value.includes(': ') &&
      !value.includes(' #') &&
      !RESERVED.has(value.toLowerCase());
    return plain ? value : JSON.stringify(value);
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  throw new Error(`block-yaml: cannot write ${typeof value}`);
}

function commentLines(comment: string, indent: string): string[] {
  return comment.split('\n').map((line) => (line.trim() === '' ? `${indent}#` : `${indent}#${line}`));
}

function isEmpty(value: unknown): boolean {
  if (Array.isArray(value)) return value.length === 0;
  if (value !== null && typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

function isCollection(value: unknown): value is object {
  return value !== null && typeof value === 'object' && !(value instanceof Commented);
}

function inline(value: unknown): string {
  if (Array.isArray(value)) return '[]';
  if (isCollection(value)) return '{}';
  return yamlScalar(value);
}

function writeMap(map: object, indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  for (const [key, value] of Object.entries(map)) {
    if (!isCollection(value) || isEmpty(value)) {
      out.push(`${pad}${yamlScalar(key)}: ${inline(value)}`);
    } else {
      out.push(`${pad}${yamlScalar(key)}:`);
      if (Array.isArray(value)) writeList(value, indent + 2, out);
      else writeMap(value, indent + 2, out);
    }
  }
}

function writeList(list: readonly unknown[], indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  for (const entry of list) {
    let item = entry;
    if (item instanceof Commented) {
      out.push(...commentLines(item.comment, pad));
      item = item.value;
    }
    if (!isCollection(item) || isEmpty(item)) {
      out.push(`${pad}- ${inline(item)}`);
      continue;
    }
    // The item's first line starts after "- "; the rest is indented to line up with it.
    const lines: string[] = [];
    if (Array.isArray(item)) writeList(item, indent + 2, lines);
    else writeMap(item, indent + 2, lines);
    lines[0] = `${pad}- ${lines[0]!.slice(indent + 2)}`;
    out.push(...lines);
  }
}

/** One YAML document (a map) with an optional comment before it. */
export function blockYaml(document: object, comment?: string): string {
  const out = comment === undefined ? [] : [...commentLines(comment, ''), ''];
  writeMap(document, 0, out);
  return `${out.join('\n')}\n`;
}
