/**
 * Directed scenarios on the production replica host in the simulated world (host-world.ts).
 *
 * A follower restarted in the middle of a forwarded read (Raft thesis 6.4): the leader still holds the
 * old process's read, with the commit index from before a later write. The new process must not
 * receive that index for its own read. With read ids unique per start it does not; with ids that
 * repeat across starts (a counter from 0), the same run serves a stale value.
 *
 * The leader's parallel write (Raft thesis 10.2.1): its AppendEntries reach the followers while its own
 * fsync is still in flight, and the write is answered only after a quorum, the leader's durable copy
 * or two followers', holds it.
 *
 * Leases across a leader change: keep-alives reach whichever replica leads, the new leader restarts
 * every lease's TTL on its own clock, and an expired lease is revoked through the log.
 */
import { describe, expect, it } from 'vitest';
import { RaftKvClient } from '../../../actors/raft/client.js';
import type { NodeId } from '../../../actors/raft/core/types.js';
import type { KvAppliedResult } from '../../../actors/raft/core/kv-state-machine.js';
import { textCommand, textResult } from '../../../actors/raft/kv-text.js';
import { World } from './host-world.js';

const getK = { type: 'get', key: 'k' } as const;

const ids: readonly NodeId[] = ['n1', 'n2', 'n3'];
const peers = Object.fromEntries(ids.map((id) => [id, { node: id, path: '/raft' }]));

function calmWorld(nonce?: (id: NodeId, incarnation: number) => string, syncDelayMsMax = 1): World {
  const world = new World({
    seed: 11,
    nodeIds: ids,
    weather: { delayMsMax: 2, longDelayRate: 0, dropRate: 0, duplicateRate: 0, syncDelayMsMax },
    // No check-quorum: the leader keeps leading while the test withholds heartbeat answers.
    hostOptions: (id) => ({ id, peers, directory: `/data/${id}`, raft: { electionTicks: 10, heartbeatTicks: 1, checkQuorum: false }, requestTimeoutMs: 10_000, pendingRequestsMax: 100 }),
    observe: () => undefined,
    ...(nonce ? { nonce } : {}),
  });
  for (const id of ids) {
    world.start(id);
    const tick = (): void => {
      world.nodes.get(id)!.host?.tick();
      world.after(10, tick);
    };
    world.after(1 + ids.indexOf(id), tick);
  }
  return world;
}

/** Runs the world until `condition` holds (within a budget of simulated time). */
async function until(world: World, condition: () => boolean, what: string): Promise<void> {
  if (condition() || (await world.run(world.now + 10_000, () => undefined, condition))) return;
  throw new Error(`simulated 10 s passed without ${what}`);
}

function leaderOf(world: World): NodeId | null {
  for (const node of world.nodes.values()) if (node.host?.node.status().role === 'leader') return node.id;
  return null;
}

async function restartFollowerMidRead(world: World): Promise<unknown> {
  await until(world, () => leaderOf(world) !== null && [...world.nodes.values()].every((node) => node.host?.node.status().leader === leaderOf(world)), 'a leader known to all');
  const leader = leaderOf(world)!;
  const follower = ids.find((id) => id !== leader)!;
  const client = new RaftKvClient({ clientId: 'writer', replicas: [leader], transport: world.clientTransport(), now: () => world.now, sleep: (ms) => world.sleep(ms), attemptTimeoutMs: 2_000 });
  const put = async (value: string): Promise<void> => {
    let done = false;
    void client.put('k', value).then(() => { done = true; });
    await until(world, () => done, `the write of ${value}`);
  };
  await put('before');
  // The leader cannot confirm reads for now: every heartbeat answer is lost.
  world.filter = (message) => message.type !== 'raft.heartbeatResponse';
  world.nodes.get(follower)!.host!.request({ type: 'kv.read', command: textCommand(getK), timeoutMs: 10_000 }, () => undefined);
  await world.run(world.now + 50, () => undefined);
  world.crash(follower, 'keep');
  await put('after');
  // The new process hears heartbeats (so it knows the leader) but no entries yet.
  world.filter = (message) => message.type !== 'raft.heartbeatResponse' && !(message.type === 'raft.append' && message.to === follower);
  world.start(follower);
  await until(world, () => world.nodes.get(follower)!.host?.node.status().leader === leader, 'the restarted follower to know the leader');
  let answer: unknown;
  world.nodes.get(follower)!.host!.request({ type: 'kv.read', command: textCommand(getK), timeoutMs: 10_000 }, (reply) => { answer = textResult(getK, reply as KvAppliedResult); });
  await world.run(world.now + 50, () => undefined);
  // Heartbeat answers flow again: the leader confirms every read it holds.
  world.filter = (message) => !(message.type === 'raft.append' && message.to === follower);
  await world.run(world.now + 200, () => undefined, () => answer !== undefined);
  // Entries flow again: a read confirmed at the new index can now be served.
  world.filter = () => true;
  await until(world, () => answer !== undefined, 'an answer to the new read');
  return answer;
}

