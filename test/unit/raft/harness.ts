/**
 * A small synchronous cluster for the paper-level tests: real RaftNode replicas, an in-memory disk per
 * replica that keeps exactly what each Ready asked to persist, and a message queue the test controls
 * (drops, isolation, interception). Nothing is random except the seeded election timeouts.
 */
import { createRng } from '../../../runtime/rng.js';
import { RaftNode, type Ready } from '../../../actors/raft/core/node.js';
import type { RaftConfigInput } from '../../../actors/raft/core/config.js';
import type { Entry, HardState, Membership, Message, NodeId, Snapshot } from '../../../actors/raft/core/types.js';

/** What a replica's disk holds. */
export interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

/** A replica under test: its node, its disk and the application state it applied. */
export interface Replica {
  node: RaftNode;
  disk: Disk;
  /** Payloads of applied normal entries, in order (the test application's whole state). */
  applied: string[];
  appliedIndex: number;
  readStates: Array<{ index: number; context: string }>;
  up: boolean;
}

/** The member of the Message union whose `type` may be `Type`. */
export type MessageOf<Type extends Message['type']> = Message extends infer Each ? (Each extends { type: infer Types } ? (Type extends Types ? Each : never) : never) : never;

export type ConfigOverrides = Partial<Omit<RaftConfigInput, 'id' | 'rng' | 'initialMembership'>>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a test payload. */
export function payload(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A cluster of replicas connected by a controllable in-memory network. */
export class Cluster {
  readonly replicas = new Map<NodeId, Replica>();
  readonly queue: Message[] = [];
  /** Every message that went out, for tests that inspect traffic. */
  readonly sent: Message[] = [];
  /** Return false to drop a message; applied when it is delivered. */
  filter: (message: Message) => boolean = () => true;
  /** Rewrites a message on its way (after the filter), e.g. to strip entries from an AppendEntries. */
  transform: (message: Message) => Message = (message) => message;
  readonly #overrides: ConfigOverrides;
  readonly #membership: Membership;
  #seed: number;

  /** `options.logs` preloads a replica's disk with entries of the given terms (and that last term as its term). */
  constructor(
    ids: readonly NodeId[],
    overrides: ConfigOverrides = {},
    options: { seed?: number; learners?: readonly NodeId[]; logs?: Readonly<Record<NodeId, readonly number[]>> } = {},
  ) {
    this.#overrides = overrides;
    this.#membership = { voters: [...ids].sort(), learners: [...(options.learners ?? [])].sort() };
    this.#seed = options.seed ?? 1;
    for (const id of [...ids, ...(options.learners ?? [])]) this.addReplica(id, this.#membership, options.logs?.[id] ?? []);
  }

  /** Starts a replica with the founding membership (a joiner is not in it) and a disk holding `terms`. */
  addReplica(id: NodeId, membership: Membership = this.#membership, terms: readonly number[] = []): Replica {
    const entries: Entry[] = terms.map((term, position) => ({ type: 'normal', term, index: position + 1, data: payload(`${id}:${position + 1}@${term}`) }));
    const disk: Disk = { hardState: { term: terms[terms.length - 1] ?? 0, vote: null, commit: 0 }, snapshot: null, entries };
    const replica: Replica = { node: this.#create(id, membership, disk), disk, applied: [], appliedIndex: 0, readStates: [], up: true };
    this.replicas.set(id, replica);
    return replica;
  }

  /** The terms of a replica's in-memory log, from its first retained entry to its last. */
  terms(id: NodeId): number[] {
    const node = this.node(id);
    const terms: number[] = [];
    for (let index = 1; index <= node.status().lastIndex; index += 1) {
      const term = node.term(index);
      if (term !== undefined) terms.push(term);
    }
    return terms;
  }

  /** Messages sent so far of one type, optionally only those to `to`. */
  sentOf<Type extends Message['type']>(type: Type, to?: NodeId): Array<MessageOf<Type>> {
    return this.sent.filter((message): message is MessageOf<Type> => message.type === type && (to === undefined || message.to === to));
  }

  #create(id: NodeId, membership: Membership, disk: Disk | null): RaftNode {
    this.#seed += 1;
    const persisted = disk === null ? null : { hardState: disk.hardState, snapshot: disk.snapshot, entries: disk.entries };
    return new RaftNode({ electionTicks: 10, heartbeatTicks: 1, ...this.#overrides, id, rng: createRng(this.#seed), initialMembership: membership }, persisted);
  }

  replica(id: NodeId): Replica {
    const replica = this.replicas.get(id);
    if (replica === undefined) throw new Error(`no replica ${id}`);
    return replica;
  }

  node(id: NodeId): RaftNode {
    return this.replica(id).node;
  }

  /** Stops a replica: it loses everything not on its disk and receives nothing. */
  crash(id: NodeId): void {
    this.replica(id).up = false;
  }

  /** Restarts a crashed replica from its disk, with the cluster's initial membership as its base. */
  restart(id: NodeId): void {
    const replica = this.replica(id);
    replica.node = this.#create(id, this.#membership, replica.disk);
    replica.applied = replica.disk.snapshot === null ? [] : (JSON.parse(decoder.decode(replica.disk.snapshot.data)) as string[]);
    replica.appliedIndex = replica.disk.snapshot?.meta.index ?? 0;
    replica.up = true;
  }

  /** Carries out every pending Ready of every running replica (persist, apply, queue messages). */
  processReadies(): void {
    for (const [id, replica] of this.replicas) {
      if (!replica.up) continue;
      while (replica.node.hasReady()) this.#process(id, replica, replica.node.ready());
    }
  }

  #process(id: NodeId, replica: Replica, ready: Ready): void {
    const { disk } = replica;
    if (ready.snapshot !== null) {
      disk.snapshot = ready.snapshot;
      disk.entries = [];
      replica.applied = JSON.parse(decoder.decode(ready.snapshot.data)) as string[];
      replica.appliedIndex = ready.snapshot.meta.index;
    }
    if (ready.entries.length > 0) {
      const first = ready.entries[0]!.index;
      disk.entries = disk.entries.filter((entry) => entry.index < first).concat(ready.entries);
    }
    if (ready.hardState !== null) disk.hardState = ready.hardState;
    for (const entry of ready.committedEntries) {
      if (entry.index <= replica.appliedIndex) throw new Error(`${id} applies ${entry.index} twice`);
      replica.appliedIndex = entry.index;
      if (entry.type === 'normal' && entry.data.byteLength > 0) replica.applied.push(decoder.decode(entry.data));
    }
    for (const message of [...ready.leaderMessages, ...ready.messages]) {
      this.queue.push(message);
      this.sent.push(message);
    }
    replica.readStates.push(...ready.readStates);
    replica.node.advance();
    if (ready.snapshotDue !== null && ready.snapshotDue === replica.appliedIndex) {
      const data = encoder.encode(JSON.stringify(replica.applied));
      const index = ready.snapshotDue;
      const snapshot = replica.node.compact(index, data);
      if (snapshot !== null) {
        disk.snapshot = snapshot;
        disk.entries = disk.entries.filter((entry) => entry.index > index);
      }
    }
  }

  /** Delivers queued messages (and the messages they cause) until the network is quiet. */
  stabilize(stepsMax = 100_000): void {
    for (let steps = 0; steps < stepsMax; steps += 1) {
      this.processReadies();
      const message = this.queue.shift();
      if (message === undefined) return;
      this.deliver(message);
    }
    throw new Error('cluster did not stabilize');
  }

  /** Delivers one message if its target is up and the filter lets it through. */
  deliver(message: Message): void {
    const target = this.replicas.get(message.to);
    if (target === undefined || !target.up || !this.replicas.get(message.from)?.up || !this.filter(message)) return;
    target.node.step(this.transform(message));
  }

  /** Drops every message to or from the given replicas. */
  isolate(...ids: NodeId[]): void {
    const isolated = new Set(ids);
    this.filter = (message) => !isolated.has(message.from) && !isolated.has(message.to);
  }

  heal(): void {
    this.filter = () => true;
    this.transform = (message) => message;
  }

  /** Ticks the given replicas (all running ones by default) `count` times, stabilizing after each tick. */
  tick(count = 1, ids?: readonly NodeId[]): void {
    for (let round = 0; round < count; round += 1) {
      for (const [id, replica] of this.replicas) {
        if (replica.up && (ids === undefined || ids.includes(id))) replica.node.tick();
      }
      this.stabilize();
    }
  }

  /**
   * Makes `id` campaign: ticks only it until its election timer fires (its role or term changes, or
   * one full randomized timeout passes), then lets the election run to quiescence.
   */
  campaign(id: NodeId): void {
    const node = this.node(id);
    const start = node.status();
    const ticksMax = 2 * (this.#overrides.electionTicks ?? 10);
    for (let ticks = 0; ticks < ticksMax; ticks += 1) {
      node.tick();
      const status = node.status();
      if (status.term !== start.term || status.role !== start.role) break;
    }
    this.stabilize();
  }

  /** Campaigns `id` until it leads (at most `attempts` campaigns); returns whether it does. */
  campaignUntilLeader(id: NodeId, attempts = 5): boolean {
    for (let attempt = 0; attempt < attempts && this.node(id).status().role !== 'leader'; attempt += 1) this.campaign(id);
    return this.node(id).status().role === 'leader';
  }

  /** Ticks everyone until exactly one replica leads; returns it. */
  electLeader(ticksMax = 200): NodeId {
    for (let ticks = 0; ticks < ticksMax; ticks += 1) {
      const leader = this.leader();
      if (leader !== null) return leader;
      this.tick();
    }
    throw new Error('no leader elected');
  }

  /** The running replica that believes it leads in the highest term, or null. */
  leader(): NodeId | null {
    let best: { id: NodeId; term: number } | null = null;
    for (const [id, replica] of this.replicas) {
      if (!replica.up) continue;
      const status = replica.node.status();
      if (status.role === 'leader' && (best === null || status.term > best.term)) best = { id, term: status.term };
    }
    return best?.id ?? null;
  }

  /** Proposes a payload at `id` and lets replication run. */
  propose(id: NodeId, text: string): ReturnType<RaftNode['propose']> {
    const result = this.node(id).propose(payload(text));
    this.stabilize();
    return result;
  }
}
