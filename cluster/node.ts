/**
 * A cluster node: a supervised node (supervisors/createNode) whose kernel reaches other nodes over
 * authenticated WebSocket links. One port serves the node links (`/cluster`), clients (`/client`) and
 * HTTP (health, metrics, tree API, web UI).
 *
 *   const node = await createClusterNode({ name: 'n1', listen: '0.0.0.0:7401', seeds: ['ws://hostB:7401'], secret });
 *   node.system.tell({ node: 'n2', path: '/root/worker' }, { type: 'job' });
 *   await node.leave();   // graceful: announce leaving, drain, stop actors, close links
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import { Codec, createRng, type ActorSystem, type InspectionEvent, type Logger, type Ref, type SystemStats } from '../runtime/index.js';
import { createNode, type ChildSpec, type NodeOptions, type NodeTermination, type TroupeNode } from '../supervisors/index.js';
import { HandshakeBudget } from './admission.js';
import { ClientServer } from './client-server.js';
import { resolveSettings, type ClusterSettings, type SettingsOverrides } from './config.js';
import { Counters } from './counters.js';
import { ClusterError } from './errors.js';
import type { Topic } from './core/client-frames.js';
import { adminToken, checkTokenSpecs, type TokenSpec } from './core/scopes.js';
import type { MemberView, MembershipEvent } from './core/membership.js';
import { createHttpHandler, type ApiRoute, type HttpHandler, type UiPage } from './http.js';
import { nextIncarnation } from './incarnation.js';
import { Inspector, type ClusterTree } from './inspector.js';
import { LinkManager, type LinkHandler, type LinkManagerOptions } from './links.js';
import { MembershipShell, type MembershipEffects } from './membership-shell.js';
import { createMetrics } from './metrics.js';
import { Router, type SendResult } from './router.js';

/** TLS for the node's port (wss://); `requireClientCert` makes node links mutual TLS. */
export interface ClusterTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** CA that signs peers' certificates (server and, for mutual TLS, client). */
  readonly ca?: string | Buffer;
  /** Node links must present a client certificate signed by `ca` (clients and HTTP need not). */
  readonly requireClientCert?: boolean;
}

/** Options of `createClusterNode`. */
export interface ClusterNodeOptions {
  readonly name: string;
  /** `host:port` to listen on; port 0 picks a free one. */
  readonly listen: string;
  /** The `ws://host:port` others dial to reach this node (default: from `listen`). */
  readonly advertise?: string;
  /** Base URLs of seed nodes. A node with no seeds other than itself founds a cluster. */
  readonly seeds?: readonly string[];
  /** Where the incarnation counter is kept (and where components may keep their data). */
  readonly dataDir?: string;
  /** The cluster secret every node shares (never sent on the wire). */
  readonly secret: string | Uint8Array;
  /**
   * Tokens clients (SDK, CLI, web UI) must present, with what each may do (core/scopes.ts). A bare
   * string is an admin token. No tokens: no client gets in.
   */
  readonly tokens?: readonly (string | TokenSpec)[];
  readonly tls?: ClusterTlsOptions;
  /** HTTP routes on the same port; on by default. */
  readonly http?: {
    readonly enabled?: boolean;
    /** API routes and pages components add (the workflow engine's, for one); given the node once it exists. */
    readonly extensions?: (node: ClusterNode) => { readonly routes?: readonly ApiRoute[]; readonly pages?: readonly UiPage[] };
  };
  readonly settings?: SettingsOverrides;
  /** Children of the root supervisor, started once the node is on the network. */
  readonly children?: readonly ChildSpec[] | ((node: ClusterNode) => readonly ChildSpec[]);
  /** Root supervisor options. */
  readonly supervision?: Omit<NodeOptions, 'name' | 'children' | 'clock'>;
  /** Seed of the node's Rng (backoff jitter). */
  readonly seed?: number;
}

