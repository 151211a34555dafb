/**
 * The router actor: the shell around the routing core (core/router.ts) and tenant admission. It keys
 * prompts into blocks, feeds routes, stream milestones and probes to the core, and answers with the
 * core's decision; it makes no routing decision of its own. Its cache state (trees, boot ids,
 * sessions) is written to the storage engine (LevelDB through `LevelKvEngine`) when it changed, at
 * most every `persistIntervalMs`, and read back by `init`: a restarted router starts with every
 * backend `pending`, and each watcher's first probe reconciles that backend's tree (see the core).
 *
 * The state is soft: a write lost with the machine costs hits, never correctness, which is why a
 * LevelDB write without fsync is enough here.
 */
import { refuseUnknown, type ActorContext, type Behaviour } from '../../runtime/index.js';
import { LevelKvEngine } from '../storage/index.js';
import {
  admit, blockKeys, initialAdmission, initialRouterState, restoreState, snapshotOf, step,
  type AdmissionState, type RouteReason, type RouterConfig, type RouterEffect, type RouterInput, type RouterSnapshot, type RouterState, type TenantLimits,
} from './core/index.js';
import type { GatewayLimits } from './limits.js';

/** A backend as configured. */
export interface BackendConfig {
  readonly id: string;
  readonly url: string;
  /** Tokens its KV cache holds (until a probe reports the real figure). */
  readonly capacityTokens: number;
}

/** Messages of the router actor. */
export type RouterMessage =
  | {
    readonly type: 'router.route'; readonly requestId: string; readonly text: string; readonly sessionKey?: string; readonly exclude: readonly string[];
    /** Set on a first attempt: the tenant is admitted (and charged) then, not on retries. */
    readonly admission?: { readonly tenant: string; readonly tokens: number };
  }
  | { readonly type: 'router.firstToken'; readonly requestId: string; readonly prefillMs: number }
  | { readonly type: 'router.finish'; readonly requestId: string; readonly outcome: 'ok' | 'backend-failed' | 'abandoned'; readonly cachedTokens?: number; readonly filledText?: string }
  | { readonly type: 'router.probe'; readonly id: string; readonly ok: boolean; readonly bootId?: string; readonly cachedTokens?: number; readonly capacityTokens?: number }
  | { readonly type: 'router.state' }
  | { readonly type: 'router.persistDue' };

/** The answer to `router.route`. */
export type RouteReply =
  | { readonly ok: true; readonly backend: string; readonly url: string; readonly reason: RouteReason; readonly expectedHitTokens: number; readonly policy: string }
  | { readonly ok: false; readonly code: 'NO_BACKEND' | 'OVERLOADED' | 'DUPLICATE_REQUEST' | 'RATE_LIMITED' | 'BUDGET_EXHAUSTED'; readonly retryAfterMs?: number };

/** What `router.state` answers. */
export interface RouterView {
  readonly policy: string;
  readonly backends: ReadonlyArray<{ id: string; status: string; inFlight: number; routed: number; treeBlocks: number; bootId?: string }>;
  readonly sessions: number;
  readonly corrections: Readonly<Record<string, number>>;
  readonly restored: boolean;
}

/** State of the router actor. */
export interface RouterActorState {
  readonly core: RouterState;
  readonly admission: AdmissionState;
  readonly urls: ReadonlyMap<string, string>;
  readonly engine: LevelKvEngine | undefined;
  readonly corrections: Record<string, number>;
  readonly restored: boolean;
  dirty: boolean;
  writeIndex: number;
  writing: Promise<void>;
}

