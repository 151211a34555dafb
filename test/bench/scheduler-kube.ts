/**
 * The second half of the scheduler bench: on a real kube-apiserver (no kubelet), the same gang pods
 * scheduled by Troupe (KubernetesExecutor: create the gang, then bind every pod) and by the real
 * kube-scheduler 1.37.2 (which places pods one at a time and has no gangs), one after the other on
 * the same fresh nodes. Demand exceeds capacity, so contention shows: a gang with some but not all of
 * its pods bound is a partial gang.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { KubernetesExecutor, MemoryJobStore, resolveConfig, SchedulerHost, type NodeSpec } from '../../actors/scheduler/index.js';
import { ensureKubernetesBinaries, KubeApiServer } from '../services/kubernetes.js';
import { freePort, startService } from '../services/process.js';
import { waitFor } from '../support/wait.js';

const GPU = 'NVIDIA-H100-80GB-HBM3';

export interface KubeBenchResult {
  readonly nodes: number;
  readonly gangs: number;
  readonly podsPerGang: number;
  readonly troupe: { podsPerSecond: number; boundPods: number; partialGangs: number; seconds: number };
  readonly kubeScheduler: { podsPerSecond: number; boundPods: number; partialGangs: number; seconds: number };
}

async function createNodes(core: k8s.CoreV1Api, prefix: string, count: number): Promise<NodeSpec[]> {
  const specs: NodeSpec[] = [];
  for (let index = 0; index < count; index += 1) {
    const spec: NodeSpec = { name: `${prefix}-${index}`, rack: '', gpuType: GPU, gpuCount: 8, cpuMilli: 96_000, memoryMiB: 512 * 1024 };
    const resources = { 'nvidia.com/gpu': '8', cpu: '96', memory: '512Gi', pods: '110' };
    await core.createNode({ body: {
      metadata: { name: spec.name, labels: { 'nvidia.com/gpu.product': GPU, 'troupe.io/bench': prefix } },
      status: { capacity: resources, allocatable: resources, conditions: [{ type: 'Ready', status: 'True' }] },
    } });
    // The TaintNodesByCondition admission plugin taints a new node not-ready; no node controller
    // will lift it, so it is lifted here (kube-scheduler would otherwise place nothing).
    await core.patchNode({ name: spec.name, body: { spec: { taints: null } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    specs.push(spec);
  }
  return specs;
}

async function countBound(core: k8s.CoreV1Api, namespace: string, gangSize: number): Promise<{ bound: number; partial: number }> {
  const pods = await core.listNamespacedPod({ namespace });
  const perGang = new Map<string, number>();
  let bound = 0;
  for (const pod of pods.items) {
    const gang = pod.metadata?.labels?.['troupe.io/job'] ?? pod.metadata?.labels?.gang ?? '';
    if (pod.spec?.nodeName === undefined) continue;
    bound += 1;
    perGang.set(gang, (perGang.get(gang) ?? 0) + 1);
  }
  return { bound, partial: [...perGang.values()].filter((count) => count < gangSize).length };
}

/** Waits until the bound count stops changing for `quietMs` (or all are bound); returns when the last one was bound. */
async function settle(core: k8s.CoreV1Api, namespace: string, gangSize: number, total: number, startedMs: number): Promise<{ bound: number; partial: number; seconds: number }> {
  let last = { bound: -1, partial: 0 };
  let lastChangeMs = performance.now();
  // The bound count is polled every 100 ms; settling is itself the condition (a bench measures time).
  await waitFor(async () => {
    const now = await countBound(core, namespace, gangSize);
    if (now.bound !== last.bound) {
      last = now;
      lastChangeMs = performance.now();
    }
    // Quiet for 3 s after the first bind (a scheduler may take seconds to sync its informers first), or 20 s with none.
    const quietMs = last.bound > 0 ? 3_000 : 20_000;
    return now.bound === total || performance.now() - lastChangeMs > quietMs;
  }, { timeoutMs: 600_000, intervalMs: 100, what: 'the bound pod count to settle' });
  return { ...last, seconds: (lastChangeMs - startedMs) / 1_000 };
}

