/**
 * The gateway: an OpenAI-compatible HTTP front (`/v1/chat/completions`, `/v1/completions`,
 * `/v1/models`, `/health`, and `/router/state` for inspection) over a supervised actor tree:
 *
 *   router-gateway (one_for_one)
 *   ├── router       the routing core and admission, its cache state on the storage engine (router-actor.ts)
 *   ├── watchers     (one_for_one) watcher-<backend>: probes, ejection input (watcher-actor.ts)
 *   └── requests     (one_for_one) request-<n>: one temporary actor per in-flight request (request-actor.ts)
 *
 * The HTTP handler validates input (bounded body, schema), authenticates the tenant, and hands the
 * request to a new request actor; it decides nothing else.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ref, type Ref } from '../../runtime/index.js';
import { createNode, supervisor, type ChildSpec, type SupervisorReply, type TroupeNode } from '../../supervisors/index.js';
import { routerConfig, type PolicyName, type RouterConfig, type TenantLimits } from './core/index.js';
import { gatewayLimits, type GatewayLimits } from './limits.js';
import { apiFailure, errorBody, parseGenerationRequest, protocolLimits, type ApiFailure } from './openai-protocol.js';
import { requestBehaviour } from './request-actor.js';
import { routerBehaviour, type BackendConfig, type RouterView } from './router-actor.js';
import { watcherBehaviour } from './watcher-actor.js';

/** Options of `startGateway`. */
export interface GatewayOptions {
  readonly backends: readonly BackendConfig[];
  readonly port: number;
  readonly host?: string;
  readonly policy?: PolicyName;
  readonly config?: Partial<RouterConfig>;
  /** Where the router's cache state lives (a LevelDB directory); none: in memory. */
  readonly dataDirectory?: string;
  readonly limits?: Partial<GatewayLimits>;
  /** Bearer token -> tenant name and limits. With none, every caller is the tenant `default`. */
  readonly tenants?: Readonly<Record<string, { readonly tenant: string; readonly limits?: TenantLimits }>>;
  /** Model ids `/v1/models` lists. */
  readonly models?: readonly string[];
}

/** A running gateway. */
export interface Gateway {
  readonly url: string;
  readonly node: TroupeNode;
  /** The router's view (backends, their status and load, sessions, corrections). */
  state(): Promise<RouterView>;
  close(): Promise<void>;
}

function isFailure(value: unknown): value is ApiFailure {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false;
}

function sendFailure(response: ServerResponse, failure: Pick<ApiFailure, 'status' | 'code' | 'message'>, extra: Record<string, string> = {}): void {
  const text = errorBody(failure);
  response.writeHead(failure.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...extra });
  response.end(text);
}

async function readJson(request: IncomingMessage, bytesMax: number): Promise<unknown | ApiFailure> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > bytesMax) return apiFailure(413, 'body_too_large', `the body exceeds ${bytesMax} bytes`);
    chunks.push(chunk);
  }
  try { return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown; } catch { return apiFailure(400, 'invalid_json', 'the body is not JSON'); }
}

const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/;

