/**
 * The HTTP face of a node, served on the same port as its WebSockets:
 *   GET /healthz      readiness and membership status: 200 once joined (a founder at once), 503 with
 *                     a JSON reason while joining (e.g. AUTH_FAILED from a seed) or leaving
 *   GET /metrics      Prometheus text (prom-client)
 *   GET /api/tree     the cluster-wide supervision tree as JSON          (token with tree:read)
 *   GET /api/members  the membership table as JSON                       (token with members:read)
 *   GET /api/events   lifecycle and membership events, server-sent       (events:read, members:read: each its topic)
 *   GET /ui           the live web page (it holds no data; it reads the API with the token)
 *   GET /ui/<page>    a component's page (`pages`), linked from /ui, and its routes under /api/ (`routes`)
 * The token comes as `Authorization: Bearer <token>` or `?token=` (EventSource cannot send headers).
 * No valid token: 401 CLIENT_UNAUTHORIZED; a token without the route's scope: 403 FORBIDDEN.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Counters } from './counters.js';
import type { Topic } from './core/client-frames.js';
import type { MemberView } from './core/membership.js';
import { authorizeRead, type Grant, type ReadOperation } from './core/scopes.js';
import type { ClusterTree } from './inspector.js';
import { uiPage } from './ui.js';

/** What the HTTP routes read from the node. */
export interface HttpServices {
  readonly node: string;
  readonly incarnation: number;
  status(): 'joining' | 'up' | 'leaving' | 'stopped';
  /** Whether the node serves its cluster role yet, and if not, why. */
  readiness(): { readonly ready: boolean; readonly reason?: string; readonly code?: string; readonly peer?: string };
  /** An event stream is ended (with a final `dropped` event) once this many events are unsent ... */
  readonly subscriberEventsMax: number;
  /** ... or this many bytes. */
  readonly subscriberBytesMax: number;
  readonly metrics: Registry;
  tree(): Promise<ClusterTree>;
  members(): readonly MemberView[];
  subscribe(topic: Topic, subscriber: (event: unknown) => void): () => void;
  /** The grant of a valid client token, or undefined. */
  authenticate(token: string | undefined): Grant | undefined;
  readonly counters: Counters;
  readonly streamsMax: number;
  /** Read-only API routes components add (exact paths under /api/); each needs its read scope. */
  readonly routes?: readonly ApiRoute[];
  /** Pages components add under /ui/ (self-contained HTML that reads their routes with the token). */
  readonly pages?: readonly UiPage[];
}

/** A read-only API route a component adds: `handle` answers from the query string. */
export interface ApiRoute {
  /** Exact path, under `/api/` (e.g. `/api/workflows`). */
  readonly path: string;
  /** The read scope a token needs (as `/api/tree` needs `tree`). */
  readonly read: ReadOperation;
  handle(query: URLSearchParams): Promise<{ readonly status: number; readonly body: unknown }>;
}

/** A page a component adds under `/ui/`. */
export interface UiPage {
  /** Exact path, under `/ui/` (e.g. `/ui/workflows`). */
  readonly path: string;
  /** The link text on /ui. */
  readonly title: string;
  readonly html: string;
}

/** An HTTP request handler plus a way to end its open event streams. */
export interface HttpHandler {
  handle(request: IncomingMessage, response: ServerResponse): void;
  stop(): void;
}

