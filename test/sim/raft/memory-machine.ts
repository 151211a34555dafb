/**
 * The simulation's state machine: the core's in-memory KvStateMachine behind the host's
 * `ReplicaMachine` interface, with snapshots written to and read from the (simulated) disk through the
 * storage engine's snapshot files, as the LevelDB machine does. It is volatile: a restarted replica
 * starts it empty and rebuilds it from the newest snapshot and the log, which the host does through
 * its production recovery path. It is a harness piece, standing in for the production machine on an
 * in-memory engine until that exists; the host takes its machine as a parameter.
 *
 * Every applied entry is reported to `observe`, so the simulation can check that replicas apply the
 * same command at each index and that no client request takes effect twice.
 */
import { decodeKvRequest, decodeKvSnapshot, encodeKvSnapshot } from '../../../actors/raft/kv-codec.js';
import { KvStateMachine, kvDefaultLimits, type KvCommand, type KvLimits, type KvResult } from '../../../actors/raft/core/kv-state-machine.js';
import type { Entry } from '../../../actors/raft/core/types.js';
import type { ReplicaMachine } from '../../../actors/raft/host.js';
import type { AppliedEntry } from '../../../actors/raft/kv-machine.js';
import { readSnapshot, type Disk, type SnapshotWriter } from '../../../actors/storage/index.js';

const stateKey = new TextEncoder().encode('state');

/** An in-memory KV machine; `observe` sees every entry it applies. */
export class MemoryKvMachine implements ReplicaMachine {
  readonly limits: KvLimits = kvDefaultLimits;
  readonly needsRestore = false;
  #machine = new KvStateMachine();
  readonly #observe: (entry: Entry, applied: AppliedEntry) => void;

  constructor(observe: (entry: Entry, applied: AppliedEntry) => void) {
    this.#observe = observe;
  }

  get appliedIndex(): number {
    return this.#machine.appliedIndex;
  }

  async apply(entries: readonly Entry[]): Promise<AppliedEntry[]> {
    const results: AppliedEntry[] = [];
    for (const entry of entries) {
      if (entry.index <= this.appliedIndex) continue;
      const applied = this.#applyOne(entry);
      this.#observe(entry, applied);
      results.push(applied);
    }
    return results;
  }

  #applyOne(entry: Entry): AppliedEntry {
    if (entry.type !== 'normal' || entry.data.byteLength === 0) {
      this.#machine.skip(entry.index);
      return { index: entry.index, request: null, applied: null };
    }
    const decoded = decodeKvRequest(entry.data);
    if (!decoded.ok) throw new Error(`undecodable entry ${entry.index}: ${decoded.reason}`);
    return { index: entry.index, request: decoded.request, applied: this.#machine.apply(entry.index, decoded.request) };
  }

  async read(command: Extract<KvCommand, { type: 'get' | 'scan' }>): Promise<KvResult> {
    return this.#machine.read(command);
  }

  async writeSnapshot(writer: SnapshotWriter): Promise<number> {
    const index = this.appliedIndex;
    await writer.begin(index);
    await writer.add(stateKey, encodeKvSnapshot(this.#machine.snapshot()));
    return index;
  }

  async restore(disk: Disk, filePath: string, index: number): Promise<void> {
    let state: Uint8Array | null = null;
    const info = await readSnapshot(disk, filePath, async (_key, value) => {
      state = value;
    });
    if (info.index !== index || state === null) throw new Error(`snapshot ${filePath} covers ${info.index}, expected ${index}`);
    this.#machine = KvStateMachine.restore(decodeKvSnapshot(state));
  }

  async digest(): Promise<{ digest: string; appliedIndex: number; keys: number }> {
    return { digest: JSON.stringify(this.#machine.snapshot()), appliedIndex: this.appliedIndex, keys: this.#machine.size };
  }

  async close(): Promise<void> {}
}
