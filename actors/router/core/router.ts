/**
 * The routing core: which backend serves a request, and what the router believes each backend holds
 * in its KV cache. A pure state machine, `step(state, input) -> { state, effects }`; the gateway's
 * actors feed it requests, stream milestones and probes, and carry out its decisions.
 *
 * Our policy (`cache-aware`) prices each eligible backend in tokens of work:
 *   cost = uncached prompt tokens (prompt - expected prefix hit from the backend's tree)
 *        + queueTokenWeight * prefill tokens already admitted and not yet done
 *        + evictionWeight * cached tokens the miss would evict from a full cache
 *        + requestCostTokens * requests in flight
 *        - affinityTokens if the request's session is bound there,
 * and picks the cheapest among the backends under the bounded-load cap (ring.ts): so a hot prefix
 * spills to a second backend (which then fills) instead of overloading its holder.
 * Fill on miss: the chosen backend's tree learns the prompt when the request is admitted (requests
 * behind it are served after its prefill), is rolled back if the backend fails before its first
 * token, and learns the completion too when the request finishes; reuse on hit: the next request
 * sharing the prefix prices that backend lower.
 *
 * Belief follows the truth from three kinds of evidence:
 * - the backend's own count of cached prompt tokens on a response (OpenAI `cached_tokens`): the tree
 *   is cut to it, with every longer prefix below the cut;
 * - prefill time: a first token much later than the expected uncached tokens explain (at the
 *   backend's learned ms per token) cuts the tree to what the time implies was cached; only a request
 *   routed to an idle backend counts, since a queued one's first token waited for others;
 * - probes: the backend's boot id (a restart empties its cache) and its cache occupancy (the tree is
 *   evicted down to it), applied on every probe and first of all on start, to reconcile a restored tree.
 *
 * Invariants: a request is routed only to a backend that is `up` and not excluded; in-flight counts
 * equal the requests the core holds per backend; no backend passes the bounded-load cap while another
 * eligible one is under it; every tree fits its capacity.
 */
import { assert } from '../../../runtime/index.js';
import type { PolicyName, RouterConfig } from './config.js';
import { hashString } from './hash.js';
import { PrefixTree, type TreePath } from './prefix-tree.js';
import { buildRing, loadBound, ringLookup, type Ring } from './ring.js';

/** A backend's standing: `pending` until its first good probe, `ejected` after repeated failures. */
export type BackendStatus = 'pending' | 'up' | 'ejected';

/** What the router knows about one backend. */
export interface BackendState {
  readonly id: string;
  status: BackendStatus;
  tree: PrefixTree;
  capacityTokens: number;
  inFlight: number;
  pendingPrefillTokens: number;
  failures: number;
  successes: number;
  routed: number;
  /** Learned prefill cost (EWMA over observed misses); undefined until one was seen. */
  prefillMsPerToken: number | undefined;
  /** The backend process's identity as last probed; a different one means its cache was lost. */
  bootId: string | undefined;
}

interface InFlight {
  readonly backend: string;
  readonly keys: readonly number[];
  readonly promptTokens: number;
  readonly expectedHitTokens: number;
  /** Whether the backend had nothing else in flight when this request was routed (its timing is then evidence). */
  readonly alone: boolean;
  /** Blocks of the prompt the tree held before this request was routed (the rollback point). */
  readonly heldBlocks: number;
  firstTokenSeen: boolean;
  prefillPending: number;
}

/** The core's whole state. */
export interface RouterState {
  readonly config: RouterConfig;
  readonly backends: Map<string, BackendState>;
  ring: Ring;
  ringMembers: string;
  cursor: number;
  /** Session key -> backend, in least-recently-used order (oldest first). */
  readonly sessions: Map<string, string>;
  readonly requests: Map<string, InFlight>;
  /** Logical time for LRU stamps: one tick per input. */
  tick: number;
}

/** Why a backend was chosen (the gateway's `x-route-reason` header). */
export type RouteReason = 'prefix' | 'session' | 'load' | 'hash' | 'round-robin' | 'smallest-tree';

