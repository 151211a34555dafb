/**
 * A lifecycle subscriber that does not read is dropped once it falls behind by its bound in bytes
 * (`subscriberBytesMax`), with a counter and a final SLOW_SUBSCRIBER notice, and the node goes on
 * serving everyone else (in-process node, real sockets; the bound is set small so a few megabytes of
 * crash events exceed what the kernel's socket buffers absorb).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createClusterNode, demoChildren, type ClusterNode } from '../../../cluster/index.js';
import { waitFor } from '../../support/wait.js';
import { RawClient } from './support.js';

const token = 'limits-subscribers-token';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('slow lifecycle subscribers', () => {
  it('are dropped with a final notice and a counter when they fall behind, and others are still served', async () => {
    const node: ClusterNode = await createClusterNode({
      name: 'n1', listen: '127.0.0.1:0', secret: 'subscribers-secret', tokens: [token], settings: { subscriberBytesMax: 64 * 1024 },
      supervision: { maxRestarts: 100_000, periodMs: 1_000 }, children: (cluster) => demoChildren(cluster, { maxRestarts: 100_000, periodMs: 1_000 }),
    });
    cleanups.push(() => node.stop());
    const slow = new RawClient(`ws://127.0.0.1:${node.port}`);
    cleanups.push(() => slow.terminate());
    expect(await slow.opened).toBe(true);
    slow.send({ type: 'hello', version: 1, token });
    slow.send({ type: 'request', id: 1, op: 'subscribe', topic: 'lifecycle' });
    await waitFor(() => slow.frames.some((frame) => (frame as { type?: string }).type === 'response'), { what: 'the subscription' });
    slow.stopReading();
    // Each crash event carries its 100 kB reason: a few hundred of them outgrow every buffer on the way.
    const reason = 'r'.repeat(100_000);
    const flaky = { node: 'n1', path: '/root/demo/flaky' };
    await waitFor(async () => {
      for (let index = 0; index < 20; index += 1) node.system.tell(flaky, { type: 'crash', reason });
      await node.system.ask(flaky, { type: 'ping' }, { timeoutMs: 10_000 }).catch(() => undefined);
      return /troupe_frames_rejected_total\{code="client:SLOW_SUBSCRIBER"[^}]*\} [1-9]/.test(await node.metrics());
    }, { timeoutMs: 120_000, what: 'the slow subscriber to be dropped' });
    const reader = await connect(`ws://127.0.0.1:${node.port}`, { token });
    cleanups.push(() => reader.close());
    expect(await reader.ask({ node: 'n1', path: '/root/demo/echo' }, 'served')).toEqual({ type: 'echo', body: 'served' });
    // Once it reads again, the dropped subscriber finds the notice after the events it was sent.
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await waitFor(() => slow.frames.some((frame) => (frame as { type?: string; code?: string }).type === 'error' && (frame as { code?: string }).code === 'SLOW_SUBSCRIBER'),
      { timeoutMs: 60_000, what: 'the final notice' });
  }, 180_000);
});
