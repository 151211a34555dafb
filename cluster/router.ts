/**
 * The kernel's `RemoteRouter`: envelopes for other nodes go to their peer's stream, inbound stream
 * frames go to `ActorSystem.deliver`, and death watch spans nodes. It also turns every message the
 * cluster layer gives up on into a dead letter and, for an ask, a prompt typed failure instead of a
 * timeout.
 *
 * Sender identity: an inbound envelope's sender is stamped with the node the link authenticated
 * (`from.node` becomes the peer's name whatever the frame said), so `ctx.sender.node` of a message
 * from another node is the authenticated peer, never a claim of the sender. A frame that named another
 * node is counted (`inbound:SENDER_FORGED`). An envelope without a sender stays without one: the
 * receiving actor cannot tell which node sent it, and protocol actors refuse such messages. The same
 * holds for an ask's `replyTo`: the answer goes back to the node the ask came from, never to a node
 * the frame names (`inbound:REPLY_TO_FORGED`), so a peer cannot aim this node's replies at a third node.
 *
 * Delivery classes (core/lanes.ts): user envelopes are at-most-once (FIFO per pair) unless sent with
 * `sendReliable` (the bulk lane); the system messages that make death watch work (watch, unwatch,
 * terminated) always go reliably, on the notice lane, so a dropped connection cannot lose a watch or
 * a termination notice, and a backlog of bulk data cannot hold one up.
 */
import type { ActorSystem, Envelope, Ref, RemoteRouter, Terminated } from '../runtime/index.js';
import type { Counters } from './counters.js';
import { envelopeOf, type EnvelopeFrame, type StreamFrame } from './core/frames.js';
import { isTerminatedNotice } from './core/lanes.js';
import type { LinkManager } from './links.js';
import type { Abandoned, Peer } from './peer.js';

interface RemoteWatch {
  readonly target: Ref;
  readonly watcher: Ref;
}

/** Options of the router. */
export interface RouterOptions {
  readonly system: ActorSystem;
  readonly links: LinkManager;
  /** Membership's judgement: is `node` a member that is not down or removed? */
  readonly isUp: (node: string) => boolean;
  readonly dropped: Counters;
  /** Watches one peer may hold on this node's actors; more are refused (TOO_MANY_WATCHES). */
  readonly watchesPerPeerMax: number;
}

/** Outcome of a reliable send. */
export type SendResult = { readonly ok: true; readonly id: string } | { readonly ok: false; readonly code: string };

const watchKey = (target: Ref, watcher: Ref): string => `${target.path}\u0000${watcher.node}\u0000${watcher.path}`;

/** Routes envelopes between this node's kernel and its peers. */
export class Router implements RemoteRouter {
  readonly #system: ActorSystem;
  readonly #links: LinkManager;
  readonly #isUp: (node: string) => boolean;
  readonly #dropped: Counters;
  /** Watches this node's actors hold on remote actors, by remote node. */
  readonly #watches = new Map<string, Map<string, RemoteWatch>>();
  /** Watches remote actors hold on this node's actors, by remote node. */
  readonly #watchedBy = new Map<string, Map<string, RemoteWatch>>();
  readonly #watchesPerPeerMax: number;
  #sequence = 0;

  constructor(options: RouterOptions) {
    this.#watchesPerPeerMax = options.watchesPerPeerMax;
    this.#system = options.system;
    this.#links = options.links;
    this.#isUp = options.isUp;
    this.#dropped = options.dropped;
  }

  send(envelope: Envelope): void {
    // A terminated notice takes the notice lane whatever is asked here (core/lanes.ts).
    this.#send(envelope, false);
  }

