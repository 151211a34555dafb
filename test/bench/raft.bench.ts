/**
 * Raft benchmark: a 3-node cluster of processes on loopback (test/support/raft-node.ts), driven from
 * this process through the client SDK (one connection per node; clients keep the leader they find).
 *   - writes (put, 16-byte key, 100-byte value) at 1 and 64 concurrent clients: ops/s, p50/p99 latency;
 *   - linearizable reads (ReadIndex get) at 64 concurrent clients: ops/s, p50/p99;
 *   - compare-and-swap on 64 hot keys (`txn64`: each client runs a transaction that compares its own
 *     key's value with the one it last wrote and then puts the next one), at 64 concurrent clients:
 *     ops/s, p50/p99.
 * Baseline, same run, same disk: the single-node WAL store's durable appends (`Wal.append` of a record
 * the size of one Raft entry) at 1 and 64 concurrent writers.
 * When `etcd` is installed (Debian: etcd-server), a 3-member etcd cluster on loopback runs the same
 * workload through its HTTP/JSON gateway (`/v3/kv/put`, `/v3/kv/range`, linearizable by default, and
 * `/v3/kv/txn` with a value compare and a put for txn64).
 *
 * `ratio` = our write ops/s at 64 clients / WAL durable appends at 64 writers; `etcdRatio` = our write
 * ops/s at 64 clients / etcd's. Run with `npm run bench -- raft`; the last line is the JSON.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { RaftKvClient, encodeKvRequest, textCommand } from '../../actors/raft/index.js';
import { Wal } from '../../actors/storage/index.js';
import { freePort } from '../support/cluster-harness.js';
import { waitFor } from '../support/wait.js';
import { RaftProcessCluster } from '../support/raft-cluster.js';

const PHASE_MS = Number(process.env.RAFT_BENCH_MS ?? '4000');
const WARMUP_MS = 500;
const VALUE = 'v'.repeat(100);
const KEYS = 1_000;
const encoder = new TextEncoder();
const utf8 = (text: string): Uint8Array => encoder.encode(text);

/** The hot key of client `worker` in txn64. */
const hotKey = (worker: number): string => `hot-${worker}`.padEnd(16, '.');

interface Figures {
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Runs `workers` loops of `operation` for `PHASE_MS` (after a warm-up); returns throughput and latency percentiles. */
async function measure(workers: number, operation: (worker: number, counter: number) => Promise<void>): Promise<Figures> {
  const latencies: number[] = [];
  let counting = false;
  const warmupEnd = performance.now() + WARMUP_MS;
  const end = warmupEnd + PHASE_MS;
  let started = 0;
  await Promise.all(Array.from({ length: workers }, async (_, worker) => {
    let counter = 0;
    while (performance.now() < end) {
      const before = performance.now();
      await operation(worker, counter);
      counter += 1;
      if (before >= warmupEnd) {
        if (!counting) {
          counting = true;
          started = before;
        }
        latencies.push(performance.now() - before);
      }
    }
  }));
  latencies.sort((left, right) => left - right);
  const seconds = (performance.now() - (started || warmupEnd)) / 1000;
  const at = (fraction: number): number => Number((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * fraction))] ?? 0).toFixed(3));
  return { opsPerSecond: Math.round(latencies.length / seconds), p50Ms: at(0.5), p99Ms: at(0.99) };
}

async function benchRaft(): Promise<Record<string, Figures>> {
  const cluster = await RaftProcessCluster.start({ names: ['n1', 'n2', 'n3'], proxied: false, tickMs: 100 });
  try {
    const leader = await cluster.leader();
    // The leader first, as the etcd clients below post straight to theirs: a client keeps the replica that answers.
    const replicas = [leader, ...cluster.names.filter((name) => name !== leader)];
    const clients = Array.from({ length: 64 }, (_, index) => new RaftKvClient({ clientId: `bench-${index}`, replicas, transport: cluster.transport, attemptTimeoutMs: 5_000 }));
    const put = async (worker: number, counter: number): Promise<void> => {
      const outcome = await clients[worker]!.put(`key-${(worker * 7919 + counter) % KEYS}`.padEnd(16, '.'), VALUE);
      if (!outcome.ok) throw new Error(`write failed: ${JSON.stringify(outcome)}`);
    };
    const read = async (worker: number, counter: number): Promise<void> => {
      const outcome = await clients[worker]!.get(`key-${(worker * 7919 + counter) % KEYS}`.padEnd(16, '.'));
      if (!outcome.ok) throw new Error(`read failed: ${JSON.stringify(outcome)}`);
    };
    const last = Array.from({ length: 64 }, (_, worker) => `${worker}-start`);
    await Promise.all(last.map((value, worker) => clients[worker]!.put(hotKey(worker), value)));
    const swap = async (worker: number, counter: number): Promise<void> => {
      const key = utf8(hotKey(worker));
      const next = `${worker}-${counter}`;
      const outcome = await clients[worker]!.txn({
        compare: [{ key, target: 'value', operator: '=', value: utf8(last[worker]!) }],
        success: [{ type: 'put', key, value: utf8(next) }],
      });
      if (!outcome.ok || outcome.type !== 'txn' || !outcome.succeeded) throw new Error(`swap failed: ${JSON.stringify(outcome)}`);
      last[worker] = next;
    };
    return { write1: await measure(1, put), write64: await measure(64, put), read64: await measure(64, read), txn64: await measure(64, swap) };
  } finally {
    await cluster.stop();
  }
}

