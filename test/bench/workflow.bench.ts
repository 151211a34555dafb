/**
 * Workflow benchmark: Troupe beside a real Restate server and a real Temporal dev server, on this
 * machine, in this run (test/bench/workflow/subjects.ts says how each is driven and what durability
 * each has). For each system, one after the other:
 *
 * 1. a 3-step workflow started and awaited by 1 and by 64 concurrent clients: workflows/s, and step
 *    p50/p99, where a step's latency is from its start to the next step's start (or, for the last,
 *    to the result reaching the client): one durable step round;
 * 2. resume after kill -9: RESUME_RUNS `parked` workflows (past one step, each waiting for a signal)
 *    are put in flight, the process holding the durable state is killed with SIGKILL, and the clock
 *    starts as it is started again; each workflow is then signalled (64 at a time) as soon as the
 *    system accepts requests. `resumeMs` is until every one of them completed, `firstMs` until the
 *    first did. For Troupe the killed process is the whole node (engine, workers and all); for Restate
 *    and Temporal it is the server, while their stateless endpoint / worker keep running here.
 *
 * Peers are installed once into the cache (test/services/workflow-peers.ts). A peer that cannot be
 * installed or started is reported with its error and the others are still measured.
 * Settings: WORKFLOW_BENCH_RUNS_1 (default 200), WORKFLOW_BENCH_RUNS_64 (1000), WORKFLOW_BENCH_RESUME_RUNS
 * (10000), WORKFLOW_BENCH_PEERS (default `restate,temporal`).
 *
 * Run with `npm run bench -- workflow`; the last line is the JSON, with every figure of each system and
 * `ratios` (Troupe / peer: throughput above 1 and resume time below 1 are better for Troupe).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { stopAllChildren } from '../support/children.js';
import { waitFor } from '../support/wait.js';
import { ensureWorkflowPeers, workflowPeerVersions } from '../services/workflow-peers.js';
import { now, restateSubject, temporalSubject, troupeSubject, type Subject } from './workflow/subjects.js';

const runs1 = Number(process.env.WORKFLOW_BENCH_RUNS_1 ?? '200');
const runs64 = Number(process.env.WORKFLOW_BENCH_RUNS_64 ?? '1000');
const resumeRuns = Number(process.env.WORKFLOW_BENCH_RESUME_RUNS ?? '10000');
const peerNames = (process.env.WORKFLOW_BENCH_PEERS ?? 'restate,temporal').split(',').filter((name) => name !== '');
const scratch = mkdtempSync(path.join(tmpdir(), 'troupe-workflow-bench-'));

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Number((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0).toFixed(3));
}

/** Runs `count` tasks with `concurrency` workers. */
async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const index = next;
      next += 1;
      await task(index);
    }
  }));
}

interface Throughput {
  readonly workflowsPerSecond: number;
  readonly stepP50Ms: number;
  readonly stepP99Ms: number;
}

async function throughput(subject: Subject, label: string, count: number, concurrency: number): Promise<Throughput> {
  const steps: number[] = [];
  const started = now();
  await pool(count, concurrency, async (index) => {
    const times = await subject.runThree(`${label}-${index}`, index);
    for (let step = 1; step < times.length; step += 1) steps.push(times[step]! - times[step - 1]!);
  });
  const seconds = (now() - started) / 1000;
  return { workflowsPerSecond: Math.round(count / seconds), stepP50Ms: percentile(steps, 0.5), stepP99Ms: percentile(steps, 0.99) };
}

interface Resume {
  readonly runsInFlight: number;
  readonly parkMs: number;
  readonly firstMs: number;
  readonly resumeMs: number;
}

async function resumeAfterKill(subject: Subject): Promise<Resume> {
  const ids = Array.from({ length: resumeRuns }, (_, index) => `parked-${index}`);
  const parkStarted = now();
  await pool(ids.length, 64, (index) => subject.startParked(ids[index]!, index));
  await waitFor(async () => (await subject.parkedCount(ids)) >= ids.length, { timeoutMs: 600_000, intervalMs: 200, what: `${ids.length} parked workflows` });
  const parkMs = Math.round(now() - parkStarted);
  await subject.kill();
  const restarted = now();
  await subject.restart();
  let firstMs = 0;
  await pool(ids.length, 64, async (index) => {
    await subject.release(ids[index]!);
    if (firstMs === 0) firstMs = Math.round(now() - restarted);
  });
  return { runsInFlight: ids.length, parkMs, firstMs, resumeMs: Math.round(now() - restarted) };
}

