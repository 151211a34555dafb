/**
 * The simulation's state machine: the production `DurableKvMachine` on the in-memory engine
 * (`MemoryKvEngine`), so the simulation runs the same session layer and key-value model a node runs
 * on LevelDB. Snapshots go through the storage engine's snapshot files on the (simulated) disk, as on
 * a node. It is volatile: a restarted replica starts it empty and rebuilds it from the newest snapshot
 * and the log, through the host's production recovery path.
 *
 * Every applied entry is reported to `observe`, so the simulation can check that replicas apply the
 * same command at each index and that no client request takes effect twice.
 */
import type { Entry } from '../../../actors/raft/core/types.js';
import type { KvRequest } from '../../../actors/raft/core/kv-state-machine.js';
import type { ReplicaMachine } from '../../../actors/raft/host.js';
import { DurableKvMachine, type AppliedEntry } from '../../../actors/raft/kv-machine.js';
import type { KvWatchPoll } from '../../../actors/raft/kv-watch.js';
import { MemoryKvEngine, type Disk, type SnapshotWriter } from '../../../actors/storage/index.js';

/** Watch history kept by each simulated replica: snapshots carry it, and the simulation snapshots often. */
const machineLimits = { eventsKeptMax: 200 } as const;

/** The production KV machine in memory; `observe` sees every entry it applies. */
export class MemoryKvMachine implements ReplicaMachine {
  readonly #machine: DurableKvMachine;
  readonly #observe: (entry: Entry, applied: AppliedEntry) => void;

  private constructor(machine: DurableKvMachine, observe: (entry: Entry, applied: AppliedEntry) => void) {
    this.#machine = machine;
    this.#observe = observe;
  }

  static async open(observe: (entry: Entry, applied: AppliedEntry) => void): Promise<MemoryKvMachine> {
    return new MemoryKvMachine(await DurableKvMachine.over(new MemoryKvEngine(), machineLimits), observe);
  }

  get limits(): DurableKvMachine['limits'] { return this.#machine.limits; }
  get needsRestore(): boolean { return this.#machine.needsRestore; }
  get appliedIndex(): number { return this.#machine.appliedIndex; }

  async apply(entries: readonly Entry[]): Promise<AppliedEntry[]> {
    const byIndex = new Map(entries.map((entry) => [entry.index, entry]));
    const applied = await this.#machine.apply(entries);
    for (const result of applied) this.#observe(byIndex.get(result.index)!, result);
    return applied;
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
