/**
 * Authorization against a real `npm start` node process (examples/start-node.ts): client tokens carry
 * scopes, protocol messages are accepted only from peer links, and the sender a component sees is the
 * one the receiving node took from the authenticated link (DESIGN.md section 5).
 *
 * Reproductions: a client (admin or not) forging raft.heartbeat at the leader's term, or with term
 * 2^53 - 1; an authenticated peer speaking for another replica; an authenticated peer sending a term
 * the WAL could not replay, then a restart; a non-admin client stopping /root/raft through the root
 * supervisor or reading /system/deadLetters; an authenticated peer aiming an ask's reply at another node
 * (its replyTo is stamped with the link's peer). After each: the node still answers a legitimate client,
 * its resident memory stays under `rssBytesMax`, and KV data acknowledged before the attack reads
 * back unchanged. The node is killed on every path (afterAll).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftKvClient, type RaftMetrics } from '../../../actors/raft/index.js';
import { connect, type TroupeClient } from '../../../cluster/index.js';
import { RawPeer } from '../../support/cluster-raw-peer.js';
import { waitFor } from '../../support/wait.js';

/** The bound on the node's resident memory after every attack (an idle node here holds about 100 MiB under tsx). */
const rssBytesMax = 512 * 1024 * 1024;
const secret = 'authz-cluster-secret-0001';
const tokens = {
  admin: 'authz-admin-token-0001',
  app: 'authz-app-token-0001',
  viewer: 'authz-viewer-token-0001',
  sender: 'authz-sender-token-0001',
  reader: 'authz-reader-token-0001',
} as const;
const scopedTokens = [
  `app=${tokens.app}:kv:read,kv:write,send:/root/**`,
  `viewer=${tokens.viewer}:tree:read`,
  `sender=${tokens.sender}:send:/root/app/*,send:/root/demo/echo`,
  `reader=${tokens.reader}:kv:read`,
].join(';');
const raft = { node: 'n1', path: '/root/raft' };
const acknowledged: Record<string, string> = { 'before/1': 'one', 'before/2': 'two', 'before/3': 'three' };

interface RunningNode {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  readonly exited: Promise<number | null>;
  output: string;
}

const dataDir = mkdtempSync(join(tmpdir(), 'troupe-authz-'));
let node: RunningNode | undefined;
const clients: TroupeClient[] = [];
let admin: TroupeClient;

async function startNode(): Promise<RunningNode> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/start-node.ts'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TROUPE_LISTEN: '127.0.0.1:0', TROUPE_DATA: dataDir, TROUPE_SECRET: secret, TROUPE_TOKEN: tokens.admin, TROUPE_TOKENS: scopedTokens },
  });
  const running: { output: string } = { output: '' };
  child.stdout!.on('data', (chunk: Buffer) => { running.output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { running.output += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(() => running.output.includes('(Ctrl-C to stop)') || child.exitCode !== null, { timeoutMs: 60_000, what: 'the node to start' });
  if (child.exitCode !== null) throw new Error(`node exited ${child.exitCode}: ${running.output}`);
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(running.output)?.[1]);
  return Object.assign(running, { child, port, url: `ws://127.0.0.1:${port}`, exited });
}

async function client(token: string): Promise<TroupeClient> {
  const connected = await connect(node!.url, { token, reconnect: false });
  clients.push(connected);
  return connected;
}

function kv(through: TroupeClient, clientId: string): RaftKvClient {
  return new RaftKvClient({ clientId, replicas: ['n1'], giveUpMs: 20_000, transport: { ask: (_replica, message, timeoutMs) => through.ask(raft, message, { timeoutMs }) } });
}

function status(): Promise<RaftMetrics> {
  return admin.ask<RaftMetrics>(raft, { type: 'raft.status' }, { timeoutMs: 5_000 });
}

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((text) => text.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1]) * 1024;
}

async function forbidden(work: Promise<unknown>): Promise<void> {
  await expect(work).rejects.toMatchObject({ code: 'FORBIDDEN' });
}

