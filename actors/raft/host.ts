/**
 * The replica host: everything one Raft replica does except being an actor. It feeds the pure core
 * (core/node.ts) its inputs and carries out each Ready in the order the Ready/Advance contract
 * requires, over injected interfaces, so that the nact shell (actor.ts) and the deterministic
 * simulation (test/sim/raft-host/) run the same code:
 *
 *   - `Disk` (actors/storage/disk.ts): the WAL and snapshots (durable-log.ts), the real file system or
 *     the simulated disk with its crashes and torn writes;
 *   - `ReplicaTransport`: sends a raft message to a peer's ref (the actor system, or a simulated network);
 *   - `Clock` and `Rng` (runtime): deadlines, the core's randomness and the read-id nonce;
 *   - `ReplicaMachine`: the state machine, opened by a factory the host is given (LevelDB today,
 *     an in-memory engine in the simulation);
 *   - `signal`: how the host's background work reports back, in the host's own order (the actor's
 *     mailbox; the simulation's event queue). Nothing outside a call into the host changes its state.
 *
 * Each Ready, in order:
 *   1. the leader's own traffic goes out at once (Raft thesis 10.2.1: the leader writes its log in
 *      parallel with replicating it, and counts itself toward commit only once its write is durable),
 *      unless the Ready only commits and applies: then it goes out in step 5, after the replies
 *      (`sendsLeaderMessagesFirst`);
 *   2. its snapshot, entries and hard state are written and synced;
 *   3. only then its other messages are sent (votes and acknowledgements promise what step 2 made durable);
 *   4. its snapshot is installed and its committed entries applied, exactly once through the applied index
 *      (the machine may write their effects to its own storage after answering: `flushed`);
 *   5. the core is advanced (which reports the leader's own log durable), waiting clients are answered
 *      and confirmed reads served, and the state machine is snapshotted when the core asks for it.
 * Disk and state-machine work runs in the background: the host keeps stepping messages, ticks and
 * proposals while a Ready is written, so proposals that arrive during one fsync share the next.
 */
import * as path from 'node:path';
import type { Clock, Ref, Rng } from '../../runtime/index.js';
import { SnapshotWriter, type Disk, type StorageLimits } from '../storage/index.js';
import type { RaftConfigInput } from './core/config.js';
import type { KvLimits } from '../storage/index.js';
import type { KvAppliedResult, KvRequest } from './core/kv-state-machine.js';
import { LeaseClock } from './core/lease-clock.js';
import { RaftNode, type Ready } from './core/node.js';
import type { Entry, Membership, Message, NodeId } from './core/types.js';
import { DurableLog, RaftLogCorruptError } from './durable-log.js';
import type { AppliedEntry } from './kv-machine.js';
import { ReplicaRequests, type Reply } from './replica-requests.js';
import { leasesApplied, proposeExpiredLeases } from './replica-leases.js';
import type { KvWatchPoll, KvWatchReply } from './kv-watch.js';
import { SerialQueue } from './serial-queue.js';
import { checkMessage } from './wire.js';

/** Sends raft messages to peers. At-most-once; the core retransmits what matters. */
export interface ReplicaTransport {
  send(to: Ref, message: Message): void;
}

/** The replicated state machine as the host drives it (DurableKvMachine is one). */
export interface ReplicaMachine {
  readonly limits: KvLimits;
  /** Index of the last entry applied (0: none). */
  readonly appliedIndex: number;
  /** Whether a snapshot restore was interrupted: the host restores again before use. */
  readonly needsRestore: boolean;
  /**
   * Applies committed entries in order, skipping those at or below the applied index; resolves with
   * their results. The machine may keep their effects in memory and write them to its own storage
   * later (the log is durable, and recovery replays from the machine's stored applied index).
   */
  apply(entries: readonly Entry[]): Promise<AppliedEntry[]>;
  /** Resolves once everything applied so far is in the machine's own storage; rejects if writing it failed. */
  flushed(): Promise<void>;
  /** Serves a read-only request (after ReadIndex). */
  read(request: KvRequest): Promise<KvAppliedResult>;
  /** The events a watch poll asks for, from the applied event log. */
  watch(poll: KvWatchPoll): Promise<KvWatchReply>;
  /** Every live lease with its TTL. */
  leases(): Promise<Array<{ id: number; ttlMs: number }>>;
  /** Writes the whole state into `writer`; returns the index it covers. */
  writeSnapshot(writer: SnapshotWriter): Promise<number>;
  /** Replaces the whole state with the snapshot file at `filePath` on `disk`. */
  restore(disk: Disk, filePath: string, index: number): Promise<void>;
  digest(): Promise<{ digest: string; appliedIndex: number; keys: number }>;
  close(): Promise<void>;
}

