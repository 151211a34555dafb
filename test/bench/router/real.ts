/**
 * The real-backend half of the router bench: three llama.cpp backend processes, fresh for each
 * subject (so every router starts from cold caches), driven by the `openai` client with streaming.
 */
import OpenAI from 'openai';
import { renderChat, startGateway, type PolicyName } from '../../../actors/router/index.js';
import { startBackendProcess, type BackendProcess } from '../../services/llm-backends.js';
import { startSglangRouter } from '../../services/sglang-router.js';
import { freePort } from '../../support/net.js';
import { waitFor } from '../../support/wait.js';
import { oracleHitRate, type Job, type Message } from './workloads.js';

/** Figures of one subject on one workload. */
export interface Figures {
  readonly requests: number;
  readonly errors: number;
  /** Prompt tokens the backends served from cache / prompt tokens. */
  readonly hitRate: number;
  readonly oracleHitRate: number;
  readonly ttftMeanMs: number;
  readonly ttftP99Ms: number;
  readonly requestsPerSecond: number;
  readonly completionTokensPerSecond: number;
  /** Requests served by the busiest backend over the least busy. */
  readonly loadMaxOverMin: number;
}

/** Which router fronts the backends. */
export type Subject = { readonly kind: 'troupe'; readonly policy: PolicyName } | { readonly kind: 'sglang'; readonly python: string };

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

/** Runs `jobs` with `concurrency` clients through `subject` in front of fresh backends. */
export async function measureReal(subject: Subject, jobs: readonly Job[], options: { model: string; concurrency: number; slots: number; contextTokens: number }): Promise<Figures> {
  const backends: BackendProcess[] = await Promise.all([0, 1, 2].map(() => startBackendProcess(options.model, { slots: options.slots, contextTokens: options.contextTokens })));
  let close: () => Promise<void> = async () => undefined;
  try {
    let baseURL: string;
    if (subject.kind === 'troupe') {
      const gateway = await startGateway({
        port: await freePort(), policy: subject.policy,
        backends: backends.map((backend, index) => ({ id: `b${index}`, url: backend.url, capacityTokens: options.slots * options.contextTokens })),
      });
      close = () => gateway.close();
      await waitFor(async () => (await gateway.state()).backends.every((backend) => backend.status === 'up'), { timeoutMs: 60_000, intervalMs: 50, what: 'backends up' });
      baseURL = `${gateway.url}/v1`;
    } else {
      const router = await startSglangRouter(subject.python, backends.map((backend) => backend.url));
      close = () => router.stop();
      baseURL = `${router.url}/v1`;
    }
    const client = new OpenAI({ baseURL, apiKey: 'none', maxRetries: 0, timeout: 300_000 });
    const ttfts: number[] = [];
    const served: Array<{ order: number; prompt: string; after: string }> = [];
    let promptTokens = 0;
    let cachedTokens = 0;
    let completionTokens = 0;
    let errors = 0;
    let order = 0;
    const queue = [...jobs];
    const startedAtMs = performance.now();
    const worker = async (): Promise<void> => {
      for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
        const messages: Message[] = [{ role: 'system', content: job.system }];
        for (const user of job.users) {
          messages.push({ role: 'user', content: user });
          const mine = order++;
          const sentAtMs = performance.now();
          let first: number | undefined;
          let text = '';
          try {
            const stream = await client.chat.completions.create({
              model: 'tiny-llama', stream: true, stream_options: { include_usage: true }, max_tokens: job.maxTokens, messages, ...(job.user === undefined ? {} : { user: job.user }),
            });
            for await (const chunk of stream) {
              const piece = chunk.choices[0]?.delta.content ?? '';
              if (piece.length > 0 && first === undefined) first = performance.now() - sentAtMs;
              text += piece;
              if (chunk.usage) {
                promptTokens += chunk.usage.prompt_tokens;
                cachedTokens += chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
                completionTokens += chunk.usage.completion_tokens;
              }
            }
          } catch {
            errors += 1;
          }
          if (first !== undefined) ttfts.push(first);
          const prompt = renderChat(messages);
          served.push({ order: mine, prompt, after: prompt + text });
          messages.push({ role: 'assistant', content: text });
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
    const elapsedS = (performance.now() - startedAtMs) / 1000;
    const loads = await Promise.all(backends.map(async (backend) => ((await (await fetch(`${backend.url}/cache_state`)).json()) as { served: number }).served));
    served.sort((a, b) => a.order - b.order);
    return {
      requests: served.length, errors,
      hitRate: round(cachedTokens / Math.max(1, promptTokens)), oracleHitRate: round(oracleHitRate(served)),
      ttftMeanMs: round(ttfts.reduce((sum, value) => sum + value, 0) / Math.max(1, ttfts.length), 1), ttftP99Ms: round(percentile(ttfts, 0.99), 1),
      requestsPerSecond: round(served.length / elapsedS, 3), completionTokensPerSecond: round(completionTokens / elapsedS, 2),
      loadMaxOverMin: round(Math.max(...loads) / Math.max(1, Math.min(...loads)), 3),
    };
  } finally {
    await close();
    await Promise.all(backends.map((backend) => backend.kill()));
  }
}

function round(value: number, digits = 4): number {
  return Number(value.toFixed(digits));
}
