/**
 * One actor per in-flight request: it asks the router actor for a backend, calls it, passes the
 * response through to the client (SSE events as they come), and reports the first token and the end
 * to the router. Retry rule: an attempt that fails before the client got any byte of it (connection
 * refused, a backend dying during prefill, a 5xx) is retried on another backend, excluded from then
 * on; once a token has been streamed, a failure ends the stream with an error event and is never
 * retried, so a generation is never duplicated. The upstream stream's callbacks only tell this actor;
 * its state changes in `receive` alone.
 */
import type { ServerResponse } from 'node:http';
import { refuseUnknown, type ActorContext, type Behaviour, type Ref } from '../../runtime/index.js';
import type { GatewayLimits } from './limits.js';
import { errorBody, routingText, routingTextAfter, type GenerationRequest } from './openai-protocol.js';
import type { RouteReply, RouterMessage } from './router-actor.js';
import { SseParser, chunkContent } from './sse.js';

/** Messages of a request actor (from its own upstream call and its client connection). */
export type RequestMessage =
  | { readonly type: 'router.request.start' }
  | { readonly type: 'router.request.routed'; readonly reply: RouteReply }
  | { readonly type: 'router.request.upstreamStatus'; readonly attempt: number; readonly status: number; readonly body?: string }
  | { readonly type: 'router.request.data'; readonly attempt: number; readonly text: string }
  | { readonly type: 'router.request.end'; readonly attempt: number }
  | { readonly type: 'router.request.failed'; readonly attempt: number; readonly message: string }
  | { readonly type: 'router.request.clientClosed' };

/** What a request actor is given. */
export interface RequestSpec {
  readonly requestId: string;
  readonly request: GenerationRequest;
  /** The body sent upstream (the client's, with streaming usage asked for). */
  readonly upstreamBody: Record<string, unknown>;
  readonly tenant: string;
  readonly response: ServerResponse;
  readonly router: Ref;
  readonly limits: GatewayLimits;
}

/** State of a request actor. */
export interface RequestState {
  attempt: number;
  readonly exclude: string[];
  backend: string | undefined;
  route: Extract<RouteReply, { ok: true }> | undefined;
  sentAtMs: number;
  tokens: number;
  clientStarted: boolean;
  completion: string;
  cachedTokens: number | undefined;
  body: string;
  parser: SseParser;
  abort: AbortController | undefined;
  done: boolean;
}

const statusOf: Record<string, number> = { NO_BACKEND: 503, OVERLOADED: 503, DUPLICATE_REQUEST: 409, RATE_LIMITED: 429, BUDGET_EXHAUSTED: 429 };

