/**
 * Flow control and backpressure: batching of proposals into AppendEntries, pipelining bounded by the
 * in-flight window (messages and bytes) per follower, one probe at a time to a follower whose log is
 * unknown, and typed BUSY / TOO_LARGE refusals to proposers once the leader holds too much uncommitted.
 */
import { describe, expect, it } from 'vitest';
import { Cluster, payload } from './harness.js';

function appendsTo(cluster: Cluster, to: string): number[] {
  return cluster.sentOf('raft.append', to).filter((message) => message.entries.length > 0).map((message) => message.entries.length);
}

describe('flow control', () => {
  it('batches the proposals made between two Readies into one AppendEntries', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.sent.length = 0;
    for (let index = 0; index < 5; index += 1) cluster.node('a').propose(payload(`p${index}`));
    cluster.stabilize();
    expect(appendsTo(cluster, 'b')).toEqual([5]);
  });

  it('caps AppendEntries in flight to a silent follower at maxInflightMessages', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { maxEntriesPerMessage: 1, maxInflightMessages: 3 });
    cluster.campaign('a');
    cluster.sent.length = 0;
    cluster.filter = (message) => message.from !== 'b';
    for (let index = 0; index < 10; index += 1) cluster.propose('a', `p${index}`);
    expect(appendsTo(cluster, 'b')).toHaveLength(3);
    expect(cluster.node('a').status().progress.b).toMatchObject({ state: 'replicate', inflightMessages: 3 });
    // c answers, so its window keeps moving and everything commits.
    expect(appendsTo(cluster, 'c')).toHaveLength(10);
    expect(cluster.replica('a').applied).toHaveLength(10);
    // Once b answers again its window drains and it catches up.
    cluster.heal();
    cluster.tick(6);
    expect(cluster.replica('b').applied).toHaveLength(10);
  });

  it('caps bytes in flight at maxInflightBytes (one message may overshoot)', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { maxEntriesPerMessage: 1, maxInflightMessages: 100, maxInflightBytes: 100 });
    cluster.campaign('a');
    cluster.sent.length = 0;
    cluster.filter = (message) => message.from !== 'b';
    for (let index = 0; index < 6; index += 1) cluster.propose('a', 'x'.repeat(40));
    // Each entry counts 24 + 40 bytes: the second message passes 100 bytes and closes the window.
    expect(appendsTo(cluster, 'b')).toHaveLength(2);
    expect(cluster.node('a').status().progress.b?.inflightBytes).toBe(128);
  });

  it('pipelines: a responsive follower gets a full window before the first answer returns', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { maxEntriesPerMessage: 1, maxInflightMessages: 4 });
    cluster.campaign('a');
    cluster.sent.length = 0;
    for (let index = 0; index < 6; index += 1) cluster.node('a').propose(payload(`p${index}`));
    cluster.processReadies();
    expect(cluster.queue.filter((message) => message.type === 'raft.append' && message.to === 'b')).toHaveLength(4);
  });

  it('probes a follower whose log it does not know with one message at a time', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { maxEntriesPerMessage: 1 });
    cluster.campaign('a');
    cluster.crash('c');
    for (let index = 0; index < 5; index += 1) cluster.propose('a', `p${index}`);
    cluster.restart('c');
    cluster.sent.length = 0;
    cluster.filter = (message) => message.from !== 'c';
    cluster.node('a').transferLeadership('b'); // a new leader knows nothing of c's log
    cluster.stabilize();
    expect(cluster.node('b').status().role).toBe('leader');
    for (let index = 0; index < 3; index += 1) cluster.node('b').propose(payload(`q${index}`));
    cluster.stabilize();
    cluster.tick(1, ['b']);
    expect(cluster.node('b').status().progress.c?.state).toBe('probe');
    // One probe since the election: unanswered, nothing else goes until an answer or heartbeat reply.
    expect(cluster.sentOf('raft.append', 'c').filter((message) => message.from === 'b')).toHaveLength(1);
  });

  it('refuses proposals with BUSY once uncommitted bytes pass maxUncommittedBytes, and accepts again after commit', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { maxUncommittedBytes: 200, maxEntryBytes: 200, checkQuorum: false });
    cluster.campaign('a');
    cluster.isolate('b', 'c');
    const results = Array.from({ length: 6 }, () => cluster.node('a').propose(payload('x'.repeat(26))));
    expect(results.slice(0, 3).every((result) => result.ok)).toBe(true);
    expect(results.at(-1)).toEqual({ ok: false, code: 'BUSY', reason: 'uncommittedBytes' });
    cluster.heal();
    cluster.tick(3);
    expect(cluster.node('a').propose(payload('later'))).toMatchObject({ ok: true, status: 'appended' });
  });

  it('refuses a proposal larger than maxEntryBytes with TOO_LARGE', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { maxEntryBytes: 100 });
    cluster.campaign('a');
    expect(cluster.node('a').propose(new Uint8Array(200))).toEqual({ ok: false, code: 'TOO_LARGE', bytes: 224, bytesMax: 100 });
  });

  it('splits a long catch-up into messages of at most maxEntriesPerMessage entries and about maxBytesPerMessage bytes', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { maxEntriesPerMessage: 3, maxBytesPerMessage: 1000 });
    cluster.campaign('a');
    cluster.isolate('c');
    for (let index = 0; index < 10; index += 1) cluster.propose('a', 'x'.repeat(300));
    cluster.heal();
    cluster.sent.length = 0;
    cluster.tick(5);
    const sizes = appendsTo(cluster, 'c');
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
    expect(cluster.replica('c').applied).toHaveLength(10);
  });
});
