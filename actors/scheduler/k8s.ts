/**
 * The Kubernetes executor: the scheduler acts as a custom scheduler (`schedulerName: troupe`). For a
 * bind it creates every pod of the gang first and only then binds each to its node through the
 * binding subresource, so no pod of a gang is bound while another is missing. Pods carry their job,
 * attempt and pod name as labels. A list-then-watch informer reports phases; a delete removes the
 * attempt's pods and reports them gone with the phases they ended in. It makes no decision.
 */
import * as k8s from '@kubernetes/client-node';
import type { JobSpec, PodPhase, PodPlacement, SchedulerEffect, SchedulerInput } from './core/index.js';
import type { Executor } from './host.js';
import type { ExecutorReport } from './local-executor.js';

const jobLabel = 'troupe.io/job';
const attemptLabel = 'troupe.io/attempt';
const podLabel = 'troupe.io/pod';

/** Options of the Kubernetes executor. */
export interface KubernetesExecutorOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly namespace: string;
  readonly report: (report: ExecutorReport) => void;
  readonly clock: () => number;
  /** The image pods run (the fake kubelet of the tests never pulls it). */
  readonly image?: string;
  /** Called with an error the executor could not act on (a create or bind the API server refused). */
  readonly onError?: (error: unknown) => void;
}

/** The pod name of one pod of one attempt (DNS-1123: lower case). */
export function podName(jobId: string, attempt: number, pod: string): string {
  return `${jobId}-a${attempt}-${pod}`.toLowerCase();
}

/** Runs gangs as Kubernetes pods. */
export class KubernetesExecutor implements Executor {
  private readonly core: k8s.CoreV1Api;
  private informer: k8s.Informer<k8s.V1Pod> | undefined;
  private readonly chains = new Map<string, Promise<void>>();
  private readonly phases = new Map<string, { jobId: string; attempt: number; pod: string; phase: PodPhase }>();
  private readonly deleting = new Map<string, Record<string, PodPhase>>();

