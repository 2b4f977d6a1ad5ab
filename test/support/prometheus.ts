/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4): every line must be a
 * comment (# HELP / # TYPE), blank, or a sample `name{label="value",...} number`; every sample's
 * family must have HELP and TYPE. Throws on the first line that is not.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
const FAMILY_SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created', ''];

export function parsePrometheusText(text: string): Sample[] {
  const help = new Set<string>();
  const type = new Map<string, string>();
  const samples: Sample[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment !== null) {
      if (comment[1] === 'HELP') help.add(comment[2]!);
      else if (['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(comment[3]!))
        type.set(comment[2]!, comment[3]!);
      else throw new Error(`line ${index + 1}: unknown metric type: ${line}`);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`line ${index + 1} is not a sample: ${line}`);
    const labels: Record<string, string> = {};
    if (match[2] !== undefined && match[2] !== '') {
      LABEL.lastIndex = 0;
      let consumed = 0;
      for (let label = LABEL.exec(match[2]); label !== null; label = LABEL.exec(match[2])) {
        labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        consumed = LABEL.lastIndex;
      }
      if (consumed !== match[2].length) throw new Error(`line ${index + 1} has malformed labels: ${line}`);
    }
    // Prometheus parses values with Go's ParseFloat, which takes NaN and Inf in any case.
    const word = match[3]!.toLowerCase();
    const value =
      word === 'nan'
        ? NaN
        : word === '+inf' || word === 'inf'
          ? Infinity
          : word === '-inf'
            ? -Infinity
            : Number(match[3]);
    if (Number.isNaN(value) && word !== 'nan') throw new Error(`line ${index + 1} has no number: ${line}`);
    const name = match[1]!;
    const family = FAMILY_SUFFIXES.filter((suffix) => name.endsWith(suffix))
      .map((suffix) => name.slice(0, name.length - suffix.length))
      .find((candidate) => type.has(candidate));
    if (family === undefined || !help.has(family))
      throw new Error(`line ${index + 1}: sample ${name} has no HELP/TYPE`);
    samples.push({ name, labels, value });
  }
  return samples;
}
