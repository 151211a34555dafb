/**
 * The plain-data vocabulary of the Raft core: log entries, membership, persisted state, the messages
 * replicas exchange, and the results the core hands back to its host. Everything here is CBOR-encodable
 * (strings, numbers, booleans, arrays, plain objects, Uint8Array) so the shell can persist and send it
 * without translation.
 */

/** A replica's identity, unique within one Raft group. */
export type NodeId = string;

/** The roles of a replica. A learner is a follower that is not a voter; it never campaigns. */
export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** A single-server membership change (Raft thesis 4.1, with learners as in thesis 4.2.1). */
export type MembershipChange =
  | { readonly type: 'addLearner'; readonly node: NodeId }
  | { readonly type: 'promoteLearner'; readonly node: NodeId }
  | { readonly type: 'removeNode'; readonly node: NodeId };

/** The voters and learners of a group, each list sorted and disjoint. */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** An application command: opaque bytes the state machine decodes. Empty data is the leader's no-op. */
export interface NormalEntry {
  readonly type: 'normal';
  readonly term: number;
  readonly index: number;
  readonly data: Uint8Array;
}

/** A membership change. It takes effect as soon as it is in a replica's log (thesis 4.1). */
export interface MembershipEntry {
  readonly type: 'membership';
  readonly term: number;
  readonly index: number;
  readonly change: MembershipChange;
}

/** One log entry. */
export type Entry = NormalEntry | MembershipEntry;

/** What must be durable before a replica answers: its term, its vote in that term, and its commit index. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

/** What a snapshot covers: the last index and term it includes and the membership as of that index. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
}

/** A state-machine snapshot: the host's serialized state at `meta.index`. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** What a replica finds on its disk when it starts: the latest snapshot, the hard state and the log after it. */
export interface PersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot (entries at or below the snapshot index are ignored), contiguous. */
  readonly entries: readonly Entry[];
  /** Highest index already applied to a durable state machine; the core re-emits only later entries. */
  readonly appliedIndex?: number;
}

/** A linearizable read released by ReadIndex: serve it once the state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term; forwarded proposals and reads carry 0 because they are not part of the term protocol. */
  readonly term: number;
}