/** Inputs. */
export type RouterInput =
  | { readonly type: 'backend.add'; readonly id: string; readonly capacityTokens: number }
  | { readonly type: 'backend.remove'; readonly id: string }
  | {
    readonly type: 'backend.probe'; readonly id: string; readonly ok: boolean;
    /** The backend process's boot id, when it reports one. */
    readonly bootId?: string;
    /** Tokens the backend's cache holds now, when it reports them. */
    readonly cachedTokens?: number;
    readonly capacityTokens?: number;
  }
  | {
    readonly type: 'route'; readonly requestId: string; readonly keys: readonly number[]; readonly promptTokens: number;
    readonly sessionKey?: string; readonly exclude?: readonly string[];
  }
  | { readonly type: 'first-token'; readonly requestId: string; readonly prefillMs: number }
  | {
    readonly type: 'finish'; readonly requestId: string;
    /** `ok`: served; `backend-failed`: the backend broke (counts toward ejection); `abandoned`: the client went away. */
    readonly outcome: 'ok' | 'backend-failed' | 'abandoned';
    /** The backend's count of prompt tokens served from its cache. */
    readonly cachedTokens?: number;
    /** Keys of prompt and completion, to learn instead of the prompt's alone. */
    readonly filledKeys?: readonly number[];
  };

/** Effects. */
export type RouterEffect =
  | {
    readonly type: 'routed'; readonly requestId: string; readonly backend: string; readonly policy: PolicyName; readonly reason: RouteReason;
    readonly expectedHitTokens: number; readonly promptTokens: number; readonly cost: number;
  }
  | { readonly type: 'unroutable'; readonly requestId: string; readonly code: 'NO_BACKEND' | 'OVERLOADED' | 'DUPLICATE_REQUEST' }
  | { readonly type: 'backend.ejected'; readonly backend: string }
  | { readonly type: 'backend.up'; readonly backend: string }
  | {
    readonly type: 'belief.corrected'; readonly backend: string; readonly evidence: 'cached-tokens' | 'prefill-time' | 'occupancy' | 'restart' | 'rolled-back';
    readonly fromBlocks: number; readonly toBlocks: number;
  };

/** The result of a step. */
export interface RouterStep {
  readonly state: RouterState;
  readonly effects: RouterEffect[];
}

/** A fresh router with no backends. */
export function initialRouterState(config: RouterConfig): RouterState {
  return { config, backends: new Map(), ring: { positions: [], owners: [] }, ringMembers: '', cursor: 0, sessions: new Map(), requests: new Map(), tick: 0 };
}

/** Blocks a backend of `capacityTokens` holds. */
export function capacityBlocks(config: RouterConfig, capacityTokens: number): number {
  return Math.max(1, Math.floor((capacityTokens * config.bytesPerToken) / config.blockBytes));
}

function blocksToTokens(config: RouterConfig, blocks: number): number {
  return (blocks * config.blockBytes) / config.bytesPerToken;
}

function tokensToBlocks(config: RouterConfig, tokens: number): number {
  return Math.floor((tokens * config.bytesPerToken) / config.blockBytes);
}

/** Applies one input. */
export function step(state: RouterState, input: RouterInput): RouterStep {
  state.tick += 1;
  const effects: RouterEffect[] = [];
  switch (input.type) {
    case 'backend.add': addBackend(state, input.id, input.capacityTokens); break;
    case 'backend.remove': removeBackend(state, input.id); break;
    case 'backend.probe': probe(state, input, effects); break;
    case 'route': route(state, input, effects); break;
    case 'first-token': firstToken(state, input, effects); break;
    case 'finish': finish(state, input, effects); break;
    default: assert(false, 'unknown router input', { input });
  }
  return { state, effects };
}

function addBackend(state: RouterState, id: string, capacityTokens: number): void {
  assert(capacityTokens > 0, 'a backend has a positive cache capacity', { id, capacityTokens });
  if (state.backends.has(id)) return;
  state.backends.set(id, {
    id, status: 'pending', tree: new PrefixTree(capacityBlocks(state.config, capacityTokens)), capacityTokens,
    inFlight: 0, pendingPrefillTokens: 0, failures: 0, successes: 0, routed: 0, prefillMsPerToken: undefined, bootId: undefined,
  });
}

