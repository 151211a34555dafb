/**
 * The OpenAI-compatible embeddings adapter against a real local HTTP server: request shape, response
 * reordering by index, batching, and the classification of failures for the retry policy.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiEmbedder, PipelineError } from '../../../actors/pipeline/index.js';

let server: Server;
let baseUrl: string;
const requests: Array<{ authorization: string | undefined; body: { model: string; input: string[] } }> = [];
let mode: 'ok' | 'reject' | 'unavailable' | 'malformed' = 'ok';

function respond(request: IncomingMessage, response: ServerResponse, raw: string): void {
  const body = JSON.parse(raw) as { model: string; input: string[] };
  requests.push({ authorization: request.headers.authorization, body });
  if (mode === 'reject') { response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"input too long"}'); return; }
  if (mode === 'unavailable') { response.writeHead(503).end('overloaded'); return; }
  const data = body.input.map((text, index) => ({ index, embedding: mode === 'malformed' ? [1] : [text.length, 1, 0] }));
  // Answer out of order: the adapter must place vectors by `index`.
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: data.reverse() }));
}

beforeAll(async () => {
  server = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk: Buffer) => { raw += chunk.toString(); });
    request.on('end', () => respond(request, response, raw));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('openAiEmbedder', () => {
  it('posts batches to /v1/embeddings with the key, and returns unit vectors in input order', async () => {
    mode = 'ok';
    requests.length = 0;
    const embedder = openAiEmbedder({ baseUrl, model: 'test-model', dimensions: 3, apiKey: 'secret', batchSizeMax: 2 });
    const vectors = await embedder.embed(['a', 'bbb', 'cc']);
    expect(requests.map((request) => request.body.input)).toEqual([['a', 'bbb'], ['cc']]);
    expect(requests[0]!.authorization).toBe('Bearer secret');
    expect(requests[0]!.body.model).toBe('test-model');
    expect(vectors.map((vector) => vector[0]! / vector[1]!)).toEqual([1, 3, 2].map((value) => expect.closeTo(value, 9)));
    for (const vector of vectors) expect(Math.hypot(...vector)).toBeCloseTo(1, 9);
  });

  it.each([
    ['reject', 'EMBED_REJECTED'],
    ['unavailable', 'EMBED_FAILED'],
    ['malformed', 'EMBED_FAILED'],
  ] as const)('classifies a %s answer as %s', async (answer, code) => {
    mode = answer;
    const embedder = openAiEmbedder({ baseUrl, model: 'test-model', dimensions: 3 });
    const failure = await embedder.embed(['x']).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PipelineError);
    expect((failure as PipelineError).code).toBe(code);
  });

  it('reports an unreachable endpoint as EMBED_FAILED (transient)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const failure = await openAiEmbedder({ baseUrl: `http://127.0.0.1:${port}/v1`, model: 'm', dimensions: 3, timeoutMs: 2000 }).embed(['x']).catch((error: unknown) => error);
    expect((failure as PipelineError).code).toBe('EMBED_FAILED');
  });
});