/** What the host's background work reports. */
export type HostEvent =
  | { readonly type: 'readyDone'; readonly applied: readonly AppliedEntry[]; readonly leases?: ReadonlyArray<{ id: number; ttlMs: number }> }
  | { readonly type: 'snapshotTaken'; readonly index: number; readonly data: Uint8Array }
  | { readonly type: 'jobFailed'; readonly error: unknown };

/** The world a host runs in. */
export interface HostEnvironment {
  readonly disk: Disk;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly transport: ReplicaTransport;
  /** Opens this replica's state machine (its files under `directory`, if it keeps any). */
  readonly openMachine: (directory: string) => Promise<ReplicaMachine>;
  /** Delivers a background completion back to the host, through `handle`, in the host's own order. */
  readonly signal: (event: HostEvent) => void;
  /** Unique to this start of the process (the read-id nonce; see core/requests.ts). */
  readonly nonce: string;
  /** The path of the replica on every node, for members with no known ref. */
  readonly selfPath: string;
}

/** Options of one replica host. */
export interface HostOptions {
  readonly id: NodeId;
  /** Where the members of the group live, this replica included: id -> ref (more are learned as they speak). */
  readonly peers: Readonly<Record<NodeId, Ref>>;
  /** The replica's data directory on the disk (WAL, snapshots; the machine's own files under `kv`). */
  readonly directory: string;
  readonly initialMembership?: Membership;
  readonly raft?: Omit<Partial<RaftConfigInput>, 'id' | 'rng' | 'initialMembership'>;
  /** How long a client request may wait before it is answered TIMEOUT. */
  readonly requestTimeoutMs: number;
  /** Client requests and reads waiting at once; more are refused BUSY. */
  readonly pendingRequestsMax: number;
  readonly storageLimits?: Partial<StorageLimits>;
}

/** One running replica. Create with `ReplicaHost.open`; end with `close`. */
export class ReplicaHost {
  readonly options: HostOptions;
  readonly node: RaftNode;
  readonly log: DurableLog;
  readonly machine: ReplicaMachine;
  readonly requests: ReplicaRequests;
  /** Where each known replica lives: the configured peers plus those learned since this start. */
  readonly peers: Record<NodeId, Ref>;
  /** Every state-machine operation, in order. */
  readonly kv = new SerialQueue();
  /** Lease expiry on this replica's clock (acted on while it leads). */
  readonly leases = new LeaseClock();
  readonly #environment: HostEnvironment;
  /** The Ready being written and applied, if any. */
  #inFlight: Ready | null = null;
  /** A snapshot of the state machine is being written; no Ready is taken meanwhile. */
  #snapshotting = false;
  readonly #jobs = new Set<Promise<void>>();
  #stopped = false;
  /** Messages dropped because they were malformed, from no known replica, or forged. */
  refused = 0;
  /** Of those, messages whose body named a replica other than the one that sent them. */
  forgedSenders = 0;

  private constructor(options: HostOptions, environment: HostEnvironment, parts: { node: RaftNode; log: DurableLog; machine: ReplicaMachine }) {
    this.options = options;
    this.#environment = environment;
    this.node = parts.node;
    this.log = parts.log;
    this.machine = parts.machine;
    this.peers = { ...options.peers };
    this.requests = new ReplicaRequests(this, { id: options.id, nonce: environment.nonce, requestTimeoutMs: options.requestTimeoutMs, pendingRequestsMax: options.pendingRequestsMax });
  }

