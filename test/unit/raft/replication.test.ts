/**
 * Raft paper section 5.3 (log replication), on the real core.
 */
import { describe, expect, it } from 'vitest';
import { Cluster, payload } from './harness.js';

describe('5.3 log replication', () => {
  it('a proposal commits once a majority holds it, and every replica applies it in order', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.isolate('c');
    for (const text of ['x', 'y', 'z']) expect(cluster.propose('a', text)).toMatchObject({ ok: true, status: 'appended' });
    expect(cluster.replica('a').applied).toEqual(['x', 'y', 'z']);
    expect(cluster.replica('b').node.status().commit).toBe(cluster.node('a').status().commit);
    expect(cluster.replica('c').applied).toEqual([]);
    cluster.heal();
    cluster.tick(3);
    for (const id of ['a', 'b', 'c']) expect(cluster.replica(id).applied).toEqual(['x', 'y', 'z']);
  });

  it('a new commit reaches the followers at once, in an AppendEntries they accept without answering', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    const sentBefore = cluster.sent.length;
    cluster.propose('a', 'x');
    for (const id of ['a', 'b', 'c']) expect(cluster.replica(id).applied).toEqual(['x']);
    const sent = cluster.sent.slice(sentBefore);
    // Per follower: the entry and its answer, then the commit, which goes unanswered.
    for (const follower of ['b', 'c']) {
      const appends = sent.filter((message) => message.type === 'raft.append' && message.to === follower);
      expect(appends.map((message) => message.type === 'raft.append' && { entries: message.entries.length, commitOnly: message.commitOnly })).toEqual([
        { entries: 1, commitOnly: undefined }, { entries: 0, commitOnly: true },
      ]);
      expect(sent.filter((message) => message.type === 'raft.appendResponse' && message.from === follower)).toHaveLength(1);
    }
  });

  it('a follower that missed the entries rejects the commit-only AppendEntries, and the leader catches it up', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    // c loses the AppendEntries carrying the entry (not the commit-only one after it).
    cluster.filter = (message) => !(message.type === 'raft.append' && message.to === 'c' && message.entries.length > 0);
    const sentBefore = cluster.sent.length;
    cluster.node('a').propose(payload('x'));
    cluster.stabilize();
    expect(cluster.replica('c').applied).toEqual([]);
    expect(cluster.sent.slice(sentBefore).filter((message) => message.type === 'raft.appendResponse' && message.from === 'c' && message.reject)).toHaveLength(1);
    cluster.heal();
    cluster.tick(3);
    expect(cluster.replica('c').applied).toEqual(['x']);
  });

  it('nothing commits without a majority', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { checkQuorum: false });
    cluster.campaign('a');
    const committed = cluster.node('a').status().commit;
    cluster.isolate('b', 'c');
    const result = cluster.propose('a', 'lonely');
    cluster.tick(5, ['a']);
    expect(result).toMatchObject({ ok: true, status: 'appended' });
    expect(cluster.node('a').status().commit).toBe(committed);
    expect(cluster.replica('a').applied).toEqual([]);
  });

  it('Figure 7: followers missing entries, with extra entries, or with conflicting entries all converge on the leader\'s log', () => {
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const cluster = new Cluster(['leader', 'missing', 'extra', 'conflict'], { maxEntriesPerMessage: 64 }, {
      logs: {
        leader: leaderLog,
        missing: [1, 1, 1, 4],
        extra: [...leaderLog, 6, 6],
        conflict: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
      },
    });
    // `extra` holds more entries of the same term, so it would also win; make the leader campaign first.
    cluster.campaign('leader');
    expect(cluster.node('leader').status().role).toBe('leader');
    const expected = [...leaderLog, cluster.node('leader').status().term];
    for (const id of ['leader', 'missing', 'extra', 'conflict']) expect(cluster.terms(id)).toEqual(expected);
    // Backtracking skips whole terms: far fewer rejections than conflicting entries.
    const rejections = cluster.sentOf('raft.appendResponse', 'leader').filter((message) => message.from === 'conflict' && message.reject);
    expect(rejections.length).toBeGreaterThanOrEqual(1);
    expect(rejections.length).toBeLessThanOrEqual(3);
  });

  it('a follower with extra uncommitted entries keeps none that the leader does not hold', () => {
    const cluster = new Cluster(['a', 'b', 'c'], {}, { logs: { a: [1, 1, 2], b: [1, 1, 2], c: [1, 1, 1, 1, 1, 1] } });
    cluster.campaign('a');
    expect(cluster.terms('c')).toEqual(cluster.terms('a'));
    expect(cluster.terms('c')).toHaveLength(4);
  });

  it('duplicated and reordered messages change nothing', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { maxEntriesPerMessage: 1 });
    cluster.campaign('a');
    for (const text of ['1', '2', '3', '4']) cluster.node('a').propose(new TextEncoder().encode(text));
    cluster.processReadies();
    // Deliver everything in flight twice, newest first.
    for (let round = 0; round < 50 && cluster.queue.length > 0; round += 1) {
      const batch = cluster.queue.splice(0).reverse();
      for (const message of [...batch, ...batch]) cluster.deliver(message);
      cluster.processReadies();
    }
    cluster.tick(5);
    for (const id of ['a', 'b', 'c']) expect(cluster.replica(id).applied).toEqual(['1', '2', '3', '4']);
  });

  it('a lost AppendEntries is resent: the follower catches up through heartbeats', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { maxEntriesPerMessage: 1, maxInflightMessages: 8 });
    cluster.campaign('a');
    let dropped = 0;
    cluster.filter = (message) => !(message.type === 'raft.append' && message.to === 'c' && message.entries.length > 0 && dropped++ < 3);
    for (const text of ['1', '2', '3', '4', '5']) cluster.propose('a', text);
    cluster.tick(8);
    expect(dropped).toBeGreaterThanOrEqual(3);
    expect(cluster.replica('c').applied).toEqual(['1', '2', '3', '4', '5']);
  });

  it('proposals to a follower are forwarded to the leader', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    expect(cluster.propose('b', 'via-b')).toEqual({ ok: true, status: 'forwarded', leader: 'a' });
    for (const id of ['a', 'b', 'c']) expect(cluster.replica(id).applied).toEqual(['via-b']);
  });

  it('without forwarding a follower refuses with NOT_LEADER and a leader hint', () => {
    const cluster = new Cluster(['a', 'b', 'c'], { forwardProposals: false });
    expect(cluster.node('b').propose(new Uint8Array([1]))).toEqual({ ok: false, code: 'NOT_LEADER', leaderHint: null });
    cluster.campaign('a');
    expect(cluster.node('b').propose(new Uint8Array([1]))).toEqual({ ok: false, code: 'NOT_LEADER', leaderHint: 'a' });
  });
});
