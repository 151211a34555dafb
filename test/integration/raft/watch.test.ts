/**
 * Watch acceptance: one watcher receives 10,000 put events, in revision order, none lost and none
 * repeated, while the leader of a three-process group is killed with SIGKILL partway through. The
 * watcher polls the leader first; when the leader dies, its next poll goes to another replica from the
 * revision after the last one it received, which every replica numbers the same way because events
 * are derived from the same applied log. The work is fixed (10,000 events); the deadlines are generous
 * waits for a loaded machine, never measurements.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftKvClient, type KvCommandOutcome } from '../../../actors/raft/index.js';
import type { KvEvent, KvOp } from '../../../actors/storage/index.js';
import { RaftProcessCluster } from '../../support/raft-cluster.js';
import { waitFor } from '../../support/wait.js';

const writers = 4;
const txnsPerWriter = 250;
const putsPerTxn = 10;
const eventsTotal = writers * txnsPerWriter * putsPerTxn;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe('watch across a leader kill', () => {
  let cluster: RaftProcessCluster;

  beforeAll(async () => {
    cluster = await RaftProcessCluster.start({ names: ['n1', 'n2', 'n3'], snapshotThreshold: 2_000 });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it(`delivers ${eventsTotal} events in order, none lost or repeated, while the leader is killed`, async () => {
    const leader = await cluster.leader();
    const before = await new RaftKvClient({ clientId: 'probe', replicas: cluster.names, transport: cluster.transport }).range({ key: encoder.encode('w/') });
    expect(before.ok).toBe(true);
    const startRevision = (before as Extract<KvCommandOutcome, { ok: true; type: 'txn' }>).revision + 1;

    // The watcher asks the leader first, so the kill forces it onto another replica.
    const watching = new RaftKvClient({ clientId: 'watcher', replicas: [leader, ...cluster.names.filter((name) => name !== leader)], transport: cluster.transport, attemptTimeoutMs: 2_000 });
    const received: KvEvent[] = [];
    const stop = new AbortController();
    const watcher = (async () => {
      for await (const event of watching.watch({ prefix: encoder.encode('w/'), fromRevision: startRevision, idleMs: 20, signal: stop.signal })) {
        received.push(event);
        if (received.length >= eventsTotal) break;
      }
    })();

    const write = async (writer: number): Promise<void> => {
      const client = new RaftKvClient({ clientId: `writer-${writer}`, replicas: cluster.names, transport: cluster.transport, attemptTimeoutMs: 2_000, giveUpMs: 120_000 });
      for (let txn = 0; txn < txnsPerWriter; txn += 1) {
        const success: KvOp[] = Array.from({ length: putsPerTxn }, (_, put) => ({ type: 'put', key: encoder.encode(`w/${writer}/${txn}/${put}`), value: encoder.encode(`${writer}.${txn}.${put}`) }));
        const outcome = await client.txn({ success }, 'log');
        if (!outcome.ok) throw new Error(`writer ${writer} txn ${txn}: ${JSON.stringify(outcome)}`);
      }
    };
    const writing = Promise.all(Array.from({ length: writers }, (_, writer) => write(writer)));
    try {
      await waitFor(() => received.length >= eventsTotal / 4 || undefined, { timeoutMs: 120_000, what: 'a quarter of the events to arrive' });
      await cluster.kill(leader);
      await writing;
      await waitFor(() => received.length >= eventsTotal || undefined, { timeoutMs: 180_000, what: `all ${eventsTotal} events (have ${received.length})` });
      await watcher;
    } finally {
      stop.abort();
      await Promise.allSettled([watcher, writing]);
    }

    expect(received).toHaveLength(eventsTotal);
    const seen = new Set<string>();
    let revision = 0;
    for (const event of received) {
      expect(event.type).toBe('put');
      expect(event.kv.modRevision).toBeGreaterThanOrEqual(revision);
      revision = event.kv.modRevision;
      const key = decoder.decode(event.kv.key);
      expect(seen.has(key), `event for ${key} repeated`).toBe(false);
      seen.add(key);
      expect(decoder.decode(event.kv.value)).toBe(key.slice(2).replaceAll('/', '.'));
    }
    expect(seen.size).toBe(eventsTotal);
    // A transaction's puts share one revision: 1,000 transactions, 1,000 revisions.
    expect(new Set(received.map((event) => event.kv.modRevision)).size).toBe(writers * txnsPerWriter);
  }, 420_000);
});
