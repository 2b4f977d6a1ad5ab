/**
 * The FlowKeys of one run (one bucket), so that a key delivered twice counts once.
 *
 * A Set of strings would build a string of about 200 characters per flow and hash it, and keep
 * every one alive until the run ends: the largest cost of the ledger on the hot path. Here the
 * key's bytes are copied into one buffer and hashed in the same pass, and found again through an
 * open-addressing table of their hashes; equal hashes are confirmed byte by byte, so the set is
 * exact. Nothing is allocated per flow, and the buffers are reused run after run.
 */

const INITIAL_KEYS = 1_024;
const INITIAL_BYTES = 256 * 1024;
/** After a run this many times smaller than the capacity, the buffers shrink back. */
const SHRINK_FACTOR = 8;

export class FlowKeySet {
  private bytes = Buffer.allocUnsafe(INITIAL_BYTES);
  private bytesUsed = 0;
  /** Per key: where its bytes start in `bytes`, their length and their hash. */
  private starts = new Int32Array(INITIAL_KEYS);
  private lengths = new Int32Array(INITIAL_KEYS);
  private hashes = new Int32Array(INITIAL_KEYS);
  /** Open addressing, linear probing: key index + 1, or 0 for an empty slot. Twice the keys. */
  private slots = new Int32Array(INITIAL_KEYS * 2);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds the key `source[start, end)`; false if an equal key is already in the set. */
  add(source: Buffer, start: number, end: number): boolean {
    const length = end - start;
    if (this.bytesUsed + length > this.bytes.length) this.growBytes(length);
    const at = this.bytesUsed;
    // The bytes are copied while they are hashed; the copy is kept only if the key is new.
    const hash = copyAndHash(source, start, end, this.bytes, at);
    const slots = this.slots;
    const mask = slots.length - 1;
    let slot = hash & mask;
    for (let entry = slots[slot]!; entry !== 0; entry = slots[slot]!) {
      if (this.hashes[entry - 1] === hash && this.equals(entry - 1, at, length)) return false;
      slot = (slot + 1) & mask;
    }
    const index = this.count++;
    if (index === this.starts.length) this.growKeys();
    this.starts[index] = at;
    this.lengths[index] = length;
    this.hashes[index] = hash;
    this.bytesUsed += length;
    if (this.count * 2 > slots.length) this.rehash(slots.length * 2);
    else slots[slot] = index + 1;
    return true;
  }

  /** Empties the set, keeping its buffers unless the last run needed far less than them. */
  clear(): void {
    if (this.slots.length > INITIAL_KEYS * 2 && this.count * 2 * SHRINK_FACTOR < this.slots.length) {
      this.slots = new Int32Array(Math.max(INITIAL_KEYS * 2, nextPowerOfTwo(this.count * 4)));
      this.starts = new Int32Array(this.slots.length / 2);
      this.lengths = new Int32Array(this.slots.length / 2);
      this.hashes = new Int32Array(this.slots.length / 2);
    } else {
      this.slots.fill(0);
    }
    if (this.bytes.length > INITIAL_BYTES && this.bytesUsed * SHRINK_FACTOR < this.bytes.length) {
      this.bytes = Buffer.allocUnsafe(Math.max(INITIAL_BYTES, this.bytesUsed * 2));
    }
    this.count = 0;
    this.bytesUsed = 0;
  }

  /** Whether key `index` equals the `length` bytes at `at` in the buffer. */
  private equals(index: number, at: number, length: number): boolean {
    if (this.lengths[index] !== length) return false;
    const offset = this.starts[index]!;
    const bytes = this.bytes;
    for (let i = 0; i < length; i++) if (bytes[offset + i] !== bytes[at + i]) return false;
    return true;
  }

  private growKeys(): void {
    const size = this.starts.length * 2;
    const starts = new Int32Array(size);
    const lengths = new Int32Array(size);
    const hashes = new Int32Array(size);
    starts.set(this.starts);
    lengths.set(this.lengths);
    hashes.set(this.hashes);
    this.starts = starts;
    this.lengths = lengths;
    this.hashes = hashes;
  }

  private growBytes(needed: number): void {
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.bytesUsed + needed));
    this.bytes.copy(grown, 0, 0, this.bytesUsed);
    this.bytes = grown;
  }

  /** Rebuilds the table with `size` slots from the stored hashes (the new key included). */
  private rehash(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    for (let index = 0; index < this.count; index++) {
      let slot = this.hashes[index]! & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = index + 1;
    }
    this.slots = slots;
  }
}

/**
 * Copies `source[start, end)` to `target` at `at` and returns a 31-bit hash of the bytes, four at a
 * time (murmur3-style mixing). The hash only has to spread keys over the table: keys with equal
 * hashes are compared byte by byte.
 */
export function copyAndHash(
  source: Uint8Array,
  start: number,
  end: number,
  target: Uint8Array,
  at: number,
): number {
  let hash = end - start;
  let i = start;
  let o = at;
  for (; i + 4 <= end; i += 4, o += 4) {
    const b0 = source[i]!;
    const b1 = source[i + 1]!;
    const b2 = source[i + 2]!;
    const b3 = source[i + 3]!;
    target[o] = b0;
    target[o + 1] = b1;
    target[o + 2] = b2;
    target[o + 3] = b3;
    let word = Math.imul(b0 | (b1 << 8) | (b2 << 16) | (b3 << 24), 0xcc9e2d51);
    word = (word << 15) | (word >>> 17);
    hash ^= Math.imul(word, 0x1b873593);
    hash = (hash << 13) | (hash >>> 19);
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0;
  }
  for (; i < end; i++, o++) {
    const byte = source[i]!;
    target[o] = byte;
    hash = Math.imul(hash ^ byte, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash & 0x7fffffff;
}

function nextPowerOfTwo(value: number): number {
  let power = 1;
  while (power < value) power *= 2;
  return power;
}
