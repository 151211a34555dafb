/**
 * The pure parts of the pipeline: SHA-256 against FIPS 180-4 vectors, document parsing (every poison
 * reason), chunking, the hashing embedder, the partition core's offset rules and the digest.
 */
import { describe, expect, it } from 'vitest';
import {
  applyKnown, chunkText, digestRows, documentKey, hashingVector, initialState, parseDocument, planBatch, rejectDocument, step, trimPlan,
  type RawMessage,
} from '../../../actors/pipeline/index.js';
import { sha256Hex } from '../../../actors/pipeline/core/sha256.js';
import { InvariantError } from '../../../runtime/index.js';

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const message = (offset: number, value: unknown): RawMessage => ({ offset, key: null, value: value === null ? null : encode(value) });
const options = { chunking: { sizeChars: 40, overlapChars: 10, chunksMax: 100 }, limits: { messageBytesMax: 2000, sourceIdLengthMax: 50, titleLengthMax: 100, metadataKeysMax: 4, metadataValueLengthMax: 50 } };

describe('sha256 (FIPS 180-4 test vectors)', () => {
  it('hashes the empty string, "abc", the two-block message and a million a', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
    expect(sha256Hex('a'.repeat(1_000_000))).toBe('cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  });
});

describe('parseDocument', () => {
  it('accepts a document, defaults version and title, and sorts metadata keys', () => {
    const result = parseDocument(encode({ id: 'a', body: 'hello world', metadata: { z: 1, a: 'x' } }), options.limits);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.document).toMatchObject({ sourceId: 'a', version: 1, title: '', body: 'hello world' });
    expect(Object.keys(result.document.metadata)).toEqual(['a', 'z']);
    const reordered = parseDocument(encode({ metadata: { a: 'x', z: 1 }, body: 'hello world', id: 'a' }), options.limits);
    expect(reordered.ok && reordered.document.contentHash).toBe(result.document.contentHash);
  });

  it.each([
    ['no value', null, 'EMPTY'],
    ['zero bytes', new Uint8Array(0), 'EMPTY'],
    ['a blank body', encode({ id: 'a', body: '   ' }), 'EMPTY'],
    ['too many bytes', encode({ id: 'a', body: 'x'.repeat(3000) }), 'OVERSIZED'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 'NOT_UTF8'],
    ['not JSON', encode('{"id": "a", body'), 'NOT_JSON'],
    ['an array', encode([1, 2]), 'SCHEMA'],
    ['a missing id', encode({ body: 'x' }), 'SCHEMA'],
    ['a fractional version', encode({ id: 'a', version: 1.5, body: 'x' }), 'SCHEMA'],
    ['an unknown field', encode({ id: 'a', body: 'x', extra: 1 }), 'SCHEMA'],
    ['nested metadata', encode({ id: 'a', body: 'x', metadata: { a: { b: 1 } } }), 'SCHEMA'],
    ['too many metadata keys', encode({ id: 'a', body: 'x', metadata: { a: 1, b: 2, c: 3, d: 4, e: 5 } }), 'SCHEMA'],
  ] as const)('refuses %s with %s', (_what, value, reason) => {
    const result = parseDocument(value, options.limits);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe(reason);
      expect(result.detail.length).toBeGreaterThan(0);
    }
  });
});

describe('chunkText', () => {
  const text = Array.from({ length: 60 }, (_, index) => `word${index}`).join(' ');

  it('keeps chunks within size, overlaps consecutive chunks, and covers every word', () => {
    const chunks = chunkText(text, options.chunking);
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(40);
    for (let index = 1; index < chunks.length; index += 1) {
      const previousWords = chunks[index - 1]!.split(' ');
      expect(chunks[index]!.startsWith(previousWords[previousWords.length - 1]!)).toBe(true);
    }
    const covered = new Set(chunks.flatMap((chunk) => chunk.split(' ')));
    for (const word of text.split(' ')) expect(covered.has(word)).toBe(true);
    expect(chunkText(text, options.chunking)).toEqual(chunks);
  });

  it('cuts a word longer than a chunk and bounds the number of chunks', () => {
    expect(chunkText('x'.repeat(100), options.chunking)).toEqual(['x'.repeat(40), 'x'.repeat(40), 'x'.repeat(20)]);
    expect(chunkText(text, { ...options.chunking, chunksMax: 2 })).toHaveLength(2);
    expect(chunkText('   ', options.chunking)).toEqual([]);
  });
});

describe('hashing embedder', () => {
  it('gives unit vectors, the same vector for the same text, and ranks shared vocabulary higher', () => {
    const dot = (a: number[], b: number[]): number => a.reduce((sum, value, index) => sum + value * b[index]!, 0);
    const query = hashingVector('kafka consumer rebalance', { dimensions: 128 });
    const related = hashingVector('the consumer group rebalance in kafka', { dimensions: 128 });
    const unrelated = hashingVector('baking sourdough bread at home', { dimensions: 128 });
    expect(dot(query, query)).toBeCloseTo(1, 10);
    expect(hashingVector('kafka consumer rebalance', { dimensions: 128 })).toEqual(query);
    expect(dot(query, related)).toBeGreaterThan(dot(query, unrelated) + 0.2);
    expect(hashingVector('', { dimensions: 8 })).toEqual(new Array(8).fill(0));
  });
});

