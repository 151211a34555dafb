/**
 * The phi accrual failure detector (Hayashibara, Defago, Yared, Katayama: "The phi accrual failure
 * detector", SRDS 2004), in the form Akka uses: inter-arrival times of heartbeats are modelled as a
 * normal distribution, and phi = -log10(P(a heartbeat arrives later than now)). phi grows smoothly
 * with silence, so one detector serves two thresholds (suspect, down).
 *
 * Pure: time comes in as an argument; state is an immutable value.
 * Invariants: the window never holds more than `windowSize` intervals; phi is never negative.
 */
import type { DetectorSettings } from '../config.js';

/** The detector's memory of one peer. */
export interface DetectorState {
  readonly intervalsMs: readonly number[];
  readonly lastHeartbeatMs: number;
}

/**
 * A fresh detector, as if a heartbeat had just arrived at `nowMs`. The history is seeded with two
 * intervals around the expected heartbeat interval (mean `expectedIntervalMs`, spread a quarter of it),
 * so a peer that never sends a heartbeat is still suspected and declared down in bounded time.
 */
export function createDetector(nowMs: number, expectedIntervalMs: number): DetectorState {
  const spread = expectedIntervalMs / 4;
  return { intervalsMs: [expectedIntervalMs - spread, expectedIntervalMs + spread], lastHeartbeatMs: nowMs };
}

/** Records a heartbeat arriving at `nowMs`. A heartbeat that seems to arrive earlier than the last one is ignored. */
export function recordHeartbeat(state: DetectorState, nowMs: number, settings: DetectorSettings): DetectorState {
  const intervalMs = nowMs - state.lastHeartbeatMs;
  if (intervalMs < 0) return state;
  const kept = state.intervalsMs.length >= settings.windowSize ? state.intervalsMs.slice(1) : state.intervalsMs;
  return { intervalsMs: [...kept, intervalMs], lastHeartbeatMs: nowMs };
}

/** The suspicion level at `nowMs`: 0 right after a heartbeat, growing without bound with silence. */
export function phi(state: DetectorState, nowMs: number, settings: DetectorSettings): number {
  const { meanMs, stdDevMs } = statistics(state, settings);
  return phiOf(nowMs - state.lastHeartbeatMs, meanMs + settings.acceptablePauseMs, stdDevMs);
}

/** Mean and standard deviation (floored at `stdDevMsMin`) of the remembered intervals. */
export function statistics(state: DetectorState, settings: DetectorSettings): { meanMs: number; stdDevMs: number } {
  const count = state.intervalsMs.length;
  let sum = 0;
  for (const interval of state.intervalsMs) sum += interval;
  const meanMs = count === 0 ? 0 : sum / count;
  let squares = 0;
  for (const interval of state.intervalsMs) squares += (interval - meanMs) ** 2;
  const variance = count === 0 ? 0 : squares / count;
  return { meanMs, stdDevMs: Math.max(Math.sqrt(variance), settings.stdDevMsMin) };
}

/**
 * phi for a silence of `elapsedMs` given the interval distribution. Uses the logistic approximation of
 * the normal CDF (error below 1e-4), which stays finite and monotonic far into the tail where
 * 1 - CDF underflows.
 */
export function phiOf(elapsedMs: number, meanMs: number, stdDevMs: number): number {
  const y = (elapsedMs - meanMs) / stdDevMs;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  const value = elapsedMs > meanMs ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e));
  return Number.isFinite(value) ? Math.max(0, value) : Number.MAX_VALUE;
}

/**
 * How long after its last heartbeat a peer that heartbeats every `heartbeatIntervalMs` (with the
 * interval spread floored at `stdDevMsMin`) reaches `threshold`. This is the detector's bound: a
 * crashed peer is suspected or declared down this long after it stopped, plus one evaluation tick.
 */
export function timeToPhiMs(threshold: number, heartbeatIntervalMs: number, settings: DetectorSettings, stdDevMs = settings.stdDevMsMin): number {
  const meanMs = heartbeatIntervalMs + settings.acceptablePauseMs;
  const spread = Math.max(stdDevMs, settings.stdDevMsMin);
  let low = 0;
  let high = meanMs + spread;
  while (phiOf(high, meanMs, spread) < threshold) high *= 2;
  // Bisection: phiOf is monotonic in the elapsed time.
  for (let step = 0; step < 60; step += 1) {
    const middle = (low + high) / 2;
    if (phiOf(middle, meanMs, spread) < threshold) low = middle;
    else high = middle;
  }
  return high;
}
