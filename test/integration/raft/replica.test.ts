/**
 * Three Raft replicas in one node, on real files: election (paper 5.2), replication (5.3), a crashed
 * replica that restarts from its WAL and rejoins, a crashed leader (its acknowledged writes survive,
 * 5.4), exactly-once client retries (thesis 6.3), and recovery of the whole group from disk.
 * Crashes are real: the replica's fsync fails (an injected disk fault), the WAL stops, the actor
 * crashes into its supervisor and recovers in `init`.
 */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSegmentName } from '../../../actors/storage/index.js';
import { RaftKvClient, textCommand, textResult, type KvAppliedResult, type KvOutcome, type KvTransport, type RaftMetrics } from '../../../actors/raft/index.js';
import { LocalRaftGroup } from '../../support/raft-local.js';
import { waitFor } from '../../support/wait.js';

const ids = ['a', 'b', 'c'];
let group: LocalRaftGroup | undefined;

afterEach(async () => {
  await group?.stop();
  group = undefined;
});

function expectOk(outcome: KvOutcome): asserts outcome is Extract<KvOutcome, { ok: true }> {
  expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
}

describe('raft replicas in one node', () => {
  it('5.2/5.3: elects one leader, replicates writes to every replica, and serves linearizable reads', async () => {
    group = await LocalRaftGroup.start({ ids });
    const leader = await group.leader();
    const client = group.client('writer');
    for (let index = 0; index < 20; index += 1) expectOk(await client.put(`key-${index}`, `value-${index}`));
    expect(await client.get('key-7')).toEqual({ ok: true, type: 'get', value: 'value-7' });
    expect(await client.get('key-7', 'log')).toEqual({ ok: true, type: 'get', value: 'value-7' });
    const scanned = await client.scan('key-1', 'key-2', 100);
    expect(scanned).toEqual({ ok: true, type: 'scan', pairs: ['key-1', 'key-10', 'key-11', 'key-12', 'key-13', 'key-14', 'key-15', 'key-16', 'key-17', 'key-18', 'key-19'].map((key) => ({ key, value: `value-${key.slice(4)}` })) });
    expect(await client.delete('key-3')).toEqual({ ok: true, type: 'delete', existed: true });
    expect(await client.cas('key-4', 'value-4', 'swapped')).toEqual({ ok: true, type: 'cas', swapped: true, current: 'swapped' });
    expect(await client.cas('key-4', 'value-4', 'again')).toEqual({ ok: true, type: 'cas', swapped: false, current: 'swapped' });
    const state = await group.converged();
    expect(state.keys).toBe(19);
    const details = group.tree(leader)?.details?.raft as RaftMetrics;
    expect(details.role).toBe('leader');
    expect(Object.keys(details.peers).sort()).toEqual(ids.filter((id) => id !== leader));
    for (const peer of Object.values(details.peers)) expect(peer.match).toBeGreaterThan(0);
  });

  it('a follower whose disk fails crashes, restarts from its WAL, and catches up', async () => {
    group = await LocalRaftGroup.start({ ids });
    const leader = await group.leader();
    const follower = ids.find((id) => id !== leader)!;
    const client = group.client('writer');
    for (let index = 0; index < 10; index += 1) expectOk(await client.put(`before-${index}`, String(index)));
    group.disks.get(follower)!.failNextSync();
    for (let index = 0; index < 10; index += 1) expectOk(await client.put(`during-${index}`, String(index)));
    await waitFor(() => (group!.tree(follower)?.restarts ?? 0) >= 1, { what: 'the follower to crash and restart' });
    expect(group.disks.get(follower)!.failedSyncs).toBe(1);
    const state = await group.converged();
    expect(state.keys).toBe(20);
  });

  it('5.4: a crashed leader loses no acknowledged write; a new leader takes over and the old one rejoins', async () => {
    group = await LocalRaftGroup.start({ ids });
    const first = await group.leader();
    const client = group.client('writer');
    const acknowledged: string[] = [];
    for (let index = 0; index < 10; index += 1) {
      expectOk(await client.put(`key-${index}`, `v${index}`));
      acknowledged.push(`key-${index}`);
    }
    group.disks.get(first)!.failNextSync();
    for (let index = 10; index < 30; index += 1) {
      const outcome = await client.put(`key-${index}`, `v${index}`);
      expectOk(outcome);
      acknowledged.push(`key-${index}`);
    }
    await waitFor(() => (group!.tree(first)?.restarts ?? 0) >= 1, { what: 'the leader to crash' });
    const second = await group.leader();
    for (const key of acknowledged) expect(await client.get(key)).toEqual({ ok: true, type: 'get', value: `v${key.slice(4)}` });
    await group.converged();
    expect((await group.status(second)).term).toBeGreaterThanOrEqual((await group.status(first)).term);
  });

  it('6.3: a retried request with the same client id and sequence applies once', async () => {
    group = await LocalRaftGroup.start({ ids });
    const leader = await group.leader();
    const ask = (message: unknown): Promise<unknown> => group!.node.system.ask(group!.ref(leader), message, { timeoutMs: 5_000 });
    const cas = { type: 'cas', key: 'lock', expected: null, value: 'mine' } as const;
    const request = { type: 'kv.request', clientId: 'retrier', sequence: 1, command: textCommand(cas) };
    const first = (await ask(request)) as KvAppliedResult;
    expect(textResult(cas, first)).toEqual({ ok: true, type: 'cas', swapped: true, current: 'mine' });
    // The same request again (a client that did not see the first answer): the remembered result,
    // not a second compare-and-swap (which would now fail).
    expect(await ask(request)).toEqual(first);
    expect(textResult(cas, (await ask({ ...request, sequence: 2 })) as KvAppliedResult)).toEqual({ ok: true, type: 'cas', swapped: false, current: 'mine' });
    expect(await ask(request)).toEqual({ ok: false, code: 'STALE_REQUEST', lastSequence: 2 });
    const followers = ids.filter((id) => id !== leader);
    const get = { type: 'get', key: 'lock' } as const;
    const refused = await group.node.system.ask(group.ref(followers[0]!), { type: 'kv.read', command: textCommand(get) }, { timeoutMs: 5_000 });
    // A follower forwards the read to the leader and serves it once its state machine caught up.
    expect(textResult(get, refused as KvAppliedResult)).toEqual({ ok: true, type: 'get', value: 'mine' });
  });

  it('6.3: a client whose answer was lost retries with the same sequence and its write applies once', async () => {
    group = await LocalRaftGroup.start({ ids });
    await group.leader();
    const real = group.transport;
    let lost = 0;
    // The first answer to a write is dropped on its way back, as a broken connection would lose it.
    const transport: KvTransport = {
      ask: async (replica, message, timeoutMs) => {
        const reply = await real.ask(replica, message, timeoutMs);
        if ((message as { type: string }).type === 'kv.request' && lost === 0) {
          lost += 1;
          throw new Error('connection lost before the answer arrived');
        }
        return reply;
      },
    };
    const client = new RaftKvClient({ clientId: 'unlucky', replicas: ids, transport, attemptTimeoutMs: 1_500 });
    expect(await client.cas('lock', null, 'mine')).toEqual({ ok: true, type: 'cas', swapped: true, current: 'mine' });
    expect(lost).toBe(1);
    expect(client.retries).toBe(1);
    expect(await client.get('lock')).toEqual({ ok: true, type: 'get', value: 'mine' });
  });

  it('3.10: hands leadership to a chosen follower on request', async () => {
    group = await LocalRaftGroup.start({ ids });
    const leader = await group.leader();
    const target = ids.find((id) => id !== leader)!;
    expect(await group.node.system.ask(group.ref(leader), { type: 'raft.transferLeader', target }, { timeoutMs: 2_000 })).toEqual({ ok: true });
    await waitFor(async () => (await group!.leader()) === target, { what: `leadership to move to ${target}` });
    expect((await group.client('after-transfer').put('k', 'v')).ok).toBe(true);
  });

  it('rejects malformed requests and raft messages with typed answers and dead letters, without crashing', async () => {
    group = await LocalRaftGroup.start({ ids });
    const leader = await group.leader();
    const ask = (message: unknown): Promise<unknown> => group!.node.system.ask(group!.ref(leader), message, { timeoutMs: 5_000 });
    expect(await ask({ type: 'kv.request', clientId: '', sequence: 1, command: { type: 'put', key: 'k', value: 'v' } })).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
    expect(await ask({ type: 'kv.request', clientId: 'c', sequence: 1, command: { type: 'put', key: 'k' } })).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
    expect(await ask({ type: 'kv.read', command: { type: 'put', key: 'k', value: 'v' } })).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
    const system = group.node.system;
    const before = system.deadLetters().count;
    system.tell(group.ref(leader), { type: 'raft.append', from: 'a', to: leader, term: 'x' });
    system.tell(group.ref(leader), { type: 'raft.heartbeat', from: 'mallory', to: leader, term: 1, commit: 0, readContext: null });
    system.tell(group.ref(leader), { type: 'raft.vote', from: 'b', to: 'zed', term: 99, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    // Look-alikes of the replica's own signals, as a peer or client could send them, are refused too.
    system.tell(group.ref(leader), { type: 'raft.jobFailed', incarnation: 0, error: 'forged' });
    system.tell(group.ref(leader), { type: 'readyDone', applied: [] });
    await waitFor(() => system.deadLetters().count >= before + 5, { what: 'five dead letters' });
    expect(group.tree(leader)?.restarts).toBe(0);
    expect((await group.status(leader)).role).toBe('leader');
  });

  it('recovers the whole group from disk after every replica stopped', async () => {
    group = await LocalRaftGroup.start({ ids });
    await group.leader();
    const client = group.client('writer');
    for (let index = 0; index < 15; index += 1) expectOk(await client.put(`key-${index}`, `v${index}`));
    const before = await group.converged();
    for (const id of ids) await group.stopReplica(id);
    for (const id of ids) await group.startReplica(id);
    await group.leader();
    const after = await group.converged();
    expect(after.digest === before.digest || after.appliedIndex > before.appliedIndex).toBe(true);
    expect(await group.client('reader').get('key-14')).toEqual({ ok: true, type: 'get', value: 'v14' });
  });
});

describe('raft snapshots and compaction (paper 7)', () => {
  const raft = { snapshotEntriesThreshold: 20, compactionRetainEntries: 5, snapshotChunkBytes: 512 };
  const storageLimits = { segmentBytesMax: 2_048 };

  it('compacts the log behind snapshots, removes WAL segments, and recovers from snapshot + WAL', async () => {
    group = await LocalRaftGroup.start({ ids, raft, storageLimits });
    const leader = await group.leader();
    const client = group.client('writer');
    for (let index = 0; index < 120; index += 1) expectOk(await client.put(`key-${index % 30}`, `v${index}`));
    const before = await group.converged();
    const status = await group.status(leader);
    expect(status.snapshotIndex).toBeGreaterThanOrEqual(100);
    // The WAL segments before the snapshot are gone (the first segment starts past index 1).
    const segments = (await readdir(path.join(group.directory(leader), 'wal'))).map(parseSegmentName).filter((first) => first !== undefined);
    expect(Math.min(...segments)).toBeGreaterThan(1);
    for (const id of ids) await group.stopReplica(id);
    for (const id of ids) await group.startReplica(id);
    await group.leader();
    const after = await group.converged();
    expect(after.keys).toBe(before.keys);
    expect(await group.client('reader').get('key-29')).toEqual({ ok: true, type: 'get', value: 'v119' });
  });

  it('a follower behind the leader\'s compacted log catches up through a chunked InstallSnapshot', async () => {
    group = await LocalRaftGroup.start({ ids, raft, storageLimits });
    const leader = await group.leader();
    const lagging = ids.find((id) => id !== leader)!;
    const client = group.client('writer');
    for (let index = 0; index < 5; index += 1) expectOk(await client.put(`early-${index}`, 'x'.repeat(200)));
    await group.converged();
    const laggingLast = (await group.status(lagging)).lastIndex;
    await group.stopReplica(lagging);
    for (let index = 0; index < 150; index += 1) expectOk(await client.put(`key-${index}`, `v${index}-${'y'.repeat(100)}`));
    // The leader no longer holds the entries the lagging replica needs: only a snapshot can help it.
    const leaderStatus = await waitFor(async () => {
      const current = await group!.status(leader);
      return current.snapshotIndex - raft.compactionRetainEntries > laggingLast ? current : undefined;
    }, { what: 'the leader to compact past the lagging replica' });
    await group.startReplica(lagging);
    const state = await group.converged();
    expect(state.keys).toBe(155);
    const recovered = await group.status(lagging);
    expect(recovered.snapshotIndex).toBeGreaterThanOrEqual(leaderStatus.snapshotIndex - raft.snapshotEntriesThreshold);
    // It restarts from the installed snapshot.
    await group.stopReplica(lagging);
    await group.startReplica(lagging);
    await group.converged();
  });
});