  /**
   * Sends `body` to `target` at-least-once: acked, redelivered with backoff across reconnects, and
   * delivered once per envelope id within the receiver's dedupe window. Passing the same `id` again
   * (an idempotency key) has one effect. Refused with OUTBOX_FULL or UNKNOWN_NODE (a removed node).
   */
  sendReliable(target: Ref, body: unknown, options: { from?: Ref; id?: string } = {}): SendResult {
    this.#sequence += 1;
    const id = options.id ?? `${this.#system.node}.r.${this.#system.clock.now().toString(36)}.${this.#sequence}`;
    if (target.node === this.#system.node) {
      this.#system.tell(target, body, options.from);
      return { ok: true, id };
    }
    // A member that is down (but not removed) may only be partitioned away: its outbox keeps the
    // message for when the link comes back, within the outbox bound.
    const peer = this.#links.peers.get(target.node);
    if (peer === undefined) return { ok: false, code: 'UNKNOWN_NODE' };
    const envelope: Envelope = { id, to: target, body, ...(options.from ? { from: options.from } : {}) };
    const result = peer.sendStream({ type: 'envelope', envelope }, true);
    if (result.ok) return { ok: true, id };
    this.#undeliverable(envelope, result.code);
    return { ok: false, code: result.code };
  }

  isUp(node: string): boolean {
    return this.#isUp(node);
  }

  watch(target: Ref, watcher: Ref): void {
    const peer = this.#links.peers.get(target.node);
    if (peer === undefined || !this.#isUp(target.node)) {
      this.#system.tell(watcher, terminatedOf(target));
      return;
    }
    let watches = this.#watches.get(target.node);
    if (watches === undefined) this.#watches.set(target.node, (watches = new Map()));
    watches.set(watchKey(target, watcher), { target, watcher });
    const sent = peer.sendStream({ type: 'watch', target: target.path, watcher }, true);
    if (!sent.ok) {
      watches.delete(watchKey(target, watcher));
      this.#system.tell(watcher, terminatedOf(target));
    }
  }

  unwatch(target: Ref, watcher: Ref): void {
    this.#watches.get(target.node)?.delete(watchKey(target, watcher));
    this.#links.peers.get(target.node)?.sendStream({ type: 'unwatch', target: target.path, watcher }, true);
  }

