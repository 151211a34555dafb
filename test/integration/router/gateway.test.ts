/**
 * The gateway in front of three real llama.cpp backend processes, driven by the `openai` client with
 * streaming: routing by prefix (the decision in response headers, cache hits in usage), a backend
 * killed mid-stream failing only the request it was streaming (with a clear error), a request to a
 * backend that died before its first token retried elsewhere, ejection and readmission of a restarted
 * backend (its cache belief dropped), and a router restart that keeps its hit rate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../../actors/router/index.js';
import { ensureTinyModel, startBackendProcess, type BackendProcess } from '../../services/llm-backends.js';
import { stopAllChildren } from '../../support/children.js';
import { freePort } from '../../support/net.js';
import { waitFor } from '../../support/wait.js';

const slots = 3;
const contextTokens = 1_536;
let model: string;
const backends: BackendProcess[] = [];
let directory: string;
let gateway: Gateway | undefined;

/** Deterministic letters without spaces (a space is three tokens in this vocabulary). */
function letters(seed: number, length: number): string {
  let value = (seed * 2654435761) >>> 0;
  let out = '';
  while (out.length < length) {
    value = (Math.imul(value, 1103515245) + 12345) >>> 0;
    out += String.fromCharCode(97 + ((value >>> 16) % 26));
  }
  return out;
}

async function openGateway(): Promise<Gateway> {
  return startGateway({
    port: await freePort(), dataDirectory: join(directory, 'router'),
    backends: backends.map((backend, index) => ({ id: `b${index}`, url: backend.url, capacityTokens: slots * contextTokens })),
    limits: { probeIntervalMs: 1_000, probeTimeoutMs: 1_000 },
  });
}

async function allUp(target: Gateway): Promise<void> {
  await waitFor(async () => (await target.state()).backends.every((backend) => backend.status === 'up'), { timeoutMs: 60_000, what: 'every backend up' });
}

interface Served { backend: string; attempts: number; reason: string; text: string; promptTokens: number; cachedTokens: number }

async function chat(target: Gateway, system: string, question: string, maxTokens = 4, user?: string): Promise<Served> {
  const client = new OpenAI({ baseURL: `${target.url}/v1`, apiKey: 'none', maxRetries: 0 });
  const { data: stream, response } = await client.chat.completions.create({
    model: 'tiny-llama', stream: true, stream_options: { include_usage: true }, max_tokens: maxTokens,
    messages: [{ role: 'system', content: system }, { role: 'user', content: question }], ...(user === undefined ? {} : { user }),
  }).withResponse();
  let text = '';
  let promptTokens = 0;
  let cachedTokens = 0;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    if (chunk.usage) { promptTokens = chunk.usage.prompt_tokens; cachedTokens = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0; }
  }
  return { backend: response.headers.get('x-route-backend') ?? '', attempts: Number(response.headers.get('x-route-attempts')), reason: response.headers.get('x-route-reason') ?? '', text, promptTokens, cachedTokens };
}

beforeAll(async () => {
  model = await ensureTinyModel();
  directory = mkdtempSync(join(tmpdir(), 'router-gateway-'));
  backends.push(...await Promise.all([0, 1, 2].map(() => startBackendProcess(model, { slots, contextTokens }))));
  gateway = await openGateway();
  await allUp(gateway);
});

afterAll(async () => {
  await gateway?.close();
  await stopAllChildren();
  rmSync(directory, { recursive: true, force: true });
});

