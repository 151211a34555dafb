/**
 * The consumer's lane rules (actors/pipeline/lanes.ts): merging fetched batches into one worker batch
 * never hides a gap between fetches, respects its byte and message bounds, and drops overlap; the
 * retry backoff grows, is capped, and is jittered into [0.5, 1) of its base.
 */
import { describe, expect, it } from 'vitest';
import { admitFetched, mergeBatches, retryDelayMs, sizeOf, type RawMessage } from '../../../actors/pipeline/index.js';

function batch(from: number, to: number, valueBytes = 10): RawMessage[] {
  return Array.from({ length: to - from + 1 }, (_, index) => ({ offset: from + index, key: null, value: new Uint8Array(valueBytes) }));
}

const roomy = { batchBytesMax: 1_000_000, batchMessagesMax: 1_000 };

describe('mergeBatches', () => {
  it('joins contiguous and overlapping batches into one ascending list, dropping the overlap', () => {
    const merged = mergeBatches([batch(0, 4), batch(5, 9), batch(8, 12)], roomy);
    expect(merged.messages.map((message) => message.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(merged.rest).toEqual([]);
    expect(merged.bytes).toBe(15 * 10);
  });

  it('stops at a batch that does not continue the list, so the worker sees the gap (a batch fetched before a seek)', () => {
    const stale = batch(60, 69);
    const merged = mergeBatches([batch(50, 54), stale, batch(55, 59)], roomy);
    expect(merged.messages.map((message) => message.offset)).toEqual([50, 51, 52, 53, 54]);
    expect(merged.rest).toEqual([stale, batch(55, 59)]);
    // The next call starts with the stale batch alone; the worker answers it with a seek.
    expect(mergeBatches(merged.rest, roomy).messages[0]!.offset).toBe(60);
  });

  it('respects the byte and message bounds, but always takes at least the first batch', () => {
    const big = batch(0, 9, 1_000);
    expect(mergeBatches([big, batch(10, 19)], { batchBytesMax: 500, batchMessagesMax: 1_000 }).messages).toHaveLength(10);
    const byBytes = mergeBatches([batch(0, 9), batch(10, 19), batch(20, 29)], { batchBytesMax: 250, batchMessagesMax: 1_000 });
    expect(byBytes.messages.map((message) => message.offset).at(-1)).toBe(19);
    expect(byBytes.rest).toHaveLength(1);
    const byCount = mergeBatches([batch(0, 9), batch(10, 19)], { batchBytesMax: 1_000_000, batchMessagesMax: 15 });
    expect(byCount.messages).toHaveLength(10);
  });

  it('counts a message as its value plus its key', () => {
    expect(sizeOf({ offset: 0, key: 'abc', value: new Uint8Array(7) })).toBe(10);
    expect(sizeOf({ offset: 0, key: null, value: null })).toBe(0);
  });
});

describe('retryDelayMs', () => {
  it('doubles from 100 ms per attempt, is capped, and is jittered into [0.5, 1) of its base', () => {
    expect(retryDelayMs(1, 30_000, 0)).toBe(50);
    expect(retryDelayMs(1, 30_000, 0.999)).toBe(100);
    expect(retryDelayMs(4, 30_000, 0)).toBe(400);
    expect(retryDelayMs(50, 30_000, 0)).toBe(15_000);
    expect(retryDelayMs(50, 30_000, 0.999)).toBeLessThanOrEqual(30_000);
  });
});

describe('admitFetched', () => {
  it('continues a fetch that began at or before the frontier, and calls one that began beyond it stale', () => {
    expect(admitFetched({ frontier: 10 }, 10)).toBe('continue');
    expect(admitFetched({ frontier: 10 }, 4)).toBe('continue');
    expect(admitFetched({ frontier: 10 }, 14)).toBe('stale');
    expect(admitFetched({}, 0)).toBe('stale');
  });

  it('takes the same fetch position right after the seek it caused as proof of a gap only kafkajs saw', () => {
    const afterSeek = { frontier: 10, lastSeek: { offset: 10, staleFetchedOffset: 14 } };
    expect(admitFetched(afterSeek, 14)).toBe('continue');
    expect(admitFetched(afterSeek, 20)).toBe('stale');
    // Once the frontier moved on, the old proof no longer applies.
    expect(admitFetched({ frontier: 12, lastSeek: { offset: 10, staleFetchedOffset: 14 } }, 14)).toBe('stale');
  });
});
