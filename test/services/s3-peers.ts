/**
 * Real S3 peers of the object store, built or installed into the cache on first use (idempotent: a
 * marker per version records a finished install):
 *   - Python `boto3` from PyPI in a virtual environment (`<cache>/s3-peers/venv`), for client tests;
 *   - a MinIO server built from the Go module proxy (`GOFLAGS=-mod=mod go install
 *     github.com/minio/minio@latest` with GOBIN in the cache), for the benchmark. MinIO is AGPLv3: it
 *     runs as a separate process and nothing of it is vendored. The build takes minutes of CPU.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheRoot, freePort, startService, waitFor, type ServiceProcess } from './process.js';

export const s3PeerVersions = { boto3: '1.44.18', minio: 'latest' } as const;

function runOrThrow(what: string, command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): void {
  const result = spawnSync(command, args, { cwd: options.cwd, env: options.env ?? process.env, encoding: 'utf8', stdio: 'pipe', timeout: 1_800_000 });
  if (result.status !== 0) throw new Error(`${what} failed (${command} ${args.join(' ')}):\n${(result.stderr || result.stdout || String(result.error)).slice(-3_000)}`);
}

/** The Python interpreter of a virtual environment holding boto3, installing it when missing. */
export function ensureBoto3(): string {
  const root = join(cacheRoot(), 's3-peers');
  const venv = join(root, 'venv');
  const python = join(venv, 'bin', 'python');
  const marker = join(root, `boto3-${s3PeerVersions.boto3}`);
  if (existsSync(marker) && existsSync(python)) return python;
  mkdirSync(root, { recursive: true });
  if (!existsSync(join(venv, 'bin', 'pip'))) runOrThrow('creating a Python virtual environment for boto3', 'python3', ['-m', 'venv', venv], { cwd: root });
  runOrThrow('installing boto3 from PyPI', join(venv, 'bin', 'pip'), ['install', '-q', `boto3==${s3PeerVersions.boto3}`], { cwd: root });
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return python;
}

/** The MinIO server binary, building it from the Go module proxy when missing. */
export function ensureMinio(): string {
  const root = join(cacheRoot(), 'minio');
  const binary = join(root, 'bin', 'minio');
  if (existsSync(binary)) return binary;
  mkdirSync(join(root, 'bin'), { recursive: true });
  runOrThrow('building MinIO with go install (minutes of CPU)', 'go', ['install', `github.com/minio/minio@${s3PeerVersions.minio}`], {
    cwd: root, env: { ...process.env, GOBIN: join(root, 'bin'), GOFLAGS: '-mod=mod' },
  });
  if (!existsSync(binary)) throw new Error(`go install finished but ${binary} is missing`);
  return binary;
}

/** A running single-node MinIO server on a fresh data directory. */
export interface MinioServer {
  readonly endpoint: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly process: ServiceProcess;
}

/** Starts MinIO (building it first if needed); resolves once it answers its health check. */
export async function startMinio(): Promise<MinioServer> {
  const binary = ensureMinio();
  const port = await freePort();
  const consolePort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'troupe-minio-'));
  const credentials = { accessKeyId: 'minioadmin-troupe', secretAccessKey: 'minioadmin-troupe-secret' };
  const process_ = startService('minio', binary, ['server', join(dataDir, 'data'), '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'], {
    logPath: join(dataDir, 'minio.log'), cleanupPaths: [dataDir],
    env: { ...process.env, MINIO_ROOT_USER: credentials.accessKeyId, MINIO_ROOT_PASSWORD: credentials.secretAccessKey, MINIO_BROWSER: 'off' },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitFor('minio', async () => ((await fetch(`${endpoint}/minio/health/live`).catch(() => undefined))?.ok ? true : undefined), { timeoutMs: 60_000, intervalMs: 200, abort: () => process_.exited() });
  } catch (error) {
    await process_.stop();
    throw new Error(`${(error as Error).message}\n${process_.logTail()}`);
  }
  return { endpoint, credentials, process: process_ };
}
