/**
 * A structure-aware fuzzer for the codec's decoder, bounded by iteration count. Generators build
 * CBOR the way an attacker would: nested and unknown tags, shared-value chains (tags 28/29), declared
 * lengths far beyond the input, deep nesting, long bignums, indefinite lengths, odd simple values,
 * truncations, random bytes, and mutations of valid frames. Every input must either decode to plain
 * data or be refused with a typed DecodeError, and the decoder's work must stay within a fixed
 * multiple of the input's size. Work is counted, not timed: the items the scan visits plus the nodes
 * of the value produced (counted by a walk with a budget, so a value larger than allowed cannot make
 * the check itself run away). The test prints the largest ratio it saw. Replay with SEED=<n>.
 */
import { describe, expect, it } from 'vitest';
import { Codec, DecodeError, codec as defaultCodec, createRng, seedFromEnvironment, type Rng } from '../../../runtime/index.js';
import { head, major, sharedValueBomb, text } from '../../support/cbor-bytes.js';

/** The bound under test: decoded nodes per wire byte (each node needs at least one byte of its own). */
const nodesPerByteMax = 1;
/** ... and scanned items plus decoded nodes per wire byte. */
const workPerByteMax = 2;
const inputsPerGenerator = 1_000;
const refusalCodes = ['DECODE_FAILED', 'FRAME_TOO_LARGE', 'DEPTH_EXCEEDED', 'ITEMS_EXCEEDED', 'DECODED_TOO_LARGE', 'BIGNUM_TOO_LARGE', 'TAG_REFUSED'];

const strict = new Codec({ frameBytesMax: 64 * 1024, messageDepthMax: 16, messageItemsMax: 3_000, decodedBytesMax: 96 * 1024, bignumBytesMax: 64 });

/** Tags worth trying: every one cbor-x interprets by default, and a few it does not know. */
const tags = [0, 1, 2, 3, 4, 5, 6, 14, 15, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 32, 35, 51, 64, 72, 77, 81, 85, 86, 87, 105, 256, 258, 259, 55799, 0xdff9, 0xdffe, 0xdfff, 0xe000, 0x10000, 0xffffffff];

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(0, items.length - 1)]!;
}

function randomBytes(rng: Rng, length: number): number[] {
  return Array.from({ length }, () => rng.int(0, 255));
}

/** One raw CBOR item, well-formed or not, from every corner of RFC 8949. */
function rawItem(rng: Rng, depth: number): number[] {
  const leaf = depth > 6;
  switch (rng.int(0, leaf ? 6 : 12)) {
    case 0: return head(major.unsigned, rng.next() < 0.5 ? rng.int(0, 30) : BigInt(rng.int(0, 2 ** 31)) ** BigInt(rng.int(1, 2)));
    case 1: return head(major.negative, rng.int(0, 100_000));
    case 2: { const length = rng.int(0, 12); return [...head(major.bytes, length), ...randomBytes(rng, length)]; }
    case 3: return text(rng.next() < 0.1 ? '__proto__' : `k${rng.int(0, 99)}`);
    case 4: return [0xf4 + rng.int(0, 3)]; // false, true, null, undefined
    case 5: return pick(rng, [[0xf9, 0x3c, 0x00], [0xfa, 0x3f, 0x80, 0, 0], [0xfb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18], [0xf8, rng.int(0, 255)], [0xe0 + rng.int(0, 19)], [0xfc], [0xfd], [0xfe], [0xff]]);
    case 6: return [0x1c + rng.int(0, 3)]; // reserved additional information 28-31 on an integer
    case 7: case 8: {
      const count = rng.int(0, 4);
      return [...head(major.array, count), ...Array.from({ length: count }, () => rawItem(rng, depth + 1)).flat()];
    }
    case 9: {
      const count = rng.int(0, 3);
      const key = (): number[] => (rng.next() < 0.85 ? text(pick(rng, ['type', 'id', 'body', '__proto__', 'constructor', `k${rng.int(0, 9)}`])) : rawItem(rng, depth + 1));
      return [...head(major.map, count), ...Array.from({ length: count }, () => [...key(), ...rawItem(rng, depth + 1)]).flat()];
    }
    case 10: return [...head(major.tag, pick(rng, tags)), ...rawItem(rng, depth + 1)];
    case 11: return [...head(major.tag, pick(rng, [2, 3])), ...head(major.bytes, rng.int(0, 80)), ...randomBytes(rng, rng.int(0, 80))];
    default: {
      const opener = pick(rng, [0x5f, 0x7f, 0x9f, 0xbf]);
      const body = Array.from({ length: rng.int(0, 3) }, () => rawItem(rng, depth + 1)).flat();
      return [opener, ...body, ...(rng.next() < 0.7 ? [0xff] : [])];
    }
  }
}

