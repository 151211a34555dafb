/**
 * How a simulation run is shaped, drawn from its seed: cluster size, fault rates, timings, Raft limits
 * and workload. Drawing the profile from the seed (rather than fixing it) spreads the random batch
 * over many kinds of weather: lossy or clean networks, slow or fast disks, tight or loose flow control.
 */
import { createRng } from '../../../runtime/rng.js';
import type { RaftConfigInput } from '../../../actors/raft/core/config.js';
import type { NodeId } from '../../../actors/raft/core/types.js';
import type { ClientOptions } from './clients.js';

/** The fault kinds the nemesis picks from. */
export type FaultKind = 'partition' | 'isolateLeader' | 'crash' | 'crashLeader' | 'transfer' | 'membership' | 'none';

/** Everything that shapes one run. Times are simulated milliseconds. */
export interface SimulationProfile {
  readonly family: 'mixed' | 'churn';
  readonly nodeIds: readonly NodeId[];
  readonly initialVoters: readonly NodeId[];
  /** Membership changes never take the voters below this. */
  readonly votersMin: number;
  readonly tickMs: number;
  readonly raft: Omit<RaftConfigInput, 'id' | 'rng' | 'initialMembership'>;
  readonly delayMsMax: number;
  readonly longDelayRate: number;
  readonly dropRate: number;
  readonly duplicateRate: number;
  readonly syncDelayMsMax: number;
  readonly tornWriteRate: number;
  readonly faultIntervalMs: readonly [number, number];
  /**
   * Chance that a newly elected leader is crashed or cut off within `leaderChurnMs`: the schedule of
   * the paper's Figure 8, where a leader dies having replicated only part of its log.
   */
  readonly leaderChurnRate: number;
  readonly leaderChurnMs: readonly [number, number];
  readonly faultWeights: Readonly<Record<FaultKind, number>>;
  readonly partitionMs: readonly [number, number];
  readonly downMs: readonly [number, number];
  readonly clients: number;
  readonly clientOptions: ClientOptions;
  readonly faultMs: number;
  readonly quietMs: number;
  readonly convergenceMs: number;
}

/**
 * Draws a run's profile from its seed (with its own generator, so the run's stream is untouched).
 * Two families: `mixed` varies everything, and `churn` is a three-replica cluster whose new leaders
 * are usually crashed or cut off within milliseconds while sending one entry per message: the
 * schedule of the paper's Figure 8, which a uniform mix almost never produces.
 */
export function profileFromSeed(seed: number): SimulationProfile {
  const rng = createRng(seed ^ 0x5eed_f00d);
  const pick = <T>(items: readonly T[]): T => items[rng.int(0, items.length - 1)]!;
  const family = rng.next() < 0.3 ? 'churn' : 'mixed';
  const nodeCount = family === 'churn' ? 3 : pick([3, 3, 5, 5, 5]);
  const nodeIds = Array.from({ length: nodeCount }, (_, index) => `n${index + 1}`);
  const membershipChanges = nodeCount === 5 && rng.next() < 0.5;
  const initialVoters = membershipChanges ? nodeIds.slice(0, 3) : nodeIds;
  const lossy = rng.next() < 0.7;
  const electionTicks = pick([6, 8, 10]);
  const classic = rng.next() < 0.15; // some runs without pre-vote and check-quorum, to exercise plain Raft
  return {
    family,
    nodeIds,
    initialVoters,
    votersMin: 3,
    tickMs: 10,
    raft: {
      electionTicks,
      heartbeatTicks: pick([1, 2]),
      preVote: !classic,
      checkQuorum: !classic,
      forwardProposals: rng.next() < 0.7,
      maxEntriesPerMessage: family === 'churn' ? 1 : pick([1, 4, 64]),
      maxBytesPerMessage: pick([256, 64 * 1024]),
      maxInflightMessages: family === 'churn' ? pick([1, 2]) : pick([1, 4, 32]),
      maxInflightBytes: pick([512, 1024 * 1024]),
      maxUncommittedBytes: pick([1024, 1024 * 1024]),
      maxEntryBytes: 1024,
      snapshotEntriesThreshold: pick([8, 16, 40]),
      compactionRetainEntries: pick([0, 2, 10]),
      // Byte-level snapshots (revisions, sessions and the kept watch events) are about twice the size of
      // the old string snapshots; at 64-byte chunks a transfer of 40 sequential chunks over the lossy
      // network could outlast the convergence window (SEED=767262948), so the smallest chunk is 128 bytes.
      snapshotChunkBytes: pick([128, 256, 4096]),
      maxInflightSnapshotChunks: pick([1, 2, 8]),
    },
    delayMsMax: pick([2, 5, 8]),
    longDelayRate: lossy ? 0.02 : 0,
    dropRate: lossy ? pick([0.01, 0.05, 0.1]) : 0,
    duplicateRate: lossy ? pick([0, 0.02, 0.05]) : 0,
    syncDelayMsMax: pick([0, 2, 6, 20]),
    tornWriteRate: 0.5,
    faultIntervalMs: [40, 250],
    leaderChurnRate: family === 'churn' ? 0.8 : pick([0, 0.2]),
    leaderChurnMs: family === 'churn' ? [0, 20] : [0, 30],
    faultWeights: {
      partition: 3,
      isolateLeader: 3,
      crash: 3,
      crashLeader: 2,
      transfer: 1,
      membership: membershipChanges ? 4 : 0,
      none: 2,
    },
    partitionMs: [30, 400],
    downMs: [10, 300],
    clients: pick([2, 3, 4]),
    clientOptions: {
      keys: ['a', 'b', 'c', 'd'],
      scanKeys: ['a', 'b'],
      attemptTimeoutMs: 120,
      giveUpMs: 1200,
      retryBackoffMsMax: 30,
      thinkMsMax: 20,
      readIndexShare: 0.7,
    },
    faultMs: 1500,
    quietMs: 400,
    convergenceMs: 3000,
  };
}
