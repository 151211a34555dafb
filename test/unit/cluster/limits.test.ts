/**
 * The bounded helpers: token buckets and error budgets for untrusted connections, reconnect backoff,
 * the queue, and validation of settings.
 */
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../../cluster/config.js';
import { backoffDelayMs } from '../../../cluster/core/backoff.js';
import { Deque } from '../../../cluster/core/deque.js';
import { countError, createBucket, createErrorBudget, take } from '../../../cluster/core/rate-limit.js';
import { parseArgs } from '../../../cluster/args.js';

describe('token bucket', () => {
  it('allows a burst of one second, then the rate', () => {
    let bucket = createBucket(10, 0);
    let allowed = 0;
    for (let index = 0; index < 15; index += 1) {
      const result = take(bucket, 1, 0);
      bucket = result.bucket;
      if (result.allowed) allowed += 1;
    }
    expect(allowed).toBe(10);
    expect(take(bucket, 1, 50).allowed).toBe(false);
    expect(take(bucket, 1, 100).allowed).toBe(true);
    expect(take(createBucket(10, 0), 11, 10_000).allowed).toBe(false);
  });
});

describe('error budget', () => {
  it('is exhausted by more than errorsMax errors within the window, and forgets old ones', () => {
    let budget = createErrorBudget(2, 1_000);
    const verdicts = [0, 10, 20].map((atMs) => {
      const counted = countError(budget, atMs);
      budget = counted.budget;
      return counted.exhausted;
    });
    expect(verdicts).toEqual([false, false, true]);
    expect(countError(createErrorBudget(2, 1_000), 0).exhausted).toBe(false);
    let spread = createErrorBudget(2, 1_000);
    for (const atMs of [0, 2_000, 4_000, 6_000]) {
      const counted = countError(spread, atMs);
      spread = counted.budget;
      expect(counted.exhausted).toBe(false);
    }
    expect(countError(createErrorBudget(0, 1_000), 0).exhausted).toBe(true);
  });
});

describe('reconnect backoff', () => {
  it('doubles from the minimum to the ceiling, spread by the jitter', () => {
    const policy = { delayMsMin: 100, delayMsMax: 1_000, jitter: 0.2 };
    expect([0, 1, 2, 3, 4, 50].map((failures) => backoffDelayMs(policy, failures, 0.5))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(backoffDelayMs(policy, 1, 0)).toBe(160);
    expect(backoffDelayMs(policy, 1, 0.999999)).toBe(240);
  });
});

describe('deque', () => {
  it('keeps FIFO order through compaction and removal', () => {
    const deque = new Deque<number>();
    for (let index = 0; index < 20_000; index += 1) deque.push(index);
    for (let index = 0; index < 15_000; index += 1) expect(deque.shift()).toBe(index);
    expect(deque.removeWhere((value) => value % 2 === 0)).toHaveLength(2_500);
    expect(deque.length).toBe(2_500);
    expect(deque.shift()).toBe(15_001);
    expect(deque.drain()).toHaveLength(2_499);
    expect(deque.shift()).toBeUndefined();
  });
});

describe('settings and arguments', () => {
  it('refuses nonsense settings with INVALID_ARGUMENT', () => {
    expect(() => resolveSettings({ heartbeatIntervalMs: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => resolveSettings({ detector: { suspectPhi: 9, downPhi: 3 } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => resolveSettings({ linkIdleMs: 100, heartbeatIntervalMs: 100 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => resolveSettings({ httpKeepAliveMs: 40_000, httpHeadersTimeoutMs: 40_000 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(resolveSettings({ detector: { downPhi: 12 } }).detector.suspectPhi).toBe(5);
  });

  it('parses flags and refuses unknown ones', () => {
    const args = parseArgs(['n1', '--url', 'ws://x', '--watch', '--timeout=5', 'p'], { values: ['url', 'timeout'], booleans: ['watch'] });
    expect(args.positional).toEqual(['n1', 'p']);
    expect([...args.flags]).toEqual([['url', 'ws://x'], ['watch', true], ['timeout', '5']]);
    expect(() => parseArgs(['--nope'], { values: [], booleans: [] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => parseArgs(['--url'], { values: ['url'], booleans: [] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
