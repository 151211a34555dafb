/**
 * The replica host's rule for applying committed entries while a Ready is still being written: only
 * entries an earlier Ready made durable may go ahead of the write, so that a crash can never leave the
 * state machine's applied index beyond the durable log (which recovery rejects as corruption). And
 * its rule for when the leader's own traffic goes out: at once while it replicates what it writes, after
 * the replies when the Ready only commits and applies.
 */
import { describe, expect, it } from 'vitest';
import type { Ready } from '../../../actors/raft/core/node.js';
import type { Entry } from '../../../actors/raft/core/types.js';
import { appliesBeforePersist, sendsLeaderMessagesFirst } from '../../../actors/raft/host.js';

const entry = (index: number): Entry => ({ type: 'normal', term: 1, index, data: new Uint8Array([index]) });

function ready(parts: Partial<Ready>): Ready {
  return {
    role: 'leader', leader: 'n1', softState: null, hardState: null, entries: [], snapshot: null, committedEntries: [],
    messages: [], leaderMessages: [], readStates: [], snapshotDue: null, ...parts,
  };
}

describe('host: applying while a Ready is written', () => {
  it('committed entries below everything the Ready writes apply at once', () => {
    expect(appliesBeforePersist(ready({ committedEntries: [entry(4), entry(5)], entries: [entry(6), entry(7)] }))).toBe(true);
    expect(appliesBeforePersist(ready({ committedEntries: [entry(4)] }))).toBe(true);
  });

  it('a committed entry the Ready itself writes waits for the write (a follower learning commit with the entries)', () => {
    expect(appliesBeforePersist(ready({ committedEntries: [entry(5), entry(6)], entries: [entry(6)] }))).toBe(false);
  });

  it('a snapshot to install first, or nothing to apply, waits', () => {
    const snapshot = { meta: { index: 9, term: 1, membership: { voters: ['n1'], learners: [] } }, data: new Uint8Array(0) };
    expect(appliesBeforePersist(ready({ committedEntries: [entry(10)], snapshot }))).toBe(false);
    expect(appliesBeforePersist(ready({ entries: [entry(3)] }))).toBe(false);
  });
});

describe('host: when the leader\'s traffic goes out', () => {
  it('at once for a Ready that writes entries or a snapshot (thesis 10.2.1: replication parallel with the leader\'s write)', () => {
    const snapshot = { meta: { index: 9, term: 1, membership: { voters: ['n1'], learners: [] } }, data: new Uint8Array(0) };
    expect(sendsLeaderMessagesFirst(ready({ entries: [entry(6)] }))).toBe(true);
    expect(sendsLeaderMessagesFirst(ready({ entries: [entry(6)], committedEntries: [entry(5)] }))).toBe(true);
    expect(sendsLeaderMessagesFirst(ready({ snapshot, committedEntries: [entry(10)] }))).toBe(true);
  });

  it('at once for a Ready with nothing to apply (heartbeats, ReadIndex confirmations)', () => {
    expect(sendsLeaderMessagesFirst(ready({}))).toBe(true);
  });

  it('after the replies for a Ready that only commits and applies (its appends only carry the commit index)', () => {
    expect(sendsLeaderMessagesFirst(ready({ committedEntries: [entry(5)] }))).toBe(false);
  });
});
