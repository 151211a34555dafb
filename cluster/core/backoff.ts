/**
 * Exponential backoff with jitter for reconnects: the n-th consecutive failure waits
 * min(max, min * 2^n), spread by +-jitter so that nodes restarted together do not redial in lockstep.
 * Pure: the random value comes in as an argument (from the node's seeded Rng).
 */

/** Backoff parameters. */
export interface BackoffPolicy {
  readonly delayMsMin: number;
  readonly delayMsMax: number;
  /** Fraction of the delay added or removed at random, in [0, 1). */
  readonly jitter: number;
}

/** The delay before attempt `failures + 1`, given a uniform random `unit` in [0, 1). */
export function backoffDelayMs(policy: BackoffPolicy, failures: number, unit: number): number {
  const exponent = Math.min(Math.max(0, failures), 30);
  const base = Math.min(policy.delayMsMax, policy.delayMsMin * 2 ** exponent);
  const spread = base * policy.jitter * (unit * 2 - 1);
  return Math.max(0, Math.round(base + spread));
}
