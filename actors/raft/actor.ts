/**
 * The Raft replica actor: a thin nact shell over the replica host (host.ts), which does all the work
 * (feeding the pure core, carrying out each Ready on the WAL and the LevelDB state machine, answering
 * clients). The shell makes no decision: it gives the host the real disk, the actor system as its
 * transport, the actor's clock and Rng, and its mailbox as the channel through which the host's
 * background work reports back; it turns timer firings into ticks and mailbox messages into host calls.
 *
 * Background completions come back as signals tagged with the incarnation, and one from an earlier
 * incarnation is ignored. A failed write or apply crashes the actor; its supervisor restarts it, and
 * `init` recovers from the WAL and the newest snapshot, then rejoins the group as a follower.
 *
 * Ticks come from the actor's timers (`tickMs` each); peers are `{ node, path }` refs, local or
 * remote alike. Membership changes (`raft.changeMembership`) grow the peers map: the leader records an
 * added node's ref from the request, and any replica records a member's ref from the sender of its
 * messages. A member with no known ref is reached at this replica's own path on the node named by its
 * id (the layout `npm start` uses). Learned refs live in memory only: after a restart they are learned
 * again the same ways. A peer message is stepped only when its sender ref (which the receiving node
 * stamps from the authenticated link, cluster/router.ts) is where the replica its body names as `from`
 * lives (host.ts `receivePeer`); a forgery is dropped with a counter (`forgedSenders`) and a
 * rate-limited log line, and never reaches the core. A replica joining a running group starts with the group's founding membership
 * (`initialMembership`) and an empty directory, and receives the log, changes included, from the
 * leader once it is added as a learner. On each node of a three-node cluster:
 *
 *   const peers = { n1: { node: 'n1', path: '/root/raft' }, n2: { node: 'n2', path: '/root/raft' }, n3: { node: 'n3', path: '/root/raft' } };
 *   await node.startChild({ id: 'raft', start: raftReplica({ id: 'n1', peers, directory: '/var/lib/troupe/raft' }),
 *     restart: 'permanent', shutdownMs: 5_000, kind: 'worker' });
 *   // from anywhere in the cluster (or through the client SDK):
 *   const client = new RaftKvClient({ clientId: 'app-1', replicas: ['n1', 'n2', 'n3'],
 *     transport: { ask: (replica, message, timeoutMs) => system.ask(peers[replica], message, { timeoutMs }) } });
 *   await client.put('user/1', 'ada');   // { ok: true, type: 'put' } once committed and applied
 */
import { InvalidArgumentError, behaviour, kernelOf, refuseUnknown, type ActorContext, type Behaviour, type Ref } from '../../runtime/index.js';
import { NodeDisk, type Disk, type StorageLimits } from '../storage/index.js';
import type { RaftConfigInput } from './core/config.js';
import type { KvLimits } from '../storage/index.js';
import type { Membership, NodeId } from './core/types.js';
import { ReplicaHost, type HostEvent } from './host.js';
import { DurableKvMachine } from './kv-machine.js';
import { metricsOf } from './replica-requests.js';
import type { RaftMetrics } from './kv-service.js';
import { isRaftMessageType } from './wire.js';

/** Options of one replica. */
export interface RaftReplicaOptions {
  /** This replica's id within the group. */
  readonly id: NodeId;
  /** Where the members of the group live, this replica included: id -> actor ref (more are learned; see above). */
  readonly peers: Readonly<Record<NodeId, Ref>>;
  /** The replica's data directory (WAL, snapshots, LevelDB state). */
  readonly directory: string;
  /** Milliseconds per logical tick (default 100: 1-2 s election timeouts with the default config). */
  readonly tickMs?: number;
  /** The group's founding membership (default: every id in `peers` is a voter). */
  readonly initialMembership?: Membership;
  /** Core settings (election and heartbeat ticks, flow control, snapshot threshold ...). */
  readonly raft?: Omit<Partial<RaftConfigInput>, 'id' | 'rng' | 'initialMembership'>;
  /** How long a client request may wait to apply before it is answered TIMEOUT (default 5000). */
  readonly requestTimeoutMs?: number;
  /** Client requests and reads waiting at once; more are refused BUSY (default 10000). */
  readonly pendingRequestsMax?: number;
  /** The disk under the WAL and snapshots (default: the real file system). */
  readonly disk?: Disk;
  readonly storageLimits?: Partial<StorageLimits>;
  readonly kvLimits?: Partial<KvLimits>;
}

/** A message from the replica to itself: a timer tick, or a completion of the host's background work. */
type InternalEvent = { readonly type: 'tick' } | HostEvent;

/**
 * A message from the replica to itself. It is a class instance carrying the incarnation's token by
 * identity, so nothing decoded from the network (plain data) can pass for one, and a message from an
 * earlier incarnation is recognised and ignored.
 */
