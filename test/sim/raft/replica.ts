/**
 * A simulated replica host: the real RaftNode and KvStateMachine driven the way the replica actor
 * will drive them. Each Ready is written to the simulated disk and synced after a simulated delay;
 * only then are snapshots installed, entries applied, messages sent and reads served, and the node
 * advanced. The node keeps taking ticks and messages while a sync is outstanding.
 */
import type { Rng } from '../../../runtime/rng.js';
import { decodeKvRequest, decodeKvSnapshot, encodeKvRequest, encodeKvSnapshot } from '../../../actors/raft/kv-codec.js';
import { KvStateMachine, type KvCommand, type KvResult } from '../../../actors/raft/core/kv-state-machine.js';
import { RaftNode, type Ready } from '../../../actors/raft/core/node.js';
import type { RaftConfigInput } from '../../../actors/raft/core/config.js';
import type { Entry, Message, NodeId } from '../../../actors/raft/core/types.js';
import { SimDisk } from './disk.js';
import type { InvariantChecker } from './invariants.js';

/** A client's request to a replica. `mode: 'read'` serves a get or scan through ReadIndex. */
export interface ClientRequest {
  readonly clientId: string;
  readonly sequence: number;
  readonly attempt: number;
  readonly command: KvCommand;
  readonly mode: 'log' | 'read';
}

/** A replica's answer to a client. */
export type ClientReply =
  | { readonly clientId: string; readonly sequence: number; readonly attempt: number; readonly ok: true; readonly result: KvResult }
  | { readonly clientId: string; readonly sequence: number; readonly attempt: number; readonly ok: false; readonly code: string; readonly leaderHint: NodeId | null };

/** What a replica needs from the simulated world. */
export interface ReplicaWorld {
  readonly rng: Rng;
  readonly invariants: InvariantChecker;
  send(message: Message): void;
  reply(reply: ClientReply): void;
  /** Schedules the completion of this replica's outstanding disk sync. */
  scheduleSync(replica: NodeId, incarnation: number): void;
  readonly tornWriteRate: number;
}

type RaftOptions = Omit<RaftConfigInput, 'id' | 'rng'>;

/** One simulated replica process and its disk. */
export class SimReplica {
  readonly id: NodeId;
  readonly disk = new SimDisk();
  up = true;
  incarnation = 0;
  node!: RaftNode;
  machine!: KvStateMachine;
  readonly #world: ReplicaWorld;
  readonly #options: RaftOptions;
  #syncing: Ready | null = null;
  /** Clients waiting for their request to be applied here, by client id. */
  readonly #waiting = new Map<string, ClientRequest>();
  /** Reads waiting for their ReadIndex confirmation, by context. */
  readonly #reads = new Map<string, ClientRequest>();
  /** Confirmed reads waiting for the state machine to reach their index. */
  #confirmedReads: Array<{ index: number; request: ClientRequest }> = [];

  constructor(id: NodeId, options: RaftOptions, world: ReplicaWorld) {
    this.id = id;
    this.#options = options;
    this.#world = world;
    this.#start();
  }

  #start(): void {
    const { durable } = this.disk;
    this.node = new RaftNode(
      { ...this.#options, id: this.id, rng: this.#world.rng },
      { hardState: durable.hardState, snapshot: durable.snapshot, entries: durable.entries },
    );
    this.machine = durable.snapshot === null ? new KvStateMachine() : KvStateMachine.restore(decodeKvSnapshot(durable.snapshot.data));
    this.#world.invariants.started(this);
  }

  /** Whether a Ready's writes are waiting for their sync (a crash now loses them). */
  get syncing(): boolean {
    return this.#syncing !== null;
  }