  /** Hands one inbound stream frame from `peer` to the kernel. */
  deliverStream(peer: Peer, frame: StreamFrame): 'done' | 'retry' {
    if (frame.type === 'envelope') return this.#deliverEnvelope(peer, frame);
    // A peer may only register watchers that live on itself.
    if (frame.watcher.node !== peer.node) return 'done';
    const target: Ref = { node: this.#system.node, path: frame.target };
    let watchedBy = this.#watchedBy.get(peer.node);
    if (watchedBy === undefined) this.#watchedBy.set(peer.node, (watchedBy = new Map()));
    if (frame.type === 'watch') {
      const key = watchKey(target, frame.watcher);
      if (!watchedBy.has(key) && watchedBy.size >= this.#watchesPerPeerMax) {
        // Watches are keyed by what the peer chooses; past the bound a new one is refused, visibly.
        this.#dropped.add('inbound:TOO_MANY_WATCHES');
        this.#system.log.warn('cluster.refused', { code: 'TOO_MANY_WATCHES', remote: peer.node, path: frame.target, limit: this.#watchesPerPeerMax });
        peer.sendControl({ type: 'error', code: 'TOO_MANY_WATCHES', message: `watch of ${frame.target} refused: ${this.#watchesPerPeerMax} watches held for this node` });
        return 'done';
      }
      watchedBy.set(key, { target, watcher: frame.watcher });
      this.#system.watchFor(frame.target, frame.watcher);
    } else {
      watchedBy.delete(watchKey(target, frame.watcher));
      this.#system.unwatch(target, frame.watcher);
    }
    return 'done';
  }

  #deliverEnvelope(peer: Peer, frame: EnvelopeFrame): 'done' | 'retry' {
    const envelope = stampLink(envelopeOf(frame, this.#system.node), peer.node, this.#dropped);
    const body = envelope.body;
    if (isTerminatedNotice(body) && body.ref.node === peer.node) this.#watches.get(peer.node)?.delete(watchKey(body.ref, envelope.to));
    const result = this.#system.deliver(envelope);
    if (result.ok) return 'done';
    this.#dropped.add(`inbound:${result.code}`);
    // A reliable tell refused for a full mailbox or a stopping node is taken again later; an ask was
    // already answered with the failure, so it is not retried.
    const retry = frame.reliable !== undefined && envelope.corr === undefined && (result.code === 'MAILBOX_FULL' || result.code === 'STOPPED');
    return retry ? 'retry' : 'done';
  }

  /**
   * `node` was declared down: asks to it fail, local watchers of its actors hear `nodeDown`, and (when
   * `dropQueue`, i.e. no newer incarnation has linked meanwhile) its queued at-most-once messages go.
   */
  nodeDown(node: string, dropQueue = true): void {
    this.#system.nodeDown(node);
    const watches = this.#watches.get(node);
    this.#watches.delete(node);
    for (const { target, watcher } of watches?.values() ?? []) this.#system.tell(watcher, terminatedOf(target));
    // Its watches on our actors fired `nodeDown` on its side too (if it is alive at all); drop them.
    const watchedBy = this.#watchedBy.get(node);
    this.#watchedBy.delete(node);
    for (const { target, watcher } of watchedBy?.values() ?? []) this.#system.unwatch(target, watcher);
    if (dropQueue) this.#links.peers.get(node)?.dropQueued('NODE_DOWN');
  }

  /**
   * An inbound reliable frame the receiving side could not keep (its parking lot for full mailboxes
   * was full, or its sender was removed): a dead letter here, and an `error` frame naming the envelope
   * tells the sender, so the refusal is visible on both sides rather than silent.
   */
  rejectedInbound(peer: Peer, frame: StreamFrame, code: string): void {
    this.#dropped.add(`inbound:${code}`);
    if (frame.type !== 'envelope') return;
    this.#system.deadLetter(frame.body, frame.path, code);
    this.#system.log.warn('cluster.refused', { code, remote: peer.node, id: frame.id, path: frame.path, reason: 'reliable frame not kept: parking full' });
    peer.sendControl({ type: 'error', code, message: `reliable envelope ${frame.id} to ${frame.path} refused: ${code}` });
  }

  /** Reports messages the link layer gave up on: dead letters, and a typed failure for asks. */
  abandoned(_peer: Peer, items: readonly Abandoned[], code: string): void {
    for (const item of items) if (item.message.type === 'envelope') this.#undeliverable(item.message.envelope, code);
  }

  /** Returns the failure code, or undefined when the envelope was queued. */
  #send(envelope: Envelope, reliable: boolean): string | undefined {
    const node = envelope.to.node;
    const peer = this.#links.peers.get(node);
    const failure = peer === undefined ? 'UNKNOWN_NODE' : !this.#isUp(node) ? 'NODE_DOWN' : undefined;
    if (failure !== undefined) {
      this.#undeliverable(envelope, failure);
      return failure;
    }
    const result = peer!.sendStream({ type: 'envelope', envelope }, reliable);
    if (result.ok) return undefined;
    this.#undeliverable(envelope, result.code);
    return result.code;
  }

  #undeliverable(envelope: Envelope, code: string): void {
    this.#dropped.add(code);
    this.#system.deadLetter(envelope.body, `${envelope.to.node}:${envelope.to.path}`, code);
    const replyTo = envelope.replyTo;
    if (envelope.corr !== undefined && replyTo !== undefined && replyTo.node === this.#system.node) {
      this.#sequence += 1;
      this.#system.deliver({
        id: `${this.#system.node}.failure.${this.#sequence}`, to: replyTo, body: null, corr: envelope.corr,
        failure: { code, message: `message to ${envelope.to.node}:${envelope.to.path} not sent: ${code}` },
      });
    }
  }
}

/** The envelope with its sender's node and its reply address's node set to the authenticated peer `node`. */
function stampLink(envelope: Envelope, node: string, counters: Counters): Envelope {
  const from = envelope.from;
  const replyTo = envelope.replyTo;
  const senderForged = from !== undefined && from.node !== node;
  const replyToForged = replyTo !== undefined && replyTo.node !== node;
  if (!senderForged && !replyToForged) return envelope;
  const stamped: { -readonly [Key in keyof Envelope]: Envelope[Key] } = { ...envelope };
  if (senderForged) {
    counters.add('inbound:SENDER_FORGED');
    stamped.from = { node, path: from.path };
  }
  if (replyToForged) {
    counters.add('inbound:REPLY_TO_FORGED');
    stamped.replyTo = { node, path: replyTo.path };
  }
  return stamped;
}

function terminatedOf(target: Ref): Terminated {
  return { type: 'terminated', ref: target, reason: 'nodeDown' };
}