interface Figures {
  readonly concurrency1: Throughput;
  readonly concurrency64: Throughput;
  readonly resumeAfterKill: Resume;
}

async function measure(make: () => Promise<Subject>): Promise<Figures> {
  const subject = await make();
  try {
    await throughput(subject, 'warm', 50, 8);
    const concurrency1 = await throughput(subject, 'c1', runs1, 1);
    const concurrency64 = await throughput(subject, 'c64', runs64, 64);
    const resume = await resumeAfterKill(subject);
    return { concurrency1, concurrency64, resumeAfterKill: resume };
  } finally {
    await subject.close().catch(() => undefined);
    await stopAllChildren();
  }
}

function ratios(ours: Figures, peer: Figures): Record<string, number> {
  const ratio = (a: number, b: number): number => Number((a / b).toFixed(3));
  return {
    workflowsPerSecond1: ratio(ours.concurrency1.workflowsPerSecond, peer.concurrency1.workflowsPerSecond),
    workflowsPerSecond64: ratio(ours.concurrency64.workflowsPerSecond, peer.concurrency64.workflowsPerSecond),
    stepP50Ms64: ratio(ours.concurrency64.stepP50Ms, peer.concurrency64.stepP50Ms),
    stepP99Ms64: ratio(ours.concurrency64.stepP99Ms, peer.concurrency64.stepP99Ms),
    resumeMs: ratio(ours.resumeAfterKill.resumeMs, peer.resumeAfterKill.resumeMs),
  };
}

async function main(): Promise<void> {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  log(`workflow bench: ${runs1} runs at 1, ${runs64} at 64, ${resumeRuns} in flight for resume; peers ${peerNames.join(', ') || 'none'}`);
  // WORKFLOW_BENCH_SKIP_TROUPE=1 measures only the peers (for checking their set-up).
  const troupe = process.env.WORKFLOW_BENCH_SKIP_TROUPE === '1' ? undefined : await measure(() => troupeSubject(path.join(scratch, 'troupe')));
  log(`troupe: ${JSON.stringify(troupe)}`);
  const baseline: Record<string, Figures | { error: string }> = {};
  let peers: ReturnType<typeof ensureWorkflowPeers> | undefined;
  try {
    if (peerNames.length > 0) peers = ensureWorkflowPeers();
  } catch (error) {
    for (const name of peerNames) baseline[name] = { error: `install failed: ${(error as Error).message}` };
  }
  for (const name of peerNames) {
    if (peers === undefined) break;
    const installed = peers;
    try {
      const make = name === 'restate' ? () => restateSubject(installed, path.join(scratch, 'restate')) : name === 'temporal' ? () => temporalSubject(installed, path.join(scratch, 'temporal')) : undefined;
      if (make === undefined) throw new Error(`unknown peer ${name}`);
      baseline[name] = await measure(make);
      log(`${name}: ${JSON.stringify(baseline[name])}`);
    } catch (error) {
      baseline[name] = { error: (error as Error).stack ?? String(error) };
      log(`${name} failed: ${(error as Error).message}`);
    }
  }
  const ratioTable: Record<string, Record<string, number>> = {};
  for (const [name, figures] of Object.entries(baseline)) if (troupe !== undefined && !('error' in figures)) ratioTable[name] = ratios(troupe, figures);
  const throughputRatios = Object.values(ratioTable).map((table) => table.workflowsPerSecond64!);
  console.log(JSON.stringify({
    bench: 'workflow',
    runs: { concurrency1: runs1, concurrency64: runs64, resumeInFlight: resumeRuns },
    troupe,
    baseline: { versions: workflowPeerVersions, ...baseline },
    ratios: ratioTable,
    // The worst throughput ratio at 64 concurrent starts across the peers measured.
    ratio: throughputRatios.length > 0 ? Math.min(...throughputRatios) : null,
  }));
}

try {
  await main();
} finally {
  await stopAllChildren();
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(0);
