/**
 * Snapshot files: the whole key space at one applied index, written atomically and checked on read.
 *
 * Format: a sequence of frames (frame.ts) with a running SHA-256 over everything before the trailer:
 *   header   payload = "TROUPE-SNAPSHOT-1" + covered index (u64 LE)
 *   data...  payload = pairs, each [key length u32 LE][key UTF-8][value length u32 LE][value]
 *   trailer  payload = pair count (u64 LE) + SHA-256 of all preceding bytes (32 bytes)
 * Frame indexes count 0, 1, 2, ... so a dropped or repeated frame is caught even when its bytes are
 * intact. Each frame has its CRC32C; the trailer's SHA-256 covers the whole file.
 *
 * Atomic write: temp file, fdatasync, rename, fsync of the directory. A crash leaves either the old set
 * of snapshots or the new one, plus perhaps a temp file that startup removes.
 *
 * Streaming: a snapshot travels as raw file chunks (`readSnapshotChunks`) and is rebuilt on the other
 * side by a `SnapshotReceiver`, which verifies the whole file before installing it (Raft's
 * InstallSnapshot ships these chunks).
 */
import * as path from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Disk, DiskFile } from './disk.js';
import { StorageError } from './errors.js';
import { FRAME_HEADER_BYTES, RecordType, encodeFrame, readFrame, type Frame } from './frame.js';

const MAGIC = new TextEncoder().encode('TROUPE-SNAPSHOT-1');
/** Pairs are packed into data frames of about this size (a larger pair gets a frame of its own). */
const DATA_FRAME_BYTES = 256 * 1024;
/** Largest frame payload accepted on read: a maximal pair plus the packing slack. */
const FRAME_PAYLOAD_BYTES_MAX = 64 * 1024 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;
const NAME_PATTERN = /^snapshot-([0-9]{20})\.snap$/;
const TEMP_SUFFIX = '.tmp';

/** A durable, verified snapshot file. */
export interface SnapshotInfo {
  readonly name: string;
  readonly index: number;
  readonly bytes: number;
  readonly pairs: number;
  /** Hex SHA-256 of the file before its trailer. */
  readonly checksum: string;
}

/** One piece of a snapshot in transit. */
export interface SnapshotChunk {
  /** The WAL index the snapshot covers. */
  readonly index: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly last: boolean;
}

/** File name of the snapshot covering `index`. */
export function snapshotName(index: number): string {
  return `snapshot-${String(index).padStart(20, '0')}.snap`;
}

/** The index a snapshot file name covers, or undefined if it is not a snapshot's name. */
export function parseSnapshotName(name: string): number | undefined {
  const match = NAME_PATTERN.exec(name);
  if (match === null) return undefined;
  const index = Number(match[1]);
  return Number.isSafeInteger(index) ? index : undefined;
}

/** True for a leftover temp file of an interrupted snapshot write. */
export function isSnapshotTemp(name: string): boolean {
  return name.startsWith('snapshot-') && name.endsWith(TEMP_SUFFIX);
}

/** Snapshot file names in `directory`, newest (highest index) first. */
export async function listSnapshots(disk: Disk, directory: string): Promise<Array<{ name: string; index: number }>> {
  const found: Array<{ name: string; index: number }> = [];
  for (const name of await disk.list(directory)) {
    const index = parseSnapshotName(name);
    if (index !== undefined) found.push({ name, index });
  }
  return found.sort((left, right) => right.index - left.index);
}

