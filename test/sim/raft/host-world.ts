/**
 * The simulated world of the host simulation: N production replica hosts (actors/raft/host.ts, with
 * its DurableLog, WAL and request table), each on its own SimulatedDisk, over a seeded network, under
 * one simulated clock. It owns the agenda (event-queue.ts) and the plumbing; host-simulation.ts
 * drives the faults and checks the run.
 *
 * - Network: every raft message is dropped, delayed, duplicated (and so reordered) by the seed, and
 *   stopped at delivery by a partition; client requests and replies cross links the same way.
 * - Disk: each disk holds its syncs (`holdSyncs`) until a simulated delay has passed, so a crash finds
 *   writes that are not yet durable, and loses them, keeps them, or tears the last one.
 * - Processes: a crash abandons the host object and bumps the node's incarnation; everything the old
 *   process still had in flight (sends, replies, signals, disk calls) is dropped, as after kill -9.
 *   A restart opens a new host from the disk through the production recovery path.
 * - Time: between events the world lets the hosts' promise chains (and the WAL's setImmediate group
 *   commit) run until nothing changes; no real timer or I/O is involved, so a run replays from its seed.
 */
import { VirtualClock, createRng, type Rng } from '../../../runtime/index.js';
import { ReplicaHost, type HostEvent, type HostOptions } from '../../../actors/raft/host.js';
import type { Entry, Message, NodeId } from '../../../actors/raft/core/types.js';
import type { AppliedEntry } from '../../../actors/raft/kv-machine.js';
import type { KvTransport } from '../../../actors/raft/client.js';
import { SimulatedDisk, type CrashMode, type Disk, type DiskFile, type OpenMode } from '../../../actors/storage/index.js';
import { EventQueue } from './event-queue.js';
import { MemoryKvMachine } from './memory-machine.js';
import type { KvEvent } from '../../../actors/storage/index.js';

/** How the world's links and disks behave. */
export interface WorldWeather {
  readonly delayMsMax: number;
  readonly longDelayRate: number;
  readonly dropRate: number;
  readonly duplicateRate: number;
  readonly syncDelayMsMax: number;
}

type WorldEvent =
  | { readonly type: 'deliver'; readonly message: Message }
  | { readonly type: 'signal'; readonly node: NodeId; readonly incarnation: number; readonly event: HostEvent }
  | { readonly type: 'release'; readonly node: NodeId }
  | { readonly type: 'call'; readonly run: () => void };

/** One simulated machine: its disk survives crashes, its host does not. */
export interface SimNode {
  readonly id: NodeId;
  readonly disk: SimulatedDisk;
  incarnation: number;
  host: ReplicaHost | null;
  opening: boolean;
  releaseScheduled: boolean;
}

/** Thrown when the world stops a run: a replica broke a property or failed unexpectedly. */
export class WorldFailure extends Error {
  override readonly name = 'WorldFailure';
}

/** The disk as one process sees it: dead once the process is (kill -9 does no more I/O). */
class ProcessDisk implements Disk {
  constructor(readonly inner: SimulatedDisk, readonly alive: () => boolean, readonly touched: () => void) {}