/** Link and delivery counters of a node, for tests and tools. */
export interface ClusterStats {
  readonly system: SystemStats;
  readonly peers: ReadonlyArray<{
    readonly node: string; readonly linked: boolean; readonly incarnation: number | undefined; readonly queuedFrames: number;
    readonly unacknowledged: number; readonly redelivered: number; readonly duplicates: number; readonly outOfOrder: number; readonly framesIn: number; readonly framesOut: number;
    readonly batchesOut: number;
  }>;
  readonly problems: Readonly<Record<string, number>>;
  readonly dropped: Readonly<Record<string, number>>;
}

/** A running cluster node. */
export interface ClusterNode {
  readonly name: string;
  readonly incarnation: number;
  /** The address peers dial. */
  readonly address: string;
  /** The port actually listened on. */
  readonly port: number;
  readonly node: TroupeNode;
  readonly system: ActorSystem;
  readonly settings: ClusterSettings;
  startChild(spec: ChildSpec): Promise<Ref>;
  /** At-least-once send (see Router.sendReliable). */
  sendReliable(target: Ref, body: unknown, options?: { from?: Ref; id?: string }): SendResult;
  members(): MemberView[];
  member(node: string): MemberView | undefined;
  /** Every member's supervision tree. */
  tree(): Promise<ClusterTree>;
  subscribe(topic: 'membership', subscriber: (event: MembershipEvent) => void): () => void;
  subscribe(topic: 'lifecycle', subscriber: (event: InspectionEvent) => void): () => void;
  stats(): ClusterStats;
  /** Prometheus text. */
  metrics(): Promise<string>;
  /** Graceful leave: announce leaving, drain queues and outboxes, stop actors, close links. */
  leave(): Promise<void>;
  /** Immediate stop (no drain). */
  stop(): Promise<void>;
  readonly terminated: Promise<NodeTermination>;
}

/** Starts a cluster node and joins (or founds) its cluster. */
export async function createClusterNode(options: ClusterNodeOptions): Promise<ClusterNode> {
  const settings = resolveSettings(options.settings);
  const secret = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
  if (secret.length === 0) throw new ClusterError('INVALID_ARGUMENT', 'a cluster secret is required');
  const tokens = clientTokens(options.tokens ?? []);
  const { host, port } = parseListen(options.listen);
  const incarnation = await nextIncarnation(options.dataDir, Date.now());
  const troupe = await createNode({ ...options.supervision, name: options.name, ...(options.seed !== undefined ? { seed: options.seed } : {}) });
  const server = createServerFor(options.tls, settings);
  let actualPort: number;
  try {
    actualPort = await listen(server, host, port);
  } catch (error) {
    await troupe.stop();
    throw new ClusterError('CONNECTION_FAILED', `cannot listen on ${options.listen}: ${(error as Error).message}`, { cause: error });
  }
  const scheme = options.tls ? 'wss' : 'ws';
  const address = trimSlashes(options.advertise ?? `${scheme}://${host === '0.0.0.0' || host === '::' ? hostname() : host}:${actualPort}`);
  const node = new RunningNode({ options, settings, secret, tokens, troupe, server, incarnation, address, port: actualPort });
  const children = typeof options.children === 'function' ? options.children(node) : options.children ?? [];
  try {
    for (const spec of children) await troupe.startChild(spec);
  } catch (error) {
    await node.stop();
    throw error;
  }
  return node;
}

interface RunningNodeInit {
  readonly options: ClusterNodeOptions;
  readonly settings: ClusterSettings;
  readonly secret: Uint8Array;
  readonly tokens: readonly TokenSpec[];
  readonly troupe: TroupeNode;
  readonly server: Server;
  readonly incarnation: number;
  readonly address: string;
  readonly port: number;
}

/**
 * The parts of a running node and how they are wired: links report to membership, the router and the
 * inspector; membership's effects go to the router and the links. The parts refer to each other
 * through this object, so no callback runs before every part exists.
 */
