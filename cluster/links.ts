/**
 * The links of one node: accepts and dials connections, runs the handshake, keeps one link per peer
 * (core/tie-break.ts), redials lost links with backoff, dials seeds until the node has joined, and
 * sends heartbeats on every link. What flows over a link is the business of `Peer` and the router.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Clock, Codec, Logger, Rng, TimerHandle } from '../runtime/index.js';
import type { AcceptedSocket } from './admission.js';
import type { ClusterSettings } from './config.js';
import { closeCodes } from './errors.js';
import { backoffDelayMs } from './core/backoff.js';
import { nonceBytes, type LinkFrame, type StreamFrame } from './core/frames.js';
import type { Identity, PeerIdentity } from './core/handshake.js';
import { decideInbound, type InboundDecision } from './core/tie-break.js';
import { acceptHandshake, dialHandshake, type Authenticated, type HandshakeContext } from './handshake-socket.js';
import { Peer, type Abandoned, type PeerHost } from './peer.js';
import type { SocketLimits } from './socket.js';

/** What the link layer reports upward (to the router). */
export interface LinkHandler {
  linkUp(peer: Peer, identity: PeerIdentity): void;
  linkDown(peer: Peer, incarnation: number): void;
  deliverStream(peer: Peer, frame: StreamFrame): 'done' | 'retry';
  control(peer: Peer, frame: LinkFrame): void;
  heartbeat(peer: Peer): void;
  abandoned(peer: Peer, items: readonly Abandoned[], code: string): void;
  /** An inbound reliable frame this node could not keep (see PeerHost.rejectedInbound). */
  rejectedInbound(peer: Peer, frame: StreamFrame, code: string): void;
  /** A refusal or failure, counted by `code` (metrics). */
  problem(code: string): void;
  /** True while the node still needs its seeds (it has not joined yet). */
  seedsWanted(): boolean;
  /** A dial failed (`seed`: to a seed address, before the node knows who answers there). */
  dialFailed(address: string, code: string, message: string, seed: boolean): void;
}

/** Options of the link manager. */
export interface LinkManagerOptions {
  readonly self: Identity;
  readonly secret: Uint8Array;
  readonly codec: Codec;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly settings: ClusterSettings;
  readonly tls?: HandshakeContext['tls'];
  readonly handler: LinkHandler;
  /** Where refusals (`cluster.refused`) and failed dials (`cluster.dialFailed`) are logged. */
  readonly log: Logger;
}

interface DialState {
  failures: number;
  cancel: (() => void) | undefined;
  timer: TimerHandle | undefined;
}

/** Owns every peer and connection of the node. */
export class LinkManager implements PeerHost {
  readonly codec: Codec;
  readonly clock: Clock;
  readonly settings: ClusterSettings;
  readonly peers = new Map<string, Peer>();
  readonly #options: LinkManagerOptions;
  readonly #context: HandshakeContext;
  /** Dial state per peer name (members) or per address (seeds, name not yet known). */
  readonly #dials = new Map<string, DialState>();
  readonly #seeds = new Set<string>();
  readonly #inbound = new Set<WebSocket>();
  #heartbeatTimer: TimerHandle | undefined;
  #stopped = false;

