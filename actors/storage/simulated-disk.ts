/**
 * A simulated disk for fault injection, kept in memory. It follows the `Disk` contract (disk.ts) as a
 * pessimistic POSIX file system would, so that the storage code is tested against what a real disk may
 * do, not only what it usually does:
 *
 * - Each file has a durable image and a list of unsynced operations. Reads see both; `sync` folds the
 *   unsynced operations into the durable image.
 * - A failed `sync` drops the unsynced operations without making them durable while reads still
 *   return them, as Linux does ("fsyncgate"): a later successful sync does not bring them back.
 * - Creations, renames and removals are durable only after `syncDirectory` of their directory.
 * - `crash` throws away what was not durable: all of it (`drop`), none of it (`keep`, a process
 *   crash: the page cache survives), or a random prefix of the unsynced writes whose last write is cut
 *   at a sector boundary, the cut-off part either missing or read back as zeros (`tear`).
 * - `flipBit` and `rewrite` damage durable bytes; `failNext` makes chosen operations fail with EIO;
 *   `holdSyncs` parks syncs until released, so a test can look at the state while a sync is in flight.
 *
 * Directories are durable once made (`makeDirectory`): storage only ever creates its own directories
 * at startup, before it writes anything that depends on them.
 */
import * as path from 'node:path';
import { createRng, type Rng } from '../../runtime/index.js';
import type { Disk, DiskFile, OpenMode } from './disk.js';
import { StorageError } from './errors.js';

/** One operation not yet made durable. */
type PendingOperation = { readonly kind: 'write'; readonly position: number; readonly bytes: Uint8Array } | { readonly kind: 'truncate'; readonly size: number };

/** A file's contents, shared by every name that refers to it. */
interface Inode {
  current: FileBytes;
  durable: FileBytes;
  pending: PendingOperation[];
}

/** File contents that grow in place (amortised), so appending many small writes stays linear. */
class FileBytes {
  #data: Uint8Array;
  #length: number;

  constructor(initial: Uint8Array = new Uint8Array(0)) {
    this.#data = initial.slice();
    this.#length = initial.length;
  }

  get length(): number {
    return this.#length;
  }

  /** A view of the contents; valid until the next change. */
  view(): Uint8Array {
    return this.#data.subarray(0, this.#length);
  }

  copy(): FileBytes {
    return new FileBytes(this.view());
  }

