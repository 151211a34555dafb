/**
 * A full mailbox delays one actor's at-least-once messages, never the link (two real `npm start` node
 * processes in one cluster, each with its own KV replica).
 * n1 streams reliable items into n2's slow sink (a small mailbox, slow per item) far faster than it
 * drains, so its mailbox is full; meanwhile reliable items to n2's ordinary sink and a death-watch
 * round trip (n1 watches an actor that does not exist on n2: the watch and the `terminated` notice
 * that comes back travel on the notice lane, apart from the clogged bulk stream) must still arrive. Every clogged item arrives too, once, in
 * order. After it, n2 still serves a client, the KV value its replica acknowledged before the clog
 * reads back unchanged, and its memory stays under `rssMbMax`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type TroupeClient } from '../../../cluster/index.js';
import { waitFor } from '../../support/wait.js';
import { kvPutOn, rssMb, startNpmNode, stillServes, stopStartedNodes, type StartedNode } from './support.js';

const secret = 'limits-reliable-secret';
const token = 'limits-reliable-token';
/** Items pushed at the slow sink: it holds 64 and takes about 5 ms each, so most of them meet a full mailbox. */
const clogItems = 1_500;
const flowItems = 300;
const kv = { key: 'before-clog', value: 'acknowledged' };
/** n2's resident memory after the run stays under this (an npm start node starts near 150-250 MB). */
const rssMbMax = 600;

interface Report { readonly received: number; readonly distinct: number; readonly duplicates: number; readonly outOfOrder: number; readonly lastSeq: number }

/** The value of a per-peer counter or gauge in Prometheus text (0 when absent). */
function metric(text: string, name: string, peer: string): number {
  const match = new RegExp(`^${name}\\{peer="${peer}"[^}]*\\} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text);
  return match === null ? 0 : Number(match[1]);
}

describe('reliable delivery when a mailbox is full', () => {
  let n1: StartedNode;
  let n2: StartedNode;
  let client: TroupeClient;

  beforeAll(async () => {
    n1 = await startNpmNode({ name: 'n1', secret, token });
    n2 = await startNpmNode({ name: 'n2', secret, token, seeds: [n1.url] });
    await kvPutOn(n2, token, kv);
    client = await connect(n1.url, { token });
    await waitFor(async () => (await client.members()).find((member) => member.node === 'n2')?.status === 'up', { timeoutMs: 60_000, what: 'n2 up' });
  }, 240_000);

  afterAll(async () => {
    await client?.close();
    await stopStartedNodes();
  });

  it('parks what a full mailbox refuses, while other reliable traffic and death-watch notices still arrive', async () => {
    const slow = { node: 'n2', path: '/root/demo/slow' };
    const sink = { node: 'n2', path: '/root/demo/sink' };
    const producer = { node: 'n1', path: '/root/demo/producer' };
    expect(await client.ask(producer, { type: 'produce', target: slow, stream: 'clog', count: clogItems, reliable: true, perTick: 500, intervalMs: 1 })).toEqual({ ok: true });
    await waitFor(async () => (await client.ask<{ done: boolean }>(producer, { type: 'status', stream: 'clog' })).done, { timeoutMs: 60_000, what: 'the clog to be sent' });
    // The slow sink's mailbox is full now: n2 has parked some of the stream.
    const n2Metrics = `http://127.0.0.1:${n2.port}/metrics`;
    await waitFor(async () => metric(await (await fetch(n2Metrics)).text(), 'troupe_reliable_parked_total', 'n1') > 0, { timeoutMs: 60_000, what: 'n2 to park items for the full mailbox' });

    expect(await client.ask(producer, { type: 'produce', target: sink, stream: 'flow', count: flowItems, reliable: true, perTick: 100, intervalMs: 1 })).toEqual({ ok: true });
    const watcher = { node: 'n1', path: '/root/demo/watcher' };
    expect(await client.ask(watcher, { type: 'watch', target: { node: 'n2', path: '/root/nobody-here' } })).toEqual({ ok: true });

    await waitFor(async () => (await client.ask<Report>(sink, { type: 'report', stream: 'flow' })).distinct === flowItems, { timeoutMs: 60_000, what: 'every flow item at the ordinary sink' });
    await waitFor(async () => (await client.ask<Array<{ ref: { path: string }; reason: string }>>(watcher, { type: 'report' }))
      .some((notice) => notice.ref.path === '/root/nobody-here' && notice.reason === 'noProc'), { timeoutMs: 60_000, what: 'the terminated notice for the watched actor' });
    const flow = await client.ask<Report>(sink, { type: 'report', stream: 'flow' });
    expect(flow).toMatchObject({ duplicates: 0, outOfOrder: 0, lastSeq: flowItems });

    // Every clogged item arrives in the end, once and in order (an ask meets the full mailbox until then).
    const slowReport = async (): Promise<Report | undefined> => {
      try {
        return await client.ask<Report>(slow, { type: 'report', stream: 'clog' });
      } catch (error) {
        if ((error as { code?: string }).code === 'MAILBOX_FULL') return undefined;
        throw error;
      }
    };
    await waitFor(async () => (await slowReport())?.distinct === clogItems, { timeoutMs: 120_000, intervalMs: 250, what: 'every clog item at the slow sink' });
    expect(await client.ask<Report>(slow, { type: 'report', stream: 'clog' })).toEqual({ received: clogItems, distinct: clogItems, duplicates: 0, outOfOrder: 0, lastSeq: clogItems });
    const text = await (await fetch(n2Metrics)).text();
    // Nothing was dropped as a gap on n2: the stream never stopped behind the full mailbox.
    expect(metric(text, 'troupe_reliable_gaps_total', 'n1')).toBe(0);
    expect(metric(text, 'troupe_reliable_rejected_total', 'n1')).toBe(0);
    await waitFor(async () => metric(await (await fetch(n2Metrics)).text(), 'troupe_reliable_parked', 'n1') === 0, { what: 'the parking lot to empty' });

    await stillServes(n2, token, kv);
    expect(rssMb(n2.pid)).toBeLessThan(rssMbMax);
  }, 300_000);
});
