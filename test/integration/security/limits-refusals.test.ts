/**
 * Refusals are not silent (real `npm start` node processes, each with its KV replica): a node started
 * with the wrong cluster secret logs why it cannot join (the seed's address and AUTH_FAILED) and its
 * /healthz says not ready with that reason, while the seed logs the refused handshake with the remote
 * address and stays ready itself. Hostile bytes on the client path are logged as refusals too
 * (FRAME_TOO_LARGE, DECODE_FAILED). After each, the seed answers a legitimate client, the KV value it
 * acknowledged before reads back unchanged, and its resident memory stays under `rssMbMax`.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/wait.js';
import { kvPutOn, RawClient, rssMb, startNpmNode, stillServes, stopStartedNodes, type StartedNode } from './support.js';

const token = 'limits-refusals-token';
const kv = { key: 'before-refusals', value: 'acknowledged' };
/** The seed's resident memory stays under this (an npm start node starts near 150-250 MB). */
const rssMbMax = 500;

function logLines(output: string): Array<Record<string, unknown>> {
  return output.split('\n').filter((line) => line.startsWith('{"level"')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('refusals are logged', () => {
  let n1: StartedNode;
  let stranger: StartedNode;

  beforeAll(async () => {
    n1 = await startNpmNode({ name: 'n1', secret: 'the-cluster-secret', token });
    await kvPutOn(n1, token, kv);
    stranger = await startNpmNode({ name: 'n2', secret: 'another-secret', token, seeds: [n1.url] });
  }, 240_000);

  afterAll(async () => {
    await stopStartedNodes();
  });

  it('a node with the wrong secret says why it cannot join, and is not ready', async () => {
    await waitFor(() => logLines(stranger.output()).some((line) => line.event === 'cluster.dialFailed' && line.code === 'AUTH_FAILED' && line.remote === n1.url),
      { timeoutMs: 30_000, what: 'the failed join in the log' });
    const health = await fetch(`http://127.0.0.1:${stranger.port}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'not_ready', member: 'joining', ready: false, code: 'AUTH_FAILED', peer: n1.url });
    // The seed logged the failed handshake with the remote address (the dialer is the side that finds the
    // proof wrong, and closes with AUTH_FAILED), and is ready itself (it founded the cluster).
    await waitFor(() => logLines(n1.output()).some((line) => line.event === 'cluster.handshakeFailed' && line.code === 'AUTH_FAILED' && line.remote === '127.0.0.1'),
      { what: 'the refused handshake in the seed log' });
    const seedHealth = await fetch(`http://127.0.0.1:${n1.port}/healthz`);
    expect(seedHealth.status).toBe(200);
    expect(await seedHealth.json()).toMatchObject({ status: 'ok', member: 'up' });
    await stillServes(n1, token, kv);
    expect(rssMb(n1.pid)).toBeLessThan(rssMbMax);
  }, 90_000);

  it('hostile bytes on the client path are logged with their code and address', async () => {
    const big = new RawClient(n1.url);
    expect(await big.opened).toBe(true);
    big.ws.send(new Uint8Array(64 * 1024));
    await big.closed;
    const garbage = new RawClient(n1.url);
    expect(await garbage.opened).toBe(true);
    garbage.ws.send(new Uint8Array(randomBytes(300)).map((byte, index) => (index === 0 ? 0x5f : byte)));
    await garbage.closed;
    await waitFor(() => {
      const refused = logLines(n1.output()).filter((line) => line.event === 'cluster.refused' && line.endpoint === 'client' && line.remote === '127.0.0.1');
      return refused.some((line) => line.code === 'FRAME_TOO_LARGE') && refused.some((line) => line.code !== 'FRAME_TOO_LARGE');
    }, { what: 'both refusals in the log' });
    await stillServes(n1, token, kv);
    expect(rssMb(n1.pid)).toBeLessThan(rssMbMax);
  }, 90_000);
});
