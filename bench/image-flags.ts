/**
 * The V8 flags of the container image, read from the Dockerfile's ENTRYPOINT
 * (["node", FLAGS..., "dist/cli/bin.js"]), so that the benchmark measures the aggregator as it
 * runs in a pod unless told otherwise.
 */
import { readFileSync } from 'node:fs';

const DOCKERFILE = new URL('../../Dockerfile', import.meta.url);

export function imageNodeFlags(): string[] {
  let text: string;
  try {
    text = readFileSync(DOCKERFILE, 'utf8');
  } catch {
    return [];
  }
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(text)?.[1];
  if (entrypoint === undefined) return [];
  let words: unknown;
  try {
    words = JSON.parse(entrypoint);
  } catch {
    return [];
  }
  if (!Array.isArray(words) || words[0] !== 'node') return [];
  const flags: string[] = [];
  for (const word of words.slice(1)) {
    if (typeof word !== 'string' || !word.startsWith('--')) break;
    flags.push(word);
  }
  return flags;
}
