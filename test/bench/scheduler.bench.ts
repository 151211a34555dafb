/**
 * Scheduler benchmark: the pure gang-scheduling core on a simulated 2,000-node GPU cluster
 * (1,000 nodes of 8 H100 and 1,000 of 8 A100), three tenants in one cohort, gang jobs of mixed
 * shapes (1 to 16 pods, 1 to 8 GPUs each, some any-of-types, some same-rack). Jobs arrive in waves of
 * WAVE jobs; after each wave the core runs a pass (as the host does after a burst of submissions) and
 * the oldest running gangs complete, keeping the cluster busy but not full.
 *
 * Figures: pods placed per second of core time (submit, pass, completions all counted), and p50/p99
 * time-to-admit in wall milliseconds from a job's submission to its gang's bind.
 *
 * Baseline, same run, same nodes and pods: a per-pod scheduler in the style of kube-scheduler without
 * gangs, quotas or fairness: for each pod, filter every node and score the feasible ones (fewest free
 * GPUs left, a bin-packing score), then bind. `ratio` is ours / baseline pods per second.
 *
 * Then, on a real kube-apiserver (test/bench/scheduler-kube.ts), 120 gangs of 4 pods x 2 GPUs on 100
 * 8-GPU nodes (demand above capacity) scheduled by Troupe's Kubernetes executor and by the real
 * kube-scheduler: pods/s for each and the number of partially placed gangs (`kube` in the JSON).
 *
 * Settings: SCHEDULER_BENCH_JOBS (default 6,000), SCHEDULER_BENCH_WAVE (200), SCHEDULER_BENCH_NODES (2,000),
 * SCHEDULER_BENCH_KUBE (0 skips the API server part), SCHEDULER_BENCH_KUBE_NODES (100).
 */
import { emptyState, resolveConfig, step, type JobSpecInput, type NodeSpec, type SchedulerEffect, type SchedulerState } from '../../actors/scheduler/index.js';
import { createRng } from '../../runtime/rng.js';
import { runKubeBench, type KubeBenchResult } from './scheduler-kube.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const A100 = 'NVIDIA-A100-SXM4-80GB';
const jobCount = Number(process.env.SCHEDULER_BENCH_JOBS ?? '6000');
const wave = Number(process.env.SCHEDULER_BENCH_WAVE ?? '200');
const nodeCount = Number(process.env.SCHEDULER_BENCH_NODES ?? '2000');

function nodes(): NodeSpec[] {
  return Array.from({ length: nodeCount }, (_, index) => ({
    name: `node-${index}`, rack: `rack-${index % 50}`, gpuType: index % 2 === 0 ? H100 : A100, gpuCount: 8, cpuMilli: 192_000, memoryMiB: 2_048 * 1_024,
  }));
}

function workload(): JobSpecInput[] {
  const rng = createRng(20261208);
  return Array.from({ length: jobCount }, (_, index) => {
    const tenant = ['a', 'b', 'c'][index % 3]!;
    const shape = rng.int(0, 5);
    const workers = [1, 8, 4, 16, 2, 8][shape]!;
    const gpus = [1, 1, 8, 2, 4, 8][shape]!;
    const roll = rng.next();
    const types = roll < 0.4 ? [H100] : roll < 0.8 ? [A100] : [A100, H100];
    return {
      tenant, queue: `q${tenant}`, priority: 0, topology: rng.next() < 0.1 ? 'sameRack' : 'none',
      podSets: [{ name: 'worker', count: workers, cpuMilli: 4_000, memoryMiB: 32_768, gpu: { types, count: gpus } }],
    };
  });
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Number((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0).toFixed(3));
}

function runTroupe(specs: readonly JobSpecInput[]): { podsPerSecond: number; pods: number; admitP50Ms: number; admitP99Ms: number; coreMs: number; refused: number } {
  const config = resolveConfig({
    queues: ['a', 'b', 'c'].map((tenant) => ({ name: `q${tenant}`, tenant, cohort: 'all', nominal: { [`gpu/${H100}`]: nodeCount * 8 / 3, [`gpu/${A100}`]: nodeCount * 8 / 3 } })),
    passAttemptsMax: 100_000,
  });
  const state: SchedulerState = emptyState(config);
  for (const node of nodes()) step(state, { type: 'nodeUp', nowMs: 0, node });
  const submittedAt = new Map<string, number>();
  const admitMs: number[] = [];
  const running: { jobId: string; attempt: number; pods: readonly string[] }[] = [];
  let pods = 0;
  let coreMs = 0;
  let refused = 0;
  const onEffects = (effects: readonly SchedulerEffect[]): void => {
    for (const effect of effects) {
      if (effect.type !== 'bind') continue;
      admitMs.push(performance.now() - submittedAt.get(effect.jobId)!);
      pods += effect.placements.length;
      running.push({ jobId: effect.jobId, attempt: effect.attempt, pods: effect.placements.map((placement) => placement.pod) });
    }
  };
  const timed = (work: () => void): void => {
    const started = performance.now();
    work();
    coreMs += performance.now() - started;
  };
  for (let first = 0; first < specs.length; first += wave) {
    timed(() => {
      for (let index = first; index < Math.min(specs.length, first + wave); index += 1) {
        const at = performance.now();
        const result = step(state, { type: 'submit', nowMs: 0, key: `job-key-${index}`, spec: specs[index]! });
        if (result.reply?.ok === true && 'jobId' in result.reply) {
          submittedAt.set(result.reply.jobId, at);
          if (result.reply.status === 'Refused') refused += 1;
        }
      }
      onEffects(step(state, { type: 'tick', nowMs: 0 }).effects);
      // The oldest gangs finish, so the cluster stays busy (about three waves of work in flight).
      while (running.length > wave * 3) {
        const done = running.shift()!;
        for (const pod of done.pods) step(state, { type: 'podPhase', nowMs: 0, jobId: done.jobId, attempt: done.attempt, pod, phase: 'Succeeded' });
      }
    });
  }
  return { podsPerSecond: Math.round(pods / (coreMs / 1_000)), pods, admitP50Ms: percentile(admitMs, 0.5), admitP99Ms: percentile(admitMs, 0.99), coreMs: Math.round(coreMs), refused };
}

