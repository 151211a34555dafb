/**
 * Single-server membership changes (Raft thesis 4.1-4.2). A change takes effect on a replica as soon as
 * its entry is in that replica's log, committed or not, and reverts if the entry is truncated away.
 * Because any two configurations one change apart share a majority, no two leaders can be elected in
 * one term, provided a leader never has more than one change uncommitted and appends one only after it
 * has committed an entry of its own term (the fix to the thesis algorithm posted to raft-dev in 2015).
 * New servers join as learners, which receive the log without voting, and are promoted once they have
 * caught up, so adding a voter never stalls commitment while it copies the log (thesis 4.2.1).
 */
import { assert } from '../../../runtime/errors.js';
import type { Entry, Membership, MembershipChange, NodeId } from './types.js';

/** Whether `id` is a voter. */
export function isVoter(membership: Membership, id: NodeId): boolean {
  return membership.voters.includes(id);
}

/** Whether `id` is a learner. */
export function isLearner(membership: Membership, id: NodeId): boolean {
  return membership.learners.includes(id);
}

/** Every voter and learner, voters first. */
export function members(membership: Membership): NodeId[] {
  return [...membership.voters, ...membership.learners];
}

/** Why a change cannot apply to `membership`, or null when it can. */
export function invalidChangeReason(membership: Membership, change: MembershipChange): string | null {
  const { node } = change;
  switch (change.type) {
    case 'addLearner':
      return isVoter(membership, node) || isLearner(membership, node) ? `${node} is already a member` : null;
    case 'promoteLearner':
      return isLearner(membership, node) ? null : `${node} is not a learner`;
    case 'removeNode':
      if (!isVoter(membership, node) && !isLearner(membership, node)) return `${node} is not a member`;
      return isVoter(membership, node) && membership.voters.length === 1 ? 'cannot remove the last voter' : null;
  }
}

/** The membership after `change`; the change must be valid (the leader checked it before appending). */
export function applyChange(membership: Membership, change: MembershipChange): Membership {
  const reason = invalidChangeReason(membership, change);
  assert(reason === null, `invalid membership change in the log: ${reason ?? ''}`, { change });
  const without = (list: readonly NodeId[]): NodeId[] => list.filter((id) => id !== change.node);
  switch (change.type) {
    case 'addLearner':
      return { voters: [...membership.voters], learners: [...membership.learners, change.node].sort() };
    case 'promoteLearner':
      return { voters: [...membership.voters, change.node].sort(), learners: without(membership.learners) };
    case 'removeNode':
      return { voters: without(membership.voters), learners: without(membership.learners) };
  }
}

/**
 * The membership as of every index still in the log: a base (as of the log's offset) plus one record
 * per membership entry after it. The latest record is the membership in force.
 */
export class MembershipHistory {
  #base: Membership;
  #records: Array<{ index: number; membership: Membership }> = [];

  constructor(base: Membership) {
    this.#base = base;
  }

  current(): Membership {
    return this.#records.length === 0 ? this.#base : this.#records[this.#records.length - 1]!.membership;
  }

  /** Index of the latest membership entry in the log, or 0 when the membership comes from the base. */
  latestIndex(): number {
    return this.#records.length === 0 ? 0 : this.#records[this.#records.length - 1]!.index;
  }

  /** The membership in force after the entry at `index`. */
  at(index: number): Membership {
    let result = this.#base;
    for (const record of this.#records) {
      if (record.index > index) break;
      result = record.membership;
    }
    return result;
  }

  /** Records the membership entries among `entries`, which extend the log in order. */
  appended(entries: readonly Entry[]): boolean {
    let changed = false;
    for (const entry of entries) {
      if (entry.type !== 'membership') continue;
      assert(entry.index > this.latestIndex(), 'membership entries must be recorded in log order');
      this.#records.push({ index: entry.index, membership: applyChange(this.current(), entry.change) });
      changed = true;
    }
    return changed;
  }

  /** Forgets records after `lastIndex` (their entries were truncated); returns whether the membership changed. */
  truncatedAfter(lastIndex: number): boolean {
    const before = this.#records.length;
    this.#records = this.#records.filter((record) => record.index <= lastIndex);
    return this.#records.length !== before;
  }

  /** The log was compacted up to `index`: folds older records into the base. */
  compactedTo(index: number): void {
    this.#base = this.at(index);
    this.#records = this.#records.filter((record) => record.index > index);
  }

  /** The log was replaced by a snapshot whose membership is `base`. */
  reset(base: Membership): void {
    this.#base = base;
    this.#records = [];
  }
}
