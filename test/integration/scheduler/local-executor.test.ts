/**
 * The scheduler host with the local executor: pods run as real child processes with
 * CUDA_VISIBLE_DEVICES set to their GPUs, a failed pod restarts the whole gang, a cancel kills the
 * gang's processes, and a restarted host picks the running gang up from the store without running
 * it twice.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LocalExecutor, MemoryJobStore, parseGpuQueryCsv, resolveConfig, SchedulerHost, summarizeGpus, type ExecutorReport, type JobSpecInput, type NodeSpec,
} from '../../../actors/scheduler/index.js';
import { spawnChild, stopAllChildren } from '../../support/children.js';
import { waitFor } from '../../support/wait.js';

afterAll(stopAllChildren);

// Two GPUs of the product the real H100 machine reported.
const gpus = summarizeGpus(parseGpuQueryCsv([
  '0, NVIDIA H100 80GB HBM3, GPU-8175f475-f113-193e-053b-76f2947639ef, 81559',
  '1, NVIDIA H100 80GB HBM3, GPU-8175f475-f113-193e-053b-76f2947639e0, 81559',
].join('\n')));
const node: NodeSpec = { name: 'local', rack: '', gpuType: gpus.gpuType, gpuCount: gpus.gpuCount, cpuMilli: 8_000, memoryMiB: 8_192 };
const config = resolveConfig({ queues: [{ name: 'q', tenant: 't', nominal: {} }], backoffMsMin: 50, backoffMsMax: 200, startTimeoutMs: 60_000 });
const out = mkdtempSync(join(tmpdir(), 'troupe-scheduler-local-'));

async function startHost(store: MemoryJobStore, route: { host?: SchedulerHost }): Promise<{ host: SchedulerHost; executor: LocalExecutor }> {
  let executor!: LocalExecutor;
  const host = await SchedulerHost.start({ config, store, nodes: [{ spec: node, ready: true }], clock: Date.now }, () => {
    executor = new LocalExecutor({
      node: 'local', clock: Date.now, killGraceMs: 2_000, spawnProcess: spawnChild,
      report: (report: ExecutorReport) => route.host?.tell(report),
    });
    return executor;
  });
  route.host = host;
  return { host, executor };
}

const nodeScript = (source: string) => [process.execPath, '-e', source];

describe('local executor', () => {
  it('runs a gang as processes with CUDA_VISIBLE_DEVICES set to each pod\'s GPUs', async () => {
    const route: { host?: SchedulerHost } = {};
    const { host, executor } = await startHost(new MemoryJobStore(), route);
    try {
      const spec: JobSpecInput = {
        tenant: 't', queue: 'q',
        podSets: [{ name: 'worker', count: 2, cpuMilli: 100, memoryMiB: 64, gpu: { types: [gpus.gpuType], count: 1 }, command: nodeScript(`require('fs').writeFileSync(require('path').join(${JSON.stringify(out)}, process.env.TROUPE_POD), process.env.CUDA_VISIBLE_DEVICES)`) }],
      };
      const reply = await host.submit('gpu-job', spec);
      expect(reply).toMatchObject({ ok: true, existing: false });
      const jobId = (reply as { jobId: string }).jobId;
      await waitFor(() => host.view.jobs.get(jobId)!.status === 'Succeeded', { what: 'the gang to succeed', timeoutMs: 60_000 });
      expect(['worker-0', 'worker-1'].map((pod) => readFileSync(join(out, pod), 'utf8')).sort()).toEqual(['0', '1']);
      expect(await host.submit('gpu-job', spec)).toMatchObject({ ok: true, jobId, existing: true, status: 'Succeeded' });
    } finally {
      await host.stop();
      await executor.stop();
    }
  });

  it('restarts the whole gang when one pod fails, then succeeds on the next attempt', async () => {
    const route: { host?: SchedulerHost } = {};
    const { host, executor } = await startHost(new MemoryJobStore(), route);
    try {
      const reply = await host.submit('flaky', {
        tenant: 't', queue: 'q', restartsMax: 2,
        podSets: [{ name: 'worker', count: 2, cpuMilli: 100, memoryMiB: 64, command: nodeScript(`process.exit(process.env.TROUPE_ATTEMPT === '1' && process.env.TROUPE_POD === 'worker-0' ? 3 : 0)`) }],
      });
      const jobId = (reply as { jobId: string }).jobId;
      await waitFor(() => host.view.jobs.get(jobId)!.status === 'Succeeded', { what: 'the restarted gang to succeed', timeoutMs: 60_000 });
      const job = host.view.jobs.get(jobId)!;
      expect([job.attempt, job.restarts]).toEqual([2, 1]);
    } finally {
      await host.stop();
      await executor.stop();
    }
  });

  it('kills a cancelled gang\'s processes, and a restarted host finishes a running gang exactly once', async () => {
    const store = new MemoryJobStore();
    const route: { host?: SchedulerHost } = {};
    const first = await startHost(store, route);
    const marks = mkdtempSync(join(tmpdir(), 'troupe-scheduler-marks-'));
    try {
      const sleeper = await first.host.submit('sleeper', { tenant: 't', queue: 'q', podSets: [{ name: 'w', count: 2, cpuMilli: 100, memoryMiB: 64, command: nodeScript('setInterval(() => {}, 1000)') }] });
      const sleeperId = (sleeper as { jobId: string }).jobId;
      await waitFor(() => first.host.view.jobs.get(sleeperId)!.status === 'Running', { what: 'the sleeper gang to run', timeoutMs: 60_000 });
      const pids = first.executor.observe().length;
      expect(pids).toBe(2);
      await first.host.cancel(sleeperId);
      await waitFor(() => first.host.view.jobs.get(sleeperId)!.status === 'Cancelled', { what: 'the cancel to finish', timeoutMs: 60_000 });
      expect(first.executor.observe()).toEqual([]);

      // A gang that waits for a go file, so the host can be replaced while it runs.
      const go = join(marks, 'go');
      const waiting = await first.host.submit('waiter', { tenant: 't', queue: 'q', podSets: [{ name: 'w', count: 2, cpuMilli: 100, memoryMiB: 64, command: nodeScript(`const fs = require('fs'); fs.writeFileSync(${JSON.stringify(marks)} + '/run-' + process.env.TROUPE_POD + '-' + process.env.TROUPE_ATTEMPT, ''); const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(go)})) { clearInterval(t); } }, 20)`) }] });
      const waitingId = (waiting as { jobId: string }).jobId;
      await waitFor(() => first.host.view.jobs.get(waitingId)!.status === 'Running', { what: 'the waiting gang to run', timeoutMs: 60_000 });
      await first.host.stop();
      // The control plane is replaced: a new host recovers from the store and the executor's pods.
      let executor2!: LocalExecutor;
      const second = await SchedulerHost.start({ config, store, nodes: [{ spec: node, ready: true }], clock: Date.now }, () => {
        executor2 = first.executor;
        return first.executor;
      });
      route.host = second;
      expect(executor2.observe()).toHaveLength(2);
      const { writeFileSync } = await import('node:fs');
      writeFileSync(go, '');
      await waitFor(() => second.view.jobs.get(waitingId)!.status === 'Succeeded', { what: 'the recovered gang to succeed', timeoutMs: 60_000 });
      expect(readdirSync(marks).filter((name) => name.startsWith('run-')).sort()).toEqual(['run-w-0-1', 'run-w-1-1']);
      await second.stop();
    } finally {
      await first.host.stop();
      await first.executor.stop();
    }
  });
});
