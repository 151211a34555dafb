/**
 * The phi accrual failure detector (Hayashibara et al., SRDS 2004): phi stays low while heartbeats
 * keep their rhythm, grows monotonically with silence, adapts to the observed interval, and crosses a
 * threshold at the time `timeToPhiMs` predicts (the detector's bound).
 */
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../../cluster/config.js';
import { createDetector, phi, phiOf, recordHeartbeat, statistics, timeToPhiMs } from '../../../cluster/core/phi.js';

const settings = resolveSettings({ detector: { acceptablePauseMs: 0, stdDevMsMin: 50, windowSize: 10 } }).detector;

describe('phi accrual detector', () => {
  it('is near zero right after a heartbeat and grows monotonically with silence', () => {
    let state = createDetector(0, 100);
    for (let at = 100; at <= 2_000; at += 100) state = recordHeartbeat(state, at, settings);
    expect(phi(state, 2_000, settings)).toBeLessThan(0.5);
    let previous = -1;
    for (let silence = 0; silence <= 2_000; silence += 50) {
      const level = phi(state, 2_000 + silence, settings);
      expect(level).toBeGreaterThanOrEqual(previous);
      previous = level;
    }
    expect(previous).toBeGreaterThan(10);
  });

  it('adapts to a slower rhythm: the same silence is less suspicious for a slow peer', () => {
    let fast = createDetector(0, 100);
    let slow = createDetector(0, 1_000);
    for (let index = 1; index <= 10; index += 1) {
      fast = recordHeartbeat(fast, index * 100, settings);
      slow = recordHeartbeat(slow, index * 1_000, settings);
    }
    expect(phi(fast, 1_000 + 800, settings)).toBeGreaterThan(phi(slow, 10_000 + 800, settings));
  });

  it('keeps at most windowSize intervals and floors the standard deviation', () => {
    let state = createDetector(0, 100);
    for (let at = 100; at <= 5_000; at += 100) state = recordHeartbeat(state, at, settings);
    expect(state.intervalsMs.length).toBe(settings.windowSize);
    expect(statistics(state, settings)).toEqual({ meanMs: 100, stdDevMs: settings.stdDevMsMin });
  });

  it('ignores a heartbeat that claims to arrive before the last one', () => {
    const state = recordHeartbeat(createDetector(1_000, 100), 1_100, settings);
    expect(recordHeartbeat(state, 900, settings)).toBe(state);
  });

  it('crosses a threshold at the bound timeToPhiMs predicts for a steady peer', () => {
    const heartbeatMs = 200;
    let state = createDetector(0, heartbeatMs);
    for (let at = heartbeatMs; at <= 4_000; at += heartbeatMs) state = recordHeartbeat(state, at, settings);
    const boundMs = timeToPhiMs(8, heartbeatMs, settings);
    expect(phi(state, 4_000 + boundMs - 1, settings)).toBeLessThan(8);
    expect(phi(state, 4_000 + boundMs + 1, settings)).toBeGreaterThanOrEqual(8);
  });

  it('never returns a negative or non-finite value', () => {
    for (const elapsed of [-1_000, 0, 1e6, 1e12]) {
      const value = phiOf(elapsed, 100, 10);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(Number.isNaN(value)).toBe(false);
    }
  });
});