/** Pre-vote (thesis 9.6): would you vote for me at `term` (the sender's term + 1)? Changes no state. */
export interface PreVoteMessage extends MessageBase {
  readonly type: 'raft.preVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

/** RequestVote (paper 5.2). `transfer` marks a campaign started by TimeoutNow, which bypasses leases. */
export interface VoteMessage extends MessageBase {
  readonly type: 'raft.vote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  readonly transfer: boolean;
}

/** Answer to a pre-vote or vote. A grant carries the requested term; a rejection the voter's own term. */
export interface VoteResponseMessage extends MessageBase {
  readonly type: 'raft.preVoteResponse' | 'raft.voteResponse';
  readonly reject: boolean;
}

/** AppendEntries (paper 5.3): the entries after `prevLogIndex`, and the leader's commit index. */
export interface AppendMessage extends MessageBase {
  readonly type: 'raft.append';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  /**
   * Set (never false) on an AppendEntries without entries that a leader sends only to carry a new
   * commit index to a follower it is replicating to: the follower answers it only to reject it, since
   * an acceptance would tell the leader nothing it does not know (replication.ts `broadcastCommit`).
   */
  readonly commitOnly?: true;
}

/**
 * Answer to AppendEntries or to a completed snapshot. On success `index` is the highest index the
 * follower now holds durably in agreement with the leader. On rejection `index` is the rejected
 * `prevLogIndex`, and `hintIndex`/`hintTerm` let the leader skip a whole term of conflicting entries.
 */
export interface AppendResponseMessage extends MessageBase {
  readonly type: 'raft.appendResponse';
  readonly reject: boolean;
  readonly index: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Heartbeat: keeps followers from campaigning, carries commit, and confirms leadership for ReadIndex. */
export interface HeartbeatMessage extends MessageBase {
  readonly type: 'raft.heartbeat';
  readonly commit: number;
  readonly readContext: string | null;
}

/** Answer to a heartbeat, echoing its read context. */
export interface HeartbeatResponseMessage extends MessageBase {
  readonly type: 'raft.heartbeatResponse';
  readonly readContext: string | null;
}

/** One chunk of InstallSnapshot (paper 7). Chunks are sent in order; the follower assembles them. */
export interface SnapshotChunkMessage extends MessageBase {
  readonly type: 'raft.snapshot';
  readonly meta: SnapshotMeta;
  readonly chunkIndex: number;
  readonly chunkCount: number;
  readonly totalBytes: number;
  readonly data: Uint8Array;
}

/** Acknowledges snapshot chunks: `nextChunk` is the first chunk the follower has not yet received. */
export interface SnapshotResponseMessage extends MessageBase {
  readonly type: 'raft.snapshotResponse';
  readonly snapshotIndex: number;
  readonly nextChunk: number;
}

/** Leader transfer (thesis 3.10): start an election now, without waiting for a timeout. */
export interface TimeoutNowMessage extends MessageBase {
  readonly type: 'raft.timeoutNow';
}

/** A proposal a follower forwards to the leader it knows. */
export interface ProposeMessage extends MessageBase {
  readonly type: 'raft.propose';
  readonly data: Uint8Array;
}

/** A ReadIndex request a follower forwards to the leader it knows. */
export interface ReadIndexMessage extends MessageBase {
  readonly type: 'raft.readIndex';
  readonly context: string;
}

/** The leader's answer to a forwarded ReadIndex, once a quorum has confirmed its leadership. */
export interface ReadIndexResponseMessage extends MessageBase {
  readonly type: 'raft.readIndexResponse';
  readonly context: string;
  readonly index: number;
}

/** Every message replicas exchange. */
export type Message =
  | PreVoteMessage
  | VoteMessage
  | VoteResponseMessage
  | AppendMessage
  | AppendResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | SnapshotChunkMessage
  | SnapshotResponseMessage
  | TimeoutNowMessage
  | ProposeMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage;

/** Why a leader refused new work for now. */
export type BusyReason = 'uncommittedBytes' | 'leaderTransfer' | 'pendingReads';

/** The expected refusals of `propose`, `proposeMembership`, `readIndex` and `transferLeadership`. */
export type Refusal =
  | { readonly ok: false; readonly code: 'NOT_LEADER'; readonly leaderHint: NodeId | null }
  | { readonly ok: false; readonly code: 'BUSY'; readonly reason: BusyReason }
  | { readonly ok: false; readonly code: 'TOO_LARGE'; readonly bytes: number; readonly bytesMax: number }
  | { readonly ok: false; readonly code: 'MEMBERSHIP_CHANGE_PENDING' }
  | { readonly ok: false; readonly code: 'LEARNER_NOT_CAUGHT_UP'; readonly match: number; readonly required: number }
  | { readonly ok: false; readonly code: 'INVALID_MEMBERSHIP_CHANGE'; readonly reason: string };

/** Outcome of a proposal: appended to the leader's log at `index`, forwarded to the leader, or refused. */
export type ProposeResult =
  | { readonly ok: true; readonly status: 'appended'; readonly index: number; readonly term: number }
  | { readonly ok: true; readonly status: 'forwarded'; readonly leader: NodeId }
  | Refusal;

/** Outcome of a ReadIndex request: queued until a quorum confirms leadership (then a ReadState), or refused. */
export type ReadIndexResult =
  | { readonly ok: true; readonly status: 'pending' | 'forwarded' }
  | Refusal;

/** Outcome of a leader-transfer request. */
export type TransferResult = { readonly ok: true } | Refusal;

/** How the leader is replicating to one peer (etcd's progress states). */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** One peer's replication progress, as the leader sees it. */
export interface PeerStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly learner: boolean;
  readonly recentActive: boolean;
  readonly inflightMessages: number;
  readonly inflightBytes: number;
}

/** A read-only view of a replica for inspection, metrics and tests. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  /**
   * Whether this replica is the leader or heard from its leader within the last election timeout. A
   * replica that lost contact (cut off, or removed from the group and no longer sent to) may still
   * name a leader; only this says the name is fresh.
   */
  readonly leaderContact: boolean;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly stableIndex: number;
  readonly snapshotIndex: number;
  readonly membership: Membership;
  readonly leadTransferee: NodeId | null;
  /** Peers' progress; empty unless this replica leads. */
  readonly progress: Readonly<Record<NodeId, PeerStatus>>;
}
