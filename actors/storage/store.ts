/**
 * The durable key-value store: WAL + LevelDB state + snapshots in one data directory.
 *
 *   <directory>/wal/        WAL segments (the source of truth for every acknowledged write)
 *   <directory>/snapshots/  snapshot files (the state at an index; the WAL before it may be gone)
 *   <directory>/kv/         LevelDB: the state, with the applied index in the same atomic batches
 *
 * Write path: validate -> append to the WAL (index assigned in call order) -> wait for the group
 * commit's fdatasync -> apply in index order to LevelDB, together with the applied index -> resolve.
 * A write is acknowledged only after its record is durable; its result (compare-and-set outcome,
 * counter value) is the one its index decides.
 *
 * Recovery (`Store.open`): WAL recovery (torn tail cut, corruption refused), then LevelDB is brought to
 * the newest snapshot if it is behind it (or a restore was interrupted), then the WAL entries after the
 * applied index are replayed. Each entry is applied exactly once because the applied index moves in
 * the same atomic batch as the entry's effects.
 */
import * as path from 'node:path';
import { codec } from '../../runtime/index.js';
import { validateCommand, validateKey, type StoreCommand, type StoreOperation, type StoreResult } from './core.js';
import { NodeDisk, type Disk } from './disk.js';
import { StorageError } from './errors.js';
import type { StateDigest } from './kv-engine.js';
import { LevelKvEngine, plainBytes, type IndexedCommand, type StorePair, type ScanOptions } from './kv.js';
import { resolveStorageLimits, type StorageLimits } from './limits.js';
import {
  SnapshotReceiver,
  SnapshotWriter,
  isSnapshotTemp,
  listSnapshots,
  readSnapshot,
  readSnapshotChunks,
  type SnapshotChunk,
  type SnapshotInfo,
} from './snapshot.js';
import { Wal, type WalRecovery, type WalSegmentInfo } from './wal.js';

/** Options of `Store.open`. */
export interface StoreOptions {
  /** The data directory (on `disk`). */
  readonly directory: string;
  /** Disk for the WAL and snapshots; defaults to the real file system. */
  readonly disk?: Disk;
  /** Where LevelDB lives, always on the real file system; defaults to `<directory>/kv`. */
  readonly kvDirectory?: string;
  readonly limits?: Partial<StorageLimits>;
}

/** What recovery did when the store was opened. */
export interface StoreRecovery {
  readonly wal: WalRecovery;
  /** Index of the newest snapshot (0: none). */
  readonly snapshotIndex: number;
  /** Whether LevelDB was rebuilt from the snapshot (it was behind it, new, or mid-restore). */
  readonly restoredFromSnapshot: boolean;
  /** Applied index LevelDB had before replay. */
  readonly appliedBefore: number;
  /** WAL entries replayed into LevelDB. */
  readonly replayed: number;
}

/** Where the store stands, as plain data (for `storage.status` and inspectors). */
export interface StoreStatus {
  readonly appliedIndex: number;
  readonly lastAssignedIndex: number;
  readonly walFirstIndex: number;
  readonly walLastIndex: number;
  readonly segments: WalSegmentInfo[];
  readonly snapshot: { readonly name: string; readonly index: number; readonly bytes: number } | null;
  readonly pendingWrites: number;
  readonly failure: { readonly code: string; readonly message: string } | null;
}

/** The outcome of an acknowledged write: its WAL index and the result its index decided. */
export interface WriteOutcome {
  readonly index: number;
  readonly result: StoreResult;
}

interface PendingWrite {
  readonly index: number;
  readonly command: StoreCommand;
  durable: boolean;
  readonly resolve: (outcome: WriteOutcome) => void;
  readonly reject: (error: unknown) => void;
}

interface AppliedWaiter {
  readonly target: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Pairs loaded into LevelDB per batch during a snapshot restore. */
const RESTORE_BATCH_PAIRS = 1_000;

/** A crash-consistent key-value store. Create with `Store.open`. */
export class Store {
  readonly directory: string;
  readonly limits: StorageLimits;
  readonly recovery: StoreRecovery;
  readonly #disk: Disk;
  readonly #snapshotDirectory: string;
  #wal: Wal;
  readonly #kv: LevelKvEngine;
  #snapshot: SnapshotInfo | undefined;
  #pending = new Map<number, PendingWrite>();
  #lastAssigned: number;
  /** Entries after this index will never be applied (their WAL write failed). */
  #applicableLast = Number.MAX_SAFE_INTEGER;
  #applying = false;
  #waiters: AppliedWaiter[] = [];
  #failure: StorageError | undefined;
  #closed = false;
  #snapshotInFlight: Promise<SnapshotInfo> | undefined;

