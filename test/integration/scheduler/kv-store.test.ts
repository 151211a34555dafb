/**
 * Job state in the replicated KV: a 3-replica Raft group holds the scheduler's job records. The
 * leader replica is stopped while a gang runs (a minority lost, a leader change), and the control
 * plane is replaced by a new host that recovers from the KV: no job is lost or doubled, the running
 * gang finishes once, and a retried submission returns the same job.
 */
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KvJobStore, LocalExecutor, resolveConfig, SchedulerHost, type NodeSpec } from '../../../actors/scheduler/index.js';
import { spawnChild, stopAllChildren } from '../../support/children.js';
import { LocalRaftGroup } from '../../support/raft-local.js';
import { waitFor } from '../../support/wait.js';

let group: LocalRaftGroup | undefined;
afterAll(async () => {
  await stopAllChildren();
  await group?.stop();
});

describe('scheduler job state in the replicated KV', () => {
  it('survives a leader replica loss and a control-plane replacement without losing or doubling a job', async () => {
    group = await LocalRaftGroup.start({ ids: ['r1', 'r2', 'r3'] });
    await group.leader();
    const store = new KvJobStore(group.client('scheduler'));
    const node: NodeSpec = { name: 'local', rack: '', gpuType: '', gpuCount: 0, cpuMilli: 4_000, memoryMiB: 4_096 };
    const config = resolveConfig({ queues: [{ name: 'q', tenant: 't', nominal: {} }] });
    const marks = mkdtempSync(join(tmpdir(), 'troupe-scheduler-kv-'));
    const go = join(marks, 'go');
    const route: { host?: SchedulerHost } = {};
    const executor = new LocalExecutor({ node: 'local', clock: Date.now, spawnProcess: spawnChild, report: (report) => route.host?.tell(report) });
    const start = async () => {
      const host = await SchedulerHost.start({ config, store, nodes: [{ spec: node, ready: true }], clock: Date.now }, () => executor);
      route.host = host;
      return host;
    };
    const spec = {
      tenant: 't', queue: 'q',
      podSets: [{ name: 'w', count: 2, cpuMilli: 100, memoryMiB: 64, command: [process.execPath, '-e', `const fs = require('fs'); fs.writeFileSync(${JSON.stringify(marks)} + '/run-' + process.env.TROUPE_POD + '-' + process.env.TROUPE_ATTEMPT, ''); const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(go)})) clearInterval(t); }, 20)`] }],
    };
    let host = await start();
    try {
      const first = await host.submit('train', spec);
      const other = await host.submit('other', { ...spec, podSets: [{ ...spec.podSets[0]!, command: [process.execPath, '-e', ''] }] });
      expect(first.ok && other.ok).toBe(true);
      const jobId = (first as { jobId: string }).jobId;
      await waitFor(() => host.view.jobs.get(jobId)!.status === 'Running', { what: 'the gang to run', timeoutMs: 60_000 });

      // The leader replica goes away; the two left elect a new leader.
      const leader = await group.leader();
      await group.stopReplica(leader);
      await group.leader(group.ids.filter((id) => id !== leader));
      await host.stop();
      host = await start();
      expect([...host.view.jobs.keys()].sort()).toEqual([jobId, (other as { jobId: string }).jobId].sort());
      expect(await host.submit('train', spec)).toMatchObject({ ok: true, jobId, existing: true });

      writeFileSync(go, '');
      await waitFor(() => host.view.jobs.get(jobId)!.status === 'Succeeded', { what: 'the gang to finish', timeoutMs: 60_000 });
      expect(readdirSync(marks).filter((name) => name.startsWith('run-')).sort()).toEqual(['run-w-0-1', 'run-w-1-1']);
      const records = await store.load();
      expect(records.map((record) => record.id).sort()).toEqual([...host.view.jobs.keys()].sort());
      expect(records.find((record) => record.id === jobId)!.status).toBe('Succeeded');
      expect(existsSync(go)).toBe(true);
    } finally {
      await host.stop();
      await executor.stop();
    }
  });
});
