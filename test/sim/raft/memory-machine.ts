/**
 * The simulation's state machine: the production `DurableKvMachine` on the in-memory engine
 * (`MemoryKvEngine`), so the simulation runs the same session layer and key-value model a node runs
 * on LevelDB. Snapshots go through the storage engine's snapshot files on the (simulated) disk, as on
 * a node. It is volatile: a restarted replica starts it empty and rebuilds it from the newest snapshot
 * and the log, through the host's production recovery path.
 *
 * Every applied entry is reported to `observe`, so the simulation can check that replicas apply the
 * same command at each index and that no client request takes effect twice; and the events of every
 * revision the entries wrote, read back through the machine's own watch path, are reported to
 * `observeEvents`, so it can check that replicas derive the same events and that watches deliver them.
 */
import type { Entry } from '../../../actors/raft/core/types.js';
import type { KvRequest } from '../../../actors/raft/core/kv-state-machine.js';
import type { ReplicaMachine } from '../../../actors/raft/host.js';
import { DurableKvMachine, type AppliedEntry } from '../../../actors/raft/kv-machine.js';
import type { KvWatchPoll } from '../../../actors/raft/kv-watch.js';
import { MemoryKvEngine, type Disk, type KvEvent, type SnapshotWriter } from '../../../actors/storage/index.js';

/** Watch history kept by each simulated replica: snapshots carry it, and the simulation snapshots often. */
const machineLimits = { eventsKeptMax: 200 } as const;

/** Receives the events of one applied revision. */
export type EventsObserver = (revision: number, events: readonly KvEvent[]) => void;

/** Every key: from 0x00 to the end. */
const everyKey = { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) } as const;

/** The production KV machine in memory; `observe` sees every entry it applies. */
export class MemoryKvMachine implements ReplicaMachine {
  readonly #machine: DurableKvMachine;
  readonly #observe: (entry: Entry, applied: AppliedEntry) => void;
  readonly #observeEvents: EventsObserver;
  /** The last revision whose events were reported. */
  #reportedRevision = 0;

  private constructor(machine: DurableKvMachine, observe: (entry: Entry, applied: AppliedEntry) => void, observeEvents: EventsObserver) {
    this.#machine = machine;
    this.#observe = observe;
    this.#observeEvents = observeEvents;
  }

  static async open(observe: (entry: Entry, applied: AppliedEntry) => void, observeEvents: EventsObserver = () => undefined): Promise<MemoryKvMachine> {
    return new MemoryKvMachine(await DurableKvMachine.over(new MemoryKvEngine(), machineLimits), observe, observeEvents);
  }

  get limits(): DurableKvMachine['limits'] { return this.#machine.limits; }
  get needsRestore(): boolean { return this.#machine.needsRestore; }
  get appliedIndex(): number { return this.#machine.appliedIndex; }

  async apply(entries: readonly Entry[]): Promise<AppliedEntry[]> {
    const byIndex = new Map(entries.map((entry) => [entry.index, entry]));
    const applied = await this.#machine.apply(entries);
    for (const result of applied) this.#observe(byIndex.get(result.index)!, result);
    await this.#reportEvents();
    return applied;
  }

  /** Reports the events of the revisions applied since the last report (those still kept). */
  async #reportEvents(): Promise<void> {
    for (;;) {
      const reply = await this.#machine.watch({ ...everyKey, fromRevision: this.#reportedRevision + 1, revisionsMax: 1_000 });
      if (!reply.ok) {
        // Revisions this replica never held (it restored a snapshot past them) or no longer keeps.
        this.#reportedRevision = reply.compactRevision;
        continue;
      }
      const byRevision = new Map<number, KvEvent[]>();
      for (const event of reply.events) byRevision.set(event.kv.modRevision, [...(byRevision.get(event.kv.modRevision) ?? []), event]);
      for (const [revision, events] of byRevision) this.#observeEvents(revision, events);
      if (reply.nextRevision <= this.#reportedRevision + 1 || reply.nextRevision > reply.revision) {
        this.#reportedRevision = Math.max(this.#reportedRevision, reply.nextRevision - 1);
        return;
      }
      this.#reportedRevision = reply.nextRevision - 1;
    }
  }

  flushed(): Promise<void> { return this.#machine.flushed(); }
  read(request: KvRequest): ReturnType<DurableKvMachine['read']> { return this.#machine.read(request); }
  watch(poll: KvWatchPoll): ReturnType<DurableKvMachine['watch']> { return this.#machine.watch(poll); }
  leases(): ReturnType<DurableKvMachine['leases']> { return this.#machine.leases(); }
  writeSnapshot(writer: SnapshotWriter): Promise<number> { return this.#machine.writeSnapshot(writer); }
  restore(disk: Disk, filePath: string, index: number): Promise<void> { return this.#machine.restore(disk, filePath, index); }
  digest(): ReturnType<DurableKvMachine['digest']> { return this.#machine.digest(); }
  close(): Promise<void> { return this.#machine.close(); }
}
