/**
 * The three systems the workflow benchmark drives the same way: Troupe (a node process hosting the
 * workflow engine, reached through the client SDK), Restate (its server process, with the SDK's
 * service endpoint in this process) and Temporal (its dev server process with SQLite persistence, with
 * the TypeScript worker in this process). Each runs the same two workflows:
 *
 * - `three`: three steps, each returning `n + 1` and the time it started; the workflow returns the
 *   three start times, so step-to-step latency is measured the same way everywhere: from one step's
 *   start to the next step's start (the previous step's result made durable and the next scheduled),
 *   and from the last step's start to the result arriving at the client;
 * - `parked`: one step, then a wait for the `go` signal (Restate: a durable promise resolved by a
 *   shared handler; Temporal: a signal and `condition`).
 *
 * Durability: Troupe fsyncs each history append (the WAL); Restate's log server fsyncs its RocksDB WAL
 * before acknowledging a journal entry (its default: `rocksdb-disable-wal-fsync = false`); Temporal's dev
 * server writes to SQLite (its default settings).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, type TroupeClient } from '../../../cluster/index.js';
import type { WorkflowReply } from '../../../actors/workflow/index.js';
import { childExited, spawnChild, stopChild } from '../../support/children.js';
import { freePort } from '../../support/net.js';
import { loadRestateSdk, peerRequire, startRestate, startTemporal, type RestateServer, type TemporalServer, type WorkflowPeers } from '../../services/workflow-peers.js';

/** Wall-clock time with sub-millisecond resolution, comparable across processes on one machine. */
export const now = (): number => performance.timeOrigin + performance.now();

/** One system under test. */
export interface Subject {
  readonly name: string;
  /** Runs one `three` workflow to its result; returns its three step start times and the time the result arrived. */
  runThree(id: string, n: number): Promise<number[]>;
  /** Starts a `parked` workflow (returns once the start is accepted). */
  startParked(id: string, n: number): Promise<void>;
  /** How many parked workflows are known to be past their step and waiting for the signal. */
  parkedCount(ids: readonly string[]): Promise<number>;
  /** Signals `go` and waits for the result. */
  release(id: string): Promise<void>;
  /** SIGKILLs the process that holds the durable state. */
  kill(): Promise<void>;
  /** Starts that process again over the same state; resolves once it accepts requests. */
  restart(): Promise<void>;
  close(): Promise<void>;
}


/** Troupe: a node process (test/bench/workflow/node.ts) and a client SDK connection to it. */
export async function troupeSubject(dataDir: string): Promise<Subject> {
  const token = 'workflow-bench-token';
  const port = await freePort();
  const script = fileURLToPath(new URL('./node.ts', import.meta.url));
  let child: ChildProcess | undefined;
  let client: TroupeClient | undefined;
  const engine = { node: 'bench', path: '/root/workflows/engine' };
  const boot = async (): Promise<void> => {
    const started = spawnChild(process.execPath, ['--import', 'tsx', script, dataDir, String(port), token], { stdio: ['ignore', 'pipe', 'inherit'] });
    child = started;
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: started.stdout! }).on('line', (line) => line.startsWith('port ') && resolve());
      started.once('exit', (code) => reject(new Error(`the benchmark node exited early (${String(code)})`)));
    });
    client = await connect(`ws://127.0.0.1:${port}`, { token, reconnect: false });
    // Ready means the engine answers: its init replayed the WAL and brought every open run up.
    for (;;) {
      const reply = await client.ask<WorkflowReply>(engine, { type: 'workflow.list' }, { timeoutMs: 600_000 }).catch(() => undefined);
      if (reply?.ok === true) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const ask = async (request: unknown, timeoutMs = 120_000): Promise<Extract<WorkflowReply, { ok: true }>> => {
    const reply = await client!.ask<WorkflowReply>(engine, request, { timeoutMs });
    if (!reply.ok) throw new Error(`${reply.code}: ${reply.message}`);
    return reply;
  };
  await boot();
  return {
    name: 'troupe',
    runThree: async (id, n) => {
      await ask({ type: 'workflow.start', workflowType: 'three', workflowId: id, input: n });
      const starts = (await ask({ type: 'workflow.result', workflowId: id })).value as number[];
      return [...starts, now()];
    },
    startParked: async (id, n) => void (await ask({ type: 'workflow.start', workflowType: 'parked', workflowId: id, input: n })),
    parkedCount: async () => ((await ask({ type: 'workflow.list' })).runs ?? []).filter((run) => run.workflowType === 'parked' && run.events >= 5).length,
    release: async (id) => {
      await ask({ type: 'workflow.signal', workflowId: id, name: 'go' });
      await ask({ type: 'workflow.result', workflowId: id });
    },
    kill: async () => {
      await client?.close().catch(() => undefined);
      await stopChild(child!, { signal: 'SIGKILL' });
      await childExited(child!);
    },
    restart: boot,
    close: async () => {
      await client?.close().catch(() => undefined);
      if (child !== undefined) await stopChild(child, { signal: 'SIGTERM' });
    },
  };
}