/** Writes a snapshot through a temp file; `finish` makes it durable and visible atomically. */
export class SnapshotWriter {
  readonly #disk: Disk;
  readonly #directory: string;
  readonly #file: DiskFile;
  readonly #tempPath: string;
  readonly #hash = sha256.create();
  #index: number | undefined;
  #position = 0;
  #frameIndex = 0;
  #pairs = 0;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  private constructor(disk: Disk, directory: string, file: DiskFile, tempPath: string) {
    this.#disk = disk;
    this.#directory = directory;
    this.#file = file;
    this.#tempPath = tempPath;
  }

  /** Opens a temp file in `directory` (a leftover one from a crash is replaced). */
  static async create(disk: Disk, directory: string): Promise<SnapshotWriter> {
    const tempPath = path.join(directory, `snapshot-writing${TEMP_SUFFIX}`);
    await disk.remove(tempPath);
    return new SnapshotWriter(disk, directory, await disk.open(tempPath, 'create'), tempPath);
  }

  /** Starts the snapshot: the index it covers. Must come before any pair. */
  async begin(index: number): Promise<void> {
    if (this.#index !== undefined) throw new StorageError('INVALID_ARGUMENT', 'snapshot already begun');
    this.#index = index;
    const payload = new Uint8Array(MAGIC.length + 8);
    payload.set(MAGIC);
    new DataView(payload.buffer).setBigUint64(MAGIC.length, BigInt(index), true);
    await this.#emit(RecordType.snapshotHeader, payload);
  }

  /** Adds one pair (keys in ascending byte order). */
  async add(key: Uint8Array, value: Uint8Array): Promise<void> {
    if (this.#index === undefined) throw new StorageError('INVALID_ARGUMENT', 'snapshot pair before begin');
    const pair = new Uint8Array(8 + key.length + value.length);
    const view = new DataView(pair.buffer);
    view.setUint32(0, key.length, true);
    pair.set(key, 4);
    view.setUint32(4 + key.length, value.length, true);
    pair.set(value, 8 + key.length);
    if (this.#pendingBytes > 0 && this.#pendingBytes + pair.length > DATA_FRAME_BYTES) await this.#flushData();
    this.#pending.push(pair);
    this.#pendingBytes += pair.length;
    this.#pairs += 1;
  }

  /** Writes the trailer, fsyncs, renames into place and fsyncs the directory. */
  async finish(): Promise<SnapshotInfo> {
    const index = this.#index;
    if (index === undefined) throw new StorageError('INVALID_ARGUMENT', 'snapshot finished before begin');
    await this.#flushData();
    const checksum = this.#hash.digest();
    const trailer = new Uint8Array(8 + checksum.length);
    new DataView(trailer.buffer).setBigUint64(0, BigInt(this.#pairs), true);
    trailer.set(checksum, 8);
    await this.#emit(RecordType.snapshotTrailer, trailer);
    await this.#file.sync();
    await this.#file.close();
    const name = snapshotName(index);
    await this.#disk.rename(this.#tempPath, path.join(this.#directory, name));
    await this.#disk.syncDirectory(this.#directory);
    return { name, index, bytes: this.#position, pairs: this.#pairs, checksum: bytesToHex(checksum) };
  }

  /** Gives up: closes and removes the temp file. */
  async abort(): Promise<void> {
    await this.#file.close();
    await this.#disk.remove(this.#tempPath);
  }

  async #flushData(): Promise<void> {
    if (this.#pending.length === 0) return;
    const payload = new Uint8Array(this.#pendingBytes);
    let offset = 0;
    for (const pair of this.#pending) {
      payload.set(pair, offset);
      offset += pair.length;
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    await this.#emit(RecordType.snapshotData, payload);
  }

  async #emit(type: typeof RecordType.snapshotHeader | typeof RecordType.snapshotData | typeof RecordType.snapshotTrailer, payload: Uint8Array): Promise<void> {
    const frame = encodeFrame({ type, index: this.#frameIndex, batchPosition: 0, payload });
    this.#frameIndex += 1;
    if (type !== RecordType.snapshotTrailer) this.#hash.update(frame);
    await this.#file.write(frame, this.#position);
    this.#position += frame.length;
  }
}

/**
 * Reads and verifies a snapshot file, calling `onPair` for each pair in order (the arrays are copies,
 * safe to keep). Throws SNAPSHOT_CORRUPT on any damage.
 */
export async function readSnapshot(
  disk: Disk,
  filePath: string,
  onPair: (key: Uint8Array, value: Uint8Array) => void | Promise<void> = () => undefined,
): Promise<SnapshotInfo> {
  const file = await disk.open(filePath, 'read');
  try {
    const frames = new FrameStream(file, filePath);
    const hash = sha256.create();
    const header = await frames.expect(RecordType.snapshotHeader, 0);
    hash.update(frames.raw(header));
    const index = parseHeader(header.payload, filePath);
    let pairs = 0;
    let frameIndex = 1;
    for (;;) {
      const frame = await frames.next(frameIndex);
      if (frame.type === RecordType.snapshotTrailer) return await finishRead(frames, frame, hash, { filePath, index, pairs });
      if (frame.type !== RecordType.snapshotData) throw corrupt(filePath, frame.offset, `unexpected record type ${frame.type}`);
      hash.update(frames.raw(frame));
      pairs += await forEachPair(frame, filePath, onPair);
      frameIndex += 1;
    }
  } finally {
    await file.close();
  }
}

async function finishRead(frames: FrameStream, trailer: Frame, hash: ReturnType<typeof sha256.create>, read: { filePath: string; index: number; pairs: number }): Promise<SnapshotInfo> {
  if (trailer.payload.length !== 40) throw corrupt(read.filePath, trailer.offset, 'trailer has the wrong size');
  const view = new DataView(trailer.payload.buffer, trailer.payload.byteOffset, 8);
  const pairs = Number(view.getBigUint64(0, true));
  const checksum = hash.digest();
  if (bytesToHex(checksum) !== bytesToHex(trailer.payload.subarray(8))) throw corrupt(read.filePath, trailer.offset, 'SHA-256 mismatch');
  if (pairs !== read.pairs) throw corrupt(read.filePath, trailer.offset, `trailer counts ${pairs} pairs, file holds ${read.pairs}`);
  if (!(await frames.atEnd())) throw corrupt(read.filePath, trailer.end, 'bytes after the trailer');
  return { name: path.basename(read.filePath), index: read.index, bytes: trailer.end, pairs, checksum: bytesToHex(checksum) };
}

function parseHeader(payload: Uint8Array, filePath: string): number {
  const magicOk = payload.length === MAGIC.length + 8 && MAGIC.every((byte, position) => payload[position] === byte);
  if (!magicOk) throw corrupt(filePath, 0, 'not a snapshot header');
  return Number(new DataView(payload.buffer, payload.byteOffset + MAGIC.length, 8).getBigUint64(0, true));
}

async function forEachPair(frame: Frame, filePath: string, onPair: (key: Uint8Array, value: Uint8Array) => void | Promise<void>): Promise<number> {
  const payload = frame.payload;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let offset = 0;
  let count = 0;
  while (offset < payload.length) {
    if (offset + 4 > payload.length) throw corrupt(filePath, frame.offset, 'pair runs past its frame');
    const keyLength = view.getUint32(offset, true);
    const keyEnd = offset + 4 + keyLength;
    if (keyEnd + 4 > payload.length) throw corrupt(filePath, frame.offset, 'pair runs past its frame');
    const valueLength = view.getUint32(keyEnd, true);
    const valueEnd = keyEnd + 4 + valueLength;
    if (valueEnd > payload.length) throw corrupt(filePath, frame.offset, 'pair runs past its frame');
    await onPair(payload.slice(offset + 4, keyEnd), payload.slice(keyEnd + 4, valueEnd));
    offset = valueEnd;
    count += 1;
  }
  return count;
}

/** Reads frames one by one from a file, refilling a buffer as needed. */
class FrameStream {
  readonly #file: DiskFile;
  readonly #filePath: string;
  #buffer = new Uint8Array(0);
  /** File offset of `#buffer[0]`. */
  base = 0;
  #offset = 0;
  #eof = false;

  constructor(file: DiskFile, filePath: string) {
    this.#file = file;
    this.#filePath = filePath;
  }

  async expect(type: number, frameIndex: number): Promise<Frame> {
    const frame = await this.next(frameIndex);
    if (frame.type !== type) throw corrupt(this.#filePath, frame.offset, `expected record type ${type}, found ${frame.type}`);
    return frame;
  }

  /** The next frame, which must have `frameIndex`. Frame offsets are file offsets. */
  async next(frameIndex: number): Promise<Frame> {
    for (;;) {
      const read = readFrame(this.#buffer, this.#offset, FRAME_PAYLOAD_BYTES_MAX);
      if (read.kind === 'frame') {
        const frame = read.frame;
        if (frame.index !== frameIndex) throw corrupt(this.#filePath, this.base + frame.offset, `frame ${frame.index}, expected ${frameIndex}`);
        this.#offset = frame.end;
        return { ...frame, offset: this.base + frame.offset, end: this.base + frame.end };
      }
      if (read.kind === 'invalid') throw corrupt(this.#filePath, this.base + this.#offset, read.reason);
      if (this.#eof) throw corrupt(this.#filePath, this.base + this.#offset, 'file ends inside a frame (no trailer)');
      await this.#fill();
    }
  }

  /** The raw bytes of a frame just returned by `next` (valid until the next call). */
  raw(frame: Frame): Uint8Array {
    return this.#buffer.subarray(frame.offset - this.base, frame.end - this.base);
  }

  async atEnd(): Promise<boolean> {
    if (this.#offset < this.#buffer.length) return false;
    if (!this.#eof) await this.#fill();
    return this.#offset >= this.#buffer.length;
  }

  async #fill(): Promise<void> {
    // Keep the unread part, then append the next chunk.
    const rest = this.#buffer.subarray(this.#offset);
    const needed = Math.max(READ_CHUNK_BYTES, FRAME_HEADER_BYTES + headerLength(rest));
    const chunk = await this.#file.read(this.base + this.#buffer.length, needed);
    if (chunk.length === 0) this.#eof = true;
    const merged = new Uint8Array(rest.length + chunk.length);
    merged.set(rest);
    merged.set(chunk, rest.length);
    this.base += this.#offset;
    this.#buffer = merged;
    this.#offset = 0;
  }
}

/** Payload length announced by a (possibly partial) frame header, or 0. */
function headerLength(bytes: Uint8Array): number {
  if (bytes.length < 4) return 0;
  return Math.min(new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true), FRAME_PAYLOAD_BYTES_MAX);
}

function corrupt(filePath: string, offset: number, reason: string): StorageError {
  return new StorageError('SNAPSHOT_CORRUPT', `snapshot ${path.basename(filePath)} is corrupt at byte ${offset}: ${reason}`, { context: { file: path.basename(filePath), offset, reason } });
}

/** Reads a snapshot file as chunks of raw bytes, for shipping to another node. */
export async function* readSnapshotChunks(disk: Disk, filePath: string, index: number, chunkBytes: number): AsyncGenerator<SnapshotChunk> {
  const file = await disk.open(filePath, 'read');
  try {
    const size = await file.size();
    let offset = 0;
    do {
      const bytes = await file.read(offset, Math.min(chunkBytes, size - offset));
      if (bytes.length === 0 && offset < size) throw new StorageError('DISK_IO', `snapshot ${filePath} shrank while being read`);
      yield { index, offset, bytes, last: offset + bytes.length >= size };
      offset += bytes.length;
    } while (offset < size);
  } finally {
    await file.close();
  }
}

/**
 * Rebuilds a snapshot file from chunks. Chunks must arrive in order (offset = bytes received so far)
 * and all carry the same index; `finish` verifies the whole file before installing it.
 */
export class SnapshotReceiver {
  readonly index: number;
  readonly #disk: Disk;
  readonly #directory: string;
  readonly #file: DiskFile;
  readonly #tempPath: string;
  #received = 0;
  #complete = false;

  private constructor(disk: Disk, directory: string, index: number, file: DiskFile, tempPath: string) {
    this.#disk = disk;
    this.#directory = directory;
    this.index = index;
    this.#file = file;
    this.#tempPath = tempPath;
  }

  /** Starts receiving the snapshot covering `index` into a temp file in `directory`. */
  static async begin(disk: Disk, directory: string, index: number): Promise<SnapshotReceiver> {
    if (!Number.isSafeInteger(index) || index < 0) throw new StorageError('INVALID_ARGUMENT', `bad snapshot index ${String(index)}`);
    const tempPath = path.join(directory, `snapshot-receiving${TEMP_SUFFIX}`);
    await disk.remove(tempPath);
    return new SnapshotReceiver(disk, directory, index, await disk.open(tempPath, 'create'), tempPath);
  }

  /** Bytes accepted so far: the offset the next chunk must have. */
  get received(): number {
    return this.#received;
  }

  /** Whether the last chunk has arrived. */
  get complete(): boolean {
    return this.#complete;
  }

  /** Writes one chunk; refuses (INVALID_ARGUMENT) a chunk out of order or for another snapshot. */
  async accept(chunk: SnapshotChunk): Promise<void> {
    if (this.#complete) throw new StorageError('INVALID_ARGUMENT', 'chunk after the last one');
    if (chunk.index !== this.index) throw new StorageError('INVALID_ARGUMENT', `chunk of snapshot ${chunk.index}, receiving ${this.index}`);
    if (chunk.offset !== this.#received) throw new StorageError('INVALID_ARGUMENT', `chunk at offset ${chunk.offset}, expected ${this.#received}`);
    if (!(chunk.bytes instanceof Uint8Array)) throw new StorageError('INVALID_ARGUMENT', 'chunk bytes must be a Uint8Array');
    await this.#file.write(chunk.bytes, chunk.offset);
    this.#received += chunk.bytes.length;
    this.#complete = chunk.last;
  }

  /** Verifies, fsyncs and installs the snapshot (rename + directory fsync). */
  async finish(): Promise<SnapshotInfo> {
    if (!this.#complete) throw new StorageError('INVALID_ARGUMENT', 'snapshot incomplete: the last chunk has not arrived');
    await this.#file.sync();
    await this.#file.close();
    const info = await readSnapshot(this.#disk, this.#tempPath);
    if (info.index !== this.index) throw new StorageError('SNAPSHOT_CORRUPT', `received snapshot covers ${info.index}, announced ${this.index}`);
    const name = snapshotName(info.index);
    await this.#disk.rename(this.#tempPath, path.join(this.#directory, name));
    await this.#disk.syncDirectory(this.#directory);
    return { ...info, name };
  }

  /** Gives up and removes the temp file. */
  async abort(): Promise<void> {
    await this.#file.close();
    await this.#disk.remove(this.#tempPath);
  }
}
