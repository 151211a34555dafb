/**
 * Bounds of the storage layer. Each names its unit last and says what happens when it is reached.
 * A store takes these as defaults; tests and benchmarks pass overrides.
 */
import { StorageError } from './errors.js';

/** Every storage bound in one validated record. */
export interface StorageLimits {
  /** Longest key in UTF-8 bytes; longer keys are refused with KEY_TOO_LARGE. */
  readonly keyBytesMax: number;
  /** Largest value; larger values are refused with VALUE_TOO_LARGE. */
  readonly valueBytesMax: number;
  /** Most operations in one atomic batch; more are refused with BATCH_TOO_LARGE. */
  readonly batchOpsMax: number;
  /** Largest WAL record payload; larger appends are refused with RECORD_TOO_LARGE. */
  readonly recordBytesMax: number;
  /** A segment is sealed and a new one started when the next batch would take it past this size. */
  readonly segmentBytesMax: number;
  /** Most bytes written (and fsynced) as one group-commit batch; the rest wait for the next batch. */
  readonly batchBytesMax: number;
  /** Most records in one group-commit batch. */
  readonly batchRecordsMax: number;
  /** Payload bytes waiting for a batch; an append beyond this is refused with STORAGE_BUSY. */
  readonly pendingBytesMax: number;
  /** Most entries applied to the key-value engine in one atomic LevelDB batch. */
  readonly applyEntriesMax: number;
  /** Most entries a scan returns; a larger `limit` is clamped to this. */
  readonly scanLimitMax: number;
  /** Size of one snapshot stream chunk. */
  readonly snapshotChunkBytes: number;
  /** Snapshots kept on disk; older ones are removed after a new one is durable. */
  readonly snapshotsKept: number;
}

/** Defaults: a 1 MiB value and a 64 MiB segment fit a node with a few GiB of disk. */
export const storageLimits: StorageLimits = {
  keyBytesMax: 4 * 1024,
  valueBytesMax: 1024 * 1024,
  batchOpsMax: 1_000,
  recordBytesMax: 8 * 1024 * 1024,
  segmentBytesMax: 64 * 1024 * 1024,
  batchBytesMax: 4 * 1024 * 1024,
  batchRecordsMax: 16_384,
  pendingBytesMax: 64 * 1024 * 1024,
  applyEntriesMax: 1_024,
  scanLimitMax: 10_000,
  snapshotChunkBytes: 1024 * 1024,
  snapshotsKept: 2,
};

/** Merges overrides over the defaults; throws INVALID_ARGUMENT unless each bound is a positive integer. */
export function resolveStorageLimits(overrides: Partial<StorageLimits> = {}): StorageLimits {
  const resolved: StorageLimits = { ...storageLimits, ...overrides };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new StorageError('INVALID_ARGUMENT', `storage limit ${name} must be a positive integer, got ${String(value)}`);
  }
  // No relation is needed between record, batch and segment sizes: a record larger than batchBytesMax
  // is a batch of its own, and a batch that does not fit the rest of a segment starts a new one (which
  // it may overfill on its own).
  return resolved;
}
