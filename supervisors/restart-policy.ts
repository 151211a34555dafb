/**
 * The arithmetic of restarts, kept pure so it can be tested on its own: restart intensity (OTP's
 * MaxR in MaxT) and exponential backoff with jitter.
 */

/** Restart intensity: more than `maxRestarts` restarts within `periodMs` escalates. */
export interface Intensity {
  readonly maxRestarts: number;
  readonly periodMs: number;
}

/** Exponential backoff: `minMs * 2^n`, capped at `maxMs`, then stretched by up to `jitter` (a fraction). */
export interface Backoff {
  readonly minMs: number;
  readonly maxMs: number;
  readonly jitter: number;
}

/**
 * Records a restart at `nowMs` in the window of recent restarts and says whether intensity is exceeded.
 * Returns the new window (restarts older than the period are forgotten).
 */
export function recordRestart(window: readonly number[], nowMs: number, intensity: Intensity): { window: number[]; exceeded: boolean } {
  const recent = window.filter((at) => nowMs - at < intensity.periodMs);
  recent.push(nowMs);
  return { window: recent, exceeded: recent.length > intensity.maxRestarts };
}

/**
 * The delay before restart number `attempt` (0 for the first restart in the current window).
 * `random` is a draw in [0, 1) from the injected Rng, so the schedule replays from the seed.
 */
export function backoffDelayMs(attempt: number, backoff: Backoff, random: number): number {
  if (backoff.minMs <= 0) return 0;
  const exponent = Math.min(attempt, 30);
  const base = Math.min(backoff.maxMs, backoff.minMs * 2 ** exponent);
  return Math.round(base * (1 + backoff.jitter * random));
}