class ReplicaSignal {
  constructor(readonly token: object, readonly event: InternalEvent) {}
}

/** The replica's state; one object per incarnation. */
export interface RaftReplicaState {
  readonly options: Required<Pick<RaftReplicaOptions, 'tickMs' | 'requestTimeoutMs' | 'pendingRequestsMax'>> & RaftReplicaOptions;
  readonly incarnation: number;
  /** Identifies this incarnation's own signals. */
  readonly token: object;
  readonly host: ReplicaHost;
}

const defaults = { tickMs: 100, requestTimeoutMs: 5_000, pendingRequestsMax: 10_000 } as const;

/** The replica behaviour; run it under a supervisor (`restart: 'permanent'`). */
export function raftReplica(options: RaftReplicaOptions): Behaviour<RaftReplicaState, unknown> {
  const resolved = { ...defaults, ...options };
  if (resolved.peers[options.id] === undefined) throw new InvalidArgumentError(`raft replica ${options.id} is missing from its own peers`, { id: options.id });
  if (!Number.isSafeInteger(resolved.tickMs) || resolved.tickMs < 1) throw new InvalidArgumentError('raft replica tickMs must be a positive integer', { tickMs: resolved.tickMs });
  return behaviour<RaftReplicaState, unknown>({
    name: 'raft-replica',
    init: (ctx) => start(resolved, ctx),
    receive: (state, message, ctx) => {
      receive(state, message, ctx);
      return state;
    },
    onStop: async (state) => {
      if (state !== undefined) await state.host.close();
    },
    describe: (state) => ({ raft: metricsOf(state.host.node, state.host.requests), refusedMessages: state.host.refused, forgedSenders: state.host.forgedSenders }),
  });
}

async function start(options: RaftReplicaState['options'], ctx: ActorContext<unknown>): Promise<RaftReplicaState> {
  const token = {};
  const host = await ReplicaHost.open(
    {
      id: options.id, peers: options.peers, directory: options.directory, requestTimeoutMs: options.requestTimeoutMs, pendingRequestsMax: options.pendingRequestsMax,
      ...(options.initialMembership ? { initialMembership: options.initialMembership } : {}),
      ...(options.raft ? { raft: options.raft } : {}),
      ...(options.storageLimits ? { storageLimits: options.storageLimits } : {}),
    },
    {
      disk: options.disk ?? new NodeDisk(),
      clock: ctx.clock,
      rng: ctx.rng,
      transport: { send: (to, message) => ctx.tell(to, message) },
      openMachine: (location) => DurableKvMachine.open(location, options.kvLimits),
      // The host stops signalling once closed; a signal of an earlier incarnation is ignored by its token.
      signal: (event) => ctx.tell(ctx.self, new ReplicaSignal(token, event)),
      nonce: processNonce(ctx),
      selfPath: ctx.self.path,
    },
  );
  const state: RaftReplicaState = { options, incarnation: ctx.incarnation, token, host };
  ctx.timers.startPeriodic('raft.tick', new ReplicaSignal(token, { type: 'tick' }), options.tickMs);
  return state;
}

/**
 * Unique to this start of the replica, across process restarts: the clock's time (wall-clock based for
 * the real clock) and a draw from the kernel's Rng (randomly seeded unless a test fixes the seed).
 */
function processNonce(ctx: ActorContext<unknown>): string {
  return `${Math.floor(ctx.clock.now()).toString(36)}.${ctx.rng.int(0, 2 ** 31 - 1).toString(36)}.${ctx.incarnation}`;
}

function receive(state: RaftReplicaState, message: unknown, ctx: ActorContext<unknown>): void {
  const host = state.host;
  if (message instanceof ReplicaSignal) {
    if (message.token !== state.token) return;
    if (message.event.type === 'tick') host.tick();
    else host.handle(message.event);
    return;
  }
  const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
  if (isRaftMessageType(type)) {
    const forgedBefore = host.forgedSenders;
    const refused = host.receivePeer(message, ctx.sender, ctx.self.node);
    if (refused === null) return;
    if (host.forgedSenders > forgedBefore) {
      kernelOf(ctx).log.warn('raft.senderRefused', { replica: state.options.id, reason: refused, forgedSenders: host.forgedSenders });
    }
    ctx.deadLetter(message, refused);
    return;
  }
  if (!host.request(message, ctx.replier())) {
    // Not a replica message at all: refused (a typed reply to an ask, a dead letter for a tell) without
    // touching the replica, not even its `refused` count of malformed protocol messages.
    refuseUnknown(ctx, message, 'raft-replica');
  }
}

/** The replica's status as plain data. */
export function replicaMetrics(state: RaftReplicaState): RaftMetrics {
  return metricsOf(state.host.node, state.host.requests);
}
