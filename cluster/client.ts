/**
 * The client SDK: talk to a cluster from any Node.js program without joining it.
 *
 *   import { connect } from 'troupe/client';
 *   const client = await connect('ws://host:7401', { token });
 *   await client.tell({ node: 'n2', path: '/root/worker' }, { type: 'job' });
 *   const reply = await client.ask({ node: 'n3', path: '/root/demo/echo' }, { hello: 1 });
 *   const { nodes } = await client.tree();
 *   const stop = await client.subscribe('lifecycle', (event) => console.log(event));
 *
 * The client connects to one node, which relays its messages (clients are not members and hold no
 * links to other nodes). Without a valid token `connect` rejects with CLIENT_UNAUTHORIZED. After a
 * lost connection the client reconnects with backoff and renews its subscriptions; requests made while
 * it is disconnected fail at once with CONNECTION_LOST.
 */
import { WebSocket, type ClientOptions as WsClientOptions } from 'ws';
import { Codec, RealClock, describeError, type InspectionEvent, type Ref, type TimerHandle } from '../runtime/index.js';
import { defaultSettings } from './config.js';
import { ClusterError } from './errors.js';
import { helloFrame, parseServerFrame, type ClientFrame, type Topic } from './core/client-frames.js';
import type { MemberView, MembershipEvent } from './core/membership.js';
import { backoffDelayMs } from './core/backoff.js';
import type { ClusterTree } from './inspector.js';
import { FramedSocket } from './socket.js';

/** Options of `connect`. */
export interface ClientOptions {
  readonly token?: string;
  /** Reconnect after a lost connection (default true). */
  readonly reconnect?: boolean;
  readonly reconnectMsMin?: number;
  readonly reconnectMsMax?: number;
  /** Deadline of requests other than asks (asks use their own timeout plus this). */
  readonly requestTimeoutMs?: number;
  /** Deadline of the connection and hello. */
  readonly connectTimeoutMs?: number;
  /** TLS options for wss:// (CA, client certificate). */
  readonly tls?: Pick<WsClientOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;
}

/** Connection state of a client. */
export type ClientState = 'connected' | 'reconnecting' | 'closed';

/** A connected client. */
export interface TroupeClient {
  /** The node this client is connected to. */
  readonly node: string;
  readonly state: ClientState;
  /** Sends `message` to `target`; resolves once the node has taken it (delivery is at-most-once). */
  tell(target: Ref, message: unknown): Promise<void>;
  /** Asks `target`; rejects with the typed error of the node (NODE_DOWN, ASK_TIMEOUT, NO_SUCH_ACTOR, ...). */
  ask<Reply = unknown>(target: Ref, message: unknown, options?: { timeoutMs?: number }): Promise<Reply>;
  /** The supervision tree of every member. */
  tree(): Promise<ClusterTree>;
  members(): Promise<MemberView[]>;
  subscribe(topic: 'lifecycle', handler: (event: InspectionEvent) => void): Promise<() => Promise<void>>;
  subscribe(topic: 'membership', handler: (event: MembershipEvent) => void): Promise<() => Promise<void>>;
  /** Observes connection state changes. */
  onState(listener: (state: ClientState) => void): () => void;
  /** Drops the connection and connects again now. */
  reconnect(): Promise<void>;
  close(): Promise<void>;
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: TimerHandle;
}

const clock = new RealClock();
const codec = new Codec({ frameBytesMax: defaultSettings.frameBytesMax });

