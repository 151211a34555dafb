/**
 * An OpenAI-compatible inference server on llama.cpp (node-llama-cpp's prebuilt CPU binary): the
 * backend the router is tested and benchmarked against. It serves `/v1/chat/completions` and
 * `/v1/completions` (with SSE streaming), `/v1/models`, `/health`, the probes SGLang's router makes at
 * start (`/server_info`, `/model_info` and their `get_` forms), and `/cache_state` (its boot id and cache
 * occupancy, which the router reconciles its belief against).
 *
 * Prompt caching is real: the context has `slots` sequences, each keeping the KV cache of the last
 * prompt and completion it served; a request takes the slot sharing the longest token prefix with its
 * prompt (waiting for it if busy), erases the rest, and prefills only the tokens past the shared
 * prefix. `usage.prompt_tokens_details.cached_tokens` reports how many were reused.
 * A request waits in a bounded FIFO queue while every slot is busy; past it, 503.
 *
 * Generation is greedy over printable tokens other than space (a space re-tokenizes differently in
 * SentencePiece vocabularies), so a completion sent back as the next turn's history tokenizes to the
 * very tokens the slot already holds.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { getLlama, TokenBias, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import { apiFailure, errorBody, parseGenerationRequest, protocolLimits, type ApiFailure, type ChatMessage, type GenerationRequest } from './openai-protocol.js';

/** Options of `startLlamaBackend`. */
export interface LlamaBackendOptions {
  readonly modelPath: string;
  readonly port: number;
  readonly host?: string;
  /** Name served in `/v1/models` and responses. */
  readonly modelName?: string;
  /** Sequences (cache slots) in the context: requests served at once. */
  readonly slots?: number;
  /** Tokens per slot. */
  readonly contextTokens?: number;
  readonly threads?: number;
  /** Requests waiting for a slot at most; more are refused with 503. */
  readonly queueMax?: number;
}

/** A running backend. */
export interface LlamaBackend {
  readonly url: string;
  readonly bootId: string;
  close(): Promise<void>;
}

interface Waiter {
  readonly tokens: readonly Token[];
  readonly resolve: (slot: Slot) => void;
}

interface Slot {
  readonly sequence: LlamaContextSequence;
  busy: boolean;
  lastUsed: number;
  /** The prompt of the request holding (or that last held) the slot. */
  prompt: readonly Token[];
  /** Requests waiting for this slot because it holds their prefix. */
  readonly waiters: Waiter[];
}

function commonPrefix(a: readonly Token[], b: readonly Token[]): number {
  let length = 0;
  while (length < a.length && length < b.length && a[length] === b[length]) length += 1;
  return length;
}

/** The prompt a chat becomes: a plain role-tagged template ending where the assistant speaks. */
export function renderChat(messages: readonly ChatMessage[]): string {
  return `${messages.map((message) => `<|${message.role}|>\n${message.content}\n`).join('')}<|assistant|>\n`;
}

class Engine {
  readonly #slots: Slot[];
  readonly #waiting: Waiter[] = [];
  readonly #bias: TokenBias;
  #tick = 0;
  /** Requests given a slot so far. */
  served = 0;