  /** kill -9: everything in memory and every unsynced write is gone. */
  crash(): void {
    this.up = false;
    this.incarnation += 1;
    this.disk.crash(this.#world.rng, this.#world.tornWriteRate);
    this.#syncing = null;
    this.#waiting.clear();
    this.#reads.clear();
    this.#confirmedReads = [];
  }

  /** Starts again from what the disk holds. */
  restart(): void {
    this.up = true;
    this.#start();
    this.pump();
  }

  tick(): void {
    this.node.tick();
    this.pump();
  }

  receive(message: Message): void {
    this.node.step(message);
    this.pump();
  }

  /** A client request: proposals go through the log, reads through ReadIndex. */
  request(request: ClientRequest): void {
    const refuse = (code: string, leaderHint: NodeId | null): void =>
      this.#world.reply({ clientId: request.clientId, sequence: request.sequence, attempt: request.attempt, ok: false, code, leaderHint });
    if (request.mode === 'read') {
      const context = `${request.clientId}/${request.sequence}/${request.attempt}`;
      const result = this.node.readIndex(context);
      if (!result.ok) refuse(result.code, result.code === 'NOT_LEADER' ? result.leaderHint : null);
      else this.#reads.set(context, request);
    } else {
      const data = encodeKvRequest({ clientId: request.clientId, sequence: request.sequence, command: request.command });
      const result = this.node.propose(data);
      if (!result.ok) refuse(result.code, result.code === 'NOT_LEADER' ? result.leaderHint : null);
      else this.#waiting.set(request.clientId, request);
    }
    this.pump();
  }

  /** Takes the next Ready, if any, and writes it; the sync completes in a later event. */
  pump(): void {
    if (!this.up || this.#syncing !== null || !this.node.hasReady()) return;
    const ready = this.node.ready();
    this.#world.invariants.readyTaken(this, ready);
    // Thesis 10.2.1: the leader's own traffic goes out while its disk write is still in flight.
    for (const message of ready.leaderMessages) this.#world.send(message);
    this.disk.write({ snapshot: ready.snapshot, entries: ready.entries, hardState: ready.hardState });
    this.#syncing = ready;
    this.#world.scheduleSync(this.id, this.incarnation);
  }

  /** The disk sync of the outstanding Ready completed: carry out the rest of it. */
  synced(incarnation: number): void {
    const ready = this.#syncing;
    if (!this.up || incarnation !== this.incarnation || ready === null) return;
    this.#syncing = null;
    this.disk.sync();
    this.#world.invariants.synced(this);
    if (ready.snapshot !== null) {
      this.machine = KvStateMachine.restore(decodeKvSnapshot(ready.snapshot.data));
      this.#world.invariants.snapshotInstalled(this, ready.snapshot);
    }
    for (const entry of ready.committedEntries) this.#apply(entry);
    for (const message of ready.messages) this.#world.send(message);
    for (const state of ready.readStates) {
      const request = this.#reads.get(state.context);
      if (request === undefined) continue;
      this.#reads.delete(state.context);
      this.#confirmedReads.push({ index: state.index, request });
    }
    this.node.advance();
    this.#serveReads();
    if (ready.snapshotDue !== null && this.machine.appliedIndex === ready.snapshotDue) this.#snapshot(ready.snapshotDue);
    this.pump();
  }

  #apply(entry: Entry): void {
    if (entry.type !== 'normal' || entry.data.byteLength === 0) {
      this.machine.skip(entry.index);
      this.#world.invariants.applied(this, entry, null);
      return;
    }
    const decoded = decodeKvRequest(entry.data);
    if (!decoded.ok) throw new Error(`replica ${this.id}: undecodable entry ${entry.index}: ${decoded.reason}`);
    const { request } = decoded;
    const outcome = this.machine.apply(entry.index, request);
    this.#world.invariants.applied(this, entry, { request, outcome });
    const waiting = this.#waiting.get(request.clientId);
    if (waiting !== undefined && waiting.sequence === request.sequence) {
      this.#waiting.delete(request.clientId);
      this.#world.reply({ clientId: waiting.clientId, sequence: waiting.sequence, attempt: waiting.attempt, ok: true, result: outcome.result });
    }
  }

  #serveReads(): void {
    if (this.#confirmedReads.length === 0) return;
    const ready = this.#confirmedReads.filter((read) => read.index <= this.machine.appliedIndex);
    this.#confirmedReads = this.#confirmedReads.filter((read) => read.index > this.machine.appliedIndex);
    for (const { request } of ready) {
      const command = request.command;
      if (command.type !== 'get' && command.type !== 'scan') throw new Error('only gets and scans are served by ReadIndex');
      this.#world.reply({ clientId: request.clientId, sequence: request.sequence, attempt: request.attempt, ok: true, result: this.machine.read(command) });
    }
  }

  #snapshot(index: number): void {
    const snapshot = this.node.compact(index, encodeKvSnapshot(this.machine.snapshot()));
    if (snapshot === null) return;
    this.disk.saveSnapshot(snapshot);
    this.#world.invariants.snapshotTaken(this, snapshot);
  }
}