/** Connects to the node at `url` (ws:// or wss://, the `/client` path is added). */
export async function connect(url: string, options: ClientOptions = {}): Promise<TroupeClient> {
  const client = new Client(url, options);
  try {
    await client.open();
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

class Client implements TroupeClient {
  node = '';
  state: ClientState = 'reconnecting';
  readonly #url: string;
  readonly #options: ClientOptions;
  readonly #pending = new Map<number, Pending>();
  readonly #handlers = new Map<Topic, Set<(event: never) => void>>();
  readonly #stateListeners = new Set<(state: ClientState) => void>();
  #socket: FramedSocket | undefined;
  #nextId = 1;
  #failures = 0;
  #reconnectTimer: TimerHandle | undefined;

  constructor(url: string, options: ClientOptions) {
    const parsed = new URL(url);
    if (parsed.pathname === '' || parsed.pathname === '/') parsed.pathname = '/client';
    this.#url = parsed.toString();
    this.#options = options;
  }

  /** Opens the connection and completes the hello; rejects with a typed ClusterError. */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.#url, { perMessageDeflate: false, maxPayload: defaultSettings.frameBytesMax, ...this.#options.tls });
      let settled = false;
      const settle = (error?: ClusterError): void => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(deadline);
        if (error === undefined) resolve();
        else {
          ws.terminate();
          reject(error);
        }
      };
      const deadline = clock.setTimeout(() => settle(new ClusterError('CONNECTION_FAILED', `no welcome from ${this.#url} in time`)), this.#options.connectTimeoutMs ?? 10_000);
      ws.on('error', (error) => settle(new ClusterError('CONNECTION_FAILED', `cannot connect to ${this.#url}: ${error.message}`)));
      ws.once('unexpected-response', (_request, response) => settle(new ClusterError('CONNECTION_FAILED', `${this.#url} answered HTTP ${response.statusCode}`)));
      ws.once('open', () => {
        const socket = new FramedSocket(ws, {
          codec, clock, onProblem: () => {},
          limits: {
            messageBytesMax: defaultSettings.frameBytesMax, framesPerMessageMax: 100_000, messagesPerSecond: 1_000_000, bytesPerSecond: 1024 ** 3,
            errorsMax: 100, errorWindowMs: 10_000, idleMs: undefined,
          },
          handler: {
            frames: (frames) => this.#receive(frames, settle),
            closed: (code, reason) => {
              settle(new ClusterError(code >= 4000 && reason !== '' ? reason : 'CONNECTION_FAILED', `connection closed (${code} ${reason})`));
              this.#lost(socket);
            },
          },
        });
        this.#socket = socket;
        socket.sendFrames([helloFrame(this.#options.token)]);
      });
    });
  }

  tell(target: Ref, message: unknown): Promise<void> {
    return this.#request({ op: 'tell', target, body: message }).then(() => undefined);
  }

  ask<Reply = unknown>(target: Ref, message: unknown, options: { timeoutMs?: number } = {}): Promise<Reply> {
    const timeoutMs = options.timeoutMs ?? 5_000;
    return this.#request({ op: 'ask', target, body: message, timeoutMs }, timeoutMs + (this.#options.requestTimeoutMs ?? 30_000)) as Promise<Reply>;
  }

  tree(): Promise<ClusterTree> {
    return this.#request({ op: 'tree' }) as Promise<ClusterTree>;
  }

  members(): Promise<MemberView[]> {
    return this.#request({ op: 'members' }) as Promise<MemberView[]>;
  }

  async subscribe(topic: Topic, handler: (event: never) => void): Promise<() => Promise<void>> {
    let handlers = this.#handlers.get(topic);
    if (handlers === undefined) this.#handlers.set(topic, (handlers = new Set()));
    handlers.add(handler);
    if (handlers.size === 1) {
      try {
        await this.#request({ op: 'subscribe', topic });
      } catch (error) {
        // Refused (FORBIDDEN for a token without the topic's scope): nothing to renew on reconnect.
        handlers.delete(handler);
        this.#handlers.delete(topic);
        throw error;
      }
    }
    return async () => {
      const current = this.#handlers.get(topic);
      if (current === undefined || !current.delete(handler) || current.size > 0) return;
      this.#handlers.delete(topic);
      if (this.state === 'connected') await this.#request({ op: 'unsubscribe', topic });
    };
  }

  onState(listener: (state: ClientState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  async reconnect(): Promise<void> {
    if (this.state === 'closed') throw new ClusterError('CONNECTION_LOST', 'client is closed');
    this.#socket?.terminate();
    await new Promise<void>((resolve, reject) => {
      const stop = this.onState((state) => {
        if (state === 'connected') { stop(); resolve(); }
        if (state === 'closed') { stop(); reject(new ClusterError('CONNECTION_LOST', 'client closed while reconnecting')); }
      });
    });
  }

  async close(): Promise<void> {
    this.#setState('closed');
    if (this.#reconnectTimer !== undefined) clock.clearTimeout(this.#reconnectTimer);
    const socket = this.#socket;
    this.#socket = undefined;
    this.#failAll(new ClusterError('CONNECTION_LOST', 'client closed'));
    if (socket === undefined || socket.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.ws.once('close', () => resolve());
      socket.close(1000, 'bye');
    });
  }

  #request(request: DistributiveOmit<Extract<ClientFrame, { type: 'request' }>, 'type' | 'id'>, timeoutMs = this.#options.requestTimeoutMs ?? 30_000): Promise<unknown> {
    const socket = this.#socket;
    if (this.state !== 'connected' || socket === undefined || socket.closed) {
      return Promise.reject(new ClusterError('CONNECTION_LOST', `not connected to ${this.#url}`));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = clock.setTimeout(() => {
        if (this.#pending.delete(id)) reject(new ClusterError('REQUEST_TIMEOUT', `no response to ${request.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      try {
        socket.sendFrames([{ type: 'request', id, ...request }]);
      } catch (error) {
        this.#pending.delete(id);
        clock.clearTimeout(timer);
        const { code, message } = describeError(error);
        reject(new ClusterError(code ?? 'ENCODE_FAILED', message, { cause: error }));
      }
    });
  }

  #receive(frames: readonly unknown[], settle: (error?: ClusterError) => void): void {
    for (const raw of frames) {
      const parsed = parseServerFrame(raw);
      if (!parsed.ok) continue;
      const frame = parsed.frame;
      switch (frame.type) {
        case 'welcome':
          this.node = frame.node;
          this.#failures = 0;
          this.#setState('connected');
          settle();
          break;
        case 'refused':
          settle(new ClusterError(frame.code, frame.message));
          break;
        case 'response': {
          const pending = this.#pending.get(frame.id);
          if (pending === undefined) break;
          this.#pending.delete(frame.id);
          clock.clearTimeout(pending.timer);
          if (frame.ok) pending.resolve(frame.value);
          else pending.reject(new ClusterError(frame.code, frame.message));
          break;
        }
        case 'event':
          for (const handler of this.#handlers.get(frame.topic) ?? []) (handler as (event: unknown) => void)(frame.event);
          break;
        case 'error':
          break;
      }
    }
  }

  #lost(socket: FramedSocket): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    this.#failAll(new ClusterError('CONNECTION_LOST', `connection to ${this.#url} lost`));
    // Only an established connection reconnects here; a failed attempt is reported by `open`.
    if (this.state !== 'connected') return;
    if (this.#options.reconnect === false) {
      this.#setState('closed');
      return;
    }
    this.#setState('reconnecting');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const delayMs = backoffDelayMs({ delayMsMin: this.#options.reconnectMsMin ?? 100, delayMsMax: this.#options.reconnectMsMax ?? 5_000, jitter: 0.2 }, this.#failures, Math.random());
    this.#failures += 1;
    this.#reconnectTimer = clock.setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.state === 'closed') return;
      this.open().then(
        () => this.#renewSubscriptions(),
        (error: unknown) => {
          if (this.state === 'closed') return;
          // A refused token will not become valid by retrying.
          if (error instanceof ClusterError && error.code === 'CLIENT_UNAUTHORIZED') this.#setState('closed');
          else this.#scheduleReconnect();
        },
      );
    }, delayMs);
  }

  #renewSubscriptions(): void {
    for (const topic of this.#handlers.keys()) {
      this.#request({ op: 'subscribe', topic }).catch(() => this.#socket?.terminate());
    }
  }

  #failAll(error: ClusterError): void {
    for (const [id, pending] of this.#pending) {
      clock.clearTimeout(pending.timer);
      pending.reject(error);
      this.#pending.delete(id);
    }
  }

  #setState(state: ClientState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.#stateListeners) listener(state);
  }
}

/** Omit over each member of a union. */
type DistributiveOmit<Union, Key extends PropertyKey> = Union extends unknown ? Omit<Union, Key> : never;