/** Metric value of the replica's describe() key (forgedSenders, refusedMessages). */
async function replicaStatus(key: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node!.port}/metrics`)).text();
  const match = new RegExp(`troupe_actor_status\\{[^}]*path="/root/raft"[^}]*key="${key}"[^}]*\\} (\\d+)`).exec(text);
  return Number(match?.[1] ?? 0);
}

/** A `troupe_messages_dropped_total` counter of the node by code (0 when absent). */
async function droppedCount(code: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node!.port}/metrics`)).text();
  const match = new RegExp(`troupe_messages_dropped_total\\{[^}]*code="${code}"[^}]*\\} (\\d+)`).exec(text);
  return Number(match?.[1] ?? 0);
}

/** The node still serves a legitimate client, within its memory bound, with the acknowledged data intact. */
async function stillHealthy(expectedTerm: number): Promise<void> {
  expect(node!.child.exitCode).toBeNull();
  const metrics = await status();
  expect(metrics.role).toBe('leader');
  expect(metrics.term).toBe(expectedTerm);
  const reader = kv(admin, `check-${Date.now()}`);
  for (const [key, value] of Object.entries(acknowledged)) expect(await reader.get(key)).toEqual({ ok: true, type: 'get', value });
  const tree = await admin.tree();
  const replica = JSON.stringify(tree);
  expect(replica).toContain('/root/raft');
  expect(rssBytes(node!.child.pid!)).toBeLessThan(rssBytesMax);
}

function heartbeat(term: number, from = 'n2'): Record<string, unknown> {
  return { type: 'raft.heartbeat', from, to: 'n1', term, commit: 0, readContext: null };
}

let leaderTerm = 0;

beforeAll(async () => {
  node = await startNode();
  admin = await client(tokens.admin);
  await waitFor(async () => (await status()).role === 'leader', { timeoutMs: 30_000, intervalMs: 100, what: 'the replica to lead' });
  const writer = kv(admin, 'before-attacks');
  for (const [key, value] of Object.entries(acknowledged)) expect(await writer.put(key, value)).toMatchObject({ ok: true });
  // A learner that never answers: a member other than n1, so forged messages can claim to be it.
  const added = await admin.ask<{ ok: boolean }>(raft, { type: 'raft.changeMembership', change: { type: 'addLearner', node: 'n2' }, timeoutMs: 10_000 }, { timeoutMs: 15_000 });
  expect(added.ok).toBe(true);
  leaderTerm = (await status()).term;
}, 120_000);

