/**
 * The disk beneath the WAL and snapshots: a small interface with two implementations, the real file
 * system (`NodeDisk`, here) and a simulated disk for fault injection (`SimulatedDisk`,
 * simulated-disk.ts). One conformance suite (test/unit/storage/disk-conformance.test.ts) runs against
 * both, so what the tests prove on the simulated disk holds for the real one.
 *
 * The contract is POSIX's, stated where it matters for durability:
 * - `write` puts bytes in the file (readable at once) but they are durable only after `sync`.
 * - `sync` is fdatasync: the file's data and size are durable when it resolves. If it fails, the
 *   unsynced writes may be lost even though reads still return them (Linux drops the dirty pages and
 *   marks them clean: the "fsyncgate" lesson), so the caller must not retry and must stop.
 * - Creating, renaming or removing a file changes its directory; the change is durable only after
 *   `syncDirectory` of that directory.
 * - `rename` replaces the target atomically.
 */
import { constants as fsConstants, writeSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { StorageError } from './errors.js';

/** How to open a file: read only, read-write of an existing file, or create a new file exclusively. */
export type OpenMode = 'read' | 'readWrite' | 'create';

/** An open file. Positions and sizes are in bytes. */
export interface DiskFile {
  readonly path: string;
  /** Current size, including unsynced writes. */
  size(): Promise<number>;
  /** Reads up to `length` bytes at `position`; returns fewer at the end of the file. */
  read(position: number, length: number): Promise<Uint8Array>;
  /** Writes all of `bytes` at `position` (extending the file if needed). Not durable until `sync`. */
  write(bytes: Uint8Array, position: number): Promise<void>;
  /** fdatasync: makes the file's data and size durable. */
  sync(): Promise<void>;
  /** Cuts or extends (with zeros) the file to `size` bytes. Not durable until `sync`. */
  truncate(size: number): Promise<void>;
  close(): Promise<void>;
}

/** The file-system operations storage needs. Paths are absolute or relative to the process. */
export interface Disk {
  /** Opens a file. `read` and `readWrite` fail DISK_NOT_FOUND if absent; `create` fails DISK_EXISTS if present. */
  open(filePath: string, mode: OpenMode): Promise<DiskFile>;
  /** Reads a whole file. */
  readFile(filePath: string): Promise<Uint8Array>;
  /** Names (not paths) of the entries in a directory, sorted by code unit. */
  list(directory: string): Promise<string[]>;
  /** Creates a directory and its parents if missing, and makes the new entries durable. */
  makeDirectory(directory: string): Promise<void>;
  /** Atomically renames `from` to `to`, replacing `to`. Durable after `syncDirectory`. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; missing files are not an error. Durable after `syncDirectory`. */
  remove(filePath: string): Promise<void>;
  /** fsyncs a directory, making creations, renames and removals in it durable. */
  syncDirectory(directory: string): Promise<void>;
  /** Whether a file or directory exists. */
  exists(filePath: string): Promise<boolean>;
}

/** Turns a Node file-system error into a StorageError with a stable code. */
export function diskError(cause: unknown, operation: string, target: string): StorageError {
  const errno = typeof cause === 'object' && cause !== null && 'code' in cause ? String((cause as { code: unknown }).code) : 'UNKNOWN';
  const code = errno === 'ENOENT' ? 'DISK_NOT_FOUND' : errno === 'EEXIST' ? 'DISK_EXISTS' : 'DISK_IO';
  return new StorageError(code, `${operation} ${target} failed: ${errno}`, { cause, context: { operation, path: target, errno } });
}

/** The real file system through node:fs. `sync` is fdatasync; directories are fsynced through a read handle. */
export class NodeDisk implements Disk {
  async open(filePath: string, mode: OpenMode): Promise<DiskFile> {
    const flags = mode === 'read' ? fsConstants.O_RDONLY : mode === 'readWrite' ? fsConstants.O_RDWR : fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL;
    try {
      return new NodeFile(filePath, await fs.open(filePath, flags, 0o644));
    } catch (cause) {
      throw diskError(cause, 'open', filePath);
    }
  }

  async readFile(filePath: string): Promise<Uint8Array> {
    try {
      const buffer = await fs.readFile(filePath);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (cause) {
      throw diskError(cause, 'read', filePath);
    }
  }

  async list(directory: string): Promise<string[]> {
    try {
      return (await fs.readdir(directory)).sort();
    } catch (cause) {
      throw diskError(cause, 'list', directory);
    }
  }

  async makeDirectory(directory: string): Promise<void> {
    const absolute = path.resolve(directory);
    // Find the first missing ancestor so that exactly the new entries get their parents fsynced.
    let existing = absolute;
    while (!(await this.exists(existing))) existing = path.dirname(existing);
    if (existing === absolute) return;
    try {
      await fs.mkdir(absolute, { recursive: true });
    } catch (cause) {
      throw diskError(cause, 'mkdir', directory);
    }
    for (let current = absolute; current !== existing; current = path.dirname(current)) {
      await this.syncDirectory(path.dirname(current));
    }
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      await fs.rename(from, to);
    } catch (cause) {
      throw diskError(cause, 'rename', `${from} -> ${to}`);
    }
  }

  async remove(filePath: string): Promise<void> {
    try {
      await fs.rm(filePath, { force: true });
    } catch (cause) {
      throw diskError(cause, 'remove', filePath);
    }
  }

  async syncDirectory(directory: string): Promise<void> {
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(directory, fsConstants.O_RDONLY);
      await handle.sync();
    } catch (cause) {
      throw diskError(cause, 'fsync directory', directory);
    } finally {
      await handle?.close();
    }
  }

  async exists(filePath: string): Promise<boolean> {
    try {
      await fs.stat(filePath);
      return true;
    } catch (cause) {
      const error = diskError(cause, 'stat', filePath);
      if (error.code === 'DISK_NOT_FOUND') return false;
      throw error;
    }
  }
}

