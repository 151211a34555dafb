/**
 * A real multi-connection PostgreSQL 16 server with pgvector, for tests that need true concurrency
 * (rebalance between processes, concurrent writers).
 *
 * The server binaries come from the PyPI wheel `pgserver` (PostgreSQL 16 with pgvector built in, see
 * README.md), installed with pip into a virtual environment in the cache. Each start runs `initdb` on a
 * temp data dir and starts `postgres` on a free loopback port (TCP only, trust auth). PostgreSQL refuses
 * to run as root, so under root the server runs as `nobody`, and its install then lives under
 * /var/cache/troupe, where that user can reach it.
 */
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { cacheRoot, freePort, moveIntoPlace, run, startService, waitFor } from './process.js';

/** The pinned wheel that ships the server. */
export const pgserverVersion = '0.1.4';

/** A running server. */
export interface PostgresService {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`, with the vector extension created. */
  readonly url: string;
  stop(): Promise<void>;
}

const nobodyId = 65534;
const runsAsRoot = typeof process.geteuid === 'function' && process.geteuid() === 0;

function installDirectory(): string {
  return join(runsAsRoot ? '/var/cache/troupe' : cacheRoot(), `pgserver-${pgserverVersion}`);
}

/** Installs the wheel once; returns the directory holding `bin/postgres`, `bin/initdb`, `lib`, `share`. */
export async function ensurePostgresInstall(): Promise<string> {
  const target = installDirectory();
  if (!existsSync(join(target, 'complete'))) {
    const staging = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      const python = process.env.PYTHON ?? 'python3';
      await run(python, ['-m', 'venv', staging], { timeoutMs: 120_000 });
      // --no-deps: only the server binaries inside the wheel are used, not its Python API.
      await run(join(staging, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', '--no-deps', `pgserver==${pgserverVersion}`], { timeoutMs: 600_000 });
      if (findInstall(staging) === undefined) throw new Error(`pgserver ${pgserverVersion} installed no pginstall/bin/postgres`);
      writeFileSync(join(staging, 'complete'), 'ok\n');
      moveIntoPlace(staging, target);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  const found = findInstall(target);
  if (found === undefined) throw new Error(`no PostgreSQL binaries under ${target}: remove it to reinstall`);
  return found;
}

function findInstall(venv: string): string | undefined {
  const libDirectory = join(venv, 'lib');
  if (!existsSync(libDirectory)) return undefined;
  for (const python of readdirSync(libDirectory)) {
    const candidate = join(libDirectory, python, 'site-packages', 'pgserver', 'pginstall');
    if (existsSync(join(candidate, 'bin', 'postgres'))) return candidate;
  }
  return undefined;
}

/** initdb + postgres on a free port; rejects with the server log if it is not ready in time. */
export async function startPostgres(options: { readyTimeoutMs?: number } = {}): Promise<PostgresService> {
  const install = await ensurePostgresInstall();
  const workDirectory = mkdtempSync(join(tmpdir(), 'troupe-pg-'));
  try {
    if (runsAsRoot) chownSync(workDirectory, nobodyId, nobodyId);
    const user = runsAsRoot ? { uid: nobodyId, gid: nobodyId } : {};
    const dataDirectory = join(workDirectory, 'data');
    await run(join(install, 'bin', 'initdb'), ['-D', dataDirectory, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { ...user, timeoutMs: 120_000, cwd: workDirectory });
    const port = await freePort();
    const service = startService('postgres', join(install, 'bin', 'postgres'), [
      '-D', dataDirectory, '-p', String(port), '-h', '127.0.0.1',
      '-c', 'unix_socket_directories=', // TCP only: no socket file to clean up or collide on.
      '-c', 'max_connections=200',
      // The tests kill clients, never this server, and the temp dir is thrown away: skip fsync.
      '-c', 'fsync=off', '-c', 'full_page_writes=off',
    ], { logPath: join(workDirectory, 'server.log'), cleanupPaths: [workDirectory], ...user });
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    try {
      await waitFor('postgres', () => createVectorExtension(url), { timeoutMs: options.readyTimeoutMs ?? 60_000, intervalMs: 100, abort: service.exited });
    } catch (error) {
      const tail = service.logTail();
      await service.stop({ signal: 'SIGKILL' });
      throw new Error(`${(error as Error).message}\n--- server log ---\n${tail}`);
    }
    // SIGINT is PostgreSQL's fast shutdown: roll back open transactions and exit.
    return { url, stop: () => service.stop({ signal: 'SIGINT', graceMs: 10_000 }) };
  } catch (error) {
    rmSync(workDirectory, { recursive: true, force: true });
    throw error;
  }
}

async function createVectorExtension(url: string): Promise<true> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS vector');
    return true;
  } finally {
    await client.end();
  }
}
