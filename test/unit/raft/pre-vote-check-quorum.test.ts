/**
 * Pre-vote (Raft thesis 9.6) and check-quorum with leader leases (thesis 6.2 and 4.2.3): a replica
 * cut off from the cluster cannot inflate its term and depose a healthy leader, a leader cut off from
 * the majority steps down, and replicas that hear from a leader ignore disruptive campaigns.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from './harness.js';

describe('pre-vote', () => {
  it('a partitioned replica does not raise its term, and on return does not disturb the leader', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    const term = cluster.node('a').status().term;
    cluster.isolate('c');
    cluster.tick(100);
    expect(cluster.node('c').status()).toMatchObject({ term, role: 'preCandidate' });
    cluster.heal();
    cluster.tick(5);
    expect(cluster.node('a').status()).toMatchObject({ role: 'leader', term });
    expect(cluster.node('c').status()).toMatchObject({ role: 'follower', term, leader: 'a' });
  });

  it('without pre-vote the same partition raises terms and deposes the leader', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
    cluster.campaign('a');
    const term = cluster.node('a').status().term;
    cluster.isolate('c');
    cluster.tick(100, ['c']);
    expect(cluster.node('c').status().term).toBeGreaterThan(term + 3);
    cluster.heal();
    // c's next campaign, at its inflated term, forces the working leader out.
    cluster.campaign('c');
    expect(cluster.node('a').status().term).toBeGreaterThan(term + 3);
    expect(cluster.node('a').status().role).not.toBe('leader');
  });

  it('a pre-vote is granted for a future term without changing the voter\'s term or vote', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.node('b').step({ type: 'raft.preVote', from: 'c', to: 'b', term: 5, lastLogIndex: 0, lastLogTerm: 0 });
    cluster.processReadies();
    expect(cluster.node('b').status()).toMatchObject({ term: 0, vote: null });
    expect(cluster.sentOf('raft.preVoteResponse', 'c').at(-1)).toMatchObject({ from: 'b', term: 5, reject: false });
  });
});

describe('check-quorum', () => {
  it('a leader that hears from no majority for an election timeout steps down', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.isolate('a');
    cluster.tick(25, ['a']);
    expect(cluster.node('a').status()).toMatchObject({ role: 'follower', leader: null });
    expect(cluster.node('a').propose(new Uint8Array([1]))).toEqual({ ok: false, code: 'NOT_LEADER', leaderHint: null });
  });

  it('a leader that keeps its majority stays leader however long it runs', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.isolate('c');
    cluster.tick(100, ['a', 'b']);
    expect(cluster.node('a').status().role).toBe('leader');
  });

  it('replicas that hear from a leader ignore a campaign for a higher term (leader lease)', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    const term = cluster.node('a').status().term;
    cluster.sent.length = 0;
    cluster.node('b').step({ type: 'raft.vote', from: 'c', to: 'b', term: term + 5, lastLogIndex: 99, lastLogTerm: term, transfer: false });
    cluster.processReadies();
    expect(cluster.node('b').status()).toMatchObject({ term, leader: 'a' });
    expect(cluster.sentOf('raft.voteResponse')).toEqual([]);
    // A campaign that leader transfer started does override the lease.
    cluster.node('b').step({ type: 'raft.vote', from: 'c', to: 'b', term: term + 5, lastLogIndex: 99, lastLogTerm: term, transfer: true });
    expect(cluster.node('b').status()).toMatchObject({ term: term + 5, vote: 'c' });
  });

  it('a stale leader learns the newer term from a follower\'s answer and steps down', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    const term = cluster.node('a').status().term;
    cluster.node('a').step({ type: 'raft.appendResponse', from: 'b', to: 'a', term: term + 2, reject: true, index: 0, hintIndex: 0, hintTerm: 0 });
    expect(cluster.node('a').status()).toMatchObject({ role: 'follower', term: term + 2 });
  });

  it('a replica with a higher term answers a stale leader so that the stale leader steps down', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    const term = cluster.node('a').status().term;
    cluster.node('c').step({ type: 'raft.heartbeat', from: 'b', to: 'c', term: term + 3, commit: 0, readContext: null });
    cluster.processReadies();
    cluster.queue.length = 0;
    cluster.node('c').step({ type: 'raft.heartbeat', from: 'a', to: 'c', term, commit: 0, readContext: null });
    cluster.processReadies();
    expect(cluster.sentOf('raft.appendResponse', 'a').at(-1)).toMatchObject({ from: 'c', term: term + 3 });
  });
});
