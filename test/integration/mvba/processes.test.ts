/**
 * The MVBA replicated log across four real node processes (test/support/mvba-node.ts) linked by the
 * cluster layer (authenticated WebSockets), on threshold BLS keys dealt as `troupe mvba keygen` deals
 * them. One replica is Byzantine (corrupt shares and proofs, duplicated and flipped votes, forged answers
 * to clients); one correct replica is killed with SIGKILL mid-run and restarted from its data directory.
 * Clients get answers f + 1 replicas agree on; the correct replicas end with the same log and state.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dealPartyKeys, MvbaLogClient, type SubmitReply } from '../../../actors/mvba/index.js';
import { connect, type TroupeClient } from '../../../cluster/index.js';
import { childExited, spawnChild, stopChild } from '../../support/children.js';
import { freePort, removeDir, tempDir } from '../../support/cluster-harness.js';
import { waitFor } from '../../support/wait.js';

const secret = 'mvba-cluster-secret';
const token = 'mvba-cluster-token';
const names = ['n1', 'n2', 'n3', 'n4'] as const;
const byzantine = 'n4';
const crashed = 'n2';
const startTimeoutMs = 120_000;

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  output: string;
}

class MvbaProcessCluster {
  readonly ports = new Map<string, number>();
  readonly dirs = new Map<string, string>();
  readonly running = new Map<string, Running>();
  readonly clients = new Map<string, TroupeClient>();
  keysDir = '';

  async start(): Promise<void> {
    this.keysDir = await tempDir('mvba-keys');
    const files = dealPartyKeys(names.length);
    for (const file of files) await writeFile(join(this.keysDir, `party-${file.self}.json`), JSON.stringify(file), { mode: 0o600 });
    for (const name of names) {
      this.ports.set(name, await freePort());
      this.dirs.set(name, await tempDir(`mvba-${name}`));
    }
    await this.spawn('n1', []);
    await Promise.all(names.slice(1).map((name) => this.spawn(name, [`ws://127.0.0.1:${this.ports.get('n1')!}`])));
    for (const name of names) await this.connectClient(name);
  }

  async connectClient(name: string): Promise<void> {
    await this.clients.get(name)?.close().catch(() => undefined);
    this.clients.set(name, await connect(`ws://127.0.0.1:${this.ports.get(name)!}`, { token, reconnectMsMin: 50, reconnectMsMax: 500, connectTimeoutMs: 15_000 }));
  }

  async spawn(name: string, seeds: readonly string[]): Promise<void> {
    const index = names.indexOf(name as (typeof names)[number]);
    const args = [
      '--import', 'tsx', 'test/support/mvba-node.ts', '--name', name, '--port', String(this.ports.get(name)!), '--data', this.dirs.get(name)!,
      '--secret', secret, '--token', token, '--parties', names.join(','), '--key-file', join(this.keysDir, `party-${index}.json`),
      ...(seeds.length > 0 ? ['--seeds', seeds.join(',')] : []), ...(name === byzantine ? ['--byzantine', 'liar'] : []),
    ];
    const child = spawnChild(process.execPath, args, { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'pipe'] });
    const running: Running = { child, output: '', exited: childExited(child) };
    this.running.set(name, running);
    child.stderr!.on('data', (chunk: Buffer) => { running.output += chunk.toString(); });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node ${name} did not start:\n${running.output}`)), startTimeoutMs);
      child.stdout!.on('data', (chunk: Buffer) => {
        running.output += chunk.toString();
        if (running.output.includes('"event":"listening"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void running.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`node ${name} exited while starting:\n${running.output}`));
      });
    });
  }

  async kill(name: string): Promise<void> {
    const running = this.running.get(name)!;
    await stopChild(running.child, { signal: 'SIGKILL' });
    await running.exited;
    this.running.delete(name);
  }

  async restart(name: string): Promise<void> {
    await this.spawn(name, names.filter((other) => other !== name).map((other) => `ws://127.0.0.1:${this.ports.get(other)!}`));
    await this.connectClient(name);
  }

  ask(name: string, message: unknown, timeoutMs: number): Promise<unknown> {
    const client = this.clients.get(name);
    if (client === undefined || !this.running.has(name)) return Promise.reject(new Error(`${name} is not running`));
    return client.ask({ node: name, path: '/root/mvba' }, message, { timeoutMs });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.close().catch(() => undefined)));
    await Promise.all([...this.running.values()].map(async (running) => {
      await stopChild(running.child);
      await running.exited;
    }));
    for (const dir of [...this.dirs.values(), this.keysDir]) if (dir !== '') await removeDir(dir);
  }

  logs(): string {
    return [...this.running.entries()].map(([name, running]) => `--- ${name} ---\n${running.output.slice(-3_000)}`).join('\n');
  }
}

describe('MVBA replicated log across node processes', () => {
  const cluster = new MvbaProcessCluster();
  let client: MvbaLogClient;

  beforeAll(async () => {
    try {
      await cluster.start();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    client = new MvbaLogClient({ replicas: names.length, transport: { ask: (replica, message, timeoutMs) => cluster.ask(names[replica]!, message, timeoutMs) }, timeoutMs: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await cluster.stop();
  });

  it('decides client transactions with one Byzantine replica, whose forged answers never win', async () => {
    const replies = await Promise.all(Array.from({ length: 8 }, (_, index) => client.submit({ id: `a-${index}`, op: 'put', key: `k${index}`, value: `v${index}` })));
    for (const reply of replies) expect(reply).toMatchObject({ ok: true, applied: true });
    expect(replies.every((reply) => (reply as Extract<SubmitReply, { ok: true }>).instance !== 999)).toBe(true);
    expect(await client.read('k3')).toMatchObject({ ok: true, value: 'v3' });
    // The Byzantine replica's own answer is a forgery; the client never takes it alone.
    expect(await cluster.ask(byzantine, { type: 'bftlog.read', key: 'k3' }, 10_000)).toMatchObject({ value: 'forged' });
  }, 120_000);

  it('a correct replica killed mid-run restarts from disk, catches up, and the correct replicas agree', async () => {
    const during = Array.from({ length: 6 }, (_, index) => client.submit({ id: `b-${index}`, op: 'put', key: `b${index}`, value: `w${index}` }));
    await cluster.kill(crashed);
    // With f = 1 Byzantine replica, the two running correct replicas cannot decide alone: the log waits.
    await cluster.restart(crashed);
    const replies = await Promise.all(during);
    for (const reply of replies) expect(reply).toMatchObject({ ok: true });
    const after = await client.submit({ id: 'c-0', op: 'delete', key: 'k0' });
    expect(after).toMatchObject({ ok: true, applied: true });
    const correct = names.filter((name) => name !== byzantine);
    await waitFor(async () => {
      const statuses = await Promise.all(correct.map((name) => cluster.ask(name, { type: 'bftlog.status' }, 5_000).catch(() => undefined) as Promise<{ instance: number } | undefined>));
      return statuses.every((status) => status !== undefined && status.instance === statuses[0]!.instance) ? true : undefined;
    }, { timeoutMs: 60_000, what: `the correct replicas to reach the same instance\n${cluster.logs()}` });
    for (const key of ['k0', 'k5', 'b2', 'b5']) {
      const reads = await Promise.all(correct.map((name) => cluster.ask(name, { type: 'bftlog.read', key }, 10_000)));
      expect(new Set(reads.map((read) => JSON.stringify(read))).size, `${key}: ${JSON.stringify(reads)}`).toBe(1);
    }
    expect(await client.read('k0')).toMatchObject({ value: null });
    expect(await client.read('b5')).toMatchObject({ value: 'w5' });
  }, 180_000);
});
