/**
 * Raft paper section 6 (cluster membership changes), as single-server changes with learners
 * (Raft thesis 4.1-4.2), on the real core.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from './harness.js';

/** A three-voter cluster led by `a`, plus a replica `d` started with the founding membership. */
function withJoiner(): Cluster {
  const cluster = new Cluster(['a', 'b', 'c']);
  cluster.campaign('a');
  cluster.propose('a', 'before');
  cluster.addReplica('d');
  return cluster;
}

describe('6 membership changes', () => {
  it('a learner receives the log but neither votes nor counts toward commit', () => {
    const cluster = withJoiner();
    expect(cluster.node('a').proposeMembership({ type: 'addLearner', node: 'd' })).toMatchObject({ ok: true, status: 'appended' });
    cluster.stabilize();
    cluster.propose('a', 'after');
    expect(cluster.replica('d').applied).toEqual(['before', 'after']);
    expect(cluster.node('d').status().membership).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
    // With two voters down, the learner does not make a majority.
    cluster.isolate('b', 'c');
    const commit = cluster.node('a').status().commit;
    cluster.propose('a', 'stuck');
    cluster.tick(3, ['a', 'd']);
    expect(cluster.node('a').status().commit).toBe(commit);
    // And the learner never campaigns, however long it hears nothing.
    cluster.isolate('a', 'b', 'c');
    cluster.tick(60, ['d']);
    expect(cluster.node('d').status().role).toBe('follower');
  });

  it('a change takes effect on the leader when appended, before it commits', () => {
    const cluster = withJoiner();
    cluster.isolate('b', 'c');
    cluster.node('a').proposeMembership({ type: 'addLearner', node: 'd' });
    expect(cluster.node('a').status().membership.learners).toEqual(['d']);
    expect(cluster.node('a').status().progress.d).toBeDefined();
  });

  it('a learner is promoted only once it has caught up', () => {
    const cluster = withJoiner();
    cluster.filter = (message) => message.to !== 'd' && message.from !== 'd';
    cluster.node('a').proposeMembership({ type: 'addLearner', node: 'd' });
    cluster.stabilize();
    cluster.propose('a', 'more');
    const refused = cluster.node('a').proposeMembership({ type: 'promoteLearner', node: 'd' });
    expect(refused).toMatchObject({ ok: false, code: 'LEARNER_NOT_CAUGHT_UP', match: 0 });
    cluster.heal();
    cluster.tick(3);
    expect(cluster.node('a').proposeMembership({ type: 'promoteLearner', node: 'd' })).toMatchObject({ ok: true });
    cluster.stabilize();
    expect(cluster.node('d').status().membership).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [] });
    // Now d counts: with b and c down, a and d are not a majority of four, but a, b and d are.
    cluster.isolate('c');
    cluster.propose('a', 'four');
    expect(cluster.replica('d').applied).toContain('four');
  });

  it('only one change may be uncommitted at a time, and only after the leader committed in its term', () => {
    const cluster = withJoiner();
    cluster.isolate('b', 'c');
    expect(cluster.node('a').proposeMembership({ type: 'addLearner', node: 'd' })).toMatchObject({ ok: true });
    expect(cluster.node('a').proposeMembership({ type: 'removeNode', node: 'c' })).toEqual({ ok: false, code: 'MEMBERSHIP_CHANGE_PENDING' });
    // A new leader whose no-op has not committed yet refuses as well.
    const fresh = new Cluster(['a', 'b', 'c']);
    fresh.filter = (message) => message.type !== 'raft.appendResponse';
    fresh.campaignUntilLeader('a');
    expect(fresh.node('a').status().role).toBe('leader');
    expect(fresh.node('a').proposeMembership({ type: 'addLearner', node: 'd' })).toEqual({ ok: false, code: 'MEMBERSHIP_CHANGE_PENDING' });
  });

  it('invalid changes are refused with a reason', () => {
    const cluster = withJoiner();
    const leader = cluster.node('a');
    expect(leader.proposeMembership({ type: 'addLearner', node: 'b' })).toMatchObject({ code: 'INVALID_MEMBERSHIP_CHANGE' });
    expect(leader.proposeMembership({ type: 'promoteLearner', node: 'd' })).toMatchObject({ code: 'INVALID_MEMBERSHIP_CHANGE' });
    expect(leader.proposeMembership({ type: 'removeNode', node: 'zz' })).toMatchObject({ code: 'INVALID_MEMBERSHIP_CHANGE' });
    expect(cluster.node('b').proposeMembership({ type: 'removeNode', node: 'c' })).toEqual({ ok: false, code: 'NOT_LEADER', leaderHint: 'a' });
    const solo = new Cluster(['solo']);
    solo.tick(20);
    expect(solo.node('solo').proposeMembership({ type: 'removeNode', node: 'solo' })).toMatchObject({ code: 'INVALID_MEMBERSHIP_CHANGE', reason: 'cannot remove the last voter' });
  });

  it('after removing a follower the remaining voters form the majority', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.node('a').proposeMembership({ type: 'removeNode', node: 'c' });
    cluster.stabilize();
    cluster.crash('c');
    cluster.propose('a', 'two of two');
    expect(cluster.replica('b').applied).toEqual(['two of two']);
    expect(cluster.node('a').status().membership.voters).toEqual(['a', 'b']);
  });

  it('a removed leader steps down once the removal commits, and the rest elect a leader', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.node('a').proposeMembership({ type: 'removeNode', node: 'a' });
    cluster.stabilize();
    expect(cluster.node('a').status().role).toBe('follower');
    const leader = cluster.electLeader();
    expect(['b', 'c']).toContain(leader);
    cluster.propose(leader, 'without a');
    expect(cluster.replica('b').applied).toEqual(['without a']);
    // The removed replica never campaigns again.
    cluster.isolate('b', 'c');
    cluster.tick(60, ['a']);
    expect(cluster.node('a').status().role).toBe('follower');
  });

  it('a membership entry that is truncated away reverts the membership', () => {
    const cluster = new Cluster(['a', 'b', 'c', 'd', 'e'], { checkQuorum: false });
    cluster.campaign('a');
    // a appends a change that reaches only b, then crashes; c wins with d and e and overwrites it.
    cluster.isolate('c', 'd', 'e');
    cluster.addReplica('f', { voters: ['a', 'b', 'c', 'd', 'e'], learners: [] });
    cluster.node('a').proposeMembership({ type: 'addLearner', node: 'f' });
    cluster.stabilize();
    expect(cluster.node('b').status().membership.learners).toEqual(['f']);
    cluster.crash('a');
    cluster.heal();
    expect(cluster.campaignUntilLeader('c')).toBe(true);
    cluster.tick(2);
    expect(cluster.node('b').status().membership).toEqual({ voters: ['a', 'b', 'c', 'd', 'e'], learners: [] });
  });
});
