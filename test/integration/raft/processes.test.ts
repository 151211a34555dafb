/**
 * A Raft group of three real node processes linked by the cluster layer (authenticated WebSockets):
 * it elects a leader, replicates over the network, survives kill -9 of its leader without losing an
 * acknowledged write, takes the restarted node back, and keeps a leader isolated by a partition from
 * committing anything while the majority goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftKvClient, type RaftMetrics } from '../../../actors/raft/index.js';
import { RaftProcessCluster } from '../../support/raft-cluster.js';
import { waitFor } from '../../support/wait.js';

describe('raft across node processes', () => {
  let cluster: RaftProcessCluster;
  let client: RaftKvClient;

  beforeAll(async () => {
    cluster = await RaftProcessCluster.start({ names: ['n1', 'n2', 'n3'], snapshotThreshold: 50 });
    client = new RaftKvClient({ clientId: 'processes', replicas: cluster.names, transport: cluster.transport, attemptTimeoutMs: 1_500, giveUpMs: 30_000 });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('elects a leader and replicates writes over the network', async () => {
    await cluster.leader();
    for (let index = 0; index < 60; index += 1) expect((await client.put(`key-${index}`, `v${index}`)).ok).toBe(true);
    const state = await cluster.converged();
    expect(state.keys).toBeGreaterThanOrEqual(60);
  }, 60_000);

  it('a kill -9ed leader loses no acknowledged write, and its restarted process rejoins', async () => {
    const leader = await cluster.leader();
    await cluster.kill(leader);
    for (let index = 60; index < 80; index += 1) expect((await client.put(`key-${index}`, `v${index}`)).ok).toBe(true);
    const next = await cluster.leader();
    expect(next).not.toBe(leader);
    await cluster.restart(leader);
    await cluster.converged();
    for (const index of [0, 59, 79]) expect(await client.get(`key-${index}`)).toEqual({ ok: true, type: 'get', value: `v${index}` });
  }, 90_000);

  it('an isolated leader steps down and commits nothing; the majority elects a new leader and goes on', async () => {
    const leader = await cluster.leader();
    cluster.proxies.isolate(leader);
    const isolated = new RaftKvClient({ clientId: 'isolated', replicas: [leader], transport: cluster.transport, attemptTimeoutMs: 1_000, giveUpMs: 3_000 });
    // The old leader cannot reach a quorum: its write's outcome stays unknown (TIMEOUT), never acknowledged.
    expect(await isolated.put('isolated-key', 'lost?')).toEqual({ ok: false, code: 'TIMEOUT' });
    const others = cluster.names.filter((name) => name !== leader);
    const next = await cluster.leader(others);
    expect(next).not.toBe(leader);
    const majority = new RaftKvClient({ clientId: 'majority', replicas: others, transport: cluster.transport, attemptTimeoutMs: 1_500, giveUpMs: 30_000 });
    expect((await majority.put('during-partition', 'yes')).ok).toBe(true);
    await waitFor(async () => ((await cluster.status(leader)) as RaftMetrics | undefined)?.role !== 'leader', { timeoutMs: 20_000, what: 'the isolated leader to step down' });
    expect(cluster.proxies.dropped).toBeGreaterThan(0);
    cluster.proxies.heal();
    await cluster.converged();
    expect(await client.get('during-partition')).toEqual({ ok: true, type: 'get', value: 'yes' });
    // The entry the isolated leader appended never reached a quorum and was overwritten.
    expect(await client.get('isolated-key')).toEqual({ ok: true, type: 'get', value: null });
  }, 90_000);
});
