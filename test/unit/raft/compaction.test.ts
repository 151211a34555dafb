/**
 * Raft paper section 7 (log compaction): snapshots requested by the core once enough entries are
 * applied, the log compacted behind them, chunked InstallSnapshot to followers behind the compacted
 * prefix (with lost chunks), and restarts from snapshot plus log.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from './harness.js';

const compacting = { snapshotEntriesThreshold: 5, compactionRetainEntries: 0, snapshotChunkBytes: 16, maxInflightSnapshotChunks: 2 };

function proposeMany(cluster: Cluster, leader: string, count: number, prefix = 'e'): string[] {
  const texts = Array.from({ length: count }, (_, index) => `${prefix}${index}`);
  for (const text of texts) cluster.propose(leader, text);
  return texts;
}

describe('7 log compaction', () => {
  it('asks for a snapshot once the threshold of applied entries passes, then compacts the log behind it', () => {
    const cluster = new Cluster(['a', 'b', 'c'], compacting);
    cluster.campaign('a');
    proposeMany(cluster, 'a', 12);
    for (const id of ['a', 'b', 'c']) {
      const { node, disk } = cluster.replica(id);
      const snapshotIndex = node.status().snapshotIndex;
      expect(snapshotIndex).toBeGreaterThanOrEqual(10);
      expect(node.term(1)).toBeUndefined();
      expect(disk.snapshot?.meta.index).toBe(snapshotIndex);
      expect(disk.entries.every((entry) => entry.index > snapshotIndex)).toBe(true);
    }
  });

  it('keeps compactionRetainEntries behind a snapshot for slightly lagging followers', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { ...compacting, compactionRetainEntries: 4 });
    cluster.campaign('a');
    proposeMany(cluster, 'a', 12);
    const { node } = cluster.replica('a');
    const snapshotIndex = node.status().snapshotIndex;
    expect(node.term(snapshotIndex - 3)).toBeDefined();
    expect(node.term(snapshotIndex - 5)).toBeUndefined();
  });

  it('streams a snapshot in chunks to a follower behind the compacted log, which installs it', () => {
    const cluster = new Cluster(['a', 'b', 'c'], compacting);
    cluster.campaign('a');
    cluster.crash('c');
    const texts = proposeMany(cluster, 'a', 20);
    cluster.restart('c');
    cluster.tick(5);
    const chunks = cluster.sentOf('raft.snapshot', 'c');
    expect(chunks.length).toBeGreaterThan(1);
    expect(new Set(chunks.map((chunk) => chunk.chunkCount)).size).toBe(1);
    expect(cluster.replica('c').applied).toEqual(texts);
    expect(cluster.replica('c').disk.snapshot?.meta.index).toBe(chunks[0]!.meta.index);
    expect(cluster.terms('c')).toEqual(cluster.terms('a').slice(-cluster.terms('c').length));
    // After installing, c takes ordinary entries again.
    cluster.propose('a', 'after');
    expect(cluster.replica('c').applied.at(-1)).toBe('after');
  });

  it('completes the transfer when chunks are lost or arrive out of order', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { ...compacting, maxInflightSnapshotChunks: 4 });
    cluster.campaign('a');
    cluster.crash('c');
    const texts = proposeMany(cluster, 'a', 20);
    cluster.restart('c');
    let seen = 0;
    cluster.filter = (message) => !(message.type === 'raft.snapshot' && message.chunkIndex === 1 && seen++ < 2);
    // Deliver each flight of chunks in reverse order.
    for (let round = 0; round < 200 && cluster.replica('c').applied.length < texts.length; round += 1) {
      for (const [, replica] of cluster.replicas) replica.node.tick();
      cluster.processReadies();
      const batch = cluster.queue.splice(0).reverse();
      for (const message of batch) cluster.deliver(message);
      cluster.stabilize();
    }
    expect(seen).toBeGreaterThanOrEqual(2);
    expect(cluster.replica('c').applied).toEqual(texts);
  });

  it('a snapshot whose last entry the follower already holds only moves its commit index', () => {
    const cluster = new Cluster(['a', 'b', 'c'], compacting);
    cluster.campaign('a');
    // b receives every entry but never learns that they committed.
    cluster.transform = (message) => {
      if (message.to !== 'b') return message;
      if (message.type === 'raft.append' || message.type === 'raft.heartbeat') return { ...message, commit: 1 };
      return message;
    };
    proposeMany(cluster, 'a', 12);
    const snapshot = cluster.node('a').snapshot()!;
    const before = cluster.node('b').status();
    expect(before.commit).toBe(1);
    expect(before.lastIndex).toBeGreaterThanOrEqual(snapshot.meta.index);
    cluster.node('b').step({
      type: 'raft.snapshot', from: 'a', to: 'b', term: before.term, meta: snapshot.meta, chunkIndex: 0, chunkCount: 1,
      totalBytes: snapshot.data.byteLength, data: snapshot.data,
    });
    expect(cluster.node('b').status()).toMatchObject({ lastIndex: before.lastIndex, commit: snapshot.meta.index, snapshotIndex: 0 });
  });

  it('a restarted replica rebuilds from its snapshot and log and rejoins', () => {
    const cluster = new Cluster(['a', 'b', 'c'], compacting);
    cluster.campaign('a');
    const first = proposeMany(cluster, 'a', 12);
    cluster.crash('b');
    cluster.restart('b');
    const status = cluster.node('b').status();
    expect(status.snapshotIndex).toBeGreaterThan(0);
    cluster.tick(2);
    expect(cluster.replica('b').applied).toEqual(first);
    const second = proposeMany(cluster, 'a', 3, 'f');
    expect(cluster.replica('b').applied).toEqual([...first, ...second]);
  });
});
