/**
 * The ordered key-value engine interface: byte keys in byte order, atomic write batches that move an
 * applied index with the data they change, consistent exports for snapshots, and restore. Two
 * implementations keep the same contract (one conformance suite runs against both,
 * test/unit/storage/kv-engine-conformance.test.ts):
 *
 * - `LevelKvEngine` (kv.ts): LevelDB on disk, what a node runs.
 * - `MemoryKvEngine` (here): a sorted array in memory, for simulations and tests. Its synchronous
 *   reads and writes (`readSync`, `rangeSync`, `writeSync`) let a synchronous host apply commands.
 *
 * An engine is a plain ordered map: it knows nothing of revisions, sessions or leases, which the state
 * machines above it lay out in namespaces of the key space.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { assert } from '../../runtime/index.js';
import { compareBytes, hex } from './kv-model.js';

/** One write of a batch. */
export type KvEngineWrite = { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array } | { readonly type: 'delete'; readonly key: Uint8Array };

/** A stored key and its value. */
export interface KvEngineEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** A range of keys: from `start` (inclusive) to `end` (exclusive; absent: to the last key). */
export interface KvEngineRange {
  readonly start: Uint8Array;
  readonly end?: Uint8Array;
  /** Most entries returned. */
  readonly limit: number;
  /** Descending order (from the last key of the range). */
  readonly reverse?: boolean;
}

/** Receives a consistent export of the state: its applied index first, then every pair in order. */
export interface StateVisitor {
  onIndex(appliedIndex: number): void | Promise<void>;
  onPair(pair: { readonly key: Uint8Array; readonly value: Uint8Array }): void | Promise<void>;
}

/** The digest of a state: SHA-256 over the ordered key space, with the index it reflects. */
export interface StateDigest {
  readonly digest: string;
  readonly appliedIndex: number;
  readonly keys: number;
}

/** An ordered byte-keyed map with an applied index, atomic batches and snapshot export/restore. */
export interface KvEngine {
  /** Index of the last batch written (0: none). */
  readonly appliedIndex: number;
  /** Set while a restore is unfinished: the state is partial and must be restored again. */
  readonly restoringIndex: number | undefined;
  read(key: Uint8Array): Promise<Uint8Array | undefined>;
  range(range: KvEngineRange): Promise<KvEngineEntry[]>;
  /** Applies `writes` in order and sets the applied index, all or nothing. The index never moves back. */
  write(writes: readonly KvEngineWrite[], appliedIndex: number): Promise<void>;
  /** Reads the whole state from one consistent view: `onIndex` once, then every pair in key order. */
  exportState(visitor: StateVisitor): Promise<number>;
  digest(): Promise<StateDigest>;
  /** Starts replacing the whole state: clears it and marks the restore unfinished. */
  beginRestore(index: number): Promise<void>;
  loadPairs(pairs: readonly KvEngineEntry[]): Promise<void>;
  /** Ends a restore: the state is the loaded one, at the restore's index. */
  finishRestore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * SHA-256 over length-prefixed keys and values in key order, from `exportState` (the same for every
 * engine). `keys` counts the pairs `counted` accepts (default: all).
 */
export async function digestOf(engine: Pick<KvEngine, 'exportState'>, counted: (key: Uint8Array) => boolean = () => true): Promise<StateDigest> {
  const hash = sha256.create();
  const lengths = new DataView(new ArrayBuffer(4));
  const lengthBytes = new Uint8Array(lengths.buffer);
  let keys = 0;
  const appliedIndex = await engine.exportState({
    onIndex: () => undefined,
    onPair: (pair) => {
      for (const part of [pair.key, pair.value]) {
        lengths.setUint32(0, part.length);
        hash.update(lengthBytes);
        hash.update(part);
      }
      if (counted(pair.key)) keys += 1;
    },
  });
  return { digest: bytesToHex(hash.digest()), appliedIndex, keys };
}

/** The in-memory engine: keys in a sorted array (binary search), values by hex key. */
export class MemoryKvEngine implements KvEngine {
  #keys: Uint8Array[] = [];
  #values = new Map<string, Uint8Array>();
  #appliedIndex = 0;
  #restoringIndex: number | undefined;
  #closed = false;

