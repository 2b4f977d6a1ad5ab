import { describe, expect, it } from 'vitest';
import { FlowKeySet, copyAndHash } from '../../src/aggregate/flow-key-set.js';
import { seededRandom } from '../../src/simulate/flows.js';

/** `text` inside a larger buffer, as a FlowKey sits inside its message. */
function inMessage(text: string, padding = 3): [Buffer, number, number] {
  const bytes = Buffer.concat([
    Buffer.alloc(padding, 0x2a),
    Buffer.from(text, 'latin1'),
    Buffer.alloc(padding, 0x2a),
  ]);
  return [bytes, padding, bytes.length - padding];
}

function randomKey(random: () => number, length: number): string {
  let key = '';
  for (let i = 0; i < length; i++) key += String.fromCharCode(Math.floor(random() * 256));
  return key;
}

describe('FlowKeySet', () => {
  it('adds a key once, whatever buffer or offset its bytes come from', () => {
    const set = new FlowKeySet();
    expect(set.add(...inMessage('shop>db:5432'))).toBe(true);
    expect(set.add(...inMessage('shop>db:5432', 10))).toBe(false);
    expect(set.add(...inMessage('shop>db:5433'))).toBe(true);
    expect(set.add(...inMessage('shop>db:543'))).toBe(true); // a prefix is another key
    expect(set.add(...inMessage(''))).toBe(true);
    expect(set.add(...inMessage('', 0))).toBe(false);
    expect(set.size).toBe(4);
  });

  it('stays exact when two different keys hash alike', () => {
    // Look for two keys with the same 31-bit hash (a birthday search over random 40-byte keys).
    const random = seededRandom(7);
    const byHash = new Map<number, string>();
    const scratch = Buffer.alloc(64);
    let pair: [string, string] | null = null;
    while (pair === null) {
      const key = randomKey(random, 40);
      const hash = copyAndHash(Buffer.from(key, 'latin1'), 0, 40, scratch, 0);
      const other = byHash.get(hash);
      if (other !== undefined && other !== key) pair = [other, key];
      byHash.set(hash, key);
    }
    const set = new FlowKeySet();
    expect(set.add(...inMessage(pair[0]))).toBe(true);
    expect(set.add(...inMessage(pair[1]))).toBe(true);
    expect(set.add(...inMessage(pair[0]))).toBe(false);
    expect(set.add(...inMessage(pair[1]))).toBe(false);
  });

  it('grows past its first buffers (keys and bytes) and still finds every key', () => {
    const set = new FlowKeySet();
    const random = seededRandom(3);
    const keys = Array.from({ length: 5_000 }, (_, i) => `${i}:${randomKey(random, 150 + (i % 100))}`);
    for (const key of keys) expect(set.add(...inMessage(key))).toBe(true);
    for (const key of keys) expect(set.add(...inMessage(key))).toBe(false);
    expect(set.size).toBe(5_000);
  });

  it('is empty after clear(), and works on after shrinking from a large run', () => {
    const set = new FlowKeySet();
    const keys = Array.from({ length: 20_000 }, (_, i) => `key-${i}-${'x'.repeat(200)}`);
    for (const key of keys) set.add(...inMessage(key));
    set.clear();
    expect(set.size).toBe(0);
    expect(set.add(...inMessage(keys[0]!))).toBe(true);
    set.clear(); // the last run held one key: the buffers shrink
    for (const key of keys.slice(0, 3_000)) expect(set.add(...inMessage(key))).toBe(true);
    for (const key of keys.slice(0, 3_000)) expect(set.add(...inMessage(key))).toBe(false);
  });
});
