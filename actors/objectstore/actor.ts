/**
 * The gateway as a supervised actor tree:
 *
 *   objectstore (supervisor, one_for_one)
 *     listener   the HTTP server (gateway.ts): opens a KV client pool to the replicas and serves S3
 *                requests, each its own task; a server failure crashes it into a restart
 *     sweeper    collects garbage (sweeper.ts) on a periodic timer, one sweep at a time
 *
 * Both reach the replicated KV through the kernel's `ask` (the replica refs `{ node, path: '/root/raft' }`),
 * so the gateway runs on any node that holds or reaches a replica. Neither keeps state that a restart
 * must rebuild: everything durable is in the KV.
 */
import { TroupeError, refuseUnknown, type ActorContext, type Behaviour } from '../../runtime/index.js';
import { supervisor, type ChildSpec } from '../../supervisors/index.js';
import { defaultReplicaPath } from '../raft/index.js';
import type { S3Credentials } from './access-keys.js';
import type { MultipartLimits } from './core/multipart.js';
import { S3Gateway, newId, type GatewayStats } from './gateway.js';
import { KvPool } from './kv.js';
import type { StoreLimits } from './store.js';
import { sweepDefaults, sweepOnce, type SweepOptions } from './sweeper.js';

/** Options of the gateway tree. */
export interface ObjectStoreGatewayOptions {
  /** Node names of the KV replicas (each at `replicaPath`). */
  readonly replicas: readonly string[];
  readonly replicaPath?: string;
  /** `host:port` of the S3 endpoint. */
  readonly listen: string;
  readonly credentials?: readonly S3Credentials[];
  readonly domains?: readonly string[];
  /** Child id of the supervisor (default `objectstore`). */
  readonly id?: string;
  /** KV requests in flight per gateway (default 32). */
  readonly kvClients?: number;
  readonly requestsMax?: number;
  readonly limits?: Partial<StoreLimits>;
  readonly multipartLimits?: Partial<MultipartLimits>;
  readonly sweep?: Partial<SweepOptions> & { readonly intervalMs?: number };
  /** Told once the listener is up (with its port). */
  readonly onListening?: (port: number) => void;
}

type ListenerMessage =
  | { readonly type: 'objectstore.status' }
  | { readonly type: 'objectstore.serverFailed'; readonly message: string; readonly token: object };

interface ListenerState {
  readonly gateway: S3Gateway;
}

function kvTransport(ctx: ActorContext<unknown>, path: string): { ask: (replica: string, message: unknown, timeoutMs: number) => Promise<unknown> } {
  return { ask: (replica, message, timeoutMs) => ctx.ask({ node: replica, path }, message, { timeoutMs }) };
}

/** The listener actor. */
export function listenerBehaviour(options: ObjectStoreGatewayOptions): Behaviour<ListenerState, ListenerMessage> {
  const token = {};
  return {
    name: 'objectstore-listener',
    async init(ctx) {
      const kv = new KvPool({
        clientIdPrefix: `s3-${ctx.self.node}-${newId().slice(0, 12)}`, replicas: options.replicas, transport: kvTransport(ctx as ActorContext<unknown>, options.replicaPath ?? defaultReplicaPath),
        size: options.kvClients ?? 32,
      });
      const gateway = await S3Gateway.start({
        kv, listen: options.listen, nowMs: () => Date.now(),
        ...(options.credentials ? { credentials: options.credentials } : {}), ...(options.domains ? { domains: options.domains } : {}),
        ...(options.requestsMax !== undefined ? { requestsMax: options.requestsMax } : {}), ...(options.limits ? { limits: options.limits } : {}),
        ...(options.multipartLimits ? { multipartLimits: options.multipartLimits } : {}),
      });
      gateway.onServerError((error) => ctx.tell(ctx.self, { type: 'objectstore.serverFailed', message: error.message, token }));
      options.onListening?.(gateway.port);
      return { gateway };
    },
    receive(state, message, ctx) {
      const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
      switch (type) {
        case 'terminated':
          return state;
        case 'objectstore.status':
          ctx.reply({ ok: true, port: state.gateway.port, ...state.gateway.stats });
          return state;
        case 'objectstore.serverFailed':
          if ((message as { token?: unknown }).token !== token) break;
          throw new TroupeError('S3_SERVER_FAILED', `the S3 listener failed: ${(message as { message: string }).message}`);
        default:
          break;
      }
      refuseUnknown(ctx, message, 'objectstore-listener');
      return state;
    },
    async onStop(state) {
      await state?.gateway.close();
    },
    describe(state): Record<string, unknown> {
      const stats: GatewayStats = state.gateway.stats;
      return { port: state.gateway.port, ...stats };
    },
  };
}

