/**
 * The Raft component's public surface: the pure protocol core behind the Ready/Advance contract, its
 * configuration and message types, and the replicated KV state machine with its entry codec.
 */
export { RaftNode, type Ready } from './core/node.js';
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
  KvStateMachine,
  compareKeys,
  invalidCommandReason,
  invalidRequestReason,
  kvDefaultLimits,
  type KvApplied,
  type KvCommand,
  type KvLimits,
  type KvPair,
  type KvRequest,
  type KvResult,
  type KvSession,
  type KvSnapshot,
} from './core/kv-state-machine.js';
export { decodeKvRequest, decodeKvSnapshot, encodeKvRequest, encodeKvSnapshot } from './kv-codec.js';
