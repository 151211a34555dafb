/**
 * The node side of the client protocol (core/client-frames.ts). A client must present a valid token
 * in its first frame, before a deadline; without one it is refused with CLIENT_UNAUTHORIZED and sees
 * nothing. After that every request is authorized against the token's scopes (core/scopes.ts) before
 * anything is done for it, and refused with FORBIDDEN when no scope allows it; requests are rate
 * limited, asks in flight are bounded, and events are dropped (and counted) rather than buffered
 * without bound for a client that does not read.
 *
 * What a client sends reaches actors without a sender (`ctx.sender` is undefined): a sender ref is
 * an identity the node vouches for, and a client is no actor of any node.
 */
import { createHash } from 'node:crypto';
import type { WebSocket } from 'ws';
import { describeError, type ActorSystem, type Clock, type Codec, type Logger, type TimerHandle } from '../runtime/index.js';
import type { AcceptedSocket } from './admission.js';
import type { ClusterSettings } from './config.js';
import type { Counters } from './counters.js';
import { ClusterError, closeCodes } from './errors.js';
import { parseClientFrame, type ClientFrame, type ClientRequest, type ServerFrame, type Topic } from './core/client-frames.js';
import { protocolVersion } from './core/frames.js';
import { constantTimeEqual } from './core/handshake.js';
import { createBucket, take, type TokenBucket } from './core/rate-limit.js';
import { authorizeRead, authorizeSend, type Authorization, type Grant, type TokenSpec } from './core/scopes.js';
import { FramedSocket, type SocketLimits } from './socket.js';
import { handshakeLimits } from './handshake-socket.js';

/** What the client server needs from the node. */
export interface ClientServices {
  readonly system: ActorSystem;
  readonly incarnation: number;
  tree(): Promise<unknown>;
  members(): unknown;
  subscribe(topic: Topic, subscriber: (event: unknown) => void): () => void;
}

/** Options of the client server. */
export interface ClientServerOptions {
  readonly codec: Codec;
  readonly clock: Clock;
  readonly settings: ClusterSettings;
  /** The tokens clients may present, with their scopes (checked: names and secrets unique). */
  readonly tokens: readonly TokenSpec[];
  readonly services: ClientServices;
  readonly counters: Counters;
  /** Where refusals are logged (`cluster.refused`). */
  readonly log: Logger;
}

/** Accepts client connections for one node. */
export class ClientServer {
  readonly options: ClientServerOptions;
  readonly #tokens: readonly { readonly digest: Uint8Array; readonly grant: Grant }[];
  readonly #connections = new Set<ClientConnection>();
  #authenticated = 0;

  constructor(options: ClientServerOptions) {
    this.options = options;
    this.#tokens = options.tokens.map((token) => ({ digest: digest(token.secret), grant: { name: token.name, scopes: token.scopes } }));
  }

  /** Connected clients (authenticated or not yet). */
  get connections(): number {
    return this.#connections.size;
  }

  /** Authenticated clients. */
  get authenticatedClients(): number {
    return this.#authenticated;
  }

  /**
   * Takes a WebSocket on the client path. Its place among unauthenticated sockets was granted by the
   * upgrade's budget; a slot among `clientsMax` is taken only by a valid hello.
   */
  accept(ws: WebSocket, accepted: AcceptedSocket): void {
    const connection: ClientConnection = new ClientConnection(this, ws, accepted, () => {
      this.#connections.delete(connection);
      if (connection.holdsSlot) this.#authenticated -= 1;
    });
    this.#connections.add(connection);
  }

