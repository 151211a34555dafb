/**
 * A Raft group of real node processes (test/support/raft-node.ts) on loopback, each behind a
 * partition proxy (raft-partition-proxy.ts) for node-to-node traffic, with a client-SDK connection
 * straight to every node for the workload. The harness kills (SIGKILL), restarts and isolates nodes;
 * every process it starts is killed with its process group by `stop` (and by `start` itself when the
 * cluster fails to come up), so a failing test leaves nothing running. Node flags in `RAFT_NODE_FLAGS`
 * (space-separated, e.g. `--cpu-prof --cpu-prof-dir=/tmp/profiles`) are passed to every node process.
 */
import type { ChildProcess } from 'node:child_process';
import type { KvTransport, RaftMetrics } from '../../actors/raft/index.js';
import { connect, type TroupeClient } from '../../cluster/index.js';
import { childExited, spawnChild, stopChild } from './children.js';
import { freePort, removeDir, tempDir } from './cluster-harness.js';
import { PartitionSwitch } from './raft-partition-proxy.js';
import { waitFor } from './wait.js';

const secret = 'raft-cluster-secret';
/** How long a node process may take to print its listening line (tsx compiles on a loaded machine). */
const startTimeoutMs = 120_000;
const token = 'raft-cluster-token';

/** Options of a process cluster. */
export interface RaftClusterOptions {
  readonly names: readonly string[];
  readonly tickMs?: number;
  readonly snapshotThreshold?: number;
  /** Route node-to-node traffic through partition proxies (default true; the benchmark turns it off). */
  readonly proxied?: boolean;
  /** Extra arguments of node `name`'s process (e.g. the object store's `--s3-port`). */
  readonly nodeArgs?: (name: string) => readonly string[];
}

interface RunningNode {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  output: string;
}

/** The replica ref on node `name`. */
export function replicaRef(name: string): { node: string; path: string } {
  return { node: name, path: '/root/raft' };
}

/** A running process cluster. */
export class RaftProcessCluster {
  readonly names: readonly string[];
  readonly proxies: PartitionSwitch;
  readonly #options: RaftClusterOptions;
  readonly #ports = new Map<string, number>();
  readonly #dirs = new Map<string, string>();
  readonly #running = new Map<string, RunningNode>();
  readonly #clients = new Map<string, TroupeClient>();
  /** Output of nodes that exited, for failure messages. */
  readonly logs: string[] = [];

  private constructor(options: RaftClusterOptions, proxies: PartitionSwitch) {
    this.names = options.names;
    this.#options = options;
    this.proxies = proxies;
  }

