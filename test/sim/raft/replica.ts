/**
 * The core simulation's replica: the real RaftNode, KvStateMachine and request table
 * (core/requests.ts, which decides every answer a waiting client gets, as in the production host),
 * with Ready execution reduced to a synchronous harness so thousands of runs fit in a CI batch. Each
 * Ready's leader traffic goes out at once (thesis 10.2.1); its writes go to the simulated disk and
 * sync after a simulated delay; only then are snapshots installed, entries applied, the other
 * messages sent and reads served, and the node advanced. The production host itself (host.ts, with
 * its WAL and the real client) runs in host-simulation.ts.
 */
import type { Rng } from '../../../runtime/rng.js';
import { decodeKvRequest, decodeKvSnapshot, encodeKvRequest, encodeKvSnapshot } from '../../../actors/raft/kv-codec.js';
import type { KvAppliedResult } from '../../../actors/raft/core/kv-state-machine.js';
import { KvStateMachine } from '../../../actors/raft/kv-machine.js';
import { textCommand, textResult, type KvTextCommand as KvCommand, type KvTextResult as KvResult } from '../../../actors/raft/kv-text.js';

/** Watch history kept by each simulated replica: snapshots carry it, and this simulation keeps every snapshot it takes in memory. */
const machineLimits = { eventsKeptMax: 16 } as const;
import { RaftNode, type Ready } from '../../../actors/raft/core/node.js';
import { RequestTable, type RequestAnswer } from '../../../actors/raft/core/requests.js';
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
  /** The clients waiting here, as the production host keeps them; a new one per start. */
  #requests!: RequestTable<KvCommand, KvAppliedResult>;
  /** Each waiting request by its token in the table. */
  readonly #waiting = new Map<number, ClientRequest>();
  #nextToken = 1;

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
    this.machine = durable.snapshot === null ? new KvStateMachine(machineLimits) : KvStateMachine.restore(decodeKvSnapshot(durable.snapshot.data), machineLimits);
    this.#requests = new RequestTable({ id: this.id, nonce: this.#world.rng.int(0, 0x7fff_ffff).toString(36), pendingMax: 10_000 });
    this.#waiting.clear();
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
    const refuse = (code: string, leaderHint: NodeId | null): void => this.#refuse(request, code, leaderHint);
    const token = this.#nextToken++;
    if (request.mode === 'read') {
      const readId = this.#requests.nextReadId();
      const result = this.node.readIndex(readId);
      if (!result.ok) return refuse(result.code, result.code === 'NOT_LEADER' ? result.leaderHint : null);
      this.#waiting.set(token, request);
      this.#requests.read({ readId, command: request.command, token, deadlineMs: Infinity });
    } else {
      const data = encodeKvRequest({ clientId: request.clientId, sequence: request.sequence, command: textCommand(request.command) });
      const result = this.node.propose(data);
      if (!result.ok) return refuse(result.code, result.code === 'NOT_LEADER' ? result.leaderHint : null);
      this.#waiting.set(token, request);
      this.#answer(this.#requests.write({ clientId: request.clientId, sequence: request.sequence, token, deadlineMs: Infinity }));
    }
    this.pump();
  }

  #refuse(request: ClientRequest, code: string, leaderHint: NodeId | null): void {
    this.#world.reply({ clientId: request.clientId, sequence: request.sequence, attempt: request.attempt, ok: false, code, leaderHint });
  }

  /** Carries out the request table's answers, as the production host's request shell does. */
  #answer(answers: ReadonlyArray<RequestAnswer<KvCommand, KvAppliedResult>>): void {
    for (const answer of answers) {
      const request = this.#waiting.get(answer.token);
      if (request === undefined) continue;
      this.#waiting.delete(answer.token);
      const reply = (result: KvResult): void => this.#world.reply({ clientId: request.clientId, sequence: request.sequence, attempt: request.attempt, ok: true, result });
      switch (answer.type) {
        case 'result': reply(textResult(request.command, answer.result)); break;
        case 'serveRead': {
          const command = answer.command;
          if (command.type !== 'get' && command.type !== 'scan') throw new Error('only gets and scans are served by ReadIndex');
          reply(textResult(command, this.machine.read({ command: textCommand(command) })));
          break;
        }
        case 'notLeader': this.#refuse(request, 'NOT_LEADER', answer.leader); break;
        case 'timeout': this.#refuse(request, 'TIMEOUT', null); break;
        case 'changeCommitted': break;
      }
    }
  }

  /** Takes the next Ready, if any, and writes it; the sync completes in a later event. */
  pump(): void {
    if (!this.up || this.#syncing !== null || !this.node.hasReady()) return;
    const ready = this.node.ready();
    this.#world.invariants.readyTaken(this, ready);
    if (ready.softState !== null) this.#answer(this.#requests.softState(ready.softState.role, ready.softState.leader));
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
      this.machine = KvStateMachine.restore(decodeKvSnapshot(ready.snapshot.data), machineLimits);
      this.#world.invariants.snapshotInstalled(this, ready.snapshot);
    }
    for (const entry of ready.committedEntries) this.#apply(entry);
    for (const message of ready.messages) this.#world.send(message);
    this.#requests.readsConfirmed(ready.readStates);
    this.node.advance();
    this.#answer(this.#requests.servable(this.machine.appliedIndex));
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
    this.#answer(this.#requests.applied([{ index: entry.index, clientId: request.clientId ?? null, sequence: request.sequence ?? 0, result: outcome.result }]));
  }

  #snapshot(index: number): void {
    const snapshot = this.node.compact(index, encodeKvSnapshot(this.machine.snapshot()));
    if (snapshot === null) return;
    this.disk.saveSnapshot(snapshot);
    this.#world.invariants.snapshotTaken(this, snapshot);
  }
}
