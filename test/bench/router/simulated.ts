/**
 * The simulated half of the router bench: hundreds of simulated backends (test/sim/router/
 * simulated-backend.ts: prefill time proportional to uncached tokens, an LRU cache of prefix blocks,
 * one request at a time) behind the routing core, over simulated time. Closed-loop clients run a
 * shared-prefix or a multi-turn workload. Figures: hit rate (cached / prompt tokens), the
 * unbounded-cache oracle's hit rate, mean and p99 TTFT and throughput in simulated time, the load
 * ratio, and the core's real CPU time per routing decision.
 */
import { createRng } from '../../../runtime/index.js';
import { blockKeys, initialRouterState, routerConfig, step, type PolicyName, type RouterConfig } from '../../../actors/router/index.js';
import { SimulatedBackend } from '../../sim/router/simulated-backend.js';
import { EventQueue } from '../../sim/router/simulation.js';
import { Conversation, SharedPrefixWorkload, randomText } from '../../sim/router/workload.js';

/** Figures of one policy. */
export interface SimulatedFigures {
  readonly hitRate: number;
  readonly oracleHitRate: number;
  readonly ttftMeanMs: number;
  readonly ttftP99Ms: number;
  readonly requestsPerSecond: number;
  readonly loadMaxOverMin: number;
  readonly routeMicroseconds: number;
}

const encoder = new TextEncoder();
const blockBytes = 16;

/** Runs one policy over `backends` simulated backends. */
export function measureSimulated(policy: PolicyName, workload: 'shared-prefix' | 'multi-turn', options: { backends: number; requests: number; seed: number; config?: Partial<RouterConfig> }): SimulatedFigures {
  const rng = createRng(options.seed);
  const state = initialRouterState(routerConfig({ policy, blockBytes, ...options.config }));
  const capacityBlocks = 1_000;
  const backends = new Map<string, SimulatedBackend>();
  for (let index = 0; index < options.backends; index += 1) {
    const id = `b${index}`;
    backends.set(id, new SimulatedBackend({ id, capacityBlocks, blockTokens: blockBytes, prefillMsPerToken: 0.05, decodeMsPerToken: 5, overheadMs: 5 }));
    step(state, { type: 'backend.add', id, capacityTokens: capacityBlocks * blockBytes });
    step(state, { type: 'backend.probe', id, ok: true, bootId: id });
  }
  const queue = new EventQueue();
  const shared = new SharedPrefixWorkload(rng, { groups: options.backends * 3, systemLength: 3_000, questionLength: 200, outputTokens: 20 });
  const chatSystem = randomText(rng, 400);
  const seenKeys = new Set<number>();
  const ttfts: number[] = [];
  let promptTokens = 0;
  let cachedTokens = 0;
  let oracleTokens = 0;
  let sent = 0;
  let completed = 0;
  let routeNs = 0n;
  let lastDoneMs = 0;

  const send = (prompt: string, sessionKey: string | undefined, outputTokens: number, done: (completion: string) => void): void => {
    const requestId = `q${sent++}`;
    const bytes = encoder.encode(prompt);
    const keys = blockKeys(bytes, blockBytes, state.config.promptBlocksMax);
    let oracle = 0;
    while (oracle < keys.length && seenKeys.has(keys[oracle]!)) oracle += 1;
    oracleTokens += Math.min(bytes.length, oracle * blockBytes);
    const before = process.hrtime.bigint();
    const { effects } = step(state, { type: 'route', requestId, keys, promptTokens: bytes.length, ...(sessionKey === undefined ? {} : { sessionKey }) });
    routeNs += process.hrtime.bigint() - before;
    const routed = effects[0]!;
    if (routed.type !== 'routed') throw new Error(`unroutable: ${JSON.stringify(routed)}`);
    const completion = randomText(rng, outputTokens);
    const filledKeys = blockKeys(encoder.encode(prompt + completion), blockBytes, state.config.promptBlocksMax);
    for (const key of filledKeys) seenKeys.add(key);
    const timing = backends.get(routed.backend)!.serve(queue.nowMs, keys, bytes.length, outputTokens, filledKeys);
    queue.at(timing.firstTokenAtMs, () => {
      step(state, { type: 'first-token', requestId, prefillMs: timing.prefillMs });
      ttfts.push(timing.prefillMs);
      queue.at(timing.doneAtMs, () => {
        step(state, { type: 'finish', requestId, outcome: 'ok', cachedTokens: timing.cachedTokens, filledKeys });
        promptTokens += bytes.length;
        cachedTokens += timing.cachedTokens;
        completed += 1;
        lastDoneMs = queue.nowMs;
        done(completion);
      });
    });
  };

  const clients = options.backends * 3;
  for (let index = 0; index < clients; index += 1) {
    let conversation: Conversation | undefined;
    const loop = (): void => {
      if (sent >= options.requests) return;
      if (workload === 'multi-turn') {
        if (conversation === undefined || conversation.turns >= 8) conversation = new Conversation(rng, `client-${index}-${sent}`, { systemPrompt: chatSystem, userLength: 150 });
        const current = conversation;
        const request = current.next(40);
        send(request.prompt, current.sessionKey, 40, (completion) => { current.answered(completion); queue.at(queue.nowMs + rng.next() * 200, loop); });
      } else {
        const request = shared.next();
        send(request.prompt, undefined, request.outputTokens, () => queue.at(queue.nowMs + rng.next() * 200, loop));
      }
    };
    queue.at(rng.next() * 100, loop);
  }
  while (queue.runNext()) { /* runs to the end */ }
  const routed = [...state.backends.values()].map((backend) => backend.routed);
  const sorted = [...ttfts].sort((a, b) => a - b);
  return {
    hitRate: round(cachedTokens / promptTokens), oracleHitRate: round(oracleTokens / promptTokens),
    ttftMeanMs: round(ttfts.reduce((sum, value) => sum + value, 0) / ttfts.length, 1), ttftP99Ms: round(sorted[Math.floor(sorted.length * 0.99)]!, 1),
    requestsPerSecond: round(completed / (lastDoneMs / 1000), 1), loadMaxOverMin: round(Math.max(...routed) / Math.max(1, Math.min(...routed)), 3),
    routeMicroseconds: round(Number(routeNs / BigInt(Math.max(1, sent))) / 1000, 2),
  };
}

function round(value: number, digits = 4): number {
  return Number(value.toFixed(digits));
}
