/**
 * A simulated disk for one replica. Writes land in a volatile buffer and become durable only when the
 * replica syncs; a crash loses the buffer, except that the first unsynced write may survive torn: a
 * prefix of its entries reached the platter, its hard state did not (a WAL whose tail record was cut).
 */
import type { Rng } from '../../../runtime/rng.js';
import type { Entry, HardState, Snapshot } from '../../../actors/raft/core/types.js';

/** What survives a crash. */
export interface DurableState {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

interface Write {
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
}

/** One replica's disk. */
export class SimDisk {
  readonly durable: DurableState = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };
  #unsynced: Write[] = [];
  /** Writes that were cut short by a crash, for the run's statistics. */
  tornWrites = 0;
  lostWrites = 0;

  /** Buffers one Ready's writes (snapshot, then entries, then hard state). */
  write(write: Write): void {
    if (write.snapshot === null && write.entries.length === 0 && write.hardState === null) return;
    this.#unsynced.push(write);
  }

  /** Makes every buffered write durable, in order. */
  sync(): void {
    for (const write of this.#unsynced) this.#apply(write);
    this.#unsynced = [];
  }

  /** Loses unsynced writes; with probability `tornRate` a prefix of the first one's entries survives. */
  crash(rng: Rng, tornRate: number): void {
    const first = this.#unsynced[0];
    this.lostWrites += this.#unsynced.length;
    this.#unsynced = [];
    if (first === undefined || first.snapshot !== null || first.entries.length === 0 || rng.next() >= tornRate) return;
    const kept = rng.int(1, first.entries.length);
    this.tornWrites += 1;
    this.#apply({ snapshot: null, entries: first.entries.slice(0, kept), hardState: null });
  }

  /** Stores a snapshot the replica took itself (written and synced at once), then drops the entries it covers. */
  saveSnapshot(snapshot: Snapshot): void {
    this.durable.snapshot = snapshot;
    this.durable.entries = this.durable.entries.filter((entry) => entry.index > snapshot.meta.index);
  }

  #apply(write: Write): void {
    if (write.snapshot !== null) {
      this.durable.snapshot = write.snapshot;
      this.durable.entries = [];
    }
    if (write.entries.length > 0) {
      const first = write.entries[0]!.index;
      this.durable.entries = this.durable.entries.filter((entry) => entry.index < first).concat(write.entries);
    }
    if (write.hardState !== null) this.durable.hardState = write.hardState;
  }
}
