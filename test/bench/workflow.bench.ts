/**
 * Workflow benchmark: a 3-step workflow (each step's result fsync'd to the WAL before the next runs)
 * started at 1 and 64 concurrent starts: workflows/s and step latency p50/p99 (from `ctx.step` to its
 * result being durable and seen by the workflow). Then resume after kill -9: a child process puts
 * RESUME_RUNS workflows in flight (each past its first step, waiting for a signal), is killed with
 * SIGKILL, and the time to open the engine (WAL replay into histories + replay of every run through its
 * function + resume) is measured here.
 *
 * Baseline, measured in the same run on the same disk: the storage WAL's own fsync'd appends of the
 * same number of records of the same size (what the histories cost with no engine), at 1 and 64
 * concurrent appenders. `ratio` is ours / baseline in workflows/s at 64 concurrent starts. Comparisons
 * with Restate and Temporal servers are not measured here.
 *
 * Run with `npm run bench -- workflow`; the last line is the JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Wal } from '../../actors/storage/index.js';
import { WorkflowEngine, workflow, type WorkflowDefinition } from '../../actors/workflow/index.js';
import { childExited, spawnChild, stopChild } from '../support/children.js';

const RUNS = Number(process.env.WORKFLOW_BENCH_RUNS ?? '1000');
const RESUME_RUNS = Number(process.env.WORKFLOW_BENCH_RESUME_RUNS ?? '10000');
const scratch = mkdtempSync(path.join(tmpdir(), 'troupe-workflow-bench-'));
let directories = 0;
const fresh = (): string => path.join(scratch, `run-${(directories += 1)}`);

const stepLatenciesMs: number[] = [];
const threeSteps = workflow('three', async (ctx, input: { n: number }) => {
  let value = input.n;
  for (const name of ['reserve', 'charge', 'ship']) {
    const before = performance.now();
    value = await ctx.step(name, () => value + 1);
    stepLatenciesMs.push(performance.now() - before);
  }
  return value;
});
const parked = workflow('parked', async (ctx, input: { n: number }) => {
  const first = await ctx.step('first', () => input.n);
  await ctx.signal('go');
  return first;
});
const workflows = [threeSteps, parked] as WorkflowDefinition<never, unknown>[];

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Number((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0).toFixed(3));
}

/** Runs RUNS 3-step workflows with `concurrency` starters; returns workflows/s, step latencies, WAL records. */
async function ours(concurrency: number): Promise<{ workflowsPerSecond: number; stepP50Ms: number; stepP99Ms: number; records: number; recordBytes: number }> {
  const directory = fresh();
  const engine = await WorkflowEngine.open({ directory, workflows });
  stepLatenciesMs.length = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < RUNS) {
      const id = `w-${(next += 1)}`;
      await engine.start('three', { workflowId: id, input: { n: next } });
      await engine.result(id);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const bytes = engine.list().reduce((sum, run) => sum + JSON.stringify(engine.history(run.workflowId)).length, 0);
  await engine.close();
  const reopened = await WorkflowEngine.open({ directory, workflows });
  const records = reopened.recovery.records;
  await reopened.close();
  return { workflowsPerSecond: Math.round(RUNS / seconds), stepP50Ms: percentile(stepLatenciesMs, 0.5), stepP99Ms: percentile(stepLatenciesMs, 0.99), records, recordBytes: Math.round(bytes / records) };
}

/** The WAL alone: `records` fsync'd appends of `recordBytes` with `concurrency` appenders; appends/s. */
async function baseline(concurrency: number, records: number, recordBytes: number): Promise<number> {
  const wal = await Wal.open({ directory: fresh() });
  const payload = new Uint8Array(recordBytes).fill(97);
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < records) {
      next += 1;
      await wal.append(payload);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  await wal.close();
  return Math.round(records / seconds);
}

/** Child mode: put RESUME_RUNS runs in flight, print `ready`, wait to be killed. */
async function child(directory: string): Promise<void> {
  const engine = await WorkflowEngine.open({ directory, workflows });
  let next = 0;
  await Promise.all(Array.from({ length: 256 }, async () => {
    while (next < RESUME_RUNS) {
      const id = `p-${(next += 1)}`;
      await engine.start('parked', { workflowId: id, input: { n: next } });
    }
  }));
  const { waitFor } = await import('../support/wait.js');
  await waitFor(() => engine.list().every((run) => engine.history(run.workflowId).some((event) => event.type === 'signalAwaited')), { timeoutMs: 600_000 });
  process.stdout.write('ready\n');
  setInterval(() => {}, 60_000);
}

/** Kills the child with SIGKILL once its runs are in flight; returns the time to reopen and resume them. */
async function resumeAfterKill(): Promise<{ resumeMs: number; resumed: number; records: number }> {
  const directory = fresh();
  const script = fileURLToPath(import.meta.url);
  const childProcess = spawnChild(process.execPath, ['--import', 'tsx', script, '--child', directory], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: childProcess.stdout! }).on('line', (line) => line === 'ready' && resolve());
      childProcess.once('exit', (code) => reject(new Error(`bench child exited early (${String(code)})`)));
    });
  } finally {
    await stopChild(childProcess);
  }
  await childExited(childProcess);
  const started = performance.now();
  const engine = await WorkflowEngine.open({ directory, workflows });
  const resumeMs = Math.round(performance.now() - started);
  const { resumed, records } = engine.recovery;
  await engine.close();
  return { resumeMs, resumed, records };
}

async function main(): Promise<void> {
  const one = await ours(1);
  const sixtyFour = await ours(64);
  const recordsPerWorkflow = sixtyFour.records / RUNS;
  const baselineOne = await baseline(1, one.records, one.recordBytes);
  const baselineSixtyFour = await baseline(64, sixtyFour.records, sixtyFour.recordBytes);
  const resume = await resumeAfterKill();
  const figures = {
    bench: 'workflow',
    runs: RUNS,
    recordsPerWorkflow,
    concurrency1: { workflowsPerSecond: one.workflowsPerSecond, stepP50Ms: one.stepP50Ms, stepP99Ms: one.stepP99Ms },
    concurrency64: { workflowsPerSecond: sixtyFour.workflowsPerSecond, stepP50Ms: sixtyFour.stepP50Ms, stepP99Ms: sixtyFour.stepP99Ms },
    resumeAfterKill: { runsInFlight: resume.resumed, walRecords: resume.records, resumeMs: resume.resumeMs },
    baseline: {
      what: 'storage WAL fsync\'d appends of the same record count and size, no engine',
      concurrency1: { appendsPerSecond: baselineOne, workflowsPerSecondEquivalent: Math.round(baselineOne / (one.records / RUNS)) },
      concurrency64: { appendsPerSecond: baselineSixtyFour, workflowsPerSecondEquivalent: Math.round(baselineSixtyFour / recordsPerWorkflow) },
    },
    ratio: Number((sixtyFour.workflowsPerSecond / (baselineSixtyFour / recordsPerWorkflow)).toFixed(3)),
  };
  console.log(JSON.stringify(figures));
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!);
} else {
  try {
    await main();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
