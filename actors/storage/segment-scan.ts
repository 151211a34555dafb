/**
 * Recovery rules for WAL segments, as pure functions over bytes (no I/O), so they can be tested on any
 * byte pattern and shared by the WAL, `inspectStorage` and `verifyStorage`.
 *
 * A crash can only damage the bytes of the last group-commit batch: the WAL writes a batch, fdatasyncs
 * it, and only then writes the next one, and it starts a new segment only after the previous one is
 * durable. So, like etcd's WAL and hashicorp's raft-wal, recovery separates two cases:
 *
 * - **Torn tail** (repaired): the first bad record is in the last segment and nothing written after it
 *   belongs to a later batch. It is the unfinished write of the last batch, which was never
 *   acknowledged; the segment is cut back to the last valid record.
 * - **Latent corruption** (a typed startup error, never skipped): the bad record is in a sealed segment,
 *   or a valid record of a *later* batch follows it. That later batch could only have been written
 *   after the bad record's batch was durable, so the bad record was once good and the disk damaged it.
 *
 * The batch a record belongs to is recorded in its frame (`index - batchPosition` is the batch's first
 * index), which is what lets the search below tell "a later record of the same torn batch" (possible
 * when a disk persists sectors out of order) from "a record of a later batch".
 *
 * A limit that every WAL shares: damage inside the final batch itself cannot be told apart from a torn
 * write, so it is treated as one and cut.
 */
import { FRAME_HEADER_BYTES, RecordType, readFrame, type Frame } from './frame.js';

/** Digits in a segment file name: enough for any safe integer index. */
const SEGMENT_NAME_DIGITS = 20;
const SEGMENT_SUFFIX = '.wal';

/** File name of the segment whose first record has `firstIndex`, e.g. `00000000000000000001.wal`. */
export function segmentName(firstIndex: number): string {
  return `${String(firstIndex).padStart(SEGMENT_NAME_DIGITS, '0')}${SEGMENT_SUFFIX}`;
}

/** The first index a segment file name promises, or undefined if the name is not a segment's. */
export function parseSegmentName(name: string): number | undefined {
  if (name.length !== SEGMENT_NAME_DIGITS + SEGMENT_SUFFIX.length || !name.endsWith(SEGMENT_SUFFIX)) return undefined;
  const digits = name.slice(0, SEGMENT_NAME_DIGITS);
  if (!/^[0-9]+$/.test(digits)) return undefined;
  const firstIndex = Number(digits);
  return Number.isSafeInteger(firstIndex) && firstIndex >= 1 ? firstIndex : undefined;
}

/** How a segment ends: exactly at a record boundary, or with a torn tail that recovery cuts off. */
export type SegmentTail =
  | { readonly kind: 'clean' }
  | { readonly kind: 'torn'; readonly offset: number; readonly bytes: number; readonly reason: string };

/** A segment that passed recovery. `offsets[i]` is the byte offset of record `firstIndex + i`. */
export interface ScannedSegment {
  readonly kind: 'ok';
  readonly name: string;
  readonly firstIndex: number;
  /** `firstIndex - 1` when the segment holds no record. */
  readonly lastIndex: number;
  readonly offsets: readonly number[];
  /** Bytes up to the end of the last valid record. */
  readonly validBytes: number;
  readonly tail: SegmentTail;
}

/** A segment that failed recovery: where and why. */
export interface CorruptSegment {
  readonly kind: 'corrupt';
  readonly name: string;
  readonly offset: number;
  readonly reason: string;
}

/** What scanning one segment gives. */
export type SegmentScan = ScannedSegment | CorruptSegment;

/** Input of `scanSegment`. */
export interface SegmentScanInput {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** The index the segment's first record must have (from its file name). */
  readonly firstIndex: number;
  /** Only the last segment may have a torn tail. */
  readonly isLast: boolean;
  readonly payloadBytesMax: number;
}

/** Reads a segment's records in order and applies the torn-tail / corruption rules above. */
export function scanSegment(input: SegmentScanInput): SegmentScan {
  const { name, bytes, firstIndex, isLast, payloadBytesMax } = input;
  const offsets: number[] = [];
  let offset = 0;
  let expected = firstIndex;
  for (;;) {
    const read = readFrame(bytes, offset, payloadBytesMax);
    if (read.kind === 'end') return { kind: 'ok', name, firstIndex, lastIndex: expected - 1, offsets, validBytes: offset, tail: { kind: 'clean' } };
    if (read.kind === 'frame') {
      const frame = read.frame;
      // A record with a valid checksum but the wrong place in the sequence is never a torn write.
      if (frame.type !== RecordType.entry) return { kind: 'corrupt', name, offset, reason: `record type ${frame.type} in a WAL segment` };
      if (frame.index !== expected) return { kind: 'corrupt', name, offset, reason: `record has index ${frame.index}, expected ${expected}` };
      if (frame.batchPosition >= frame.index) return { kind: 'corrupt', name, offset, reason: `batch position ${frame.batchPosition} of record ${frame.index}` };
      offsets.push(offset);
      expected += 1;
      offset = frame.end;
      continue;
    }
    if (!isLast) return { kind: 'corrupt', name, offset, reason: `${read.reason} in a sealed segment` };
    const later = findLaterBatchFrame(bytes, offset + 1, expected - 1, payloadBytesMax);
    if (later !== undefined) {
      return { kind: 'corrupt', name, offset, reason: `${read.reason}, followed by record ${later.index} of a later batch at byte ${later.offset}` };
    }
    const tail: SegmentTail = { kind: 'torn', offset, bytes: bytes.length - offset, reason: read.reason };
    return { kind: 'ok', name, firstIndex, lastIndex: expected - 1, offsets, validBytes: offset, tail };
  }
}

/**
 * Searches `bytes` from `start` for a valid entry frame of a batch that began after record
 * `lastGoodIndex + 1`. Cheap filters (reserved bytes, type, plausible index) run before the checksum,
 * so the search costs little even over megabytes of garbage.
 */
function findLaterBatchFrame(bytes: Uint8Array, start: number, lastGoodIndex: number, payloadBytesMax: number): Frame | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // No record can have an index further ahead than the number of frame headers that fit in the rest.
  const indexMax = lastGoodIndex + 1 + Math.ceil((bytes.length - start) / FRAME_HEADER_BYTES);
  for (let position = start; position + FRAME_HEADER_BYTES <= bytes.length; position += 1) {
    if (bytes[position + 8] !== RecordType.entry || bytes[position + 9] !== 0 || bytes[position + 10] !== 0 || bytes[position + 11] !== 0) continue;
    const index = view.getUint32(position + 20, true) * 0x1_0000_0000 + view.getUint32(position + 16, true);
    if (index <= lastGoodIndex + 1 || index > indexMax) continue;
    const batchFirstIndex = index - view.getUint32(position + 12, true);
    if (batchFirstIndex <= lastGoodIndex + 1) continue;
    const read = readFrame(bytes, position, payloadBytesMax);
    if (read.kind === 'frame') return read.frame;
  }
  return undefined;
}

/** Continuity check between consecutive segments: each must start right after the previous one ends. */
export function checkSegmentOrder(previous: ScannedSegment, next: { readonly name: string; readonly firstIndex: number }): CorruptSegment | undefined {
  if (next.firstIndex === previous.lastIndex + 1) return undefined;
  return {
    kind: 'corrupt',
    name: next.name,
    offset: 0,
    reason: `segment starts at index ${next.firstIndex} but ${previous.name} ends at ${previous.lastIndex}`,
  };
}
