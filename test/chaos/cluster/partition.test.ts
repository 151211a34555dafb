/**
 * A partition between two node processes, made by TCP proxies that every node-to-node connection
 * passes through. While a producer on n1 streams numbered items to a sink on n2, the link is cut
 * (bytes in flight are lost) and healed. At-least-once items must all arrive exactly once in effect
 * and in order; at-most-once items may be lost but never duplicated or reordered; and the sender
 * must really have redelivered (proof that the failure hit messages in flight).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type StreamReport, type TroupeClient } from '../../../cluster/index.js';
import { freePort, removeDir, startNodeProcess, stopAll, tempDir, type NodeProcess } from '../../support/cluster-harness.js';
import { httpGet } from '../../support/http.js';
import { TcpProxy } from '../../support/tcp-proxy.js';
import { waitFor } from '../../support/wait.js';

const secret = 'partition-test-secret';
const token = 'partition-test-token';
const sink = { node: 'n2', path: '/root/demo/sink' };
const producer = { node: 'n1', path: '/root/demo/producer' };

/** Reads one counter of a node's Prometheus metrics. */
async function metric(port: number, name: string, peer: string): Promise<number> {
  const text = await (await httpGet(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{`) && candidate.includes(`peer="${peer}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('a partition between two nodes', () => {
  const dirs: string[] = [];
  const proxies: TcpProxy[] = [];
  let n1: NodeProcess;
  let n2: NodeProcess;
  let client: TroupeClient;

  const report = (stream: string): Promise<StreamReport> => client.ask<StreamReport>(sink, { type: 'report', stream });
  const statusOfN2 = async (): Promise<string | undefined> => (await client.members()).find((member) => member.node === 'n2')?.status;

  beforeAll(async () => {
    dirs.push(await tempDir('partition-n1'), await tempDir('partition-n2'));
    const [port1, port2] = [await freePort(), await freePort()];
    proxies.push(await TcpProxy.start('127.0.0.1', port1), await TcpProxy.start('127.0.0.1', port2));
    const [proxy1, proxy2] = proxies as [TcpProxy, TcpProxy];
    // Each node advertises its proxy, so every link (in either direction) goes through one.
    n1 = await startNodeProcess({ name: 'n1', port: port1, dataDir: dirs[0]!, secret, token, advertise: `ws://127.0.0.1:${proxy1.port}` });
    n2 = await startNodeProcess({
      name: 'n2', port: port2, dataDir: dirs[1]!, secret, token, advertise: `ws://127.0.0.1:${proxy2.port}`, seeds: [`ws://127.0.0.1:${proxy1.port}`],
    });
    client = await connect(n1.url, { token });
    await waitFor(async () => (await statusOfN2()) === 'up', { timeoutMs: 30_000, what: 'n1 to see n2 up' });
  }, 240_000);

  afterAll(async () => {
    try {
      await client?.close();
    } finally {
      await stopAll();
      for (const proxy of proxies) await proxy.close();
      for (const dir of dirs) await removeDir(dir);
    }
  });

  const produce = async (stream: string, reliable: boolean, count: number): Promise<void> => {
    expect(await client.ask(producer, { type: 'produce', target: sink, stream, count, reliable, perTick: 20, intervalMs: 5 })).toEqual({ ok: true });
  };

  it('delivers at-least-once messages exactly once and in order across a partition long enough to declare the peer down', { timeout: 180_000 }, async () => {
    const count = 3_000;
    await produce('reliable-1', true, count);
    await produce('fifo-1', false, count);
    await waitFor(async () => (await report('reliable-1')).received >= 300, { timeoutMs: 30_000, what: 'items flowing before the cut' });
    for (const proxy of proxies) proxy.cut('blackhole');
    await waitFor(async () => (await statusOfN2()) === 'down', { timeoutMs: 30_000, what: 'n1 to declare n2 down' });
    for (const proxy of proxies) proxy.heal();
    await waitFor(async () => (await statusOfN2()) === 'up', { timeoutMs: 30_000, what: 'n1 to see n2 up again' });
    const reliable = await waitFor(async () => {
      const current = await report('reliable-1');
      return current.distinct === count ? current : undefined;
    }, { timeoutMs: 60_000, what: 'every reliable item to arrive' });
    expect(reliable).toEqual({ received: count, distinct: count, duplicates: 0, outOfOrder: 0, lastSeq: count });
    expect((await client.ask<{ refused: number }>(producer, { type: 'status', stream: 'reliable-1' })).refused).toBe(0);
    await waitFor(async () => (await client.ask<{ done: boolean }>(producer, { type: 'status', stream: 'fifo-1' })).done, { what: 'the at-most-once stream to finish' });
    const fifo = await report('fifo-1');
    expect(fifo.duplicates).toBe(0);
    expect(fifo.outOfOrder).toBe(0);
    expect(fifo.received).toBeGreaterThan(0);
    expect(fifo.received).toBeLessThanOrEqual(count);
    expect(await metric(n1.port, 'troupe_reliable_redelivered_total', 'n2')).toBeGreaterThan(0);
  });

  it('keeps both streams in order and at-least-once exact across quick connection resets', { timeout: 180_000 }, async () => {
    const count = 3_000;
    const rounds = 3;
    await produce('reliable-2', true, count);
    await produce('fifo-2', false, count);
    for (let round = 0; round < rounds; round += 1) {
      // Each reset comes at a point of the stream, not after a number of items since the last one: a
      // reconnect can flush the queue in one go, and the stream is finite, so "100 more items" might
      // never come once the stream is over.
      const mark = Math.floor(((round + 1) * count) / (rounds + 2));
      await waitFor(async () => (await report('reliable-2')).received >= mark, { timeoutMs: 60_000, what: `item ${mark} before reset ${round}` });
      for (const proxy of proxies) proxy.cut('reset');
      await waitFor(async () => (await metric(n1.port, 'troupe_link_up', 'n2')) === 0, { timeoutMs: 30_000, what: 'the link to drop' });
      for (const proxy of proxies) proxy.heal();
      await waitFor(async () => (await metric(n1.port, 'troupe_link_up', 'n2')) === 1, { timeoutMs: 30_000, what: 'the link to come back' });
    }
    const reliable = await waitFor(async () => {
      const current = await report('reliable-2');
      return current.distinct === count ? current : undefined;
    }, { timeoutMs: 60_000, what: 'every reliable item to arrive' });
    expect(reliable).toEqual({ received: count, distinct: count, duplicates: 0, outOfOrder: 0, lastSeq: count });
    await waitFor(async () => (await client.ask<{ done: boolean }>(producer, { type: 'status', stream: 'fifo-2' })).done, { what: 'the at-most-once stream to finish' });
    const fifo = await report('fifo-2');
    expect(fifo.duplicates).toBe(0);
    expect(fifo.outOfOrder).toBe(0);
    expect(proxies.every((proxy) => proxy.accepted > 1)).toBe(true);
  });
});
