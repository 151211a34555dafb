/**
 * The llama.cpp backend process: the OpenAI API through the `openai` client (streaming included), the
 * probes, real prompt caching reported as cached tokens, and refusals of bad input.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel, startBackendProcess, type BackendProcess } from '../../services/llm-backends.js';
import { stopAllChildren } from '../../support/children.js';

let backend: BackendProcess;

beforeAll(async () => {
  backend = await startBackendProcess(await ensureTinyModel(), { slots: 2 });
});
afterAll(async () => { await stopAllChildren(); });

describe('llama.cpp backend', () => {
  it('streams a chat completion and reuses the KV cache of a shared prefix', async () => {
    const client = new OpenAI({ baseURL: `${backend.url}/v1`, apiKey: 'none', maxRetries: 0 });
    const system = 'You answer tersely. '.repeat(20);
    const usages: number[] = [];
    for (const question of ['first question', 'second question']) {
      const stream = await client.chat.completions.create({
        model: 'tiny-llama', stream: true, stream_options: { include_usage: true }, max_tokens: 6,
        messages: [{ role: 'system', content: system }, { role: 'user', content: question }],
      });
      let text = '';
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) usages.push(chunk.usage.prompt_tokens_details?.cached_tokens ?? -1);
      }
      expect(text.length).toBeGreaterThan(0);
    }
    expect(usages[0]).toBe(0);
    expect(usages[1]).toBeGreaterThan(system.length);
  });

  it('serves the probes the router and SGLang router make', async () => {
    const state = await (await fetch(`${backend.url}/cache_state`)).json() as { bootId: string; cachedTokens: number; capacityTokens: number };
    expect(state.bootId).toBe(backend.bootId);
    expect(state.capacityTokens).toBeGreaterThanOrEqual(4_096);
    for (const path of ['/health', '/server_info', '/model_info', '/v1/models']) expect((await fetch(`${backend.url}${path}`)).status).toBe(200);
    const completion = await new OpenAI({ baseURL: `${backend.url}/v1`, apiKey: 'none', maxRetries: 0 }).completions.create({ model: 'tiny-llama', prompt: 'abc', max_tokens: 3 });
    expect(completion.usage?.completion_tokens).toBe(3);
  });

  it('refuses bad input with an OpenAI error body and keeps serving', async () => {
    const bad = await fetch(`${backend.url}/v1/chat/completions`, { method: 'POST', body: '{"messages": 3}' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_messages');
    const huge = await fetch(`${backend.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'x'.repeat(2 * 1024 * 1024) }) });
    expect(huge.status).toBe(413);
    const long = await fetch(`${backend.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'x'.repeat(5_000), max_tokens: 4 }) });
    expect(long.status).toBe(400);
    expect((await fetch(`${backend.url}/health`)).status).toBe(200);
  });
});
