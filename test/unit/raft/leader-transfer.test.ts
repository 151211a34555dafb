/**
 * Leader transfer (Raft thesis 3.10): the leader brings the target's log up to date, then sends
 * TimeoutNow, and the target wins the next term at once; proposals wait meanwhile, and a transfer that
 * does not finish within an election timeout is abandoned.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from './harness.js';

describe('leader transfer', () => {
  it('hands leadership to an up-to-date follower without waiting for an election timeout', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    const term = cluster.node('a').status().term;
    expect(cluster.node('a').transferLeadership('c')).toEqual({ ok: true });
    cluster.stabilize();
    expect(cluster.sentOf('raft.timeoutNow', 'c')).toHaveLength(1);
    expect(cluster.node('c').status()).toMatchObject({ role: 'leader', term: term + 1 });
    expect(cluster.node('a').status()).toMatchObject({ role: 'follower', leader: 'c' });
  });

  it('first brings a lagging target up to date', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.isolate('c');
    for (const text of ['1', '2', '3']) cluster.propose('a', text);
    cluster.heal();
    cluster.filter = (message) => message.type !== 'raft.heartbeat';
    expect(cluster.node('a').transferLeadership('c')).toEqual({ ok: true });
    cluster.stabilize();
    expect(cluster.node('c').status().role).toBe('leader');
    cluster.heal();
    cluster.propose('c', '4');
    for (const id of ['a', 'b', 'c']) expect(cluster.replica(id).applied).toEqual(['1', '2', '3', '4']);
  });

  it('refuses proposals while a transfer is under way', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.isolate('c');
    cluster.node('a').transferLeadership('c');
    expect(cluster.node('a').propose(new Uint8Array([1]))).toEqual({ ok: false, code: 'BUSY', reason: 'leaderTransfer' });
  });

  it('abandons a transfer to an unreachable target after an election timeout', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.isolate('c');
    cluster.node('a').transferLeadership('c');
    cluster.tick(10, ['a', 'b']);
    expect(cluster.node('a').status()).toMatchObject({ role: 'leader', leadTransferee: null });
    expect(cluster.propose('a', 'again')).toMatchObject({ ok: true, status: 'appended' });
  });

  it('refuses a target that is not a voter, and a request to a follower', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    expect(cluster.node('a').transferLeadership('zz')).toMatchObject({ ok: false, code: 'INVALID_MEMBERSHIP_CHANGE' });
    expect(cluster.node('b').transferLeadership('c')).toEqual({ ok: false, code: 'NOT_LEADER', leaderHint: 'a' });
    expect(cluster.node('a').transferLeadership('a')).toEqual({ ok: true });
  });
});