function removeBackend(state: RouterState, id: string): void {
  if (!state.backends.delete(id)) return;
  for (const [requestId, request] of state.requests) if (request.backend === id) state.requests.delete(requestId);
  for (const [session, backend] of state.sessions) if (backend === id) state.sessions.delete(session);
}

function probe(state: RouterState, input: Extract<RouterInput, { type: 'backend.probe' }>, effects: RouterEffect[]): void {
  const backend = state.backends.get(input.id);
  if (backend === undefined) return;
  if (!input.ok) {
    backend.successes = 0;
    backend.failures += 1;
    if (backend.status !== 'ejected' && (backend.failures >= state.config.ejectAfterFailures || backend.status === 'pending')) eject(backend, effects);
    return;
  }
  backend.failures = 0;
  backend.successes += 1;
  if (input.capacityTokens !== undefined && input.capacityTokens > 0 && input.capacityTokens !== backend.capacityTokens) {
    backend.capacityTokens = input.capacityTokens;
    backend.tree.resize(capacityBlocks(state.config, input.capacityTokens));
  }
  if (input.bootId !== undefined && input.bootId !== backend.bootId) {
    // A different process answers: whatever the old one cached is gone (a first probe after a router
    // restart lands here too when the backend restarted meanwhile).
    if (backend.bootId !== undefined || backend.status === 'pending') correct(backend, 'restart', effects, () => backend.tree.clear());
    backend.bootId = input.bootId;
  }
  if (input.cachedTokens !== undefined) {
    const blocks = tokensToBlocks(state.config, input.cachedTokens);
    if (backend.tree.size > blocks) correct(backend, 'occupancy', effects, () => backend.tree.evictTo(blocks));
  }
  const admit = backend.status === 'pending' || (backend.status === 'ejected' && backend.successes >= state.config.readmitAfterSuccesses);
  if (admit) {
    backend.status = 'up';
    effects.push({ type: 'backend.up', backend: backend.id });
  }
}

function eject(backend: BackendState, effects: RouterEffect[]): void {
  backend.status = 'ejected';
  backend.successes = 0;
  effects.push({ type: 'backend.ejected', backend: backend.id });
}

function correct(backend: BackendState, evidence: Extract<RouterEffect, { type: 'belief.corrected' }>['evidence'], effects: RouterEffect[], apply: () => void): void {
  const fromBlocks = backend.tree.size;
  apply();
  if (backend.tree.size !== fromBlocks) effects.push({ type: 'belief.corrected', backend: backend.id, evidence, fromBlocks, toBlocks: backend.tree.size });
}

/** The backends a request may go to now: up and not excluded. */
export function eligibleBackends(state: RouterState, exclude: readonly string[] = []): BackendState[] {
  const found: BackendState[] = [];
  for (const backend of state.backends.values()) if (backend.status === 'up' && !exclude.includes(backend.id)) found.push(backend);
  found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return found;
}

function ensureRing(state: RouterState): void {
  const members = [...state.backends.keys()].sort().join('\n');
  if (members === state.ringMembers) return;
  state.ring = buildRing([...state.backends.keys()], state.config.virtualNodes);
  state.ringMembers = members;
}

interface Choice {
  readonly backend: BackendState;
  readonly reason: RouteReason;
  readonly hitBlocks: number;
  readonly cost: number;
}