/** Builds the handler. */
export function createHttpHandler(services: HttpServices): HttpHandler {
  const streams = new Set<ServerResponse>();
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const url = new URL(request.url ?? '/', 'http://node');
    if (request.method !== 'GET' && request.method !== 'HEAD') return json(response, 405, { code: 'METHOD_NOT_ALLOWED', message: 'only GET' });
    switch (url.pathname) {
      case '/healthz': {
        const status = services.status();
        const readiness = services.readiness();
        const body = { status: readiness.ready ? 'ok' : 'not_ready', member: status, node: services.node, incarnation: services.incarnation };
        return json(response, readiness.ready ? 200 : 503, readiness.ready ? body : { ...body, ...readiness });
      }
      case '/metrics':
        services.metrics.metrics().then(
          (body) => send(response, 200, services.metrics.contentType, body),
          (error: unknown) => json(response, 500, { code: 'METRICS_FAILED', message: String(error) }),
        );
        return;
      case '/ui':
      case '/ui/':
        return send(response, 200, 'text/html; charset=utf-8', uiPage(services.node, (services.pages ?? []).map((page) => ({ path: page.path, title: page.title }))));
      case '/':
        response.writeHead(302, { location: '/ui' }).end();
        return;
      default: {
        const page = services.pages?.find((candidate) => candidate.path === url.pathname);
        if (page !== undefined) return send(response, 200, 'text/html; charset=utf-8', page.html);
        break;
      }
    }
    if (!url.pathname.startsWith('/api/')) return json(response, 404, { code: 'NOT_FOUND', message: `no route ${url.pathname}` });
    const grant = services.authenticate(tokenOf(request, url));
    if (grant === undefined) {
      services.counters.add('http:CLIENT_UNAUTHORIZED');
      return json(response, 401, { code: 'CLIENT_UNAUTHORIZED', message: 'a valid client token is required' });
    }
    const route = services.routes?.find((candidate) => candidate.path === url.pathname);
    const refusal = route !== undefined ? readRefusal(grant, route.read) : routeRefusal(grant, url.pathname);
    if (refusal !== undefined) {
      services.counters.add('http:FORBIDDEN');
      return json(response, 403, { code: 'FORBIDDEN', message: refusal });
    }
    switch (url.pathname) {
      case '/api/tree':
        services.tree().then((tree) => json(response, 200, tree), (error: unknown) => json(response, 500, { code: 'TREE_FAILED', message: String(error) }));
        return;
      case '/api/members':
        return json(response, 200, { node: services.node, members: services.members() });
      case '/api/events':
        return openStream(services, streams, request, response, grant);
      default:
        if (route !== undefined) {
          route.handle(url.searchParams).then((answer) => json(response, answer.status, answer.body), (error: unknown) => json(response, 500, { code: 'ROUTE_FAILED', message: String(error) }));
          return;
        }
        return json(response, 404, { code: 'NOT_FOUND', message: `no route ${url.pathname}` });
    }
  };
  return {
    handle,
    stop: () => {
      for (const stream of streams) stream.end();
      streams.clear();
    },
  };
}

function readRefusal(grant: Grant, operation: ReadOperation): string | undefined {
  const authorization = authorizeRead(grant, operation);
  return authorization.ok ? undefined : authorization.message;
}

/** Why `grant` may not read the API route `pathname` (undefined: it may, or the route does not exist). */
function routeRefusal(grant: Grant, pathname: string): string | undefined {
  const check = (operation: ReadOperation): string | undefined => readRefusal(grant, operation);
  switch (pathname) {
    case '/api/tree': return check('tree');
    case '/api/members': return check('members');
    // The stream carries what the token may read of the two topics; it needs at least one.
    case '/api/events': return check('subscribe:lifecycle') !== undefined ? check('subscribe:membership') : undefined;
    default: return undefined;
  }
}

function openStream(services: HttpServices, streams: Set<ServerResponse>, request: IncomingMessage, response: ServerResponse, grant: Grant): void {
  if (streams.size >= services.streamsMax) return json(response, 503, { code: 'TOO_MANY_CLIENTS', message: 'too many event streams' });
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  response.write(`: ${services.node}\n\n`);
  streams.add(response);
  let unsent = 0;
  let dropped = false;
  const write = (topic: Topic) => (event: unknown): void => {
    if (dropped) return;
    // A reader that does not keep up is dropped, with a final notice, rather than growing our buffers.
    if (unsent >= services.subscriberEventsMax || response.writableLength >= services.subscriberBytesMax) {
      dropped = true;
      services.counters.add('http:SLOW_SUBSCRIBER');
      response.end(`event: dropped\ndata: ${toJson({ code: 'SLOW_SUBSCRIBER', message: 'the reader did not keep up' })}\n\n`);
      close();
      return;
    }
    unsent += 1;
    response.write(`event: ${topic}\ndata: ${toJson(event)}\n\n`, () => { unsent -= 1; });
  };
  const topics = (['lifecycle', 'membership'] as const).filter((topic) => authorizeRead(grant, `subscribe:${topic}`).ok);
  const unsubscribes = topics.map((topic) => services.subscribe(topic, write(topic)));
  const keepAlive = setInterval(() => response.write(': keep-alive\n\n'), 15_000);
  const close = (): void => {
    clearInterval(keepAlive);
    for (const unsubscribe of unsubscribes) unsubscribe();
    streams.delete(response);
  };
  request.once('close', close);
  response.once('close', close);
}

function tokenOf(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.startsWith('Bearer ')) return header.slice('Bearer '.length).trim();
  return url.searchParams.get('token') ?? undefined;
}

/** JSON for API answers: bigints become strings and byte strings their length. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return item.toString();
    if (item instanceof Uint8Array) return { bytes: item.length };
    return item;
  });
}

function json(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, 'application/json; charset=utf-8', toJson(value));
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  response.end(body);
}
