/**
 * The Raft replica actor: the shell that hosts the pure core (core/node.ts) and the replicated KV
 * service on one node. It makes no protocol decisions; it carries out each Ready in the order the
 * Ready/Advance contract requires:
 *
 *   1. persist the Ready's snapshot, entries and hard state to the WAL and wait for the fsync
 *      (durable-log.ts);
 *   2. only then send its messages (votes and acknowledgements promise what step 1 made durable);
 *   3. install its snapshot into and apply its committed entries to the LevelDB state machine
 *      (kv-machine.ts), exactly once through the applied index, and answer the clients waiting on them;
 *   4. serve the reads ReadIndex confirmed once the state machine reached their index;
 *   5. advance the core, and snapshot and compact when the core asks for it.
 *
 * Disk and LevelDB work runs off the mailbox: the actor keeps stepping peer messages, ticks and
 * proposals while a Ready is being written, so proposals that arrive during one fsync share the next
 * (group commit). Results come back as signals tagged with the incarnation, and one from an earlier
 * incarnation is ignored. A failed write or apply crashes the actor; its supervisor restarts it, and
 * `init` recovers from the WAL and the newest snapshot, then rejoins the group as a follower.
 *
 * Ticks come from the actor's timers (`tickMs` each); peers are `{ node, path }` refs, local or
 * remote alike. Membership changes (`raft.changeMembership`) grow the peers map: the leader records an
 * added node's ref from the request, and any replica records a member's ref from the sender of its
 * messages. A member with no known ref is reached at this replica's own path on the node named by its
 * id (the layout `npm start` uses). Learned refs live in memory only: after a restart they are learned
 * again the same ways. A replica joining a running group starts with the group's founding membership
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
import * as path from 'node:path';
import { InvalidArgumentError, behaviour, refuseUnknown, type ActorContext, type Behaviour, type Ref } from '../../runtime/index.js';
import { SnapshotWriter, type Disk, type StorageLimits } from '../storage/index.js';
import type { RaftConfigInput } from './core/config.js';
import type { KvLimits } from './core/kv-state-machine.js';
import { RaftNode, type Ready } from './core/node.js';
import type { Membership, NodeId } from './core/types.js';
import { DurableLog, RaftLogCorruptError } from './durable-log.js';
import { DurableKvMachine, type AppliedEntry } from './kv-machine.js';
import { metricsOf, ReplicaRequests } from './replica-requests.js';
import type { RaftMetrics } from './kv-service.js';
import { SerialQueue } from './serial-queue.js';
import { checkMessage, isRaftMessageType } from './wire.js';

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

/** What the replica tells itself: timer ticks and the outcome of its background disk work. */
type InternalEvent =
  | { readonly type: 'tick' }
  | { readonly type: 'readyDone'; readonly applied: readonly AppliedEntry[] }
  | { readonly type: 'snapshotTaken'; readonly index: number; readonly data: Uint8Array }
  | { readonly type: 'jobFailed'; readonly error: unknown };

/**
 * A message from the replica to itself. It is a class instance carrying the incarnation's token by
 * identity, so nothing decoded from the network (plain data) can pass for one, and a message from an
 * earlier incarnation is recognised and ignored.
 */
class ReplicaSignal {
  constructor(readonly token: object, readonly event: InternalEvent) {}
}

/** The replica's state; one object per incarnation, changed in place. */
export interface RaftReplicaState {
  readonly options: Required<Pick<RaftReplicaOptions, 'tickMs' | 'requestTimeoutMs' | 'pendingRequestsMax'>> & RaftReplicaOptions;
  readonly incarnation: number;
  /** Identifies this incarnation's own signals. */
  readonly token: object;
  readonly node: RaftNode;
  readonly log: DurableLog;
  readonly machine: DurableKvMachine;
  /** Every LevelDB operation, in order. */
  readonly kv: SerialQueue;
  readonly requests: ReplicaRequests;
  /** Where each known replica lives: the configured peers plus those learned since this incarnation began. */
  readonly peers: Record<NodeId, Ref>;
  /** The Ready being written and applied, if any. */
  inFlight: Ready | null;
  /** A snapshot of the state machine is being written; no Ready is taken meanwhile. */
  snapshotting: boolean;
  /** Background work (persist, apply, snapshot), awaited when the incarnation ends. */
  jobs: Set<Promise<void>>;
  stopped: boolean;
  /** Raft protocol messages dropped because they were malformed or addressed to no known replica (unknown message types are refused, not counted). */
  refused: number;
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
      if (state !== undefined) await stop(state);
    },
    describe: (state) => ({ raft: metricsOf(state.node, state.requests), refusedMessages: state.refused }),
  });
}