function route(state: RouterState, input: Extract<RouterInput, { type: 'route' }>, effects: RouterEffect[]): void {
  if (state.requests.has(input.requestId)) { effects.push({ type: 'unroutable', requestId: input.requestId, code: 'DUPLICATE_REQUEST' }); return; }
  if (state.requests.size >= state.config.requestsInFlightMax) { effects.push({ type: 'unroutable', requestId: input.requestId, code: 'OVERLOADED' }); return; }
  const eligible = eligibleBackends(state, input.exclude);
  if (eligible.length === 0) { effects.push({ type: 'unroutable', requestId: input.requestId, code: 'NO_BACKEND' }); return; }
  ensureRing(state);
  const choice = choose(state, eligible, input);
  const backend = choice.backend;
  assert(backend.status === 'up' && !(input.exclude ?? []).includes(backend.id), 'routed only to an eligible backend', { backend: backend.id });
  const expectedHitTokens = Math.min(input.promptTokens, blocksToTokens(state.config, choice.hitBlocks));
  const missTokens = Math.max(0, input.promptTokens - expectedHitTokens);
  const alone = backend.inFlight === 0;
  backend.inFlight += 1;
  backend.routed += 1;
  backend.pendingPrefillTokens += missTokens;
  state.requests.set(input.requestId, {
    backend: backend.id, keys: input.keys, promptTokens: input.promptTokens, expectedHitTokens, alone, prefillPending: missTokens, heldBlocks: choice.hitBlocks, firstTokenSeen: false,
  });
  // Fill on admission: the backend will hold the prompt once it prefills it, and requests queued behind
  // this one are served after it, so the next request sharing the prefix already counts on it. A
  // backend that fails before prefilling rolls the belief back (finish).
  backend.tree.insert(input.keys, state.tick);
  if (input.sessionKey !== undefined) rememberSession(state, input.sessionKey, backend.id);
  effects.push({
    type: 'routed', requestId: input.requestId, backend: backend.id, policy: state.config.policy, reason: choice.reason,
    expectedHitTokens, promptTokens: input.promptTokens, cost: choice.cost,
  });
}

function rememberSession(state: RouterState, key: string, backend: string): void {
  state.sessions.delete(key);
  state.sessions.set(key, backend);
  if (state.sessions.size > state.config.sessionsMax) state.sessions.delete(state.sessions.keys().next().value!);
}

function choose(state: RouterState, eligible: BackendState[], input: Extract<RouterInput, { type: 'route' }>): Choice {
  const config = state.config;
  switch (config.policy) {
    case 'round-robin': {
      const backend = eligible[state.cursor % eligible.length]!;
      state.cursor += 1;
      return { backend, reason: 'round-robin', hitBlocks: backend.tree.match(input.keys), cost: 0 };
    }
    case 'least-load': {
      const backend = leastLoaded(state, eligible);
      return { backend, reason: 'load', hitBlocks: backend.tree.match(input.keys), cost: backend.inFlight };
    }
    case 'consistent-hash': {
      const key = hashKey(input);
      const id = ringLookup(state.ring, key, (candidate) => eligible.some((backend) => backend.id === candidate))!;
      const backend = eligible.find((candidate) => candidate.id === id)!;
      return { backend, reason: 'hash', hitBlocks: backend.tree.match(input.keys), cost: 0 };
    }
    case 'sglang-cache-aware': return chooseSglang(state, eligible, input);
    case 'cache-aware': return chooseCacheAware(state, eligible, input);
    default: { assert(false, 'unknown policy', { policy: config.policy }); }
  }
}

/** The session key, else the prompt's first blocks (its system prompt, roughly). */
function hashKey(input: Extract<RouterInput, { type: 'route' }>): string {
  if (input.sessionKey !== undefined) return `session:${input.sessionKey}`;
  const prefix = input.keys[Math.min(input.keys.length, 8) - 1];
  return prefix === undefined ? `prompt:${input.promptTokens}` : `prefix:${prefix}`;
}

function leastLoaded(state: RouterState, eligible: BackendState[]): BackendState {
  // Ties rotate, so an idle pool is not always served by the first id.
  let best: BackendState | undefined;
  for (let offset = 0; offset < eligible.length; offset += 1) {
    const backend = eligible[(state.cursor + offset) % eligible.length]!;
    if (best === undefined || backend.inFlight < best.inFlight) best = backend;
  }
  state.cursor += 1;
  return best!;
}

