/**
 * The MVBA replicated log across four real node processes (test/support/mvba-node.ts) linked by the
 * cluster layer (authenticated WebSockets), on threshold BLS keys dealt as `troupe mvba keygen` deals
 * them. One replica is Byzantine (corrupt shares and proofs, duplicated and flipped votes, forged answers
 * to clients); one correct replica is killed with SIGKILL mid-run and restarted from its data directory.
 * Clients get answers f + 1 replicas agree on; the correct replicas end with the same log and state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MvbaLogClient, type SubmitReply } from '../../../actors/mvba/index.js';
import { MvbaProcessCluster } from '../../support/mvba-cluster.js';
import { waitFor } from '../../support/wait.js';

const names = ['n1', 'n2', 'n3', 'n4'] as const;
const byzantine = 'n4';
const crashed = 'n2';

describe('MVBA replicated log across node processes', () => {
  const cluster = new MvbaProcessCluster({ names, byzantine: [byzantine] });
  let client: MvbaLogClient;

  beforeAll(async () => {
    try {
      await cluster.start();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    client = new MvbaLogClient({ replicas: names.length, transport: { ask: (replica, message, timeoutMs) => cluster.ask(names[replica]!, message, timeoutMs) }, timeoutMs: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await cluster.stop();
  });

  it('decides client transactions with one Byzantine replica, whose forged answers never win', async () => {
    const replies = await Promise.all(Array.from({ length: 8 }, (_, index) => client.submit({ id: `a-${index}`, op: 'put', key: `k${index}`, value: `v${index}` })));
    for (const reply of replies) expect(reply).toMatchObject({ ok: true, applied: true });
    expect(replies.every((reply) => (reply as Extract<SubmitReply, { ok: true }>).instance !== 999)).toBe(true);
    expect(await client.read('k3')).toMatchObject({ ok: true, value: 'v3' });
    // The Byzantine replica's own answer is a forgery; the client never takes it alone.
    expect(await cluster.ask(byzantine, { type: 'bftlog.read', key: 'k3' }, 10_000)).toMatchObject({ value: 'forged' });
  }, 120_000);

  it('a correct replica killed mid-run restarts from disk, catches up, and the correct replicas agree', async () => {
    const during = Array.from({ length: 6 }, (_, index) => client.submit({ id: `b-${index}`, op: 'put', key: `b${index}`, value: `w${index}` }));
    await cluster.kill(crashed);
    // With f = 1 Byzantine replica, the two running correct replicas cannot decide alone: the log waits.
    await cluster.restart(crashed);
    const replies = await Promise.all(during);
    for (const reply of replies) expect(reply).toMatchObject({ ok: true });
    const after = await client.submit({ id: 'c-0', op: 'delete', key: 'k0' });
    expect(after).toMatchObject({ ok: true, applied: true });
    const correct = names.filter((name) => name !== byzantine);
    await waitFor(async () => {
      const statuses = await Promise.all(correct.map((name) => cluster.ask(name, { type: 'bftlog.status' }, 5_000).catch(() => undefined) as Promise<{ instance: number } | undefined>));
      return statuses.every((status) => status !== undefined && status.instance === statuses[0]!.instance) ? true : undefined;
    }, { timeoutMs: 60_000, what: `the correct replicas to reach the same instance\n${cluster.logs()}` });
    for (const key of ['k0', 'k5', 'b2', 'b5']) {
      const reads = await Promise.all(correct.map((name) => cluster.ask(name, { type: 'bftlog.read', key }, 10_000)));
      expect(new Set(reads.map((read) => JSON.stringify(read))).size, `${key}: ${JSON.stringify(reads)}`).toBe(1);
    }
    const restarted = await cluster.ask(crashed, { type: 'bftlog.status' }, 5_000) as { replayed: number; synced: number; retransmitted: number };
    console.log(`restarted replica ${crashed}: ${JSON.stringify(restarted)}`);
    // It rebuilt its cores from its durable inputs (the previous instance's and the current one's).
    expect(restarted.replayed).toBeGreaterThan(0);
    expect(await client.read('k0')).toMatchObject({ value: null });
    expect(await client.read('b5')).toMatchObject({ value: 'w5' });
  }, 180_000);
});
