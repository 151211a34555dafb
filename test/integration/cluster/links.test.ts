/**
 * Links between in-process nodes over real WebSockets: two nodes that dial each other at the same
 * moment end up with exactly one connection (counted by TCP proxies in front of both), and a
 * heartbeat is handed to the socket at once even while bulk frames wait behind backpressure.
 */
import { WebSocketServer, WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock, codec, type Ref } from '../../../runtime/index.js';
import { createClusterNode, demoChildren, resolveSettings, type ClusterNode } from '../../../cluster/index.js';
import { Peer, type PeerHost } from '../../../cluster/peer.js';
import { FramedSocket } from '../../../cluster/socket.js';
import { decodeMessage } from '../../../cluster/core/wire.js';
import { freePort } from '../../support/cluster-harness.js';
import { TcpProxy } from '../../support/tcp-proxy.js';
import { waitFor } from '../../support/wait.js';

const secret = 'links-test-secret';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('one link per pair', () => {
  it('resolves simultaneous dials from both sides to a single connection', async () => {
    for (let round = 0; round < 3; round += 1) {
      const [portA, portB] = [await freePort(), await freePort()];
      const proxyA = await TcpProxy.start('127.0.0.1', portA);
      const proxyB = await TcpProxy.start('127.0.0.1', portB);
      cleanups.push(() => proxyA.close(), () => proxyB.close());
      const addressA = `ws://127.0.0.1:${proxyA.port}`;
      const addressB = `ws://127.0.0.1:${proxyB.port}`;
      // Both start together and dial each other; a lists itself first, so it founds the cluster. The
      // handshake, idle and failure-detector bounds are loose so that a stalled event loop on a loaded
      // machine does not time a dial out or drop the link: any extra connection is then the tie-break's.
      const settings = { handshakeTimeoutMs: 30_000, linkIdleMs: 30_000, detector: { acceptablePauseMs: 10_000 } };
      const [a, b] = await Promise.all([
        createClusterNode({ name: 'a', listen: `127.0.0.1:${portA}`, advertise: addressA, seeds: [addressA, addressB], secret, settings }),
        createClusterNode({ name: 'b', listen: `127.0.0.1:${portB}`, advertise: addressB, seeds: [addressA], secret, settings, children: (node) => demoChildren(node) }),
      ]);
      cleanups.push(() => a.stop(), () => b.stop());
      await waitFor(() => a.member('b')?.status === 'up' && b.member('a')?.status === 'up' && b.member('b')?.status === 'up', { timeoutMs: 20_000, what: 'both up' });
      await waitFor(() => proxyA.connections + proxyB.connections === 1, { timeoutMs: 20_000, what: 'a single connection between a and b' });
      expect(await a.system.ask({ node: 'b', path: '/root/demo/echo' }, round)).toEqual({ type: 'echo', body: round });
      expect(proxyA.connections + proxyB.connections).toBe(1);
      // One dial each way, one refused by the tie-break: no reconnect churn (a broken tie-break shows
      // tens of connections here). One spare for a dial a loaded machine lets time out.
      expect(proxyA.accepted + proxyB.accepted).toBeLessThanOrEqual(3);
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    }
  });
});

describe('heartbeats and bulk data', () => {
  it('hands a heartbeat to the socket while bulk frames wait in the queue behind backpressure', async () => {
    const settings = resolveSettings({ bufferedBytesHighWater: 64 * 1024, batchBytesMax: 64 * 1024 });
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: settings.frameBytesMax });
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await new Promise((resolve) => server.once('listening', resolve));
    const received: unknown[] = [];
    const accepted = new Promise<WebSocket>((resolve) => server.once('connection', (ws) => {
      ws.pause();
      ws.on('message', (data: Buffer) => {
        const decoded = decodeMessage(codec, data, 100_000);
        if (decoded.ok) received.push(...decoded.frames);
      });
      resolve(ws);
    }));
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
    await new Promise((resolve) => client.once('open', resolve));
    const serverSide = await accepted;
    const clock = new RealClock();
    const socket = new FramedSocket(client, {
      codec, clock, onProblem: () => {}, handler: { frames: () => {}, closed: () => {} },
      limits: { messageBytesMax: settings.frameBytesMax, framesPerMessageMax: 100_000, messagesPerSecond: 1e6, bytesPerSecond: 1e12, errorsMax: 10, errorWindowMs: 1_000, idleMs: undefined },
    });
    const host: PeerHost = {
      codec, clock, settings, deliverStream: () => 'done', control: () => {}, heartbeat: () => {}, abandoned: () => {}, rejectedInbound: () => {}, problem: () => {},
    };
    const peer = new Peer('remote', undefined, host);
    peer.attach(socket, 1, false, () => {});
    cleanups.push(() => { client.terminate(); });
    const target: Ref = { node: 'remote', path: '/sink' };
    const body = 'x'.repeat(1_000);
    let sent = 0;
    // Fill the paused connection until frames pile up in the peer's own queue.
    await waitFor(async () => {
      for (let index = 0; index < 2_000; index += 1) {
        sent += 1;
        expect(peer.sendStream({ type: 'envelope', envelope: { id: `e${sent}`, to: target, body: { seq: sent, body } } }, false)).toEqual({ ok: true });
      }
      await new Promise((resolve) => setImmediate(resolve));
      return peer.queuedFrames > 1_000 && socket.bufferedAmount >= settings.bufferedBytesHighWater;
    }, { timeoutMs: 30_000, what: 'bulk frames held back in the queue' });
    const before = socket.bufferedAmount;
    peer.sendHeartbeat(clock.now());
    expect(socket.bufferedAmount).toBeGreaterThan(before);
    expect(peer.queuedFrames).toBeGreaterThan(1_000);
    serverSide.resume();
    await waitFor(() => received.filter(Array.isArray).length === sent, { timeoutMs: 60_000, what: 'every bulk frame to arrive' });
    const heartbeatAt = received.findIndex((frame) => (frame as { type?: string }).type === 'heartbeat');
    // The heartbeat overtook everything that was still in the queue when it was sent.
    expect(heartbeatAt).toBeGreaterThan(0);
    expect(heartbeatAt).toBeLessThan(sent - 1_000);
    const seqs = received.filter(Array.isArray).map((wire) => (wire as unknown[])[1] as number);
    expect(seqs).toEqual(Array.from({ length: sent }, (_, index) => index + 1));
  });
});