/** The behaviour of one request. */
export function requestBehaviour(spec: RequestSpec): Behaviour<RequestState, RequestMessage> {
  const { request, response, limits } = spec;
  const coreId = (state: RequestState): string => `${spec.requestId}/${state.attempt}`;
  const routeHeaders = (state: RequestState): Record<string, string> => ({
    'x-request-id': spec.requestId, 'x-route-backend': state.route?.backend ?? '', 'x-route-policy': state.route?.policy ?? '',
    'x-route-reason': state.route?.reason ?? '', 'x-route-expected-hit-tokens': String(state.route?.expectedHitTokens ?? 0), 'x-route-attempts': String(state.attempt),
  });
  const fail = (state: RequestState, ctx: ActorContext<RequestMessage>, status: number, code: string, message: string): void => {
    if (!response.headersSent) {
      const text = errorBody({ code, message });
      response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...routeHeaders(state) });
      response.end(text);
    } else {
      response.end(`data: ${errorBody({ code, message })}\n\n`);
    }
    state.done = true;
    ctx.stopSelf();
  };
  const tellRouter = (ctx: ActorContext<RequestMessage>, message: RouterMessage): void => ctx.tell(spec.router, message);

  const startAttempt = (state: RequestState, ctx: ActorContext<RequestMessage>): void => {
    const self = ctx.self;
    const message: RouterMessage = {
      type: 'router.route', requestId: coreId(state), text: routingText(request), exclude: [...state.exclude],
      ...(request.user === undefined ? {} : { sessionKey: request.user }),
      ...(state.attempt === 1 ? { admission: { tenant: spec.tenant, tokens: Math.ceil(routingText(request).length / 4) + request.maxTokens } } : {}),
    };
    ctx.ask<RouteReply>(spec.router, message, { timeoutMs: 10_000 }).then(
      (reply) => ctx.tell(self, { type: 'router.request.routed', reply }),
      () => ctx.tell(self, { type: 'router.request.routed', reply: { ok: false, code: 'OVERLOADED' } }),
    );
  };

  const callBackend = (state: RequestState, ctx: ActorContext<RequestMessage>, route: Extract<RouteReply, { ok: true }>): void => {
    const self = ctx.self;
    const attempt = state.attempt;
    const abort = new AbortController();
    state.abort = abort;
    state.sentAtMs = ctx.clock.now();
    const path = request.kind === 'chat' ? '/v1/chat/completions' : '/v1/completions';
    const connectTimer = setTimeout(() => abort.abort(new Error('no response headers in time')), limits.backendConnectTimeoutMs);
    void (async () => {
      try {
        const upstream = await fetch(`${route.url}${path}`, {
          method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': spec.requestId }, body: JSON.stringify(spec.upstreamBody), signal: abort.signal,
        });
        clearTimeout(connectTimer);
        if (!upstream.ok) {
          ctx.tell(self, { type: 'router.request.upstreamStatus', attempt, status: upstream.status, body: (await upstream.text()).slice(0, 4_096) });
          return;
        }
        const decoder = new TextDecoder();
        for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) {
          ctx.tell(self, { type: 'router.request.data', attempt, text: decoder.decode(chunk, { stream: true }) });
        }
        ctx.tell(self, { type: 'router.request.end', attempt });
      } catch (error) {
        clearTimeout(connectTimer);
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        ctx.tell(self, { type: 'router.request.failed', attempt, message: `${(error as Error).message}${cause?.code ? ` (${cause.code})` : cause?.message ? ` (${cause.message})` : ''}` });
      }
    })();
  };

  const retryOrFail = (state: RequestState, ctx: ActorContext<RequestMessage>, why: string, retryable: boolean): void => {
    tellRouter(ctx, { type: 'router.finish', requestId: coreId(state), outcome: 'backend-failed' });
    state.abort?.abort();
    if (state.tokens === 0 && !state.clientStarted && retryable && state.attempt < limits.attemptsMax) {
      state.exclude.push(state.backend!);
      state.attempt += 1;
      state.parser = new SseParser(limits.sseEventBytesMax);
      state.body = '';
      startAttempt(state, ctx);
      return;
    }
    const midStream = state.clientStarted;
    fail(state, ctx, 502, midStream ? 'backend_failed_mid_stream' : 'backend_unavailable',
      midStream ? `backend ${state.backend} failed after ${state.tokens} streamed tokens: ${why}` : `no backend could serve the request (last: ${state.backend}: ${why})`);
  };

  const onEvents = (state: RequestState, ctx: ActorContext<RequestMessage>, text: string): void => {
    const events = state.parser.push(text);
    if ('error' in events) { retryOrFail(state, ctx, events.error, false); return; }
    for (const event of events) {
      const content = chunkContent(event.data);
      if (content?.error !== undefined) { retryOrFail(state, ctx, content.error, state.tokens === 0); return; }
      if (content !== undefined && content.cachedTokens !== undefined) state.cachedTokens = content.cachedTokens;
      if (content !== undefined && content.text.length > 0) {
        if (state.tokens === 0) tellRouter(ctx, { type: 'router.firstToken', requestId: coreId(state), prefillMs: ctx.clock.now() - state.sentAtMs });
        state.tokens += 1;
        state.completion += content.text;
      }
      // The usage chunk goes to the client only if it asked for it.
      if (content?.hasUsage === true && content.text.length === 0 && !request.includeUsage) continue;
      if (!state.clientStarted) {
        response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...routeHeaders(state) });
        state.clientStarted = true;
      }
      response.write(event.raw);
    }
  };

  const finishOk = (state: RequestState, ctx: ActorContext<RequestMessage>): void => {
    if (!request.stream) {
      let parsed: unknown;
      try { parsed = JSON.parse(state.body); } catch { retryOrFail(state, ctx, 'the backend answered with invalid JSON', true); return; }
      const content = chunkContent(state.body);
      state.completion = content?.text ?? '';
      state.cachedTokens = content?.cachedTokens;
      tellRouter(ctx, { type: 'router.firstToken', requestId: coreId(state), prefillMs: ctx.clock.now() - state.sentAtMs });
      const text = JSON.stringify(parsed);
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...routeHeaders(state) });
      response.end(text);
    } else {
      if (!state.clientStarted) response.writeHead(200, { 'content-type': 'text/event-stream', ...routeHeaders(state) });
      response.end();
    }
    tellRouter(ctx, {
      type: 'router.finish', requestId: coreId(state), outcome: 'ok', filledText: routingTextAfter(request, state.completion),
      ...(state.cachedTokens === undefined ? {} : { cachedTokens: state.cachedTokens }),
    });
    state.done = true;
    ctx.stopSelf();
  };

  return {
    name: 'router-request',
    init(ctx) {
      const self = ctx.self;
      response.once('close', () => { if (!response.writableFinished) ctx.tell(self, { type: 'router.request.clientClosed' }); });
      ctx.tell(self, { type: 'router.request.start' });
      return {
        attempt: 1, exclude: [], backend: undefined, route: undefined, sentAtMs: 0, tokens: 0, clientStarted: false, completion: '', cachedTokens: undefined,
        body: '', parser: new SseParser(limits.sseEventBytesMax), abort: undefined, done: false,
      };
    },
    receive(state, message, ctx) {
      if (state.done && message.type !== 'router.request.start') return state;
      switch (message.type) {
        case 'router.request.start': startAttempt(state, ctx); return state;
        case 'router.request.routed': {
          const reply = message.reply;
          if (!reply.ok) {
            fail(state, ctx, statusOf[reply.code] ?? 503, reply.code.toLowerCase(), reply.code === 'NO_BACKEND' && state.attempt > 1
              ? `no backend left to retry on after ${state.attempt - 1} failed attempts (${state.exclude.join(', ')})` : `refused: ${reply.code}`);
            return state;
          }
          state.route = reply;
          state.backend = reply.backend;
          callBackend(state, ctx, reply);
          return state;
        }
        case 'router.request.upstreamStatus':
          if (message.attempt !== state.attempt) return state;
          if (message.status >= 500) { retryOrFail(state, ctx, `status ${message.status}`, true); return state; }
          // A 4xx is the client's: passed through, not retried; the backend is fine.
          tellRouter(ctx, { type: 'router.finish', requestId: coreId(state), outcome: 'abandoned' });
          response.writeHead(message.status, { 'content-type': 'application/json', ...routeHeaders(state) });
          response.end(message.body ?? '');
          state.done = true;
          ctx.stopSelf();
          return state;
        case 'router.request.data':
          if (message.attempt !== state.attempt) return state;
          if (request.stream) onEvents(state, ctx, message.text);
          else {
            state.body += message.text;
            if (state.body.length > limits.sseEventBytesMax) retryOrFail(state, ctx, 'the response is too large', false);
          }
          return state;
        case 'router.request.end':
          if (message.attempt !== state.attempt) return state;
          finishOk(state, ctx);
          return state;
        case 'router.request.failed':
          if (message.attempt !== state.attempt) return state;
          retryOrFail(state, ctx, message.message, true);
          return state;
        case 'router.request.clientClosed':
          state.abort?.abort();
          if (state.route !== undefined) tellRouter(ctx, { type: 'router.finish', requestId: coreId(state), outcome: 'abandoned' });
          state.done = true;
          ctx.stopSelf();
          return state;
        default: refuseUnknown(ctx, message, 'router-request'); return state;
      }
    },
    onStop(state) {
      state?.abort?.abort();
      if (state !== undefined && !state.done && !response.writableEnded) {
        if (!response.headersSent) { response.writeHead(500, { 'content-type': 'application/json' }); response.end(errorBody({ code: 'internal', message: 'the request actor stopped' })); }
        else response.end();
      }
    },
    describe: (state) => ({ requestId: spec.requestId, attempt: state.attempt, backend: state.backend, tokens: state.tokens }),
  };
}
