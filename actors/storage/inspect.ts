/**
 * Read-only inspection of a data directory, for `troupe storage inspect|verify <dir>`. Nothing here
 * writes: a torn tail is reported, not cut (the next `Store.open` cuts it), and LevelDB is not opened
 * (a running node holds its lock). Results are plain data, ready to print as JSON.
 */
import * as path from 'node:path';
import { NodeDisk, type Disk } from './disk.js';
import { isStorageError } from './errors.js';
import { FRAME_HEADER_BYTES, RecordType } from './frame.js';
import { resolveStorageLimits } from './limits.js';
import { checkSegmentOrder, parseSegmentName, scanSegment, type ScannedSegment } from './segment-scan.js';
import { isSnapshotTemp, listSnapshots, readSnapshot } from './snapshot.js';

/** One WAL segment as found on disk. */
export interface SegmentInspection {
  readonly name: string;
  readonly firstIndex: number;
  /** `firstIndex - 1` when it holds no valid record. */
  readonly lastIndex: number;
  readonly records: number;
  readonly bytes: number;
  /**
   * `torn-tail`: ends in a partial write that the next open cuts; `corrupt`: refuses to open;
   * `not-a-segment`: holds bytes but no valid record, and does not even start like one (overwritten).
   */
  readonly status: 'ok' | 'torn-tail' | 'corrupt' | 'not-a-segment';
  /** For `torn-tail` and `corrupt`: where and why. */
  readonly problem?: { readonly offset: number; readonly reason: string };
}

/** What `inspectStorage` reports. */
export interface StorageInspection {
  readonly directory: string;
  readonly wal: {
    readonly segments: SegmentInspection[];
    /** Null when the WAL holds no record. */
    readonly firstIndex: number | null;
    readonly lastIndex: number | null;
    readonly records: number;
  };
  /** Snapshot files, newest first. */
  readonly snapshots: Array<{ readonly name: string; readonly index: number; readonly bytes: number }>;
  readonly latestSnapshot: { readonly name: string; readonly index: number; readonly bytes: number } | null;
}

/** One problem `verifyStorage` found. Errors stop the store from opening; warnings are repaired on open. */
export interface StorageProblem {
  readonly severity: 'error' | 'warning';
  readonly code:
    | 'NOT_FOUND' | 'NOT_A_SEGMENT' | 'WAL_CORRUPT' | 'WAL_GAP' | 'TORN_TAIL' | 'SNAPSHOT_CORRUPT' | 'SNAPSHOT_GAP' | 'LEFTOVER_TEMP_FILE' | 'UNREADABLE';
  readonly message: string;
  readonly file?: string;
  readonly offset?: number;
}

/** What `verifyStorage` reports: `ok` is false when any problem is an error. */
export interface StorageVerification {
  readonly directory: string;
  readonly ok: boolean;
  readonly problems: StorageProblem[];
  readonly checked: { readonly segments: number; readonly records: number; readonly snapshots: number };
}

/** Lists the WAL segments (with record counts and tail state) and the snapshots of a data directory. */
export async function inspectStorage(directory: string, options: { disk?: Disk } = {}): Promise<StorageInspection> {
  const disk = options.disk ?? new NodeDisk();
  const segments = await inspectSegments(disk, path.join(directory, 'wal'));
  const withRecords = segments.filter((segment) => segment.records > 0);
  const snapshots: StorageInspection['snapshots'] = [];
  const snapshotDirectory = path.join(directory, 'snapshots');
  if (await disk.exists(snapshotDirectory)) {
    for (const snapshot of await listSnapshots(disk, snapshotDirectory)) {
      const bytes = (await disk.readFile(path.join(snapshotDirectory, snapshot.name))).length;
      snapshots.push({ name: snapshot.name, index: snapshot.index, bytes });
    }
  }
  return {
    directory,
    wal: {
      segments,
      firstIndex: withRecords[0]?.firstIndex ?? null,
      lastIndex: withRecords[withRecords.length - 1]?.lastIndex ?? null,
      records: segments.reduce((sum, segment) => sum + segment.records, 0),
    },
    snapshots,
    latestSnapshot: snapshots[0] ?? null,
  };
}

