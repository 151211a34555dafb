/**
 * Retry decisions (Temporal's policy): the delay before attempt n+1 is
 * `min(initialIntervalMs * backoffCoefficient^(n-1), maximumIntervalMs)`, spread by `jitter` with a
 * random value the shell passes in, so the same inputs give the same schedule.
 */
import type { FailureInfo, RetryPolicy, StepState } from './types.js';

/** Defaults for fields a step leaves out (Temporal's defaults, plus 10% jitter). */
export const defaultRetryPolicy: RetryPolicy = {
  initialIntervalMs: 1_000,
  backoffCoefficient: 2,
  maximumIntervalMs: 100_000,
  maximumAttempts: 0,
  nonRetryableErrorTypes: [],
  jitter: 0.1,
};

/** The delay before the attempt after `attempt` (1-based), before jitter is applied. */
export function backoffIntervalMs(policy: RetryPolicy, attempt: number): number {
  const raw = policy.initialIntervalMs * Math.pow(policy.backoffCoefficient, Math.max(0, attempt - 1));
  return Math.min(raw, policy.maximumIntervalMs);
}

/** `intervalMs` spread by the policy's jitter with `random` in [0, 1); an integer. */
export function jitteredMs(policy: RetryPolicy, intervalMs: number, random: number): number {
  const factor = 1 - policy.jitter + 2 * policy.jitter * random;
  return Math.max(0, Math.round(intervalMs * factor));
}

/** Why a step is not retried, or `undefined` when it may be retried at `retryAtMs`. */
export type RetryDecision = { readonly retry: true; readonly retryAtMs: number } | { readonly retry: false; readonly reason: 'nonRetryable' | 'attemptsExhausted' | 'scheduleToClose' };

/** Decides whether `step`'s failed attempt is retried, and when. */
export function decideRetry(step: StepState, failure: FailureInfo | undefined, nowMs: number, random: number): RetryDecision {
  const policy = step.options.retry;
  if (failure !== undefined && policy.nonRetryableErrorTypes.includes(failure.type)) return { retry: false, reason: 'nonRetryable' };
  if (policy.maximumAttempts > 0 && step.attempt >= policy.maximumAttempts) return { retry: false, reason: 'attemptsExhausted' };
  const retryAtMs = nowMs + jitteredMs(policy, backoffIntervalMs(policy, step.attempt), random);
  const closeMs = step.options.timeouts.scheduleToCloseMs;
  if (closeMs !== undefined && retryAtMs >= step.firstScheduledAtMs + closeMs) return { retry: false, reason: 'scheduleToClose' };
  return { retry: true, retryAtMs };
}
