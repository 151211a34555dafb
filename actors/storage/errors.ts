/**
 * Typed storage errors. Every failure the storage layer raises carries a stable `code`; callers switch on
 * the code, people read the message. Expected outcomes of a request (a bad key, a full queue, a failed
 * store) become `{ ok: false, code }` replies at the actor boundary.
 */
import { TroupeError } from '../../runtime/index.js';

/** Stable codes of the storage layer. */
export type StorageErrorCode =
  /** A disk operation failed (EIO, ENOSPC, ...); `context.errno` names the system error. */
  | 'DISK_IO'
  /** The file or directory does not exist. */
  | 'DISK_NOT_FOUND'
  /** An exclusive create found the file already there. */
  | 'DISK_EXISTS'
  /** The file handle was closed (or lost in a simulated crash). */
  | 'DISK_CLOSED'
  /** A WAL record before the tail is invalid: latent corruption. Startup refuses to continue. */
  | 'WAL_CORRUPT'
  /** A write or fsync failed earlier; the WAL refuses every later write (fail-stop). */
  | 'WAL_FAILED'
  /** The WAL or store was closed; the write was not accepted. */
  | 'WAL_CLOSED'
  /** The write queue is full; the write was not accepted (back off and retry). */
  | 'STORAGE_BUSY'
  /** A snapshot file fails its checksum or framing. */
  | 'SNAPSHOT_CORRUPT'
  /** The snapshot, WAL and key-value state do not fit together (a gap, or state ahead of the log). */
  | 'STORAGE_INCONSISTENT'
  /** Applying to the key-value engine failed; the store refuses further writes until reopened. */
  | 'STORAGE_FAILED'
  /** The store is closed. */
  | 'STORAGE_CLOSED'
  /** Bad input: wrong type, malformed request. */
  | 'INVALID_ARGUMENT'
  | 'KEY_TOO_LARGE'
  | 'VALUE_TOO_LARGE'
  | 'BATCH_TOO_LARGE'
  | 'RECORD_TOO_LARGE';

/** The error type of the storage layer. */
export class StorageError extends TroupeError {
  declare readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
  }
}

/**
 * A record before the WAL's tail failed its checks. Carries the segment file name and the byte offset
 * of the bad record so that an operator can look at it (`troupe storage inspect`).
 */
export class WalCorruptionError extends StorageError {
  readonly segment: string;
  readonly offset: number;
  readonly reason: string;

  constructor(segment: string, offset: number, reason: string) {
    super('WAL_CORRUPT', `WAL corrupt in segment ${segment} at byte ${offset}: ${reason}`, { context: { segment, offset, reason } });
    this.segment = segment;
    this.offset = offset;
    this.reason = reason;
  }
}

/** True when `error` is a StorageError with the given code. */
export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code);
}