/** Checks every WAL record and every snapshot checksum, and that the snapshots and the WAL fit together. */
export async function verifyStorage(directory: string, options: { disk?: Disk } = {}): Promise<StorageVerification> {
  const disk = options.disk ?? new NodeDisk();
  const problems: StorageProblem[] = [];
  // A directory that is not there is an error, not an empty store: a mistyped path must not pass.
  if (!(await disk.exists(directory))) {
    problems.push({ severity: 'error', code: 'NOT_FOUND', message: `no such directory: ${directory}` });
    return { directory, ok: false, problems, checked: { segments: 0, records: 0, snapshots: 0 } };
  }
  let segments: SegmentInspection[] = [];
  const walDirectory = path.join(directory, 'wal');
  try {
    segments = await inspectSegments(disk, walDirectory);
    for (const name of await strayFiles(disk, walDirectory)) {
      problems.push({ severity: 'error', code: 'NOT_A_SEGMENT', message: 'a file in the WAL directory whose name is not a segment name', file: name });
    }
  } catch (error) {
    problems.push({ severity: 'error', code: 'UNREADABLE', message: `cannot read the WAL: ${describe(error)}` });
  }
  for (const segment of segments) {
    if (segment.problem === undefined) continue;
    const code = segment.status === 'torn-tail' ? 'TORN_TAIL' : segment.status === 'not-a-segment' ? 'NOT_A_SEGMENT'
      : segment.problem.offset === 0 && segment.problem.reason.startsWith('segment starts') ? 'WAL_GAP' : 'WAL_CORRUPT';
    problems.push({ severity: segment.status === 'torn-tail' ? 'warning' : 'error', code, message: segment.problem.reason, file: segment.name, offset: segment.problem.offset });
  }
  const snapshotDirectory = path.join(directory, 'snapshots');
  let newestValid: number | undefined;
  let snapshotCount = 0;
  if (await disk.exists(snapshotDirectory)) {
    for (const name of await disk.list(snapshotDirectory)) {
      if (isSnapshotTemp(name)) problems.push({ severity: 'warning', code: 'LEFTOVER_TEMP_FILE', message: 'an interrupted snapshot write left a temp file', file: name });
    }
    for (const snapshot of await listSnapshots(disk, snapshotDirectory)) {
      snapshotCount += 1;
      try {
        const info = await readSnapshot(disk, path.join(snapshotDirectory, snapshot.name));
        if (info.index !== snapshot.index) throw new Error(`header covers ${info.index}, name says ${snapshot.index}`);
        newestValid ??= info.index;
      } catch (error) {
        problems.push({ severity: 'error', code: 'SNAPSHOT_CORRUPT', message: describe(error), file: snapshot.name });
      }
    }
  }
  // The oldest segment's name says where the log starts, even if the segment is damaged or empty.
  const firstIndex = segments[0]?.firstIndex;
  if (firstIndex !== undefined && firstIndex > (newestValid ?? 0) + 1) {
    problems.push({ severity: 'error', code: 'SNAPSHOT_GAP', message: `the WAL starts at ${firstIndex} but no snapshot covers the entries before it (newest: ${newestValid ?? 'none'})` });
  }
  return {
    directory,
    ok: problems.every((problem) => problem.severity !== 'error'),
    problems,
    checked: { segments: segments.length, records: segments.reduce((sum, segment) => sum + segment.records, 0), snapshots: snapshotCount },
  };
}

/** Scans every segment with the recovery rules, without repairing anything. */
async function inspectSegments(disk: Disk, walDirectory: string): Promise<SegmentInspection[]> {
  if (!(await disk.exists(walDirectory))) return [];
  const limits = resolveStorageLimits();
  const names = (await disk.list(walDirectory))
    .map((name) => ({ name, firstIndex: parseSegmentName(name) }))
    .filter((entry): entry is { name: string; firstIndex: number } => entry.firstIndex !== undefined)
    .sort((left, right) => left.firstIndex - right.firstIndex);
  const result: SegmentInspection[] = [];
  let previous: ScannedSegment | undefined;
  for (const [position, entry] of names.entries()) {
    const bytes = await disk.readFile(path.join(walDirectory, entry.name));
    const gap = previous === undefined ? undefined : checkSegmentOrder(previous, entry);
    const scan = scanSegment({ name: entry.name, bytes, firstIndex: entry.firstIndex, isLast: position === names.length - 1, payloadBytesMax: limits.recordBytesMax });
    if (scan.kind === 'corrupt') {
      result.push({ name: entry.name, firstIndex: entry.firstIndex, lastIndex: entry.firstIndex - 1, records: 0, bytes: bytes.length, status: 'corrupt', problem: { offset: scan.offset, reason: scan.reason } });
      previous = undefined;
      continue;
    }
    const base = { name: entry.name, firstIndex: entry.firstIndex, lastIndex: scan.lastIndex, records: scan.offsets.length, bytes: bytes.length };
    if (gap !== undefined) result.push({ ...base, status: 'corrupt', problem: { offset: 0, reason: gap.reason } });
    else if (scan.tail.kind === 'torn' && scan.offsets.length === 0 && !startsLikeRecord(bytes, entry.firstIndex)) {
      result.push({ ...base, status: 'not-a-segment', problem: { offset: 0, reason: `holds ${bytes.length} bytes but no valid record, and its first bytes are not a record header (${scan.tail.reason})` } });
    } else if (scan.tail.kind === 'torn') result.push({ ...base, status: 'torn-tail', problem: { offset: scan.tail.offset, reason: scan.tail.reason } });
    else result.push({ ...base, status: 'ok' });
    previous = scan;
  }
  return result;
}

/**
 * True when `bytes` begin like the header of the segment's first record (entry type, zero reserved
 * bytes, the index the name promises): a torn first write does, an overwritten file does not.
 */
function startsLikeRecord(bytes: Uint8Array, firstIndex: number): boolean {
  if (bytes.length < FRAME_HEADER_BYTES) return bytes.length > 0 && bytes.length <= 8;
  if (bytes[8] !== RecordType.entry || bytes[9] !== 0 || bytes[10] !== 0 || bytes[11] !== 0) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(20, true) * 0x1_0000_0000 + view.getUint32(16, true) === firstIndex;
}

/** Files in the WAL directory that are not segments (anything but segment names is foreign there). */
async function strayFiles(disk: Disk, walDirectory: string): Promise<string[]> {
  if (!(await disk.exists(walDirectory))) return [];
  return (await disk.list(walDirectory)).filter((name) => parseSegmentName(name) === undefined);
}

function describe(error: unknown): string {
  if (isStorageError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