  constructor(readonly model: LlamaModel, readonly context: LlamaContext, slots: number, readonly queueMax: number) {
    this.#slots = Array.from({ length: slots }, () => ({ sequence: context.getSequence(), busy: false, lastUsed: 0, prompt: [], waiters: [] }));
    this.#bias = new TokenBias(model.tokenizer);
    const allowed = new Set<number>();
    for (let code = 0x21; code < 0x7f; code += 1) for (const token of model.tokenize(String.fromCharCode(code), false, 'trimLeadingSpace')) allowed.add(token);
    const vocabulary = (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } }).tokenizer?.ggml?.tokens?.length ?? 0;
    for (let token = 0; token < vocabulary; token += 1) if (!allowed.has(token)) this.#bias.set(token as Token, 'never');
  }

  get contextTokens(): number {
    return this.#slots[0]!.sequence.contextSize;
  }

  cachedTokens(): number {
    return this.#slots.reduce((sum, slot) => sum + slot.sequence.nextTokenIndex, 0);
  }

  /**
   * Takes the slot sharing the longest prefix with `tokens` (at least 32 tokens and half of what the
   * slot holds, so a slot is not thrown away for a few shared tokens). When that slot is busy, waits
   * for it rather than recomputing the prefix in another slot and evicting that slot's cache (a
   * server with one shared prefix cache would reuse it at once). Otherwise an empty slot, else the
   * least recently used free one; when every slot is busy, the general queue.
   */
  async acquire(tokens: readonly Token[]): Promise<Slot | ApiFailure> {
    let bestFree: Slot | undefined;
    let bestFreeCommon = 0;
    let bestBusy: Slot | undefined;
    let bestBusyCommon = 0;
    let spare: Slot | undefined;
    const spareRank = (candidate: Slot): number => (candidate.sequence.nextTokenIndex === 0 ? -1 : candidate.lastUsed);
    for (const slot of this.#slots) {
      const content = slot.busy ? slot.prompt : slot.sequence.contextTokens;
      const common = commonPrefix(content, tokens);
      const useful = content.length > 0 && common >= 32 && common * 2 >= content.length;
      if (!slot.busy) {
        if (useful && common > bestFreeCommon) { bestFree = slot; bestFreeCommon = common; }
        if (spare === undefined || spareRank(slot) < spareRank(spare)) spare = slot;
      } else if (useful && common > bestBusyCommon) { bestBusy = slot; bestBusyCommon = common; }
    }
    this.served += 1;
    const take = (slot: Slot): Slot => { slot.busy = true; slot.prompt = tokens; return slot; };
    if (bestFree !== undefined && bestFreeCommon >= bestBusyCommon) return take(bestFree);
    const queued = this.#waiting.length + this.#slots.reduce((sum, slot) => sum + slot.waiters.length, 0);
    if (bestBusy !== undefined || spare === undefined) {
      if (queued >= this.queueMax) return apiFailure(503, 'backend_busy', 'every slot is busy and the queue is full');
      const queue = bestBusy?.waiters ?? this.#waiting;
      return new Promise<Slot>((resolve) => queue.push({ tokens, resolve }));
    }
    return take(spare);
  }

  release(slot: Slot): void {
    slot.lastUsed = ++this.#tick;
    const next = slot.waiters.shift() ?? this.#waiting.shift();
    if (next === undefined) { slot.busy = false; return; }
    slot.prompt = next.tokens;
    next.resolve(slot);
  }

  /** Prefills past the shared prefix and yields generated text pieces; returns the cached-token count first. */
  async *generate(slot: Slot, tokens: Token[], maxTokens: number): AsyncGenerator<{ cachedTokens: number } | { text: string } | { finish: 'stop' | 'length' }> {
    const sequence = slot.sequence;
    const reuse = Math.min(commonPrefix(sequence.contextTokens, tokens), tokens.length - 1);
    if (sequence.nextTokenIndex > reuse) await sequence.eraseContextTokenRanges([{ start: reuse, end: sequence.nextTokenIndex }]);
    yield { cachedTokens: reuse };
    const generated: Token[] = [];
    let sent = '';
    const eos = this.model.tokens.eos;
    for await (const token of sequence.evaluate(tokens.slice(reuse), { temperature: 0, tokenBias: this.#bias })) {
      if (token === eos) { yield { finish: 'stop' }; return; }
      generated.push(token);
      const text = this.model.detokenize(generated);
      if (text.length > sent.length) { yield { text: text.slice(sent.length) }; sent = text; }
      if (generated.length >= maxTokens) break;
    }
    yield { finish: 'length' };
  }
}

async function readBody(request: IncomingMessage, bytesMax: number): Promise<unknown | ApiFailure> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > bytesMax) return apiFailure(413, 'body_too_large', `the body exceeds ${bytesMax} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return apiFailure(400, 'invalid_json', 'the body is not JSON');
  }
}

function isFailure(value: unknown): value is ApiFailure {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function sendFailure(response: ServerResponse, failure: ApiFailure): void {
  const text = errorBody(failure);
  // A body left unread (413) would be read as the next request: the connection closes instead.
  const close = failure.status === 413 ? { connection: 'close' } : {};
  response.writeHead(failure.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...close });
  response.end(text);
}

/** Starts a backend; resolves once the model is loaded and the port listens. */
export async function startLlamaBackend(options: LlamaBackendOptions): Promise<LlamaBackend> {
  const llama: Llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  const model = await llama.loadModel({ modelPath: options.modelPath });
  const slots = options.slots ?? 2;
  const context = await model.createContext({ contextSize: options.contextTokens ?? 2_048, sequences: slots, batchSize: 512, threads: options.threads ?? 1 });
  const engine = new Engine(model, context, slots, options.queueMax ?? 64);
  const bootId = randomUUID();
  const modelName = options.modelName ?? 'tiny-llama';
  const startedAtS = Math.floor(Date.now() / 1000);
  const info = { model_path: options.modelPath, tokenizer_path: options.modelPath, is_generation: true, served_model_name: modelName };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'GET') {
      switch (path) {
        case '/health': case '/health_generate': sendJson(response, 200, { status: 'ok' }); return;
        case '/v1/models': sendJson(response, 200, { object: 'list', data: [{ id: modelName, object: 'model', created: startedAtS, owned_by: 'troupe' }] }); return;
        case '/model_info': case '/get_model_info': sendJson(response, 200, info); return;
        case '/server_info': case '/get_server_info':
          sendJson(response, 200, { ...info, version: 'troupe-llama', max_total_num_tokens: engine.contextTokens * slots, max_running_requests: slots, context_length: engine.contextTokens });
          return;
        case '/cache_state': sendJson(response, 200, { bootId, cachedTokens: engine.cachedTokens(), capacityTokens: engine.contextTokens * slots, slots, served: engine.served }); return;
        default: sendFailure(response, apiFailure(404, 'not_found', `no route ${path}`)); return;
      }
    }
    if (request.method !== 'POST' || (path !== '/v1/chat/completions' && path !== '/v1/completions')) {
      if (request.method === 'POST' && path === '/flush_cache') { sendJson(response, 200, { ok: true }); return; }
      sendFailure(response, apiFailure(404, 'not_found', `no route ${request.method} ${path}`));
      return;
    }
    const body = await readBody(request, protocolLimits.bodyBytesMax);
    if (isFailure(body)) { sendFailure(response, body); return; }
    const parsed = parseGenerationRequest(path === '/v1/chat/completions' ? 'chat' : 'completion', body);
    if (isFailure(parsed)) { sendFailure(response, parsed); return; }
    await serveGeneration(parsed, response, { engine, model, modelName });
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendFailure(response, apiFailure(500, 'backend_error', (error as Error).message));
      else response.destroy(error as Error);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${options.port}`,
    bootId,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

async function serveGeneration(request: GenerationRequest, response: ServerResponse, deps: { engine: Engine; model: LlamaModel; modelName: string }): Promise<void> {
  const { engine, model, modelName } = deps;
  const text = request.kind === 'chat' ? renderChat(request.messages ?? []) : request.prompt ?? '';
  const tokens = model.tokenize(text);
  if (tokens.length + request.maxTokens > engine.contextTokens) {
    sendFailure(response, apiFailure(400, 'context_length_exceeded', `prompt (${tokens.length} tokens) plus max_tokens exceeds the context of ${engine.contextTokens}`));
    return;
  }
  const slot = await engine.acquire(tokens);
  if (isFailure(slot)) { sendFailure(response, slot); return; }
  const id = `${request.kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const object = request.kind === 'chat' ? 'chat.completion' : 'text_completion';
  const piece = (content: string, finish: string | null, first: boolean): unknown => request.kind === 'chat'
    ? { index: 0, delta: first ? { role: 'assistant', content } : { content }, finish_reason: finish, logprobs: null }
    : { index: 0, text: content, finish_reason: finish, logprobs: null };
  let aborted = false;
  response.once('close', () => { aborted = !response.writableFinished; });
  try {
    let cachedTokens = 0;
    let completion = '';
    let completionTokens = 0;
    let finish: 'stop' | 'length' = 'length';
    let first = true;
    if (request.stream) response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    for await (const event of engine.generate(slot, tokens, request.maxTokens)) {
      if (aborted) break;
      if ('cachedTokens' in event) { cachedTokens = event.cachedTokens; continue; }
      if ('finish' in event) { finish = event.finish; break; }
      completion += event.text;
      completionTokens += 1;
      if (request.stream) {
        response.write(`data: ${JSON.stringify({ id, object: `${object}.chunk`, created, model: modelName, choices: [piece(event.text, null, first)] })}\n\n`);
        first = false;
      }
    }
    if (aborted) return;
    const usage = { prompt_tokens: tokens.length, completion_tokens: completionTokens, total_tokens: tokens.length + completionTokens, prompt_tokens_details: { cached_tokens: cachedTokens } };
    if (request.stream) {
      response.write(`data: ${JSON.stringify({ id, object: `${object}.chunk`, created, model: modelName, choices: [piece('', finish, first)] })}\n\n`);
      if (request.includeUsage) response.write(`data: ${JSON.stringify({ id, object: `${object}.chunk`, created, model: modelName, choices: [], usage })}\n\n`);
      response.end('data: [DONE]\n\n');
      return;
    }
    const choice = request.kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: completion }, finish_reason: finish, logprobs: null }
      : { index: 0, text: completion, finish_reason: finish, logprobs: null };
    sendJson(response, 200, { id, object, created, model: modelName, choices: [choice], usage });
  } finally {
    engine.release(slot);
  }
}