/** A plain value, the kind the cluster sends, bignums included. */
function plainValue(rng: Rng, depth: number): unknown {
  switch (rng.int(0, depth > 4 ? 6 : 9)) {
    case 0: return null;
    case 1: return rng.next() < 0.5;
    case 2: return rng.int(-(2 ** 31), 2 ** 31);
    case 3: return rng.next() * 1e9;
    case 4: return `s${rng.int(0, 1_000)}`.repeat(rng.int(0, 4));
    case 5: return (rng.next() < 0.5 ? -1n : 1n) * BigInt(rng.int(0, 2 ** 30)) ** BigInt(rng.int(1, 16));
    case 6: return Uint8Array.from(randomBytes(rng, rng.int(0, 24)));
    case 7: return Array.from({ length: rng.int(0, 5) }, () => plainValue(rng, depth + 1));
    default: return Object.fromEntries(Array.from({ length: rng.int(0, 4) }, () => [`k${rng.int(0, 30)}`, plainValue(rng, depth + 1)]));
  }
}

/**
 * A batch message as a link sends it: envelope frames with plain bodies on every stream (0
 * at-most-once, 1 the bulk lane, 2 the notice lane), watches on the notice lane, and acks of either lane.
 */
function validFrame(rng: Rng): Uint8Array {
  const frames = Array.from({ length: rng.int(1, 4) }, (_, index): unknown => {
    switch (rng.int(0, 5)) {
      case 0: return { type: pick(rng, ['watch', 'unwatch']), reliable: index + 1, lane: 'notice', target: '/root/sink', watcher: { node: 'n1', path: '/root/w' } };
      case 1: return rng.next() < 0.5 ? { type: 'ack', upTo: rng.int(0, 1e6) } : { type: 'ack', upTo: rng.int(0, 1e6), lane: 'notice' };
      default: return [rng.int(0, 2), index + 1, `n1-${rng.int(0, 1e6)}`, '/root/sink', { type: 'msg', body: plainValue(rng, 0) }];
    }
  });
  return defaultCodec.encode(frames);
}

function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  const bytes = [...input];
  for (let edits = rng.int(1, 4); edits > 0; edits -= 1) {
    const at = rng.int(0, bytes.length);
    switch (rng.int(0, 4)) {
      case 0: bytes[Math.min(at, bytes.length - 1)] = rng.int(0, 255); break;
      case 1: bytes.splice(at, 0, ...head(major.tag, pick(rng, tags))); break;
      case 2: bytes.splice(at, rng.int(1, 4)); break;
      case 3: bytes.splice(at, 0, ...bytes.slice(rng.int(0, bytes.length), rng.int(0, bytes.length))); break;
      default: bytes.splice(at, 0, ...head(rng.int(2, 5), BigInt(2) ** BigInt(rng.int(8, 63))));
    }
  }
  return Uint8Array.from(bytes.length === 0 ? [0xff] : bytes);
}

const generators: ReadonlyArray<readonly [string, (rng: Rng) => Uint8Array]> = [
  ['valid frames', validFrame],
  ['raw items', (rng) => Uint8Array.from(rawItem(rng, 0))],
  ['shared-value chains', (rng) => (rng.next() < 0.5 ? sharedValueBomb(rng.int(1, 80)) : mutate(rng, sharedValueBomb(rng.int(1, 20))))],
  ['nested tags', (rng) => Uint8Array.from([...Array.from({ length: rng.int(1, 40) }, () => head(major.tag, pick(rng, tags))).flat(), ...rawItem(rng, 0)])],
  ['huge declared lengths', (rng) => Uint8Array.from([...head(rng.int(2, 5), BigInt(2) ** BigInt(rng.int(16, 64)) - BigInt(rng.int(1, 3))), ...randomBytes(rng, rng.int(0, 16))])],
  ['deep nesting', (rng) => {
    // Mostly arrays and maps, with an occasional tag or indefinite container on the way down.
    const level = (): number[] => (rng.next() < 0.95 ? pick(rng, [[0x81], [0xa1, 0x61, 0x6b]]) : pick(rng, [[0xc2], [0x9f], [0xd8, 0x1c]]));
    return Uint8Array.from([...Array.from({ length: rng.int(1, 300) }, level).flat(), 0x01]);
  }],
  ['long bignums', (rng) => { const length = rng.int(0, 1_000); return Uint8Array.from([0x81, ...head(major.tag, rng.int(2, 3)), ...head(major.bytes, length), ...randomBytes(rng, length)]); }],
  ['many items', (rng) => { const count = rng.int(1, 6_000); return Uint8Array.from([...head(major.array, count), ...new Array<number>(count).fill(pick(rng, [0x00, 0x80, 0xa0, 0x40, 0xf6]))]); }],
  ['truncations', (rng) => { const bytes = validFrame(rng); return bytes.subarray(0, rng.int(0, bytes.length - 1)); }],
  ['random bytes', (rng) => Uint8Array.from(randomBytes(rng, rng.int(0, 96)))],
  ['mutated frames', (rng) => mutate(rng, validFrame(rng))],
];

