/**
 * DRF in steady state: three tenants (weights 1, 1, 2) keep a backlog of gangs of mixed sizes on a
 * shared GPU pool with no quotas in the way; jobs finish after random run times. While every tenant
 * has work waiting, each tenant's weighted dominant share is sampled; DRF (Ghodsi et al., NSDI 2011)
 * would give every backlogged tenant the same weighted share, so the report is how far the sampled
 * shares stray from their mean, averaged over the samples.
 */
import { checkInvariants, emptyState, resolveConfig, step, type SchedulerEffect } from '../../../actors/scheduler/index.js';
import { createRng } from '../../../runtime/rng.js';
import { H100 } from './world.js';

export interface FairnessReport {
  readonly samples: number;
  /** Mean over samples of the largest |weighted share - mean weighted share|. */
  readonly deviationMean: number;
  /** The tenants' time-averaged weighted dominant shares. */
  readonly sharesMean: readonly number[];
}

export function runFairness(seed: number, options: { nodes: number; jobsPerTenant: number }): FairnessReport {
  const rng = createRng(seed);
  const tenants = ['a', 'b', 'c'];
  const config = resolveConfig({
    queues: tenants.map((tenant) => ({ name: `q${tenant}`, tenant, nominal: {} })),
    tenants: [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }, { name: 'c', weight: 2 }],
  });
  const state = emptyState(config);
  const finishes: { atMs: number; jobId: string }[] = [];
  let nowMs = 0;
  const apply = (effects: SchedulerEffect[]): void => {
    for (const effect of effects) {
      if (effect.type !== 'bind') continue;
      finishes.push({ atMs: nowMs + rng.int(2_000, 30_000), jobId: effect.jobId });
      for (const placement of effect.placements) step(state, { type: 'podPhase', nowMs, jobId: effect.jobId, attempt: effect.attempt, pod: placement.pod, phase: 'Running' });
    }
  };
  for (let index = 0; index < options.nodes; index += 1) {
    step(state, { type: 'nodeUp', nowMs, node: { name: `n${index}`, rack: '', gpuType: H100, gpuCount: 8, cpuMilli: 96_000, memoryMiB: 1_048_576 } });
  }
  for (let index = 0; index < options.jobsPerTenant; index += 1) {
    for (const tenant of tenants) {
      const workers = [1, 1, 2, 2, 4][rng.int(0, 4)]!;
      const gpus = [1, 2, 4, 8][rng.int(0, 3)]!;
      step(state, { type: 'submit', nowMs, key: `${tenant}-${index}`, spec: { tenant, queue: `q${tenant}`, podSets: [{ name: 'w', count: workers, cpuMilli: 1_000, memoryMiB: 1_024, gpu: { types: [H100], count: gpus } }] } });
    }
  }
  apply(step(state, { type: 'tick', nowMs }).effects);
  const capacity = new Map([[`gpu/${H100}`, options.nodes * 8], ['cpu', options.nodes * 96_000], ['memory', options.nodes * 1_048_576]]);
  let samples = 0;
  let deviationSum = 0;
  const shareSums = tenants.map(() => 0);
  for (;;) {
    finishes.sort((a, b) => a.atMs - b.atMs);
    const next = finishes.shift();
    if (next === undefined) break;
    nowMs = next.atMs;
    const job = state.jobs.get(next.jobId)!;
    for (const placement of job.placements!) step(state, { type: 'podPhase', nowMs, jobId: job.id, attempt: job.attempt, pod: placement.pod, phase: 'Succeeded' });
    apply(step(state, { type: 'tick', nowMs }).effects);
    checkInvariants(state);
    const backlogged = tenants.every((tenant) => [...state.pending].some((id) => state.jobs.get(id)!.spec.tenant === tenant));
    if (!backlogged) continue;
    const shares = tenants.map((tenant) => state.quota.dominantShare(tenant, capacity));
    const mean = shares.reduce((sum, share) => sum + share, 0) / shares.length;
    deviationSum += Math.max(...shares.map((share) => Math.abs(share - mean)));
    shares.forEach((share, index) => { shareSums[index]! += share; });
    samples += 1;
  }
  return { samples, deviationMean: samples === 0 ? 0 : deviationSum / samples, sharesMean: shareSums.map((sum) => (samples === 0 ? 0 : sum / samples)) };
}