describe('the send queue', () => {
  it('keeps messages across a broken link, refuses what overflows it (SEND_QUEUE_FULL) and delivers the rest after healing', async () => {
    const port2 = await freePort();
    const proxy2 = await TcpProxy.start('127.0.0.1', port2);
    cleanups.push(() => proxy2.close());
    // A detector that will not declare the peer down during the test: the queue is what is tested.
    const settings = { sendQueueFramesMax: 50, heartbeatIntervalMs: 200, detector: { downPhi: 1_000_000, suspectPhi: 1_000_000 } };
    const n2 = await createClusterNode({
      name: 'n2', listen: `127.0.0.1:${port2}`, advertise: `ws://127.0.0.1:${proxy2.port}`, secret, settings, children: (node) => demoChildren(node),
    });
    cleanups.push(() => n2.stop());
    const n1 = await createClusterNode({ name: 'n1', listen: '127.0.0.1:0', secret, seeds: [`ws://127.0.0.1:${proxy2.port}`], settings });
    cleanups.push(() => n1.stop());
    await waitFor(() => n1.member('n2')?.status === 'up', { timeoutMs: 20_000, what: 'n1 linked to n2 through the proxy' });
    const sink: Ref = { node: 'n2', path: '/root/demo/sink' };
    proxy2.cut('blackhole');
    await waitFor(() => n1.stats().peers.find((peer) => peer.node === 'n2')?.linked === false, { timeoutMs: 20_000, what: 'the link to break' });
    for (let seq = 1; seq <= 80; seq += 1) n1.system.tell(sink, { type: 'item', stream: 'queued', seq });
    expect(n1.stats().dropped.SEND_QUEUE_FULL).toBe(30);
    await expect(n1.system.ask(sink, { type: 'report', stream: 'queued' }, { timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'SEND_QUEUE_FULL' });
    proxy2.heal();
    const report = await waitFor(async () => {
      const current = await n1.system.ask<{ received: number }>(sink, { type: 'report', stream: 'queued' }, { timeoutMs: 5_000 }).catch(() => undefined);
      return current !== undefined && current.received === 50 ? current : undefined;
    }, { timeoutMs: 30_000, what: 'the queued messages to arrive after healing' });
    expect(report).toEqual({ received: 50, distinct: 50, duplicates: 0, outOfOrder: 0, lastSeq: 50 });
  });
});

describe('death watch across nodes', () => {
  it('tells a watcher when a remote actor stops, or that it never existed', async () => {
    const n1 = await createClusterNode({ name: 'n1', listen: '127.0.0.1:0', secret, children: (node) => demoChildren(node) });
    cleanups.push(() => n1.stop());
    const n2 = await createClusterNode({ name: 'n2', listen: '127.0.0.1:0', secret, seeds: [n1.address], children: (node) => demoChildren(node) });
    cleanups.push(() => n2.stop());
    await waitFor(() => n1.member('n2')?.status === 'up' && n2.member('n2')?.status === 'up', { timeoutMs: 20_000, what: 'n2 up' });
    const watcher: Ref = { node: 'n1', path: '/root/demo/watcher' };
    await n1.system.ask(watcher, { type: 'watch', target: { node: 'n2', path: '/root/demo/counter' } });
    await n1.system.ask(watcher, { type: 'watch', target: { node: 'n2', path: '/root/ghost' } });
    expect(await n2.system.ask({ node: 'n2', path: '/root/demo' }, { type: 'supervisor.stopChild', id: 'counter' })).toEqual({ ok: true });
    const heard = await waitFor(async () => {
      const terminated = await n1.system.ask<Array<{ ref: Ref; reason: string }>>(watcher, { type: 'report' });
      return terminated.length === 2 ? terminated : undefined;
    }, { timeoutMs: 10_000, what: 'two terminated notices' });
    expect(heard).toContainEqual({ type: 'terminated', ref: { node: 'n2', path: '/root/ghost' }, reason: 'noProc' });
    expect(heard.find((entry) => entry.ref.path === '/root/demo/counter')).toMatchObject({ ref: { node: 'n2', path: '/root/demo/counter' } });
  });
});
