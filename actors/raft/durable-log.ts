/**
 * The durable Raft log of one replica, on the storage engine's WAL and snapshot files.
 *
 *   <directory>/wal/         WAL segments: Raft records (below), each CRC-checked, group-committed
 *   <directory>/snapshots/   snapshot files (storage format, SHA-256 checked): the state at an index
 *
 * The WAL is append-only and numbers its records itself, so the Raft log is kept in it the way etcd
 * keeps its log: every record is `{ snapshot?, entries?, hardState? }`, and replay rebuilds the log
 * in record order, where entries for an index at or below the last one replace that suffix (a
 * follower overwriting a conflicting tail), a snapshot marker drops the entries it covers (or, for a
 * snapshot installed from the leader, the whole log), and the last hard state wins.
 *
 * Durability order for one Ready (core/node.ts): an installed snapshot's file first (atomic rename),
 * then its marker, the entries and the hard state as WAL records appended in that order and awaited
 * together. A torn tail keeps a prefix of those records, which is always a consistent log: the hard
 * state comes last, so a commit index never survives without the entries it covers.
 *
 * Compaction: after the replica snapshots its state at index S (file written first), a marker with
 * the current hard state is appended; once it is durable, sealed WAL segments holding only records
 * before both the marker and the record that holds entry S+1 are removed, and older snapshot files
 * are deleted.
 */
import * as path from 'node:path';
import { codec } from '../../runtime/codec.js';
import { assert } from '../../runtime/errors.js';
import { NodeDisk, SnapshotReceiver, StorageError, Wal, listSnapshots, readSnapshot, snapshotName, type Disk, type StorageLimits, type WalRecovery } from '../storage/index.js';
import { entryBytes } from './core/log.js';
import type { Entry, HardState, Snapshot, SnapshotMeta } from './core/types.js';
import { checkSnapshotMeta, checkStoredEntry } from './wire.js';

/** Options of `DurableLog.open`. */
export interface DurableLogOptions {
  /** The replica's data directory; `wal/` and `snapshots/` are created inside it. */
  readonly directory: string;
  /** The real file system by default; tests pass a disk that injects faults. */
  readonly disk?: Disk;
  readonly limits?: Partial<StorageLimits>;
}

/** What a replica finds on its disk. */
export interface RecoveredLog {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
  readonly wal: WalRecovery;
}

/** One Ready's writes, in the order they must become durable. */
export interface LogWrite {
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
}

/** A stored record. */
interface LogRecord {
  readonly snapshot?: { readonly meta: SnapshotMeta; readonly installed: boolean };
  readonly entries?: readonly Entry[];
  readonly hardState?: HardState;
}

/** Entries a WAL record still holds (the live part: later records may have replaced its tail). */
interface Span {
  readonly walIndex: number;
  readonly first: number;
  last: number;
}

/** Bytes of entries per WAL record; a larger Ready is split over several records. */
const recordEntryBytesMax = 1024 * 1024;
const emptyHardState: HardState = { term: 0, vote: null, commit: 0 };

/** A corrupt or inconsistent Raft log on disk: the replica refuses to start rather than guess. */
export class RaftLogCorruptError extends StorageError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('STORAGE_INCONSISTENT', message, { context });
  }
}

/** The Raft log of one replica on disk. Create with `DurableLog.open`. */
export class DurableLog {
  readonly directory: string;
  readonly snapshotDirectory: string;
  readonly disk: Disk;
  readonly #wal: Wal;
  #spans: Span[] = [];
  /** The hard state most recently handed to the WAL (what a compaction marker repeats). */
  #hardState: HardState;
  #snapshotIndex: number;
  /** The highest snapshot index a marker was appended for (durable or not yet). */
  #markerIndex: number;

  private constructor(directory: string, disk: Disk, wal: Wal, recovered: { spans: Span[]; hardState: HardState; snapshotIndex: number }) {
    this.directory = directory;
    this.snapshotDirectory = path.join(directory, 'snapshots');
    this.disk = disk;
    this.#wal = wal;
    this.#spans = recovered.spans;
    this.#hardState = recovered.hardState;
    this.#snapshotIndex = recovered.snapshotIndex;
    this.#markerIndex = recovered.snapshotIndex;
  }

