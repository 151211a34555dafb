/**
 * ReadIndex linearizable reads (Raft thesis 6.4): the leader records its commit index, confirms with
 * one heartbeat round acknowledged by a majority that it still leads, and only then releases the
 * read; a new leader first commits an entry of its own term; followers forward reads to the leader.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from './harness.js';

describe('ReadIndex', () => {
  it('releases a leader read only after a majority acknowledged the heartbeat that carried it', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.propose('a', 'x');
    const commit = cluster.node('a').status().commit;
    expect(cluster.node('a').readIndex('r1')).toEqual({ ok: true, status: 'pending' });
    cluster.processReadies();
    expect(cluster.replica('a').readStates).toEqual([]);
    const heartbeats = cluster.sentOf('raft.heartbeat').filter((message) => message.readContext === 'r1');
    expect(heartbeats.map((message) => message.to).sort()).toEqual(['b', 'c']);
    cluster.stabilize();
    expect(cluster.replica('a').readStates).toEqual([{ index: commit, context: 'r1' }]);
  });

  it('a leader cut off from the majority never releases a read', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { checkQuorum: false });
    cluster.campaign('a');
    cluster.isolate('a');
    cluster.node('a').readIndex('stale?');
    cluster.tick(30, ['a']);
    expect(cluster.replica('a').readStates).toEqual([]);
  });

  it('one acknowledgement confirms every earlier pending read as well', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.isolate('b', 'c');
    cluster.node('a').readIndex('r1');
    cluster.node('a').readIndex('r2');
    cluster.stabilize();
    cluster.heal();
    cluster.node('a').readIndex('r3');
    cluster.stabilize();
    expect(cluster.replica('a').readStates.map((state) => state.context)).toEqual(['r1', 'r2', 'r3']);
  });

  it('a follower\'s read is forwarded and answered with the leader\'s commit index', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.propose('a', 'x');
    expect(cluster.node('b').readIndex('from-b')).toEqual({ ok: true, status: 'forwarded' });
    cluster.stabilize();
    expect(cluster.replica('b').readStates).toEqual([{ index: cluster.node('a').status().commit, context: 'from-b' }]);
  });

  it('a new leader holds reads until an entry of its own term commits', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.filter = (message) => message.type !== 'raft.appendResponse';
    cluster.campaign('a');
    expect(cluster.node('a').status().role).toBe('leader');
    cluster.node('a').readIndex('early');
    cluster.tick(2);
    expect(cluster.replica('a').readStates).toEqual([]);
    cluster.heal();
    cluster.tick(2);
    const noopIndex = cluster.node('a').status().commit;
    expect(cluster.replica('a').readStates).toEqual([{ index: noopIndex, context: 'early' }]);
  });

  it('refuses with BUSY past maxPendingReads, and NOT_LEADER without a known leader', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { maxPendingReads: 2 });
    expect(cluster.node('b').readIndex('nobody')).toEqual({ ok: false, code: 'NOT_LEADER', leaderHint: null });
    cluster.campaign('a');
    cluster.isolate('b', 'c');
    expect(cluster.node('a').readIndex('1')).toMatchObject({ ok: true });
    expect(cluster.node('a').readIndex('2')).toMatchObject({ ok: true });
    expect(cluster.node('a').readIndex('3')).toEqual({ ok: false, code: 'BUSY', reason: 'pendingReads' });
  });

  it('a single-voter leader answers at once', () => {
    const cluster = new Cluster(['solo']);
    cluster.tick(20);
    cluster.node('solo').readIndex('r');
    cluster.processReadies();
    expect(cluster.replica('solo').readStates).toEqual([{ index: 1, context: 'r' }]);
  });
});

describe('ReadIndex batching', () => {
  it('reads that arrive together share one heartbeat round, which confirms them all (thesis 6.4)', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.propose('a', 'x');
    cluster.stabilize();
    const before = cluster.sentOf('raft.heartbeat').length;
    for (const context of ['r1', 'r2', 'r3']) expect(cluster.node('a').readIndex(context)).toEqual({ ok: true, status: 'pending' });
    cluster.processReadies();
    const round = cluster.sentOf('raft.heartbeat').slice(before);
    expect(round.map((message) => [message.to, message.readContext]).sort()).toEqual([['b', 'r3'], ['c', 'r3']]);
    cluster.stabilize();
    expect(cluster.replica('a').readStates.map((state) => state.context)).toEqual(['r1', 'r2', 'r3']);
  });

  it('forwarded reads arriving together at the leader share its next heartbeat round too', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.propose('a', 'x');
    cluster.stabilize();
    cluster.node('b').readIndex('b1');
    cluster.node('c').readIndex('c1');
    cluster.processReadies();
    const before = cluster.sentOf('raft.heartbeat').length;
    // Deliver both forwarded reads before the leader takes its next Ready.
    for (const message of cluster.queue.splice(0)) cluster.deliver(message);
    cluster.processReadies();
    expect(cluster.sentOf('raft.heartbeat').slice(before)).toHaveLength(2);
    cluster.stabilize();
    expect(cluster.replica('b').readStates.map((state) => state.context)).toEqual(['b1']);
    expect(cluster.replica('c').readStates.map((state) => state.context)).toEqual(['c1']);
  });
});