async function benchWal(scratch: string): Promise<Record<string, Figures>> {
  const record = encodeKvRequest({ clientId: 'bench-0', sequence: 1, command: textCommand({ type: 'put', key: 'key-0'.padEnd(16, '.'), value: VALUE }) });
  const results: Record<string, Figures> = {};
  for (const writers of [1, 64]) {
    const wal = await Wal.open({ directory: path.join(scratch, `wal-${writers}`) });
    results[`append${writers}`] = await measure(writers, async () => {
      await wal.append(record);
    });
    await wal.close();
  }
  return results;
}

/** A 3-member etcd cluster on loopback; undefined when etcd is not installed. */
async function benchEtcd(scratch: string): Promise<Record<string, Figures> | undefined> {
  if (spawnSync('etcd', ['--version']).status !== 0) return undefined;
  const members = await Promise.all(['e1', 'e2', 'e3'].map(async (name) => ({ name, client: await freePort(), peer: await freePort() })));
  const initial = members.map((member) => `${member.name}=http://127.0.0.1:${member.peer}`).join(',');
  const processes: ChildProcess[] = members.map((member) => spawn('etcd', [
    '--name', member.name, '--data-dir', path.join(scratch, `etcd-${member.name}`),
    '--listen-client-urls', `http://127.0.0.1:${member.client}`, '--advertise-client-urls', `http://127.0.0.1:${member.client}`,
    '--listen-peer-urls', `http://127.0.0.1:${member.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${member.peer}`,
    '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'troupe-bench', '--log-level', 'error',
  ], { stdio: 'ignore' }));
  const killAll = (): void => {
    for (const child of processes) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  try {
    const base = (member: (typeof members)[number]): string => `http://127.0.0.1:${member.client}`;
    const post = async (url: string, body: unknown): Promise<Record<string, unknown>> => {
      const response = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      if (!response.ok) throw new Error(`etcd ${url}: ${response.status} ${await response.text()}`);
      return (await response.json()) as Record<string, unknown>;
    };
    const leader = await etcdLeader(members.map(base), post);
    const b64 = (text: string): string => Buffer.from(text).toString('base64');
    const value = b64(VALUE);
    const put = async (worker: number, counter: number): Promise<void> => {
      await post(`${leader}/v3/kv/put`, { key: b64(`key-${(worker * 7919 + counter) % KEYS}`.padEnd(16, '.')), value });
    };
    const read = async (worker: number, counter: number): Promise<void> => {
      await post(`${leader}/v3/kv/range`, { key: b64(`key-${(worker * 7919 + counter) % KEYS}`.padEnd(16, '.')) });
    };
    const last = Array.from({ length: 64 }, (_, worker) => `${worker}-start`);
    await Promise.all(last.map((start, worker) => post(`${leader}/v3/kv/put`, { key: b64(hotKey(worker)), value: b64(start) })));
    const swap = async (worker: number, counter: number): Promise<void> => {
      const key = b64(hotKey(worker));
      const next = `${worker}-${counter}`;
      const response = await post(`${leader}/v3/kv/txn`, {
        compare: [{ key, target: 'VALUE', result: 'EQUAL', value: b64(last[worker]!) }],
        success: [{ requestPut: { key, value: b64(next) } }],
      });
      if (response.succeeded !== true) throw new Error(`etcd swap failed: ${JSON.stringify(response)}`);
      last[worker] = next;
    };
    return { write1: await measure(1, put), write64: await measure(64, put), read64: await measure(64, read), txn64: await measure(64, swap) };
  } finally {
    killAll();
    process.off('exit', killAll);
    await Promise.all(processes.map((child) => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())))));
  }
}

/** Waits for the etcd cluster to elect a leader; returns the leader's client URL (writes go straight to it, as ours do). */
async function etcdLeader(urls: readonly string[], post: (url: string, body: unknown) => Promise<Record<string, unknown>>): Promise<string> {
  return waitFor(async () => {
    const statuses = await Promise.all(urls.map((url) => post(`${url}/v3/maintenance/status`, {}).catch(() => undefined)));
    const leaderId = statuses.find((status) => status !== undefined && status.leader !== undefined && status.leader !== '0')?.leader;
    const leaderAt = statuses.findIndex((status) => (status?.header as { member_id?: string } | undefined)?.member_id === leaderId);
    return leaderId !== undefined && leaderAt >= 0 ? urls[leaderAt]! : undefined;
  }, { timeoutMs: 30_000, intervalMs: 200, what: 'etcd to elect a leader' });
}

const scratch = mkdtempSync(path.join(tmpdir(), 'troupe-raft-bench-'));
try {
  const raft = await benchRaft();
  console.log(`raft (3 processes):   ${JSON.stringify(raft)}`);
  const wal = await benchWal(scratch);
  console.log(`WAL (1 process):      ${JSON.stringify(wal)}`);
  const etcd = await benchEtcd(scratch);
  console.log(etcd === undefined ? 'etcd: not installed, skipped' : `etcd (3 members):     ${JSON.stringify(etcd)}`);
  const ratio = Number((raft.write64!.opsPerSecond / wal.append64!.opsPerSecond).toFixed(3));
  console.log(JSON.stringify({
    bench: 'raft',
    ...raft,
    baseline: { wal, ...(etcd ? { etcd } : {}) },
    ratio,
    ...(etcd ? {
      etcdRatio: Number((raft.write64!.opsPerSecond / etcd.write64!.opsPerSecond).toFixed(3)),
      etcdRatios: Object.fromEntries(['write1', 'write64', 'read64', 'txn64'].map((name) => [name, Number((raft[name]!.opsPerSecond / etcd[name]!.opsPerSecond).toFixed(3))])),
      // Latency ratios: ours / etcd's (below 1 is better).
      etcdP50Ratios: Object.fromEntries(['write1', 'write64', 'read64', 'txn64'].map((name) => [name, Number((raft[name]!.p50Ms / etcd[name]!.p50Ms).toFixed(3))])),
    } : {}),
  }));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
