/**
 * The scheduler simulation: seeded chaos runs (submissions with retries, pod failures, node losses,
 * control-plane crashes) with invariants checked against the simulated cluster, and a steady-state
 * DRF run. A failure names its seed; `SEED=<n> npx vitest run test/sim/scheduler` replays that run.
 */
import { describe, expect, it } from 'vitest';
import { createRng, seedFromEnvironment } from '../../../runtime/rng.js';
import { runFairness } from './fairness.js';
import { runWorld, type WorldReport } from './world.js';

const replay = process.env.SEED !== undefined && process.env.SEED !== '' ? seedFromEnvironment() : null;
const fixedSeeds = [1, 2, 3, 42, 1337];
const batchSeed = seedFromEnvironment();
const randomSeeds = replay !== null ? [] : Array.from({ length: 3 }, (_, index) => (createRng(batchSeed).int(0, 2 ** 31) + index * 7919) >>> 0);
const seeds = replay !== null ? [replay] : [...fixedSeeds, ...randomSeeds];

/**
 * Tolerance of the DRF check: sampled weighted dominant shares stay, on average, within this of their
 * mean. Gangs are indivisible and the largest holds 32 of the 192 GPUs (a share of 0.17), so exact
 * equality is out of reach; 0.1 is about 19 GPUs.
 */
const fairnessTolerance = 0.1;

describe('scheduler simulation', () => {
  const reports: WorldReport[] = [];

  it.each(seeds)('seed %i: 1,000 gang submissions with node losses, pod failures and control-plane crashes keep every invariant', (seed) => {
    const report = runWorld({ seed, jobs: 1_000, nodes: 40, crashProbability: 0.002, nodeLossProbability: 0.5, podFailureProbability: 0.03 });
    reports.push(report);
    expect(report.succeeded + report.failed + report.refused).toBe(report.jobs);
    expect(report.succeeded).toBeGreaterThan(report.jobs / 2);
  });

  it('exercised every fault and outcome across the seeds', () => {
    if (replay !== null) return;
    const sum = (pick: (report: WorldReport) => number) => reports.reduce((total, report) => total + pick(report), 0);
    console.log(`[scheduler sim] ${JSON.stringify({ runs: reports.length, submissions: sum((r) => r.submissions), jobs: sum((r) => r.jobs), succeeded: sum((r) => r.succeeded), failed: sum((r) => r.failed), refused: sum((r) => r.refused), crashes: sum((r) => r.crashes), cutBinds: sum((r) => r.cutBinds), nodeLosses: sum((r) => r.nodeLosses), conflicts: sum((r) => r.conflicts), steps: sum((r) => r.steps), evictions: reports.map((r) => r.evictions) })}`);
    expect(sum((r) => r.crashes)).toBeGreaterThan(50);
    expect(sum((r) => r.cutBinds)).toBeGreaterThan(0);
    expect(sum((r) => r.nodeLosses)).toBeGreaterThan(10);
    expect(sum((r) => r.conflicts)).toBeGreaterThan(0);
    expect(sum((r) => r.failed)).toBeGreaterThan(0);
    expect(sum((r) => r.refused)).toBeGreaterThan(0);
    for (const reason of ['PREEMPTED', 'RECLAIMED', 'POD_FAILED', 'NODE_LOST']) expect(sum((r) => r.evictions[reason] ?? 0), reason).toBeGreaterThan(0);
  });

  it.each(replay !== null ? [replay] : [7, 11])(`seed %i: backlogged tenants' weighted dominant shares stay within ${fairnessTolerance} of each other's mean (DRF)`, (seed) => {
    const report = runFairness(seed, { nodes: 24, jobsPerTenant: 150 });
    console.log(`[scheduler drf] seed ${seed}: ${JSON.stringify(report)}`);
    expect(report.samples).toBeGreaterThan(100);
    expect(report.deviationMean).toBeLessThan(fairnessTolerance);
  });
});
