/**
 * The write-ahead log: an ordered sequence of records, each with a consecutive index, stored in segment
 * files (`<first index>.wal`, see frame.ts for the record format) in one directory.
 *
 * - **Group commit.** `append` assigns the next index at once and queues the record. One writer loop
 *   takes everything queued (up to `batchBytesMax` / `batchRecordsMax`), writes it with one positional
 *   write and one fdatasync, and only then resolves the batch's promises. Appends that arrive during a
 *   sync wait for the next batch, so N concurrent writers share one fsync.
 * - **Rotation.** A batch that would take the active segment past `segmentBytesMax` goes to a new
 *   segment; the new file's directory entry is fsynced before the batch is acknowledged.
 * - **Prefix truncation.** After a snapshot, sealed segments whose records are all covered by it are
 *   removed (oldest first, so a crash half-way leaves a contiguous suffix).
 * - **Recovery** (`Wal.open`) applies the rules of segment-scan.ts: a torn tail is cut, latent
 *   corruption is a `WalCorruptionError` naming the segment and offset.
 * - **Fail-stop.** If a write or fsync fails, the WAL does not retry: the kernel may already have dropped
 *   the unsynced pages ("fsyncgate"), so a retried fsync could report success for lost data. Every
 *   queued and later append is refused with WAL_FAILED; reopening (recovery) is the only way on.
 */
import * as path from 'node:path';
import { assert } from '../../runtime/index.js';
import { NodeDisk, type Disk, type DiskFile } from './disk.js';
import { StorageError, WalCorruptionError } from './errors.js';
import { FRAME_HEADER_BYTES, RecordType, frameBytes, readFrame, writeFrame } from './frame.js';
import { resolveStorageLimits, type StorageLimits } from './limits.js';
import { checkSegmentOrder, parseSegmentName, scanSegment, segmentName, type SegmentTail } from './segment-scan.js';

/** Options of `Wal.open`. */
export interface WalOptions {
  /** Directory holding the segment files; created if missing. */
  readonly directory: string;
  /** Defaults to the real file system. */
  readonly disk?: Disk;
  readonly limits?: Partial<StorageLimits>;
}

/** One record read back from the log. */
export interface WalEntry {
  readonly index: number;
  readonly payload: Uint8Array;
}

/** A segment as the WAL tracks it. */
export interface WalSegmentInfo {
  readonly name: string;
  readonly firstIndex: number;
  /** `firstIndex - 1` while empty. */
  readonly lastIndex: number;
  readonly bytes: number;
}

/** What recovery found when the WAL was opened. */
export interface WalRecovery {
  readonly segments: number;
  readonly records: number;
  /** The torn tail that was cut off, if any. */
  readonly tornTail?: { readonly segment: string; readonly offset: number; readonly bytes: number; readonly reason: string };
}

/** An append whose index is assigned and whose durability is pending. */
export interface AssignedAppend {
  readonly index: number;
  /** Resolves once the record is durable; rejects with WAL_FAILED / WAL_CLOSED if it never will be. */
  readonly durable: Promise<void>;
}

interface Segment {
  readonly name: string;
  readonly firstIndex: number;
  lastIndex: number;
  /** Byte offset of each record, by `index - firstIndex`. */
  readonly offsets: number[];
  /** Durable bytes: where the next batch is written. */
  bytes: number;
}

interface PendingAppend {
  readonly index: number;
  readonly payload: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Largest read the entry iterator issues at once. */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** A segmented, group-committed, crash-safe write-ahead log. Create with `Wal.open`. */
export class Wal {
  readonly directory: string;
  readonly limits: StorageLimits;
  readonly recovery: WalRecovery;
  readonly #disk: Disk;
  #segments: Segment[];
  #active: DiskFile;
  #activeNeedsDirectorySync = false;
  #nextIndex: number;
  #queue: PendingAppend[] = [];
  #queuedBytes = 0;
  #flushing = false;
  #flushScheduled = false;
  #idleWaiters: Array<() => void> = [];
  #failure: StorageError | undefined;
  #closed = false;

  private constructor(directory: string, disk: Disk, limits: StorageLimits, segments: Segment[], active: DiskFile, recovery: WalRecovery) {
    this.directory = directory;
    this.#disk = disk;
    this.limits = limits;
    this.#segments = segments;
    this.#active = active;
    this.recovery = recovery;
    this.#nextIndex = segments[segments.length - 1]!.lastIndex + 1;
  }

