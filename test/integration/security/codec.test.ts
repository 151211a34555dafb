/**
 * Decoding hostile CBOR against a real `npm start` node process (examples/start-node.ts, with its KV
 * replica): a shared-value bomb (tags 28/29 referencing the level before twice, 2^40 paths in about
 * 400 bytes) sent unauthenticated to `/client` and to `/cluster`, and a 256 KiB bignum (tag 2) sent by
 * a client holding a valid token. Each is refused with a typed error before any value is built, and
 * after each the node still serves: a legitimate client's ask is answered within its deadline, the
 * process's resident memory stays within a stated bound over what it used before, and the KV pairs
 * acknowledged before the attacks read back unchanged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textCommand, textResult, type KvAppliedResult, type KvTextCommand } from '../../../actors/raft/index.js';
import { connect, type TroupeClient } from '../../../cluster/index.js';
import { helloFrame } from '../../../cluster/core/client-frames.js';
import { codec } from '../../../runtime/index.js';
import { bignum, sharedValueBombMessage } from '../../support/cbor-bytes.js';
import { RawPeer } from '../../support/cluster-raw-peer.js';
import { waitFor } from '../../support/wait.js';

const token = 'codec-security-token';
/** A bomb this deep would keep a decoder that follows shared values busy for longer than any test runs. */
const bombLevels = 40;
/** The deadline a legitimate ask gets after an attack: a healthy node answers in milliseconds. */
const askDeadlineMs = 10_000;
/** Resident memory the node may gain over its pre-attack level, across all the attacks. */
const rssGrowthBytesMax = 192 * 1024 * 1024;
const pairs = Object.fromEntries(Array.from({ length: 5 }, (_, index) => [`before-${index}`, `value-${index}`]));

/** The resident set size of process `pid`, from /proc (Linux). */
function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

describe('decoding hostile CBOR on a running node', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'troupe-codec-security-'));
  let child: ChildProcess | undefined;
  let client: TroupeClient | undefined;
  let url = '';
  let rssBefore = 0;
  let sequence = 0;

  const kv = async (command: KvTextCommand): Promise<Record<string, unknown>> => {
    sequence += 1;
    const request = { type: 'kv.request', clientId: 'codec-security', sequence, command: textCommand(command) };
    const reply = await client!.ask<KvAppliedResult>({ node: 'n1', path: '/root/raft' }, request, { timeoutMs: askDeadlineMs });
    return textResult(command, reply) as Record<string, unknown>;
  };

  /** The node still serves: an ask answered within its deadline, bounded memory, the KV data intact. */
  const stillServing = async (): Promise<void> => {
    expect(await client!.ask({ node: 'n1', path: '/root/demo/echo' }, 'still there?', { timeoutMs: askDeadlineMs })).toEqual({ type: 'echo', body: 'still there?' });
    const rss = rssBytes(child!.pid!);
    console.log(`node RSS ${Math.round(rss / 1024 / 1024)} MiB (before the attacks ${Math.round(rssBefore / 1024 / 1024)} MiB, bound +${rssGrowthBytesMax / 1024 / 1024} MiB)`);
    expect(rss).toBeLessThan(rssBefore + rssGrowthBytesMax);
    for (const [key, value] of Object.entries(pairs)) expect(await kv({ type: 'get', key })).toMatchObject({ ok: true, type: 'get', value });
  };

  beforeAll(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'examples/start-node.ts'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TROUPE_LISTEN: '127.0.0.1:0', TROUPE_DATA: dataDir, TROUPE_TOKEN: token, TROUPE_SECRET: 'codec-security-secret' },
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    await waitFor(() => output.includes('(Ctrl-C to stop)') || child!.exitCode !== null, { timeoutMs: 60_000, what: 'the node to start' });
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
    expect(port, output).toBeGreaterThan(0);
    url = `ws://127.0.0.1:${port}`;
    client = await connect(url, { token });
    // The single replica elects itself; until then a put is refused, so wait on the first one.
    await waitFor(async () => (await kv({ type: 'put', key: 'before-0', value: pairs['before-0']! }).catch(() => ({ ok: false }))).ok === true, { timeoutMs: 30_000, what: 'the KV replica to lead' });
    for (const [key, value] of Object.entries(pairs)) expect(await kv({ type: 'put', key, value })).toMatchObject({ ok: true });
    rssBefore = rssBytes(child.pid!);
  }, 120_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a shared-value bomb sent to /client before the hello (TAG_REFUSED as DECODE_FAILED, then close)', async () => {
    const bomb = sharedValueBombMessage(bombLevels);
    expect(bomb.length).toBeLessThan(512);
    const peer = await RawPeer.open(url, '/client');
    peer.sendBytes(bomb);
    expect(await peer.closed).toEqual({ code: 4003, reason: 'DECODE_FAILED' });
    expect(peer.frames).toContainEqual(expect.objectContaining({ type: 'error', code: 'DECODE_FAILED', message: expect.stringContaining('tag 28') }));
    await stillServing();
  });

  it('refuses a shared-value bomb sent to /cluster before the handshake (TAG_REFUSED as DECODE_FAILED, then close)', async () => {
    const peer = await RawPeer.open(url, '/cluster');
    peer.sendBytes(sharedValueBombMessage(bombLevels));
    expect(await peer.closed).toEqual({ code: 4003, reason: 'DECODE_FAILED' });
    expect(peer.frames).toContainEqual(expect.objectContaining({ type: 'error', code: 'DECODE_FAILED', message: expect.stringContaining('tag 28') }));
    await stillServing();
  });

  it('refuses a 256 KiB bignum from a client with a valid token (BIGNUM_TOO_LARGE as DECODE_FAILED) and keeps serving it', async () => {
    const peer = await RawPeer.open(url, '/client');
    try {
      peer.sendFrames([helloFrame(token)]);
      await peer.nextFrame((frame) => (frame as { type: string }).type === 'welcome');
      // A tell whose body is the bignum: the request encoded with a null body (its last byte), then the tag.
      const request = codec.encode([{ type: 'request', id: 1, op: 'tell', target: { node: 'n1', path: '/root/demo/echo' }, body: null }]);
      expect(request.at(-1)).toBe(0xf6);
      peer.sendBytes(Uint8Array.from([...request.subarray(0, -1), ...bignum(256 * 1024)]));
      expect(await peer.errorFrame('DECODE_FAILED')).toMatchObject({ message: expect.stringContaining('bignum of 262144 bytes') });
      // The same connection still works: the refusal cost one error from its budget, not the link.
      peer.sendFrames([{ type: 'request', id: 2, op: 'members' }]);
      expect(await peer.nextFrame((frame) => (frame as { type: string; id?: number }).type === 'response' && (frame as { id: number }).id === 2)).toMatchObject({ ok: true });
    } finally {
      peer.close();
    }
    await stillServing();
  });
});