class RunningNode implements ClusterNode {
  readonly name: string;
  readonly incarnation: number;
  readonly address: string;
  readonly port: number;
  readonly node: TroupeNode;
  readonly system: ActorSystem;
  readonly settings: ClusterSettings;
  readonly terminated: Promise<NodeTermination>;
  readonly #server: Server;
  readonly #problems = new Counters();
  readonly #dropped = new Counters();
  readonly #links: LinkManager;
  readonly #membership: MembershipShell;
  readonly #router: Router;
  readonly #inspector: Inspector;
  readonly #clients: ClientServer;
  readonly #metrics: Registry;
  readonly #http: HttpHandler | undefined;
  readonly #budget: HandshakeBudget<Duplex>;
  #state: 'running' | 'leaving' | 'stopped' = 'running';
  /** The latest reason a dial failed while this node was still joining (for /healthz). */
  #joinFailure: { readonly address: string; readonly code: string; readonly message: string } | undefined;
  #closing: Promise<void> | undefined;

  constructor(init: RunningNodeInit) {
    const { options, settings } = init;
    this.name = options.name;
    this.incarnation = init.incarnation;
    this.address = init.address;
    this.port = init.port;
    this.node = init.troupe;
    this.system = init.troupe.system;
    this.settings = settings;
    this.terminated = init.troupe.terminated;
    this.#server = init.server;
    const self = { node: this.name, incarnation: this.incarnation, address: this.address };
    const codec = new Codec({ frameBytesMax: settings.frameBytesMax });
    const seeds = (options.seeds ?? []).map(trimSlashes).filter((seed) => seed !== '' && seed !== this.address);
    const founder = seeds.length === 0 || trimSlashes(options.seeds?.[0] ?? '') === this.address;
    this.#links = new LinkManager({
      self, secret: init.secret, codec, clock: this.system.clock, rng: createRng(options.seed ?? randomBytes(4).readUInt32LE(0)), settings,
      handler: this.#linkHandler(), log: this.system.log, ...(options.tls ? { tls: dialTls(options.tls) } : {}),
    });
    this.#membership = new MembershipShell({ self, founder, clock: this.system.clock, settings, effects: this.#membershipEffects() });
    this.#router = new Router({ system: this.system, links: this.#links, isUp: (node) => this.#membership.isUp(node), dropped: this.#dropped,
      watchesPerPeerMax: settings.watchesPerPeerMax,
    });
    this.system.attachRemote(this.#router);
    this.#inspector = new Inspector({ system: this.system, links: this.#links, treeTimeoutMs: settings.treeTimeoutMs });
    this.#clients = new ClientServer({
      codec, clock: this.system.clock, settings, tokens: init.tokens, counters: this.#problems, log: this.system.log,
      services: { system: this.system, incarnation: this.incarnation, tree: () => this.tree(), members: () => this.members(), subscribe: (topic, subscriber) => this.#subscribe(topic, subscriber) },
    });
    this.#budget = new HandshakeBudget(settings.unauthenticatedMax, settings.unauthenticatedPerAddressMax);
    this.#metrics = createMetrics({
      handshakes: this.#budget,
      system: this.system, peers: () => this.#links.peers.values(), members: () => this.members(), problems: this.#problems, dropped: this.#dropped,
      clients: () => this.#clients.connections,
    });
    const extensions = options.http?.extensions?.(this) ?? {};
    this.#http = options.http?.enabled === false ? undefined : createHttpHandler({
      ...(extensions.routes ? { routes: extensions.routes } : {}), ...(extensions.pages ? { pages: extensions.pages } : {}),
      node: this.name, incarnation: this.incarnation, metrics: this.#metrics, tree: () => this.tree(), members: () => this.members(), counters: this.#problems,
      streamsMax: settings.clientsMax, status: () => (this.#state === 'stopped' ? 'stopped' : this.#membership.selfStatus),
      readiness: () => this.#readiness(), subscriberEventsMax: settings.subscriberEventsMax, subscriberBytesMax: settings.subscriberBytesMax,
      subscribe: (topic, subscriber) => this.#subscribe(topic, subscriber), authenticate: (token) => this.#clients.authenticate(token),
    });
    routeServer(this.#server, { links: this.#links, clients: this.#clients, http: this.#http, settings, tls: options.tls, problems: this.#problems, log: this.system.log, budget: this.#budget });
    for (const seed of seeds) this.#links.addSeed(seed);
    // A fatal root failure stops the actors; the network goes with them.
    void this.terminated.then(() => this.#close(false)).catch((error: unknown) => {
      process.stderr.write(`troupe: closing node ${this.name} failed: ${(error as Error).message}\n`);
    });
  }

  startChild(spec: ChildSpec): Promise<Ref> {
    return this.node.startChild(spec);
  }

  sendReliable(target: Ref, body: unknown, options?: { from?: Ref; id?: string }): SendResult {
    return this.#router.sendReliable(target, body, options);
  }

  members(): MemberView[] {
    return this.#membership.members();
  }

  member(node: string): MemberView | undefined {
    return this.#membership.member(node);
  }

  tree(): Promise<ClusterTree> {
    return this.#inspector.tree(this.members().filter((member) => member.status !== 'removed'));
  }

  subscribe(topic: 'membership', subscriber: (event: MembershipEvent) => void): () => void;
  subscribe(topic: 'lifecycle', subscriber: (event: InspectionEvent) => void): () => void;
  subscribe(topic: Topic, subscriber: (event: never) => void): () => void {
    return this.#subscribe(topic, subscriber as (event: unknown) => void);
  }

  stats(): ClusterStats {
    return statsOf(this.system, this.#links, this.#problems, this.#dropped);
  }

  metrics(): Promise<string> {
    return this.#metrics.metrics();
  }

  leave(): Promise<void> {
    return this.#close(true);
  }

  stop(): Promise<void> {
    return this.#close(false);
  }

  /**
   * Ready once the node has joined (a founder is up at once). A node still joining is not ready, and
   * says why: the last failed dial (AUTH_FAILED from a seed with another secret, CONNECTION_FAILED, ...).
   */
  #readiness(): { readonly ready: boolean; readonly reason?: string; readonly code?: string; readonly peer?: string } {
    if (this.#state !== 'running') return { ready: false, reason: this.#state };
    if (this.#membership.selfStatus === 'up') return { ready: true };
    const failure = this.#joinFailure;
    if (failure === undefined) return { ready: false, reason: 'joining: no seed has answered yet' };
    return { ready: false, reason: `joining: ${failure.message}`, code: failure.code, peer: failure.address };
  }

  #subscribe(topic: Topic, subscriber: (event: unknown) => void): () => void {
    return topic === 'membership' ? this.#membership.subscribe(subscriber) : this.#inspector.subscribe(subscriber);
  }

  #linkHandler(): LinkHandler {
    return {
      linkUp: (peer, identity) => {
        this.#membership.input({ type: 'linkUp', node: identity.node, incarnation: identity.incarnation, address: identity.address });
        this.#inspector.linkUp(peer);
      },
      linkDown: (peer, incarnation) => this.#membership.input({ type: 'linkDown', node: peer.node, incarnation }),
      deliverStream: (peer, frame) => this.#router.deliverStream(peer, frame),
      control: (peer, frame) => {
        if (frame.type === 'gossip') this.#membership.input({ type: 'gossip', from: peer.node, members: frame.members });
        else if (frame.type === 'error') this.#problems.add(`peer:${frame.code}`);
        else this.#inspector.control(peer, frame);
      },
      heartbeat: (peer) => {
        if (peer.incarnation !== undefined) this.#membership.input({ type: 'heartbeat', node: peer.node, incarnation: peer.incarnation });
      },
      abandoned: (peer, items, code) => this.#router.abandoned(peer, items, code),
      rejectedInbound: (peer, frame, code) => this.#router.rejectedInbound(peer, frame, code),
      problem: (code) => this.#problems.add(code),
      dialFailed: (address, code, message, seed) => {
        // A node that cannot join says why, once per distinct reason (the log is rate-limited too).
        const joining = this.#membership.selfStatus === 'joining';
        if (joining) this.#joinFailure = { address, code, message };
        this.system.log.warn('cluster.dialFailed', { remote: address, code, reason: message, seed, joining });
      },
      seedsWanted: () => this.#membership.selfStatus === 'joining' || ![...this.#links.peers.values()].some((peer) => peer.link !== undefined),
    };
  }

  #membershipEffects(): MembershipEffects {
    return {
      nodeDown: (node, incarnation) => this.#router.nodeDown(node, isCurrent(this.#links, node, incarnation)),
      removed: (node, incarnation) => {
        if (isCurrent(this.#links, node, incarnation)) this.#links.forget(node, 'NODE_REMOVED');
      },
      dial: (node, address) => {
        if (node !== this.name) this.#links.ensure(node, address);
      },
      gossip: (to, members) => {
        for (const peer of this.#links.peers.values()) if (to === 'all' || peer.node === to) peer.sendControl({ type: 'gossip', members });
      },
    };
  }

  #close(drain: boolean): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = 'leaving';
      if (drain) {
        this.#membership.input({ type: 'leave' });
        await drained(this.#links, this.system, this.settings.drainMs);
      }
      await this.node.stop();
      // Termination notices to remote watchers go out while the links are still open.
      if (drain) await drained(this.#links, this.system, Math.floor(this.settings.drainMs / 2));
      this.#state = 'stopped';
      this.#membership.stop();
      this.#inspector.stop();
      this.#links.stop();
      this.#clients.stop();
      this.#http?.stop();
      await closeServer(this.#server);
    })();
    return this.#closing;
  }
}

function trimSlashes(address: string): string {
  return address.replace(/\/+$/, '');
}

/** What a dialler presents: the CA, and for mutual TLS the node's own certificate. */
function dialTls(tls: ClusterTlsOptions): NonNullable<LinkManagerOptions['tls']> {
  return { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.requireClientCert ? { cert: tls.cert, key: tls.key } : {}) };
}