async function start(options: RaftReplicaState['options'], ctx: ActorContext<unknown>): Promise<RaftReplicaState> {
  const disk = options.disk;
  const { log, recovered } = await DurableLog.open({ directory: options.directory, ...(disk ? { disk } : {}), ...(options.storageLimits ? { limits: options.storageLimits } : {}) });
  let machine: DurableKvMachine | undefined;
  try {
    machine = await DurableKvMachine.open(path.join(options.directory, 'kv'), options.kvLimits);
    const snapshotIndex = recovered.snapshot?.meta.index ?? 0;
    if (machine.needsRestore || machine.appliedIndex < snapshotIndex) {
      if (recovered.snapshot === null) throw new RaftLogCorruptError('the state machine was mid-restore but the log has no snapshot');
      await machine.restore(log.disk, log.snapshotPath(snapshotIndex), snapshotIndex);
    }
    const lastIndex = recovered.entries[recovered.entries.length - 1]?.index ?? snapshotIndex;
    if (machine.appliedIndex > lastIndex) {
      throw new RaftLogCorruptError(`the state machine applied ${machine.appliedIndex}, beyond the log's last entry ${lastIndex}`);
    }
    // Applied entries are committed, so commit is at least the applied index even when the commit-only
    // hard state was never synced (durable-log.ts).
    const hardState = { ...recovered.hardState, commit: Math.max(recovered.hardState.commit, machine.appliedIndex) };
    const config: RaftConfigInput = {
      ...options.raft,
      id: options.id,
      rng: ctx.rng,
      initialMembership: options.initialMembership ?? { voters: Object.keys(options.peers).sort(), learners: [] },
    };
    const node = new RaftNode(config, { hardState, snapshot: recovered.snapshot, entries: recovered.entries, appliedIndex: machine.appliedIndex });
    const peers: Record<NodeId, Ref> = { ...options.peers };
    const state: RaftReplicaState = {
      options, incarnation: ctx.incarnation, token: {}, node, log, machine, kv: new SerialQueue(), peers,
      requests: new ReplicaRequests({ ...options, peers }),
      inFlight: null, snapshotting: false, jobs: new Set(), stopped: false, refused: 0,
    };
    ctx.timers.startPeriodic('raft.tick', new ReplicaSignal(state.token, { type: 'tick' }), options.tickMs);
    pump(state, ctx);
    return state;
  } catch (error) {
    await machine?.close();
    await log.close();
    throw error;
  }
}

async function stop(state: RaftReplicaState): Promise<void> {
  state.stopped = true;
  state.requests.failAll();
  await Promise.allSettled([...state.jobs]);
  await state.kv.idle();
  await state.log.close();
  await state.machine.close();
}

function receive(state: RaftReplicaState, message: unknown, ctx: ActorContext<unknown>): void {
  if (message instanceof ReplicaSignal) {
    if (message.token === state.token) receiveInternal(state, message.event, ctx);
    return;
  }
  const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
  if (isRaftMessageType(type)) return stepPeerMessage(state, message, ctx);
  if (!state.requests.handle(state, message, ctx)) {
    // Not a replica message at all: refused (a typed reply to an ask, a dead letter for a tell) without
    // touching the replica, not even its `refused` count of malformed protocol messages.
    refuseUnknown(ctx, message, 'raft-replica');
    return;
  }
  pump(state, ctx);
}

function stepPeerMessage(state: RaftReplicaState, value: unknown, ctx: ActorContext<unknown>): void {
  const checked = checkMessage(value);
  if (!checked.ok || checked.message.to !== state.options.id || !isKnownPeer(state, checked.message.from) || checked.message.from === state.options.id) {
    state.refused += 1;
    ctx.deadLetter(value, checked.ok ? 'raft message for another replica or from an unknown one' : `malformed raft message: ${checked.reason}`);
    return;
  }
  // A member added after this replica started: answer it where it sent from.
  const from = checked.message.from;
  if (state.peers[from] === undefined && ctx.sender !== undefined) state.peers[from] = ctx.sender;
  state.node.step(checked.message);
  pump(state, ctx);
}

/** A configured or learned peer, or a member of the membership in force (added since this replica started). */
function isKnownPeer(state: RaftReplicaState, id: NodeId): boolean {
  if (state.peers[id] !== undefined) return true;
  const { voters, learners } = state.node.status().membership;
  return voters.includes(id) || learners.includes(id);
}

/** Where to send to `id`: its known ref, or this replica's path on the node named `id`. */
function peerRef(state: RaftReplicaState, id: NodeId, ctx: ActorContext<unknown>): Ref {
  return state.peers[id] ?? { node: id, path: ctx.self.path };
}