  /** Starts every node (the first founds the cluster) and connects a client to each. */
  static async start(options: RaftClusterOptions): Promise<RaftProcessCluster> {
    const ports = new Map<string, number>();
    for (const name of options.names) ports.set(name, await freePort());
    const proxies = await PartitionSwitch.start(options.proxied === false ? [] : options.names.map((name) => ({ name, host: '127.0.0.1', port: ports.get(name)! })));
    const cluster = new RaftProcessCluster(options, proxies);
    for (const [name, port] of ports) {
      cluster.#ports.set(name, port);
      cluster.#dirs.set(name, await tempDir(`raft-${name}`));
    }
    const [founder, ...others] = options.names;
    try {
      await cluster.#spawn(founder!, []);
      // allSettled: every start is waited for, so none is still starting when the cluster is stopped.
      const started = await Promise.allSettled(others.map((name) => cluster.#spawn(name, [cluster.#dialUrl(founder!)])));
      const failed = started.find((result) => result.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      for (const name of options.names) cluster.#clients.set(name, await connect(`ws://127.0.0.1:${ports.get(name)!}`, { token, reconnectMsMin: 50, reconnectMsMax: 500, connectTimeoutMs: 15_000 }));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The address other nodes dial to reach `name`: its proxy, or the node itself when unproxied. */
  #dialUrl(name: string): string {
    return `ws://127.0.0.1:${this.#options.proxied === false ? this.#ports.get(name)! : this.proxies.port(name)}`;
  }

  isRunning(name: string): boolean {
    return this.#running.has(name);
  }

  /** Starts node `name` from its data directory, joining through the others. */
  async restart(name: string): Promise<void> {
    await this.#spawn(name, this.names.filter((other) => other !== name).map((other) => this.#dialUrl(other)));
  }

  /** kill -9. */
  async kill(name: string): Promise<void> {
    const running = this.#running.get(name);
    if (running === undefined) return;
    await stopChild(running.child);
    await running.exited;
  }

  /** Asks replicas through the client connected to each one's node. */
  get transport(): KvTransport {
    return {
      ask: (replica, message, timeoutMs) => {
        const client = this.#clients.get(replica);
        if (client === undefined) return Promise.reject(new Error(`no client for ${replica}`));
        return client.ask(replicaRef(replica), message, { timeoutMs });
      },
    };
  }

  async status(name: string): Promise<RaftMetrics | undefined> {
    if (!this.#running.has(name)) return undefined;
    return (await this.transport.ask(name, { type: 'raft.status' }, 2_000).catch(() => undefined)) as RaftMetrics | undefined;
  }

  /** The leader all running (and listed) replicas agree on. */
  async leader(among: readonly string[] = this.names.filter((name) => this.isRunning(name)), timeoutMs = 30_000): Promise<string> {
    return waitFor(async () => {
      const statuses = await Promise.all(among.map((name) => this.status(name)));
      const leader = statuses.find((status) => status?.role === 'leader');
      if (leader === undefined) return undefined;
      return statuses.every((status) => status?.leader === leader.id && status.term === leader.term) ? leader.id : undefined;
    }, { timeoutMs, what: `an agreed leader among ${among.join(',')}\n${this.logs.join('\n')}` });
  }

  /** Waits until every replica has applied the same index and holds the same digest. */
  async converged(timeoutMs = 60_000): Promise<{ digest: string; appliedIndex: number; keys: number }> {
    return waitFor(async () => {
      const digests = await Promise.all(this.names.map((name) => this.transport.ask(name, { type: 'raft.digest' }, 3_000).catch(() => undefined) as Promise<{ ok: boolean; digest: string; appliedIndex: number; keys: number } | undefined>));
      const first = digests[0];
      if (first === undefined || !digests.every((digest) => digest?.ok === true && digest.digest === first.digest && digest.appliedIndex === first.appliedIndex)) return undefined;
      return first;
    }, { timeoutMs, what: 'every replica to converge' });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#clients.values()].map((client) => client.close().catch(() => undefined)));
    await Promise.all([...this.#running.values()].map(async (running) => {
      await stopChild(running.child);
      await running.exited;
    }));
    await this.proxies.close();
    for (const dir of this.#dirs.values()) await removeDir(dir);
  }

  async #spawn(name: string, seeds: readonly string[]): Promise<void> {
    const args = [
      ...(process.env.RAFT_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== ''),
      '--import', 'tsx', 'test/support/raft-node.ts', '--name', name, '--port', String(this.#ports.get(name)!), '--data', this.#dirs.get(name)!,
      '--secret', secret, '--token', token, '--peers', this.names.join(','), '--advertise', this.#dialUrl(name),
      '--tick-ms', String(this.#options.tickMs ?? 50), '--snapshot-threshold', String(this.#options.snapshotThreshold ?? 10_000),
      ...(seeds.length > 0 ? ['--seeds', seeds.join(',')] : []), ...(this.#options.nodeArgs?.(name) ?? []),
    ];
    // stdin stays open: the node exits when this process goes away, however it ends.
    const child = spawnChild(process.execPath, args, { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'pipe'] });
    const running: RunningNode = { child, output: '', exited: childExited(child).then(() => undefined) };
    this.#running.set(name, running);
    void running.exited.then(() => {
      if (this.#running.get(name) === running) this.#running.delete(name);
      this.logs.push(`--- ${name} exited ---\n${running.output.slice(-4_000)}`);
    });
    child.stderr!.on('data', (chunk: Buffer) => { running.output += chunk.toString(); });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        void stopChild(child);
        reject(new Error(`node ${name} did not start within ${startTimeoutMs} ms:\n${running.output}`));
      }, startTimeoutMs);
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
}