  private constructor(parts: { options: StoreOptions; disk: Disk; limits: StorageLimits; wal: Wal; kv: LevelKvEngine; snapshot: SnapshotInfo | undefined; recovery: StoreRecovery }) {
    this.directory = parts.options.directory;
    this.#disk = parts.disk;
    this.limits = parts.limits;
    this.#wal = parts.wal;
    this.#kv = parts.kv;
    this.#snapshot = parts.snapshot;
    this.recovery = parts.recovery;
    this.#snapshotDirectory = path.join(parts.options.directory, 'snapshots');
    this.#lastAssigned = parts.kv.appliedIndex;
  }

  /** Opens the store in `options.directory`, creating it if new, and recovers it. */
  static async open(options: StoreOptions): Promise<Store> {
    const disk = options.disk ?? new NodeDisk();
    const limits = resolveStorageLimits(options.limits);
    const snapshotDirectory = path.join(options.directory, 'snapshots');
    await disk.makeDirectory(snapshotDirectory);
    for (const name of await disk.list(snapshotDirectory)) if (isSnapshotTemp(name)) await disk.remove(path.join(snapshotDirectory, name));
    const latest = (await listSnapshots(disk, snapshotDirectory))[0];
    const snapshot = latest === undefined ? undefined : await readSnapshot(disk, path.join(snapshotDirectory, latest.name));
    const wal = await Wal.open({ directory: path.join(options.directory, 'wal'), disk, limits });
    let kv: LevelKvEngine;
    try {
      kv = await LevelKvEngine.open(options.kvDirectory ?? path.join(options.directory, 'kv'));
    } catch (error) {
      await wal.close();
      throw error;
    }
    try {
      const recovery = await recover({ disk, snapshotDirectory, wal, kv, snapshot, limits });
      return new Store({ options, disk, limits, wal, kv, snapshot, recovery });
    } catch (error) {
      await Promise.allSettled([wal.close(), kv.close()]);
      throw error;
    }
  }

  /** Index of the last write whose effects are visible to reads. */
  get appliedIndex(): number {
    return this.#kv.appliedIndex;
  }

  /** Set once the store stopped accepting writes (a failed fsync or LevelDB write). */
  get failure(): StorageError | undefined {
    return this.#failure ?? this.#wal.failure;
  }

  /**
   * Validates, logs and applies a command; resolves once it is durable and applied. Rejects with a
   * StorageError: bad input (INVALID_ARGUMENT, KEY_TOO_LARGE, VALUE_TOO_LARGE, BATCH_TOO_LARGE,
   * RECORD_TOO_LARGE), STORAGE_BUSY, STORAGE_CLOSED, WAL_FAILED or STORAGE_FAILED. A rejected write
   * was not acknowledged; after WAL_FAILED it may or may not survive a restart.
   */
  async write(input: StoreCommand): Promise<WriteOutcome> {
    this.#checkWritable();
    const validated = validateCommand(input, this.limits);
    if (!validated.ok) throw new StorageError(validated.code, validated.message);
    const command = validated.value;
    const payload = encodeCommand(command);
    const { index, durable } = this.#wal.appendAssigned(payload);
    this.#lastAssigned = index;
    return new Promise<WriteOutcome>((resolve, reject) => {
      const pending: PendingWrite = { index, command, durable: false, resolve, reject };
      this.#pending.set(index, pending);
      durable.then(
        () => {
          pending.durable = true;
          this.#drain();
        },
        (error: unknown) => this.#abandon(index, error),
      );
    });
  }

  /** Sets `key` to `value`. */
  put(key: string, value: Uint8Array): Promise<WriteOutcome> {
    return this.write({ type: 'put', key, value });
  }

  /** Removes `key` (absent keys are not an error). */
  delete(key: string): Promise<WriteOutcome> {
    return this.write({ type: 'delete', key });
  }

  /** Applies puts and deletes atomically. */
  batch(ops: readonly StoreOperation[]): Promise<WriteOutcome> {
    return this.write({ type: 'batch', ops });
  }

  /** Sets `key` to `value` only if it holds `expected` (null: absent; a null `value` deletes). */
  compareAndSet(key: string, expected: Uint8Array | null, value: Uint8Array | null): Promise<WriteOutcome> {
    return this.write({ type: 'cas', key, expected, value });
  }

  /** Adds `delta` to the decimal counter at `key`. */
  increment(key: string, delta: number): Promise<WriteOutcome> {
    return this.write({ type: 'increment', key, delta });
  }

