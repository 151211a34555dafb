/**
 * The smaller parts of the core on their own: configuration validation, the in-memory log and its
 * invariants, per-follower progress with its in-flight window, and majority arithmetic.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvariantError } from '../../../runtime/errors.js';
import { createRng } from '../../../runtime/rng.js';
import { raftDefaults, validateConfig } from '../../../actors/raft/core/config.js';
import { RaftLog } from '../../../actors/raft/core/log.js';
import { applyChange, invalidChangeReason, MembershipHistory } from '../../../actors/raft/core/membership.js';
import { Inflights, Progress } from '../../../actors/raft/core/progress.js';
import { committedIndex, voteOutcome } from '../../../actors/raft/core/quorum.js';
import type { Entry } from '../../../actors/raft/core/types.js';

const base = { id: 'a', rng: createRng(1), initialMembership: { voters: ['a', 'b', 'c'], learners: [] } };

function entries(terms: number[], from = 1): Entry[] {
  return terms.map((term, position) => ({ type: 'normal', term, index: from + position, data: new Uint8Array([position]) }));
}

describe('config', () => {
  it('fills defaults', () => {
    expect(validateConfig(base)).toMatchObject({ ...raftDefaults, id: 'a' });
  });

  it('refuses bad limits with INVALID_ARGUMENT naming the field', () => {
    const bad: Array<Record<string, unknown>> = [
      { electionTicks: 0 },
      { heartbeatTicks: 10, electionTicks: 10 },
      { maxInflightMessages: -1 },
      { maxEntriesPerMessage: 1.5 },
      { compactionRetainEntries: -1 },
      { maxEntryBytes: 100, maxUncommittedBytes: 10 },
      { id: '' },
      { initialMembership: { voters: ['a', 'a'], learners: [] } },
      { initialMembership: { voters: ['a'], learners: ['a'] } },
    ];
    for (const overrides of bad) {
      expect(() => validateConfig({ ...base, ...overrides } as typeof base)).toThrow(InvalidArgumentError);
    }
    try {
      validateConfig({ ...base, maxInflightBytes: 0 });
    } catch (error) {
      expect((error as InvalidArgumentError).code).toBe('INVALID_ARGUMENT');
      expect((error as InvalidArgumentError).message).toContain('maxInflightBytes');
    }
  });
});

describe('RaftLog', () => {
  const log = (terms: number[], committed = 0): RaftLog => new RaftLog({ offsetIndex: 0, offsetTerm: 0, entries: entries(terms), committed, applied: 0 });

  it('answers terms, up-to-dateness and conflicts', () => {
    const subject = log([1, 1, 2, 3]);
    expect([subject.term(0), subject.term(3), subject.term(5)]).toEqual([0, 2, undefined]);
    expect(subject.isUpToDate(4, 3)).toBe(true);
    expect(subject.isUpToDate(3, 3)).toBe(false);
    expect(subject.isUpToDate(1, 4)).toBe(true);
    expect(subject.findConflict(entries([1, 1, 4], 2))).toBe(3);
    expect(subject.findConflict(entries([1, 2], 2))).toBe(0);
    expect(subject.findConflictByTerm(4, 2)).toBe(3);
    expect(subject.findConflictByTerm(4, 0)).toBe(0);
  });

  it('appends, truncates a conflicting suffix, and moves commit forward only', () => {
    const subject = log([1, 1, 1, 1]);
    expect(subject.maybeAppend(1, 1, 3, entries([1, 2, 2], 2))).toEqual({ lastNewIndex: 4, rewrittenFrom: 3 });
    expect([1, 2, 3, 4].map((index) => subject.term(index))).toEqual([1, 1, 2, 2]);
    expect(subject.committed).toBe(3);
    subject.commitTo(1);
    expect(subject.committed).toBe(3);
    expect(subject.maybeAppend(4, 9, 4, [])).toBeNull();
    expect(() => subject.commitTo(10)).toThrow(InvariantError);
  });

  it('never overwrites a committed entry', () => {
    const subject = log([1, 1, 1], 2);
    expect(() => subject.maybeAppend(1, 1, 2, entries([2], 2))).toThrow(InvariantError);
  });

  it('tracks what is durable: a truncation pulls the stable index back', () => {
    const subject = log([]);
    subject.append(entries([1, 1, 1]));
    expect(subject.unstableEntries()).toHaveLength(3);
    subject.stableTo(3, 1);
    expect(subject.unstableEntries()).toHaveLength(0);
    subject.maybeAppend(1, 1, 0, entries([2], 2));
    expect(subject.stableIndex).toBe(1);
    expect(subject.unstableEntries().map((entry) => entry.index)).toEqual([2]);
    subject.stableTo(2, 1); // an acknowledgement for the replaced entry is ignored
    expect(subject.stableIndex).toBe(1);
  });

  it('compacts only applied, durable entries, and restores from a snapshot', () => {
    const subject = log([1, 1, 2, 2], 4);
    expect(() => subject.compact(2)).toThrow(InvariantError);
    subject.takeCommittedEntries(1 << 20);
    subject.appliedTo(4);
    subject.compact(2);
    expect([subject.term(1), subject.term(2), subject.term(3)]).toEqual([undefined, 1, 2]);
    expect(() => subject.slice(2, 10, 1 << 20)).toThrow(InvariantError);
    subject.restore({ meta: { index: 9, term: 3, membership: { voters: ['a'], learners: [] } }, data: new Uint8Array(0) });
    expect(subject).toMatchObject({ committed: 9, applied: 9, stableIndex: 9 });
    expect(subject.lastIndex()).toBe(9);
    expect(subject.pendingSnapshot?.meta.index).toBe(9);
  });
});

describe('membership', () => {
  it('applies single-server changes and explains invalid ones', () => {
    const start = { voters: ['a', 'b'], learners: [] };
    const withLearner = applyChange(start, { type: 'addLearner', node: 'c' });
    expect(withLearner).toEqual({ voters: ['a', 'b'], learners: ['c'] });
    expect(applyChange(withLearner, { type: 'promoteLearner', node: 'c' })).toEqual({ voters: ['a', 'b', 'c'], learners: [] });
    expect(applyChange(withLearner, { type: 'removeNode', node: 'a' })).toEqual({ voters: ['b'], learners: ['c'] });
    expect(invalidChangeReason(start, { type: 'promoteLearner', node: 'a' })).toBe('a is not a learner');
    expect(() => applyChange(start, { type: 'addLearner', node: 'a' })).toThrow(InvariantError);
  });

  it('knows the membership at every index, reverts on truncation and folds into its base on compaction', () => {
    const history = new MembershipHistory({ voters: ['a'], learners: [] });
    history.appended([
      { type: 'normal', term: 1, index: 1, data: new Uint8Array(0) },
      { type: 'membership', term: 1, index: 2, change: { type: 'addLearner', node: 'b' } },
      { type: 'membership', term: 1, index: 4, change: { type: 'promoteLearner', node: 'b' } },
    ]);
    expect(history.at(1)).toEqual({ voters: ['a'], learners: [] });
    expect(history.at(3)).toEqual({ voters: ['a'], learners: ['b'] });
    expect(history.current()).toEqual({ voters: ['a', 'b'], learners: [] });
    expect(history.truncatedAfter(3)).toBe(true);
    expect(history.current()).toEqual({ voters: ['a'], learners: ['b'] });
    history.compactedTo(3);
    expect(history.latestIndex()).toBe(0);
    expect(history.current()).toEqual({ voters: ['a'], learners: ['b'] });
  });
});

describe('progress and in-flight window', () => {
  it('fills by messages or bytes and frees by acknowledged index', () => {
    const window = new Inflights(3, 100);
    window.add(1, 10);
    window.add(2, 10);
    expect(window.full()).toBe(false);
    window.add(5, 90);
    expect(window.full()).toBe(true);
    expect(() => window.add(6, 1)).toThrow(InvariantError);
    window.freeUpTo(2);
    expect([window.count, window.bytes, window.full()]).toEqual([1, 90, false]);
  });

  it('ignores stale acknowledgements and rejections', () => {
    const progress = new Progress({ next: 5, learner: false, inflightMessagesMax: 4, inflightBytesMax: 1000 });
    expect(progress.maybeUpdate(3)).toBe(true);
    expect(progress.maybeUpdate(2)).toBe(false);
    expect(progress.match).toBe(3);
    progress.becomeReplicate();
    progress.optimisticUpdate(9);
    expect(progress.maybeDecreaseTo(2, 0)).toBe(false); // below match: an old message's answer
    expect(progress.maybeDecreaseTo(8, 0)).toBe(true);
    expect(progress.next).toBe(4);
    progress.becomeProbe();
    progress.probeSent = true;
    expect(progress.maybeDecreaseTo(7, 0)).toBe(false); // not the probe we sent (prevLogIndex 3)
    expect(progress.maybeDecreaseTo(3, 0)).toBe(true);
    expect(progress.next).toBe(4); // never below match + 1
    expect(progress.isPaused()).toBe(false);
  });
});

describe('quorum', () => {
  it('counts majorities of voters only', () => {
    const voters = ['a', 'b', 'c', 'd', 'e'];
    expect(voteOutcome(voters, new Map([['a', true], ['b', true], ['x', true]]))).toBe('pending');
    expect(voteOutcome(voters, new Map([['a', true], ['b', true], ['c', true]]))).toBe('won');
    expect(voteOutcome(voters, new Map([['a', false], ['b', false], ['c', false]]))).toBe('lost');
    const matches: Record<string, number> = { a: 9, b: 7, c: 5, d: 3, e: 1 };
    expect(committedIndex(voters, (voter) => matches[voter]!)).toBe(5);
    expect(committedIndex(['a', 'b'], (voter) => matches[voter]!)).toBe(7);
  });
});
