/**
 * The request table (actors/raft/core/requests.ts): which answer each waiting client request gets on
 * a newer sequence, on apply, on leaving leadership, on ReadIndex confirmation and on deadlines; and
 * read ids that stay unique when a replica's process restarts (a forwarded ReadIndex, thesis 6.4,
 * must never be answered with the index of a read the previous process asked for).
 */
import { describe, expect, it } from 'vitest';
import { RequestTable } from '../../../actors/raft/core/requests.js';
import type { Entry } from '../../../actors/raft/core/types.js';
import { Cluster } from './harness.js';

type Table = RequestTable<string, string>;
const table = (options: { pendingMax?: number; nonce?: string } = {}): Table => new RequestTable({ id: 'n1', nonce: options.nonce ?? 'p1', pendingMax: options.pendingMax ?? 100 });
const applied = (index: number, clientId: string, sequence: number, result: string) => ({ index, clientId, sequence, result });

describe('request table: writes', () => {
  it('a newer sequence from the same client answers the older one TIMEOUT and takes its place', () => {
    const requests = table();
    expect(requests.write({ clientId: 'c', sequence: 1, token: 1, deadlineMs: 100 })).toEqual([]);
    expect(requests.write({ clientId: 'c', sequence: 2, token: 2, deadlineMs: 100 })).toEqual([{ type: 'timeout', token: 1 }]);
    expect(requests.pendingWrites).toBe(1);
    // The older sequence applying later answers nobody; the newer one gets its own result.
    expect(requests.applied([applied(5, 'c', 1, 'old')])).toEqual([]);
    expect(requests.applied([applied(6, 'c', 2, 'new')])).toEqual([{ type: 'result', token: 2, result: 'new' }]);
    expect(requests.pendingWrites).toBe(0);
  });

  it('a write is answered with the result of its own sequence once it applies, and only once', () => {
    const requests = table();
    requests.write({ clientId: 'c', sequence: 7, token: 1, deadlineMs: 100 });
    expect(requests.applied([{ index: 3, clientId: null, sequence: 0, result: null }, applied(4, 'other', 7, 'x')])).toEqual([]);
    expect(requests.applied([applied(5, 'c', 7, 'ok')])).toEqual([{ type: 'result', token: 1, result: 'ok' }]);
    expect(requests.applied([applied(6, 'c', 7, 'ok')])).toEqual([]);
  });

  it('a waiting client is admitted at the bound (it replaces itself); a new one is not', () => {
    const requests = table({ pendingMax: 1 });
    requests.write({ clientId: 'c', sequence: 1, token: 1, deadlineMs: 100 });
    expect(requests.admits('c')).toBe(true);
    expect(requests.admits('d')).toBe(false);
    expect(requests.admits()).toBe(false);
  });
});

describe('request table: leadership changes (soft state)', () => {
  it('after a leadership loss unconfirmed reads get NOT_LEADER, writes and changes TIMEOUT', () => {
    const requests = table();
    expect(requests.softState('leader', 'n1')).toEqual([]);
    requests.write({ clientId: 'c', sequence: 1, token: 1, deadlineMs: 100 });
    requests.read({ readId: requests.nextReadId(), command: 'get a', token: 2, deadlineMs: 100 });
    requests.change({ index: 9, term: 2, change: { type: 'addLearner', node: 'n4' }, token: 3, deadlineMs: 100 });
    const answers = requests.softState('follower', 'n2');
    expect(answers).toEqual(expect.arrayContaining([
      { type: 'notLeader', token: 2, leader: 'n2' },
      { type: 'timeout', token: 1 },
      { type: 'timeout', token: 3 },
    ]));
    expect(answers).toHaveLength(3);
    expect(requests.pendingWrites + requests.pendingReads + requests.pendingChanges).toBe(0);
  });

  it('a read ReadIndex already confirmed survives the loss and is served once the machine catches up', () => {
    const requests = table();
    requests.softState('leader', 'n1');
    const readId = requests.nextReadId();
    requests.read({ readId, command: 'get a', token: 1, deadlineMs: 100 });
    requests.readsConfirmed([{ context: readId, index: 12 }]);
    expect(requests.softState('follower', null)).toEqual([]);
    expect(requests.servable(12)).toEqual([{ type: 'serveRead', token: 1, command: 'get a' }]);
  });

  it('only a change from leader to not-leader answers anything (a follower\'s forwarded requests keep waiting)', () => {
    const requests = table();
    requests.write({ clientId: 'c', sequence: 1, token: 1, deadlineMs: 100 });
    expect(requests.softState('follower', 'n2')).toEqual([]);
    expect(requests.softState('candidate', null)).toEqual([]);
    expect(requests.pendingWrites).toBe(1);
  });
});

describe('request table: reads (thesis 6.4)', () => {
  it('a confirmed read waits until the state machine has applied its index', () => {
    const requests = table();
    const first = requests.nextReadId();
    const second = requests.nextReadId();
    requests.read({ readId: first, command: 'get a', token: 1, deadlineMs: 100 });
    requests.read({ readId: second, command: 'get b', token: 2, deadlineMs: 100 });
    expect(requests.servable(100)).toEqual([]);
    requests.readsConfirmed([{ context: first, index: 10 }, { context: second, index: 20 }]);
    expect(requests.servable(9)).toEqual([]);
    expect(requests.servable(15)).toEqual([{ type: 'serveRead', token: 1, command: 'get a' }]);
    expect(requests.servable(15)).toEqual([]);
    expect(requests.servable(20)).toEqual([{ type: 'serveRead', token: 2, command: 'get b' }]);
  });

  it('a confirmation for a read id this table never issued is ignored', () => {
    const requests = table();
    const readId = requests.nextReadId();
    requests.read({ readId, command: 'get a', token: 1, deadlineMs: 100 });
    requests.readsConfirmed([{ context: 'n1/another-process/1', index: 3 }]);
    expect(requests.servable(1_000)).toEqual([]);
  });

  it('read ids carry the incarnation nonce: a restarted process never repeats one', () => {
    const before = table({ nonce: 'first-start' });
    const after = table({ nonce: 'second-start' });
    const old = [before.nextReadId(), before.nextReadId()];
    const fresh = [after.nextReadId(), after.nextReadId()];
    expect(new Set([...old, ...fresh]).size).toBe(4);
    expect(old[0]).toBe('n1/first-start/1');
  });
});

