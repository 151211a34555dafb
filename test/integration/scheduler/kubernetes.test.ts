/**
 * The scheduler on a real kube-apiserver (built from the Go module proxy, over etcd; no kubelet):
 * 20 fake GPU nodes of two products, a 3-tenant workload of gangs, a fake kubelet that runs bound
 * pods and fails some on their first attempt, and a control-plane restart in the middle (the host and
 * its executor are dropped and a new pair recovers from the job store and relists the pods). Every
 * job completes exactly once, and no pod of a gang is bound while another pod of it is missing.
 */
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KubernetesExecutor, MemoryJobStore, podCount, resolveConfig, SchedulerHost, type JobSpecInput, type NodeSpec, type ObservedNode,
} from '../../../actors/scheduler/index.js';
import { FakeKubelet } from '../../services/fake-kubelet.js';
import { KubeApiServer } from '../../services/kubernetes.js';
import { waitFor } from '../../support/wait.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const A100 = 'NVIDIA-A100-SXM4-80GB';
const namespace = 'default';
let server: KubeApiServer | undefined;
let kubeConfig: k8s.KubeConfig;

const nodes: NodeSpec[] = Array.from({ length: 20 }, (_, index) => ({
  name: `gpu-${index}`, rack: `rack-${index % 4}`, gpuType: index < 10 ? H100 : A100, gpuCount: 8, cpuMilli: 96_000, memoryMiB: 1_024 * 1_024,
}));

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
  await server?.stop();
});

function workload(): { key: string; spec: JobSpecInput }[] {
  const shapes: [number, number, string[]][] = [[2, 8, [H100]], [4, 2, [A100]], [8, 1, [H100, A100]], [2, 4, [A100]], [1, 8, [H100]]];
  return Array.from({ length: 15 }, (_, index) => {
    const tenant = ['a', 'b', 'c'][index % 3]!;
    const [workers, gpus, types] = shapes[index % shapes.length]!;
    return {
      key: `job-key-${index}`,
      spec: {
        tenant, queue: `q${tenant}`, priority: index % 2, restartsMax: 3,
        podSets: [
          ...(index % 2 === 0 ? [{ name: 'launcher', count: 1, cpuMilli: 500, memoryMiB: 512 }] : []),
          { name: 'worker', count: workers, cpuMilli: 4_000, memoryMiB: 16_384, gpu: { types, count: gpus } },
        ],
      },
    };
  });
}

describe('scheduler on a real kube-apiserver', () => {
  it('runs a 3-tenant gang workload on 20 GPU nodes through pod failures and a control-plane restart: each job completes exactly once, no gang partly bound', async () => {
    const config = resolveConfig({
      queues: ['a', 'b', 'c'].map((tenant) => ({ name: `q${tenant}`, tenant, cohort: 'all', nominal: { [`gpu/${H100}`]: 26, [`gpu/${A100}`]: 26 } })),
      backoffMsMin: 100, backoffMsMax: 1_000, startTimeoutMs: 60_000,
    });
    const store = new MemoryJobStore();
    const observed: ObservedNode[] = nodes.map((spec) => ({ spec, ready: true }));
    const errors: unknown[] = [];
    const gangSizes = new Map<string, number>();
    const failing = new Set<string>();
    const kubelet = await FakeKubelet.start({
      kubeConfig, namespace, startMs: 50, runMs: 400,
      // The first attempt of every third job loses a worker.
      fails: (pod) => failing.has(pod.metadata!.labels!['troupe.io/job']!) && pod.metadata!.labels!['troupe.io/attempt'] === '1' && pod.metadata!.labels!['troupe.io/pod'] === 'worker-0',
      gangSize: (jobId) => gangSizes.get(jobId) ?? 0,
    });
    const route: { host?: SchedulerHost } = {};
    const startPlane = async () => {
      let executor!: KubernetesExecutor;
      executor = await KubernetesExecutor.start({ kubeConfig, namespace, clock: Date.now, report: (report) => route.host?.tell(report), onError: (error) => errors.push(error) });
      const host = await SchedulerHost.start({ config, store, nodes: observed, clock: Date.now }, () => executor);
      route.host = host;
      return { host, executor };
    };
    let plane = await startPlane();
    const jobIds: string[] = [];
    try {
      for (const [index, { key, spec }] of workload().entries()) {
        const reply = await plane.host.submit(key, spec);
        if (!reply.ok) throw new Error(JSON.stringify(reply));
        jobIds.push(reply.jobId);
        gangSizes.set(reply.jobId, podCount(plane.host.view.jobs.get(reply.jobId)!.spec));
        if (index % 3 === 0) failing.add(reply.jobId);
      }
      await waitFor(() => jobIds.filter((id) => plane.host.view.jobs.get(id)!.status === 'Succeeded').length >= 4, { what: 'a few jobs to finish', timeoutMs: 120_000 });
      // The control plane goes away mid-run; a new one recovers from the store and relists the pods.
      await plane.host.stop();
      plane.executor.stop();
      plane = await startPlane();
      expect(plane.host.view.jobs.size).toBe(jobIds.length);
      await waitFor(() => jobIds.every((id) => plane.host.view.jobs.get(id)!.status === 'Succeeded'), {
        what: 'every job to succeed', timeoutMs: 180_000,
      });
    } finally {
      await plane.host.stop();
      plane.executor.stop();
      await kubelet.stop();
    }
    expect(kubelet.record.partialBindings).toEqual([]);
    for (const jobId of jobIds) {
      const job = plane.host.view.jobs.get(jobId)!;
      const completions = Array.from({ length: job.attempt }, (_, index) => index + 1).filter((attempt) => {
        const names = [...kubelet.record.finished].filter(([name]) => name.startsWith(`${jobId}-a${attempt}-`));
        return names.length === gangSizes.get(jobId) && names.every(([, phase]) => phase === 'Succeeded');
      });
      expect(completions, jobId).toHaveLength(1);
      if (failing.has(jobId)) expect(job.restarts, jobId).toBeGreaterThanOrEqual(1);
    }
    expect(errors.filter((error) => !String(error).includes('aborted'))).toEqual([]);
  }, 600_000);
});
