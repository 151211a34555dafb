/**
 * Hostile input against a running node process: a wrong cluster secret, a stalled handshake, an
 * oversized frame (before and after authentication), random bytes, valid frames with invalid bodies,
 * and clients without (or with a wrong) token. Each is refused with a typed error code, and after each
 * the node still serves others: a legitimate client's ask crosses to the second node, and the link
 * between the two nodes stays up.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codec } from '../../../runtime/index.js';
import { connect, type TroupeClient } from '../../../cluster/index.js';
import { freePort, removeDir, startNodeProcess, stopAll, tempDir, type NodeProcess } from '../../support/cluster-harness.js';
import { RawPeer } from '../../support/cluster-raw-peer.js';
import { httpGet } from '../../support/http.js';
import { waitFor } from '../../support/wait.js';

const secret = 'bad-input-secret';
const token = 'bad-input-token';

describe('a node under hostile input', () => {
  const dirs: string[] = [];
  let n1: NodeProcess;
  let client: TroupeClient;

  /** The node still serves others: an ask crosses to n2 and the link to n2 is (still, or again) up. */
  const stillServing = async (): Promise<void> => {
    expect(await client.ask({ node: 'n2', path: '/root/demo/echo' }, 'still there?')).toEqual({ type: 'echo', body: 'still there?' });
    await waitFor(async () => (await client.members()).find((member) => member.node === 'n2')?.status === 'up', { what: 'n2 up' });
  };

  beforeAll(async () => {
    dirs.push(await tempDir('bad-n1'), await tempDir('bad-n2'));
    n1 = await startNodeProcess({ name: 'n1', port: await freePort(), dataDir: dirs[0]!, secret, token });
    await startNodeProcess({ name: 'n2', port: await freePort(), dataDir: dirs[1]!, secret, token, seeds: [n1.url] });
    client = await connect(n1.url, { token });
    await waitFor(async () => (await client.members()).find((member) => member.node === 'n2')?.status === 'up', { timeoutMs: 30_000, what: 'n2 up' });
  }, 120_000);

  afterAll(async () => {
    try {
      await client?.close();
    } finally {
      await stopAll();
      for (const dir of dirs) await removeDir(dir);
    }
  });

  it('refuses a dialer with the wrong secret (AUTH_FAILED)', async () => {
    const peer = await RawPeer.withWrongSecret(n1.url, 'mallory', 'not-the-secret');
    expect(await peer.nextFrame((frame) => (frame as { type: string }).type === 'reject')).toMatchObject({ type: 'reject', code: 'AUTH_FAILED' });
    expect(await peer.closed).toEqual({ code: 4001, reason: 'AUTH_FAILED' });
    await stillServing();
  });

  it('drops a connection that stalls the handshake (HANDSHAKE_TIMEOUT)', async () => {
    const peer = await RawPeer.open(n1.url);
    expect(await peer.closed).toEqual({ code: 4008, reason: 'HANDSHAKE_TIMEOUT' });
    expect(peer.frames).toContainEqual(expect.objectContaining({ type: 'reject', code: 'HANDSHAKE_TIMEOUT' }));
    await stillServing();
  });

  it('refuses an oversized message before authentication (FRAME_TOO_LARGE)', async () => {
    const peer = await RawPeer.open(n1.url);
    peer.sendBytes(new Uint8Array(64 * 1024));
    expect(await peer.errorFrame('FRAME_TOO_LARGE')).toBeDefined();
    expect((await peer.closed).code).toBe(1009);
    await stillServing();
  });

  it('refuses an oversized frame from an authenticated peer (close 1009)', async () => {
    const peer = await RawPeer.authenticated(n1.url, 'mallory-big', secret);
    peer.sendBytes(new Uint8Array(9 * 1024 * 1024));
    expect((await peer.closed).code).toBe(1009);
    await stillServing();
  });

  it('refuses random bytes before authentication (DECODE_FAILED, then close)', async () => {
    const peer = await RawPeer.open(n1.url);
    peer.sendBytes(new Uint8Array(randomBytes(300)).map((byte, index) => (index === 0 ? 0x5f : byte)));
    const closed = await peer.closed;
    expect(closed.code).toBe(4003);
    expect(['DECODE_FAILED', 'DEPTH_EXCEEDED', 'HANDSHAKE_INVALID', 'FRAME_INVALID']).toContain(closed.reason);
    await stillServing();
  });

  it('answers random bytes and invalid frames from an authenticated peer with typed errors and keeps the link', async () => {
    const peer = await RawPeer.authenticated(n1.url, 'mallory-noise', secret);
    peer.sendBytes(Uint8Array.of(0x9f, 0x01, 0x02));
    expect(await peer.errorFrame('DECODE_FAILED')).toBeDefined();
    peer.sendBytes(codec.encode({ not: 'an array of frames' }));
    expect(await peer.errorFrame('FRAME_INVALID')).toBeDefined();
    peer.sendFrames([[0, 1, 'x', 'not a path', 1]]);
    await waitFor(() => peer.frames.filter((frame) => (frame as { code?: string }).code === 'FRAME_INVALID').length >= 2, { what: 'a second FRAME_INVALID' });
    peer.sendFrames([{ type: 'launch-missiles' }]);
    expect(await peer.errorFrame('FRAME_UNKNOWN')).toBeDefined();
    // A well-formed envelope whose body is not plain data (a CBOR date tag) or nests too deep.
    const envelopeHead = [0x81, 0x85, 0x00, 0x03, 0x62, ...Buffer.from('id'), 0x6a, ...Buffer.from('/root/echo')];
    peer.sendBytes(Uint8Array.from([...envelopeHead, 0xc1, 0x00]));
    await waitFor(() => peer.frames.filter((frame) => (frame as { code?: string }).code === 'DECODE_FAILED').length >= 2, { what: 'the date body refused' });
    peer.sendBytes(Uint8Array.from([...envelopeHead, ...new Array(100).fill(0x81), 0x01]));
    expect(await peer.errorFrame('DEPTH_EXCEEDED')).toBeDefined();
    // A valid frame still works on the same link: the peer's tell reaches the counter.
    peer.sendFrames([[0, 2, 'ok-1', '/root/demo/counter', { type: 'inc', by: 7 }]]);
    await waitFor(async () => (await client.ask<number>({ node: 'n1', path: '/root/demo/counter' }, { type: 'get' })) === 7, { what: 'the valid tell to arrive' });
    expect(peer.ws.readyState).toBe(peer.ws.OPEN);
    peer.close();
    await stillServing();
  });

  it('closes a peer that keeps sending bad frames (TOO_MANY_ERRORS)', async () => {
    const peer = await RawPeer.authenticated(n1.url, 'mallory-flood', secret);
    for (let index = 0; index < 50; index += 1) peer.sendFrames([{ type: 'nonsense', index }]);
    expect(await peer.closed).toEqual({ code: 4002, reason: 'TOO_MANY_ERRORS' });
    await stillServing();
  });

  it('refuses clients without a token or with a wrong one (CLIENT_UNAUTHORIZED), on WebSocket and HTTP', async () => {
    await expect(connect(n1.url, { reconnect: false })).rejects.toMatchObject({ code: 'CLIENT_UNAUTHORIZED' });
    await expect(connect(n1.url, { token: 'guess', reconnect: false })).rejects.toMatchObject({ code: 'CLIENT_UNAUTHORIZED' });
    const raw = await RawPeer.open(n1.url, '/client');
    raw.sendFrames([{ type: 'request', id: 1, op: 'tree' }]);
    expect(await raw.nextFrame((frame) => (frame as { type: string }).type === 'refused')).toMatchObject({ code: 'CLIENT_UNAUTHORIZED' });
    expect(raw.frames.some((frame) => (frame as { type: string }).type === 'response')).toBe(false);
    const http = await httpGet(`http://127.0.0.1:${n1.port}/api/tree`);
    expect(http.status).toBe(401);
    expect(await http.json()).toMatchObject({ code: 'CLIENT_UNAUTHORIZED' });
    await stillServing();
  });

  it('counts every refusal in its metrics', async () => {
    const text = await (await httpGet(`http://127.0.0.1:${n1.port}/metrics`)).text();
    for (const code of ['handshake:AUTH_FAILED', 'handshake:HANDSHAKE_TIMEOUT', 'FRAME_TOO_LARGE', 'DECODE_FAILED', 'FRAME_INVALID', 'FRAME_UNKNOWN', 'client:CLIENT_UNAUTHORIZED']) {
      expect(text).toMatch(new RegExp(`troupe_frames_rejected_total\\{code="${code}"[^}]*\\} [1-9]`));
    }
  });
});