afterAll(async () => {
  for (const connected of clients) connected.close();
  const child = node?.child;
  if (child !== undefined && child.exitCode === null) {
    child.kill('SIGKILL');
    await node!.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('clients cannot speak raft protocol', () => {
  it('refuses a forged raft.heartbeat at the leader\'s term and at term 2^53 - 1 from an admin and a non-admin token', async () => {
    const app = await client(tokens.app);
    for (const sender of [admin, app]) {
      for (const term of [leaderTerm, Number.MAX_SAFE_INTEGER]) {
        // Four in five seconds once stopped the node; eight, asked and told, are refused one by one.
        for (let round = 0; round < 4; round += 1) {
          await forbidden(sender.ask(raft, heartbeat(term), { timeoutMs: 5_000 }));
          await forbidden(sender.tell(raft, heartbeat(term)));
        }
      }
      await forbidden(sender.ask(raft, { type: 'raft.vote', from: 'n2', to: 'n1', term: leaderTerm + 1, lastLogIndex: 99, lastLogTerm: 99, transfer: true }));
    }
    await stillHealthy(leaderTerm);
    // Refusals are logged (rate-limited per event) with the token's name, never its secret.
    await waitFor(() => node!.output.includes('"client.forbidden"'), { what: 'the refusal log line' });
    expect(node!.output).toContain('"token":"app"');
    expect(node!.output).not.toContain(tokens.app);
  });
});

describe('raft trusts the link, not the body', () => {
  it('drops messages an authenticated peer sends in another replica\'s name, and counts them', async () => {
    const forgedBefore = await replicaStatus('forgedSenders');
    const mallory = await RawPeer.authenticated(node!.url, 'mallory', secret);
    try {
      // The envelope's own sender claims n2 as well; the node stamps it with the link's peer, mallory.
      const claim = { from: { node: 'n2', path: '/root/raft' } };
      mallory.sendFrames([
        [0, 1, 'forge-1', '/root/raft', heartbeat(leaderTerm), claim],
        [0, 2, 'forge-2', '/root/raft', heartbeat(leaderTerm + 1), claim],
        [0, 3, 'forge-3', '/root/raft', { type: 'raft.vote', from: 'n2', to: 'n1', term: leaderTerm + 5, lastLogIndex: 999, lastLogTerm: leaderTerm + 5, transfer: true }, claim],
      ]);
      await waitFor(async () => (await replicaStatus('forgedSenders')) >= forgedBefore + 3, { timeoutMs: 20_000, intervalMs: 100, what: 'three forged messages counted' });
    } finally {
      mallory.close();
    }
    // A higher-term heartbeat stepped into the core would have made the leader step down.
    await stillHealthy(leaderTerm);
    expect(node!.output).toContain('raft.senderRefused');
  });
});

describe('replies go back over the link the ask came from', () => {
  it('answers an authenticated peer\'s ask on its own link even when its replyTo names another node, and counts the forgery', async () => {
    const forgedBefore = await droppedCount('inbound:REPLY_TO_FORGED');
    const mallory = await RawPeer.authenticated(node!.url, 'mallory-reply', secret);
    try {
      // An ask whose answer would go to `victim` if the node trusted the frame: a reflection through this node.
      mallory.sendFrames([[0, 1, 'reflect-1', '/root/demo/echo', 'where to?', { corr: 'c-reflect', replyTo: { node: 'victim', path: '/temp/ask-c-reflect' } }]]);
      const reply = await mallory.nextFrame((frame) => Array.isArray(frame) && frame[3] === '/temp/ask-c-reflect') as unknown[];
      expect(reply[4]).toEqual({ type: 'echo', body: 'where to?' });
      expect(reply[5]).toMatchObject({ corr: 'c-reflect' });
      await waitFor(async () => (await droppedCount('inbound:REPLY_TO_FORGED')) >= forgedBefore + 1, { timeoutMs: 20_000, intervalMs: 100, what: 'the forged replyTo counted' });
    } finally {
      mallory.close();
    }
    await stillHealthy(leaderTerm);
  });
});

describe('semantic validation of raft fields', () => {
  it('refuses term 2^53 - 1 from the genuine authenticated peer, persists nothing, and starts again after a restart', async () => {
    const refusedBefore = await replicaStatus('refusedMessages');
    const n2 = await RawPeer.authenticated(node!.url, 'n2', secret);
    try {
      n2.sendFrames([
        [0, 1, 'huge-1', '/root/raft', heartbeat(Number.MAX_SAFE_INTEGER), { from: { node: 'n2', path: '/root/raft' } }],
        [0, 2, 'huge-2', '/root/raft', heartbeat(2 ** 48), { from: { node: 'n2', path: '/root/raft' } }],
      ]);
      await waitFor(async () => (await replicaStatus('refusedMessages')) >= refusedBefore + 2, { timeoutMs: 20_000, intervalMs: 100, what: 'the huge terms refused' });
    } finally {
      n2.close();
    }
    await stillHealthy(leaderTerm);
    for (const connected of clients.splice(0)) connected.close();
    node!.child.kill('SIGINT');
    expect(await node!.exited).toBe(0);
    node = await startNode();
    admin = await client(tokens.admin);
    await waitFor(async () => (await status()).role === 'leader', { timeoutMs: 30_000, intervalMs: 100, what: 'the restarted replica to lead' });
    const after = await status();
    expect(after.term).toBeLessThan(2 ** 48);
    expect(after.term).toBeGreaterThanOrEqual(leaderTerm);
    leaderTerm = after.term;
    await stillHealthy(leaderTerm);
  }, 120_000);
});

describe('the admin API needs the admin scope', () => {
  it('refuses supervisor.stopChild to /root from non-admin tokens, and the replica stays', async () => {
    for (const token of [tokens.app, tokens.viewer, tokens.sender, tokens.reader]) {
      const other = await client(token);
      await forbidden(other.ask({ node: 'n1', path: '/root' }, { type: 'supervisor.stopChild', id: 'raft' }, { timeoutMs: 5_000 }));
      await forbidden(other.tell({ node: 'n1', path: '/root' }, { type: 'supervisor.stopChild', id: 'raft' }));
      await forbidden(other.ask({ node: 'n1', path: '/root' }, { type: 'supervisor.children' }));
    }
    await stillHealthy(leaderTerm);
  });

  it('keeps /system/deadLetters from non-admin tokens and serves it to admin', async () => {
    const app = await client(tokens.app);
    await forbidden(app.ask({ node: 'n1', path: '/system/deadLetters' }, { type: 'deadLetters.list' }, { timeoutMs: 5_000 }));
    await forbidden(app.ask({ node: 'n1', path: '/system/deadLetters' }, { type: 'anything' }, { timeoutMs: 5_000 }));
    await expect(admin.ask({ node: 'n1', path: '/system/deadLetters' }, { type: 'deadLetters.list' }, { timeoutMs: 5_000 })).resolves.toBeDefined();
    await stillHealthy(leaderTerm);
  });
});

describe('scope matrix', () => {
  it('tree:read reads the tree and nothing else', async () => {
    const viewer = await client(tokens.viewer);
    expect(JSON.stringify(await viewer.tree())).toContain('/root/raft');
    await forbidden(viewer.members());
    await forbidden(viewer.subscribe('lifecycle', () => {}));
    await forbidden(viewer.ask({ node: 'n1', path: '/root/demo/echo' }, 'hi'));
    await forbidden(viewer.tell({ node: 'n1', path: '/root/counter' }, { type: 'inc', by: 1 }));
    await forbidden(kv(viewer, 'viewer').get('before/1'));
    const http = (path: string): Promise<Response> => fetch(`http://127.0.0.1:${node!.port}${path}`, { headers: { authorization: `Bearer ${tokens.viewer}` } });
    expect((await http('/api/tree')).status).toBe(200);
    const members = await http('/api/members');
    expect(members.status).toBe(403);
    expect(await members.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect((await http('/api/events')).status).toBe(403);
    await stillHealthy(leaderTerm);
  });

  it('send:/root/app/* reaches /root/app/x (past authorization) but not /root/raft or deeper paths', async () => {
    const sender = await client(tokens.sender);
    expect(await sender.ask({ node: 'n1', path: '/root/demo/echo' }, 'hi')).toEqual({ type: 'echo', body: 'hi' });
    // Authorized, and then there is no such actor: the refusal is the kernel's, not FORBIDDEN.
    await expect(sender.ask({ node: 'n1', path: '/root/app/x' }, { type: 'work' }, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'NO_SUCH_ACTOR' });
    await forbidden(sender.ask({ node: 'n1', path: '/root/app/x/y' }, { type: 'work' }));
    await forbidden(sender.ask(raft, { type: 'raft.status' }));
    await forbidden(sender.ask({ node: 'n1', path: '/root/counter' }, { type: 'get' }));
    await forbidden(sender.tree());
    await stillHealthy(leaderTerm);
  });

  it('kv:read reads but cannot put, through the SDK and the CLI', async () => {
    const reader = await client(tokens.reader);
    const store = kv(reader, 'reader');
    expect(await store.get('before/1')).toEqual({ ok: true, type: 'get', value: 'one' });
    await forbidden(store.put('before/1', 'overwritten'));
    await forbidden(store.delete('before/2'));
    await forbidden(store.cas('before/3', 'three', 'x'));
    const cli = spawnSync(process.execPath, ['--import', 'tsx', 'cli.ts', 'kv', 'put', 'before/1', 'overwritten'], {
      encoding: 'utf8', timeout: 60_000, env: { ...process.env, TROUPE_URL: node!.url, TROUPE_TOKEN: tokens.reader },
    });
    expect(cli.status).not.toBe(0);
    expect(cli.stdout + cli.stderr).toContain('FORBIDDEN');
    const writer = kv(await client(tokens.app), 'app');
    expect(await writer.put('after/1', 'written')).toMatchObject({ ok: true });
    await stillHealthy(leaderTerm);
  }, 90_000);
});