  /** Reads `key`, after every write accepted before this call is applied (read-your-writes). */
  async get(key: string): Promise<Uint8Array | undefined> {
    this.#checkOpen();
    const checked = validateKey(key, this.limits);
    if (!checked.ok) throw new StorageError(checked.code, checked.message);
    await this.#waitApplied(this.#lastAssigned);
    return this.#kv.get(key);
  }

  /** An ordered range read (see ScanOptions); `limit` is clamped to `scanLimitMax`. */
  async scan(options: Omit<ScanOptions, 'limit'> & { readonly limit?: number }): Promise<{ entries: StorePair[]; more: boolean }> {
    this.#checkOpen();
    await this.#waitApplied(this.#lastAssigned);
    const limit = Math.min(options.limit ?? this.limits.scanLimitMax, this.limits.scanLimitMax);
    return this.#kv.scan({ ...options, limit });
  }

  /** SHA-256 over the ordered key space, after every accepted write is applied. */
  async digest(): Promise<StateDigest> {
    this.#checkOpen();
    await this.#waitApplied(this.#lastAssigned);
    return this.#kv.digest();
  }

  /** Takes a snapshot of the applied state, then drops the WAL segments it covers. */
  async snapshot(): Promise<SnapshotInfo> {
    this.#checkOpen();
    this.#snapshotInFlight ??= this.#takeSnapshot().finally(() => {
      this.#snapshotInFlight = undefined;
    });
    return this.#snapshotInFlight;
  }

  /** The newest snapshot on disk, if any. */
  latestSnapshot(): SnapshotInfo | undefined {
    return this.#snapshot;
  }

  /** The newest snapshot as chunks of raw file bytes, for another node's `installSnapshot`. */
  snapshotChunks(chunkBytes: number = this.limits.snapshotChunkBytes): AsyncGenerator<SnapshotChunk> {
    this.#checkOpen();
    const snapshot = this.#snapshot;
    if (snapshot === undefined) throw new StorageError('INVALID_ARGUMENT', 'the store has no snapshot');
    return readSnapshotChunks(this.#disk, path.join(this.#snapshotDirectory, snapshot.name), snapshot.index, chunkBytes);
  }

  /**
   * Replaces the whole state with a snapshot received as chunks (verified before it is used). The
   * snapshot must be newer than the applied state and no write may be in flight. WAL entries after the
   * snapshot that this store already holds are kept and replayed on top; otherwise the WAL restarts
   * right after the snapshot's index.
   */
  async installSnapshot(chunks: AsyncIterable<SnapshotChunk> | Iterable<SnapshotChunk>): Promise<SnapshotInfo> {
    this.#checkWritable();
    if (this.#pending.size > 0 || this.#applying) throw new StorageError('STORAGE_BUSY', 'cannot install a snapshot while writes are in flight');
    let receiver: SnapshotReceiver | undefined;
    let info: SnapshotInfo;
    try {
      for await (const chunk of chunks) {
        receiver ??= await this.#beginReceiving(chunk);
        await receiver.accept(chunk);
      }
      if (receiver === undefined) throw new StorageError('INVALID_ARGUMENT', 'no snapshot chunks');
      info = await receiver.finish();
    } catch (error) {
      await receiver?.abort();
      throw error;
    }
    this.#snapshot = info;
    await restoreFromSnapshot(this.#disk, this.#snapshotDirectory, info, this.#kv);
    await alignWal(this.#wal, info.index);
    await replay(this.#wal, this.#kv, this.limits);
    this.#lastAssigned = Math.max(this.#lastAssigned, this.#kv.appliedIndex);
    await this.#removeOldSnapshots();
    return info;
  }

  async #beginReceiving(first: SnapshotChunk): Promise<SnapshotReceiver> {
    if (typeof first !== 'object' || first === null || !Number.isSafeInteger(first.index)) throw new StorageError('INVALID_ARGUMENT', 'a snapshot chunk needs an integer index');
    if (first.index <= this.#kv.appliedIndex) {
      throw new StorageError('INVALID_ARGUMENT', `snapshot at ${first.index} is not newer than the applied index ${this.#kv.appliedIndex}`);
    }
    return SnapshotReceiver.begin(this.#disk, this.#snapshotDirectory, first.index);
  }

  /** Plain-data status. */
  status(): StoreStatus {
    const failure = this.failure;
    return {
      appliedIndex: this.#kv.appliedIndex,
      lastAssignedIndex: this.#lastAssigned,
      walFirstIndex: this.#wal.firstIndex,
      walLastIndex: this.#wal.lastIndex,
      segments: this.#wal.segments(),
      snapshot: this.#snapshot === undefined ? null : { name: this.#snapshot.name, index: this.#snapshot.index, bytes: this.#snapshot.bytes },
      pendingWrites: this.#pending.size,
      failure: failure === undefined ? null : { code: failure.code, message: failure.message },
    };
  }

  /** Refuses new writes, lets accepted ones finish (durable and applied), then closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A snapshot in flight still needs the WAL (prefix truncation); its failure was reported to its caller.
    await this.#snapshotInFlight?.catch(() => undefined);
    await this.#wal.close();
    // Failed writes were rejected to their callers already; what matters here is that no apply is in flight.
    await this.#waitApplied(this.#lastAssigned).catch(() => undefined);
    await this.#kv.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageError('STORAGE_CLOSED', `the store in ${this.directory} is closed`);
  }

  #checkWritable(): void {
    this.#checkOpen();
    const failure = this.failure;
    if (failure !== undefined) throw failure;
  }

  /** Applies durable entries in index order, in groups, one LevelDB batch per group. */
  #drain(): void {
    if (this.#applying) return;
    this.#applying = true;
    // One microtask later, so that every record of the group commit batch just made durable is marked
    // before the first apply group is cut: the batch is then applied as one LevelDB batch.
    queueMicrotask(() => void this.#applyLoop());
  }

  async #applyLoop(): Promise<void> {
    for (;;) {
      const group: PendingWrite[] = [];
      for (let index = this.#kv.appliedIndex + 1; group.length < this.limits.applyEntriesMax; index += 1) {
        const pending = this.#pending.get(index);
        if (pending === undefined || !pending.durable) break;
        group.push(pending);
      }
      if (group.length === 0) break;
      let results: StoreResult[];
      try {
        results = await this.#kv.apply(group.map((pending): IndexedCommand => ({ index: pending.index, command: pending.command })));
      } catch (cause) {
        this.#failStore(cause);
        break;
      }
      group.forEach((pending, position) => {
        this.#pending.delete(pending.index);
        pending.resolve({ index: pending.index, result: results[position]! });
      });
      this.#wakeWaiters();
    }
    this.#applying = false;
  }

  /** A WAL write failed: this entry and all later ones will never apply. */
  #abandon(index: number, error: unknown): void {
    this.#applicableLast = Math.min(this.#applicableLast, index - 1);
    const pending = this.#pending.get(index);
    this.#pending.delete(index);
    pending?.reject(error);
    this.#wakeWaiters();
  }

  #failStore(cause: unknown): void {
    this.#failure = new StorageError('STORAGE_FAILED', 'applying to the key-value engine failed; the store accepts no more writes', { cause });
    for (const pending of this.#pending.values()) pending.reject(this.#failure);
    this.#pending.clear();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(this.#failure);
  }

  async #waitApplied(target: number): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#kv.appliedIndex >= Math.min(target, this.#applicableLast)) return;
    await new Promise<void>((resolve, reject) => this.#waiters.push({ target, resolve, reject }));
  }

  #wakeWaiters(): void {
    const applied = this.#kv.appliedIndex;
    const waiting: AppliedWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (applied >= Math.min(waiter.target, this.#applicableLast)) waiter.resolve();
      else waiting.push(waiter);
    }
    this.#waiters = waiting;
  }

  async #takeSnapshot(): Promise<SnapshotInfo> {
    const writer = await SnapshotWriter.create(this.#disk, this.#snapshotDirectory);
    let info: SnapshotInfo;
    try {
      await this.#kv.exportState({ onIndex: (index) => writer.begin(index), onPair: (pair) => writer.add(pair.key, pair.value) });
      info = await writer.finish();
    } catch (error) {
      await writer.abort();
      throw error;
    }
    this.#snapshot = info;
    await this.#removeOldSnapshots();
    await this.#wal.truncatePrefix(info.index);
    return info;
  }

  async #removeOldSnapshots(): Promise<void> {
    const snapshots = await listSnapshots(this.#disk, this.#snapshotDirectory);
    const old = snapshots.slice(this.limits.snapshotsKept);
    for (const snapshot of old) await this.#disk.remove(path.join(this.#snapshotDirectory, snapshot.name));
    if (old.length > 0) await this.#disk.syncDirectory(this.#snapshotDirectory);
  }
}

/** WAL payload of a command: plain CBOR. */
export function encodeCommand(command: StoreCommand): Uint8Array {
  return codec.encode(command);
}

/** Decodes and validates a WAL payload. A record that passed its checksum but is not a command is a bug or a foreign file. */
export function decodeCommand(payload: Uint8Array, index: number, limits: StorageLimits): StoreCommand {
  let decoded: unknown;
  try {
    decoded = codec.decode(payload);
  } catch (cause) {
    throw new StorageError('STORAGE_INCONSISTENT', `WAL record ${index} is not a valid command`, { cause, context: { index } });
  }
  const validated = validateCommand(normaliseBytes(decoded), limits);
  if (!validated.ok) throw new StorageError('STORAGE_INCONSISTENT', `WAL record ${index} is not a valid command: ${validated.message}`, { context: { index } });
  return validated.value;
}

/** Turns the Buffers a CBOR decoder returns into plain Uint8Arrays, so replayed commands equal the originals. */
function normaliseBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return plainBytes(value);
  if (Array.isArray(value)) return value.map(normaliseBytes);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, normaliseBytes(item)]));
  }
  return value;
}

