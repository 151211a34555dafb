/**
 * A Raft group of replicas in one node (one ActorSystem, one root supervisor), each on its own real
 * data directory and its own fault-injecting disk, for integration tests. Replicas talk through the
 * kernel exactly as they would across nodes (refs are `{ node, path }`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { raftReplica, RaftKvClient, type KvOperationRecord, type Membership, type KvTransport, type RaftMetrics, type RaftReplicaOptions } from '../../actors/raft/index.js';
import type { Ref, TreeSnapshot } from '../../runtime/index.js';
import { createNode, type TroupeNode } from '../../supervisors/index.js';
import { FaultyDisk } from './raft-faulty-disk.js';
import { waitFor } from './wait.js';

/** Options of a local group. */
export interface LocalGroupOptions {
  readonly ids: readonly string[];
  readonly tickMs?: number;
  readonly raft?: RaftReplicaOptions['raft'];
  readonly requestTimeoutMs?: number;
  readonly storageLimits?: RaftReplicaOptions['storageLimits'];
}

/** A running local group. */
export class LocalRaftGroup {
  readonly ids: readonly string[];
  readonly node: TroupeNode;
  readonly root: string;
  readonly disks = new Map<string, FaultyDisk>();
  readonly #options: LocalGroupOptions;
  readonly #peers: Record<string, Ref>;

  private constructor(node: TroupeNode, root: string, options: LocalGroupOptions) {
    this.node = node;
    this.root = root;
    this.ids = options.ids;
    this.#options = options;
    this.#peers = Object.fromEntries(options.ids.map((id) => [id, { node: node.name, path: `/root/raft-${id}` }]));
    for (const id of options.ids) this.disks.set(id, new FaultyDisk());
  }

  /** Starts a node and every replica in it. */
  static async start(options: LocalGroupOptions): Promise<LocalRaftGroup> {
    const node = await createNode({ name: 'local', maxRestarts: 20, periodMs: 10_000, backoff: { minMs: 10, maxMs: 200 } });
    const group = new LocalRaftGroup(node, mkdtempSync(path.join(tmpdir(), 'troupe-raft-')), options);
    for (const id of options.ids) await group.startReplica(id);
    return group;
  }

  /** Where replica `id` lives (a replica outside `ids`, one joining later, at the same layout). */
  ref(id: string): Ref {
    return this.#peers[id] ?? { node: this.node.name, path: `/root/raft-${id}` };
  }

  directory(id: string): string {
    return path.join(this.root, id);
  }

  /**
   * Starts (again) the replica `id` from its data directory. A replica outside `ids` (one joining the
   * group) knows the group and itself, and starts with `initialMembership` (the founding membership).
   */
  async startReplica(id: string, initialMembership?: Membership): Promise<void> {
    const peers = this.#peers[id] === undefined ? { ...this.#peers, [id]: this.ref(id) } : this.#peers;
    const behaviour = raftReplica({
      id, peers, directory: this.directory(id), disk: this.disks.get(id)!, tickMs: this.#options.tickMs ?? 20,
      requestTimeoutMs: this.#options.requestTimeoutMs ?? 2_000, ...(this.#options.raft ? { raft: this.#options.raft } : {}),
      ...(this.#options.storageLimits ? { storageLimits: this.#options.storageLimits } : {}),
      ...(initialMembership ? { initialMembership } : {}),
    });
    await this.node.startChild({ id: `raft-${id}`, start: behaviour, restart: 'permanent', shutdownMs: 5_000, kind: 'worker' });
  }

  /** Stops the replica `id` for good (its files stay). */
  async stopReplica(id: string): Promise<void> {
    await this.node.stopChild(`raft-${id}`);
  }

  /** The transport a client uses: the kernel's ask. */
  get transport(): KvTransport {
    return { ask: (replica, message, timeoutMs) => this.node.system.ask(this.ref(replica), message, { timeoutMs }) };
  }

  client(clientId: string, record?: (operation: KvOperationRecord) => void): RaftKvClient {
    return new RaftKvClient({ clientId, replicas: this.ids, transport: this.transport, attemptTimeoutMs: 1_500, giveUpMs: 20_000, ...(record ? { record } : {}) });
  }

  async status(id: string): Promise<RaftMetrics> {
    return this.node.system.ask<RaftMetrics>(this.ref(id), { type: 'raft.status' }, { timeoutMs: 2_000 });
  }

  /** Waits for a leader that every listed replica agrees on; returns its id. */
  async leader(among: readonly string[] = this.ids, timeoutMs = 20_000): Promise<string> {
    return waitFor(async () => {
      const statuses = await Promise.all(among.map((id) => this.status(id).catch(() => undefined)));
      const leader = statuses.find((status) => status?.role === 'leader');
      if (leader === undefined) return undefined;
      return statuses.every((status) => status?.leader === leader.id && status.term === leader.term) ? leader.id : undefined;
    }, { timeoutMs, what: 'an agreed leader' });
  }

  /** Waits until every listed replica has applied the same index and holds the same state digest. */
  async converged(among: readonly string[] = this.ids, timeoutMs = 20_000): Promise<{ digest: string; appliedIndex: number; keys: number }> {
    return waitFor(async () => {
      const digests = await Promise.all(among.map((id) => this.node.system.ask<{ ok: boolean; digest: string; appliedIndex: number; keys: number }>(this.ref(id), { type: 'raft.digest' }, { timeoutMs: 2_000 }).catch(() => undefined)));
      const first = digests[0];
      if (first === undefined || !digests.every((digest) => digest?.ok === true && digest.digest === first.digest && digest.appliedIndex === first.appliedIndex)) return undefined;
      return first;
    }, { timeoutMs, what: 'replicas to converge' });
  }

  /** The replica's entry in the node's tree snapshot. */
  tree(id: string): TreeSnapshot | undefined {
    const root = this.node.tree().children.find((child) => child.path === '/root');
    return root?.children.find((child) => child.path === `/root/raft-${id}`);
  }

  async stop(): Promise<void> {
    await this.node.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}
