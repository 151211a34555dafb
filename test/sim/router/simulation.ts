/**
 * The routing simulation: the routing core in front of simulated backends (simulated-backend.ts) over
 * simulated time, with backends joining, leaving, crashing and restarting (their cache lost), and
 * evicting behind the router's back. Clients run closed loops: multi-turn chats with session keys and
 * single questions under shared system prompts. Probes run on a period; a request whose backend fails
 * before its first token is retried elsewhere, one failing after it fails.
 *
 * Checked on every step: the core's invariants; no request routed to a backend that is not up (ejected,
 * pending or removed) or that it excluded; under `cache-aware` no backend taken past the bounded-load
 * cap. Checked at the end: the per-backend load ratio and that the belief matches the caches.
 */
import { assert } from '../../../runtime/index.js';
import { createRng, type Rng } from '../../../runtime/index.js';
import {
  blockKeys, checkInvariants, eligibleBackends, initialRouterState, loadBound, routerConfig, step,
  type PolicyName, type RouterConfig, type RouterEffect, type RouterInput, type RouterState,
} from '../../../actors/router/core/index.js';
import { SimulatedBackend } from './simulated-backend.js';
import { Conversation, SharedPrefixWorkload, randomText, type WorkloadRequest } from './workload.js';

const encoder = new TextEncoder();

/** What one run found. */
export interface SimulationReport {
  readonly seed: number;
  readonly requests: number;
  readonly completed: number;
  readonly failedMidStream: number;
  readonly retried: number;
  readonly promptTokens: number;
  readonly cachedTokens: number;
  /** Prompt tokens the router expected cached on the backends it chose, and how many of those were. */
  readonly expectedHitTokens: number;
  readonly realizedHitTokens: number;
  readonly ejections: number;
  readonly corrections: Record<string, number>;
  /** Routed requests per backend that was up for the whole run. */
  readonly routedPerStableBackend: number[];
  /** At the end: the share of blocks believed cached that the backends hold. */
  readonly beliefPrecision: number;
}

/** Options of a run. */
export interface SimulationOptions {
  readonly policy?: PolicyName;
  readonly clients?: number;
  readonly requestsMax?: number;
  readonly churn?: boolean;
  readonly config?: Partial<RouterConfig>;
}

interface Event {
  readonly atMs: number;
  readonly order: number;
  readonly run: () => void;
}

/** A discrete-event queue over simulated time (events at equal times run in the order scheduled). */
export class EventQueue {
  readonly #events: Event[] = [];
  #order = 0;
  nowMs = 0;

  at(atMs: number, run: () => void): void {
    const event = { atMs, order: this.#order++, run };
    let low = 0;
    let high = this.#events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const other = this.#events[middle]!;
      if (other.atMs < atMs || (other.atMs === atMs && other.order < event.order)) low = middle + 1;
      else high = middle;
    }
    this.#events.splice(low, 0, event);
  }

  runNext(): boolean {
    const event = this.#events.shift();
    if (event === undefined) return false;
    this.nowMs = event.atMs;
    event.run();
    return true;
  }
}

const blockBytes = 16;

/** Runs one seeded simulation; throws (naming the seed) when a check fails. */
export function runSimulation(seed: number, options: SimulationOptions = {}): SimulationReport {
  try {
    return simulate(seed, options);
  } catch (error) {
    throw new Error(`router simulation failed; replay with SEED=${seed}: ${(error as Error).message}`, { cause: error });
  }
}