  apply(operation: PendingOperation): void {
    if (operation.kind === 'truncate') {
      this.#reserve(operation.size);
      if (operation.size > this.#length) this.#data.fill(0, this.#length, operation.size);
      this.#length = operation.size;
      return;
    }
    const end = operation.position + operation.bytes.length;
    this.#reserve(end);
    if (operation.position > this.#length) this.#data.fill(0, this.#length, operation.position);
    this.#data.set(operation.bytes, operation.position);
    this.#length = Math.max(this.#length, end);
  }

  #reserve(size: number): void {
    if (size <= this.#data.length) return;
    const grown = new Uint8Array(Math.max(size, this.#data.length * 2, 4096));
    grown.set(this.view());
    this.#data = grown;
  }
}

/** Operations `failNext` can make fail. */
export type FaultOperation = 'write' | 'sync' | 'syncDirectory' | 'rename' | 'create';

/** What `crash` keeps of the data that was not durable. */
export type CrashMode = 'drop' | 'keep' | 'tear';

/** Options of a simulated disk. */
export interface SimulatedDiskOptions {
  /** Seed for the random choices of `crash('tear')`. */
  readonly seed?: number;
  /** Granularity of torn writes. */
  readonly sectorBytes?: number;
}

/** Counts of operations, for tests that check how often the code syncs. */
export interface SimulatedDiskStats {
  writes: number;
  syncs: number;
  directorySyncs: number;
}

interface Fault {
  readonly operation: FaultOperation;
  readonly path: string | undefined;
  remaining: number;
}

/** An in-memory disk that can lose unsynced writes, tear writes, flip bits and fail syncs on demand. */
export class SimulatedDisk implements Disk {
  readonly sectorBytes: number;
  readonly stats: SimulatedDiskStats = { writes: 0, syncs: 0, directorySyncs: 0 };
  #rng: Rng;
  #files = new Map<string, Inode>();
  #durableFiles = new Map<string, Inode>();
  #directories = new Set<string>(['/']);
  #faults: Fault[] = [];
  #generation = 0;
  #holding = false;
  #heldSyncs: Array<() => void> = [];

  constructor(options: SimulatedDiskOptions = {}) {
    this.#rng = createRng(options.seed ?? 1);
    this.sectorBytes = options.sectorBytes ?? 512;
  }

  /** Changes whenever the disk crashes; handles from an earlier generation are dead. */
  get generation(): number {
    return this.#generation;
  }

  async open(filePath: string, mode: OpenMode): Promise<DiskFile> {
    const key = normalise(filePath);
    let inode = this.#files.get(key);
    if (mode === 'create') {
      this.#takeFault('create', key);
      if (inode !== undefined) throw simulatedError('DISK_EXISTS', 'EEXIST', 'open', key);
      this.#requireDirectory(path.dirname(key), 'open');
      inode = { current: new FileBytes(), durable: new FileBytes(), pending: [] };
      this.#files.set(key, inode);
    }
    if (inode === undefined) throw simulatedError('DISK_NOT_FOUND', 'ENOENT', 'open', key);
    return new SimulatedFile(this, key, inode, mode === 'read');
  }

  async readFile(filePath: string): Promise<Uint8Array> {
    const inode = this.#files.get(normalise(filePath));
    if (inode === undefined) throw simulatedError('DISK_NOT_FOUND', 'ENOENT', 'read', filePath);
    return inode.current.view().slice();
  }

  async list(directory: string): Promise<string[]> {
    const key = normalise(directory);
    this.#requireDirectory(key, 'list');
    const names = new Set<string>();
    for (const candidate of [...this.#files.keys(), ...this.#directories]) {
      if (candidate !== key && path.dirname(candidate) === key) names.add(path.basename(candidate));
    }
    return [...names].sort();
  }

  async makeDirectory(directory: string): Promise<void> {
    for (let current = normalise(directory); !this.#directories.has(current); current = path.dirname(current)) {
      if (this.#files.has(current)) throw simulatedError('DISK_EXISTS', 'EEXIST', 'mkdir', current);
      this.#directories.add(current);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    const source = normalise(from);
    const target = normalise(to);
    this.#takeFault('rename', source);
    const inode = this.#files.get(source);
    if (inode === undefined) throw simulatedError('DISK_NOT_FOUND', 'ENOENT', 'rename', source);
    this.#requireDirectory(path.dirname(target), 'rename');
    this.#files.delete(source);
    this.#files.set(target, inode);
  }

  async remove(filePath: string): Promise<void> {
    this.#files.delete(normalise(filePath));
  }

  async syncDirectory(directory: string): Promise<void> {
    const key = normalise(directory);
    this.#requireDirectory(key, 'fsync directory');
    this.#takeFault('syncDirectory', key);
    this.stats.directorySyncs += 1;
    for (const name of [...this.#durableFiles.keys()]) if (path.dirname(name) === key) this.#durableFiles.delete(name);
    for (const [name, inode] of this.#files) if (path.dirname(name) === key) this.#durableFiles.set(name, inode);
  }

  async exists(filePath: string): Promise<boolean> {
    const key = normalise(filePath);
    return this.#files.has(key) || this.#directories.has(key);
  }

  /** Makes the next `times` matching operations (on `filePath`, or any path) fail with EIO. */
  failNext(operation: FaultOperation, options: { path?: string; times?: number } = {}): void {
    this.#faults.push({ operation, path: options.path === undefined ? undefined : normalise(options.path), remaining: options.times ?? 1 });
  }

  /** Parks every sync until `releaseSyncs`; see `heldSyncs`. */
  holdSyncs(): void {
    this.#holding = true;
  }

  /** Lets parked and future syncs complete. */
  releaseSyncs(): void {
    this.#holding = false;
    const held = this.#heldSyncs;
    this.#heldSyncs = [];
    for (const release of held) release();
  }

  /** Number of syncs parked by `holdSyncs`. */
  heldSyncs(): number {
    return this.#heldSyncs.length;
  }

  /**
   * Simulates a power loss (or, with `keep`, a process crash): every open handle dies and only what
   * the mode keeps survives. See the module comment for the modes.
   */
  crash(mode: CrashMode = 'drop'): void {
    this.#generation += 1;
    this.releaseSyncs();
    if (mode === 'keep') {
      this.#durableFiles = new Map(this.#files);
      for (const inode of new Set(this.#files.values())) settle(inode, inode.current.view());
      return;
    }
    this.#files = new Map(this.#durableFiles);
    for (const inode of new Set(this.#files.values())) {
      settle(inode, mode === 'drop' ? inode.durable.view() : this.#tear(inode));
    }
  }

  /** Flips one bit of a file, durably (latent corruption: the disk returns damaged bytes). */
  flipBit(filePath: string, byteOffset: number, bit = 0): void {
    this.rewrite(filePath, (bytes) => {
      const copy = bytes.slice();
      if (byteOffset >= copy.length) throw new RangeError(`offset ${byteOffset} is past the end of ${filePath}`);
      copy[byteOffset] = copy[byteOffset]! ^ (1 << bit);
      return copy;
    });
  }

  /** Replaces a file's contents durably with `edit(current bytes)`, for tests that damage files by hand. */
  rewrite(filePath: string, edit: (bytes: Uint8Array) => Uint8Array): void {
    const inode = this.#files.get(normalise(filePath));
    if (inode === undefined) throw simulatedError('DISK_NOT_FOUND', 'ENOENT', 'rewrite', filePath);
    settle(inode, edit(inode.current.view().slice()));
  }

  /** An independent copy of the disk's state, both what is durable and what is not. */
  clone(): SimulatedDisk {
    const copy = new SimulatedDisk({ sectorBytes: this.sectorBytes, seed: this.#rng.int(0, 0x7fff_ffff) });
    const copies = new Map<Inode, Inode>();
    const copyOf = (inode: Inode): Inode => {
      let copied = copies.get(inode);
      if (copied === undefined) {
        copied = { current: inode.current.copy(), durable: inode.durable.copy(), pending: [...inode.pending] };
        copies.set(inode, copied);
      }
      return copied;
    };
    for (const [name, inode] of this.#files) copy.#files.set(name, copyOf(inode));
    for (const [name, inode] of this.#durableFiles) copy.#durableFiles.set(name, copyOf(inode));
    copy.#directories = new Set(this.#directories);
    return copy;
  }

  /** @internal Used by SimulatedFile. */
  checkAlive(generation: number, filePath: string, operation: string): void {
    if (generation !== this.#generation) throw new StorageError('DISK_CLOSED', `${operation} on ${filePath}: the handle died in a crash`, { context: { path: filePath } });
  }

  /** @internal Throws if a fault is armed for this operation. */
  takeFault(operation: FaultOperation, filePath: string): void {
    this.#takeFault(operation, filePath);
  }

  /** @internal Resolves when syncs are not held. */
  async waitForSyncTurn(): Promise<void> {
    if (!this.#holding) return;
    await new Promise<void>((resolve) => this.#heldSyncs.push(resolve));
  }

  #takeFault(operation: FaultOperation, filePath: string): void {
    const fault = this.#faults.find((candidate) => candidate.operation === operation && (candidate.path === undefined || candidate.path === filePath));
    if (fault === undefined) return;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.#faults.splice(this.#faults.indexOf(fault), 1);
    throw simulatedError('DISK_IO', 'EIO', operation, filePath);
  }

  #requireDirectory(directory: string, operation: string): void {
    if (!this.#directories.has(directory)) throw simulatedError('DISK_NOT_FOUND', 'ENOENT', operation, directory);
  }

  /** The durable image plus a random prefix of the pending operations, the last write cut at a sector. */
  #tear(inode: Inode): Uint8Array {
    const kept = this.#rng.int(0, inode.pending.length);
    const bytes = inode.durable.copy();
    for (let position = 0; position < kept; position += 1) bytes.apply(inode.pending[position]!);
    const next = inode.pending[kept];
    if (next === undefined || next.kind !== 'write') return bytes.view();
    // Persist whole sectors of the next write (by file offset), then lose or zero the rest of it.
    const sectors: number[] = [];
    const writeEnd = next.position + next.bytes.length;
    for (let boundary = Math.ceil(next.position / this.sectorBytes) * this.sectorBytes; boundary < writeEnd; boundary += this.sectorBytes) sectors.push(boundary);
    const cut = sectors.length === 0 ? next.position : sectors[this.#rng.int(0, sectors.length - 1)]!;
    bytes.apply({ kind: 'write', position: next.position, bytes: next.bytes.subarray(0, cut - next.position) });
    if (this.#rng.next() < 0.5) bytes.apply({ kind: 'write', position: cut, bytes: new Uint8Array(writeEnd - cut) });
    return bytes.view();
  }
}

class SimulatedFile implements DiskFile {
  readonly path: string;
  readonly #disk: SimulatedDisk;
  readonly #inode: Inode;
  readonly #readOnly: boolean;
  readonly #generation: number;
  #closed = false;

  constructor(disk: SimulatedDisk, filePath: string, inode: Inode, readOnly: boolean) {
    this.#disk = disk;
    this.path = filePath;
    this.#inode = inode;
    this.#readOnly = readOnly;
    this.#generation = disk.generation;
  }

  #check(operation: string, writes = false): void {
    if (this.#closed) throw new StorageError('DISK_CLOSED', `${operation} on closed file ${this.path}`, { context: { path: this.path } });
    this.#disk.checkAlive(this.#generation, this.path, operation);
    if (writes && this.#readOnly) throw simulatedError('DISK_IO', 'EBADF', operation, this.path);
  }

  async size(): Promise<number> {
    this.#check('size');
    return this.#inode.current.length;
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    this.#check('read');
    return this.#inode.current.view().slice(position, position + length);
  }

  async write(bytes: Uint8Array, position: number): Promise<void> {
    this.#check('write', true);
    this.#disk.takeFault('write', this.path);
    const operation: PendingOperation = { kind: 'write', position, bytes: bytes.slice() };
    this.#inode.current.apply(operation);
    this.#inode.pending.push(operation);
    this.#disk.stats.writes += 1;
  }

  async sync(): Promise<void> {
    this.#check('sync');
    await this.#disk.waitForSyncTurn();
    this.#check('sync');
    // Only what was pending when the sync started is covered by it.
    const covered = this.#inode.pending.length;
    try {
      this.#disk.takeFault('sync', this.path);
    } catch (error) {
      // fsyncgate: the kernel drops the dirty pages it failed to write and forgets them.
      this.#inode.pending.splice(0, covered);
      throw error;
    }
    this.#disk.stats.syncs += 1;
    for (const operation of this.#inode.pending.splice(0, covered)) this.#inode.durable.apply(operation);
  }

  async truncate(size: number): Promise<void> {
    this.#check('truncate', true);
    const operation: PendingOperation = { kind: 'truncate', size };
    this.#inode.current.apply(operation);
    this.#inode.pending.push(operation);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/** Sets a file's contents as both current and durable, with nothing pending. */
function settle(inode: Inode, bytes: Uint8Array): void {
  inode.current = new FileBytes(bytes);
  inode.durable = new FileBytes(bytes);
  inode.pending = [];
}

function normalise(filePath: string): string {
  return path.posix.resolve('/', filePath);
}

function simulatedError(code: 'DISK_IO' | 'DISK_NOT_FOUND' | 'DISK_EXISTS', errno: string, operation: string, target: string): StorageError {
  return new StorageError(code, `${operation} ${target} failed: ${errno} (simulated)`, { context: { operation, path: target, errno } });
}