describe('router gateway over three llama.cpp backends', () => {
  const groups = Array.from({ length: 6 }, (_, index) => letters(index + 1, 700));

  it('routes each shared system prompt to the backend that holds it, and says so in headers and usage', async () => {
    const homes = new Map<number, string>();
    let prompt = 0;
    let cached = 0;
    for (let round = 0; round < 3; round += 1) {
      for (let group = 0; group < groups.length; group += 1) {
        const served = await chat(gateway!, groups[group]!, `q${round}${letters(100 * round + group, 20)}`);
        expect(served.text.length).toBeGreaterThan(0);
        if (round === 0) homes.set(group, served.backend);
        else {
          expect(served.backend).toBe(homes.get(group));
          expect(served.reason).toBe('prefix');
          prompt += served.promptTokens;
          cached += served.cachedTokens;
        }
      }
    }
    // Six groups over three backends of three slots: every group keeps its cache once placed.
    expect(new Set(homes.values()).size).toBe(3);
    expect(cached / prompt).toBeGreaterThan(0.9);
  });

  it('a router restart keeps its hit rate: trees and sessions come back and are reconciled against the backends', async () => {
    const measure = async (target: Gateway, round: number): Promise<number> => {
      let prompt = 0;
      let cached = 0;
      for (let group = 0; group < groups.length; group += 1) {
        const served = await chat(target, groups[group]!, `r${round}${letters(1_000 * round + group, 20)}`);
        prompt += served.promptTokens;
        cached += served.cachedTokens;
      }
      return cached / prompt;
    };
    const before = await measure(gateway!, 10);
    await gateway!.close();
    gateway = await openGateway();
    const restored = await gateway.state();
    expect(restored.restored).toBe(true);
    await allUp(gateway);
    const after = await measure(gateway, 11);
    console.log(JSON.stringify({ hitRateBefore: before, hitRateAfter: after }));
    expect(before).toBeGreaterThan(0.9);
    expect(after).toBeGreaterThanOrEqual(before * 0.95);
  });

  it('a backend killed before its first token: the request is retried on another backend', async () => {
    const group = 0;
    const home = (await chat(gateway!, groups[group]!, 'warm')).backend;
    const index = Number(home.slice(1));
    await backends[index]!.kill();
    // The router still believes the backend up (no probe has failed twice yet): the connection is refused.
    const served = await chat(gateway!, groups[group]!, 'after-kill');
    expect(served.attempts).toBe(2);
    expect(served.backend).not.toBe(home);
    expect(served.text.length).toBeGreaterThan(0);
    await waitFor(async () => (await gateway!.state()).backends.find((backend) => backend.id === home)?.status === 'ejected', { timeoutMs: 30_000, what: 'ejection' });
    // Restarted on its port with an empty cache: readmitted, and its old tree dropped on the new boot id.
    backends[index] = await startBackendProcess(model, { slots, contextTokens, port: backends[index]!.port });
    await allUp(gateway!);
    const view = await gateway!.state();
    expect(view.backends.find((backend) => backend.id === home)?.bootId).toBe(backends[index]!.bootId);
    expect(view.corrections.restart ?? 0).toBeGreaterThan(0);
  });

  it('a backend killed while the request is in flight but before its first token: retried on another backend', async () => {
    // A long prompt no backend holds: its prefill (about 1,400 tokens) outlasts the kill below.
    const pending = chat(gateway!, letters(991, 1_400), 'long-prefill', 4);
    const view = await waitFor(async () => {
      const state = await gateway!.state();
      return state.backends.some((backend) => backend.inFlight === 1) ? state : undefined;
    }, { timeoutMs: 30_000, intervalMs: 5, what: 'the request in flight' });
    const victim = view.backends.find((backend) => backend.inFlight === 1)!.id;
    const index = Number(victim.slice(1));
    await backends[index]!.kill();
    const served = await pending;
    expect(served.attempts).toBe(2);
    expect(served.backend).not.toBe(victim);
    expect(served.text.length).toBeGreaterThan(0);
    backends[index] = await startBackendProcess(model, { slots, contextTokens, port: backends[index]!.port });
    await allUp(gateway!);
  });

  it('a backend killed mid-stream fails only the request it was streaming, with a clear error', async () => {
    const client = new OpenAI({ baseURL: `${gateway!.url}/v1`, apiKey: 'none', maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions.create({
      model: 'tiny-llama', stream: true, max_tokens: 600, messages: [{ role: 'user', content: letters(77, 200) }],
    }).withResponse();
    const victim = response.headers.get('x-route-backend')!;
    const others = groups.map((system) => chat(gateway!, system, 'concurrent', 12));
    let received = 0;
    let failure: unknown;
    try {
      for await (const chunk of stream) {
        if ((chunk.choices[0]?.delta.content ?? '').length > 0) received += 1;
        if (received === 3) await backends[Number(victim.slice(1))]!.kill();
      }
    } catch (error) {
      failure = error;
    }
    expect(received).toBeGreaterThanOrEqual(3);
    expect(String(failure)).toMatch(new RegExp(`backend ${victim} failed after \\d+ streamed tokens`));
    // The other requests, on the same gateway at the same time, are served (retried elsewhere when
    // they had been routed to the victim and got no token yet).
    const served = await Promise.all(others);
    for (const each of served) expect(each.text.length).toBeGreaterThan(0);
  });

  it('tenants: an unknown token is refused, a tenant past its burst gets 429 while another is still served', async () => {
    const limited = await startGateway({
      port: await freePort(),
      backends: backends.map((backend, index) => ({ id: `b${index}`, url: backend.url, capacityTokens: slots * contextTokens })),
      tenants: {
        'key-a': { tenant: 'a', limits: { requestsPerSecond: 0.001, burst: 2, tokenBudget: 1_000_000, budgetWindowMs: 60_000 } },
        'key-b': { tenant: 'b' },
      },
    });
    try {
      // The backend killed mid-stream above stays down; the others serve.
      await waitFor(async () => (await limited.state()).backends.filter((backend) => backend.status === 'up').length >= 2, { timeoutMs: 60_000, what: 'two backends up' });
      const ask = (key: string): Promise<Response> => fetch(`${limited.url}/v1/completions`, {
        method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'abc', max_tokens: 1 }),
      });
      expect((await ask('nobody')).status).toBe(401);
      expect((await ask('key-a')).status).toBe(200);
      expect((await ask('key-a')).status).toBe(200);
      const refused = await ask('key-a');
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
      const other = await ask('key-b');
      expect(other.status).toBe(200);
      expect(other.headers.get('x-route-backend')).toMatch(/^b[0-2]$/);
    } finally {
      await limited.close();
    }
  });
});