  /** Takes a slot for an authenticated client, or refuses when every slot is taken. */
  takeSlot(): boolean {
    if (this.#authenticated >= this.options.settings.clientsMax) return false;
    this.#authenticated += 1;
    return true;
  }

  /** Logs and counts a refusal of a client connection. */
  refused(code: string, remote: string, message?: string): void {
    this.options.counters.add(`client:${code}`);
    this.options.log.warn('cluster.refused', { code, remote, endpoint: 'client', ...(message !== undefined ? { reason: message.slice(0, 200) } : {}) });
  }

  /**
   * The grant of the configured token `token` is, or undefined. Every configured digest is compared,
   * in constant time each, so neither the time taken nor which token matched leaks the secrets.
   */
  authenticate(token: string | undefined): Grant | undefined {
    if (token === undefined || this.#tokens.length === 0) return undefined;
    const candidate = digest(token);
    let matched: Grant | undefined;
    for (const expected of this.#tokens) {
      const equal = constantTimeEqual(expected.digest, candidate);
      if (equal) matched = expected.grant;
    }
    return matched;
  }

  /** Closes every client connection. */
  stop(): void {
    for (const connection of this.#connections) connection.close();
  }
}

/** One client connection: hello first, then rate-limited requests. */
class ClientConnection {
  readonly #server: ClientServer;
  readonly #socket: FramedSocket;
  readonly #deadline: TimerHandle;
  /** At most one subscription per topic (a closed set), so the map is bounded by the topics. */
  readonly #subscriptions = new Map<Topic, () => void>();
  readonly #remote: string;
  readonly #accepted: AcceptedSocket;
  /** Event frames handed to the socket and not yet written out. */
  #eventsInFlight = 0;
  #authenticated = false;
  holdsSlot = false;
  /** The token's grant, once authenticated. */
  #grant: Grant | undefined;
  #asksInFlight = 0;
  #requests: TokenBucket;

  constructor(server: ClientServer, ws: WebSocket, accepted: AcceptedSocket, onClosed: () => void) {
    this.#server = server;
    this.#remote = accepted.remote;
    this.#accepted = accepted;
    const { codec, clock, settings } = server.options;
    this.#requests = createBucket(settings.clientRequestsPerSecond, clock.now());
    this.#socket = new FramedSocket(ws, {
      codec, clock, limits: handshakeLimits(settings), onProblem: (code) => server.refused(code, this.#remote),
      handler: {
        frames: (frames) => this.#receive(frames),
        closed: () => {
          clock.clearTimeout(this.#deadline);
          for (const unsubscribe of this.#subscriptions.values()) unsubscribe();
          this.#subscriptions.clear();
          onClosed();
        },
      },
    });
    this.#deadline = clock.setTimeout(() => {
      if (!this.#authenticated) this.refuse('HANDSHAKE_TIMEOUT', `no hello within ${settings.handshakeTimeoutMs} ms`);
    }, settings.handshakeTimeoutMs);
  }

  /** Refuses the client with a typed `refused` frame and closes the connection. */
  refuse(code: string, message: string): void {
    this.#server.refused(code, this.#remote, message);
    this.#send({ type: 'refused', code, message });
    this.#socket.close(code === 'CLIENT_UNAUTHORIZED' ? closeCodes.unauthorized : closeCodes.handshakeInvalid, code);
  }

  close(): void {
    this.#socket.close(closeCodes.goingAway, 'SHUTTING_DOWN');
  }

  #receive(frames: readonly unknown[]): void {
    for (const raw of frames) {
      if (this.#socket.closed) return;
      const parsed = parseClientFrame(raw);
      if (!parsed.ok) {
        if (this.#authenticated) this.#socket.refuse(parsed.code, parsed.message);
        else this.refuse('HANDSHAKE_INVALID', parsed.message);
      } else if (parsed.frame.type === 'hello') {
        this.#hello(parsed.frame);
      } else if (!this.#authenticated) {
        this.refuse('CLIENT_UNAUTHORIZED', 'hello with a token first');
      } else {
        this.#request(parsed.frame);
      }
    }
  }

  #hello(frame: Extract<ClientFrame, { type: 'hello' }>): void {
    if (this.#authenticated) {
      this.#socket.refuse('HANDSHAKE_INVALID', 'already authenticated');
      return;
    }
    if (frame.version !== protocolVersion) return this.refuse('PROTOCOL_VERSION', `protocol version ${frame.version} is not ${protocolVersion}`);
    const grant = this.#server.authenticate(frame.token);
    if (grant === undefined) return this.refuse('CLIENT_UNAUTHORIZED', 'a valid client token is required');
    const { clock, settings, services } = this.#server.options;
    if (!this.#server.takeSlot()) return this.refuse('TOO_MANY_CLIENTS', `all ${settings.clientsMax} client slots are taken`);
    this.holdsSlot = true;
    this.#accepted.authenticated();
    this.#authenticated = true;
    this.#grant = grant;
    clock.clearTimeout(this.#deadline);
    this.#socket.setLimits(clientLimits(settings));
    this.#send({ type: 'welcome', node: services.system.node, incarnation: services.incarnation, version: protocolVersion });
  }

  #request(request: ClientRequest): void {
    const { clock, settings, counters } = this.#server.options;
    const taken = take(this.#requests, 1, clock.now());
    this.#requests = taken.bucket;
    if (!taken.allowed) {
      counters.add('client:RATE_LIMITED');
      this.#send({ type: 'response', id: request.id, ok: false, code: 'RATE_LIMITED', message: 'request rate limit exceeded' });
      return;
    }
    if (request.op !== 'ask') {
      void this.#serve(request);
      return;
    }
    if (this.#asksInFlight >= settings.clientAsksInFlightMax) {
      this.#send({ type: 'response', id: request.id, ok: false, code: 'TOO_MANY_REQUESTS', message: 'too many asks in flight' });
      return;
    }
    this.#asksInFlight += 1;
    void this.#serve(request).finally(() => { this.#asksInFlight -= 1; });
  }

  async #serve(request: ClientRequest): Promise<void> {
    try {
      const value = await this.#perform(request);
      this.#send({ type: 'response', id: request.id, ok: true, value });
    } catch (error) {
      const { code, message } = describeError(error);
      this.#send({ type: 'response', id: request.id, ok: false, code: code ?? 'FAILED', message });
    }
  }

  async #perform(request: ClientRequest): Promise<unknown> {
    const { services, counters } = this.#server.options;
    const authorization = this.#authorize(request);
    if (!authorization.ok) {
      counters.add('client:FORBIDDEN');
      const target = request.op === 'tell' || request.op === 'ask' ? `${request.target.node}:${request.target.path}` : undefined;
      services.system.log.warn('client.forbidden', { token: this.#grant!.name, op: request.op, ...(target !== undefined ? { target } : {}), reason: authorization.message });
      throw new ClusterError('FORBIDDEN', authorization.message, { context: { op: request.op } });
    }
    switch (request.op) {
      case 'tell':
        services.system.tell(request.target, request.body);
        return null;
      case 'ask':
        return services.system.ask(request.target, request.body, request.timeoutMs === undefined ? undefined : { timeoutMs: request.timeoutMs });
      case 'tree':
        return services.tree();
      case 'members':
        return services.members();
      case 'subscribe': {
        const topic = request.topic;
        if (this.#subscriptions.has(topic)) return null;
        this.#subscriptions.set(topic, services.subscribe(topic, (event) => this.#event(topic, event)));
        return null;
      }
      case 'unsubscribe':
        this.#subscriptions.get(request.topic)?.();
        this.#subscriptions.delete(request.topic);
        return null;
    }
  }

  /**
   * Sends one event, or drops this subscriber when it has fallen behind: more than
   * `subscriberEventsMax` events or `subscriberBytesMax` bytes not yet written out. A dropped subscriber
   * gets a final `error` frame (SLOW_SUBSCRIBER) and is counted; it may subscribe again.
   */
  #event(topic: Topic, event: unknown): void {
    if (this.#socket.closed || !this.#subscriptions.has(topic)) return;
    const { settings } = this.#server.options;
    if (this.#eventsInFlight >= settings.subscriberEventsMax || this.#socket.bufferedAmount >= settings.subscriberBytesMax) {
      this.#subscriptions.get(topic)?.();
      this.#subscriptions.delete(topic);
      this.#server.refused('SLOW_SUBSCRIBER', this.#remote, `${topic} subscriber dropped: ${this.#eventsInFlight} events, ${this.#socket.bufferedAmount} bytes unsent`);
      this.#socket.sendFrames([{ type: 'error', code: 'SLOW_SUBSCRIBER', message: `${topic} subscription dropped: the client did not keep up` } satisfies ServerFrame]);
      return;
    }
    this.#eventsInFlight += 1;
    try {
      this.#socket.sendFrames([{ type: 'event', topic, event } satisfies ServerFrame], () => { this.#eventsInFlight -= 1; });
    } catch (error) {
      this.#eventsInFlight -= 1;
      throw error;
    }
  }

  /** Checks the request against the token's scopes before anything is done for it. */
  #authorize(request: ClientRequest): Authorization {
    const grant = this.#grant!;
    switch (request.op) {
      case 'tell':
      case 'ask':
        return authorizeSend(grant, request.target.path, request.body);
      case 'tree':
      case 'members':
        return authorizeRead(grant, request.op);
      case 'subscribe':
        return authorizeRead(grant, `subscribe:${request.topic}`);
      case 'unsubscribe':
        return { ok: true };
    }
  }

  #send(frame: ServerFrame): void {
    if (this.#socket.closed) return;
    try {
      this.#socket.sendFrames([frame]);
    } catch (error) {
      // A reply value that is not plain data (or too large) is answered with the encode failure.
      if (frame.type !== 'response') throw error;
      const { code, message } = describeError(error);
      this.#socket.sendFrames([{ type: 'response', id: frame.id, ok: false, code: code ?? 'ENCODE_FAILED', message } satisfies ServerFrame]);
    }
  }
}

/**
 * Socket limits of an authenticated client. The message rate is a safety net above the request
 * rate: requests over the request rate get RATE_LIMITED answers, and only a client flooding far
 * beyond it has its messages refused (and, past the error budget, its connection closed).
 */
function clientLimits(settings: ClusterSettings): SocketLimits {
  return {
    messageBytesMax: settings.frameBytesMax, framesPerMessageMax: 64, messagesPerSecond: settings.clientRequestsPerSecond * 4,
    bytesPerSecond: settings.inboundBytesPerSecond, errorsMax: settings.errorsMax, errorWindowMs: settings.errorWindowMs, idleMs: undefined,
  };
}

function digest(token: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(token, 'utf8').digest());
}