  /** Recovers the replica from its disk (WAL, newest snapshot, state machine) and starts it as a follower. */
  static async open(options: HostOptions, environment: HostEnvironment): Promise<ReplicaHost> {
    const { log, recovered } = await DurableLog.open({ directory: options.directory, disk: environment.disk, ...(options.storageLimits ? { limits: options.storageLimits } : {}) });
    let machine: ReplicaMachine | undefined;
    try {
      machine = await environment.openMachine(path.join(options.directory, 'kv'));
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
        rng: environment.rng,
        initialMembership: options.initialMembership ?? { voters: Object.keys(options.peers).sort(), learners: [] },
      };
      const node = new RaftNode(config, { hardState, snapshot: recovered.snapshot, entries: recovered.entries, appliedIndex: machine.appliedIndex });
      const host = new ReplicaHost(options, environment, { node, log, machine });
      host.leases.load(await machine.leases(), environment.clock.now());
      host.pump();
      return host;
    } catch (error) {
      await machine?.close();
      await log.close();
      throw error;
    }
  }

  get id(): NodeId { return this.options.id; }

  /** Whether a Ready is being written or applied (a crash now may lose its unsynced writes). */
  get busy(): boolean { return this.#inFlight !== null || this.#snapshotting; }

  /** Ends this start: answers every waiting client TIMEOUT, waits for background work, closes the files. */
  async close(): Promise<void> {
    this.#stopped = true;
    this.requests.failAll();
    await Promise.allSettled([...this.#jobs]);
    await this.kv.idle();
    await this.log.close();
    await this.machine.close();
  }

  /** One logical tick: elections, heartbeats, and the deadlines of waiting clients. */
  tick(): void {
    this.node.tick();
    const nowMs = this.#environment.clock.now();
    this.requests.expire(nowMs);
    // Leases: expiry is the leader's decision, carried out through the log.
    if (this.node.status().role !== 'leader') this.leases.follow();
    else proposeExpiredLeases(this.leases, this.node, nowMs);
    this.pump();
  }

  /**
   * A raft message from a peer, as decoded from the network, and the ref it came from (if known).
   * Returns null when taken, or why it was refused (malformed, from or for no known replica, or sent
   * by another replica than its `from` names).
   */
  receivePeer(value: unknown, sender: Ref | undefined, localNode?: string): string | null {
    const checked = checkMessage(value);
    if (!checked.ok) return this.#refuse(`malformed raft message: ${checked.reason}`);
    const message = checked.message;
    if (message.to !== this.id || message.from === this.id || !this.#isKnownPeer(message.from)) {
      return this.#refuse('raft message for another replica or from an unknown one');
    }
    if (!this.#sentBy(message.from, sender, localNode)) {
      // The body's `from` is a claim; the sender ref is what the node vouches for (stamped from the
      // authenticated link for a remote sender, cluster/router.ts). A mismatch is a forgery.
      this.forgedSenders += 1;
      return this.#refuse(`raft message claiming ${message.from} from ${sender === undefined ? 'no sender' : `${sender.node}:${sender.path}`}`);
    }
    // A member added after this replica started: answer it where it sent from.
    if (this.peers[message.from] === undefined && sender !== undefined) this.peers[message.from] = sender;
    this.node.step(message);
    this.pump();
    return null;
  }

  /** A client or operator request; returns false when the message is not one. */
  request(message: unknown, reply: Reply): boolean {
    const handled = this.requests.handle(message, reply, this.#environment.clock.now());
    if (handled) this.pump();
    return handled;
  }

  /** A background completion reported through `signal`. Throws on a failed write or apply: the replica must stop. */
  handle(event: HostEvent): void {
    switch (event.type) {
      case 'jobFailed':
        // The disk or the state machine failed: stop, and let recovery start again from what is durable.
        throw event.error;
      case 'readyDone':
        if (event.leases !== undefined) this.leases.load(event.leases, this.#environment.clock.now());
        leasesApplied(this.leases, event.applied, this.#environment.clock.now());
        return this.#readyDone(event.applied);
      case 'snapshotTaken':
        return this.#snapshotTaken(event.index, event.data);
    }
  }

  /** Where to send to `id`: its known ref, or this replica's path on the node named `id`. */
  peerRef(id: NodeId): Ref {
    return this.peers[id] ?? { node: id, path: this.#environment.selfPath };
  }

  /** Takes the next Ready, if the previous one is done, and starts carrying it out. */
  pump(): void {
    if (this.#stopped || this.#inFlight !== null || this.#snapshotting || !this.node.hasReady()) return;
    const ready = this.node.ready();
    this.#inFlight = ready;
    if (ready.softState !== null) this.requests.softState(ready.softState.role, ready.softState.leader);
    if (ready.softState !== null) {
      if (ready.softState.role === 'leader') this.leases.lead(this.#environment.clock.now());
      else this.leases.follow();
    }
    if (sendsLeaderMessagesFirst(ready)) this.#send(ready.leaderMessages);
    this.#background(async () => {
      // Committed entries that earlier Readies already made durable here apply while this one is written
      // (a crash then leaves the applied index within the durable log); others wait for the write.
      const apply = (): Promise<{ applied: AppliedEntry[]; leases?: Array<{ id: number; ttlMs: number }> }> => this.kv.run(async () => {
        if (ready.snapshot === null) return { applied: await this.machine.apply(ready.committedEntries) };
        const index = ready.snapshot.meta.index;
        await this.machine.restore(this.log.disk, this.log.snapshotPath(index), index);
        const leases = await this.machine.leases();
        return { applied: await this.machine.apply(ready.committedEntries), leases };
      });
      const early = appliesBeforePersist(ready) ? apply() : null;
      // Awaited below; a failure of it fails this job like any other.
      early?.catch(() => undefined);
      await this.log.persist({ snapshot: ready.snapshot, entries: ready.entries, hardState: ready.hardState });
      if (this.#stopped) return;
      this.#send(ready.messages);
      const { applied, leases } = await (early ?? apply());
      this.#signal({ type: 'readyDone', applied, ...(leases === undefined ? {} : { leases }) });
      // Clients are answered from the applied results while the machine writes them down; a failed
      // write fails this job, which stops the replica (recovery replays from what the machine stored).
      if (applied.length > 0) await this.machine.flushed();
    });
  }

  #send(messages: readonly Message[]): void {
    for (const message of messages) this.#environment.transport.send(this.peerRef(message.to), message);
  }

  #readyDone(applied: readonly AppliedEntry[]): void {
    const ready = this.#inFlight;
    if (ready === null) return;
    this.#inFlight = null;
    this.requests.applied(applied);
    if (!sendsLeaderMessagesFirst(ready)) this.#send(ready.leaderMessages);
    this.requests.committed(ready.committedEntries);
    this.requests.readsConfirmed(ready.readStates);
    this.node.advance();
    this.requests.serveReads();
    const due = ready.snapshotDue;
    if (due !== null && this.machine.appliedIndex >= due) this.#takeSnapshot();
    this.pump();
  }

  /** Writes the state machine to a snapshot file while no Ready is in flight (so it holds exactly the applied index). */
  #takeSnapshot(): void {
    this.#snapshotting = true;
    this.#background(async () => {
      const taken = await this.kv.run(async () => {
        const writer = await SnapshotWriter.create(this.log.disk, this.log.snapshotDirectory);
        try {
          const index = await this.machine.writeSnapshot(writer);
          await writer.finish();
          return { index, data: await this.log.disk.readFile(this.log.snapshotPath(index)) };
        } catch (error) {
          await writer.abort();
          throw error;
        }
      });
      this.#signal({ type: 'snapshotTaken', ...taken });
    });
  }

  #snapshotTaken(index: number, data: Uint8Array): void {
    this.#snapshotting = false;
    const snapshot = this.node.compact(index, data);
    // Null: a snapshot from the leader superseded this one; its file is removed with the next compaction.
    if (snapshot !== null) this.#background(() => this.log.compacted(snapshot));
    this.pump();
  }

  /** A read's state-machine work, in order with applies; a failure stops the replica. */
  runRead<T>(work: () => Promise<T>): Promise<T> {
    const result = this.kv.run(work);
    result.catch((error: unknown) => this.#signal({ type: 'jobFailed', error }));
    return result;
  }

  /** Runs disk work in the background; a failure is reported through `signal`, and the host stops on it. */
  #background(work: () => Promise<void>): void {
    // After this start ended a failure has nowhere to go: the next start recovers from disk.
    const job: Promise<void> = work().catch((error: unknown) => this.#signal({ type: 'jobFailed', error }));
    this.#jobs.add(job);
    void job.finally(() => this.#jobs.delete(job));
  }

  #signal(event: HostEvent): void {
    if (!this.#stopped) this.#environment.signal(event);
  }

  #refuse(reason: string): string {
    this.refused += 1;
    return reason;
  }

  /**
   * True when `sender` is where replica `id` lives: its known ref, or, for a member not yet known by
   * ref, the node named `id` or this replica's own node (`localNode`: a group hosted in one process;
   * remote senders are never stamped with this node's name, since a node refuses links from itself).
   * Messages without a sender (client traffic) never pass.
   */
  #sentBy(id: NodeId, sender: Ref | undefined, localNode: string | undefined): boolean {
    if (sender === undefined) return false;
    const known = this.peers[id];
    if (known !== undefined) return known.node === sender.node && known.path === sender.path;
    return sender.node === id || (localNode !== undefined && sender.node === localNode);
  }

  /** A configured or learned peer, or a member of the membership in force (added since this replica started). */
  #isKnownPeer(id: NodeId): boolean {
    if (this.peers[id] !== undefined) return true;
    const { voters, learners } = this.node.status().membership;
    return voters.includes(id) || learners.includes(id);
  }
}

/**
 * Whether a Ready's `leaderMessages` go out as soon as it is taken (step 1 above): when it writes
 * entries or a snapshot (replication runs in parallel with the leader's own write), or has nothing to
 * apply. A Ready that only commits and applies sends them once its clients are answered instead: its
 * appends and heartbeats carry the new commit index to the followers, which no client waits for, and
 * any message may be delayed.
 */
export function sendsLeaderMessagesFirst(ready: Ready): boolean {
  return ready.entries.length > 0 || ready.snapshot !== null || ready.committedEntries.length === 0;
}

/**
 * Whether a Ready's committed entries may be applied while its writes are still going to disk: no
 * snapshot to install first, and every committed entry below the first entry this Ready writes (so
 * an earlier Ready made it durable, and a crash cannot leave the machine ahead of the log).
 */
export function appliesBeforePersist(ready: Ready): boolean {
  if (ready.snapshot !== null || ready.committedEntries.length === 0) return false;
  const firstWritten = ready.entries[0]?.index ?? Infinity;
  return ready.committedEntries[ready.committedEntries.length - 1]!.index < firstWritten;
}
