/**
 * What the limits tests share: `npm start` node processes (examples/start-node.ts, each with its own
 * KV replica, joined into one cluster through their seeds) on loopback, its resident memory from /proc, KV writes and reads through the client SDK,
 * and raw WebSockets that speak the client protocol without the SDK (to play a client that never
 * reads). Every process started here is killed by `stopStartedNodes`.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { connect, type TroupeClient } from '../../../cluster/index.js';
import { encodeBatch } from '../../../cluster/core/wire.js';
import { codec } from '../../../runtime/index.js';
import { spawnChild, stopChild } from '../../support/children.js';
import { waitFor } from '../../support/wait.js';
import { textCommand, textResult, type KvAppliedResult } from '../../../actors/raft/index.js';

/** A running `npm start` node. */
export interface StartedNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly dataDir: string;
  output(): string;
}

const started = new Set<ChildProcess>();
const directories: string[] = [];

/** Starts `examples/start-node.ts` (named `name`, default n1, joining `seeds` if given) and waits for its listening line. */
export async function startNpmNode(options: { secret: string; token: string; name?: string; seeds?: readonly string[] }): Promise<StartedNode> {
  const name = options.name ?? 'n1';
  const dataDir = await mkdtemp(join(tmpdir(), 'troupe-limits-'));
  directories.push(dataDir);
  const child = spawnChild(process.execPath, ['--import', 'tsx', 'examples/start-node.ts'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TROUPE_LISTEN: '127.0.0.1:0', TROUPE_DATA: dataDir, TROUPE_TOKEN: options.token, TROUPE_SECRET: options.secret, TROUPE_NAME: name,
      TROUPE_SEEDS: (options.seeds ?? []).join(','), TROUPE_KV_PEERS: name, TROUPE_TOKENS: '', TROUPE_LOG_LEVEL: 'info' },
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  await waitFor(() => output.includes('(Ctrl-C to stop)') || child.exitCode !== null, { timeoutMs: 90_000, what: 'the node to start' });
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
  if (!(port > 0)) throw new Error(`the node did not start:\n${output}`);
  return { name, port, url: `ws://127.0.0.1:${port}`, pid: child.pid!, child, dataDir, output: () => output };
}

/** Kills every node started here (SIGKILL) and removes their data. */
export async function stopStartedNodes(): Promise<void> {
  await Promise.all([...started].map((child) => stopChild(child)));
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
}

/** Resident memory of a process in MB (VmRSS). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]);
  return kb / 1024;
}

let kvSequence = 0;

/** Writes `key` through the node's KV replica; resolves once the write is acknowledged. */
export async function kvPut(client: TroupeClient, node: string, key: string, value: string): Promise<void> {
  // A fresh replica answers NOT_LEADER until it has elected itself.
  await waitFor(async () => {
    kvSequence += 1;
    const reply = await client.ask<{ ok: boolean; code?: string }>({ node, path: '/root/raft' }, { type: 'kv.request', clientId: 'limits-test', sequence: kvSequence, command: textCommand({ type: 'put', key, value }) }, { timeoutMs: 20_000 });
    if (!reply.ok && reply.code !== 'NOT_LEADER') throw new Error(`kv put failed: ${JSON.stringify(reply)}`);
    return reply.ok;
  }, { timeoutMs: 60_000, intervalMs: 100, what: 'the KV put to be acknowledged' });
}

/** Reads `key` through the node's KV replica. */
export async function kvGet(client: TroupeClient, node: string, key: string): Promise<unknown> {
  kvSequence += 1;
  const command = { type: 'get', key } as const;
  const applied = await client.ask<KvAppliedResult>({ node, path: '/root/raft' }, { type: 'kv.request', clientId: 'limits-test', sequence: kvSequence, command: textCommand(command) }, { timeoutMs: 20_000 });
  const reply = textResult(command, applied);
  if (!reply.ok || reply.type !== 'get') throw new Error(`kv get failed: ${JSON.stringify(reply)}`);
  return reply.value;
}

/** Writes `kv` through a fresh client of `node` to its own replica; resolves once the write is acknowledged. */
export async function kvPutOn(node: StartedNode, token: string, kv: { key: string; value: string }): Promise<void> {
  const client = await connect(node.url, { token });
  try {
    await kvPut(client, node.name, kv.key, kv.value);
  } finally {
    await client.close();
  }
}

/** The node still serves a legitimate client: a fresh connection, an echo ask, and the KV value written before. */
export async function stillServes(node: StartedNode, token: string, kv: { key: string; value: string }): Promise<void> {
  const client = await connect(node.url, { token });
  try {
    const echoed = await client.ask({ node: node.name, path: '/root/demo/echo' }, 'still there?', { timeoutMs: 20_000 });
    if (JSON.stringify(echoed) !== JSON.stringify({ type: 'echo', body: 'still there?' })) throw new Error(`echo answered ${JSON.stringify(echoed)}`);
    const value = await kvGet(client, node.name, kv.key);
    if (value !== kv.value) throw new Error(`kv ${kv.key} reads ${JSON.stringify(value)}, expected ${kv.value}`);
  } finally {
    await client.close();
  }
}

/** A client-protocol WebSocket without the SDK: frames go out as the node expects, nothing is read unless asked. */
export class RawClient {
  readonly ws: WebSocket;
  readonly frames: unknown[] = [];
  readonly opened: Promise<boolean>;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string, options: { localAddress?: string } = {}) {
    this.ws = new WebSocket(`${url}/client`, { perMessageDeflate: false, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    this.ws.on('error', () => {});
    this.opened = new Promise((resolve) => {
      this.ws.once('open', () => resolve(true));
      this.ws.once('unexpected-response', () => resolve(false));
      this.ws.once('close', () => resolve(false));
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('message', (data: Buffer) => {
      const items = codec.decode(new Uint8Array(data)) as unknown;
      if (Array.isArray(items)) for (const item of items) this.frames.push(item instanceof Uint8Array ? codec.decode(item) : item);
    });
  }

  send(frame: unknown): void {
    const encoded = codec.encode(frame);
    this.ws.send(encodeBatch([encoded], encoded.length));
  }

  /** Stops reading: the node's writes pile up in its socket buffer. */
  stopReading(): void {
    (this.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }

  terminate(): void {
    this.ws.terminate();
  }
}