/** Starts the gateway's actor tree and HTTP server. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const limits: GatewayLimits = { ...gatewayLimits, ...options.limits };
  const config = routerConfig({ ...options.config, ...(options.policy === undefined ? {} : { policy: options.policy }) });
  const tenantLimits: Record<string, TenantLimits> = {};
  for (const entry of Object.values(options.tenants ?? {})) if (entry.limits !== undefined) tenantLimits[entry.tenant] = entry.limits;
  const rootPath = '/root/router-gateway';
  const routerRef = ref('local', `${rootPath}/router`);
  const watchers: ChildSpec[] = options.backends.map((backend) => ({
    id: `watcher-${backend.id}`, kind: 'worker', restart: 'permanent', shutdownMs: 2_000,
    start: watcherBehaviour(backend, routerRef, { intervalMs: limits.probeIntervalMs, timeoutMs: limits.probeTimeoutMs }),
  }));
  const tree: ChildSpec = {
    id: 'router-gateway', kind: 'supervisor', restart: 'permanent', shutdownMs: 30_000,
    start: supervisor({
      name: 'router-gateway', strategy: 'one_for_one', maxRestarts: 20, periodMs: 10_000,
      children: [
        { id: 'router', kind: 'worker', restart: 'permanent', shutdownMs: 10_000, start: routerBehaviour({ config, backends: options.backends, limits, tenants: tenantLimits, ...(options.dataDirectory === undefined ? {} : { dataDirectory: options.dataDirectory }) }) },
        { id: 'watchers', kind: 'supervisor', restart: 'permanent', shutdownMs: 5_000, start: supervisor({ name: 'router-watchers', strategy: 'one_for_one', maxRestarts: 100, periodMs: 10_000, children: watchers }) },
        { id: 'requests', kind: 'supervisor', restart: 'permanent', shutdownMs: 5_000, start: supervisor({ name: 'router-requests', strategy: 'one_for_one', maxRestarts: 1_000, periodMs: 1_000 }) },
      ],
    }),
  };
  const node = await createNode({ name: 'local', children: [tree] });
  const requestsRef: Ref = ref('local', `${rootPath}/requests`);
  let inFlight = 0;
  let sequence = 0;

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'GET') {
      if (path === '/health') {
        const view = await node.system.ask<RouterView>(routerRef, { type: 'router.state' });
        const up = view.backends.some((backend) => backend.status === 'up');
        response.writeHead(up ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: up ? 'ok' : 'no_backend' }));
        return;
      }
      if (path === '/v1/models') {
        const models = options.models ?? ['tiny-llama'];
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'troupe' })) }));
        return;
      }
      if (path === '/router/state') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(await node.system.ask<RouterView>(routerRef, { type: 'router.state' })));
        return;
      }
    }
    if (request.method !== 'POST' || (path !== '/v1/chat/completions' && path !== '/v1/completions')) {
      sendFailure(response, { status: 404, code: 'not_found', message: `no route ${request.method} ${path}` });
      return;
    }
    let tenant = 'default';
    if (options.tenants !== undefined) {
      const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      const entry = token === undefined ? undefined : options.tenants[token];
      if (entry === undefined) { sendFailure(response, { status: 401, code: 'invalid_api_key', message: 'unknown or missing bearer token' }); return; }
      tenant = entry.tenant;
    }
    const body = await readJson(request, protocolLimits.bodyBytesMax);
    if (isFailure(body)) { sendFailure(response, body, body.status === 413 ? { connection: 'close' } : {}); return; }
    const parsed = parseGenerationRequest(path === '/v1/chat/completions' ? 'chat' : 'completion', body);
    if (isFailure(parsed)) { sendFailure(response, parsed); return; }
    if (inFlight >= limits.requestsInFlightMax) { sendFailure(response, { status: 503, code: 'overloaded', message: 'too many requests in flight' }); return; }
    const given = request.headers['x-request-id'];
    const requestId = typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID();
    const upstreamBody = { ...(body as Record<string, unknown>), ...(parsed.stream ? { stream_options: { include_usage: true } } : {}) };
    inFlight += 1;
    response.once('close', () => { inFlight -= 1; });
    const spec: ChildSpec = {
      id: `request-${++sequence}`, kind: 'worker', restart: 'temporary', shutdownMs: 1_000,
      start: requestBehaviour({ requestId, request: parsed, upstreamBody, tenant, response, router: routerRef, limits }),
    };
    const started = await node.system.ask<SupervisorReply>(requestsRef, { type: 'supervisor.startChild', spec });
    if (!started.ok && !response.headersSent) sendFailure(response, { status: 503, code: 'overloaded', message: started.message });
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendFailure(response, { status: 500, code: 'internal', message: (error as Error).message });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${options.port}`,
    node,
    state: () => node.system.ask<RouterView>(routerRef, { type: 'router.state' }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await node.stop();
    },
  };
}
