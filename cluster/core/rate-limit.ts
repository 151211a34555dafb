/**
 * Per-connection limits on untrusted peers: a token bucket for rates (messages, bytes, requests) and
 * an error budget that closes a connection sending too many bad frames. Pure values and functions:
 * time comes in as `nowMs`.
 */

/** A token bucket: `capacity` tokens, refilled at `ratePerSecond`. */
export interface TokenBucket {
  readonly tokens: number;
  readonly updatedMs: number;
  readonly ratePerSecond: number;
  readonly capacity: number;
}

/** A full bucket whose burst is one second's worth of tokens. */
export function createBucket(ratePerSecond: number, nowMs: number): TokenBucket {
  return { tokens: ratePerSecond, updatedMs: nowMs, ratePerSecond, capacity: ratePerSecond };
}

/** Takes `cost` tokens if available. `allowed` is false (and nothing is taken) when the bucket is short. */
export function take(bucket: TokenBucket, cost: number, nowMs: number): { bucket: TokenBucket; allowed: boolean } {
  const elapsedMs = Math.max(0, nowMs - bucket.updatedMs);
  const refilled = Math.min(bucket.capacity, bucket.tokens + (elapsedMs / 1000) * bucket.ratePerSecond);
  if (refilled < cost) return { bucket: { ...bucket, tokens: refilled, updatedMs: nowMs }, allowed: false };
  return { bucket: { ...bucket, tokens: refilled - cost, updatedMs: nowMs }, allowed: true };
}

/** Recent errors of one connection (timestamps within the window, oldest first). */
export interface ErrorBudget {
  readonly atMs: readonly number[];
  readonly errorsMax: number;
  readonly windowMs: number;
}

/** An empty budget. */
export function createErrorBudget(errorsMax: number, windowMs: number): ErrorBudget {
  return { atMs: [], errorsMax, windowMs };
}

/** Counts one error; `exhausted` means the connection has now sent more than `errorsMax` in the window. */
export function countError(budget: ErrorBudget, nowMs: number): { budget: ErrorBudget; exhausted: boolean } {
  const recent = budget.atMs.filter((atMs) => nowMs - atMs < budget.windowMs);
  recent.push(nowMs);
  // Only errorsMax + 1 timestamps are ever needed to decide, which keeps the budget bounded.
  const kept = recent.slice(-(budget.errorsMax + 1));
  return { budget: { ...budget, atMs: kept }, exhausted: kept.length > budget.errorsMax };
}
