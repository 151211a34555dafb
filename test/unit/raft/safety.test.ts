/**
 * Raft paper section 5.4 (safety): the election restriction (5.4.1), committing entries from previous
 * terms (5.4.2, Figure 8), and leader completeness across crashes.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../actors/raft/core/types.js';
import { Cluster, payload } from './harness.js';

describe('5.4.1 election restriction', () => {
  it('a replica whose log lacks committed entries cannot be elected', () => {
    // Without check-quorum's lease b answers c's requests, so the refusal is the log comparison's.
    const cluster = new Cluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
    cluster.campaign('a');
    cluster.isolate('c');
    cluster.propose('a', 'committed');
    expect(cluster.replica('b').applied).toEqual(['committed']);
    cluster.crash('a');
    cluster.heal();
    // c campaigns repeatedly; b refuses every time because c's log is behind.
    for (let round = 0; round < 5; round += 1) cluster.campaign('c');
    expect(cluster.node('c').status().role).not.toBe('leader');
    const refusals = cluster.sentOf('raft.voteResponse', 'c').filter((message) => message.from === 'b');
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.every((message) => message.reject)).toBe(true);
    // b can be elected, and its log brings c up to date.
    cluster.campaign('b');
    expect(cluster.node('b').status().role).toBe('leader');
    expect(cluster.replica('c').applied).toEqual(['committed']);
  });

  it('a pre-vote is refused on the same grounds', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.isolate('c');
    cluster.propose('a', 'committed');
    cluster.crash('a');
    cluster.heal();
    cluster.tick(25, ['c']);
    expect(cluster.node('c').status()).toMatchObject({ role: 'preCandidate', term: 1 });
  });
});

describe('5.4.2 committing entries from previous terms (Figure 8)', () => {
  /**
   * Five replicas s1..s5, one entry per message. The steps follow the figure:
   * (a) s1 leads term 1 and replicates entry X (index 2, term 1) to s2 only;
   * (b) s1 crashes; s5 wins term 2 with s3, s4 and appends its own index 2 (term 2) without sending it;
   * (c) s5 crashes; s1 restarts and wins term 3 with s2, s3; it brings s3 up to index 2, so X is on a
   *     majority, but its own term-3 entry (index 3) reaches nobody. X must not count as committed.
   * Then either (d) s1 crashes, s5 wins term 4 and overwrites X, which is safe because X was never
   * committed, or (e) s1 replicates index 3 to a majority, which commits X with it, and s5 can no
   * longer be elected.
   */
  function figure8(): Cluster {
    const cluster = new Cluster(['s1', 's2', 's3', 's4', 's5'], { preVote: false, checkQuorum: false, maxEntriesPerMessage: 1 });
    cluster.campaign('s1');
    expect(cluster.node('s1').status()).toMatchObject({ role: 'leader', term: 1, commit: 1 });
    // (a)
    cluster.isolate('s3', 's4', 's5');
    cluster.propose('s1', 'X');
    expect(cluster.terms('s2')).toEqual([1, 1]);
    // (b)
    cluster.crash('s1');
    const onlyVotes = (message: Message): boolean => message.type === 'raft.vote' || message.type === 'raft.voteResponse';
    cluster.filter = (message) => message.from !== 's2' && message.to !== 's2' && (message.from !== 's5' || onlyVotes(message));
    cluster.campaign('s5');
    expect(cluster.node('s5').status()).toMatchObject({ role: 'leader', term: 2 });
    expect(cluster.terms('s5')).toEqual([1, 2]);
    // (c)
    cluster.crash('s5');
    cluster.restart('s1');
    cluster.filter = (message) => message.from !== 's5' && message.to !== 's5' && message.to !== 's4' && message.from !== 's4';
    // s1's own entry of its new term (index 3) reaches nobody.
    cluster.transform = (message) => (message.type === 'raft.append' ? { ...message, entries: message.entries.filter((entry) => entry.index < 3) } : message);
    expect(cluster.campaignUntilLeader('s1')).toBe(true);
    expect(cluster.node('s1').status().term).toBeGreaterThan(2);
    cluster.tick(3, ['s1']);
    expect(cluster.terms('s3')).toEqual([1, 1]);
    return cluster;
  }

  it('(c) an old-term entry on a majority is not committed by counting replicas', () => {
    const cluster = figure8();
    const status = cluster.node('s1').status();
    expect(status.progress.s2?.match).toBe(2);
    expect(status.progress.s3?.match).toBe(2);
    expect(status.commit).toBe(1);
    for (const id of ['s1', 's2', 's3']) expect(cluster.replica(id).applied).toEqual([]);
  });

  it('(d) a later leader may then overwrite it, and nobody ever applied it', () => {
    const cluster = figure8();
    cluster.crash('s1');
    cluster.restart('s5');
    cluster.heal();
    expect(cluster.campaignUntilLeader('s5')).toBe(true);
    for (const id of ['s2', 's3', 's4', 's5']) {
      expect(cluster.terms(id).slice(0, 2)).toEqual([1, 2]);
      expect(cluster.replica(id).applied).not.toContain('X');
    }
  });

  it('(e) once an entry of the leader\'s term commits, the old entry commits with it and survives', () => {
    const cluster = figure8();
    cluster.transform = (message) => message;
    cluster.tick(3, ['s1']);
    expect(cluster.node('s1').status().commit).toBe(3);
    expect(cluster.replica('s1').applied).toEqual(['X']);
    cluster.crash('s1');
    cluster.restart('s5');
    cluster.heal();
    expect(cluster.campaignUntilLeader('s5')).toBe(false);
    const leader = cluster.electLeader();
    expect(['s2', 's3']).toContain(leader);
    cluster.tick(3);
    for (const id of ['s2', 's3', 's4', 's5']) expect(cluster.replica(id).applied).toEqual(['X']);
  });
});

describe('5.4.3 leader completeness and log matching under crashes', () => {
  it('committed entries survive the crash of any minority, including the leader', () => {
    const cluster = new Cluster(['a', 'b', 'c', 'd', 'e']);
    let expected: string[] = [];
    for (let round = 0; round < 6; round += 1) {
      const leader = cluster.electLeader();
      const text = `round-${round}`;
      cluster.propose(leader, text);
      expected = [...expected, text];
      cluster.crash(leader);
      const other = [...cluster.replicas.keys()].find((id) => id !== leader && cluster.replica(id).up)!;
      cluster.crash(other);
      cluster.tick(30);
      cluster.restart(leader);
      cluster.restart(other);
    }
    cluster.tick(30);
    for (const id of cluster.replicas.keys()) expect(cluster.replica(id).applied).toEqual(expected);
  });

  it('an AppendEntries reaching below commit cannot rewrite committed entries', () => {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.propose('a', 'x');
    const status = cluster.node('b').status();
    expect(status.commit).toBe(2);
    const before = cluster.terms('b');
    cluster.node('b').step({
      type: 'raft.append', from: 'a', to: 'b', term: status.term, prevLogIndex: 1, prevLogTerm: 1, commit: 2,
      entries: [{ type: 'normal', term: status.term + 1, index: 2, data: payload('other') }],
    });
    cluster.processReadies();
    expect(cluster.terms('b')).toEqual(before);
    expect(cluster.sentOf('raft.appendResponse', 'a').at(-1)).toMatchObject({ from: 'b', reject: false, index: 2 });
  });
});
