/**
 * The real file system with one injectable fault: the next fdatasync fails. A WAL whose fsync fails
 * stops for good (fail-stop, actors/storage/wal.ts), so a replica writing through this disk crashes
 * into its supervisor exactly as it would on a failing device, and recovers on restart from what its
 * files hold.
 */
import { NodeDisk, StorageError, type Disk, type DiskFile, type OpenMode } from '../../actors/storage/index.js';

/** NodeDisk with `failNextSync()`. */
export class FaultyDisk implements Disk {
  readonly #disk = new NodeDisk();
  #failSyncs = 0;
  /** Fsyncs that failed on purpose. */
  failedSyncs = 0;

  /** Makes the next `count` file fsyncs fail with DISK_IO. */
  failNextSync(count = 1): void {
    this.#failSyncs += count;
  }

  async open(filePath: string, mode: OpenMode): Promise<DiskFile> {
    const file = await this.#disk.open(filePath, mode);
    const disk = this;
    return {
      path: file.path,
      size: () => file.size(),
      read: (position, length) => file.read(position, length),
      write: (bytes, position) => file.write(bytes, position),
      truncate: (size) => file.truncate(size),
      close: () => file.close(),
      async sync() {
        if (disk.#failSyncs > 0) {
          disk.#failSyncs -= 1;
          disk.failedSyncs += 1;
          throw new StorageError('DISK_IO', `injected fsync failure on ${filePath}`);
        }
        await file.sync();
      },
    };
  }

  readFile(filePath: string): Promise<Uint8Array> { return this.#disk.readFile(filePath); }
  list(directory: string): Promise<string[]> { return this.#disk.list(directory); }
  makeDirectory(directory: string): Promise<void> { return this.#disk.makeDirectory(directory); }
  rename(from: string, to: string): Promise<void> { return this.#disk.rename(from, to); }
  remove(filePath: string): Promise<void> { return this.#disk.remove(filePath); }
  syncDirectory(directory: string): Promise<void> { return this.#disk.syncDirectory(directory); }
  exists(filePath: string): Promise<boolean> { return this.#disk.exists(filePath); }
}