/** Per-pod filter-and-score over every node, no gang, no quota: the cost floor of placing the same pods one by one. */
function runBaseline(specs: readonly JobSpecInput[]): { podsPerSecond: number; pods: number; partialGangs: number } {
  const free = nodes().map((node) => ({ node, gpus: node.gpuCount, cpuMilli: node.cpuMilli, memoryMiB: node.memoryMiB }));
  const running: { placed: { index: number; gpus: number; cpuMilli: number; memoryMiB: number }[] }[] = [];
  let pods = 0;
  let partialGangs = 0;
  const started = performance.now();
  for (let first = 0; first < specs.length; first += wave) {
    for (let index = first; index < Math.min(specs.length, first + wave); index += 1) {
      const podSet = specs[index]!.podSets[0]!;
      const placed: { index: number; gpus: number; cpuMilli: number; memoryMiB: number }[] = [];
      for (let pod = 0; pod < podSet.count; pod += 1) {
        let best = -1;
        let bestScore = Number.POSITIVE_INFINITY;
        for (let candidate = 0; candidate < free.length; candidate += 1) {
          const slot = free[candidate]!;
          if (!podSet.gpu!.types.includes(slot.node.gpuType) || slot.gpus < podSet.gpu!.count || slot.cpuMilli < podSet.cpuMilli || slot.memoryMiB < podSet.memoryMiB) continue;
          const score = slot.gpus - podSet.gpu!.count;
          if (score < bestScore) {
            bestScore = score;
            best = candidate;
          }
        }
        if (best < 0) continue;
        const slot = free[best]!;
        slot.gpus -= podSet.gpu!.count;
        slot.cpuMilli -= podSet.cpuMilli;
        slot.memoryMiB -= podSet.memoryMiB;
        placed.push({ index: best, gpus: podSet.gpu!.count, cpuMilli: podSet.cpuMilli, memoryMiB: podSet.memoryMiB });
        pods += 1;
      }
      if (placed.length > 0 && placed.length < podSet.count) partialGangs += 1;
      running.push({ placed });
    }
    while (running.length > wave * 3) {
      for (const pod of running.shift()!.placed) {
        const slot = free[pod.index]!;
        slot.gpus += pod.gpus;
        slot.cpuMilli += pod.cpuMilli;
        slot.memoryMiB += pod.memoryMiB;
      }
    }
  }
  const seconds = (performance.now() - started) / 1_000;
  return { podsPerSecond: Math.round(pods / seconds), pods, partialGangs };
}

const specs = workload();
// Warm both up on a slice, so neither pays for the JIT alone.
runBaseline(specs.slice(0, 200));
runTroupe(specs.slice(0, 200));
const baseline = runBaseline(specs);
const troupe = runTroupe(specs);
console.log(`troupe core: ${troupe.pods} pods in ${troupe.coreMs} ms (${troupe.podsPerSecond} pods/s), time-to-admit p50 ${troupe.admitP50Ms} ms p99 ${troupe.admitP99Ms} ms, ${troupe.refused} refused`);
console.log(`baseline per-pod filter+score: ${baseline.pods} pods (${baseline.podsPerSecond} pods/s), ${baseline.partialGangs} gangs left partially placed`);
// The real API server part: Troupe's executor beside the real kube-scheduler on the same gangs.
let kube: KubeBenchResult | { error: string } = { error: 'skipped (SCHEDULER_BENCH_KUBE=0)' };
if (process.env.SCHEDULER_BENCH_KUBE !== '0') {
  try {
    kube = await runKubeBench({ nodes: Number(process.env.SCHEDULER_BENCH_KUBE_NODES ?? '100'), gangs: 120, podsPerGang: 4, gpusPerPod: 2 });
    console.log(`kube-apiserver: troupe ${kube.troupe.podsPerSecond} pods/s (${kube.troupe.boundPods} bound, ${kube.troupe.partialGangs} partial gangs); kube-scheduler ${kube.kubeScheduler.podsPerSecond} pods/s (${kube.kubeScheduler.boundPods} bound, ${kube.kubeScheduler.partialGangs} partial gangs)`);
  } catch (error) {
    kube = { error: error instanceof Error ? error.message.slice(0, 500) : String(error) };
  }
}
console.log(JSON.stringify({
  bench: 'scheduler', nodes: nodeCount, jobs: jobCount, wave, kube,
  podsPerSecond: troupe.podsPerSecond, pods: troupe.pods, admitP50Ms: troupe.admitP50Ms, admitP99Ms: troupe.admitP99Ms, partialGangs: 0,
  baseline: { name: 'per-pod filter+score, no gangs', podsPerSecond: baseline.podsPerSecond, pods: baseline.pods, partialGangs: baseline.partialGangs },
  ratio: Number((troupe.podsPerSecond / baseline.podsPerSecond).toFixed(3)),
  kubeRatio: 'troupe' in kube ? Number((kube.troupe.podsPerSecond / kube.kubeScheduler.podsPerSecond).toFixed(3)) : null,
}));