function chooseSglang(state: RouterState, eligible: BackendState[], input: Extract<RouterInput, { type: 'route' }>): Choice {
  const thresholds = state.config.sglang;
  let maxLoad = 0;
  let minLoad = Number.POSITIVE_INFINITY;
  for (const backend of eligible) { maxLoad = Math.max(maxLoad, backend.inFlight); minLoad = Math.min(minLoad, backend.inFlight); }
  if (maxLoad - minLoad > thresholds.balanceAbsThreshold && maxLoad > minLoad * thresholds.balanceRelThreshold) {
    const backend = leastLoaded(state, eligible);
    return { backend, reason: 'load', hitBlocks: backend.tree.match(input.keys), cost: backend.inFlight };
  }
  let best = eligible[0]!;
  let bestHit = -1;
  for (const backend of eligible) {
    const hit = backend.tree.match(input.keys);
    if (hit > bestHit) { best = backend; bestHit = hit; }
  }
  const rate = input.keys.length === 0 ? 0 : bestHit / input.keys.length;
  if (rate > thresholds.cacheThreshold) return { backend: best, reason: 'prefix', hitBlocks: bestHit, cost: 1 - rate };
  let smallest = eligible[0]!;
  for (const backend of eligible) if (backend.tree.size < smallest.tree.size) smallest = backend;
  return { backend: smallest, reason: 'smallest-tree', hitBlocks: smallest.tree.match(input.keys), cost: 1 - rate };
}

function chooseCacheAware(state: RouterState, eligible: BackendState[], input: Extract<RouterInput, { type: 'route' }>): Choice {
  const config = state.config;
  let total = 0;
  for (const backend of eligible) total += backend.inFlight;
  const bound = loadBound(total, eligible.length, config.loadFactor);
  const underBound = eligible.filter((backend) => backend.inFlight + 1 <= bound);
  const candidates = underBound.length > 0 ? underBound : eligible;
  let affinity: string | undefined;
  if (input.sessionKey !== undefined) {
    const bound_ = state.sessions.get(input.sessionKey);
    affinity = bound_ !== undefined && candidates.some((backend) => backend.id === bound_)
      ? bound_
      : ringLookup(state.ring, `session:${input.sessionKey}`, (id) => candidates.some((backend) => backend.id === id));
  }
  let best: Choice | undefined;
  for (let offset = 0; offset < candidates.length; offset += 1) {
    // Ties rotate with the cursor, so equal backends share new prefixes evenly.
    const backend = candidates[(state.cursor + offset) % candidates.length]!;
    const hitBlocks = backend.tree.match(input.keys);
    const hitTokens = Math.min(input.promptTokens, blocksToTokens(config, hitBlocks));
    const missBlocks = Math.max(0, input.keys.length - hitBlocks);
    const evictedTokens = blocksToTokens(config, Math.max(0, Math.min(missBlocks, backend.tree.size + missBlocks - backend.tree.capacity)));
    const cost = (input.promptTokens - hitTokens) + config.queueTokenWeight * backend.pendingPrefillTokens + config.evictionWeight * evictedTokens
      + config.requestCostTokens * backend.inFlight - (backend.id === affinity ? config.affinityTokens : 0);
    if (best === undefined || cost < best.cost) {
      const reason: RouteReason = backend.id === affinity && hitBlocks === 0 ? 'session' : hitBlocks > 0 ? 'prefix' : 'load';
      best = { backend, reason, hitBlocks, cost };
    }
  }
  state.cursor += 1;
  return best!;
}

function firstToken(state: RouterState, input: Extract<RouterInput, { type: 'first-token' }>, effects: RouterEffect[]): void {
  const request = state.requests.get(input.requestId);
  if (request === undefined) return;
  const backend = state.backends.get(request.backend)!;
  backend.pendingPrefillTokens -= request.prefillPending;
  const expectedMissTokens = request.prefillPending;
  request.prefillPending = 0;
  request.firstTokenSeen = true;
  // Only a request that had the backend to itself times its prefill: anything else waited in a queue.
  if (!request.alone) return;
  const rate = backend.prefillMsPerToken;
  if (expectedMissTokens >= request.promptTokens * 0.9 && expectedMissTokens >= 64) {
    // A (believed) full miss teaches the backend's prefill speed.
    const observed = input.prefillMs / expectedMissTokens;
    backend.prefillMsPerToken = rate === undefined ? observed : rate * 0.8 + observed * 0.2;
    return;
  }
  if (rate === undefined || request.expectedHitTokens === 0) return;
  const expectedMs = Math.max(expectedMissTokens, 32) * rate;
  if (input.prefillMs <= expectedMs * state.config.prefillSlackFactor) return;
  const impliedMissTokens = Math.min(request.promptTokens, input.prefillMs / rate);
  const keptBlocks = tokensToBlocks(state.config, Math.max(0, request.promptTokens - impliedMissTokens));
  correct(backend, 'prefill-time', effects, () => backend.tree.truncate(request.keys, keptBlocks));
}

