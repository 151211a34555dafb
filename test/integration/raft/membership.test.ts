/**
 * Membership changes through the replicated KV service (`raft.changeMembership`, etcd's `member add`,
 * `promote`, `remove`), on real files with replicas in one node: a fourth replica joins as a learner,
 * catches up, is promoted and votes; a follower is removed and the rest keep committing. And the
 * refusals: a learner promoted before it caught up, a second change while one is in flight, a change
 * sent to a follower, malformed requests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { changeMembership, type KvOutcome, type MembershipReply, type RaftMetrics } from '../../../actors/raft/index.js';
import { LocalRaftGroup } from '../../support/raft-local.js';
import { waitFor } from '../../support/wait.js';

const ids = ['a', 'b', 'c'];
const founding = { voters: ids, learners: [] };
let group: LocalRaftGroup | undefined;

afterEach(async () => {
  await group?.stop();
  group = undefined;
});

function expectOk(outcome: KvOutcome): void {
  expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
}

function change(target: string, body: Record<string, unknown>): Promise<MembershipReply> {
  return group!.node.system.ask<MembershipReply>(group!.ref(target), { type: 'raft.changeMembership', ...body }, { timeoutMs: 10_000 });
}

/** A running group with a leader that has committed an entry of its term (so it takes changes). */
async function startGroup(): Promise<{ leader: string; followers: string[] }> {
  group = await LocalRaftGroup.start({ ids });
  const leader = await group.leader();
  expectOk(await group.client('setup').put('before', 'join'));
  return { leader, followers: ids.filter((id) => id !== leader) };
}

