/**
 * A real etcd for differential tests: Debian's `etcd-server` (3.4.x), installed with apt-get when
 * `etcd` is missing (idempotent: a marker under `~/.cache/troupe/etcd/` records the version found, and
 * an installed binary is never reinstalled), started as one member on free loopback ports in a fresh
 * data directory, and reached through its v3 JSON gateway (`POST /v3/kv/range`, `/v3/kv/put`,
 * `/v3/kv/txn`, `/v3/kv/deleterange`, `/v3/kv/compaction`, streaming `/v3/watch`; etcd 3.4 serves
 * the gateway at `/v3/...`) with Node's `fetch`. Keys and values travel base64-encoded; 64-bit numbers
 * come back as decimal strings, and fields equal to their zero value are left out.
 *
 * The test that starts it stops it in `afterAll`; `stop` kills the member's process group.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheRoot, freePort, startService, waitFor, type ServiceProcess } from './process.js';

/** The etcd binary's version line, installing `etcd-server` first when it is missing. */
export function ensureEtcd(): string {
  const found = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (found.status !== 0) {
    const install = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server'], { encoding: 'utf8', stdio: 'pipe' });
    if (install.status !== 0) throw new Error(`etcd is missing and apt-get install etcd-server failed (it needs root and the Debian archive):\n${install.stderr.slice(-2_000)}`);
  }
  const version = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) throw new Error(`etcd does not run: ${version.stderr}`);
  const line = version.stdout.split('\n')[0]!.trim();
  const cache = join(cacheRoot(), 'etcd');
  mkdirSync(cache, { recursive: true });
  writeFileSync(join(cache, 'installed'), `${line}\n`);
  return line;
}

/** A running single-member etcd and a JSON-gateway client for it. */
export class EtcdServer {
  private constructor(readonly url: string, readonly version: string, readonly process: ServiceProcess) {}

  /** Installs etcd if needed and starts a fresh member; resolves once it answers ranges. */
  static async start(): Promise<EtcdServer> {
    const version = ensureEtcd();
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const dataDir = mkdtempSync(join(tmpdir(), 'troupe-etcd-'));
    const client = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const process = startService('etcd', 'etcd', [
      '--name', 'differential', '--data-dir', join(dataDir, 'data'),
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `differential=${peer}`,
      '--log-level', 'warn',
    ], { logPath: join(dataDir, 'etcd.log'), cleanupPaths: [dataDir] });
    const server = new EtcdServer(client, version, process);
    try {
      await waitFor('etcd', async () => ((await server.post('/v3/kv/range', { key: base64(Uint8Array.of(0)) })) as { header?: unknown }).header !== undefined || undefined, {
        timeoutMs: 60_000, intervalMs: 200, abort: () => process.exited(),
      });
    } catch (error) {
      await process.stop();
      throw new Error(`${(error as Error).message}\n${process.logTail()}`);
    }
    return server;
  }

  /** POSTs a JSON body to a gateway path; an HTTP error becomes `{ error: { code, message } }` (etcd's own shape). */
  async post(path: string, body: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`${this.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const parsed = (await response.json()) as Record<string, unknown>;
    return response.ok ? parsed : { error: parsed };
  }

  /**
   * Watches (key, rangeEnd) from `startRevision` and collects events until `count` have arrived (or
   * the watch is cancelled, for example because the revision is compacted). The response streams one
   * JSON object per message.
   */
  async watch(options: { key: Uint8Array; rangeEnd?: Uint8Array; startRevision: number; count: number; timeoutMs: number }): Promise<{ events: EtcdEvent[]; compactRevision?: number }> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), options.timeoutMs);
    const events: EtcdEvent[] = [];
    try {
      const response = await fetch(`${this.url}/v3/watch`, {
        method: 'POST', signal: abort.signal, headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ create_request: { key: base64(options.key), ...(options.rangeEnd ? { range_end: base64(options.rangeEnd) } : {}), start_revision: String(options.startRevision) } }),
      });
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line === '') continue;
          const result = (JSON.parse(line) as { result?: { events?: EtcdEvent[]; canceled?: boolean; compact_revision?: string } }).result ?? {};
          if (result.canceled === true || result.compact_revision !== undefined) return { events, compactRevision: Number(result.compact_revision ?? 0) };
          events.push(...(result.events ?? []));
          if (events.length >= options.count) return { events };
        }
      }
      return { events };
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }

  async stop(): Promise<void> {
    await this.process.stop({ graceMs: 5_000 });
  }
}

/** A key-value as the gateway returns it. */
export interface EtcdKeyValue {
  readonly key?: string;
  readonly value?: string;
  readonly create_revision?: string;
  readonly mod_revision?: string;
  readonly version?: string;
  readonly lease?: string;
}

/** A watch event as the gateway returns it (a put event leaves out `type`, its zero value). */
export interface EtcdEvent {
  readonly type?: 'PUT' | 'DELETE';
  readonly kv: EtcdKeyValue;
}

/** Base64 of bytes, as the gateway wants keys and values. */
export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** Bytes of a gateway base64 field (absent: empty). */
export function fromBase64(text: string | undefined): Uint8Array {
  return new Uint8Array(Buffer.from(text ?? '', 'base64'));
}
