import { describe, expect, it } from 'vitest';
import { Codec, DecodeError, EncodeError, createRng, seedFromEnvironment, type Rng } from '../../../runtime/index.js';

const codec = new Codec({ frameBytesMax: 64 * 1024, messageDepthMax: 16 });

function randomValue(rng: Rng, depth: number): unknown {
  const choice = rng.int(0, depth > 4 ? 5 : 8);
  switch (choice) {
    case 0: return null;
    case 1: return rng.next() < 0.5;
    case 2: return rng.int(-1_000_000, 1_000_000);
    case 3: return rng.next() * 1e6;
    case 4: return 'x'.repeat(rng.int(0, 20)) + String(rng.int(0, 99));
    case 5: return BigInt(rng.int(0, 1000)) * 10_000_000_000_000n;
    case 6: return new Uint8Array(Array.from({ length: rng.int(0, 16) }, () => rng.int(0, 255)));
    case 7: return Array.from({ length: rng.int(0, 4) }, () => randomValue(rng, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let index = rng.int(0, 4); index > 0; index -= 1) object[`k${rng.int(0, 50)}`] = randomValue(rng, depth + 1);
      return object;
    }
  }
}

function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, normalise(item)]));
  return value;
}

function isPlain(value: unknown, depth = 0): boolean {
  if (depth > 16) return false;
  if (value === null || value === undefined || ['string', 'number', 'boolean', 'bigint'].includes(typeof value)) return true;
  if (value instanceof Uint8Array) return true;
  if (Array.isArray(value)) return value.every((item) => isPlain(item, depth + 1));
  if (typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  return Object.values(value as object).every((item) => isPlain(item, depth + 1));
}

describe('codec', () => {
  it('round-trips plain data: objects, arrays, numbers, bigints, strings, byte strings', () => {
    const rng = createRng(7);
    for (let round = 0; round < 500; round += 1) {
      const value = { type: 'msg', body: randomValue(rng, 0) };
      expect(normalise(codec.decode(codec.encode(value)))).toEqual(normalise(value));
    }
  });

  it('refuses to encode class instances, functions, Maps and oversized values', () => {
    expect(() => codec.encode({ when: new Date() })).toThrow(EncodeError);
    expect(() => codec.encode({ run: () => 1 })).toThrow(EncodeError);
    expect(() => codec.encode(new Map([[1, 2]]))).toThrow(EncodeError);
    expect(() => codec.encode({ big: 'x'.repeat(70 * 1024) })).toThrowError(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
  });

  it('refuses oversized input before decoding it', () => {
    expect(() => codec.decode(new Uint8Array(64 * 1024 + 1))).toThrowError(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
  });

  it('refuses nesting deeper than the limit, even for deeply nested hostile input that would exhaust the stack', () => {
    const deep = new Uint8Array(60_000).fill(0x81); // 60k nested one-element arrays, never closed
    expect(() => codec.decode(deep)).toThrowError(expect.objectContaining({ code: 'DEPTH_EXCEEDED' }));
    let nested: unknown = 1;
    for (let level = 0; level < 20; level += 1) nested = [nested];
    expect(() => codec.encode(nested)).toThrowError(expect.objectContaining({ code: 'DEPTH_EXCEEDED' }));
  });

  it('refuses tagged values that decode to non-plain objects (dates, sets, maps with non-string keys)', () => {
    const dateTag = Uint8Array.from([0xc1, 0x1a, 0x5f, 0x00, 0x00, 0x00]); // tag 1 (epoch time)
    expect(() => codec.decode(dateTag)).toThrow(DecodeError);
  });

  it('refuses truncated items and trailing bytes with DECODE_FAILED', () => {
    const bytes = codec.encode({ type: 'hello', values: [1, 2, 3] });
    expect(() => codec.decode(bytes.subarray(0, bytes.length - 1))).toThrowError(expect.objectContaining({ code: 'DECODE_FAILED' }));
    expect(() => codec.decode(Uint8Array.from([...bytes, 0x01]))).toThrowError(expect.objectContaining({ code: 'DECODE_FAILED' }));
    expect(() => codec.decode(new Uint8Array(0))).toThrowError(expect.objectContaining({ code: 'DECODE_FAILED' }));
  });

  it('fuzz: random and mutated bytes either decode to plain data or fail with a DecodeError, never anything else', () => {
    const seed = seedFromEnvironment();
    const rng = createRng(seed);
    const samples = Array.from({ length: 50 }, () => codec.encode({ type: 'sample', body: randomValue(rng, 0) }));
    let decoded = 0;
    let refused = 0;
    for (let round = 0; round < 20_000; round += 1) {
      let input: Uint8Array;
      if (round % 2 === 0) {
        input = new Uint8Array(Array.from({ length: rng.int(1, 64) }, () => rng.int(0, 255)));
      } else {
        input = Uint8Array.from(samples[rng.int(0, samples.length - 1)]!);
        for (let flips = rng.int(1, 4); flips > 0; flips -= 1) input[rng.int(0, input.length - 1)] = rng.int(0, 255);
        if (rng.next() < 0.2) input = input.subarray(0, rng.int(1, input.length));
      }
      try {
        const value = codec.decode(input);
        expect(isPlain(value), `seed ${seed} round ${round}`).toBe(true);
        decoded += 1;
      } catch (error) {
        if (!(error instanceof DecodeError)) throw new Error(`seed ${seed} round ${round}: ${String(error)}`);
        refused += 1;
      }
    }
    expect(decoded).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});
