/**
 * The key-value engine: the state machine of core.ts kept in LevelDB (`level`, classic-level on Node).
 *
 * Exactly-once apply: every group of WAL entries is applied as ONE atomic LevelDB batch that also sets
 * the applied index. After any crash the database holds the effects of entries 1..applied and none of
 * the later ones, so recovery replays from applied + 1 and no entry is applied twice or skipped.
 *
 * LevelDB writes here are not synced (classic-level's default `sync: false`): durability comes from the
 * WAL, which is fsynced before anything is applied. If the machine loses LevelDB's unsynced tail,
 * LevelDB recovers a prefix of its batches (its own log is checksummed), the applied index moves back
 * with the data, and replay brings both forward again.
 *
 * Layout: data keys are 0x01 + UTF-8 key; metadata keys are 0x00 + name, so they sort first and one
 * iterator (one implicit LevelDB snapshot) sees the applied index and the data it covers together.
 */
import { Level } from 'level';
import { assert } from '../../runtime/index.js';
import { executeCommand, keysRead, type StoreCommand, type StoreResult } from './core.js';
import { StorageError } from './errors.js';
import { digestOf, type KvEngine, type KvEngineEntry, type KvEngineRange, type KvEngineWrite, type StateDigest, type StateVisitor } from './kv-engine.js';

const DATA_PREFIX = 0x01;
const META_APPLIED = Uint8Array.of(0x00, ...new TextEncoder().encode('applied'));
const META_RESTORING = Uint8Array.of(0x00, ...new TextEncoder().encode('restoring'));
const DATA_START = Uint8Array.of(DATA_PREFIX);
const DATA_END = Uint8Array.of(DATA_PREFIX + 1);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One entry to apply: its WAL index and the command it holds. */
export interface IndexedCommand {
  readonly index: number;
  readonly command: StoreCommand;
}

/** A key and its value. */
export interface StorePair {
  readonly key: string;
  readonly value: Uint8Array;
}

/** A key-range query. Bounds combine: the scan covers keys matching all that are given. */
export interface ScanOptions {
  /** Only keys starting with this prefix. */
  readonly prefix?: string;
  /** Lowest key, inclusive. */
  readonly start?: string;
  /** Highest key, exclusive. */
  readonly end?: string;
  readonly limit: number;
  /** Descending order. */
  readonly reverse?: boolean;
}

type Database = Level<Uint8Array, Uint8Array>;
type BatchOperation = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

/**
 * LevelDB-backed key space with an applied index. Create with `LevelKvEngine.open`. It is a
 * `KvEngine` (byte keys: `read`, `range`, `write`) and also serves the storage actor's string-keyed
 * commands (`apply`, `get`, `scan`).
 */
export class LevelKvEngine implements KvEngine {
  readonly location: string;
  readonly #db: Database;
  #appliedIndex: number;
  #restoringIndex: number | undefined;

  private constructor(location: string, db: Database, appliedIndex: number, restoringIndex: number | undefined) {
    this.location = location;
    this.#db = db;
    this.#appliedIndex = appliedIndex;
    this.#restoringIndex = restoringIndex;
  }

  /** Opens (creating if missing) the database at `location`. */
  static async open(location: string): Promise<LevelKvEngine> {
    const db: Database = new Level<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (cause) {
      throw new StorageError('STORAGE_FAILED', `cannot open the key-value database at ${location}`, { cause, context: { location } });
    }
    const applied = await db.get(META_APPLIED);
    const restoring = await db.get(META_RESTORING);
    return new LevelKvEngine(location, db, applied === undefined ? 0 : decodeIndex(applied), restoring === undefined ? undefined : decodeIndex(restoring));
  }

  /** Index of the last WAL entry whose effects are in the database (0: none). */
  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /** Set while a snapshot restore is unfinished: the state is partial and must be restored again. */
  get restoringIndex(): number | undefined {
    return this.#restoringIndex;
  }