  /** Opens (creating if missing) the log in `options.directory` and replays it. */
  static async open(options: DurableLogOptions): Promise<{ log: DurableLog; recovered: RecoveredLog }> {
    const disk = options.disk ?? new NodeDisk();
    const snapshotDirectory = path.join(options.directory, 'snapshots');
    await disk.makeDirectory(snapshotDirectory);
    for (const leftover of ['snapshot-writing.tmp', 'snapshot-receiving.tmp']) await disk.remove(path.join(snapshotDirectory, leftover));
    const wal = await Wal.open({ directory: path.join(options.directory, 'wal'), disk, ...(options.limits ? { limits: options.limits } : {}) });
    let replay: Replay;
    let snapshot: Snapshot | null;
    try {
      replay = await replayWal(wal);
      snapshot = replay.snapshot === null ? null : await loadSnapshot(disk, snapshotDirectory, replay.snapshot);
    } catch (error) {
      await wal.close();
      throw error;
    }
    const log = new DurableLog(options.directory, disk, wal, { spans: replay.spans, hardState: replay.hardState, snapshotIndex: replay.snapshot?.index ?? 0 });
    await log.#removeSnapshotsBefore(replay.snapshot?.index ?? 0);
    return { log, recovered: { hardState: replay.hardState, snapshot, entries: replay.entries, wal: wal.recovery } };
  }

  /** The file that holds the snapshot covering `index`. */
  snapshotPath(index: number): string {
    return path.join(this.snapshotDirectory, snapshotName(index));
  }

  /** Index of the snapshot the log starts from (0: none). */
  get snapshotIndex(): number {
    return this.#snapshotIndex;
  }

  /** WAL segments now on disk (for inspection and tests of compaction). */
  segments(): number {
    return this.#wal.segments().length;
  }