function simulate(seed: number, options: SimulationOptions): SimulationReport {
  const rng = createRng(seed);
  const policy = options.policy ?? 'cache-aware';
  const config = routerConfig({ policy, blockBytes, bytesPerToken: 1, ...options.config });
  const state = initialRouterState(config);
  const queue = new EventQueue();
  const backends = new Map<string, SimulatedBackend>();
  const report = { requests: 0, completed: 0, failedMidStream: 0, retried: 0, promptTokens: 0, cachedTokens: 0, expectedHitTokens: 0, realizedHitTokens: 0, ejections: 0, corrections: {} as Record<string, number> };
  const capacityBlocks = 1_500;
  const requestsMax = options.requestsMax ?? 1_500;
  let nextRequest = 0;

  const apply = (input: RouterInput): RouterEffect[] => {
    const { effects } = step(state, input);
    checkInvariants(state);
    for (const effect of effects) {
      if (effect.type === 'backend.ejected') report.ejections += 1;
      if (effect.type === 'belief.corrected') report.corrections[effect.evidence] = (report.corrections[effect.evidence] ?? 0) + 1;
    }
    return effects;
  };

  const addBackend = (id: string): void => {
    backends.set(id, new SimulatedBackend({ id, capacityBlocks, blockTokens: blockBytes, prefillMsPerToken: 0.05, decodeMsPerToken: 2, overheadMs: 5 }));
    apply({ type: 'backend.add', id, capacityTokens: capacityBlocks * blockBytes });
  };
  const probeAll = (): void => {
    for (const [id, backend] of backends) {
      apply(backend.up ? { type: 'backend.probe', id, ok: true, bootId: backend.bootId, cachedTokens: backend.cachedTokens } : { type: 'backend.probe', id, ok: false });
    }
    if (report.requests < requestsMax || state.requests.size > 0) queue.at(queue.nowMs + 500, probeAll);
  };

  for (let index = 0; index < 6; index += 1) addBackend(`b${index}`);
  const stable = new Set(['b0', 'b1', 'b2']);
  probeAll();

  const shared = new SharedPrefixWorkload(rng, { groups: 24, systemLength: 1_500, questionLength: 120, outputTokens: 20 });
  const chatSystem = randomText(rng, 600);

  /** Sends one request, retrying on another backend while no token was streamed. */
  const send = (request: WorkloadRequest, done: (completion: string | undefined) => void, exclude: string[] = []): void => {
    const requestId = `q${nextRequest++}`;
    const bytes = encoder.encode(request.prompt);
    const keys = blockKeys(bytes, blockBytes, config.promptBlocksMax);
    const before = snapshotLoads(state, exclude);
    const effects = apply({
      type: 'route', requestId, keys, promptTokens: bytes.length, ...(request.sessionKey === undefined ? {} : { sessionKey: request.sessionKey }), exclude,
    });
    const routed = effects[0]!;
    if (routed.type !== 'routed') { done(undefined); return; }
    checkRouted(state, routed, exclude, before, backends);
    const backend = backends.get(routed.backend)!;
    if (!backend.up) {
      // The connection is refused: nothing was streamed, so another backend may take it.
      queue.at(queue.nowMs + 1, () => {
        apply({ type: 'finish', requestId, outcome: 'backend-failed' });
        report.retried += 1;
        send(request, done, [...exclude, routed.backend]);
      });
      return;
    }
    const completion = randomText(rng, request.outputTokens);
    const filledKeys = blockKeys(encoder.encode(request.prompt + completion), blockBytes, config.promptBlocksMax);
    const boot = backend.boot;
    const timing = backend.serve(queue.nowMs, keys, bytes.length, request.outputTokens, filledKeys);
    const alive = (): boolean => backends.get(routed.backend) === backend && backend.up && backend.boot === boot;
    queue.at(timing.firstTokenAtMs, () => {
      if (!alive()) {
        apply({ type: 'finish', requestId, outcome: 'backend-failed' });
        report.retried += 1;
        send(request, done, [...exclude, routed.backend]);
        return;
      }
      apply({ type: 'first-token', requestId, prefillMs: timing.prefillMs });
      queue.at(timing.doneAtMs, () => {
        if (!alive()) {
          apply({ type: 'finish', requestId, outcome: 'backend-failed' });
          report.failedMidStream += 1;
          done(undefined);
          return;
        }
        apply({ type: 'finish', requestId, outcome: 'ok', cachedTokens: timing.cachedTokens, filledKeys });
        report.completed += 1;
        report.promptTokens += bytes.length;
        report.cachedTokens += timing.cachedTokens;
        report.expectedHitTokens += routed.expectedHitTokens;
        report.realizedHitTokens += Math.min(routed.expectedHitTokens, timing.cachedTokens);
        done(completion);
      });
    });
  };

  const client = (index: number): void => {
    let conversation: Conversation | undefined;
    const loop = (): void => {
      if (report.requests >= requestsMax) return;
      report.requests += 1;
      if (conversation === undefined && rng.next() < 0.5) conversation = new Conversation(rng, `client-${index}-${report.requests}`, { systemPrompt: chatSystem, userLength: 80 });
      const request = conversation !== undefined ? conversation.next(30) : shared.next();
      const current = conversation;
      send(request, (completion) => {
        if (current !== undefined) {
          if (completion === undefined || current.turns >= 6) conversation = undefined;
          else current.answered(completion);
        }
        queue.at(queue.nowMs + 5 + rng.next() * 40, loop);
      });
    };
    queue.at(rng.next() * 50, loop);
  };
  const clients = options.clients ?? 24;
  for (let index = 0; index < clients; index += 1) client(index);
  if (options.churn ?? true) scheduleChurn(rng, queue, backends, addBackend, apply);

  let steps = 0;
  while (queue.runNext()) {
    steps += 1;
    assert(steps < 5_000_000, 'the simulation ends');
  }
  assert(state.requests.size === 0, 'every request finished', { left: state.requests.size });
  return {
    seed, ...report,
    routedPerStableBackend: [...stable].map((id) => state.backends.get(id)!.routed),
    beliefPrecision: beliefPrecision(state, backends),
  };
}

