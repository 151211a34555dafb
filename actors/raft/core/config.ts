/**
 * The one validated configuration of a Raft replica. Every bound the core keeps is here, with what
 * happens when it is reached, so a reader can see at once what a replica will and will not do.
 */
import { InvalidArgumentError } from '../../../runtime/errors.js';
import type { Rng } from '../../../runtime/rng.js';
import type { Membership, NodeId } from './types.js';

/** A replica's configuration, after validation. Times are logical ticks. */
export interface RaftConfig {
  readonly id: NodeId;
  /** Randomness for election timeouts; seeded so a simulation replays exactly. */
  readonly rng: Rng;
  /**
   * The group's founding membership, the base every membership entry in the log applies to. Every
   * replica of a group is given the same one, including replicas that join later as learners.
   */
  readonly initialMembership: Membership;
  /** A follower campaigns after between electionTicks and 2 * electionTicks - 1 ticks without a leader. */
  readonly electionTicks: number;
  /** A leader sends heartbeats every heartbeatTicks; must be below electionTicks. */
  readonly heartbeatTicks: number;
  /** Pre-vote (thesis 9.6): a partitioned replica cannot inflate terms and depose a healthy leader. */
  readonly preVote: boolean;
  /** Check-quorum (thesis 6.2): a leader that has not heard from a quorum within an election timeout steps down, and followers ignore votes while they hear from a leader. */
  readonly checkQuorum: boolean;
  /** Followers forward proposals and reads to the leader they know instead of refusing NOT_LEADER. */
  readonly forwardProposals: boolean;
  /** Entries per AppendEntries message; more wait for the next message. */
  readonly maxEntriesPerMessage: number;
  /** Bytes of entries per AppendEntries message (one oversized entry still goes alone). */
  readonly maxBytesPerMessage: number;
  /** AppendEntries in flight per follower; when full, the leader waits for acknowledgements. */
  readonly maxInflightMessages: number;
  /** Bytes of entries in flight per follower; when exceeded, the leader waits for acknowledgements. */
  readonly maxInflightBytes: number;
  /** Bytes the leader holds appended but not committed; a proposal past it is refused BUSY. */
  readonly maxUncommittedBytes: number;
  /** Largest single proposal; larger ones are refused TOO_LARGE. */
  readonly maxEntryBytes: number;
  /** Pending ReadIndex requests at a leader; more are refused BUSY. */
  readonly maxPendingReads: number;
  /** Bytes per InstallSnapshot chunk. */
  readonly snapshotChunkBytes: number;
  /** Snapshot chunks in flight to one follower before the leader waits for acknowledgements. */
  readonly maxInflightSnapshotChunks: number;
  /** Largest snapshot a follower accepts; a larger one is refused (the leader keeps retrying). */
  readonly maxSnapshotBytes: number;
  /** The core asks the host for a snapshot once this many applied entries follow the last one. */
  readonly snapshotEntriesThreshold: number;
  /** Entries kept in the log behind a new snapshot, so a slightly lagging follower needs no snapshot. */
  readonly compactionRetainEntries: number;
}

/** What a caller must give; everything else has a default. */
export type RaftConfigInput = Pick<RaftConfig, 'id' | 'rng' | 'initialMembership'> & Partial<Omit<RaftConfig, 'id' | 'rng' | 'initialMembership'>>;

/** Defaults chosen for a LAN cluster with a 100 ms tick: 1-2 s election timeouts, 100 ms heartbeats. */
export const raftDefaults = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  forwardProposals: true,
  maxEntriesPerMessage: 256,
  maxBytesPerMessage: 1024 * 1024,
  maxInflightMessages: 64,
  maxInflightBytes: 8 * 1024 * 1024,
  maxUncommittedBytes: 64 * 1024 * 1024,
  maxEntryBytes: 4 * 1024 * 1024,
  maxPendingReads: 4096,
  snapshotChunkBytes: 1024 * 1024,
  maxInflightSnapshotChunks: 4,
  maxSnapshotBytes: 1024 * 1024 * 1024,
  snapshotEntriesThreshold: 10_000,
  compactionRetainEntries: 1_000,
} as const;

/** Fills defaults and checks every bound; throws InvalidArgumentError naming the bad field. */
export function validateConfig(input: RaftConfigInput): RaftConfig {
  const config: RaftConfig = { ...raftDefaults, ...stripUndefined(input) } as RaftConfig;
  if (typeof config.id !== 'string' || config.id === '') throw new InvalidArgumentError('raft config: id must be a non-empty string');
  const positive: Array<keyof RaftConfig> = [
    'electionTicks', 'heartbeatTicks', 'maxEntriesPerMessage', 'maxBytesPerMessage', 'maxInflightMessages',
    'maxInflightBytes', 'maxUncommittedBytes', 'maxEntryBytes', 'maxPendingReads', 'snapshotChunkBytes',
    'maxInflightSnapshotChunks', 'maxSnapshotBytes', 'snapshotEntriesThreshold',
  ];
  for (const field of positive) {
    const value = config[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidArgumentError(`raft config: ${field} must be a positive integer`, { field, value });
    }
  }
  if (!Number.isSafeInteger(config.compactionRetainEntries) || config.compactionRetainEntries < 0) {
    throw new InvalidArgumentError('raft config: compactionRetainEntries must be a non-negative integer');
  }
  if (config.heartbeatTicks >= config.electionTicks) {
    throw new InvalidArgumentError('raft config: heartbeatTicks must be below electionTicks', {
      heartbeatTicks: config.heartbeatTicks,
      electionTicks: config.electionTicks,
    });
  }
  if (config.maxEntryBytes > config.maxUncommittedBytes) {
    throw new InvalidArgumentError('raft config: maxEntryBytes must not exceed maxUncommittedBytes');
  }
  validateMembership(config.initialMembership);
  return config;
}

/** Checks that a membership's lists hold distinct non-empty ids and do not overlap. */
export function validateMembership(membership: Membership): void {
  const seen = new Set<string>();
  for (const id of [...membership.voters, ...membership.learners]) {
    if (typeof id !== 'string' || id === '') throw new InvalidArgumentError('raft membership: ids must be non-empty strings');
    if (seen.has(id)) throw new InvalidArgumentError(`raft membership: ${id} listed twice`, { id });
    seen.add(id);
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const result: Partial<T> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item !== undefined) (result as Record<string, unknown>)[key] = item;
  }
  return result;
}