  /** Opens (and if needed creates) the WAL in `options.directory`, running recovery. */
  static async open(options: WalOptions): Promise<Wal> {
    const disk = options.disk ?? new NodeDisk();
    const limits = resolveStorageLimits(options.limits);
    await disk.makeDirectory(options.directory);
    const { segments, tornTail } = await recoverSegments(disk, options.directory, limits);
    if (segments.length === 0) {
      segments.push(await createSegment(disk, options.directory, 1));
    }
    const last = segments[segments.length - 1]!;
    const active = await disk.open(path.join(options.directory, last.name), 'readWrite');
    const records = segments.reduce((sum, segment) => sum + segment.offsets.length, 0);
    const recovery: WalRecovery = tornTail === undefined ? { segments: segments.length, records } : { segments: segments.length, records, tornTail };
    return new Wal(options.directory, disk, limits, segments, active, recovery);
  }

  /** Index of the oldest record still in the log (`lastIndex + 1` when it holds none). */
  get firstIndex(): number {
    const first = this.#segments[0]!;
    return first.lastIndex >= first.firstIndex ? first.firstIndex : this.lastIndex + 1;
  }

  /** Index of the newest durable record (`firstIndex - 1` when empty). */
  get lastIndex(): number {
    return this.#segments[this.#segments.length - 1]!.lastIndex;
  }

  /** The index the next `append` gets. */
  get nextIndex(): number {
    return this.#nextIndex;
  }

  /** Set once a write or fsync failed; every later append is refused with it. */
  get failure(): StorageError | undefined {
    return this.#failure;
  }

  /** The segments, oldest first. */
  segments(): WalSegmentInfo[] {
    return this.#segments.map((segment) => ({ name: segment.name, firstIndex: segment.firstIndex, lastIndex: segment.lastIndex, bytes: segment.bytes }));
  }

  /** Appends one record; resolves with its index once it is durable. */
  async append(payload: Uint8Array): Promise<number> {
    const { index, durable } = this.appendAssigned(payload);
    await durable;
    return index;
  }