  private constructor(private readonly options: KubernetesExecutorOptions) {
    this.core = options.kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  /** Lists the namespace's troupe pods, then watches them from the list's version. */
  static async start(options: KubernetesExecutorOptions): Promise<KubernetesExecutor> {
    const executor = new KubernetesExecutor(options);
    const path = `/api/v1/namespaces/${options.namespace}/pods`;
    const informer = k8s.makeInformer(options.kubeConfig, path,
      () => executor.core.listNamespacedPod({ namespace: options.namespace, labelSelector: jobLabel }), jobLabel);
    informer.on('add', (pod) => executor.observed(pod));
    informer.on('update', (pod) => executor.observed(pod));
    informer.on('delete', (pod) => executor.removed(pod));
    informer.on('error', (error) => {
      options.onError?.(error);
      // The informer stops on an error; it lists and watches again.
      setTimeout(() => void informer.start().catch((restartError: unknown) => options.onError?.(restartError)), 500);
    });
    await informer.start();
    executor.informer = informer;
    return executor;
  }

  execute(effect: SchedulerEffect): void {
    if (effect.type === 'bind') this.chain(effect.jobId, () => this.bind(effect.jobId, effect.attempt, effect.spec, effect.placements));
    else if (effect.type === 'deletePods') this.chain(effect.jobId, () => this.deletePods(effect.jobId, effect.attempt));
  }

  /** Every known pod's phase (the informer's cache), for a control plane that just recovered. */
  observe(): SchedulerInput[] {
    return [...this.phases.values()].map((pod) => ({ type: 'podPhase' as const, nowMs: this.options.clock(), jobId: pod.jobId, attempt: pod.attempt, pod: pod.pod, phase: pod.phase }));
  }

  stop(): void {
    void this.informer?.stop();
  }

  private chain(jobId: string, work: () => Promise<void>): void {
    const next = (this.chains.get(jobId) ?? Promise.resolve()).then(work).catch((error: unknown) => this.options.onError?.(error));
    this.chains.set(jobId, next);
    void next.then(() => { if (this.chains.get(jobId) === next) this.chains.delete(jobId); });
  }

  private async bind(jobId: string, attempt: number, spec: JobSpec, placements: readonly PodPlacement[]): Promise<void> {
    const namespace = this.options.namespace;
    // Every pod exists before any is bound: a gang is never partly bound. Creates (and then binds)
    // go out together.
    await Promise.all(placements.map(async (placement) => {
      const podSet = spec.podSets.find((set) => set.name === placement.podSet)!;
      const body: k8s.V1Pod = {
        metadata: { name: podName(jobId, attempt, placement.pod), labels: { [jobLabel]: jobId, [attemptLabel]: String(attempt), [podLabel]: placement.pod } },
        spec: {
          schedulerName: 'troupe', restartPolicy: 'Never',
          containers: [{
            name: 'main', image: this.options.image ?? 'troupe/pod', ...(podSet.command === undefined ? {} : { command: [...podSet.command] }),
            env: [{ name: 'CUDA_VISIBLE_DEVICES', value: placement.gpuIndices.join(',') }],
            resources: { limits: { cpu: `${placement.cpuMilli}m`, memory: `${placement.memoryMiB}Mi`, ...(placement.gpuIndices.length > 0 ? { 'nvidia.com/gpu': String(placement.gpuIndices.length) } : {}) } },
          }],
        },
      };
      await ignoreConflict(this.core.createNamespacedPod({ namespace, body }));
    }));
    await Promise.all(placements.map(async (placement) => {
      const name = podName(jobId, attempt, placement.pod);
      await ignoreConflict(this.core.createNamespacedBinding({ namespace, body: { metadata: { name }, target: { apiVersion: 'v1', kind: 'Node', name: placement.node } } }));
    }));
  }

  private async deletePods(jobId: string, attempt: number): Promise<void> {
    const attemptKey = `${jobId}#${attempt}`;
    const finalPhases: Record<string, PodPhase> = {};
    for (const pod of this.phases.values()) if (pod.jobId === jobId && pod.attempt === attempt) finalPhases[pod.pod] = pod.phase;
    this.deleting.set(attemptKey, finalPhases);
    await this.core.deleteCollectionNamespacedPod({ namespace: this.options.namespace, labelSelector: `${jobLabel}=${jobId},${attemptLabel}=${attempt}`, gracePeriodSeconds: 0 });
    this.settleDeletion(jobId, attempt);
  }

  private observed(pod: k8s.V1Pod): void {
    const labels = pod.metadata?.labels ?? {};
    const jobId = labels[jobLabel];
    const attempt = Number(labels[attemptLabel]);
    const name = labels[podLabel];
    const phase = pod.status?.phase;
    if (jobId === undefined || name === undefined || !Number.isSafeInteger(attempt)) return;
    if (phase !== 'Pending' && phase !== 'Running' && phase !== 'Succeeded' && phase !== 'Failed') return;
    const key = `${jobId}#${attempt}/${name}`;
    const previous = this.phases.get(key);
    this.phases.set(key, { jobId, attempt, pod: name, phase });
    const deleting = this.deleting.get(`${jobId}#${attempt}`);
    if (deleting !== undefined) deleting[name] = phase;
    if (previous?.phase !== phase) this.options.report({ type: 'podPhase', nowMs: this.options.clock(), jobId, attempt, pod: name, phase });
  }

  private removed(pod: k8s.V1Pod): void {
    const labels = pod.metadata?.labels ?? {};
    const jobId = labels[jobLabel];
    const attempt = Number(labels[attemptLabel]);
    if (jobId === undefined || labels[podLabel] === undefined) return;
    this.phases.delete(`${jobId}#${attempt}/${labels[podLabel]}`);
    this.settleDeletion(jobId, attempt);
  }

  /** Reports the attempt gone once the informer holds none of its pods. */
  private settleDeletion(jobId: string, attempt: number): void {
    const attemptKey = `${jobId}#${attempt}`;
    const finalPhases = this.deleting.get(attemptKey);
    if (finalPhases === undefined) return;
    for (const pod of this.phases.values()) if (pod.jobId === jobId && pod.attempt === attempt) return;
    this.deleting.delete(attemptKey);
    this.options.report({ type: 'podsGone', nowMs: this.options.clock(), jobId, attempt, finalPhases });
  }
}

async function ignoreConflict(request: Promise<unknown>): Promise<void> {
  try {
    await request;
  } catch (error) {
    // 409: the pod exists or is bound already (a bind re-issued after a restart); anything else is real.
    if ((error as { code?: number }).code !== 409) throw error;
  }
}
