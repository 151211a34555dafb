/**
 * Refusals are not silent (real node processes): a node started with the wrong cluster secret logs
 * why it cannot join (the seed's address and AUTH_FAILED) and its /healthz says not ready with that
 * reason, while the seed logs the refused handshake with the remote address and stays ready itself.
 * Hostile bytes on the client path are logged as refusals too (FRAME_TOO_LARGE, DECODE_FAILED).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../../cluster/index.js';
import { freePort, removeDir, startNodeProcess, stopAll, tempDir, type NodeProcess } from '../../support/cluster-harness.js';
import { waitFor } from '../../support/wait.js';
import { RawClient, rssMb } from './support.js';

const token = 'limits-refusals-token';
const rssMbMax = 500;

function logLines(output: string): Array<Record<string, unknown>> {
  return output.split('\n').filter((line) => line.startsWith('{"level"')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('refusals are logged', () => {
  const dirs: string[] = [];
  let n1: NodeProcess;
  let stranger: NodeProcess;

  beforeAll(async () => {
    dirs.push(await tempDir('ref-n1'), await tempDir('ref-n2'));
    n1 = await startNodeProcess({ name: 'n1', port: await freePort(), dataDir: dirs[0]!, secret: 'the-cluster-secret', token });
    stranger = await startNodeProcess({ name: 'n2', port: await freePort(), dataDir: dirs[1]!, secret: 'another-secret', token, seeds: [n1.url] });
  }, 180_000);

  afterAll(async () => {
    await stopAll();
    for (const dir of dirs) await removeDir(dir);
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
  }, 60_000);

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
    const client = await connect(n1.url, { token });
    try {
      expect(await client.ask({ node: 'n1', path: '/root/demo/echo' }, 'fine')).toEqual({ type: 'echo', body: 'fine' });
    } finally {
      await client.close();
    }
    expect(rssMb(n1.child.pid!)).toBeLessThan(rssMbMax);
  }, 60_000);
});