  /**
   * Appends one record and returns its index at once, with a promise for its durability. Indexes are
   * given in call order, so callers that need the index before the fsync (to order work) use this.
   * Throws (synchronously) WAL_FAILED, WAL_CLOSED, RECORD_TOO_LARGE or STORAGE_BUSY.
   */
  appendAssigned(payload: Uint8Array): AssignedAppend {
    this.#checkWritable();
    if (!(payload instanceof Uint8Array)) throw new StorageError('INVALID_ARGUMENT', 'a WAL record must be a Uint8Array');
    if (payload.length > this.limits.recordBytesMax) {
      throw new StorageError('RECORD_TOO_LARGE', `record of ${payload.length} bytes exceeds ${this.limits.recordBytesMax}`, { context: { bytes: payload.length } });
    }
    if (this.#queuedBytes + payload.length > this.limits.pendingBytesMax) {
      throw new StorageError('STORAGE_BUSY', `${this.#queuedBytes} bytes already wait for the disk`, { context: { queuedBytes: this.#queuedBytes } });
    }
    const index = this.#nextIndex;
    this.#nextIndex += 1;
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const durable = new Promise<void>((onResolve, onReject) => {
      resolve = onResolve;
      reject = onReject;
    });
    this.#queue.push({ index, payload, resolve, reject });
    this.#queuedBytes += payload.length;
    this.#scheduleFlush();
    return { index, durable };
  }

  /** Reads records `[fromIndex, toIndex]` (default: to the last durable one), checking every checksum. */
  async *entries(fromIndex: number, toIndex: number = this.lastIndex): AsyncGenerator<WalEntry> {
    assert(fromIndex >= this.firstIndex, 'reading before the first index of the WAL', { fromIndex, firstIndex: this.firstIndex });
    const last = Math.min(toIndex, this.lastIndex);
    for (const segment of [...this.#segments]) {
      if (segment.lastIndex < fromIndex || segment.firstIndex > last) continue;
      yield* this.#segmentEntries(segment, Math.max(fromIndex, segment.firstIndex), Math.min(last, segment.lastIndex));
    }
  }

  /** Reads one durable record; INVALID_ARGUMENT if `index` is not in the log. */
  async read(index: number): Promise<Uint8Array> {
    if (Number.isSafeInteger(index) && index >= this.firstIndex && index <= this.lastIndex) {
      for await (const entry of this.entries(index, index)) return entry.payload;
    }
    throw new StorageError('INVALID_ARGUMENT', `index ${index} is not in the WAL [${this.firstIndex}, ${this.lastIndex}]`, { context: { index } });
  }

  /**
   * Removes the sealed segments whose records all have index `<= upToIndex` (they are covered by a
   * snapshot). The active segment is never removed. Returns the number of segments removed.
   */
  async truncatePrefix(upToIndex: number): Promise<number> {
    this.#checkWritable();
    let removed = 0;
    while (this.#segments.length > 1 && this.#segments[0]!.lastIndex <= upToIndex) {
      const oldest = this.#segments[0]!;
      await this.#disk.remove(path.join(this.directory, oldest.name));
      this.#segments.shift();
      removed += 1;
    }
    if (removed > 0) await this.#disk.syncDirectory(this.directory);
    return removed;
  }

  /**
   * Drops every record and continues at `nextIndex` (a snapshot newer than the whole log was installed).
   * Waits for the batch in flight; the caller must not append concurrently.
   */
  async reset(nextIndex: number): Promise<void> {
    this.#checkWritable();
    await this.#waitIdle();
    assert(this.#queue.length === 0 && !this.#flushing, 'WAL reset while appends are pending');
    assert(Number.isSafeInteger(nextIndex) && nextIndex >= 1, 'WAL reset to an invalid index', { nextIndex });
    await this.#active.close();
    // Oldest first, so a crash half-way leaves a contiguous suffix (or nothing); the caller (the store)
    // sees a log that ends before its snapshot and resets again.
    for (const segment of this.#segments) await this.#disk.remove(path.join(this.directory, segment.name));
    await this.#disk.syncDirectory(this.directory);
    const fresh = await createSegment(this.#disk, this.directory, nextIndex);
    this.#segments = [fresh];
    this.#active = await this.#disk.open(path.join(this.directory, fresh.name), 'readWrite');
    this.#nextIndex = nextIndex;
  }

  /** Waits for queued appends to become durable (or fail), then closes. Later appends get WAL_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#waitIdle();
    await this.#active.close();
  }

  #checkWritable(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#closed) throw new StorageError('WAL_CLOSED', `the WAL in ${this.directory} is closed`);
  }

  #scheduleFlush(): void {
    if (this.#flushing || this.#flushScheduled) return;
    this.#flushScheduled = true;
    // A macrotask, so that every append made in this turn (and by continuations of the batch just
    // resolved) joins the batch.
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    while (this.#queue.length > 0 && this.#failure === undefined) {
      const batch = this.#takeBatch();
      try {
        await this.#writeBatch(batch);
      } catch (cause) {
        this.#fail(cause, batch);
        break;
      }
      for (const pending of batch) pending.resolve();
      // Let the writers just resolved queue their next appends before the next batch is cut.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#flushing = false;
    if (this.#queue.length === 0 || this.#failure !== undefined) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const waiter of waiters) waiter();
    } else {
      this.#scheduleFlush();
    }
  }

  #takeBatch(): PendingAppend[] {
    let bytes = 0;
    let count = 0;
    while (count < this.#queue.length && count < this.limits.batchRecordsMax) {
      const next = frameBytes(this.#queue[count]!.payload.length);
      if (count > 0 && bytes + next > this.limits.batchBytesMax) break;
      bytes += next;
      count += 1;
    }
    const batch = this.#queue.splice(0, count);
    for (const pending of batch) this.#queuedBytes -= pending.payload.length;
    return batch;
  }

  async #writeBatch(batch: PendingAppend[]): Promise<void> {
    const totalBytes = batch.reduce((sum, pending) => sum + frameBytes(pending.payload.length), 0);
    let segment = this.#segments[this.#segments.length - 1]!;
    if (segment.bytes > 0 && segment.bytes + totalBytes > this.limits.segmentBytesMax) segment = await this.#rotate(batch[0]!.index);
    const buffer = new Uint8Array(totalBytes);
    const offsets: number[] = [];
    const batchFirstIndex = batch[0]!.index;
    let offset = 0;
    for (const pending of batch) {
      offsets.push(segment.bytes + offset);
      offset = writeFrame(buffer, offset, { type: RecordType.entry, index: pending.index, batchPosition: pending.index - batchFirstIndex, payload: pending.payload });
    }
    await this.#active.write(buffer, segment.bytes);
    await this.#active.sync();
    if (this.#activeNeedsDirectorySync) {
      await this.#disk.syncDirectory(this.directory);
      this.#activeNeedsDirectorySync = false;
    }
    for (const recordOffset of offsets) segment.offsets.push(recordOffset);
    segment.bytes += totalBytes;
    segment.lastIndex = batch[batch.length - 1]!.index;
  }

  /** Seals the active segment (already durable) and starts a new one at `firstIndex`. */
  async #rotate(firstIndex: number): Promise<Segment> {
    await this.#active.close();
    const name = segmentName(firstIndex);
    this.#active = await this.#disk.open(path.join(this.directory, name), 'create');
    this.#activeNeedsDirectorySync = true;
    const segment: Segment = { name, firstIndex, lastIndex: firstIndex - 1, offsets: [], bytes: 0 };
    this.#segments.push(segment);
    return segment;
  }

  #fail(cause: unknown, batch: PendingAppend[]): void {
    this.#failure = new StorageError('WAL_FAILED', `the WAL in ${this.directory} stopped after a failed write or fsync; it accepts no more writes`, { cause });
    const failed = [...batch, ...this.#queue];
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const pending of failed) pending.reject(this.#failure);
  }

  async #waitIdle(): Promise<void> {
    if (!this.#flushing && !this.#flushScheduled && this.#queue.length === 0) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  async *#segmentEntries(segment: Segment, fromIndex: number, toIndex: number): AsyncGenerator<WalEntry> {
    const file = await this.#disk.open(path.join(this.directory, segment.name), 'read');
    try {
      let index = fromIndex;
      while (index <= toIndex) {
        // Read a run of whole records, up to READ_CHUNK_BYTES (at least one record).
        const start = segment.offsets[index - segment.firstIndex]!;
        let runEnd = index;
        while (runEnd < toIndex && recordEnd(segment, runEnd + 1) - start <= READ_CHUNK_BYTES) runEnd += 1;
        const bytes = await file.read(start, recordEnd(segment, runEnd) - start);
        let offset = 0;
        for (; index <= runEnd; index += 1) {
          const read = readFrame(bytes, offset, this.limits.recordBytesMax);
          if (read.kind !== 'frame' || read.frame.index !== index) {
            throw new WalCorruptionError(segment.name, start + offset, read.kind === 'frame' ? `record has index ${read.frame.index}, expected ${index}` : read.kind === 'end' ? 'record missing on re-read' : `${read.reason} on re-read`);
          }
          yield { index, payload: read.frame.payload };
          offset = read.frame.end;
        }
      }
    } finally {
      await file.close();
    }
  }
}

/** Byte offset just past record `index` of `segment`. */
function recordEnd(segment: Segment, index: number): number {
  const position = index - segment.firstIndex;
  return position + 1 < segment.offsets.length ? segment.offsets[position + 1]! : segment.bytes;
}

/** Creates an empty segment file and makes its directory entry durable. */
async function createSegment(disk: Disk, directory: string, firstIndex: number): Promise<Segment> {
  const name = segmentName(firstIndex);
  const filePath = path.join(directory, name);
  const file = await disk.open(filePath, 'create');
  await file.close();
  await disk.syncDirectory(directory);
  return { name, firstIndex, lastIndex: firstIndex - 1, offsets: [], bytes: 0 };
}

/** Reads every segment, applies the recovery rules and cuts a torn tail. */
async function recoverSegments(disk: Disk, directory: string, limits: StorageLimits): Promise<{ segments: Segment[]; tornTail?: WalRecovery['tornTail'] }> {
  const names = (await disk.list(directory))
    .map((name) => ({ name, firstIndex: parseSegmentName(name) }))
    .filter((entry): entry is { name: string; firstIndex: number } => entry.firstIndex !== undefined)
    .sort((left, right) => left.firstIndex - right.firstIndex);
  const segments: Segment[] = [];
  let tail: SegmentTail = { kind: 'clean' };
  for (const [position, entry] of names.entries()) {
    const previous = segments[segments.length - 1];
    if (previous !== undefined) {
      const gap = checkSegmentOrder({ kind: 'ok', ...previous, validBytes: previous.bytes, tail: { kind: 'clean' } }, entry);
      if (gap !== undefined) throw new WalCorruptionError(gap.name, gap.offset, gap.reason);
    }
    const bytes = await disk.readFile(path.join(directory, entry.name));
    const scan = scanSegment({ name: entry.name, bytes, firstIndex: entry.firstIndex, isLast: position === names.length - 1, payloadBytesMax: limits.recordBytesMax });
    if (scan.kind === 'corrupt') throw new WalCorruptionError(scan.name, scan.offset, scan.reason);
    segments.push({ name: scan.name, firstIndex: scan.firstIndex, lastIndex: scan.lastIndex, offsets: [...scan.offsets], bytes: scan.validBytes });
    tail = scan.tail;
  }
  if (tail.kind === 'clean') return { segments };
  const last = segments[segments.length - 1]!;
  const file = await disk.open(path.join(directory, last.name), 'readWrite');
  try {
    await file.truncate(last.bytes);
    await file.sync();
  } finally {
    await file.close();
  }
  return { segments, tornTail: { segment: last.name, offset: tail.offset, bytes: tail.bytes, reason: tail.reason } };
}

/** Bytes of framing around each WAL record, for size estimates. */
export const WAL_RECORD_OVERHEAD_BYTES = FRAME_HEADER_BYTES;
