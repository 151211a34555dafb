/**
 * The Ready/Advance contract between the core and its host: what must be durable before what is sent,
 * restarts from persisted state, writes lost before advance(), and stepping while a Ready is out.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../runtime/rng.js';
import { InvariantError } from '../../../runtime/errors.js';
import { RaftNode } from '../../../actors/raft/core/node.js';
import { Cluster, payload } from './harness.js';

const founding = { voters: ['a', 'b', 'c'], learners: [] };

function node(id: string, options: Partial<ConstructorParameters<typeof RaftNode>[0]> = {}): RaftNode {
  return new RaftNode({ id, rng: createRng(7), initialMembership: founding, ...options });
}

describe('Ready/Advance', () => {
  it('a vote goes out in the same Ready as the hard state that records it', () => {
    const voter = node('b');
    voter.step({ type: 'raft.vote', from: 'a', to: 'b', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    const ready = voter.ready();
    expect(ready.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    expect(ready.messages).toEqual([{ type: 'raft.voteResponse', from: 'b', to: 'a', term: 1, reject: false }]);
  });

  it('an acknowledgement goes out in the same Ready as the entries it acknowledges', () => {
    const follower = node('b');
    follower.step({
      type: 'raft.append', from: 'a', to: 'b', term: 1, prevLogIndex: 0, prevLogTerm: 0, commit: 0,
      entries: [{ type: 'normal', term: 1, index: 1, data: payload('x') }],
    });
    const ready = follower.ready();
    expect(ready.entries.map((entry) => entry.index)).toEqual([1]);
    expect(ready.messages).toMatchObject([{ type: 'raft.appendResponse', reject: false, index: 1 }]);
  });

  it('a leader counts its own entries toward commit only once they are durable', () => {
    const solo = new RaftNode({ id: 's', rng: createRng(1), initialMembership: { voters: ['s'], learners: [] } });
    for (let tick = 0; tick < 20; tick += 1) solo.tick();
    let ready = solo.ready();
    expect(ready.entries).toHaveLength(1); // the no-op
    expect(ready.committedEntries).toEqual([]);
    solo.advance();
    ready = solo.ready();
    expect(ready.committedEntries.map((entry) => entry.index)).toEqual([1]);
    solo.advance();
    solo.propose(payload('x'));
    ready = solo.ready();
    expect(ready.entries).toHaveLength(1);
    expect(ready.committedEntries).toEqual([]);
    solo.advance();
    expect(solo.ready().committedEntries).toHaveLength(1);
  });

  it('takes no second Ready before advance(), and hands out each committed entry once', () => {
    const solo = new RaftNode({ id: 's', rng: createRng(1), initialMembership: { voters: ['s'], learners: [] } });
    for (let tick = 0; tick < 20; tick += 1) solo.tick();
    solo.ready();
    expect(solo.hasReady()).toBe(false);
    expect(() => solo.ready()).toThrow(InvariantError);
    solo.advance();
    const applied: number[] = [];
    for (let round = 0; round < 5; round += 1) {
      solo.propose(payload(`${round}`));
      while (solo.hasReady()) {
        applied.push(...solo.ready().committedEntries.map((entry) => entry.index));
        solo.advance();
      }
    }
    expect(applied).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => solo.advance()).toThrow(InvariantError);
  });

  it('a restarted replica keeps its term, vote and log, and replays committed entries from its snapshot', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.propose('a', 'x');
    cluster.propose('a', 'y');
    const before = cluster.node('b').status();
    cluster.crash('b');
    cluster.restart('b');
    expect(cluster.node('b').status()).toMatchObject({ term: before.term, vote: before.vote, lastIndex: before.lastIndex, commit: before.commit, applied: 0 });
    cluster.processReadies();
    expect(cluster.replica('b').applied).toEqual(['x', 'y']);
  });

  it('writes lost in a crash before advance() were never acknowledged, and the leader resends them', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.isolate('c');
    cluster.node('a').propose(payload('x'));
    cluster.processReadies();
    // b receives the entry and takes its Ready, then crashes before writing or answering.
    for (const message of cluster.queue.splice(0)) cluster.deliver(message);
    const lost = cluster.node('b').ready();
    expect(lost.entries).toHaveLength(1);
    cluster.crash('b');
    cluster.stabilize();
    expect(cluster.node('a').status().commit).toBe(1);
    cluster.restart('b');
    cluster.tick(3, ['a', 'b']);
    expect(cluster.replica('b').applied).toEqual(['x']);
    expect(cluster.node('a').status().commit).toBe(2);
  });

  it('steps between ready() and advance() are kept: entries replaced meanwhile are written again', () => {
    const follower = node('b');
    follower.step({
      type: 'raft.append', from: 'a', to: 'b', term: 1, prevLogIndex: 0, prevLogTerm: 0, commit: 0,
      entries: [{ type: 'normal', term: 1, index: 1, data: payload('1') }, { type: 'normal', term: 1, index: 2, data: payload('2') }],
    });
    const first = follower.ready();
    expect(first.entries.map((entry) => entry.index)).toEqual([1, 2]);
    // A new leader replaces index 2 before the first write completes.
    follower.step({
      type: 'raft.append', from: 'c', to: 'b', term: 2, prevLogIndex: 1, prevLogTerm: 1, commit: 0,
      entries: [{ type: 'normal', term: 2, index: 2, data: payload('2b') }],
    });
    follower.advance();
    const second = follower.ready();
    expect(second.entries).toMatchObject([{ index: 2, term: 2 }]);
    expect(second.hardState).toMatchObject({ term: 2 });
    follower.advance();
    expect(follower.status().stableIndex).toBe(2);
  });

  it('compact() declines a snapshot that a newer one from the leader superseded', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { snapshotEntriesThreshold: 3, compactionRetainEntries: 0 });
    cluster.campaign('a');
    for (const text of ['1', '2', '3', '4']) cluster.propose('a', text);
    const snapshotIndex = cluster.node('b').status().snapshotIndex;
    expect(snapshotIndex).toBeGreaterThan(0);
    expect(cluster.node('b').compact(snapshotIndex, new Uint8Array(0))).toBeNull();
  });

  it('compact() may run while a Ready is outstanding without disturbing it', () => {
    const solo = new RaftNode({ id: 's', rng: createRng(1), initialMembership: { voters: ['s'], learners: [] }, compactionRetainEntries: 0 });
    for (let tick = 0; tick < 20; tick += 1) solo.tick();
    for (let round = 0; round < 4; round += 1) {
      solo.propose(payload(`${round}`));
      while (solo.hasReady()) {
        solo.ready();
        solo.advance();
      }
    }
    solo.propose(payload('in flight'));
    const ready = solo.ready();
    expect(solo.compact(3, payload('state at 3'))?.meta).toEqual({ index: 3, term: 1, membership: { voters: ['s'], learners: [] } });
    solo.advance();
    expect(solo.status()).toMatchObject({ snapshotIndex: 3, stableIndex: ready.entries[0]!.index });
    expect(solo.ready().committedEntries.map((entry) => entry.index)).toEqual([6]);
  });

  it('refuses a persisted log whose commit index lies beyond it', () => {
    expect(() => new RaftNode(
      { id: 'a', rng: createRng(1), initialMembership: founding },
      { hardState: { term: 1, vote: null, commit: 5 }, snapshot: null, entries: [] },
    )).toThrow(InvariantError);
  });
});

describe('Ready soft state (etcd SoftState)', () => {
  it('a role change alone produces a Ready that reports it, so a host never polls status()', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { checkQuorum: true });
    cluster.campaign('a');
    cluster.stabilize();
    expect(cluster.node('a').hasReady()).toBe(false);
    // Cut off from both followers, the leader steps down on its own at check-quorum time (thesis 6.2).
    cluster.isolate('a');
    let softState = null;
    for (let tick = 0; tick < 40 && softState === null; tick += 1) {
      cluster.node('a').tick();
      while (softState === null && cluster.node('a').hasReady()) {
        const ready = cluster.node('a').ready();
        softState = ready.softState;
        cluster.node('a').advance();
      }
    }
    expect(softState).toEqual({ role: 'follower', leader: null });
  });

  it('a Ready whose role and leader did not change carries no soft state', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.stabilize();
    cluster.node('a').propose(payload('x'));
    expect(cluster.node('a').ready().softState).toBeNull();
  });
});