interface RecoveryParts {
  readonly disk: Disk;
  readonly snapshotDirectory: string;
  readonly wal: Wal;
  readonly kv: LevelKvEngine;
  readonly snapshot: SnapshotInfo | undefined;
  readonly limits: StorageLimits;
}

/** Brings LevelDB up to the snapshot if needed, checks the pieces fit, and replays the WAL. */
async function recover(parts: RecoveryParts): Promise<StoreRecovery> {
  const { wal, kv, snapshot } = parts;
  const snapshotIndex = snapshot?.index ?? 0;
  const appliedBefore = kv.appliedIndex;
  let restoredFromSnapshot = false;
  if (kv.restoringIndex !== undefined || kv.appliedIndex < snapshotIndex) {
    if (snapshot === undefined) throw new StorageError('STORAGE_INCONSISTENT', 'LevelDB holds an unfinished snapshot restore but no snapshot exists');
    await restoreFromSnapshot(parts.disk, parts.snapshotDirectory, snapshot, kv);
    restoredFromSnapshot = true;
  }
  if (kv.appliedIndex === snapshotIndex && snapshotIndex > 0) {
    await alignWal(wal, snapshotIndex);
  }
  if (wal.lastIndex < kv.appliedIndex) {
    throw new StorageError('STORAGE_INCONSISTENT', `LevelDB has applied index ${kv.appliedIndex} but the WAL ends at ${wal.lastIndex}`, {
      context: { appliedIndex: kv.appliedIndex, walLastIndex: wal.lastIndex },
    });
  }
  if (wal.firstIndex > kv.appliedIndex + 1) {
    throw new StorageError('STORAGE_INCONSISTENT', `the WAL starts at ${wal.firstIndex} but LevelDB has applied only up to ${kv.appliedIndex}`, {
      context: { appliedIndex: kv.appliedIndex, walFirstIndex: wal.firstIndex },
    });
  }
  const replayed = await replay(wal, kv, parts.limits);
  return { wal: wal.recovery, snapshotIndex, restoredFromSnapshot, appliedBefore, replayed };
}

