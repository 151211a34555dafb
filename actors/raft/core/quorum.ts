/**
 * Majority arithmetic over a set of voters (paper 5.2, 5.3): the outcome of an election and the highest
 * index a majority holds. Learners never count.
 */
import type { NodeId } from './types.js';

/** Outcome of counting votes so far. */
export type VoteOutcome = 'won' | 'lost' | 'pending';

/** The smallest number of voters that forms a majority. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** Counts granted and rejected votes among `voters`; votes from non-voters are ignored. */
export function voteOutcome(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const voter of voters) {
    const vote = votes.get(voter);
    if (vote === true) granted += 1;
    else if (vote === false) rejected += 1;
  }
  const needed = majority(voters.length);
  if (granted >= needed) return 'won';
  if (voters.length - rejected < needed) return 'lost';
  return 'pending';
}

/** The highest index that a majority of voters hold, given each voter's match index. */
export function committedIndex(voters: readonly NodeId[], matchOf: (voter: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((left, right) => right - left);
  return matches[majority(voters.length) - 1]!;
}

/** Whether `members` includes a majority of `voters`. */
export function hasQuorum(voters: readonly NodeId[], members: (voter: NodeId) => boolean): boolean {
  let count = 0;
  for (const voter of voters) if (members(voter)) count += 1;
  return count >= majority(voters.length);
}
