/**
 * Raft paper section 5.2 (leader election) and 5.1 (terms), on the real core.
 */
import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../../runtime/errors.js';
import { Cluster } from './harness.js';

describe('5.2 leader election', () => {
  it('a follower that hears from no leader campaigns after a randomized timeout in [electionTicks, 2 * electionTicks)', () => {
    for (let seed = 1; seed <= 20; seed += 1) {
      const cluster = new Cluster(['a', 'b', 'c'], {}, { seed });
      const node = cluster.node('a');
      let ticks = 0;
      while (node.status().role === 'follower') {
        node.tick();
        ticks += 1;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
    }
  });

  it('the first candidate to win a majority becomes leader and every replica learns it', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    expect(cluster.node('a').status()).toMatchObject({ role: 'leader', term: 1, leader: 'a', vote: 'a' });
    for (const id of ['b', 'c']) expect(cluster.node(id).status()).toMatchObject({ role: 'follower', term: 1, leader: 'a', vote: 'a' });
  });

  it('elects exactly one leader per term whatever the timeouts (many seeds)', () => {
    for (let seed = 1; seed <= 30; seed += 1) {
      const cluster = new Cluster(['a', 'b', 'c', 'd', 'e'], {}, { seed });
      const leader = cluster.electLeader();
      const term = cluster.node(leader).status().term;
      const leaders = [...cluster.replicas.keys()].filter((id) => {
        const status = cluster.node(id).status();
        return status.role === 'leader' && status.term === term;
      });
      expect(leaders).toEqual([leader]);
      for (const id of cluster.replicas.keys()) expect(cluster.node(id).status().leader).toBe(leader);
    }
  });

  it('a replica grants at most one vote per term, and still refuses after a restart', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
    // b campaigns for term 1 and a votes for it.
    cluster.campaign('b');
    expect(cluster.node('a').status().vote).toBe('b');
    cluster.crash('a');
    cluster.restart('a');
    expect(cluster.node('a').status()).toMatchObject({ term: 1, vote: 'b' });
    // c asks a for its vote in the same term 1: refused.
    cluster.node('a').step({ type: 'raft.vote', from: 'c', to: 'a', term: 1, lastLogIndex: 5, lastLogTerm: 1, transfer: false });
    cluster.processReadies();
    const answer = cluster.sentOf('raft.voteResponse', 'c').at(-1)!;
    expect(answer).toMatchObject({ from: 'a', reject: true, term: 1 });
  });

  it('a candidate cut off from the majority never becomes leader', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
    cluster.isolate('a');
    cluster.tick(100, ['a']);
    const status = cluster.node('a').status();
    expect(status.role).toBe('candidate');
    expect(status.term).toBeGreaterThan(1);
  });

  it('a candidate that hears from a leader of its term returns to follower', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
    cluster.campaign('a');
    // b starts a campaign for term 2 but loses its messages; a then wins term 2 and b hears of it.
    cluster.isolate('b');
    cluster.tick(30, ['b']);
    const bTerm = cluster.node('b').status().term;
    expect(cluster.node('b').status().role).toBe('candidate');
    cluster.heal();
    cluster.node('b').step({ type: 'raft.heartbeat', from: 'a', to: 'b', term: bTerm, commit: 0, readContext: null });
    expect(cluster.node('b').status()).toMatchObject({ role: 'follower', term: bTerm, leader: 'a' });
  });

  it('5.1: a replica that sees a higher term adopts it and a leader steps down', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
    cluster.campaign('a');
    cluster.node('a').step({ type: 'raft.voteResponse', from: 'b', to: 'a', term: 7, reject: true });
    expect(cluster.node('a').status()).toMatchObject({ role: 'follower', term: 7, vote: null, leader: null });
  });

  it('5.1: messages from an older term are ignored', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
    cluster.campaign('a');
    cluster.campaign('b');
    expect(cluster.node('b').status()).toMatchObject({ role: 'leader', term: 2 });
    const lastBefore = cluster.node('c').status().lastIndex;
    cluster.node('c').step({
      type: 'raft.append', from: 'a', to: 'c', term: 1, prevLogIndex: lastBefore, prevLogTerm: 2, commit: 0,
      entries: [{ type: 'normal', term: 1, index: lastBefore + 1, data: new Uint8Array([1]) }],
    });
    expect(cluster.node('c').status()).toMatchObject({ term: 2, leader: 'b', lastIndex: lastBefore });
  });

  it('asserts election safety: a second leader in one term crashes the replica loudly', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    const term = cluster.node('b').status().term;
    expect(() => cluster.node('b').step({ type: 'raft.heartbeat', from: 'c', to: 'b', term, commit: 0, readContext: null })).toThrow(InvariantError);
    expect(() => cluster.node('a').step({ type: 'raft.heartbeat', from: 'c', to: 'a', term, commit: 0, readContext: null })).toThrow(InvariantError);
  });

  it('a single-voter group elects itself at once', () => {
    const cluster = new Cluster(['solo']);
    cluster.tick(20);
    expect(cluster.node('solo').status().role).toBe('leader');
    expect(cluster.propose('solo', 'x')).toMatchObject({ ok: true, status: 'appended' });
    expect(cluster.replica('solo').applied).toEqual(['x']);
  });
});
