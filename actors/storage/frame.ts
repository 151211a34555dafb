/**
 * Record framing shared by WAL segments and snapshot files. Pure: bytes in, bytes out, no I/O.
 *
 * One frame, little-endian, 24 header bytes then the payload:
 *
 *   offset  size  field
 *   0       4     payload length
 *   4       4     CRC32C over bytes [0, 4) and [8, 24 + length): length, type, position and index
 *                 are covered as well as the payload, so a damaged header is caught like damaged data
 *   8       1     record type (RecordType)
 *   9       3     reserved, zero (a cheap first filter when searching damaged bytes for frames)
 *   12      4     position of this record in its group-commit batch (0 for the first)
 *   16      8     index (a safe integer; consecutive within a segment)
 *
 * The batch position lets recovery tell a torn tail from latent corruption: the first index of the
 * batch a record belongs to is `index - position`, and a batch is only written after the previous one
 * is durable (see `scanSegment`).
 */
import { crc32c } from './crc32c.js';

/** Header bytes in front of every payload. */
export const FRAME_HEADER_BYTES = 24;

/** Kinds of record. WAL segments hold entries; snapshot files hold the other three. */
export const RecordType = {
  entry: 1,
  snapshotHeader: 2,
  snapshotData: 3,
  snapshotTrailer: 4,
} as const;

/** A record type value. */
export type RecordTypeValue = (typeof RecordType)[keyof typeof RecordType];

const RECORD_TYPES = new Set<number>(Object.values(RecordType));

/** One decoded record. `payload` is a view into the scanned bytes, not a copy. */
export interface Frame {
  readonly type: RecordTypeValue;
  readonly index: number;
  readonly batchPosition: number;
  readonly payload: Uint8Array;
  /** Byte offset of the frame's header in the scanned bytes. */
  readonly offset: number;
  /** Byte offset just past the frame. */
  readonly end: number;
}

/** What the next bytes hold: a valid frame, the exact end, too few bytes, or bytes that fail a check. */
export type FrameRead =
  | { readonly kind: 'frame'; readonly frame: Frame }
  | { readonly kind: 'end' }
  | { readonly kind: 'truncated'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly reason: string };

/** Fields of a frame to encode. */
export interface FrameFields {
  readonly type: RecordTypeValue;
  readonly index: number;
  readonly batchPosition: number;
  readonly payload: Uint8Array;
}

/** Encoded size of a frame with a payload of `payloadBytes`. */
export function frameBytes(payloadBytes: number): number {
  return FRAME_HEADER_BYTES + payloadBytes;
}

/** Writes one frame into `target` at `offset`; returns the offset just past it. */
export function writeFrame(target: Uint8Array, offset: number, fields: FrameFields): number {
  const { payload } = fields;
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setUint32(offset, payload.length, true);
  target[offset + 8] = fields.type;
  target[offset + 9] = 0;
  target[offset + 10] = 0;
  target[offset + 11] = 0;
  view.setUint32(offset + 12, fields.batchPosition, true);
  writeUint64(view, offset + 16, fields.index);
  target.set(payload, offset + FRAME_HEADER_BYTES);
  const end = offset + FRAME_HEADER_BYTES + payload.length;
  view.setUint32(offset + 4, frameChecksum(target, offset, end), true);
  return end;
}

/** Encodes one frame into a new buffer. */
export function encodeFrame(fields: FrameFields): Uint8Array {
  const target = new Uint8Array(frameBytes(fields.payload.length));
  writeFrame(target, 0, fields);
  return target;
}

/**
 * Reads the frame at `offset`. Checks, in order: enough bytes for a header, reserved bytes zero, a
 * known type, a length within `payloadBytesMax`, enough bytes for the payload, the checksum.
 */
export function readFrame(bytes: Uint8Array, offset: number, payloadBytesMax: number): FrameRead {
  if (offset === bytes.length) return { kind: 'end' };
  if (bytes.length - offset < FRAME_HEADER_BYTES) return { kind: 'truncated', reason: `${bytes.length - offset} bytes, less than a frame header` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(offset, true);
  if (bytes[offset + 9] !== 0 || bytes[offset + 10] !== 0 || bytes[offset + 11] !== 0) return { kind: 'invalid', reason: 'reserved header bytes are not zero' };
  const type = bytes[offset + 8]!;
  if (!RECORD_TYPES.has(type)) return { kind: 'invalid', reason: `unknown record type ${type}` };
  if (length > payloadBytesMax) return { kind: 'invalid', reason: `payload length ${length} exceeds ${payloadBytesMax}` };
  const end = offset + FRAME_HEADER_BYTES + length;
  if (end > bytes.length) return { kind: 'truncated', reason: `payload of ${length} bytes runs past the end` };
  const stored = view.getUint32(offset + 4, true);
  if (stored !== frameChecksum(bytes, offset, end)) return { kind: 'invalid', reason: 'checksum mismatch' };
  const index = readUint64(view, offset + 16);
  if (index === undefined) return { kind: 'invalid', reason: 'index is not a safe integer' };
  const frame: Frame = {
    type: type as RecordTypeValue,
    index,
    batchPosition: view.getUint32(offset + 12, true),
    payload: bytes.subarray(offset + FRAME_HEADER_BYTES, end),
    offset,
    end,
  };
  return { kind: 'frame', frame };
}

/** CRC32C over the length field and everything after the checksum field. */
function frameChecksum(bytes: Uint8Array, offset: number, end: number): number {
  const partial = crc32c(bytes, 0, offset, offset + 4);
  return crc32c(bytes, partial, offset + 8, end);
}

function writeUint64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % 0x1_0000_0000, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

function readUint64(view: DataView, offset: number): number | undefined {
  const high = view.getUint32(offset + 4, true);
  if (high > 0x1f_ffff) return undefined;
  return high * 0x1_0000_0000 + view.getUint32(offset, true);
}