  /** Applies consecutive entries, starting at `appliedIndex + 1`, in one atomic batch. */
  async apply(entries: readonly IndexedCommand[]): Promise<StoreResult[]> {
    if (entries.length === 0) return [];
    assert(this.#restoringIndex === undefined, 'apply during an unfinished snapshot restore');
    assert(entries[0]!.index === this.#appliedIndex + 1, 'entries must continue from the applied index', { first: entries[0]!.index, applied: this.#appliedIndex });
    const values = await this.#prefetch(entries);
    const operations: BatchOperation[] = [];
    const results: StoreResult[] = [];
    for (const [position, entry] of entries.entries()) {
      assert(entry.index === entries[0]!.index + position, 'entries must be consecutive', { index: entry.index });
      const { writes, result } = executeCommand(entry.command, (key) => values.get(key) ?? undefined);
      for (const [key, value] of writes) {
        values.set(key, value);
        operations.push(value === null ? { type: 'del', key: dataKey(key) } : { type: 'put', key: dataKey(key), value });
      }
      results.push(result);
    }
    const lastIndex = entries[entries.length - 1]!.index;
    operations.push({ type: 'put', key: META_APPLIED, value: encodeIndex(lastIndex) });
    await this.#db.batch(operations);
    this.#appliedIndex = lastIndex;
    return results;
  }

  /** The value at `key`, or undefined. */
  async get(key: string): Promise<Uint8Array | undefined> {
    const value = await this.#db.get(dataKey(key));
    return value === undefined ? undefined : plainBytes(value);
  }

  /** Pairs in key order (or reverse), at most `limit`; `more` says whether the range holds more. */
  async scan(options: ScanOptions): Promise<{ entries: StorePair[]; more: boolean }> {
    const range = scanRange(options);
    const entries: StorePair[] = [];
    if (range === undefined) return { entries, more: false };
    const iterator = this.#db.iterator({ ...range, reverse: options.reverse ?? false, limit: options.limit + 1 });
    try {
      for await (const [key, value] of iterator) entries.push({ key: decodeDataKey(key), value: plainBytes(value) });
    } finally {
      await iterator.close();
    }
    const more = entries.length > options.limit;
    if (more) entries.pop();
    return { entries, more };
  }

  /** SHA-256 over the ordered key space (length-prefixed keys and values), read from one consistent view. */
  digest(): Promise<StateDigest> {
    return digestOf(this);
  }

  /**
   * A point read, done synchronously (classic-level's `getSync`): for the small values a state machine
   * reads, a lookup in LevelDB's memtable and block cache costs less than the round trip through
   * libuv's thread pool that an asynchronous get takes, and it is on the path of every request.
   */
  async read(key: Uint8Array): Promise<Uint8Array | undefined> {
    let value: Uint8Array | undefined;
    try {
      value = this.#db.getSync(prefixed(key));
    } catch (cause) {
      throw new StorageError('STORAGE_FAILED', `cannot read from the key-value database at ${this.location}`, { cause });
    }
    return value === undefined ? undefined : plainBytes(value);
  }

  async range(range: KvEngineRange): Promise<KvEngineEntry[]> {
    const entries: KvEngineEntry[] = [];
    const iterator = this.#db.iterator({ gte: prefixed(range.start), lt: range.end === undefined ? DATA_END : prefixed(range.end), reverse: range.reverse ?? false, limit: range.limit });
    try {
      for await (const [key, value] of iterator) entries.push({ key: plainBytes(key).slice(1), value: plainBytes(value) });
    } finally {
      await iterator.close();
    }
    return entries;
  }

  async write(writes: readonly KvEngineWrite[], appliedIndex: number): Promise<void> {
    assert(this.#restoringIndex === undefined, 'write during an unfinished snapshot restore');
    assert(appliedIndex >= this.#appliedIndex, 'the applied index never moves back', { appliedIndex, current: this.#appliedIndex });
    const operations: BatchOperation[] = writes.map((write) => (write.type === 'put' ? { type: 'put', key: prefixed(write.key), value: write.value } : { type: 'del', key: prefixed(write.key) }));
    operations.push({ type: 'put', key: META_APPLIED, value: encodeIndex(appliedIndex) });
    await this.#db.batch(operations);
    this.#appliedIndex = appliedIndex;
  }

  /**
   * Reads the whole state from one consistent view (one LevelDB iterator, one implicit snapshot):
   * first `onIndex(appliedIndex)` once, then `onPair` for every pair in key order (keys as raw UTF-8
   * bytes). Snapshots and digests are built from this. The metadata keys sort before the data, so the
   * index is known before the first pair.
   */
  async exportState(visitor: StateVisitor): Promise<number> {
    const iterator = this.#db.iterator({ lt: DATA_END });
    let appliedIndex = 0;
    let announced = false;
    try {
      for await (const [key, value] of iterator) {
        if (key[0] === DATA_PREFIX) {
          if (!announced) await visitor.onIndex(appliedIndex);
          announced = true;
          await visitor.onPair({ key: key.subarray(1), value });
        } else if (bytesEqual(key, META_APPLIED)) {
          appliedIndex = decodeIndex(value);
        } else if (bytesEqual(key, META_RESTORING)) {
          throw new StorageError('STORAGE_INCONSISTENT', 'cannot export a state whose snapshot restore is unfinished');
        }
      }
      if (!announced) await visitor.onIndex(appliedIndex);
    } finally {
      await iterator.close();
    }
    return appliedIndex;
  }

  /** Starts replacing the whole state with a snapshot's: marks the restore and clears the data. */
  async beginRestore(index: number): Promise<void> {
    await this.#db.batch([
      { type: 'put', key: META_RESTORING, value: encodeIndex(index) },
      { type: 'del', key: META_APPLIED },
    ]);
    this.#restoringIndex = index;
    this.#appliedIndex = 0;
    await this.#db.clear({ gte: DATA_START, lt: DATA_END });
  }

  /** Loads snapshot pairs during a restore. */
  async loadPairs(pairs: ReadonlyArray<{ key: Uint8Array; value: Uint8Array }>): Promise<void> {
    assert(this.#restoringIndex !== undefined, 'loadPairs outside a restore');
    await this.#db.batch(pairs.map((pair) => ({ type: 'put' as const, key: prefixed(pair.key), value: pair.value })));
  }

  /** Ends a restore: the state is the snapshot's, at its index. */
  async finishRestore(): Promise<void> {
    const index = this.#restoringIndex;
    assert(index !== undefined, 'finishRestore outside a restore');
    await this.#db.batch([
      { type: 'put', key: META_APPLIED, value: encodeIndex(index) },
      { type: 'del', key: META_RESTORING },
    ]);
    this.#restoringIndex = undefined;
    this.#appliedIndex = index;
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  /** Current values of every key the entries read, for executing them without awaiting per entry. */
  async #prefetch(entries: readonly IndexedCommand[]): Promise<Map<string, Uint8Array | null>> {
    const keys = [...new Set(entries.flatMap((entry) => keysRead(entry.command)))];
    const values = new Map<string, Uint8Array | null>();
    if (keys.length === 0) return values;
    const found = await this.#db.getMany(keys.map(dataKey));
    keys.forEach((key, position) => {
      const value = found[position];
      values.set(key, value === undefined ? null : plainBytes(value));
    });
    return values;
  }
}

/** The LevelDB range of a scan, or undefined when it is empty. */
function scanRange(options: ScanOptions): { gte: Uint8Array; lt: Uint8Array } | undefined {
  let lower: Uint8Array = DATA_START;
  let upper: Uint8Array = DATA_END;
  if (options.prefix !== undefined) {
    lower = dataKey(options.prefix);
    upper = prefixEnd(lower);
  }
  if (options.start !== undefined && compareBytes(dataKey(options.start), lower) > 0) lower = dataKey(options.start);
  if (options.end !== undefined && compareBytes(dataKey(options.end), upper) < 0) upper = dataKey(options.end);
  return compareBytes(lower, upper) < 0 ? { gte: lower, lt: upper } : undefined;
}

/** The smallest byte string greater than every string starting with `prefix`. */
function prefixEnd(prefix: Uint8Array): Uint8Array {
  let length = prefix.length;
  while (length > 0 && prefix[length - 1] === 0xff) length -= 1;
  if (length === 0) return DATA_END;
  const end = prefix.slice(0, length);
  end[length - 1] = end[length - 1]! + 1;
  return end;
}

/** A plain Uint8Array view of bytes that LevelDB (or CBOR) handed back as a Buffer, so results compare and encode alike. */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function dataKey(key: string): Uint8Array {
  return prefixed(encoder.encode(key));
}

function prefixed(key: Uint8Array): Uint8Array {
  const result = new Uint8Array(key.length + 1);
  result[0] = DATA_PREFIX;
  result.set(key, 1);
  return result;
}

function decodeDataKey(key: Uint8Array): string {
  return decoder.decode(key.subarray(1));
}

function encodeIndex(index: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(index));
  return bytes;
}

function decodeIndex(bytes: Uint8Array): number {
  if (bytes.length !== 8) throw new StorageError('STORAGE_INCONSISTENT', `a stored index has ${bytes.length} bytes, expected 8`);
  return Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0));
}

function compareBytes(left: Uint8Array, right: Uint8Array): number {
  const length = Math.min(left.length, right.length);
  for (let position = 0; position < length; position += 1) {
    if (left[position] !== right[position]) return left[position]! - right[position]!;
  }
  return left.length - right.length;
}

function bytesEqual(left: Uint8Array, right: Uint8Array): boolean {
  return compareBytes(left, right) === 0;
}