/** True when the peer's current incarnation is `incarnation` (or older/unknown): effects for an old incarnation must not touch a newer link. */
function isCurrent(links: LinkManager, node: string, incarnation: number): boolean {
  const current = links.peers.get(node)?.incarnation;
  return current === undefined || current <= incarnation;
}

function parseListen(listen: string): { host: string; port: number } {
  const cut = listen.lastIndexOf(':');
  const host = cut <= 0 ? '0.0.0.0' : listen.slice(0, cut).replace(/^\[|\]$/g, '');
  const port = Number(cut < 0 ? listen : listen.slice(cut + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ClusterError('INVALID_ARGUMENT', `listen must be host:port, not ${JSON.stringify(listen)}`);
  return { host, port };
}

function createServerFor(tls: ClusterTlsOptions | undefined, settings: ClusterSettings): Server {
  // Slow requests are cut off: headers must arrive within httpHeadersTimeoutMs, the whole request within
  // httpRequestTimeoutMs, checked every second rather than node's default of every 30 s.
  const timeouts = { headersTimeout: settings.httpHeadersTimeoutMs, requestTimeout: settings.httpRequestTimeoutMs, connectionsCheckingInterval: 1_000 };
  // Client certificates are requested but checked per route: node links require one, clients do not.
  const server = tls === undefined ? createHttpServer(timeouts)
    : createHttpsServer({ ...timeouts, cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}), requestCert: tls.requireClientCert === true, rejectUnauthorized: false });
  server.maxConnections = settings.connectionsMax;
  server.keepAliveTimeout = settings.httpKeepAliveMs;
  return server;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const bound = server.address();
      resolve(typeof bound === 'object' && bound !== null ? bound.port : port);
    });
  });
}

