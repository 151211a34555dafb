/**
 * The local executor: runs each pod bound to this machine's node as a child process, in its own
 * process group, with `CUDA_VISIBLE_DEVICES` set to the GPU indices the core gave it. It only does
 * what the core asked (bind, delete) and reports what it sees (phases, pods gone); it makes no
 * decision. Binding is idempotent: a pod that exists (running or finished) is left as it is. The
 * phases of deleted attempts are kept (bounded) so a repeated delete answers with the same phases.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { JobSpec, PodPhase, PodPlacement, SchedulerEffect, SchedulerInput } from './core/index.js';

/** What the executor tells its host; the host feeds it to the core through its mailbox. */
export type ExecutorReport = Extract<SchedulerInput, { type: 'podPhase' | 'podsGone' }>;

interface LocalPod {
  readonly key: string;
  readonly jobId: string;
  readonly attempt: number;
  readonly pod: string;
  phase: PodPhase;
  child?: ChildProcess;
  exited: Promise<void>;
}

/** Options of a local executor. */
export interface LocalExecutorOptions {
  /** The node name the core places this machine's pods on. */
  readonly node: string;
  readonly report: (report: ExecutorReport) => void;
  readonly clock: () => number;
  /** Extra environment for every pod. */
  readonly env?: NodeJS.ProcessEnv;
  /** How long a deleted pod has after SIGTERM before SIGKILL. */
  readonly killGraceMs?: number;
  /** Deleted attempts whose final phases are remembered; the oldest are forgotten beyond it. */
  readonly tombstonesMax?: number;
  /** How a pod's process is started (default `child_process.spawn`); it must start it in its own process group. */
  readonly spawnProcess?: (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;
}

/** Runs pods as local processes. */
export class LocalExecutor {
  private readonly pods = new Map<string, LocalPod>();
  private readonly tombstones = new Map<string, Record<string, PodPhase>>();

  constructor(private readonly options: LocalExecutorOptions) {}

  /** Executes a bind or delete effect; other effects are not the executor's. */
  execute(effect: SchedulerEffect): void {
    if (effect.type === 'bind') this.bind(effect.jobId, effect.attempt, effect.spec, effect.placements);
    else if (effect.type === 'deletePods') void this.deletePods(effect.jobId, effect.attempt);
  }

  private bind(jobId: string, attempt: number, spec: JobSpec, placements: readonly PodPlacement[]): void {
    for (const placement of placements) {
      if (placement.node !== this.options.node) continue;
      const key = `${jobId}#${attempt}/${placement.pod}`;
      if (this.pods.has(key) || this.tombstones.has(`${jobId}#${attempt}`)) continue;
      const command = spec.podSets.find((podSet) => podSet.name === placement.podSet)?.command ?? ['true'];
      this.start(key, jobId, attempt, placement, command);
    }
  }

  private start(key: string, jobId: string, attempt: number, placement: PodPlacement, command: readonly string[]): void {
    const child = (this.options.spawnProcess ?? spawn)(command[0]!, command.slice(1), {
      detached: true,
      stdio: 'ignore',
      env: {
        ...process.env, ...this.options.env,
        CUDA_VISIBLE_DEVICES: placement.gpuIndices.join(','),
        TROUPE_JOB_ID: jobId, TROUPE_POD: placement.pod, TROUPE_ATTEMPT: String(attempt),
      },
    });
    let exited!: () => void;
    const pod: LocalPod = { key, jobId, attempt, pod: placement.pod, phase: 'Pending', child, exited: new Promise((resolve) => { exited = resolve; }) };
    this.pods.set(key, pod);
    child.once('spawn', () => this.setPhase(pod, 'Running'));
    child.once('error', (error) => {
      this.setPhase(pod, 'Failed', `could not start: ${error.message}`);
      exited();
    });
    child.once('exit', (code, signal) => {
      this.setPhase(pod, code === 0 ? 'Succeeded' : 'Failed', signal === null ? `exit code ${code}` : `killed by ${signal}`);
      exited();
    });
  }

  private setPhase(pod: LocalPod, phase: PodPhase, message?: string): void {
    if (pod.phase === 'Succeeded' || pod.phase === 'Failed' || pod.phase === phase) return;
    pod.phase = phase;
    this.options.report({ type: 'podPhase', nowMs: this.options.clock(), jobId: pod.jobId, attempt: pod.attempt, pod: pod.pod, phase, ...(message === undefined ? {} : { message }) });
  }

  /** Stops every pod of the attempt (SIGTERM, then SIGKILL after the grace), then reports them gone with their final phases. */
  async deletePods(jobId: string, attempt: number): Promise<void> {
    const attemptKey = `${jobId}#${attempt}`;
    const pods = [...this.pods.values()].filter((pod) => pod.jobId === jobId && pod.attempt === attempt);
    const finalPhases: Record<string, PodPhase> = { ...this.tombstones.get(attemptKey) };
    await Promise.all(pods.map(async (pod) => {
      if (pod.phase === 'Pending' || pod.phase === 'Running') await this.kill(pod);
      finalPhases[pod.pod] = pod.phase;
      this.pods.delete(pod.key);
    }));
    this.tombstones.delete(attemptKey);
    this.tombstones.set(attemptKey, finalPhases);
    while (this.tombstones.size > (this.options.tombstonesMax ?? 10_000)) this.tombstones.delete(this.tombstones.keys().next().value!);
    this.options.report({ type: 'podsGone', nowMs: this.options.clock(), jobId, attempt, finalPhases });
  }

  private async kill(pod: LocalPod): Promise<void> {
    const pid = pod.child?.pid;
    if (pid === undefined) return;
    signalGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), this.options.killGraceMs ?? 5_000);
    try {
      await pod.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every pod's current phase: what a restarted control plane is told (the informer resync). */
  observe(): ExecutorReport[] {
    return [...this.pods.values()].map((pod) => ({ type: 'podPhase' as const, nowMs: this.options.clock(), jobId: pod.jobId, attempt: pod.attempt, pod: pod.pod, phase: pod.phase }));
  }

  /** Kills every pod (shutdown). */
  async stop(): Promise<void> {
    await Promise.all([...this.pods.values()].map((pod) => this.kill(pod)));
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    // The group is already gone (ESRCH): the pod exited on its own.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
