/**
 * The Raft component's public surface: the pure protocol core behind the Ready/Advance contract, its
 * configuration and message types, the session layer and lease clock of the replicated KV state
 * machine (over the storage component's key-value model) with its entry codec; then the
 * replica actor that hosts the core on the storage engine (WAL + LevelDB), the replicated KV service
 * protocol and its client, and what the CLI and metrics need.
 */
export { RaftNode, type Ready, type SoftState } from './core/node.js';
export { validateConfig, validateMembership, raftDefaults, type RaftConfig, type RaftConfigInput } from './core/config.js';
export { entryBytes } from './core/log.js';
export { applyChange, invalidChangeReason, isLearner, isVoter, members } from './core/membership.js';
export type {
  AppendMessage,
  AppendResponseMessage,
  BusyReason,
  Entry,
  HardState,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  Membership,
  MembershipChange,
  MembershipEntry,
  Message,
  NodeId,
  NormalEntry,
  PeerStatus,
  PersistedState,
  PreVoteMessage,
  ProgressState,
  ProposeMessage,
  ProposeResult,
  RaftStatus,
  ReadIndexMessage,
  ReadIndexResponseMessage,
  ReadIndexResult,
  ReadState,
  Refusal,
  Role,
  Snapshot,
  SnapshotChunkMessage,
  SnapshotMeta,
  SnapshotResponseMessage,
  TimeoutNowMessage,
  TransferResult,
  VoteMessage,
  VoteResponseMessage,
} from './core/types.js';
export {
  SessionActivity,
  decideSession,
  invalidSessionReason,
  type KvApplied,
  type KvAppliedResult,
  type KvRequest,
  type KvSession,
  type KvStaleRequest,
  type SessionDecision,
} from './core/kv-state-machine.js';
export { LeaseClock, revokeRetryMs } from './core/lease-clock.js';
export { checkKvRequest, decodeKvRequest, decodeKvSnapshot, encodeKvRequest, encodeKvSnapshot } from './kv-codec.js';
export { invalidTextReason, isTextRead, textCommand, textResult, type KvTextCommand, type KvTextPair, type KvTextResult } from './kv-text.js';
export { selectEvents, type KvWatchPoll, type KvWatchReply } from './kv-watch.js';

// The replica actor, its durable log and state machine, the KV service protocol, the client, and
// what the CLI and metrics need.
export { raftReplica, replicaMetrics, type RaftReplicaOptions, type RaftReplicaState } from './actor.js';
export { ReplicaHost, type HostEnvironment, type HostEvent, type HostOptions, type ReplicaMachine, type ReplicaTransport } from './host.js';
export { RequestTable, type AppliedRequest, type RequestAnswer, type RequestTableOptions, type RequestToken } from './core/requests.js';
export { DurableLog, RaftLogCorruptError, type DurableLogOptions, type LogWrite, type RecoveredLog } from './durable-log.js';
export { DurableKvMachine, KvStateMachine, applyRequest, requestOf, type AppliedEntry, type KvSnapshot } from './kv-machine.js';
export {
  defaultReplicaPath,
  isReadOnly,
  parseServiceRequest,
  requestTimeoutMsMax,
  watchRevisionsMax,
  type DigestReply,
  type KvLeaseKeepAliveReply,
  type KvLeaseKeepAliveRequest,
  type KvWatchRequest,
  type KvReadRequest,
  type KvRefusal,
  type KvReply,
  type KvServiceRequest,
  type KvWriteRequest,
  type MembershipChangeRequest,
  type MembershipRefusal,
  type MembershipReply,
  type PeerMetrics,
  type RaftAdminRequest,
  type RaftMetrics,
} from './kv-service.js';
export {
  changeMembership, KvWatchError, RaftKvClient,
  type KvCommandOutcome, type KvOperationRecord, type KvOutcome, type KvTimeout, type KvTransport, type KvWatchOptions, type MembershipChangeOptions, type RaftKvClientOptions, type ReadMode,
} from './client.js';
export { collectRaftMetrics, formatRaftMetrics, kvUsage, parseKvArgs, raftMetricsFromTree, raftMetricsText, runKvCli, type KvCliCommand, type KvCliOptions } from './cli.js';
export { checkMessage, wireLimits, type WireCheck, type WireLimits } from './wire.js';