  /**
   * Makes one Ready's writes durable, in order. A hard state that changes only the commit index is not
   * worth an fsync of its own (commit is relearned from the leader, and the state machine's applied
   * index bounds it from below on restart); it is written along with entries when there are some.
   * Resolves true when something was written.
   */
  async persist(write: LogWrite): Promise<boolean> {
    const records: LogRecord[] = [];
    if (write.snapshot !== null) {
      await this.#storeInstalledSnapshot(write.snapshot);
      records.push({ snapshot: { meta: write.snapshot.meta, installed: true } });
    }
    for (const chunk of chunkEntries(write.entries)) records.push({ entries: chunk });
    const hardState = write.hardState;
    const mustSync = hardState !== null && (hardState.term !== this.#hardState.term || hardState.vote !== this.#hardState.vote);
    if (hardState !== null && (mustSync || records.length > 0)) {
      const last = records[records.length - 1];
      if (last !== undefined && last.hardState === undefined) records[records.length - 1] = { ...last, hardState };
      else records.push({ hardState });
    }
    if (records.length === 0) return false;
    const durable = records.map((record) => this.#append(record));
    await Promise.all(durable);
    if (write.snapshot !== null && write.snapshot.meta.index > this.#snapshotIndex) {
      this.#snapshotIndex = write.snapshot.meta.index;
      await this.#removeSnapshotsBefore(this.#snapshotIndex);
    }
    return true;
  }

  /**
   * Records that the snapshot for `snapshot.meta.index` (its file already durable at `snapshotPath`)
   * now starts the log, then drops the WAL segments and snapshot files it makes unnecessary.
   */
  async compacted(snapshot: Snapshot): Promise<void> {
    const index = snapshot.meta.index;
    assert(await this.disk.exists(this.snapshotPath(index)), 'compaction marker for a snapshot without a file', { index });
    // A snapshot installed from the leader may have overtaken this one; its marker already starts the log.
    if (index <= this.#markerIndex) return;
    const holder = this.#spans.find((span) => span.last > index);
    const markerIndex = this.#wal.nextIndex;
    const durable = this.#append({ snapshot: { meta: snapshot.meta, installed: false }, hardState: this.#hardState });
    const keepFrom = Math.min(markerIndex, holder?.walIndex ?? markerIndex);
    await durable;
    this.#snapshotIndex = Math.max(this.#snapshotIndex, index);
    this.#spans = this.#spans.filter((span) => span.last > index);
    await this.#wal.truncatePrefix(keepFrom - 1);
    await this.#removeSnapshotsBefore(this.#snapshotIndex);
  }

  /** Waits for pending appends, then closes the WAL. */
  async close(): Promise<void> {
    await this.#wal.close();
  }

  #append(record: LogRecord): Promise<void> {
    const { index: walIndex, durable } = this.#wal.appendAssigned(codec.encode(record));
    if (record.snapshot !== undefined) this.#markerIndex = Math.max(this.#markerIndex, record.snapshot.meta.index);
    if (record.snapshot?.installed === true) this.#spans = [];
    if (record.entries !== undefined && record.entries.length > 0) {
      const first = record.entries[0]!.index;
      this.#spans = this.#spans.filter((span) => span.first < first);
      const tail = this.#spans[this.#spans.length - 1];
      if (tail !== undefined && tail.last >= first) tail.last = first - 1;
      this.#spans.push({ walIndex, first, last: record.entries[record.entries.length - 1]!.index });
    }
    if (record.hardState !== undefined) this.#hardState = record.hardState;
    return durable;
  }

  async #storeInstalledSnapshot(snapshot: Snapshot): Promise<void> {
    const receiver = await SnapshotReceiver.begin(this.disk, this.snapshotDirectory, snapshot.meta.index);
    try {
      await receiver.accept({ index: snapshot.meta.index, offset: 0, bytes: snapshot.data, last: true });
      await receiver.finish();
    } catch (error) {
      await receiver.abort();
      throw error;
    }
  }

  async #removeSnapshotsBefore(index: number): Promise<void> {
    let removed = false;
    for (const found of await listSnapshots(this.disk, this.snapshotDirectory)) {
      if (found.index >= index) continue;
      await this.disk.remove(path.join(this.snapshotDirectory, found.name));
      removed = true;
    }
    if (removed) await this.disk.syncDirectory(this.snapshotDirectory);
  }
}

/** Reads and verifies the snapshot file the log names. */
async function loadSnapshot(disk: Disk, snapshotDirectory: string, meta: SnapshotMeta): Promise<Snapshot> {
  const filePath = path.join(snapshotDirectory, snapshotName(meta.index));
  if (!(await disk.exists(filePath))) throw new RaftLogCorruptError(`the log names snapshot ${meta.index}, whose file is missing`, { filePath });
  const info = await readSnapshot(disk, filePath);
  if (info.index !== meta.index) throw new RaftLogCorruptError(`snapshot file ${filePath} covers ${info.index}, expected ${meta.index}`);
  return { meta, data: await disk.readFile(filePath) };
}

