/**
 * The embedded Postgres default: PGlite + pgvector served over TCP (pglite-server.ts), reached with
 * `pg` like any server. PGlite is a single backend: connections are multiplexed, and while one holds a
 * transaction the others wait, so it suits functional tests, not concurrency tests (use postgres.ts).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startService, waitFor } from './process.js';

/** A running PGlite socket server. */
export interface PgliteService {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`, with the vector extension created. */
  readonly url: string;
  stop(): Promise<void>;
}

const servicesDirectory = dirname(fileURLToPath(import.meta.url));
/** The child program that serves PGlite (exported for the test of its orphan guard). */
export const pgliteServerPath = join(servicesDirectory, 'pglite-server.ts');

/** Starts the PGlite server in a child process; rejects with its log if it is not ready in time. */
export async function startPglite(options: { readyTimeoutMs?: number } = {}): Promise<PgliteService> {
  const workDirectory = mkdtempSync(join(tmpdir(), 'troupe-pglite-'));
  const logPath = join(workDirectory, 'server.log');
  const service = startService('pglite', process.execPath, ['--import', 'tsx', pgliteServerPath, workDirectory], {
    // From the repository root, where `--import tsx` resolves.
    logPath, cleanupPaths: [workDirectory], stdinPipe: true, cwd: join(servicesDirectory, '..', '..'),
  });
  try {
    const url = await waitFor('pglite', async () => {
      const port = readPort(logPath);
      if (port === undefined) return undefined;
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
      await client.connect();
      try {
        await client.query("SELECT 1 FROM pg_extension WHERE extname = 'vector'");
      } finally {
        await client.end();
      }
      return url;
    }, { timeoutMs: options.readyTimeoutMs ?? 60_000, intervalMs: 100, abort: service.exited });
    return { url, stop: () => service.stop({ signal: 'SIGTERM', graceMs: 5_000 }) };
  } catch (error) {
    const tail = service.logTail();
    await service.stop({ signal: 'SIGKILL' });
    rmSync(workDirectory, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\n--- pglite log ---\n${tail}`);
  }
}

function readPort(logPath: string): number | undefined {
  if (!existsSync(logPath)) return undefined;
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    if (!line.startsWith('{"port":')) continue;
    const parsed = JSON.parse(line) as { port?: unknown };
    if (typeof parsed.port === 'number' && parsed.port > 0) return parsed.port;
  }
  return undefined;
}
