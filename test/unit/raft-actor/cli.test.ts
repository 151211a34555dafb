/**
 * What the CLI gets from Raft (actors/raft/cli.ts): `troupe kv ...` parsing, a status table and
 * Prometheus text, and `runKvCli` end to end against a real three-replica group in one node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRaftMetrics, parseKvArgs, raftMetricsFromTree, raftMetricsText, runKvCli, type RaftMetrics } from '../../../actors/raft/index.js';
import { LocalRaftGroup } from '../../support/raft-local.js';

const leader: RaftMetrics = {
  id: 'n1', role: 'leader', term: 4, leader: 'n1', commit: 120, applied: 118, lastIndex: 121, snapshotIndex: 100, voters: ['n1', 'n2', 'n3'], learners: [],
  peers: { n2: { match: 121, next: 122, state: 'replicate' }, n3: { match: 90, next: 91, state: 'probe' } }, pendingWrites: 2, pendingReads: 0,
};
const follower: RaftMetrics = { ...leader, id: 'n2', role: 'follower', peers: {} };

describe('troupe kv arguments', () => {
  it('parses each command', () => {
    expect(parseKvArgs(['put', 'k', 'v'])).toEqual({ ok: true, kind: 'operation', command: { type: 'put', key: 'k', value: 'v' }, mode: 'readIndex' });
    expect(parseKvArgs(['get', 'k', '--log'])).toEqual({ ok: true, kind: 'operation', command: { type: 'get', key: 'k' }, mode: 'log' });
    expect(parseKvArgs(['cas', 'k', '-', 'v'])).toEqual({ ok: true, kind: 'operation', command: { type: 'cas', key: 'k', expected: null, value: 'v' }, mode: 'readIndex' });
    expect(parseKvArgs(['scan', 'a', 'b', '--limit', '5'])).toEqual({ ok: true, kind: 'operation', command: { type: 'scan', start: 'a', end: 'b', limit: 5 }, mode: 'readIndex' });
    expect(parseKvArgs(['delete', 'k'])).toMatchObject({ ok: true, command: { type: 'delete', key: 'k' } });
    expect(parseKvArgs(['status'])).toEqual({ ok: true, kind: 'status' });
  });

  it('parses member add, promote and remove', () => {
    expect(parseKvArgs(['member', 'add', 'n4'])).toEqual({ ok: true, kind: 'member', change: { type: 'addLearner', node: 'n4' } });
    expect(parseKvArgs(['member', 'promote', 'n4'])).toEqual({ ok: true, kind: 'member', change: { type: 'promoteLearner', node: 'n4' } });
    expect(parseKvArgs(['member', 'remove', 'n2'])).toEqual({ ok: true, kind: 'member', change: { type: 'removeNode', node: 'n2' } });
  });

  it('answers usage for anything else', () => {
    for (const args of [[], ['put', 'k'], ['cas', 'k', 'v'], ['scan', 'a', '--limit', 'x'], ['drop', 'table']]) expect(parseKvArgs(args).ok).toBe(false);
    for (const args of [['member'], ['member', 'add'], ['member', 'add', ''], ['member', 'join', 'n4'], ['member', 'add', 'n4', 'n5'], ['member', 'list']]) {
      expect(parseKvArgs(args), JSON.stringify(args)).toEqual({ ok: false, usage: expect.stringContaining('member add <node>') });
    }
  });
});

describe('raft metrics for tools', () => {
  it('formats a status table with the leader\'s view of each peer', () => {
    const table = formatRaftMetrics([leader, follower]).split('\n');
    expect(table[0]).toMatch(/^replica\s+role\s+term\s+leader\s+commit\s+applied\s+peers \(match\)$/);
    expect(table[1]).toMatch(/^n1\s+leader\s+4\s+n1\s+120\s+118\s+n2=121 n3=90$/);
    expect(table[2]).toMatch(/^n2\s+follower\s+4\s+n1\s+120\s+118\s+-$/);
  });

  it('writes Prometheus text with one series per replica and peer', () => {
    const text = raftMetricsText([leader, follower]);
    expect(text).toContain('troupe_raft_term{replica="n1"} 4');
    expect(text).toContain('troupe_raft_commit_index{replica="n2"} 120');
    expect(text).toContain('troupe_raft_applied_index{replica="n1"} 118');
    expect(text).toContain('troupe_raft_role{replica="n1",role="leader"} 1');
    expect(text).toContain('troupe_raft_role{replica="n2",role="leader"} 0');
    expect(text).toContain('troupe_raft_peer_match_index{replica="n1",peer="n3"} 90');
  });
});

describe('runKvCli against a running group', () => {
  let group: LocalRaftGroup;
  beforeAll(async () => {
    group = await LocalRaftGroup.start({ ids: ['a', 'b', 'c'] });
    await group.leader();
  });
  afterAll(async () => {
    await group.stop();
  });

  it('puts, reads, compare-and-swaps and reports status', async () => {
    const run = (args: string[]): Promise<{ exitCode: number; output: string }> => runKvCli(args, { replicas: group.ids, transport: group.transport, clientId: 'cli' });
    expect(await run(['put', 'greeting', 'hello'])).toEqual({ exitCode: 0, output: JSON.stringify({ ok: true, type: 'put' }) });
    expect(await run(['get', 'greeting'])).toEqual({ exitCode: 0, output: JSON.stringify({ ok: true, type: 'get', value: 'hello' }) });
    expect(JSON.parse((await runKvCli(['cas', 'greeting', 'hello', 'bye'], { replicas: group.ids, transport: group.transport, clientId: 'cli-2' })).output)).toEqual({ ok: true, type: 'cas', swapped: true, current: 'bye' });
    expect((await run(['nonsense'])).exitCode).toBe(2);
    expect(raftMetricsFromTree(group.node.tree()).map((replica) => replica.id).sort()).toEqual(['a', 'b', 'c']);
    const status = await run(['status']);
    expect(status.exitCode).toBe(0);
    expect(status.output.split('\n')).toHaveLength(4);
    expect(status.output).toMatch(/leader/);
  });

  it('changes membership through the leader, whichever replica it reaches first', async () => {
    const run = (args: string[]): Promise<{ exitCode: number; output: string }> => runKvCli(args, { replicas: group.ids, transport: group.transport, peerPath: '/root/raft-d' });
    const added = await run(['member', 'add', 'd']);
    expect(added.exitCode, added.output).toBe(0);
    expect(JSON.parse(added.output)).toMatchObject({ ok: true, type: 'membership', change: { type: 'addLearner', node: 'd' }, membership: { voters: ['a', 'b', 'c'], learners: ['d'] } });
    // 'd' runs nowhere: it never catches up, and the refusal is typed (exit 1).
    const promoted = await run(['member', 'promote', 'd']);
    expect(promoted.exitCode).toBe(1);
    expect(JSON.parse(promoted.output)).toMatchObject({ ok: false, code: 'LEARNER_NOT_CAUGHT_UP' });
    const removed = await run(['member', 'remove', 'd']);
    expect(removed.exitCode, removed.output).toBe(0);
    expect(JSON.parse(removed.output)).toMatchObject({ ok: true, membership: { voters: ['a', 'b', 'c'], learners: [] } });
    expect((await run(['member', 'remove', 'd'])).exitCode).toBe(1);
    expect((await run(['member', 'add'])).exitCode).toBe(2);
  });
});
