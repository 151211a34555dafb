/**
 * Per-tenant admission: a token bucket on requests per second and a budget of prompt and completion
 * tokens per window, so one tenant cannot starve the others. Pure: time comes in as `nowMs`.
 */

/** A tenant's limits. */
export interface TenantLimits {
  /** Sustained requests per second; the bucket holds `burst` requests. */
  readonly requestsPerSecond: number;
  readonly burst: number;
  /** Tokens (estimated prompt tokens plus max_tokens) a tenant may spend per `budgetWindowMs`. */
  readonly tokenBudget: number;
  readonly budgetWindowMs: number;
}

interface TenantState {
  tokens: number;
  refilledAtMs: number;
  spent: number;
  windowStartMs: number;
}

/** Every tenant's standing; tenants past `tenantsMax` share the `*` entry. */
export interface AdmissionState {
  readonly tenants: Map<string, TenantState>;
  readonly tenantsMax: number;
}

/** The answer to `admit`. */
export type Admission = { readonly ok: true } | { readonly ok: false; readonly code: 'RATE_LIMITED' | 'BUDGET_EXHAUSTED'; readonly retryAfterMs: number };

/** Empty admission state. */
export function initialAdmission(tenantsMax: number): AdmissionState {
  return { tenants: new Map(), tenantsMax };
}

/** Admits a request of `tokens` estimated tokens for `tenant` at `nowMs`, or says why not. */
export function admit(state: AdmissionState, tenant: string, limits: TenantLimits, nowMs: number, tokens: number): Admission {
  const key = state.tenants.has(tenant) || state.tenants.size < state.tenantsMax ? tenant : '*';
  let entry = state.tenants.get(key);
  if (entry === undefined) {
    entry = { tokens: limits.burst, refilledAtMs: nowMs, spent: 0, windowStartMs: nowMs };
    state.tenants.set(key, entry);
  }
  entry.tokens = Math.min(limits.burst, entry.tokens + ((nowMs - entry.refilledAtMs) / 1000) * limits.requestsPerSecond);
  entry.refilledAtMs = nowMs;
  if (nowMs - entry.windowStartMs >= limits.budgetWindowMs) { entry.spent = 0; entry.windowStartMs = nowMs; }
  if (entry.tokens < 1) return { ok: false, code: 'RATE_LIMITED', retryAfterMs: Math.ceil(((1 - entry.tokens) / limits.requestsPerSecond) * 1000) };
  if (entry.spent + tokens > limits.tokenBudget) return { ok: false, code: 'BUDGET_EXHAUSTED', retryAfterMs: entry.windowStartMs + limits.budgetWindowMs - nowMs };
  entry.tokens -= 1;
  entry.spent += tokens;
  return { ok: true };
}