/** Nodes of a decoded value (an object counts one, plus two per entry: its key and its value), stopping past `budget`. */
function countNodes(root: unknown, budget: number): number {
  const stack: unknown[] = [root];
  let nodes = 0;
  while (stack.length > 0 && nodes <= budget) {
    const value = stack.pop();
    nodes += 1;
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) continue;
    if (Array.isArray(value)) {
      stack.push(...value);
      continue;
    }
    for (const item of Object.values(value)) {
      nodes += 1;
      stack.push(item);
    }
  }
  return nodes;
}

/** Whether a decoded value is plain data; only called on values whose node count is already bounded. */
function isPlain(value: unknown): boolean {
  if (value === null || value === undefined || ['string', 'number', 'boolean', 'bigint'].includes(typeof value)) return true;
  if (value instanceof Uint8Array) return Object.getPrototypeOf(value) === Uint8Array.prototype;
  if (Array.isArray(value)) return value.every(isPlain);
  if (typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value).every(isPlain);
}

/** The code `run` throws a DecodeError with, or undefined when it returns. */
function refusalOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof DecodeError) return error.code;
    throw error;
  }
}

describe('codec fuzz: hostile CBOR', () => {
  it(`decodes to plain data or refuses with a typed DecodeError, with work at most ${workPerByteMax}x the wire bytes`, () => {
    const seed = seedFromEnvironment();
    const rng = createRng(seed);
    const refusals: Record<string, number> = {};
    let decoded = 0;
    let maxNodesPerByte = 0;
    let maxWorkPerByte = 0;
    for (const [name, generate] of generators) {
      for (let round = 0; round < inputsPerGenerator; round += 1) {
        const input = generate(rng);
        const target = round % 4 === 0 ? defaultCodec : strict;
        // Checked by hand, not with expect(): the description is built only when a check fails.
        const where = (what: string): string => `seed ${seed}, ${name}, round ${round}: ${what}; input ${Buffer.from(input.subarray(0, 64)).toString('hex')}`;
        let value: unknown;
        try {
          value = target.decode(input);
        } catch (error) {
          if (!(error instanceof DecodeError)) throw new Error(where(`threw ${String(error)}`));
          if (!refusalCodes.includes(error.code)) throw new Error(where(`unknown refusal code ${error.code}`));
          // The scan alone refuses exactly what decoding refuses: cbor-x never sees bytes it would reject.
          const scanned = refusalOf(() => target.inspect(input));
          if (scanned !== error.code) throw new Error(where(`decode refused with ${error.code} but the scan ${scanned === undefined ? 'accepted' : `refused with ${scanned}`}`));
          refusals[error.code] = (refusals[error.code] ?? 0) + 1;
          continue;
        }
        const { items } = target.inspect(input);
        const nodes = countNodes(value, nodesPerByteMax * input.length);
        if (nodes > items) throw new Error(where(`${nodes} decoded nodes from ${items} scanned items`));
        if (items > nodesPerByteMax * input.length) throw new Error(where(`${items} items in ${input.length} bytes`));
        if (items + nodes > workPerByteMax * input.length) throw new Error(where(`work ${items + nodes} for ${input.length} bytes`));
        if (!isPlain(value)) throw new Error(where('decoded a value that is not plain data'));
        maxNodesPerByte = Math.max(maxNodesPerByte, nodes / input.length);
        maxWorkPerByte = Math.max(maxWorkPerByte, (items + nodes) / input.length);
        decoded += 1;
      }
    }
    console.log(`codec fuzz: seed ${seed}, ${generators.length * inputsPerGenerator} inputs, ${decoded} decoded, refused ${JSON.stringify(refusals)}; `
      + `max decoded nodes / wire bytes ${maxNodesPerByte.toFixed(3)} (bound ${nodesPerByteMax}), `
      + `max (scanned items + decoded nodes) / wire bytes ${maxWorkPerByte.toFixed(3)} (bound ${workPerByteMax})`);
    expect(decoded).toBeGreaterThan(inputsPerGenerator);
    for (const code of ['TAG_REFUSED', 'BIGNUM_TOO_LARGE', 'DEPTH_EXCEEDED', 'ITEMS_EXCEEDED', 'DECODED_TOO_LARGE', 'DECODE_FAILED']) expect(refusals[code], code).toBeGreaterThan(0);
  });

  it('round-trips every valid frame exactly', () => {
    const rng = createRng(seedFromEnvironment() + 1);
    for (let round = 0; round < inputsPerGenerator; round += 1) {
      const bytes = validFrame(rng);
      expect(defaultCodec.encode(defaultCodec.decode(bytes))).toEqual(bytes);
    }
  });
});