export async function runKubeBench(options: { nodes: number; gangs: number; podsPerGang: number; gpusPerPod: number }): Promise<KubeBenchResult> {
  const { scheduler: schedulerBinary } = ensureKubernetesBinaries({ scheduler: true });
  const server = await KubeApiServer.start();
  const directory = mkdtempSync(join(tmpdir(), 'troupe-kube-bench-'));
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'bench', server: server.url, caFile: server.caFile }], users: [{ name: 'admin', token: server.token }],
    contexts: [{ name: 'bench', cluster: 'bench', user: 'admin' }], currentContext: 'bench',
  });
  writeFileSync(join(directory, 'kubeconfig'), kubeConfig.exportConfig());
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const total = options.gangs * options.podsPerGang;
  try {
    for (const namespace of ['troupe-bench', 'kube-bench']) {
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
    }
    // Troupe first, on its own nodes; kube-scheduler is not running yet, and ignores troupe's pods anyway.
    const troupeNodes = await createNodes(core, 'troupe', options.nodes);
    const config = resolveConfig({ queues: [{ name: 'q', tenant: 't', nominal: {} }], passAttemptsMax: 100_000 });
    const route: { host?: SchedulerHost } = {};
    const executor = await KubernetesExecutor.start({ kubeConfig, namespace: 'troupe-bench', clock: Date.now, report: (report) => route.host?.tell(report) });
    const host = await SchedulerHost.start({ config, store: new MemoryJobStore(), nodes: troupeNodes.map((spec) => ({ spec, ready: true })), clock: Date.now }, () => executor);
    route.host = host;
    const troupeStarted = performance.now();
    await Promise.all(Array.from({ length: options.gangs }, (_, index) => host.submit(`gang-${index}`, {
      tenant: 't', queue: 'q', podSets: [{ name: 'w', count: options.podsPerGang, cpuMilli: 1_000, memoryMiB: 1_024, gpu: { types: [GPU], count: options.gpusPerPod } }],
    })));
    const troupe = await settle(core, 'troupe-bench', options.podsPerGang, total, troupeStarted);
    await host.stop();
    executor.stop();
    // Cordon troupe's nodes so kube-scheduler places on its own, fresh nodes.
    for (const node of troupeNodes) await core.patchNode({ name: node.name, body: { spec: { unschedulable: true } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await createNodes(core, 'kube', options.nodes);
    const port = await freePort();
    const scheduler = startService('kube-scheduler', schedulerBinary, [
      `--kubeconfig=${join(directory, 'kubeconfig')}`, '--leader-elect=false', '--bind-address=127.0.0.1', ...(process.env.KUBE_BENCH_LOG ? ['--v=4'] : []), `--secure-port=${port}`,
      `--authentication-kubeconfig=${join(directory, 'kubeconfig')}`, `--authorization-kubeconfig=${join(directory, 'kubeconfig')}`,
    ], {
      logPath: join(directory, 'scheduler.log'), cleanupPaths: [directory],
      // client-go's streaming list (WatchListClient) needs RequestWatchProgress, which etcd 3.4 lacks.
      env: { ...process.env, KUBE_FEATURE_WatchListClient: 'false' },
    });
    try {
      const kubeStarted = performance.now();
      // Pods arrive interleaved across gangs, as when many job controllers create their pods at once.
      for (let pod = 0; pod < options.podsPerGang; pod += 1) {
        await Promise.all(Array.from({ length: options.gangs }, (_, gang) => core.createNamespacedPod({ namespace: 'kube-bench', body: {
          metadata: { name: `gang-${gang}-${pod}`, labels: { gang: `gang-${gang}` } },
          spec: { containers: [{ name: 'main', image: 'bench', resources: { limits: { 'nvidia.com/gpu': String(options.gpusPerPod), cpu: '1', memory: '1Gi' } } }] },
        } })));
      }
      const kube = await settle(core, 'kube-bench', options.podsPerGang, total, kubeStarted);
      return {
        nodes: options.nodes, gangs: options.gangs, podsPerGang: options.podsPerGang,
        troupe: { podsPerSecond: Math.round(troupe.bound / troupe.seconds), boundPods: troupe.bound, partialGangs: troupe.partial, seconds: Number(troupe.seconds.toFixed(2)) },
        kubeScheduler: { podsPerSecond: Math.round(kube.bound / kube.seconds), boundPods: kube.bound, partialGangs: kube.partial, seconds: Number(kube.seconds.toFixed(2)) },
      };
    } finally {
      if (process.env.KUBE_BENCH_LOG) spawnSync('cp', [join(directory, 'scheduler.log'), process.env.KUBE_BENCH_LOG]);
      await scheduler.stop({ graceMs: 2_000 });
    }
  } finally {
    await server.stop();
  }
}