/** Splits entries into runs of about `recordEntryBytesMax` bytes. */
function chunkEntries(entries: readonly Entry[]): Entry[][] {
  const chunks: Entry[][] = [];
  let current: Entry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entryBytes(entry);
    if (current.length > 0 && bytes + size > recordEntryBytesMax) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

interface Replay {
  hardState: HardState;
  snapshot: SnapshotMeta | null;
  entries: Entry[];
  spans: Span[];
}

/** Rebuilds the log from the WAL's records, in order (see the module comment for the rules). */
async function replayWal(wal: Wal): Promise<Replay> {
  const replay: Replay = { hardState: emptyHardState, snapshot: null, entries: [], spans: [] };
  for await (const { index: walIndex, payload } of wal.entries(wal.firstIndex)) {
    const record = decodeRecord(payload, walIndex);
    if (record.snapshot !== undefined) replaySnapshot(replay, record.snapshot);
    if (record.entries !== undefined && record.entries.length > 0) replayEntries(replay, record.entries, walIndex);
    if (record.hardState !== undefined) replay.hardState = record.hardState;
  }
  const snapshotIndex = replay.snapshot?.index ?? 0;
  const first = replay.entries[0];
  if (first !== undefined && replay.snapshot !== null && first.index !== snapshotIndex + 1) {
    throw new RaftLogCorruptError(`the log resumes at ${first.index} after snapshot ${snapshotIndex}`);
  }
  if (first !== undefined && replay.snapshot === null && first.index !== 1) {
    throw new RaftLogCorruptError(`the log starts at ${first.index} without a snapshot`);
  }
  return replay;
}

function replaySnapshot(replay: Replay, marker: { meta: SnapshotMeta; installed: boolean }): void {
  if (replay.snapshot !== null && marker.meta.index < replay.snapshot.index) return;
  replay.snapshot = marker.meta;
  if (marker.installed) {
    // A snapshot from the leader replaced the whole log (core: log.restore).
    replay.entries = [];
    replay.spans = [];
    return;
  }
  const first = replay.entries[0];
  if (first !== undefined && first.index > marker.meta.index + 1) {
    throw new RaftLogCorruptError(`snapshot ${marker.meta.index} leaves a gap before entry ${first.index}`);
  }
  replay.entries = replay.entries.filter((entry) => entry.index > marker.meta.index);
  replay.spans = replay.spans.filter((span) => span.last > marker.meta.index);
}

function replayEntries(replay: Replay, entries: readonly Entry[], walIndex: number): void {
  const snapshotIndex = replay.snapshot?.index ?? 0;
  const live = entries.filter((entry) => entry.index > snapshotIndex);
  if (live.length === 0) return;
  const start = live[0]!.index;
  const current = replay.entries;
  const first = current[0];
  if (first === undefined || start < first.index) {
    // Nothing held yet (the WAL's prefix was truncated), or the record rewrites everything held.
    replay.entries = [...live];
  } else if (start <= first.index + current.length) {
    current.length = start - first.index;
    current.push(...live);
  } else {
    throw new RaftLogCorruptError(`WAL record ${walIndex} continues the log at ${start}, after ${first.index + current.length - 1}`);
  }
  replay.spans = replay.spans.filter((span) => span.first < start);
  const tail = replay.spans[replay.spans.length - 1];
  if (tail !== undefined && tail.last >= start) tail.last = start - 1;
  replay.spans.push({ walIndex, first: start, last: live[live.length - 1]!.index });
}

function decodeRecord(payload: Uint8Array, walIndex: number): LogRecord {
  try {
    const value = codec.decode(payload) as Record<string, unknown>;
    if (typeof value !== 'object' || value === null) throw new TypeError('record is not an object');
    const record: { -readonly [Key in keyof LogRecord]: LogRecord[Key] } = {};
    if (value.snapshot !== undefined) {
      const marker = value.snapshot as Record<string, unknown>;
      record.snapshot = { meta: checkSnapshotMeta(marker.meta), installed: marker.installed === true };
    }
    if (value.entries !== undefined) {
      if (!Array.isArray(value.entries)) throw new TypeError('entries is not an array');
      record.entries = value.entries.map(checkStoredEntry);
    }
    if (value.hardState !== undefined) record.hardState = checkHardState(value.hardState);
    return record;
  } catch (cause) {
    throw new RaftLogCorruptError(`WAL record ${walIndex} is not a Raft record: ${(cause as Error).message}`, { walIndex });
  }
}

function checkHardState(value: unknown): HardState {
  const record = value as Record<string, unknown>;
  const integer = (field: unknown): number => {
    if (typeof field !== 'number' || !Number.isSafeInteger(field) || field < 0) throw new TypeError('hard state fields must be non-negative integers');
    return field;
  };
  if (record.vote !== null && typeof record.vote !== 'string') throw new TypeError('hard state vote must be a string or null');
  return { term: integer(record.term), vote: record.vote as string | null, commit: integer(record.commit) };
}
