/**
 * Hashing for routing: block keys of a prompt's bytes (the prefix tree's alphabet) and the string
 * hash that places backends and sessions on the consistent-hash ring. FNV-1a, 32 bits: fast, pure,
 * the same on every host and every run.
 */

const fnvOffset = 0x811c9dc5;
const fnvPrime = 0x01000193;

/** FNV-1a over bytes, continuing from `seed` (chains a block to the blocks before it). */
export function hashBytes(bytes: Uint8Array, start: number, end: number, seed: number = fnvOffset): number {
  let hash = seed >>> 0;
  for (let index = start; index < end; index += 1) {
    hash ^= bytes[index]!;
    hash = Math.imul(hash, fnvPrime) >>> 0;
  }
  return hash;
}

/** FNV-1a over a string's UTF-16 code units, mixed so nearby strings land far apart on the ring. */
export function hashString(text: string): number {
  let hash = fnvOffset;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index) & 0xff;
    hash = Math.imul(hash, fnvPrime);
    hash ^= text.charCodeAt(index) >>> 8;
    hash = Math.imul(hash, fnvPrime);
  }
  return mix(hash >>> 0);
}

/** A 32-bit finaliser (murmur3's fmix32). */
export function mix(value: number): number {
  let hash = value >>> 0;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * The block keys of a prompt: one key per whole block of `blockBytes` bytes, each the hash of its
 * block chained from the previous key, so a key identifies its whole prefix. A trailing partial block
 * gets no key (a cache holds whole blocks, and a partial block is cheap to recompute).
 */
export function blockKeys(bytes: Uint8Array, blockBytes: number, blocksMax: number): number[] {
  const count = Math.min(Math.floor(bytes.length / blockBytes), blocksMax);
  const keys: number[] = new Array<number>(count);
  let previous = fnvOffset;
  for (let block = 0; block < count; block += 1) {
    previous = hashBytes(bytes, block * blockBytes, (block + 1) * blockBytes, previous);
    keys[block] = previous;
  }
  return keys;
}