function routeServer(server: Server, parts: {
  links: LinkManager; clients: ClientServer; http: HttpHandler | undefined; settings: ClusterSettings; tls: ClusterTlsOptions | undefined; problems: Counters;
  log: Logger; budget: HandshakeBudget<Duplex>;
}): void {
  const nodeSockets = new WebSocketServer({ noServer: true, maxPayload: parts.settings.frameBytesMax, perMessageDeflate: false });
  const clientSockets = new WebSocketServer({ noServer: true, maxPayload: parts.settings.frameBytesMax, perMessageDeflate: false });
  const budget = parts.budget;
  const refuse = (socket: Duplex, remote: string, endpoint: string, status: string, code: string): void => {
    parts.problems.add(`handshake:${code}`);
    parts.log.warn('cluster.refused', { code, remote, endpoint });
    socket.end(`HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${code}\n`);
  };
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => parts.problems.add('SOCKET_ERROR'));
    const path = new URL(request.url ?? '/', 'http://node').pathname;
    const remote = request.socket.remoteAddress ?? 'unknown';
    if (path !== '/cluster' && path !== '/client') return refuse(socket, remote, path.slice(0, 100), '404 Not Found', 'NOT_FOUND');
    if (path === '/cluster' && parts.tls?.requireClientCert === true && !(request.socket as TLSSocket).authorized) {
      return refuse(socket, remote, path, '401 Unauthorized', 'TLS_CLIENT_CERT');
    }
    const admitted = budget.admit(remote, socket);
    if (!admitted.ok) return refuse(socket, remote, path, '503 Service Unavailable', admitted.code);
    if (admitted.evicted !== undefined) {
      // The budget was full and another address held more of it: its oldest stranger makes room.
      parts.problems.add('handshake:HANDSHAKE_EVICTED');
      parts.log.warn('cluster.refused', { code: 'HANDSHAKE_EVICTED', remote: admitted.evicted.address, endpoint: 'unauthenticated', reason: `room for ${remote}` });
      admitted.evicted.socket.destroy();
    }
    socket.once('close', admitted.release);
    // The upgrade itself is under the handshake deadline too, so a half-finished upgrade cannot hold a place.
    const upgradeDeadline = setTimeout(() => {
      refuse(socket, remote, path, '408 Request Timeout', 'HANDSHAKE_TIMEOUT');
      socket.destroy();
    }, parts.settings.handshakeTimeoutMs);
    const admission = { remote, authenticated: admitted.release };
    const sockets = path === '/cluster' ? nodeSockets : clientSockets;
    sockets.handleUpgrade(request, socket, head, (ws) => {
      clearTimeout(upgradeDeadline);
      if (path === '/cluster') parts.links.accept(ws, admission);
      else parts.clients.accept(ws, admission);
    });
  });
  server.on('request', (request, response) => {
    if (parts.http === undefined) response.writeHead(404).end();
    else parts.http.handle(request, response);
  });
  // A malformed or too slow HTTP request (headersTimeout, requestTimeout) is answered and logged, not kept.
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const code = timeout ? 'HTTP_TIMEOUT' : 'HTTP_INVALID';
    parts.problems.add(`http:${code}`);
    parts.log.warn('cluster.refused', { code, remote: (socket as Duplex & { remoteAddress?: string }).remoteAddress ?? 'unknown', endpoint: 'http', reason: error.message.slice(0, 200) });
    socket.end(timeout ? 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Waits until no peer has queued or unacknowledged frames, or `timeoutMs` passes. */
async function drained(links: LinkManager, system: ActorSystem, timeoutMs: number): Promise<void> {
  const deadline = system.clock.now() + timeoutMs;
  const busy = (): boolean => [...links.peers.values()].some((peer) => peer.link !== undefined && (peer.queuedFrames > 0 || peer.unacknowledged > 0));
  while (busy() && system.clock.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

function statsOf(system: ActorSystem, links: LinkManager, problems: Counters, dropped: Counters): ClusterStats {
  return {
    system: system.stats(),
    peers: [...links.peers.values()].map((peer) => ({
      node: peer.node, linked: peer.link !== undefined, incarnation: peer.incarnation, queuedFrames: peer.queuedFrames, unacknowledged: peer.unacknowledged,
      redelivered: peer.counters.redelivered, duplicates: peer.counters.duplicates, outOfOrder: peer.counters.outOfOrder, framesIn: peer.counters.framesIn, framesOut: peer.counters.framesOut,
      batchesOut: peer.counters.batchesOut,
    })),
    problems: Object.fromEntries(problems.entries()),
    dropped: Object.fromEntries(dropped.entries()),
  };
}

/** The configured tokens as specs: a bare string is an admin token named by its position. */
function clientTokens(tokens: readonly (string | TokenSpec)[]): TokenSpec[] {
  return checkTokenSpecs(tokens.map((token, position) => (typeof token === 'string' ? adminToken(`token${position + 1}`, token) : token)));
}