/** Restate: the server process, and the SDK's endpoint (an HTTP/2 server) in this process. */
export async function restateSubject(peers: WorkflowPeers, dataDir: string): Promise<Subject> {
  // The SDK logs every invocation at INFO; only errors here, as the other systems log.
  process.env.RESTATE_LOGGING ??= 'ERROR';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const restate = loadRestateSdk(peers) as any;
  const parked = new Set<string>();
  const three = restate.workflow({
    name: 'three',
    handlers: {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      run: async (ctx: any, input: number) => {
        let value = input;
        const starts: number[] = [];
        for (const name of ['reserve', 'charge', 'ship']) {
          const done = await ctx.run(name, () => ({ n: value + 1, at: now() })) as { n: number; at: number };
          value = done.n;
          starts.push(done.at);
        }
        return starts;
      },
    },
  });
  const parkedWorkflow = restate.workflow({
    name: 'parked',
    handlers: {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      run: async (ctx: any, input: number) => {
        const first = await ctx.run('first', () => input) as number;
        parked.add(ctx.key as string);
        await ctx.promise('go');
        return first;
      },
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      go: async (ctx: any) => {
        await ctx.promise('go').resolve(true);
      },
    },
  });
  const endpointPort = await freePort();
  const endpoint = await restate.endpoint().bind(three).bind(parkedWorkflow).listen(endpointPort);
  let server: (RestateServer & { ports: { ingress: number; admin: number; fabric: number } }) = await startRestate(peers, dataDir);
  const register = await fetch(`${server.adminUrl}/deployments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri: `http://127.0.0.1:${endpointPort}`, force: true }) });
  if (!register.ok) throw new Error(`restate: registering the endpoint failed: ${register.status} ${await register.text()}`);
  const call = async (path: string, body?: unknown, method = 'POST'): Promise<unknown> => {
    const response = await fetch(`${server.ingressUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await response.text();
    if (!response.ok) throw new Error(`restate ${path}: ${response.status} ${text}`);
    return text === '' ? undefined : JSON.parse(text);
  };
  return {
    name: 'restate',
    runThree: async (id, n) => [...(await call(`/three/${id}/run`, n)) as number[], now()],
    startParked: async (id, n) => void (await call(`/parked/${id}/run/send`, n)),
    parkedCount: async (ids) => ids.filter((id) => parked.has(id)).length,
    release: async (id) => {
      await call(`/parked/${id}/go`);
      await call(`/restate/workflow/parked/${id}/attach`, undefined, 'GET');
    },
    kill: async () => server.process.stop({ signal: 'SIGKILL' }),
    restart: async () => {
      server = await startRestate(peers, dataDir, server.ports);
    },
    close: async () => {
      await server.process.stop({ signal: 'SIGTERM', graceMs: 5_000 });
      if (typeof endpoint?.close === 'function') endpoint.close();
    },
  };
}

/** The Temporal workflows, as a module the worker bundles (written next to the peers' node_modules). */
const temporalWorkflows = `
const { proxyActivities, defineSignal, setHandler, condition, workflowInfo } = require('@temporalio/workflow');
const { step, parkedAck } = proxyActivities({ startToCloseTimeout: '1 minute' });
const go = defineSignal('go');
async function three(input) {
  let value = input;
  const starts = [];
  for (let index = 0; index < 3; index += 1) {
    const done = await step(value);
    value = done.n;
    starts.push(done.at);
  }
  return starts;
}
async function parked(input) {
  let released = false;
  setHandler(go, () => { released = true; });
  const first = await step(input);
  await parkedAck(workflowInfo().workflowId);
  await condition(() => released);
  return first.n;
}
module.exports = { three, parked };
`;

/** Temporal: the dev server process (SQLite), and a worker and client in this process. */
export async function temporalSubject(peers: WorkflowPeers, dataDir: string): Promise<Subject> {
  const require = peerRequire(peers);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const { NativeConnection, Worker, Runtime, bundleWorkflowCode } = require('@temporalio/worker') as any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const { Connection, Client } = require('@temporalio/client') as any;
  const silent = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  // Core's own log (a warning per task the restarted server no longer knows) filtered to errors, like the others.
  Runtime.install({ logger: silent, telemetryOptions: { logging: { filter: 'ERROR', forward: {} } } });
  mkdirSync(dataDir, { recursive: true });
  const workflowsPath = join(peers.npmRoot, 'bench-workflows.js');
  writeFileSync(workflowsPath, temporalWorkflows);
  const workflowBundle = await bundleWorkflowCode({ workflowsPath, logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } });
  const parked = new Set<string>();
  const activities = {
    step: async (n: number) => ({ n: n + 1, at: now() }),
    parkedAck: async (id: string) => void parked.add(id),
  };
  const dbFile = join(dataDir, 'temporal.db');
  let server: TemporalServer & { port: number } = await startTemporal(peers, dbFile, join(dataDir, 'temporal.log'));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let worker: any;
  let running: Promise<void> | undefined;
  // The frontend port opens before the server is healthy: retry until a connection's GetSystemInfo succeeds.
  const nativeConnection = async (): Promise<unknown> => {
    for (let tries = 0; ; tries += 1) {
      try {
        return await NativeConnection.connect({ address: server.address });
      } catch (error) {
        if (tries > 6_000) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  const startWorker = async (): Promise<void> => {
    const connection = await nativeConnection();
    worker = await Worker.create({ connection, namespace: 'default', taskQueue: 'bench', workflowBundle, activities, maxConcurrentActivityTaskExecutions: 200, maxConcurrentWorkflowTaskExecutions: 100 });
    running = worker.run().catch(() => undefined);
  };
  await startWorker();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });
  return {
    name: 'temporal',
    runThree: async (id, n) => [...(await client.workflow.execute('three', { taskQueue: 'bench', workflowId: id, args: [n] })) as number[], now()],
    startParked: async (id, n) => void (await client.workflow.start('parked', { taskQueue: 'bench', workflowId: id, args: [n] })),
    parkedCount: async (ids) => ids.filter((id) => parked.has(id)).length,
    release: async (id) => {
      const handle = client.workflow.getHandle(id);
      await handle.signal('go');
      await handle.result();
    },
    kill: async () => {
      await server.process.stop({ signal: 'SIGKILL' });
    },
    restart: async () => {
      server = await startTemporal(peers, dbFile, join(dataDir, 'temporal.log'), server.port);
      // Ready means healthy (a new connection's GetSystemInfo answers). The worker's connection
      // reconnects by itself; if its poller gave up during the outage, start a new one.
      await ((await nativeConnection()) as { close(): Promise<void> }).close();
      if (worker.getState() !== 'RUNNING') await startWorker();
    },
    close: async () => {
      worker.shutdown();
      await running;
      await connection.close();
      await server.process.stop({ signal: 'SIGTERM', graceMs: 5_000 });
    },
  };
}