function snapshotLoads(state: RouterState, exclude: readonly string[]): { total: number; eligible: number } {
  const eligible = eligibleBackends(state, exclude);
  return { total: eligible.reduce((sum, backend) => sum + backend.inFlight, 0), eligible: eligible.length };
}

function checkRouted(state: RouterState, routed: Extract<RouterEffect, { type: 'routed' }>, exclude: readonly string[], before: { total: number; eligible: number }, backends: Map<string, SimulatedBackend>): void {
  const chosen = state.backends.get(routed.backend);
  assert(chosen !== undefined && backends.has(routed.backend), 'routed to a backend in the pool', { backend: routed.backend });
  assert(chosen.status === 'up', 'never routed to an ejected or pending backend', { backend: routed.backend, status: chosen.status });
  assert(!exclude.includes(routed.backend), 'never routed to an excluded backend', { backend: routed.backend });
  if (state.config.policy === 'cache-aware') {
    const bound = loadBound(before.total, before.eligible, state.config.loadFactor);
    assert(chosen.inFlight <= bound, 'no backend is taken past the bounded-load cap', { backend: routed.backend, inFlight: chosen.inFlight, bound });
  }
}

/** Backends beyond the first three join, leave, crash and restart, and evict behind the router's back. */
function scheduleChurn(
  rng: Rng, queue: EventQueue, backends: Map<string, SimulatedBackend>, addBackend: (id: string) => void, apply: (input: RouterInput) => RouterEffect[],
): void {
  let joined = 6;
  const volatile = (): string[] => [...backends.keys()].filter((id) => !['b0', 'b1', 'b2'].includes(id));
  for (let round = 0; round < 12; round += 1) {
    queue.at(2_000 + round * 3_000 + rng.next() * 2_000, () => {
      const kind = rng.int(0, 3);
      const candidates = volatile();
      const target = candidates[rng.int(0, Math.max(0, candidates.length - 1))];
      if (kind === 0 || target === undefined) { addBackend(`b${joined++}`); return; }
      const backend = backends.get(target)!;
      if (kind === 1) {
        // Leaves: the router forgets it; its in-flight requests fail on the backend.
        backend.crash();
        backends.delete(target);
        apply({ type: 'backend.remove', id: target });
      } else if (kind === 2 && backend.up) {
        backend.crash();
        queue.at(queue.nowMs + 1_500 + rng.next() * 2_000, () => backend.restart(queue.nowMs));
      } else backend.evict(0.5 + rng.next() * 0.5);
    });
  }
  // The stable backends evict too, so their belief must follow.
  queue.at(9_000, () => backends.get('b1')!.evict(0.8));
}

/** The share of blocks the router believes cached that the backends do hold. */
function beliefPrecision(state: RouterState, backends: Map<string, SimulatedBackend>): number {
  let believed = 0;
  let held = 0;
  for (const [id, backend] of state.backends) {
    const truth = backends.get(id);
    if (truth === undefined || backend.status !== 'up') continue;
    for (const path of backend.tree.paths()) {
      for (const key of path.keys) {
        believed += 1;
        if (truth.holds(key)) held += 1;
      }
    }
  }
  return believed === 0 ? 1 : held / believed;
}