/** Restarts the WAL right after a snapshot when it does not continue from it. */
async function alignWal(wal: Wal, snapshotIndex: number): Promise<void> {
  const continuesSnapshot = wal.firstIndex <= snapshotIndex + 1 && wal.lastIndex >= snapshotIndex;
  if (!continuesSnapshot) await wal.reset(snapshotIndex + 1);
}

/** Replaces LevelDB's state with a snapshot's, resumable if a crash interrupts it. */
async function restoreFromSnapshot(disk: Disk, snapshotDirectory: string, snapshot: SnapshotInfo, kv: LevelKvEngine): Promise<void> {
  await kv.beginRestore(snapshot.index);
  let batch: Array<{ key: Uint8Array; value: Uint8Array }> = [];
  await readSnapshot(disk, path.join(snapshotDirectory, snapshot.name), async (key, value) => {
    batch.push({ key, value });
    if (batch.length >= RESTORE_BATCH_PAIRS) {
      await kv.loadPairs(batch);
      batch = [];
    }
  });
  if (batch.length > 0) await kv.loadPairs(batch);
  await kv.finishRestore();
}

/** Applies the WAL entries after LevelDB's applied index; returns how many. */
async function replay(wal: Wal, kv: LevelKvEngine, limits: StorageLimits): Promise<number> {
  let replayed = 0;
  let group: IndexedCommand[] = [];
  if (wal.lastIndex <= kv.appliedIndex) return 0;
  for await (const entry of wal.entries(kv.appliedIndex + 1)) {
    group.push({ index: entry.index, command: decodeCommand(entry.payload, entry.index, limits) });
    if (group.length >= limits.applyEntriesMax) {
      await kv.apply(group);
      replayed += group.length;
      group = [];
    }
  }
  if (group.length > 0) await kv.apply(group);
  return replayed + group.length;
}
