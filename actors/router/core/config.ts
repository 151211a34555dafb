/**
 * The routing core's configuration: one validated object, each field naming what happens at its bound.
 */
import { assert } from '../../../runtime/index.js';

/** The policies the core can route by: ours and the ones it is compared with. */
export type PolicyName = 'cache-aware' | 'round-robin' | 'least-load' | 'consistent-hash' | 'sglang-cache-aware';

/** All policy names, for parsing. */
export const policyNames: readonly PolicyName[] = ['cache-aware', 'round-robin', 'least-load', 'consistent-hash', 'sglang-cache-aware'];

/** SGLang's cache-aware router thresholds (sgl-router `CacheAwareConfig`). */
export interface SglangThresholds {
  /** A match rate above this routes to the best-matching worker; below it, to the smallest tree. */
  readonly cacheThreshold: number;
  /** Load is imbalanced when max - min exceeds this many requests ... */
  readonly balanceAbsThreshold: number;
  /** ... and max exceeds min times this; then the least loaded worker takes the request. */
  readonly balanceRelThreshold: number;
}

/** How the router routes and what it believes. */
export interface RouterConfig {
  readonly policy: PolicyName;
  /** Bytes per prefix block: the tree's unit. Smaller blocks match more finely and cost more memory. */
  readonly blockBytes: number;
  /** Estimated prompt bytes per backend token (turns blocks into tokens). */
  readonly bytesPerToken: number;
  /** Most blocks taken from one prompt; the rest of a longer prompt is not tracked (it still routes). */
  readonly promptBlocksMax: number;
  /** Bounded-load factor c: no backend takes a request while it holds c times the average load or more. */
  readonly loadFactor: number;
  /** Points per backend on the consistent-hash ring. */
  readonly virtualNodes: number;
  /**
   * Cost, in prompt tokens, that one in-flight request adds to a backend: its decode time over the
   * backend's prefill time per token (about 400 for 20-40 output tokens on a backend that decodes a
   * token in the time it prefills 10-20).
   */
  readonly requestCostTokens: number;
  /** Weight of a backend's pending prefill tokens (admitted, not yet prefilled) in its cost. */
  readonly queueTokenWeight: number;
  /**
   * Weight of the cached tokens a miss would evict (what the backend's tree holds past its capacity
   * once the miss is filled): tokens some later request is likely to prefill again.
   */
  readonly evictionWeight: number;
  /** Tokens of cost taken off the backend a request's session is bound to. */
  readonly affinityTokens: number;
  /** Sessions remembered; past it the least recently used session is forgotten. */
  readonly sessionsMax: number;
  /** Requests in flight at once; past it `route` answers OVERLOADED. */
  readonly requestsInFlightMax: number;
  /** Consecutive failed probes or backend failures that eject a backend. */
  readonly ejectAfterFailures: number;
  /** Consecutive good probes that readmit an ejected backend. */
  readonly readmitAfterSuccesses: number;
  /** Prefill time above `prefillSlackFactor` times the expected one means the backend lost part of the prefix. */
  readonly prefillSlackFactor: number;
  readonly sglang: SglangThresholds;
}

/** The defaults. */
export const defaultRouterConfig: RouterConfig = {
  policy: 'cache-aware',
  blockBytes: 16,
  bytesPerToken: 1,
  promptBlocksMax: 16_384,
  loadFactor: 2,
  virtualNodes: 64,
  requestCostTokens: 400,
  queueTokenWeight: 0.5,
  affinityTokens: 128,
  evictionWeight: 1,
  sessionsMax: 100_000,
  requestsInFlightMax: 100_000,
  ejectAfterFailures: 2,
  readmitAfterSuccesses: 2,
  prefillSlackFactor: 2,
  sglang: { cacheThreshold: 0.3, balanceAbsThreshold: 64, balanceRelThreshold: 1.5 },
};

/** Fills defaults and validates; a bad value is a programmer error. */
export function routerConfig(overrides: Partial<RouterConfig> = {}): RouterConfig {
  const config = { ...defaultRouterConfig, ...overrides, sglang: { ...defaultRouterConfig.sglang, ...overrides.sglang } };
  for (const field of ['blockBytes', 'promptBlocksMax', 'virtualNodes', 'sessionsMax', 'requestsInFlightMax', 'ejectAfterFailures', 'readmitAfterSuccesses'] as const) {
    assert(Number.isInteger(config[field]) && config[field] > 0, `router config ${field} must be a positive integer`, { value: config[field] });
  }
  for (const field of ['bytesPerToken', 'requestCostTokens', 'queueTokenWeight', 'affinityTokens', 'evictionWeight', 'prefillSlackFactor'] as const) {
    assert(Number.isFinite(config[field]) && config[field] >= 0, `router config ${field} must be a non-negative number`, { value: config[field] });
  }
  assert(config.bytesPerToken > 0, 'router config bytesPerToken must be positive');
  assert(config.loadFactor > 1, 'router config loadFactor must exceed 1', { value: config.loadFactor });
  assert(policyNames.includes(config.policy), 'router config policy is unknown', { policy: config.policy });
  return config;
}
