/**
 * An MVBA replicated log of real node processes (test/support/mvba-node.ts) on loopback, with threshold
 * BLS keys dealt the way `troupe mvba keygen` deals them and a client-SDK connection to every node. The
 * harness kills (SIGKILL) and restarts nodes; every process it starts is killed by `stop`.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dealPartyKeys } from '../../actors/mvba/index.js';
import { connect, type TroupeClient } from '../../cluster/index.js';
import { childExited, spawnChild, stopChild } from './children.js';
import { freePort, removeDir, tempDir } from './cluster-harness.js';

const secret = 'mvba-cluster-secret';
const token = 'mvba-cluster-token';
/** How long a node process may take to print its listening line (tsx compiles on a loaded machine). */
const startTimeoutMs = 120_000;

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  output: string;
}

/** Options of a process cluster. */
export interface MvbaClusterOptions {
  readonly names: readonly string[];
  /** Nodes that run the Byzantine `liar` strategy (test/support/mvba-node.ts). */
  readonly byzantine?: readonly string[];
  readonly protocol?: 'prioritized' | 'ckps01';
}

/** A running process cluster; `stop` kills every process it started and removes its directories. */
export class MvbaProcessCluster {
  constructor(private readonly options: MvbaClusterOptions) {}

  readonly ports = new Map<string, number>();
  readonly dirs = new Map<string, string>();
  readonly running = new Map<string, Running>();
  readonly clients = new Map<string, TroupeClient>();
  keysDir = '';

  /** Deals keys, starts every node (the first founds the cluster) and connects a client to each. */
  async start(): Promise<void> {
    this.keysDir = await tempDir('mvba-keys');
    const files = dealPartyKeys(this.options.names.length);
    for (const file of files) await writeFile(join(this.keysDir, `party-${file.self}.json`), JSON.stringify(file), { mode: 0o600 });
    for (const name of this.options.names) {
      this.ports.set(name, await freePort());
      this.dirs.set(name, await tempDir(`mvba-${name}`));
    }
    const [founder, ...others] = this.options.names;
    await this.spawn(founder!, []);
    await Promise.all(others.map((name) => this.spawn(name, [`ws://127.0.0.1:${this.ports.get(founder!)!}`])));
    for (const name of this.options.names) await this.connectClient(name);
  }

  async connectClient(name: string): Promise<void> {
    await this.clients.get(name)?.close().catch(() => undefined);
    this.clients.set(name, await connect(`ws://127.0.0.1:${this.ports.get(name)!}`, { token, reconnectMsMin: 50, reconnectMsMax: 500, connectTimeoutMs: 15_000 }));
  }

  async spawn(name: string, seeds: readonly string[]): Promise<void> {
    const index = this.options.names.indexOf(name);
    const args = [
      '--import', 'tsx', 'test/support/mvba-node.ts', '--name', name, '--port', String(this.ports.get(name)!), '--data', this.dirs.get(name)!,
      '--secret', secret, '--token', token, '--parties', this.options.names.join(','), '--protocol', this.options.protocol ?? 'prioritized', '--key-file', join(this.keysDir, `party-${index}.json`),
      ...(seeds.length > 0 ? ['--seeds', seeds.join(',')] : []), ...(this.options.byzantine?.includes(name) === true ? ['--byzantine', 'liar'] : []),
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
    await this.spawn(name, this.options.names.filter((other) => other !== name).map((other) => `ws://127.0.0.1:${this.ports.get(other)!}`));
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