  constructor(options: LinkManagerOptions) {
    this.#options = options;
    this.codec = options.codec;
    this.clock = options.clock;
    this.settings = options.settings;
    this.#context = {
      self: options.self, secret: options.secret, codec: options.codec, clock: options.clock, settings: options.settings,
      onProblem: (code) => options.handler.problem(code), nonce: () => new Uint8Array(randomBytes(nonceBytes)), log: options.log,
      ...(options.tls ? { tls: options.tls } : {}),
    };
    this.#armHeartbeat();
  }

  /** Limits of an authenticated link. */
  linkLimits(): SocketLimits {
    const settings = this.settings;
    return {
      messageBytesMax: settings.frameBytesMax, framesPerMessageMax: settings.framesPerMessageMax, messagesPerSecond: settings.inboundMessagesPerSecond,
      bytesPerSecond: settings.inboundBytesPerSecond, errorsMax: settings.errorsMax, errorWindowMs: settings.errorWindowMs, idleMs: settings.linkIdleMs,
    };
  }

  /** Takes an inbound WebSocket on the cluster path and runs the acceptor handshake on it. */
  accept(ws: WebSocket, accepted: AcceptedSocket): void {
    if (this.#stopped) {
      ws.close(closeCodes.goingAway, 'SHUTTING_DOWN');
      return;
    }
    this.#inbound.add(ws);
    ws.once('close', () => this.#inbound.delete(ws));
    acceptHandshake(ws, this.#context, (peer) => this.#decide(peer), {
      authenticated: (result) => {
        accepted.authenticated();
        this.#adopt(result);
      },
      failed: (code) => this.#options.handler.problem(`handshake:${code}`),
    }, accepted.remote);
  }

  /** Keeps a link to `node` at `address`: dials now if there is none and no dial is pending. */
  ensure(node: string, address: string): Peer {
    const peer = this.#peer(node, address);
    if (address !== '') peer.address = address;
    if (peer.link === undefined) this.#dialSoon(node, 0);
    return peer;
  }

  /** Dials `address` as a seed until the node has joined (or the seed turns out to be this node). */
  addSeed(address: string): void {
    if (this.#seeds.has(address)) return;
    this.#seeds.add(address);
    this.#dialSeed(address, 0);
  }

  /** Stops dialling `node`, closes its link and abandons everything queued for it. */
  forget(node: string, code: string): void {
    const peer = this.peers.get(node);
    this.#cancelDial(node);
    if (peer === undefined) return;
    this.peers.delete(node);
    const link = peer.link;
    peer.detach();
    link?.socket.close(closeCodes.goingAway, code);
    peer.abandon(code);
  }

  /** Closes every link and stops dialling. */
  stop(): void {
    this.#stopped = true;
    if (this.#heartbeatTimer !== undefined) this.clock.clearTimeout(this.#heartbeatTimer);
    for (const key of [...this.#dials.keys()]) this.#cancelDial(key);
    for (const peer of this.peers.values()) {
      const link = peer.link;
      peer.detach();
      link?.socket.close(closeCodes.goingAway, 'SHUTTING_DOWN');
      peer.abandon('SHUTTING_DOWN');
    }
    for (const ws of this.#inbound) ws.terminate();
  }

  // ---- PeerHost: delegated to the handler ----

  deliverStream(peer: Peer, frame: StreamFrame): 'done' | 'retry' {
    return this.#options.handler.deliverStream(peer, frame);
  }

  control(peer: Peer, frame: LinkFrame): void {
    this.#options.handler.control(peer, frame);
  }

  heartbeat(peer: Peer): void {
    this.#options.handler.heartbeat(peer);
  }

  abandoned(peer: Peer, items: readonly Abandoned[], code: string): void {
    this.#options.handler.abandoned(peer, items, code);
  }

  rejectedInbound(peer: Peer, frame: StreamFrame, code: string): void {
    this.#options.handler.rejectedInbound(peer, frame, code);
  }

  problem(code: string): void {
    this.#options.handler.problem(code);
  }

  // ---- internals ----

  #peer(node: string, address: string | undefined): Peer {
    let peer = this.peers.get(node);
    if (peer === undefined) {
      peer = new Peer(node, address === '' ? undefined : address, this);
      this.peers.set(node, peer);
    }
    return peer;
  }

  #decide(identity: PeerIdentity): InboundDecision {
    const peer = this.peers.get(identity.node);
    return decideInbound(this.#options.self.node, identity, {
      knownIncarnation: peer?.incarnation,
      current: peer?.link === undefined ? undefined : { incarnation: peer.link.incarnation, dialledByPeer: peer.link.dialledByPeer },
      dialling: this.#dialling(identity.node, identity.address),
    });
  }

  /** True while a dial to `node` is in progress, as a member or as a seed at `address`. */
  #dialling(node: string, address: string | undefined): boolean {
    if (this.#dials.get(node)?.cancel !== undefined) return true;
    return address !== undefined && this.#dials.get(`seed:${address}`)?.cancel !== undefined;
  }

  #adopt(result: Authenticated): void {
    const { socket, peer: identity, dialledByPeer } = result;
    if (this.#stopped) {
      socket.close(closeCodes.goingAway, 'SHUTTING_DOWN');
      return;
    }
    const peer = this.#peer(identity.node, identity.address);
    if (identity.address !== '') peer.address = identity.address;
    if (peer.incarnation !== undefined && identity.incarnation < peer.incarnation) {
      socket.close(closeCodes.duplicate, 'STALE_INCARNATION');
      return;
    }
    if (dialledByPeer) {
      this.#cancelDial(identity.node);
      if (identity.address !== '') this.#cancelDial(`seed:${identity.address}`);
    }
    const dial = this.#dials.get(identity.node);
    if (dial !== undefined) dial.failures = 0;
    // A replaced link is not a lost one: the peer stays connected through the new socket (and a newer
    // incarnation retires the old one through membership's linkUp).
    const previous = peer.link;
    if (previous !== undefined) {
      peer.detach();
      previous.socket.close(closeCodes.replaced, 'REPLACED');
    }
    socket.setLimits(this.linkLimits());
    peer.attach(socket, identity.incarnation, dialledByPeer, () => this.#closed(peer, socket));
    this.#options.handler.linkUp(peer, identity);
  }

  #closed(peer: Peer, socket: Authenticated['socket']): void {
    const link = peer.link;
    if (link === undefined || link.socket !== socket) return;
    peer.detach();
    this.#options.handler.linkDown(peer, link.incarnation);
    if (this.peers.get(peer.node) === peer) this.#dialSoon(peer.node, this.settings.reconnectMsMin);
  }

  #dialSoon(node: string, delayMs: number): void {
    if (this.#stopped) return;
    let dial = this.#dials.get(node);
    if (dial === undefined) {
      dial = { failures: 0, cancel: undefined, timer: undefined };
      this.#dials.set(node, dial);
    }
    if (dial.cancel !== undefined || dial.timer !== undefined) return;
    const state = dial;
    state.timer = this.clock.setTimeout(() => {
      state.timer = undefined;
      this.#dialNow(node, state);
    }, delayMs);
  }

  #dialNow(node: string, state: DialState): void {
    const peer = this.peers.get(node);
    if (this.#stopped || peer === undefined || peer.link !== undefined || peer.address === undefined) return;
    if (this.#dials.get(`seed:${peer.address}`)?.cancel !== undefined) {
      // A seed dial to the same address is under way; a second connection would only lose the tie-break.
      this.#dialSoon(node, this.settings.reconnectMsMin);
      return;
    }
    state.cancel = dialHandshake(peer.address, this.#context, {
      authenticated: (result) => {
        state.cancel = undefined;
        state.failures = 0;
        this.#adopt(result);
      },
      failed: (code, message) => {
        state.cancel = undefined;
        if (code === 'CANCELLED') return;
        this.#options.handler.problem(`dial:${code}`);
        this.#options.handler.dialFailed(peer.address!, code, message, false);
        state.failures += 1;
        const current = this.peers.get(node);
        if (current !== undefined && current.link === undefined) this.#dialSoon(node, this.#backoff(state.failures));
      },
    });
  }

  #dialSeed(address: string, failures: number): void {
    const key = `seed:${address}`;
    const state: DialState = { failures, cancel: undefined, timer: undefined };
    this.#dials.set(key, state);
    state.cancel = dialHandshake(address, this.#context, {
      authenticated: (result) => {
        this.#dials.delete(key);
        this.#adopt(result);
      },
      failed: (code, message) => {
        state.cancel = undefined;
        if (code === 'CANCELLED' || code === 'SELF_CONNECT') {
          this.#dials.delete(key);
          return;
        }
        this.#options.handler.problem(`seed:${code}`);
        this.#options.handler.dialFailed(address, code, message, true);
        state.timer = this.clock.setTimeout(() => {
          this.#dials.delete(key);
          if (!this.#stopped && this.#options.handler.seedsWanted()) this.#dialSeed(address, failures + 1);
        }, this.#backoff(failures + 1));
      },
    });
  }

  #cancelDial(key: string): void {
    const dial = this.#dials.get(key);
    if (dial === undefined) return;
    this.#dials.delete(key);
    if (dial.timer !== undefined) this.clock.clearTimeout(dial.timer);
    dial.cancel?.();
  }

  #backoff(failures: number): number {
    const settings = this.settings;
    return backoffDelayMs({ delayMsMin: settings.reconnectMsMin, delayMsMax: settings.reconnectMsMax, jitter: settings.reconnectJitter }, failures, this.#options.rng.next());
  }

  #armHeartbeat(): void {
    const beat = (): void => {
      if (this.#stopped) return;
      const nowMs = this.clock.now();
      for (const peer of this.peers.values()) peer.sendHeartbeat(nowMs);
      this.#heartbeatTimer = this.clock.setTimeout(beat, this.settings.heartbeatIntervalMs);
    };
    this.#heartbeatTimer = this.clock.setTimeout(beat, this.settings.heartbeatIntervalMs);
  }
}
