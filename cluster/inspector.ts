/**
 * Cluster-wide inspection: assembles the supervision tree of every member (each node answers a
 * `control { op: 'tree' }` frame with its own snapshot) and streams lifecycle events from the whole
 * cluster to local subscribers. A peer forwards its events only while this node has subscribers, so an
 * idle cluster sends none. Dead-letter events stay local: they can arrive at message rates.
 */
import { describeError, type ActorSystem, type Clock, type InspectionEvent, type TimerHandle, type TreeSnapshot } from '../runtime/index.js';
import type { LinkFrame } from './core/frames.js';
import type { MemberStatus, MemberView } from './core/membership.js';
import type { LinkManager } from './links.js';
import type { Peer } from './peer.js';

/** One member's part of the cluster tree. */
export interface NodeTree {
  readonly node: string;
  readonly incarnation: number;
  readonly address: string;
  readonly status: MemberStatus;
  readonly tree?: TreeSnapshot;
  readonly error?: { readonly code: string; readonly message: string };
}

/** The supervision trees of every known member. */
export interface ClusterTree {
  readonly at: number;
  readonly nodes: readonly NodeTree[];
}

interface PendingTree {
  readonly resolve: (result: { tree?: TreeSnapshot; error?: { code: string; message: string } }) => void;
  readonly timer: TimerHandle;
}

/** Inspection across the cluster for one node. */
export class Inspector {
  readonly #system: ActorSystem;
  readonly #links: LinkManager;
  readonly #clock: Clock;
  readonly #treeTimeoutMs: number;
  readonly #subscribers = new Set<(event: InspectionEvent) => void>();
  readonly #pending = new Map<number, PendingTree>();
  readonly #detach: () => void;
  #nextId = 1;

  constructor(options: { system: ActorSystem; links: LinkManager; treeTimeoutMs: number }) {
    this.#system = options.system;
    this.#links = options.links;
    this.#clock = options.system.clock;
    this.#treeTimeoutMs = options.treeTimeoutMs;
    this.#detach = this.#system.inspect((event) => this.#local(event));
  }

  /** Every member's tree; members that cannot answer carry an error instead. */
  async tree(members: readonly MemberView[]): Promise<ClusterTree> {
    const nodes = await Promise.all(members.map(async (member): Promise<NodeTree> => {
      const base = { node: member.node, incarnation: member.incarnation, address: member.address, status: member.status };
      if (member.self) return { ...base, tree: this.#system.tree() };
      return { ...base, ...(await this.#remoteTree(member)) };
    }));
    return { at: this.#clock.now(), nodes };
  }

  /** Streams lifecycle events of every node to `subscriber`. */
  subscribe(subscriber: (event: InspectionEvent) => void): () => void {
    this.#subscribers.add(subscriber);
    if (this.#subscribers.size === 1) for (const peer of this.#links.peers.values()) peer.sendControl({ type: 'subscribe', topic: 'lifecycle', on: true });
    return () => {
      if (!this.#subscribers.delete(subscriber)) return;
      if (this.#subscribers.size === 0) for (const peer of this.#links.peers.values()) peer.sendControl({ type: 'subscribe', topic: 'lifecycle', on: false });
    };
  }

  /** A new link: renew this node's subscription on it. */
  linkUp(peer: Peer): void {
    if (this.#subscribers.size > 0) peer.sendControl({ type: 'subscribe', topic: 'lifecycle', on: true });
  }

  /** Handles an inspection control frame from a peer. */
  control(peer: Peer, frame: LinkFrame): void {
    switch (frame.type) {
      case 'control':
        this.#answerTree(peer, frame.id);
        break;
      case 'controlReply': {
        const pending = this.#pending.get(frame.id);
        if (pending === undefined) break;
        this.#pending.delete(frame.id);
        this.#clock.clearTimeout(pending.timer);
        if (!frame.ok) pending.resolve({ error: { code: frame.code, message: frame.message } });
        else if (isTree(frame.value)) pending.resolve({ tree: frame.value });
        else pending.resolve({ error: { code: 'FRAME_INVALID', message: 'the peer answered with something that is not a tree' } });
        break;
      }
      case 'subscribe':
        peer.forwardLifecycle = frame.on;
        break;
      case 'event':
        // Only events about the peer's own actors are believed.
        if (frame.event.node === peer.node) for (const subscriber of this.#subscribers) subscriber(frame.event);
        break;
      default:
        break;
    }
  }

  stop(): void {
    this.#detach();
    for (const [id, pending] of this.#pending) {
      this.#clock.clearTimeout(pending.timer);
      pending.resolve({ error: { code: 'SHUTTING_DOWN', message: 'node stopping' } });
      this.#pending.delete(id);
    }
  }

  #local(event: InspectionEvent): void {
    for (const subscriber of this.#subscribers) subscriber(event);
    if (event.type === 'deadLetter') return;
    for (const peer of this.#links.peers.values()) if (peer.forwardLifecycle) peer.sendControl({ type: 'event', topic: 'lifecycle', event });
  }

  #answerTree(peer: Peer, id: number): void {
    try {
      peer.sendControl({ type: 'controlReply', id, ok: true, value: this.#system.tree() });
    } catch (error) {
      // A behaviour's `describe` returned something that cannot cross the wire.
      const { code, message } = describeError(error);
      peer.sendControl({ type: 'controlReply', id, ok: false, code: code ?? 'ENCODE_FAILED', message });
    }
  }

  #remoteTree(member: MemberView): Promise<{ tree?: TreeSnapshot; error?: { code: string; message: string } }> {
    const peer = this.#links.peers.get(member.node);
    if (peer?.link === undefined || member.status === 'down' || member.status === 'removed') {
      return Promise.resolve({ error: { code: 'NODE_DOWN', message: `${member.node} is not reachable` } });
    }
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#pending.delete(id);
        resolve({ error: { code: 'REQUEST_TIMEOUT', message: `${member.node} did not answer within ${this.#treeTimeoutMs} ms` } });
      }, this.#treeTimeoutMs);
      this.#pending.set(id, { resolve, timer });
      peer.sendControl({ type: 'control', id, op: 'tree' });
    });
  }
}

function isTree(value: unknown): value is TreeSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const tree = value as Record<string, unknown>;
  return typeof tree.node === 'string' && typeof tree.path === 'string' && Array.isArray(tree.children);
}