describe('request table: membership changes, deadlines, shutdown', () => {
  it('a change is answered when its own entry commits, TIMEOUT when another leader\'s entry took its index', () => {
    const requests = table();
    requests.change({ index: 5, term: 2, change: { type: 'addLearner', node: 'n4' }, token: 1, deadlineMs: 100 });
    requests.change({ index: 6, term: 2, change: { type: 'removeNode', node: 'n3' }, token: 2, deadlineMs: 100 });
    const entries: Entry[] = [
      { type: 'membership', term: 2, index: 5, change: { type: 'addLearner', node: 'n4' } },
      { type: 'normal', term: 3, index: 6, data: new Uint8Array(0) },
    ];
    expect(requests.committed(entries)).toEqual([
      { type: 'changeCommitted', token: 1, change: { type: 'addLearner', node: 'n4' }, index: 5 },
      { type: 'timeout', token: 2 },
    ]);
  });

  it('requests past their deadline are answered TIMEOUT, the others keep waiting', () => {
    const requests = table();
    requests.write({ clientId: 'c', sequence: 1, token: 1, deadlineMs: 50 });
    requests.read({ readId: requests.nextReadId(), command: 'get a', token: 2, deadlineMs: 80 });
    requests.change({ index: 5, term: 2, change: { type: 'addLearner', node: 'n4' }, token: 3, deadlineMs: 50 });
    expect(requests.expire(49)).toEqual([]);
    expect(requests.expire(50)).toEqual([{ type: 'timeout', token: 1 }, { type: 'timeout', token: 3 }]);
    expect(requests.expire(80)).toEqual([{ type: 'timeout', token: 2 }]);
  });

  it('when the replica stops, every waiting request is answered TIMEOUT', () => {
    const requests = table();
    requests.write({ clientId: 'c', sequence: 1, token: 1, deadlineMs: 50 });
    requests.read({ readId: requests.nextReadId(), command: 'get a', token: 2, deadlineMs: 80 });
    expect(requests.failAll()).toEqual([{ type: 'timeout', token: 1 }, { type: 'timeout', token: 2 }]);
    expect(requests.pendingWrites + requests.pendingReads).toBe(0);
  });
});

describe('read ids across a follower restart (thesis 6.4 with forwarded reads)', () => {
  /**
   * Follower b forwards a read; before the leader confirms it, b is killed and restarted, a write
   * commits, and the new process of b reads again. The leader then answers the old read with the
   * index it recorded before the write.
   */
  function restartMidRead(nonces: readonly [string, string]): { written: number; served: number | undefined; oldIndex: number; servable: boolean } {
    const cluster = new Cluster(['a', 'b', 'c']);
    cluster.campaign('a');
    cluster.propose('a', 'before');
    cluster.stabilize();
    // Heartbeat answers are lost for a while, so the leader cannot confirm the forwarded read yet.
    cluster.filter = (message) => message.type !== 'raft.heartbeatResponse';
    const first = new RequestTable<string, string>({ id: 'b', nonce: nonces[0], pendingMax: 10 });
    const oldId = first.nextReadId();
    expect(cluster.node('b').readIndex(oldId)).toEqual({ ok: true, status: 'forwarded' });
    cluster.stabilize();
    const oldIndex = cluster.node('a').status().commit;
    cluster.crash('b');
    cluster.propose('a', 'after');
    cluster.stabilize();
    const written = cluster.node('a').status().commit;
    cluster.restart('b');
    // A heartbeat tells the new process who leads.
    cluster.tick(1, ['a']);
    const second = new RequestTable<string, string>({ id: 'b', nonce: nonces[1], pendingMax: 10 });
    const newId = second.nextReadId();
    second.read({ readId: newId, command: 'get k', token: 1, deadlineMs: 1_000 });
    expect(cluster.node('b').readIndex(newId)).toEqual({ ok: true, status: 'forwarded' });
    cluster.heal();
    cluster.tick(3);
    cluster.stabilize();
    second.readsConfirmed(cluster.replica('b').readStates);
    const served = cluster.replica('b').readStates.find((state) => state.context === newId)?.index;
    return { written, served, oldIndex, servable: second.servable(written).length === 1 };
  }

  it('with a fresh nonce per start, the new read is confirmed at an index that includes the write', () => {
    const { written, served, oldIndex, servable } = restartMidRead(['start-1', 'start-2']);
    expect(oldIndex).toBeLessThan(written);
    expect(served).toBe(written);
    expect(servable).toBe(true);
  });

  it('with ids that repeat across starts, the new read would be confirmed at the old, stale index', () => {
    // The hazard the nonce removes: the same id joins the leader's old pending read.
    const { written, served, oldIndex } = restartMidRead(['same', 'same']);
    expect(oldIndex).toBeLessThan(written);
    expect(served).toBe(oldIndex);
  });
});