/** Options of the router actor. */
export interface RouterActorOptions {
  readonly config: RouterConfig;
  readonly backends: readonly BackendConfig[];
  /** Where the cache state lives; none: in memory only. */
  readonly dataDirectory?: string;
  readonly limits: GatewayLimits;
  /** Limits per tenant; others get `limits.tenant`. */
  readonly tenants?: Readonly<Record<string, TenantLimits>>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const snapshotKey = encoder.encode('router/cache-state');

async function loadSnapshot(engine: LevelKvEngine): Promise<RouterSnapshot | undefined> {
  const bytes = await engine.read(snapshotKey);
  return bytes === undefined ? undefined : JSON.parse(decoder.decode(bytes)) as RouterSnapshot;
}

/** The router actor's behaviour. */
export function routerBehaviour(options: RouterActorOptions): Behaviour<RouterActorState, RouterMessage> {
  const { config } = options;
  return {
    name: 'router',
    async init(ctx) {
      const engine = options.dataDirectory === undefined ? undefined : await LevelKvEngine.open(options.dataDirectory);
      const saved = engine === undefined ? undefined : await loadSnapshot(engine);
      const core = saved === undefined ? initialRouterState(config) : restoreState(config, saved);
      const configured = new Set(options.backends.map((backend) => backend.id));
      for (const id of [...core.backends.keys()]) if (!configured.has(id)) step(core, { type: 'backend.remove', id });
      for (const backend of options.backends) step(core, { type: 'backend.add', id: backend.id, capacityTokens: backend.capacityTokens });
      ctx.timers.startPeriodic('persist', { type: 'router.persistDue' }, options.limits.persistIntervalMs);
      return {
        core, admission: initialAdmission(options.limits.tenantsMax), urls: new Map(options.backends.map((backend) => [backend.id, backend.url])),
        engine, corrections: {}, restored: saved !== undefined, dirty: false, writeIndex: engine?.appliedIndex ?? 0, writing: Promise.resolve(),
      };
    },
    receive(state, message, ctx) {
      switch (message.type) {
        case 'router.route': return route(state, message, ctx, options);
        case 'router.firstToken': apply(state, { type: 'first-token', requestId: message.requestId, prefillMs: message.prefillMs }); return state;
        case 'router.finish': {
          const filledKeys = message.filledText === undefined ? undefined : blockKeys(encoder.encode(message.filledText), config.blockBytes, config.promptBlocksMax);
          apply(state, {
            type: 'finish', requestId: message.requestId, outcome: message.outcome,
            ...(message.cachedTokens === undefined ? {} : { cachedTokens: message.cachedTokens }), ...(filledKeys === undefined ? {} : { filledKeys }),
          });
          state.dirty = true;
          return state;
        }
        case 'router.probe': {
          const { type: _type, ...probe } = message;
          apply(state, { type: 'backend.probe', ...probe });
          ctx.reply({ ok: true });
          return state;
        }
        case 'router.state': ctx.reply(view(state)); return state;
        case 'router.persistDue': persist(state); return state;
        default: refuseUnknown(ctx, message, 'router'); return state;
      }
    },
    async onStop(state) {
      if (state === undefined) return;
      persist(state);
      await state.writing;
      await state.engine?.close();
    },
    describe: (state) => ({ policy: config.policy, backends: state.core.backends.size, inFlight: state.core.requests.size }),
  };
}

function apply(state: RouterActorState, input: RouterInput): RouterEffect[] {
  const { effects } = step(state.core, input);
  for (const effect of effects) {
    if (effect.type === 'belief.corrected') { state.corrections[effect.evidence] = (state.corrections[effect.evidence] ?? 0) + 1; state.dirty = true; }
    if (effect.type === 'backend.up' || effect.type === 'backend.ejected') state.dirty = true;
  }
  return effects;
}

function route(state: RouterActorState, message: Extract<RouterMessage, { type: 'router.route' }>, ctx: ActorContext<RouterMessage>, options: RouterActorOptions): RouterActorState {
  if (message.admission !== undefined) {
    const limits = options.tenants?.[message.admission.tenant] ?? options.limits.tenant;
    const admitted = admit(state.admission, message.admission.tenant, limits, ctx.clock.now(), message.admission.tokens);
    if (!admitted.ok) { ctx.reply({ ok: false, code: admitted.code, retryAfterMs: admitted.retryAfterMs } satisfies RouteReply); return state; }
  }
  const bytes = encoder.encode(message.text);
  const keys = blockKeys(bytes, state.core.config.blockBytes, state.core.config.promptBlocksMax);
  const promptTokens = Math.ceil(bytes.length / state.core.config.bytesPerToken);
  const effects = apply(state, {
    type: 'route', requestId: message.requestId, keys, promptTokens, exclude: message.exclude,
    ...(message.sessionKey === undefined ? {} : { sessionKey: message.sessionKey }),
  });
  const decision = effects.find((effect) => effect.type === 'routed' || effect.type === 'unroutable');
  if (decision?.type === 'routed') {
    ctx.reply({
      ok: true, backend: decision.backend, url: state.urls.get(decision.backend)!, reason: decision.reason, expectedHitTokens: decision.expectedHitTokens, policy: decision.policy,
    } satisfies RouteReply);
  } else ctx.reply({ ok: false, code: decision?.type === 'unroutable' ? decision.code : 'NO_BACKEND' } satisfies RouteReply);
  return state;
}

function persist(state: RouterActorState): void {
  const engine = state.engine;
  if (engine === undefined || !state.dirty) return;
  state.dirty = false;
  const bytes = encoder.encode(JSON.stringify(snapshotOf(state.core)));
  state.writeIndex += 1;
  const index = state.writeIndex;
  // Writes are chained so they land in order; a failed write leaves the state dirty for the next one.
  state.writing = state.writing.then(() => engine.write([{ type: 'put', key: snapshotKey, value: bytes }], index)).catch(() => { state.dirty = true; });
}

function view(state: RouterActorState): RouterView {
  return {
    policy: state.core.config.policy,
    backends: [...state.core.backends.values()].map((backend) => ({
      id: backend.id, status: backend.status, inFlight: backend.inFlight, routed: backend.routed, treeBlocks: backend.tree.size,
      ...(backend.bootId === undefined ? {} : { bootId: backend.bootId }),
    })),
    sessions: state.core.sessions.size,
    corrections: { ...state.corrections },
    restored: state.restored,
  };
}