describe('raft host simulation: a follower restarted mid-read', () => {
  it('with read ids unique per start, the new read sees the write that finished before it began', async () => {
    const answer = await restartFollowerMidRead(calmWorld());
    expect(answer).toEqual({ ok: true, type: 'get', value: 'after' });
  });

  it('with read ids that repeat across starts, the same schedule serves the stale value (the hazard)', async () => {
    const answer = await restartFollowerMidRead(calmWorld(() => 'repeats'));
    expect(answer).toEqual({ ok: true, type: 'get', value: 'before' });
  });
});

describe('raft host simulation: the leader writes in parallel with replication (thesis 10.2.1)', () => {
  it('AppendEntries carrying a new entry reach a follower before the leader\'s own sync completes', async () => {
    const world = calmWorld(undefined, 200);
    await until(world, () => leaderOf(world) !== null && [...world.nodes.values()].every((node) => node.host?.node.status().leader === leaderOf(world)), 'a leader known to all');
    const leader = leaderOf(world)!;
    const leaderDisk = world.nodes.get(leader)!.disk;
    const seen: boolean[] = [];
    world.filter = (message) => {
      if (message.type === 'raft.append' && message.from === leader && message.entries.some((entry) => entry.type === 'normal' && entry.data.byteLength > 0)) seen.push(leaderDisk.heldSyncs() > 0);
      return true;
    };
    const client = new RaftKvClient({ clientId: 'w', replicas: [leader], transport: world.clientTransport(), now: () => world.now, sleep: (ms) => world.sleep(ms), attemptTimeoutMs: 5_000 });
    let outcome: unknown;
    void client.put('k', 'v').then((result) => { outcome = result; });
    await until(world, () => outcome !== undefined, 'the write');
    expect(outcome).toEqual({ ok: true, type: 'put' });
    expect(seen[0]).toBe(true);
  });
});

describe('raft host simulation: leases across a leader change (expiry on the leader\'s clock)', () => {
  it('a lease kept alive through a leader crash keeps its key; once keep-alives stop, the key goes no sooner than its TTL after the last one, and a watch sees the delete', async () => {
    const world = calmWorld();
    const agreed = (): boolean => leaderOf(world) !== null && [...world.nodes.values()].every((node) => node.host === null || node.host.node.status().leader === leaderOf(world));
    await until(world, agreed, 'a leader known to all');
    const client = new RaftKvClient({ clientId: 'leases', replicas: ids, transport: world.clientTransport(), now: () => world.now, sleep: (ms) => world.sleep(ms), attemptTimeoutMs: 500, giveUpMs: 5_000 });
    const settle = async <T>(work: Promise<T>, what: string): Promise<T> => {
      let result: { value: T } | undefined;
      void work.then((value) => { result = { value }; });
      await until(world, () => result !== undefined, what);
      return result!.value;
    };
    const key = new TextEncoder().encode('leased');
    const ttlMs = 1_000;
    const grant = await settle(client.grantLease(ttlMs), 'the lease grant');
    if (!grant.ok || grant.type !== 'leaseGrant') throw new Error(`grant failed: ${JSON.stringify(grant)}`);
    const put = await settle(client.txn({ success: [{ type: 'put', key, value: new TextEncoder().encode('v'), lease: grant.lease }] }), 'the leased put');
    expect(put.ok).toBe(true);
    const present = async (): Promise<boolean> => {
      const read = await settle(client.range({ key }, 'log'), 'a read of the leased key');
      if (!read.ok || read.type !== 'txn' || read.responses[0]?.type !== 'range') throw new Error(`read failed: ${JSON.stringify(read)}`);
      return read.responses[0].kvs.length === 1;
    };

    // Keep-alives every 200 ms for 3 s of simulated time (three TTLs), the leader killed in the middle.
    let lastKeepAliveMs = world.now;
    const firstLeader = leaderOf(world)!;
    for (let round = 0; round < 15; round += 1) {
      if (round === 5) {
        world.crash(firstLeader, 'keep');
        await until(world, () => leaderOf(world) !== null && leaderOf(world) !== firstLeader, 'a new leader');
        world.start(firstLeader);
      }
      const reply = await settle(client.keepAlive(grant.lease), 'a keep-alive');
      if (reply.ok) lastKeepAliveMs = world.now;
      await world.run(world.now + 200, () => undefined);
      expect(await present()).toBe(true);
    }

    // Keep-alives stop: the key stays at least a TTL after the last renewal, then is revoked through the log.
    const events: string[] = [];
    const watching = new AbortController();
    void (async () => {
      for await (const event of client.watch({ key, signal: watching.signal, idleMs: 20 })) events.push(event.type);
    })();
    let goneAtMs: number | null = null;
    while (goneAtMs === null) {
      if (!(await present())) goneAtMs = world.now;
      else await world.run(world.now + 50, () => undefined);
      if (world.now > lastKeepAliveMs + 10 * ttlMs) throw new Error('the expired lease was never revoked');
    }
    expect(goneAtMs - lastKeepAliveMs).toBeGreaterThanOrEqual(ttlMs);
    await until(world, () => events.includes('delete'), 'the watch to see the delete');
    watching.abort();
  });
});