describe('partition core', () => {
  const doc = (id: string, body = `body of ${id}`, version = 1): unknown => ({ id, version, body });

  it('plans documents and dead letters, and treats a repeated equal document as a duplicate', () => {
    const plan = planBatch({ topic: 't', partition: 0, fromOffset: 0, messages: [message(0, doc('a')), message(1, 'nope'), message(2, doc('a')), message(3, doc('a', 'other'))] }, options);
    expect(plan.documents.map((planned) => planned.offset)).toEqual([0]);
    expect(plan.deadLetters.map((dead) => [dead.offset, dead.reason])).toEqual([[1, 'NOT_JSON'], [3, 'VERSION_CONFLICT']]);
    expect(plan.duplicates).toBe(1);
    expect(plan.nextOffset).toBe(4);
  });

  it('skips messages below the durable offset and asks for a seek whenever a batch starts beyond it', () => {
    const state = initialState('t', 0, 5);
    const below = step(state, { type: 'batch', messages: [message(3, doc('a')), message(4, doc('b')), message(5, doc('c'))] }, options);
    expect(below.effects).toHaveLength(1);
    const persist = below.effects[0]!;
    expect(persist.type === 'persist' && persist.plan.skipped).toBe(2);
    expect(persist.type === 'persist' && persist.plan.documents.map((planned) => planned.document.sourceId)).toEqual(['c']);
    const ahead = step(state, { type: 'batch', messages: [message(9, doc('z'))] }, options);
    expect(ahead.effects).toEqual([{ type: 'seek', offset: 5 }]);
    // A seek answered by a batch that starts at the same place confirms a gap in the log itself
    // (offsets may legitimately be missing, e.g. transaction markers), and it is accepted.
    expect(step(ahead.state, { type: 'batch', messages: [message(9, doc('z'))] }, options).effects[0]!.type).toBe('persist');
    // A stale batch (fetched before the seek) that starts elsewhere asks for the seek again, and never
    // makes the worker skip what lies between: the regression that lost offsets 5-8 here.
    const stale = step(ahead.state, { type: 'batch', messages: [message(12, doc('y'))] }, options);
    expect(stale.effects).toEqual([{ type: 'seek', offset: 5 }]);
    const answered = step(stale.state, { type: 'batch', messages: [message(5, doc('c')), message(6, doc('d'))] }, options);
    expect(answered.effects[0]!.type).toBe('persist');
    expect(answered.state.seek).toBeUndefined();
    const replayed = step(state, { type: 'batch', messages: [message(1, doc('a')), message(2, doc('b'))] }, options);
    expect(replayed.effects).toEqual([{ type: 'upToDate', nextOffset: 5, skipped: 2 }]);
  });

  it('never moves the offset back', () => {
    const state = step(initialState('t', 0, 5), { type: 'committed', nextOffset: 8 }, options).state;
    expect(state.nextOffset).toBe(8);
    expect(() => step(state, { type: 'committed', nextOffset: 7 }, options)).toThrow(InvariantError);
  });

  it('trims a plan to a position another consumer reached first, and applies what the store knows', () => {
    const plan = planBatch({ topic: 't', partition: 0, fromOffset: 0, messages: [message(0, doc('a')), message(1, 'bad'), message(2, doc('b')), message(3, doc('c'))] }, options);
    const trimmed = trimPlan(plan, 2);
    expect(trimmed.documents.map((planned) => planned.offset)).toEqual([2, 3]);
    expect(trimmed.deadLetters).toEqual([]);
    expect(trimmed.fromOffset).toBe(2);
    expect(trimPlan(plan, 10).nextOffset).toBe(10);
    const hashOfB = plan.documents[1]!.document.contentHash;
    const known = applyKnown(plan, new Map([[documentKey('b', 1), hashOfB], [documentKey('c', 1), 'different']]));
    expect(known.documents.map((planned) => planned.document.sourceId)).toEqual(['a']);
    expect(known.duplicates).toBe(1);
    expect(known.deadLetters.map((dead) => [dead.offset, dead.reason])).toEqual([[1, 'NOT_JSON'], [3, 'VERSION_CONFLICT']]);
    const rejected = rejectDocument(plan, 2, 'refused');
    expect(rejected.deadLetters.map((dead) => [dead.offset, dead.reason])).toEqual([[1, 'NOT_JSON'], [2, 'EMBED_REJECTED']]);
    expect(rejected.deadLetters[1]!.value).toEqual(plan.documents[1]!.value);
  });
});

describe('digest', () => {
  it('is equal for equal rows and changes with any row', () => {
    const rows = {
      documents: [{ sourceId: 'a', version: 1, contentHash: 'h' }],
      chunks: [{ sourceId: 'a', version: 1, chunkIndex: 0, content: 'x', embedding: [0.1, 0.2] }],
      sources: [{ sourceId: 'a', version: 1 }],
      deadLetters: [{ topic: 't', partition: 0, offset: 3, reason: 'NOT_JSON' }],
    };
    expect(digestRows(rows)).toBe(digestRows(structuredClone(rows)));
    expect(digestRows({ ...rows, chunks: [{ ...rows.chunks[0]!, embedding: [0.1, 0.2000001] }] })).not.toBe(digestRows(rows));
    expect(digestRows({ ...rows, deadLetters: [] })).not.toBe(digestRows(rows));
  });
});