function finish(state: RouterState, input: Extract<RouterInput, { type: 'finish' }>, effects: RouterEffect[]): void {
  const request = state.requests.get(input.requestId);
  if (request === undefined) return;
  state.requests.delete(input.requestId);
  const backend = state.backends.get(request.backend)!;
  backend.inFlight -= 1;
  backend.pendingPrefillTokens -= request.prefillPending;
  assert(backend.inFlight >= 0 && backend.pendingPrefillTokens >= 0, 'in-flight accounting never goes negative', { backend: backend.id });
  if (input.outcome !== 'ok' && !request.firstTokenSeen && state.config.policy !== 'sglang-cache-aware') {
    // Never prefilled there: what this request added to the belief goes.
    correct(backend, 'rolled-back', effects, () => backend.tree.truncate(request.keys, request.heldBlocks));
  }
  if (input.outcome === 'backend-failed') {
    backend.successes = 0;
    backend.failures += 1;
    if (backend.status === 'up' && backend.failures >= state.config.ejectAfterFailures) eject(backend, effects);
    return;
  }
  if (input.outcome !== 'ok') return;
  backend.failures = 0;
  if (input.cachedTokens !== undefined) {
    // Compared with the belief when the request was routed: the backend's count is of that moment.
    const keptBlocks = tokensToBlocks(state.config, input.cachedTokens);
    if (keptBlocks < request.heldBlocks) correct(backend, 'cached-tokens', effects, () => backend.tree.truncate(request.keys, keptBlocks));
  }
  backend.tree.insert(input.filledKeys ?? request.keys, state.tick);
}

/** The durable part of the state: trees, boot ids and the session map. */
export interface RouterSnapshot {
  readonly backends: ReadonlyArray<{ readonly id: string; readonly capacityTokens: number; readonly bootId?: string; readonly paths: readonly TreePath[] }>;
  readonly sessions: ReadonlyArray<readonly [string, string]>;
  readonly tick: number;
}

/** Exports the durable part of the state. */
export function snapshotOf(state: RouterState): RouterSnapshot {
  return {
    backends: [...state.backends.values()].map((backend) => ({
      id: backend.id, capacityTokens: backend.capacityTokens, ...(backend.bootId === undefined ? {} : { bootId: backend.bootId }), paths: backend.tree.paths(),
    })),
    sessions: [...state.sessions.entries()],
    tick: state.tick,
  };
}

/**
 * A router from a snapshot. Every restored backend starts `pending`: nothing routes to it until a
 * probe reconciles it (same boot id: the tree stands, cut to the reported occupancy; another boot id:
 * the tree is dropped).
 */
export function restoreState(config: RouterConfig, snapshot: RouterSnapshot): RouterState {
  const state = initialRouterState(config);
  state.tick = snapshot.tick;
  for (const saved of snapshot.backends) {
    addBackend(state, saved.id, saved.capacityTokens);
    const backend = state.backends.get(saved.id)!;
    backend.tree = PrefixTree.fromPaths(capacityBlocks(config, saved.capacityTokens), saved.paths);
    backend.bootId = saved.bootId;
  }
  for (const [session, backend] of snapshot.sessions) if (state.backends.has(backend)) rememberSession(state, session, backend);
  return state;
}

/** Asserts the core's invariants (tests and the simulation call it after every step). */
export function checkInvariants(state: RouterState): void {
  const counts = new Map<string, number>();
  for (const request of state.requests.values()) counts.set(request.backend, (counts.get(request.backend) ?? 0) + 1);
  for (const backend of state.backends.values()) {
    assert(backend.inFlight === (counts.get(backend.id) ?? 0), 'in-flight count matches the requests held', { backend: backend.id });
    backend.tree.check();
  }
  assert(state.sessions.size <= state.config.sessionsMax, 'the session map is bounded');
}

/** A stable hash of a session or user key, for headers and logs. */
export function sessionHash(key: string): string {
  return hashString(key).toString(16).padStart(8, '0');
}
