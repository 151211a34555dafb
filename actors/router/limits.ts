/**
 * The gateway's bounds, each saying what happens when it is reached.
 */
import type { TenantLimits } from './core/index.js';

/** Gateway limits. */
export interface GatewayLimits {
  /** Requests in flight through the gateway; past it, 503 `overloaded`. */
  readonly requestsInFlightMax: number;
  /** Backend attempts per request (the first and its retries); past it, 502 `backend_unavailable`. */
  readonly attemptsMax: number;
  /** Time to a backend's response headers; past it the attempt fails (and is retried if nothing streamed). */
  readonly backendConnectTimeoutMs: number;
  /** Time between two chunks of a stream; past it the stream fails. */
  readonly streamIdleTimeoutMs: number;
  /** Bytes of one SSE event from a backend; a larger event fails the stream. */
  readonly sseEventBytesMax: number;
  /** How often each watcher probes its backend, and the probe's deadline. */
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  /** How often dirty cache state is written to storage. */
  readonly persistIntervalMs: number;
  /** Tenants tracked by admission; more share one entry. */
  readonly tenantsMax: number;
  /** Limits of a tenant without its own. */
  readonly tenant: TenantLimits;
}

/** The defaults. */
export const gatewayLimits: GatewayLimits = {
  requestsInFlightMax: 1_024,
  attemptsMax: 3,
  backendConnectTimeoutMs: 120_000,
  streamIdleTimeoutMs: 120_000,
  sseEventBytesMax: 1024 * 1024,
  probeIntervalMs: 1_000,
  probeTimeoutMs: 2_000,
  persistIntervalMs: 500,
  tenantsMax: 10_000,
  tenant: { requestsPerSecond: 1_000, burst: 1_000, tokenBudget: 1e12, budgetWindowMs: 60_000 },
};
