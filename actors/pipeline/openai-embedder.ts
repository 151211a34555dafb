/**
 * Adapter for any OpenAI-compatible `POST /v1/embeddings` endpoint (OpenAI, vLLM, llama.cpp server,
 * Ollama, text-embeddings-inference ...). Request: `{ model, input: string[], dimensions? }`;
 * response: `{ data: [{ index, embedding: number[] }] }`.
 *
 * Failures are classified for the retry policy: a 4xx other than 408/429 is the endpoint refusing
 * this input (EMBED_REJECTED: retrying the same text will not help, so the message is dead-lettered
 * once the policy is spent); a timeout, a network error, 408, 429 or 5xx is transient (EMBED_FAILED:
 * the worker crashes and its supervisor retries the batch after a backoff).
 */
import type { Embedder } from './core/embedding.js';
import { PipelineError } from './errors.js';

/** Options of the adapter. */
export interface OpenAiEmbedderOptions {
  /** Base URL up to and including `/v1`, e.g. `http://127.0.0.1:8000/v1`. */
  readonly baseUrl: string;
  readonly model: string;
  readonly dimensions: number;
  readonly apiKey?: string;
  /** Texts per request; larger inputs are split into several requests. */
  readonly batchSizeMax?: number;
  readonly timeoutMs?: number;
  /** Sends `dimensions` in the request (for models that can shorten their output). */
  readonly requestDimensions?: boolean;
}

interface EmbeddingsResponse {
  readonly data?: ReadonlyArray<{ readonly index?: unknown; readonly embedding?: unknown }>;
}

/** Creates an embedder backed by an OpenAI-compatible HTTP endpoint. */
export function openAiEmbedder(options: OpenAiEmbedderOptions): Embedder {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/embeddings`;
  const batchSizeMax = options.batchSizeMax ?? 64;
  const embedBatch = async (texts: readonly string[]): Promise<number[][]> => {
    const body: Record<string, unknown> = { model: options.model, input: texts };
    if (options.requestDimensions === true) body.dimensions = options.dimensions;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` }) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
    } catch (cause) {
      throw new PipelineError('EMBED_FAILED', `embeddings request to ${url} failed`, { cause, context: { url } });
    }
    if (!response.ok) {
      const detail = (await response.text().catch(() => '')).slice(0, 500);
      const transient = response.status === 408 || response.status === 429 || response.status >= 500;
      throw new PipelineError(transient ? 'EMBED_FAILED' : 'EMBED_REJECTED', `embeddings endpoint answered ${response.status}: ${detail}`, { context: { url, status: response.status } });
    }
    return parseResponse((await response.json()) as EmbeddingsResponse, texts.length, options.dimensions);
  };
  return {
    model: options.model,
    dimensions: options.dimensions,
    embed: async (texts) => {
      const vectors: number[][] = [];
      for (let start = 0; start < texts.length; start += batchSizeMax) vectors.push(...(await embedBatch(texts.slice(start, start + batchSizeMax))));
      return vectors;
    },
  };
}

/** Validates the response shape; a malformed answer is a transient failure of the endpoint. */
function parseResponse(response: EmbeddingsResponse, count: number, dimensions: number): number[][] {
  const fail = (message: string): never => {
    throw new PipelineError('EMBED_FAILED', `malformed embeddings response: ${message}`);
  };
  if (!Array.isArray(response.data) || response.data.length !== count) fail(`expected ${count} embeddings`);
  const vectors = new Array<number[] | undefined>(count).fill(undefined);
  for (const item of response.data!) {
    const index = item.index;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count || vectors[index] !== undefined) fail('bad or repeated index');
    const embedding = item.embedding;
    if (!Array.isArray(embedding) || embedding.length !== dimensions || !embedding.every((value) => typeof value === 'number' && Number.isFinite(value))) {
      fail(`embedding ${String(index)} is not ${dimensions} finite numbers`);
    }
    vectors[index as number] = normalise(embedding as number[]);
  }
  return vectors as number[][];
}

/** Scales to unit length so cosine distance behaves the same for every model. */
function normalise(vector: number[]): number[] {
  let norm = 0;
  for (const value of vector) norm += value * value;
  if (norm === 0) return vector;
  const scale = 1 / Math.sqrt(norm);
  return vector.map((value) => value * scale);
}
