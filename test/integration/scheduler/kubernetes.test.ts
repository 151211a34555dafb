/**
 * The scheduler on a real kube-apiserver (built from the Go module proxy, over etcd; no kubelet):
 * 20 fake GPU nodes of two products, a 3-tenant workload of gangs, a fake kubelet that runs bound
 * pods and fails some on their first attempt, and the control plane (its own process, job records in
 * fsync'd files) killed with SIGKILL mid-run and started again: it recovers from its store, relists
 * the pods and resubmits the workload under the same idempotency keys. Every
 * job completes exactly once, and no pod of a gang is bound while another pod of it is missing.
 */
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobRecord } from '../../../actors/scheduler/index.js';
import { spawnChild, stopAllChildren, stopChild } from '../../support/children.js';
import { kubeNodes as nodes, kubeWorkload, namespace } from './kube-workload.js';
import { FakeKubelet } from '../../services/fake-kubelet.js';
import { KubeApiServer } from '../../services/kubernetes.js';
import { waitFor } from '../../support/wait.js';

let server: KubeApiServer | undefined;
let kubeConfig: k8s.KubeConfig;

beforeAll(async () => {
  server = await KubeApiServer.start();
  kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'test', server: server.url, caFile: server.caFile }], users: [{ name: 'admin', token: server.token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'admin' }], currentContext: 'test',
  });
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  // No controller manager runs: the namespace's default service account is created by hand.
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
  for (const node of nodes) {
    await core.createNode({ body: {
      metadata: { name: node.name, labels: { 'nvidia.com/gpu.product': node.gpuType, 'topology.kubernetes.io/zone': node.rack } },
      status: { capacity: { 'nvidia.com/gpu': String(node.gpuCount), cpu: '96', memory: '1Ti', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] },
    } });
  }
}, 600_000);

afterAll(async () => {
  await stopAllChildren();
  await server?.stop();
});

describe('scheduler on a real kube-apiserver', () => {
  it('runs a 3-tenant gang workload on 20 GPU nodes through pod failures and a kill -9 of the control plane: each job completes exactly once, no gang partly bound', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'troupe-kube-store-'));
    const workload = kubeWorkload();
    const gangSizes = new Map(workload.map(({ spec }, index) => [`job-${index + 1}`, spec.podSets.reduce((sum, podSet) => sum + podSet.count, 0)]));
    // The first attempt of every third job loses a worker.
    const failing = new Set(workload.map((_, index) => `job-${index + 1}`).filter((_, index) => index % 3 === 0));
    const kubelet = await FakeKubelet.start({
      kubeConfig, namespace, startMs: 50, runMs: 400,
      fails: (pod) => failing.has(pod.metadata!.labels!['troupe.io/job']!) && pod.metadata!.labels!['troupe.io/attempt'] === '1' && pod.metadata!.labels!['troupe.io/pod'] === 'worker-0',
      gangSize: (jobId) => gangSizes.get(jobId) ?? 0,
    });
    const startPlane = () => spawnChild(process.execPath, ['--import', 'tsx', 'test/integration/scheduler/kube-control-plane.ts', server!.url, server!.token, server!.caFile, storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const records = (): JobRecord[] => readdirSync(storeDir).filter((name) => name.endsWith('.json')).map((name) => JSON.parse(readFileSync(join(storeDir, name), 'utf8')) as JobRecord);
    const succeeded = () => records().filter((record) => record.status === 'Succeeded').length;
    let output = '';
    try {
      let plane = startPlane();
      plane.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      plane.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      await waitFor(() => succeeded() >= 4, { what: 'a few jobs to finish', timeoutMs: 120_000 });
      // kill -9 of the control plane mid-run; a new process recovers from its store and relists the pods.
      await stopChild(plane, { signal: 'SIGKILL' });
      expect(succeeded()).toBeLessThan(workload.length);
      plane = startPlane();
      plane.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      plane.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      await waitFor(() => records().length === workload.length && succeeded() === workload.length, { what: 'every job to succeed', timeoutMs: 180_000 });
      await stopChild(plane);
    } catch (error) {
      throw new Error(`${(error as Error).message}\ncontrol plane output:\n${output.slice(-3_000)}`);
    } finally {
      await kubelet.stop();
    }
    expect(kubelet.record.partialBindings).toEqual([]);
    const final = records();
    expect(final.map((record) => record.key).sort()).toEqual(workload.map(({ key }) => key).sort());
    for (const job of final) {
      const completions = Array.from({ length: job.attempt }, (_, index) => index + 1).filter((attempt) => {
        const names = [...kubelet.record.finished].filter(([name]) => name.startsWith(`${job.id}-a${attempt}-`));
        return names.length === gangSizes.get(job.id) && names.every(([, phase]) => phase === 'Succeeded');
      });
      expect(completions, job.id).toHaveLength(1);
      if (failing.has(job.id)) expect(job.restarts, job.id).toBeGreaterThanOrEqual(1);
    }
    expect(output).not.toMatch(/executor: /);
  }, 600_000);
});