/** Writes up to this size are made synchronously (page-cache copies); larger ones go through the thread pool. */
const inPlaceWriteBytesMax = 64 * 1024;

class NodeFile implements DiskFile {
  readonly path: string;
  #handle: fs.FileHandle | undefined;

  constructor(filePath: string, handle: fs.FileHandle) {
    this.path = filePath;
    this.#handle = handle;
  }

  #open(operation: string): fs.FileHandle {
    if (this.#handle === undefined) throw new StorageError('DISK_CLOSED', `${operation} on closed file ${this.path}`, { context: { path: this.path } });
    return this.#handle;
  }

  async size(): Promise<number> {
    const handle = this.#open('size');
    try {
      return (await handle.stat()).size;
    } catch (cause) {
      throw diskError(cause, 'stat', this.path);
    }
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    const handle = this.#open('read');
    const target = new Uint8Array(length);
    let filled = 0;
    try {
      while (filled < length) {
        const { bytesRead } = await handle.read(target, filled, length - filled, position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
    } catch (cause) {
      throw diskError(cause, 'read', this.path);
    }
    return filled === length ? target : target.subarray(0, filled);
  }

  async write(bytes: Uint8Array, position: number): Promise<void> {
    const handle = this.#open('write');
    let written = 0;
    try {
      // A small write only copies into the page cache: done in place it costs less than the round trip
      // through libuv's thread pool, which a WAL append would otherwise pay before its fsync.
      if (bytes.length <= inPlaceWriteBytesMax) {
        while (written < bytes.length) written += writeSync(handle.fd, bytes, written, bytes.length - written, position + written);
        return;
      }
      while (written < bytes.length) {
        const result = await handle.write(bytes, written, bytes.length - written, position + written);
        written += result.bytesWritten;
      }
    } catch (cause) {
      throw diskError(cause, 'write', this.path);
    }
  }

  async sync(): Promise<void> {
    const handle = this.#open('sync');
    try {
      await handle.datasync();
    } catch (cause) {
      throw diskError(cause, 'fdatasync', this.path);
    }
  }

  async truncate(size: number): Promise<void> {
    const handle = this.#open('truncate');
    try {
      await handle.truncate(size);
    } catch (cause) {
      throw diskError(cause, 'truncate', this.path);
    }
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    if (handle === undefined) return;
    this.#handle = undefined;
    try {
      await handle.close();
    } catch (cause) {
      throw diskError(cause, 'close', this.path);
    }
  }
}