  get appliedIndex(): number { return this.#appliedIndex; }
  get restoringIndex(): number | undefined { return this.#restoringIndex; }
  /** Number of keys held. */
  get size(): number { return this.#keys.length; }

  readSync(key: Uint8Array): Uint8Array | undefined {
    this.#checkOpen();
    return this.#values.get(hex(key));
  }

  rangeSync(range: KvEngineRange): KvEngineEntry[] {
    this.#checkOpen();
    const from = this.#position(range.start);
    const to = range.end === undefined ? this.#keys.length : this.#position(range.end);
    const entries: KvEngineEntry[] = [];
    if (range.reverse === true) {
      for (let position = to - 1; position >= from && entries.length < range.limit; position -= 1) entries.push(this.#entry(position));
    } else {
      for (let position = from; position < to && entries.length < range.limit; position += 1) entries.push(this.#entry(position));
    }
    return entries;
  }

  writeSync(writes: readonly KvEngineWrite[], appliedIndex: number): void {
    this.#checkOpen();
    assert(this.#restoringIndex === undefined, 'write during an unfinished restore');
    assert(appliedIndex >= this.#appliedIndex, 'the applied index never moves back', { appliedIndex, current: this.#appliedIndex });
    for (const write of writes) {
      if (write.type === 'put') this.#put(write.key, write.value);
      else this.#delete(write.key);
    }
    this.#appliedIndex = appliedIndex;
  }

  async read(key: Uint8Array): Promise<Uint8Array | undefined> { return this.readSync(key); }
  async range(range: KvEngineRange): Promise<KvEngineEntry[]> { return this.rangeSync(range); }
  async write(writes: readonly KvEngineWrite[], appliedIndex: number): Promise<void> { this.writeSync(writes, appliedIndex); }
  digest(): Promise<StateDigest> { return digestOf(this); }

  async exportState(visitor: StateVisitor): Promise<number> {
    this.#checkOpen();
    assert(this.#restoringIndex === undefined, 'export during an unfinished restore');
    // The copy is the consistent view: writes made while the visitor awaits do not show in it.
    const appliedIndex = this.#appliedIndex;
    const entries = this.#keys.map((_, position) => this.#entry(position));
    await visitor.onIndex(appliedIndex);
    for (const entry of entries) await visitor.onPair(entry);
    return appliedIndex;
  }

  async beginRestore(index: number): Promise<void> {
    this.#checkOpen();
    this.#keys = [];
    this.#values = new Map();
    this.#appliedIndex = 0;
    this.#restoringIndex = index;
  }

  async loadPairs(pairs: readonly KvEngineEntry[]): Promise<void> {
    assert(this.#restoringIndex !== undefined, 'loadPairs outside a restore');
    for (const pair of pairs) this.#put(pair.key, pair.value);
  }

  async finishRestore(): Promise<void> {
    const index = this.#restoringIndex;
    assert(index !== undefined, 'finishRestore outside a restore');
    this.#restoringIndex = undefined;
    this.#appliedIndex = index;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #checkOpen(): void {
    assert(!this.#closed, 'the engine is closed');
  }

  #entry(position: number): KvEngineEntry {
    const key = this.#keys[position]!;
    return { key, value: this.#values.get(hex(key))! };
  }

  /** The first position whose key is at or after `key`. */
  #position(key: Uint8Array): number {
    let low = 0;
    let high = this.#keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareBytes(this.#keys[middle]!, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #put(key: Uint8Array, value: Uint8Array): void {
    const name = hex(key);
    // Copies as plain Uint8Arrays: the caller may reuse its buffers, and a Buffer's slice would share them.
    if (!this.#values.has(name)) this.#keys.splice(this.#position(key), 0, new Uint8Array(key));
    this.#values.set(name, new Uint8Array(value));
  }

  #delete(key: Uint8Array): void {
    const name = hex(key);
    if (!this.#values.delete(name)) return;
    this.#keys.splice(this.#position(key), 1);
  }
}