describe('raft membership changes through the service', () => {
  it('adds a learner that catches up, promotes it to voter, removes a follower, and keeps committing', async () => {
    const { leader, followers } = await startGroup();
    const client = group!.client('writer');
    for (let index = 0; index < 20; index += 1) expectOk(await client.put(`key-${index}`, String(index)));

    await group!.startReplica('d', founding);
    const added = await change(leader, { change: { type: 'addLearner', node: 'd' }, peerRef: group!.ref('d') });
    expect(added).toMatchObject({ ok: true, type: 'membership', change: { type: 'addLearner', node: 'd' }, membership: { voters: ids, learners: ['d'] } });

    // The learner receives the whole log and applies up to the leader's applied index.
    await waitFor(async () => {
      const [ours, theirs] = await Promise.all([group!.status(leader), group!.status('d')]);
      return theirs.applied >= ours.applied && theirs.learners.includes('d') ? true : undefined;
    }, { what: 'the learner to catch up' });
    expect((await group!.status('d')).role).toBe('follower');

    const promoted = await change(leader, { change: { type: 'promoteLearner', node: 'd' } });
    expect(promoted).toMatchObject({ ok: true, membership: { voters: ['a', 'b', 'c', 'd'], learners: [] } });
    await waitFor(async () => ((await group!.status('d')).voters.includes('d') ? true : undefined), { what: 'the new voter to learn it votes' });
    expectOk(await client.put('after-promote', 'yes'));

    const removed = followers[0]!;
    const removal = await change(leader, { change: { type: 'removeNode', node: removed } });
    expect(removal).toMatchObject({ ok: true, membership: { voters: ids.filter((id) => id !== removed).concat('d').sort(), learners: [] } });
    await group!.stopReplica(removed);
    const rest = [leader, followers[1]!, 'd'];
    for (let index = 0; index < 10; index += 1) expectOk(await client.put(`after-remove-${index}`, String(index)));
    const status: RaftMetrics = await group!.status(leader);
    expect(status.role).toBe('leader');
    expect(Object.keys(status.peers).sort()).toEqual(rest.filter((id) => id !== leader).sort());

    // The new voter now makes the majority: with the other old follower down, leader + d commit.
    await group!.stopReplica(followers[1]!);
    for (let index = 0; index < 5; index += 1) expectOk(await client.put(`with-d-${index}`, String(index)));
    const state = await group!.converged([leader, 'd']);
    // Every key written (the digest counts user keys, not sessions).
    expect(state.keys).toBe(1 + 20 + 1 + 10 + 5);
  });

  it('refuses to promote a learner that has not caught up, and a second change while one is in flight', async () => {
    const { leader } = await startGroup();
    // 'd' is added but not started: it can never catch up.
    expect(await change(leader, { change: { type: 'addLearner', node: 'd' }, peerRef: group!.ref('d') })).toMatchObject({ ok: true });
    const behind = await change(leader, { change: { type: 'promoteLearner', node: 'd' } });
    expect(behind).toMatchObject({ ok: false, code: 'LEARNER_NOT_CAUGHT_UP', match: 0 });

    // Two changes in one mailbox turn: the second meets the first uncommitted.
    const [first, second] = await Promise.all([
      change(leader, { change: { type: 'removeNode', node: 'd' } }),
      change(leader, { change: { type: 'addLearner', node: 'e' } }),
    ]);
    expect(first).toMatchObject({ ok: true, membership: { voters: ids, learners: [] } });
    expect(second).toEqual({ ok: false, code: 'MEMBERSHIP_CHANGE_PENDING' });

    // A change that does not apply to the membership comes back with the core's reason.
    expect(await change(leader, { change: { type: 'promoteLearner', node: 'zz' } })).toEqual({ ok: false, code: 'INVALID_MEMBERSHIP_CHANGE', reason: 'zz is not a learner' });
    expect((await group!.status(leader)).learners).toEqual([]);
  });

  it('a follower answers NOT_LEADER with the leader, the client follows the hint, and a joined voter can lead', async () => {
    const { leader, followers } = await startGroup();
    const refused = await change(followers[0]!, { change: { type: 'addLearner', node: 'd' } });
    expect(refused).toEqual({ ok: false, code: 'NOT_LEADER', leaderHint: leader, leaderRef: group!.ref(leader) });
    expect((await group!.status(leader)).learners).toEqual([]);

    await group!.startReplica('d', founding);
    const reply = await changeMembership({ type: 'addLearner', node: 'd' }, { replicas: [followers[0]!, ...ids], transport: group!.transport, peerRef: group!.ref('d') });
    expect(reply).toMatchObject({ ok: true, membership: { learners: ['d'] } });
    await waitFor(async () => ((await group!.status('d')).applied >= (await group!.status(leader)).commit ? true : undefined), { what: 'the learner to catch up' });
    expect(await changeMembership({ type: 'promoteLearner', node: 'd' }, { replicas: ids, transport: group!.transport })).toMatchObject({ ok: true });

    // Leadership moves to the joined replica: the others, configured without it, learn where it lives
    // from its messages and answer it.
    expect(await group!.node.system.ask(group!.ref(leader), { type: 'raft.transferLeader', target: 'd' }, { timeoutMs: 2_000 })).toEqual({ ok: true });
    await waitFor(async () => ((await group!.leader([...ids, 'd'])) === 'd' ? true : undefined), { what: 'the joined replica to lead' });
    const client = group!.client('after-transfer');
    for (let index = 0; index < 5; index += 1) expectOk(await client.put(`led-by-d-${index}`, String(index)));
    const state = await group!.converged([...ids, 'd']);
    expect(state.keys).toBe(1 + 5);
  });

  it('refuses malformed requests field by field, changing nothing', async () => {
    const { leader } = await startGroup();
    const malformed: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /change must be an object/],
      [{ change: 'addLearner d' }, /change must be an object/],
      [{ change: { type: 'addVoter', node: 'd' } }, /change.type must be/],
      [{ change: { type: 'addLearner' } }, /change.node must be/],
      [{ change: { type: 'addLearner', node: '' } }, /change.node must be/],
      [{ change: { type: 'addLearner', node: 'x'.repeat(257) } }, /change.node must be/],
      [{ change: { type: 'addLearner', node: 'd' }, peerRef: 'd' }, /peerRef must be an object/],
      [{ change: { type: 'addLearner', node: 'd' }, peerRef: { node: 'd', path: 'relative' } }, /peerRef.path/],
      [{ change: { type: 'addLearner', node: 'd' }, peerRef: { path: '/root/raft' } }, /peerRef.node/],
      [{ change: { type: 'removeNode', node: 'b' }, peerRef: { node: 'b', path: '/root/raft' } }, /peerRef is only for addLearner/],
      [{ change: { type: 'removeNode', node: 'b' }, timeoutMs: -1 }, /timeoutMs/],
    ];
    for (const [body, reason] of malformed) {
      const reply = await change(leader, body);
      expect(reply, JSON.stringify(body)).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
      expect((reply as { reason: string }).reason).toMatch(reason);
    }
    const status = await group!.status(leader);
    expect(status.voters).toEqual(ids);
    expect(status.learners).toEqual([]);
  });
});