type SweeperMessage =
  | { readonly type: 'objectstore.sweep' }
  | { readonly type: 'objectstore.sweeperStatus' }
  | { readonly type: 'objectstore.swept'; readonly collected: number; readonly more: boolean; readonly error?: string; readonly token: object };

interface SweeperState {
  readonly kv: KvPool;
  readonly sweeping: boolean;
  readonly collected: number;
  readonly sweeps: number;
  readonly lastError?: string;
}

/** The sweeper actor. */
export function sweeperBehaviour(options: ObjectStoreGatewayOptions): Behaviour<SweeperState, SweeperMessage> {
  const token = {};
  const sweep: SweepOptions = { ...sweepDefaults, ...options.sweep };
  return {
    name: 'objectstore-sweeper',
    init(ctx) {
      const kv = new KvPool({ clientIdPrefix: `s3-sweep-${ctx.self.node}-${newId().slice(0, 12)}`, replicas: options.replicas, transport: kvTransport(ctx as ActorContext<unknown>, options.replicaPath ?? defaultReplicaPath), size: 1 });
      ctx.timers.startPeriodic('sweep', { type: 'objectstore.sweep' }, options.sweep?.intervalMs ?? 30_000);
      return { kv, sweeping: false, collected: 0, sweeps: 0 };
    },
    receive(state, message, ctx) {
      const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
      switch (type) {
        case 'terminated':
          return state;
        case 'objectstore.sweeperStatus':
          ctx.reply({ ok: true, sweeping: state.sweeping, sweeps: state.sweeps, collected: state.collected, ...(state.lastError !== undefined ? { lastError: state.lastError } : {}) });
          return state;
        case 'objectstore.sweep': {
          if (state.sweeping) return state;
          sweepOnce(state.kv, Date.now(), sweep).then(
            (result) => ctx.tell(ctx.self, { type: 'objectstore.swept', collected: result.collected, more: result.more, token }),
            (error: unknown) => ctx.tell(ctx.self, { type: 'objectstore.swept', collected: 0, more: false, error: error instanceof Error ? error.message : String(error), token }),
          );
          return { ...state, sweeping: true };
        }
        case 'objectstore.swept': {
          const swept = message as Extract<SweeperMessage, { type: 'objectstore.swept' }>;
          if (swept.token !== token) break;
          // A page with more records left goes on at once; failures wait for the next tick.
          if (swept.more && swept.error === undefined && swept.collected > 0) ctx.tell(ctx.self, { type: 'objectstore.sweep' });
          const { lastError: _previous, ...rest } = state;
          return { ...rest, sweeping: false, collected: state.collected + swept.collected, sweeps: state.sweeps + 1, ...(swept.error !== undefined ? { lastError: swept.error } : {}) };
        }
        default:
          break;
      }
      refuseUnknown(ctx, message, 'objectstore-sweeper');
      return state;
    },
    describe(state): Record<string, unknown> {
      return { sweeps: state.sweeps, collected: state.collected, ...(state.lastError !== undefined ? { lastError: state.lastError } : {}) };
    },
  };
}

/** A child spec for the gateway's supervision tree. */
export function objectStoreGateway(options: ObjectStoreGatewayOptions): ChildSpec {
  return {
    id: options.id ?? 'objectstore', kind: 'supervisor', restart: 'permanent', shutdownMs: 15_000,
    start: supervisor({
      name: 'objectstore-supervisor', strategy: 'one_for_one', maxRestarts: 10, periodMs: 10_000,
      children: [
        { id: 'listener', kind: 'worker', restart: 'permanent', shutdownMs: 10_000, start: listenerBehaviour(options) },
        { id: 'sweeper', kind: 'worker', restart: 'permanent', shutdownMs: 5_000, start: sweeperBehaviour(options) },
      ],
    }),
  };
}
