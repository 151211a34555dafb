/**
 * A fake kubelet for tests against a real kube-apiserver with no nodes running: it watches pods
 * (list, then watch) and moves each bound pod (spec.nodeName set) from Pending to Running, then to
 * Succeeded, or to Failed when `fails(pod)` says so. It also records what it saw, so a test can check
 * that no pod of a gang was bound while another pod of the same gang did not exist yet.
 */
import * as k8s from '@kubernetes/client-node';

/** What the kubelet saw: bindings whose gang was incomplete at that moment, and pods it finished. */
export interface KubeletRecord {
  readonly partialBindings: string[];
  readonly finished: Map<string, 'Succeeded' | 'Failed'>;
}

export class FakeKubelet {
  readonly record: KubeletRecord = { partialBindings: [], finished: new Map() };
  private readonly handled = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  private constructor(private readonly core: k8s.CoreV1Api, private readonly informer: k8s.Informer<k8s.V1Pod> & k8s.ObjectCache<k8s.V1Pod>, private readonly options: FakeKubeletOptions) {}

  static async start(options: FakeKubeletOptions): Promise<FakeKubelet> {
    const core = options.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const informer = k8s.makeInformer(options.kubeConfig, `/api/v1/namespaces/${options.namespace}/pods`, () => core.listNamespacedPod({ namespace: options.namespace }));
    const kubelet = new FakeKubelet(core, informer, options);
    informer.on('add', (pod) => kubelet.saw(pod));
    informer.on('update', (pod) => kubelet.saw(pod));
    informer.on('error', () => { if (!kubelet.stopped) setTimeout(() => void informer.start(), 200); });
    await informer.start();
    return kubelet;
  }

  private saw(pod: k8s.V1Pod): void {
    const name = pod.metadata!.name!;
    if (this.stopped || pod.spec?.nodeName === undefined || pod.status?.phase !== 'Pending' || this.handled.has(name)) return;
    this.handled.add(name);
    const labels = pod.metadata?.labels ?? {};
    const gang = this.informer.list(this.options.namespace).filter((other) => other.metadata?.labels?.['troupe.io/job'] === labels['troupe.io/job'] && other.metadata?.labels?.['troupe.io/attempt'] === labels['troupe.io/attempt']);
    if (gang.length < this.options.gangSize(labels['troupe.io/job']!)) this.record.partialBindings.push(`${name}: ${gang.length} pods of the gang exist`);
    const fails = this.options.fails(pod);
    this.later(this.options.startMs, () => this.setPhase(name, 'Running'));
    this.later(this.options.startMs + this.options.runMs, () => this.setPhase(name, fails ? 'Failed' : 'Succeeded'));
  }

  private later(delayMs: number, work: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) void work().catch(() => undefined);
    }, delayMs);
    this.timers.add(timer);
  }

  private async setPhase(name: string, phase: 'Running' | 'Succeeded' | 'Failed'): Promise<void> {
    await this.core.patchNamespacedPodStatus({ namespace: this.options.namespace, name, body: { status: { phase } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    if (phase !== 'Running') this.record.finished.set(name, phase);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    await this.informer.stop();
  }
}

export interface FakeKubeletOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly namespace: string;
  readonly startMs: number;
  readonly runMs: number;
  readonly fails: (pod: k8s.V1Pod) => boolean;
  readonly gangSize: (jobId: string) => number;
}
