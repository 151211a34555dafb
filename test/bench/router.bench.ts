/**
 * Router benchmark. Two halves, each comparing our cache-aware policy with round robin, consistent
 * hashing and SGLang's cache-aware router, in the same run:
 *
 * 1. Real backends (test/bench/router/real.ts): three llama.cpp processes on the tiny model, fresh for
 *    each subject, a shared-prefix workload and a multi-turn chat workload through the `openai`
 *    client with streaming. Subjects: the Troupe gateway with `cache-aware`, `round-robin` and
 *    `consistent-hash`, and the real SGLang router (`sglang-router` 0.3.2, `--policy cache_aware`).
 *    Figures: hit rate (cached prompt tokens reported by the backends / prompt tokens), the
 *    unbounded-cache oracle's hit rate on the same requests, mean and p99 TTFT, requests/s,
 *    completion tokens/s, and requests max/min over the backends.
 * 2. Simulated backends (test/bench/router/simulated.ts): ROUTER_BENCH_SIM_BACKENDS (default 200)
 *    backends behind the routing core, every policy of the core (`sglang-cache-aware` being SGLang's
 *    thresholds in our core), on both workloads.
 *
 * Settings: ROUTER_BENCH_REAL=0 skips the real half; ROUTER_BENCH_REQUESTS (shared-prefix requests,
 * default 72), ROUTER_BENCH_CONVERSATIONS (default 12), ROUTER_BENCH_CONCURRENCY (default 6),
 * ROUTER_BENCH_SGLANG=0 skips SGLang's router, ROUTER_BENCH_SIM=0 the simulated half, and
 * ROUTER_BENCH_SUBJECTS=troupe-cache-aware,sglang-router picks real subjects. The last line is the JSON; `ratio` is SGLang's mean
 * TTFT over ours on the shared-prefix workload (above 1: ours is faster).
 */
import { createRng } from '../../runtime/index.js';
import { policyNames } from '../../actors/router/index.js';
import { ensureTinyModel } from '../services/llm-backends.js';
import { ensureSglangRouter, sglangRouterVersion } from '../services/sglang-router.js';
import { stopAllChildren } from '../support/children.js';
import { measureReal, type Figures, type Subject } from './router/real.js';
import { measureSimulated, type SimulatedFigures } from './router/simulated.js';
import { multiTurnJobs, sharedPrefixJobs } from './router/workloads.js';

const real = process.env.ROUTER_BENCH_REAL !== '0';
const simulatedOn = process.env.ROUTER_BENCH_SIM !== '0';
const subjectFilter = (process.env.ROUTER_BENCH_SUBJECTS ?? '').split(',').filter((name) => name !== '');
const withSglang = process.env.ROUTER_BENCH_SGLANG !== '0';
const requests = Number(process.env.ROUTER_BENCH_REQUESTS ?? '72');
const conversations = Number(process.env.ROUTER_BENCH_CONVERSATIONS ?? '12');
const concurrency = Number(process.env.ROUTER_BENCH_CONCURRENCY ?? '6');
const simBackends = Number(process.env.ROUTER_BENCH_SIM_BACKENDS ?? '200');
const log = (line: string): void => { process.stderr.write(`${line}\n`); };

async function realHalf(): Promise<Record<string, Record<string, Figures | { error: string }>>> {
  const model = await ensureTinyModel();
  const subjects: Array<[string, () => Promise<Subject>]> = [
    ['troupe-cache-aware', async () => ({ kind: 'troupe', policy: 'cache-aware' })],
    ['round-robin', async () => ({ kind: 'troupe', policy: 'round-robin' })],
    ['consistent-hash', async () => ({ kind: 'troupe', policy: 'consistent-hash' })],
  ];
  if (withSglang) subjects.push(['sglang-router', async () => ({ kind: 'sglang', python: await ensureSglangRouter() })]);
  const workloads = {
    'shared-prefix': sharedPrefixJobs(createRng(11), { groups: 9, systemLength: 700, questionLength: 40, requests, maxTokens: 8 }),
    'multi-turn': multiTurnJobs(createRng(12), { conversations, turns: 4, systemLength: 200, userLength: 150, maxTokens: 24 }),
  };
  const results: Record<string, Record<string, Figures | { error: string }>> = {};
  for (const [workload, jobs] of Object.entries(workloads)) {
    results[workload] = {};
    for (const [name, make] of subjects) {
      if (subjectFilter.length > 0 && !subjectFilter.includes(name)) continue;
      try {
        const figures = await measureReal(await make(), jobs, { model, concurrency, slots: 3, contextTokens: 1_536 });
        results[workload][name] = figures;
        log(`${workload} ${name}: ${JSON.stringify(figures)}`);
      } catch (error) {
        results[workload][name] = { error: (error as Error).stack ?? String(error) };
        log(`${workload} ${name} failed: ${(error as Error).message}`);
      }
    }
  }
  return results;
}

function simulatedHalf(): Record<string, Record<string, SimulatedFigures>> {
  const results: Record<string, Record<string, SimulatedFigures>> = {};
  for (const workload of ['shared-prefix', 'multi-turn'] as const) {
    results[workload] = {};
    for (const policy of policyNames) {
      results[workload][policy] = measureSimulated(policy, workload, { backends: simBackends, requests: simBackends * 60, seed: 5 });
      log(`simulated ${workload} ${policy}: ${JSON.stringify(results[workload][policy])}`);
    }
  }
  return results;
}

async function main(): Promise<void> {
  const simulated = simulatedOn ? simulatedHalf() : {};
  const realResults = real ? await realHalf() : {};
  const ours = realResults['shared-prefix']?.['troupe-cache-aware'];
  const sglang = realResults['shared-prefix']?.['sglang-router'];
  const ratio = ours !== undefined && sglang !== undefined && !('error' in ours) && !('error' in sglang) ? Number((sglang.ttftMeanMs / ours.ttftMeanMs).toFixed(3)) : null;
  console.log(JSON.stringify({
    bench: 'router',
    settings: { requests, conversations, concurrency, simulatedBackends: simBackends, sglangRouter: sglangRouterVersion },
    real: realResults,
    simulated,
    baseline: { sglangRouterSharedPrefix: sglang ?? null, roundRobinSharedPrefix: realResults['shared-prefix']?.['round-robin'] ?? null },
    ratio,
  }));
}

try {
  await main();
} finally {
  await stopAllChildren();
}
process.exit(0);