  #check(): void {
    if (!this.alive()) throw new Error('the process that owned this disk handle is dead');
    this.touched();
  }

  async open(filePath: string, mode: OpenMode): Promise<DiskFile> { this.#check(); return this.inner.open(filePath, mode); }
  async readFile(filePath: string): Promise<Uint8Array> { this.#check(); return this.inner.readFile(filePath); }
  async list(directory: string): Promise<string[]> { this.#check(); return this.inner.list(directory); }
  async makeDirectory(directory: string): Promise<void> { this.#check(); return this.inner.makeDirectory(directory); }
  async rename(from: string, to: string): Promise<void> { this.#check(); return this.inner.rename(from, to); }
  async remove(filePath: string): Promise<void> { this.#check(); return this.inner.remove(filePath); }
  async syncDirectory(directory: string): Promise<void> { this.#check(); return this.inner.syncDirectory(directory); }
  async exists(filePath: string): Promise<boolean> { this.#check(); return this.inner.exists(filePath); }
}

/** The world: nodes, network, clock and agenda. */
export class World {
  readonly rng: Rng;
  readonly clock = new VirtualClock(0);
  readonly nodes = new Map<NodeId, SimNode>();
  readonly #queue = new EventQueue<WorldEvent>();
  readonly #weather: WorldWeather;
  readonly #hostOptions: (id: NodeId) => HostOptions;
  readonly #observe: (node: NodeId, entry: Entry, applied: AppliedEntry) => void;
  readonly #observeEvents: (node: NodeId, revision: number, events: readonly KvEvent[]) => void;
  readonly #nonce: (id: NodeId, incarnation: number) => string;
  #groups: Map<NodeId, number> | null = null;
  #activity = 0;
  /** Return false to lose a raft message at delivery (a test's own fault, on top of the weather). */
  filter: (message: Message) => boolean = () => true;
  #failure: unknown = null;
  quiet = false;
  readonly stats = { sent: 0, dropped: 0, duplicated: 0, refused: 0, crashes: 0, events: 0, messageTypes: {} as Record<string, number> };

  constructor(options: {
    readonly seed: number;
    readonly nodeIds: readonly NodeId[];
    readonly weather: WorldWeather;
    readonly hostOptions: (id: NodeId) => HostOptions;
    readonly observe: (node: NodeId, entry: Entry, applied: AppliedEntry) => void;
    /** Receives the events of each revision a replica applies (default: ignored). */
    readonly observeEvents?: (node: NodeId, revision: number, events: readonly KvEvent[]) => void;
    /** Each start's read-id nonce (default: drawn from the seed); a test may make it repeat. */
    readonly nonce?: (id: NodeId, incarnation: number) => string;
  }) {
    this.rng = createRng(options.seed);
    this.#nonce = options.nonce ?? (() => this.rng.int(0, 0x7fff_ffff).toString(36));
    this.#weather = options.weather;
    this.#hostOptions = options.hostOptions;
    this.#observe = options.observe;
    this.#observeEvents = options.observeEvents ?? (() => undefined);
    for (const id of options.nodeIds) {
      const disk = new SimulatedDisk({ seed: this.rng.int(1, 0x7fff_ffff) });
      disk.holdSyncs();
      this.nodes.set(id, { id, disk, incarnation: 0, host: null, opening: false, releaseScheduled: false });
    }
  }

  get now(): number { return this.clock.now(); }

  /** Runs `run` after `delayMs` of simulated time. */
  after(delayMs: number, run: () => void): void {
    this.#queue.push(this.now + delayMs, { type: 'call', run });
  }

  /** A promise that resolves after `delayMs` of simulated time. */
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.after(delayMs, resolve));
  }

  /** Stops the run at the next event boundary with `error`. */
  fail(error: unknown): void {
    this.#failure ??= error;
  }

  /** Starts (or restarts) the node's replica from its disk; it takes messages once open. */
  start(id: NodeId): void {
    const node = this.nodes.get(id)!;
    if (node.host !== null || node.opening) return;
    node.opening = true;
    const incarnation = node.incarnation;
    const alive = (): boolean => node.incarnation === incarnation;
    const host = ReplicaHost.open(this.#hostOptions(id), {
      disk: new ProcessDisk(node.disk, alive, () => { this.#activity += 1; }),
      clock: this.clock,
      rng: createRng(this.rng.int(1, 0x7fff_ffff)),
      transport: { send: (_to, message) => { if (alive()) this.#send(message); } },
      openMachine: () => MemoryKvMachine.open(
        (entry, applied) => { if (alive()) this.#observe(id, entry, applied); },
        (revision, events) => { if (alive()) this.#observeEvents(id, revision, events); },
      ),
      signal: (event) => { if (alive()) this.#queue.push(this.now, { type: 'signal', node: id, incarnation, event }); },
      nonce: this.#nonce(id, incarnation),
      selfPath: '/raft',
    });
    host.then(
      (opened) => {
        if (!alive()) return;
        node.opening = false;
        node.host = opened;
        this.#activity += 1;
      },
      (error: unknown) => { if (alive()) this.fail(new WorldFailure(`${id} failed to recover from its disk: ${String(error)}`, { cause: error })); },
    );
  }

  /** kill -9 (with `keep`, the page cache survives) or power loss (`drop`, `tear`): the host is gone. */
  crash(id: NodeId, mode: CrashMode): void {
    const node = this.nodes.get(id)!;
    node.incarnation += 1;
    node.host = null;
    node.opening = false;
    node.releaseScheduled = false;
    node.disk.crash(mode);
    node.disk.holdSyncs();
    this.stats.crashes += 1;
  }

  partition(groups: Map<NodeId, number> | null): void {
    this.#groups = groups;
  }

  partitioned(left: NodeId, right: NodeId): boolean {
    return this.#groups !== null && this.#groups.get(left) !== this.#groups.get(right);
  }

  /** A client's way to the replicas: requests and replies cross a link each way; `ask` rejects on its timeout. */
  clientTransport(): KvTransport {
    return {
      ask: (replica, message, timeoutMs) => new Promise((resolve, reject) => {
        let settled = false;
        const settle = (finish: () => void): void => {
          if (settled) return;
          settled = true;
          finish();
        };
        this.after(timeoutMs, () => settle(() => reject(new Error('ask timed out'))));
        if (this.#lost()) return;
        this.after(this.#linkDelay(), () => {
          const node = this.nodes.get(replica);
          const host = node?.host ?? null;
          if (node === undefined || host === null) return;
          const incarnation = node.incarnation;
          host.request(message, (value) => {
            if (node.incarnation !== incarnation || this.#lost()) return;
            this.after(this.#linkDelay(), () => settle(() => resolve(value)));
          });
        });
      }),
    };
  }

  /** Processes events until simulated time `end`, or until `done()` holds; returns whether it held. */
  async run(end: number, onEvent: () => void, done: () => boolean = () => false): Promise<boolean> {
    for (;;) {
      if (this.#queue.peekTime() > end) return false;
      const next = this.#queue.pop()!;
      this.clock.advance(next.time - this.now);
      this.stats.events += 1;
      try {
        this.#handle(next.event);
      } catch (error) {
        this.fail(error);
      }
      await this.#settle();
      if (this.#failure !== null) throw this.#failure;
      onEvent();
      if (done()) return true;
    }
  }

  #handle(event: WorldEvent): void {
    switch (event.type) {
      case 'call': return event.run();
      case 'deliver': return this.#deliver(event.message);
      case 'release': {
        const node = this.nodes.get(event.node)!;
        node.releaseScheduled = false;
        node.disk.releaseSyncs();
        node.disk.holdSyncs();
        return;
      }
      case 'signal': {
        const node = this.nodes.get(event.node)!;
        if (node.incarnation !== event.incarnation || node.host === null) return;
        // A failed write or apply stops the replica; nothing in this world injects one, so it is a bug.
        return node.host.handle(event.event);
      }
    }
  }

  /** Lets promise chains and the WAL's immediates run until a few rounds pass with no progress. */
  async #settle(): Promise<void> {
    let last = -1;
    let stableRounds = 0;
    for (let round = 0; stableRounds < 2; round += 1) {
      if (round > 100_000) throw new WorldFailure('the hosts never settled between two events');
      await new Promise<void>((resolve) => setImmediate(resolve));
      const activity = this.#activity + this.#queue.size;
      stableRounds = activity === last ? stableRounds + 1 : 0;
      last = activity;
    }
    for (const node of this.nodes.values()) {
      if (node.releaseScheduled || node.disk.heldSyncs() === 0) continue;
      node.releaseScheduled = true;
      this.#queue.push(this.now + this.rng.int(0, this.#weather.syncDelayMsMax), { type: 'release', node: node.id });
    }
  }

  #lost(): boolean {
    return !this.quiet && this.rng.next() < this.#weather.dropRate;
  }

  #linkDelay(): number {
    const { rng } = this;
    const weather = this.#weather;
    if (rng.next() < weather.longDelayRate) return rng.int(weather.delayMsMax, weather.delayMsMax * 8);
    return rng.int(1, weather.delayMsMax);
  }

  #send(message: Message): void {
    this.#activity += 1;
    this.stats.sent += 1;
    const type = message.type.slice('raft.'.length);
    this.stats.messageTypes[type] = (this.stats.messageTypes[type] ?? 0) + 1;
    if (this.#lost()) {
      this.stats.dropped += 1;
      return;
    }
    this.#queue.push(this.now + this.#linkDelay(), { type: 'deliver', message });
    if (!this.quiet && this.rng.next() < this.#weather.duplicateRate) {
      this.stats.duplicated += 1;
      this.#queue.push(this.now + this.#linkDelay(), { type: 'deliver', message });
    }
  }

  #deliver(message: Message): void {
    const target = this.nodes.get(message.to)?.host ?? null;
    if (target === null || this.partitioned(message.from, message.to) || !this.filter(message)) return;
    if (target.receivePeer(message, { node: message.from, path: '/raft' }) !== null) this.stats.refused += 1;
  }
}
