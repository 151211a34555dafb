/**
 * Remote messaging between two processes: tell throughput (one sink actor on the other node) and
 * sequential ask round trips (p50/p99), through Troupe's cluster layer, against a baseline of raw `ws`
 * + `cbor-x` between two processes (one message per WebSocket message), measured in the same run.
 * Runs alternate (raw, troupe, raw, troupe ...) and report the median, because the machine is noisy.
 *
 *   npm run bench -- remote            (BENCH_TELLS, BENCH_ASKS, BENCH_ROUNDS to change the sizes)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { freePort } from '../support/net.js';
import { waitFor } from '../support/wait.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder } from 'cbor-x';
import { WebSocket, WebSocketServer } from 'ws';
import { createClusterNode, type ClusterNode } from '../../cluster/index.js';

const tellCount = Number(process.env.BENCH_TELLS ?? 300_000);
const askCount = Number(process.env.BENCH_ASKS ?? 5_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const bufferedHighWater = 1024 * 1024;
const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, structuredClone: false, tagUint8Array: false, pack: false } as ConstructorParameters<typeof Encoder>[0]);

// ---- the raw baseline's server process ----

if (process.argv[2] === '--raw-server') {
  const server = new WebSocketServer({ port: Number(process.argv[3]), host: '127.0.0.1', perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
  server.on('connection', (ws) => {
    let count = 0;
    ws.on('message', (data: Buffer) => {
      const message = encoder.decode(data) as { type: string; i?: number };
      if (message.type === 'n') count += 1;
      else if (message.type === 'count') ws.send(encoder.encode({ type: 'count', count }));
      else if (message.type === 'ping') ws.send(encoder.encode({ type: 'pong', i: message.i }));
      else if (message.type === 'reset') count = 0;
    });
  });
  server.on('listening', () => process.stdout.write('ready\n'));
} else {
  await main();
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'troupe-bench-remote-'));
  const children: ChildProcess[] = [];
  try {
    const rawPort = await freePort();
    children.push(await startChild([process.execPath, '--import', 'tsx', 'test/bench/remote.bench.ts', '--raw-server', String(rawPort)], 'ready'));
    const raw = await openRaw(rawPort);
    const nodePort = await freePort();
    children.push(await startChild([
      process.execPath, '--import', 'tsx', 'cluster/main.ts', '--name', 'n2', '--listen', `127.0.0.1:${nodePort}`, '--secret', 'bench', '--data', join(dataDir, 'n2'),
    ], '"event":"listening"'));
    const node = await createClusterNode({ name: 'n1', listen: '127.0.0.1:0', secret: 'bench', seeds: [`ws://127.0.0.1:${nodePort}`] });
    await until(() => node.member('n2')?.status === 'up' && node.member('n1')?.status === 'up');

    const samples = { rawTell: [] as number[], troupeTell: [] as number[], rawAsk: [] as number[][], troupeAsk: [] as number[][] };
    await rawTell(raw, 20_000);
    await troupeTell(node, 20_000);
    for (let round = 0; round < rounds; round += 1) {
      samples.rawTell.push(await rawTell(raw, tellCount));
      samples.troupeTell.push(await troupeTell(node, tellCount));
      samples.rawAsk.push(await rawAsks(raw, askCount));
      samples.troupeAsk.push(await troupeAsks(node, askCount));
      (globalThis as { gc?: () => void }).gc?.();
      console.error(`round ${round + 1}/${rounds}: tell raw ${Math.round(samples.rawTell.at(-1)!)} troupe ${Math.round(samples.troupeTell.at(-1)!)} msg/s; `
        + `ask p50 raw ${percentile(samples.rawAsk.at(-1)!, 0.5).toFixed(0)} troupe ${percentile(samples.troupeAsk.at(-1)!, 0.5).toFixed(0)} us`);
    }
    const tellPerSecond = median(samples.troupeTell);
    const baselineTell = median(samples.rawTell);
    const asks = (runs: number[][], quantile: number): number => Math.round(median(runs.map((run) => percentile(run, quantile))));
    const stats = node.stats().peers.find((peer) => peer.node === 'n2');
    await node.stop();
    raw.close();
    console.log(JSON.stringify({
      bench: 'remote', messages: tellCount, asks: askCount, rounds,
      tellPerSecond: Math.round(tellPerSecond), askP50Us: asks(samples.troupeAsk, 0.5), askP99Us: asks(samples.troupeAsk, 0.99),
      framesPerBatch: stats === undefined ? null : Number((stats.framesOut / Math.max(1, stats.batchesOut)).toFixed(1)),
      baseline: { tellPerSecond: Math.round(baselineTell), askP50Us: asks(samples.rawAsk, 0.5), askP99Us: asks(samples.rawAsk, 0.99) },
      askRatio: Number((asks(samples.rawAsk, 0.5) / Math.max(1, asks(samples.troupeAsk, 0.5))).toFixed(3)),
      ratio: Number((tellPerSecond / baselineTell).toFixed(3)),
    }));
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
  process.exit(0);
}

// ---- raw ws + cbor-x ----

interface RawClient {
  readonly ws: WebSocket;
  next(): Promise<{ type: string; count?: number; i?: number }>;
  close(): void;
}

async function openRaw(port: number): Promise<RawClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const inbox: Array<{ type: string }> = [];
  let waiting: (() => void) | undefined;
  ws.on('message', (data: Buffer) => {
    inbox.push(encoder.decode(data) as { type: string });
    waiting?.();
  });
  return {
    ws,
    async next() {
      while (inbox.length === 0) await new Promise<void>((resolve) => { waiting = resolve; });
      waiting = undefined;
      return inbox.shift() as { type: string; count?: number; i?: number };
    },
    close: () => ws.close(),
  };
}

async function rawTell(raw: RawClient, count: number): Promise<number> {
  raw.ws.send(encoder.encode({ type: 'reset' }));
  const started = performance.now();
  for (let index = 0; index < count; index += 1) {
    raw.ws.send(encoder.encode({ type: 'n', i: index }));
    // The same backpressure the cluster layer applies: hold back while the socket buffer is full.
    if (raw.ws.bufferedAmount > bufferedHighWater) await drained(raw.ws);
  }
  raw.ws.send(encoder.encode({ type: 'count' }));
  const reply = await raw.next();
  const seconds = (performance.now() - started) / 1000;
  if (reply.count !== count) throw new Error(`raw baseline lost messages: ${reply.count}/${count}`);
  return count / seconds;
}

async function rawAsks(raw: RawClient, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const started = performance.now();
    raw.ws.send(encoder.encode({ type: 'ping', i: index }));
    await raw.next();
    latencies.push((performance.now() - started) * 1000);
  }
  return latencies;
}

function drained(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (ws.bufferedAmount <= bufferedHighWater / 2) resolve();
      else setImmediate(check);
    };
    check();
  });
}

// ---- Troupe ----

async function troupeTell(node: ClusterNode, count: number): Promise<number> {
  const sink = { node: 'n2', path: '/root/demo/sink' };
  const before = await node.system.ask<number>(sink, { type: 'count' }, { timeoutMs: 60_000 });
  const started = performance.now();
  for (let index = 0; index < count; index += 1) {
    node.system.tell(sink, { type: 'n', i: index });
    // Keep the send queue well inside its bound (the cluster layer's own backpressure is the socket).
    if (index % 5_000 === 4_999) while ((node.stats().peers.find((peer) => peer.node === 'n2')?.queuedFrames ?? 0) > 50_000) await new Promise((resolve) => setImmediate(resolve));
  }
  // FIFO per pair: this ask is answered after every tell before it was taken.
  const after = await node.system.ask<number>(sink, { type: 'count' }, { timeoutMs: 120_000 });
  const seconds = (performance.now() - started) / 1000;
  if (after - before !== count) throw new Error(`troupe lost messages: ${after - before}/${count}`);
  return count / seconds;
}

async function troupeAsks(node: ClusterNode, count: number): Promise<number[]> {
  const echo = { node: 'n2', path: '/root/demo/echo' };
  const latencies: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const started = performance.now();
    await node.system.ask(echo, { type: 'ping', i: index }, { timeoutMs: 10_000 });
    latencies.push((performance.now() - started) * 1000);
  }
  return latencies;
}

// ---- helpers ----

function startChild(command: string[], readyText: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(readyText)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${command.join(' ')} exited with ${code}: ${output}`)));
  });
}


async function until(condition: () => boolean): Promise<void> {
  await waitFor(condition, { timeoutMs: 30_000, intervalMs: 20, what: 'the nodes to connect' });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(values: number[], quantile: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * quantile))]!;
}
