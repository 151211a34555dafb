/**
 * Storage: a crash-consistent WAL with group commit, the key-value model (byte keys, revisions,
 * transactions, ranges, events, leases) and its ordered engines (LevelDB and in memory, and a write-back cache in front of either), a store on
 * LevelDB with exactly-once replay, atomic snapshots that stream in chunks, the storage actor, and read-only inspection for the
 * CLI. The only public surface of actors/storage.
 */
export { storageBehaviour } from './actor.js';
export type { StorageActorOptions, StorageActorState } from './actor.js';
export { STORAGE_REQUEST_TYPES, parseRequest } from './protocol.js';
export type { StorageFailure, StorageReply, StorageRequest } from './protocol.js';
export { Store, decodeCommand, encodeCommand } from './store.js';
export type { StoreOptions, StoreRecovery, StoreStatus, WriteOutcome } from './store.js';
export { Wal } from './wal.js';
export type { AssignedAppend, WalEntry, WalOptions, WalRecovery, WalSegmentInfo } from './wal.js';
export { LevelKvEngine, plainBytes } from './kv.js';
export type { IndexedCommand, StorePair, ScanOptions } from './kv.js';
export { MemoryKvEngine, digestOf } from './kv-engine.js';
export { CachedKvEngine, cachedKvEngineLimits } from './cached-kv-engine.js';
export type { CachedKvEngineLimits } from './cached-kv-engine.js';
export type { KvEngine, KvEngineEntry, KvEngineRange, KvEngineWrite, StateDigest, StateVisitor } from './kv-engine.js';
export {
  bytesEqual, compareBytes, compareHolds, executeKvCommand, hex, inRange, initialModelState, isToEnd, kvLimits, prefixRangeEnd,
} from './kv-model.js';
export type {
  KvCommand, KvCompare, KvCompareOperator, KvCompareTarget, KvEvent, KvExecution, KvFailure, KvFailureCode, KvKeyValue, KvLease, KvLimits,
  KvModelState, KvMutation, KvOp, KvOpResponse, KvRangeOp, KvResult, KvTxn, KvView,
} from './kv-model.js';
export { validateKvCommand, validateOp, validateTxn } from './kv-validate.js';
export type { KvChecked } from './kv-validate.js';
export { executeCommand, parseCounter, validateCommand, validateKey, validateValue } from './core.js';
export type { StoreCommand, StoreCommandLimits, StoreFailureCode, StoreInputErrorCode, StoreOperation, StoreResult } from './core.js';
export { SnapshotReceiver, SnapshotWriter, listSnapshots, readSnapshot, readSnapshotChunks, snapshotName } from './snapshot.js';
export type { SnapshotChunk, SnapshotInfo } from './snapshot.js';
export { NodeDisk } from './disk.js';
export type { Disk, DiskFile, OpenMode } from './disk.js';
export { SimulatedDisk } from './simulated-disk.js';
export type { CrashMode, FaultOperation, SimulatedDiskOptions, SimulatedDiskStats } from './simulated-disk.js';
export { crc32c } from './crc32c.js';
export { FRAME_HEADER_BYTES, RecordType, encodeFrame, readFrame } from './frame.js';
export type { Frame, FrameRead } from './frame.js';
export { parseSegmentName, scanSegment, segmentName } from './segment-scan.js';
export type { SegmentScan, SegmentTail } from './segment-scan.js';
export { StorageError, WalCorruptionError, isStorageError } from './errors.js';
export type { StorageErrorCode } from './errors.js';
export { resolveStorageLimits, storageLimits } from './limits.js';
export type { StorageLimits } from './limits.js';
export { inspectStorage, verifyStorage } from './inspect.js';
export type { SegmentInspection, StorageInspection, StorageProblem, StorageVerification } from './inspect.js';