function receiveInternal(state: RaftReplicaState, event: InternalEvent, ctx: ActorContext<unknown>): void {
  switch (event.type) {
    case 'tick': {
      state.node.tick();
      // A leader that stepped down without a new term (check-quorum) may produce no Ready to notice it by.
      const status = state.node.status();
      if (status.role !== 'leader') state.requests.leadershipLost(status.leader);
      state.requests.expire(ctx.clock.now());
      return pump(state, ctx);
    }
    case 'jobFailed':
      // The disk or the state machine failed: crash, and let recovery start again from what is durable.
      throw event.error;
    case 'readyDone':
      return readyDone(state, event.applied, ctx);
    case 'snapshotTaken':
      return snapshotTaken(state, event.index, event.data, ctx);
  }
}

/** Sends the replica a signal from its background work (dropped once the incarnation has ended). */
function signal(state: RaftReplicaState, ctx: ActorContext<unknown>, event: InternalEvent): void {
  if (!state.stopped) ctx.tell(ctx.self, new ReplicaSignal(state.token, event));
}

/** Takes the next Ready, if the previous one is done, and starts writing it. */
function pump(state: RaftReplicaState, ctx: ActorContext<unknown>): void {
  if (state.stopped || state.inFlight !== null || state.snapshotting || !state.node.hasReady()) return;
  const ready = state.node.ready();
  state.inFlight = ready;
  if (ready.role === 'leader') state.requests.leading();
  else state.requests.leadershipLost(ready.leader);
  background(state, ctx, async () => {
    await state.log.persist({ snapshot: ready.snapshot, entries: ready.entries, hardState: ready.hardState });
    if (state.stopped) return;
    for (const message of ready.messages) ctx.tell(peerRef(state, message.to, ctx), message);
    const applied = await state.kv.run(async () => {
      if (ready.snapshot !== null) {
        const index = ready.snapshot.meta.index;
        await state.machine.restore(state.log.disk, state.log.snapshotPath(index), index);
      }
      return state.machine.apply(ready.committedEntries);
    });
    signal(state, ctx, { type: 'readyDone', applied });
  });
}

function readyDone(state: RaftReplicaState, applied: readonly AppliedEntry[], ctx: ActorContext<unknown>): void {
  const ready = state.inFlight;
  if (ready === null) return;
  state.inFlight = null;
  state.requests.applied(applied);
  state.requests.changesCommitted(ready.committedEntries, state);
  state.requests.readsConfirmed(ready.readStates);
  state.node.advance();
  state.requests.serveReads(state, (error) => signal(state, ctx, { type: 'jobFailed', error }));
  const due = ready.snapshotDue;
  if (due !== null && state.machine.appliedIndex >= due) takeSnapshot(state, ctx);
  pump(state, ctx);
}

/** Writes the state machine to a snapshot file while no Ready is in flight (so it holds exactly the applied index). */
function takeSnapshot(state: RaftReplicaState, ctx: ActorContext<unknown>): void {
  state.snapshotting = true;
  background(state, ctx, async () => {
    const taken = await state.kv.run(async () => {
      const writer = await SnapshotWriter.create(state.log.disk, state.log.snapshotDirectory);
      try {
        const index = await state.machine.writeSnapshot(writer);
        await writer.finish();
        return { index, data: await state.log.disk.readFile(state.log.snapshotPath(index)) };
      } catch (error) {
        await writer.abort();
        throw error;
      }
    });
    signal(state, ctx, { type: 'snapshotTaken', ...taken });
  });
}

function snapshotTaken(state: RaftReplicaState, index: number, data: Uint8Array, ctx: ActorContext<unknown>): void {
  state.snapshotting = false;
  const snapshot = state.node.compact(index, data);
  // Null: a snapshot from the leader superseded this one; its file is removed with the next compaction.
  if (snapshot !== null) background(state, ctx, () => state.log.compacted(snapshot));
  pump(state, ctx);
}

/** Runs disk work off the mailbox; a failure is reported to the actor, which crashes on it. */
function background(state: RaftReplicaState, ctx: ActorContext<unknown>, work: () => Promise<void>): void {
  // After the incarnation ended a failure has nowhere to go: the next incarnation recovers from disk.
  const job: Promise<void> = work().catch((error: unknown) => signal(state, ctx, { type: 'jobFailed', error }));
  state.jobs.add(job);
  void job.finally(() => state.jobs.delete(job));
}

/** The replica's status as plain data. */
export function replicaMetrics(state: RaftReplicaState): RaftMetrics {
  return metricsOf(state.node, state.requests);
}
