/**
 * Raft thesis 10.2.1: the leader writes its log to disk in parallel with sending AppendEntries. Its
 * own entries go out in `leaderMessages` before the Ready is persisted; it counts itself toward a
 * quorum only for entries `advance()` reported durable; followers still persist before they answer.
 */
import { describe, expect, it } from 'vitest';
import type { Ready } from '../../../actors/raft/core/node.js';
import type { Message } from '../../../actors/raft/core/types.js';
import { Cluster, payload } from './harness.js';

/** A three-member group led by a, with nothing pending. */
function ledByA(): Cluster {
  const cluster = new Cluster(['a', 'b', 'c']);
  cluster.campaign('a');
  cluster.stabilize();
  return cluster;
}

/** Takes a follower's Ready, persists nothing (the test plays the disk), advances, and returns what it sends. */
function followerRound(cluster: Cluster, id: string, inbound: readonly Message[]): Ready {
  for (const message of inbound) if (message.to === id) cluster.node(id).step(message);
  const ready = cluster.node(id).ready();
  cluster.node(id).advance();
  return ready;
}

describe('leader writes in parallel with replication (thesis 10.2.1)', () => {
  it('the leader\'s AppendEntries for new entries may be sent before the entries are durable', () => {
    const cluster = ledByA();
    cluster.node('a').propose(payload('x'));
    const ready = cluster.node('a').ready();
    expect(ready.entries).toHaveLength(1);
    const appends = ready.leaderMessages.filter((message) => message.type === 'raft.append');
    expect(appends.map((message) => message.to).sort()).toEqual(['b', 'c']);
    expect(ready.messages).toEqual([]);
  });

  it('followers\' acknowledgements wait for their own write: they are never leader traffic', () => {
    const cluster = ledByA();
    cluster.node('a').propose(payload('x'));
    const leader = cluster.node('a').ready();
    const follower = followerRound(cluster, 'b', leader.leaderMessages);
    expect(follower.entries).toHaveLength(1);
    expect(follower.leaderMessages).toEqual([]);
    expect(follower.messages).toMatchObject([{ type: 'raft.appendResponse', reject: false, index: follower.entries[0]!.index }]);
  });

  it('one follower\'s acknowledgement does not commit an entry before the leader\'s own write is durable; advance() does', () => {
    const cluster = ledByA();
    const proposed = cluster.node('a').propose(payload('x'));
    if (!proposed.ok || proposed.status !== 'appended') throw new Error('not appended');
    const leader = cluster.node('a').ready();
    // b persists and acknowledges while the leader's fsync is still running; c is slow.
    for (const ack of followerRound(cluster, 'b', leader.leaderMessages).messages) cluster.node('a').step(ack);
    expect(cluster.node('a').status().commit).toBeLessThan(proposed.index);
    // The leader's write completes ("persisted up to" is advance()): its own copy now counts.
    cluster.node('a').advance();
    expect(cluster.node('a').status().commit).toBe(proposed.index);
    const next = cluster.node('a').ready();
    expect(next.committedEntries.map((entry) => entry.index)).toEqual([proposed.index]);
  });

  it('two followers\' durable copies are a majority of three without the leader\'s', () => {
    const cluster = ledByA();
    const proposed = cluster.node('a').propose(payload('x'));
    if (!proposed.ok || proposed.status !== 'appended') throw new Error('not appended');
    const leader = cluster.node('a').ready();
    const acks = [...followerRound(cluster, 'b', leader.leaderMessages).messages, ...followerRound(cluster, 'c', leader.leaderMessages).messages];
    for (const ack of acks) cluster.node('a').step(ack);
    expect(cluster.node('a').status().commit).toBe(proposed.index);
    expect(cluster.node('a').status().stableIndex).toBeLessThan(proposed.index);
  });

  it('a Ready that changes term or vote sends nothing before it is durable (votes promise the disk)', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { preVote: false });
    for (let tick = 0; tick < 40 && !cluster.node('a').hasReady(); tick += 1) cluster.node('a').tick();
    const ready = cluster.node('a').ready();
    expect(ready.hardState?.term).toBeGreaterThan(0);
    expect(ready.leaderMessages).toEqual([]);
    expect(ready.messages.length).toBeGreaterThan(0);
  });
});
