/**
 * A small driver for scenario tests of the scheduling core: it feeds inputs with a manual clock,
 * keeps the persisted records the way the KV would, and plays a compliant executor on request
 * (pods start, succeed, fail; deletions complete). Every step is followed by the core's invariant check.
 */
import {
  checkInvariants, emptyState, recover, resolveConfig, step, type JobRecord, type JobSpecInput, type NodeSpec, type QueueSpec, type SchedulerConfigInput,
  type SchedulerEffect, type SchedulerInput, type SchedulerState, type StepResult, type TenantSpec,
} from '../../../actors/scheduler/index.js';

type BindEffect = Extract<SchedulerEffect, { type: 'bind' }>;

export function node(name: string, gpuType: string, gpuCount: number, extra: Partial<NodeSpec> = {}): NodeSpec {
  return { name, rack: '', gpuType, gpuCount, cpuMilli: 64_000, memoryMiB: 512 * 1024, ...extra };
}

/** A gang: `workers` pods of `gpus` GPUs each of `types`. */
export function gang(tenant: string, queue: string, workers: number, gpus: number, types: string[], extra: Partial<JobSpecInput> = {}): JobSpecInput {
  return { tenant, queue, podSets: [{ name: 'worker', count: workers, cpuMilli: 1_000, memoryMiB: 1_024, gpu: { types, count: gpus } }], ...extra };
}

export class Driver {
  state: SchedulerState;
  nowMs = 0;
  readonly kv = new Map<string, JobRecord>();
  readonly effects: SchedulerEffect[] = [];
  private readonly config;

  constructor(options: { queues: QueueSpec[]; tenants?: TenantSpec[]; nodes?: NodeSpec[] } & Partial<SchedulerConfigInput>) {
    this.config = resolveConfig({ backoffMsMin: 1_000, backoffMsMax: 8_000, startTimeoutMs: 60_000, ...options });
    this.state = emptyState(this.config);
    for (const spec of options.nodes ?? []) this.input({ type: 'nodeUp', nowMs: this.nowMs, node: spec });
  }

  input(input: SchedulerInput): StepResult {
    const result = step(this.state, input);
    this.record(result.effects);
    checkInvariants(this.state);
    return result;
  }

  private record(effects: readonly SchedulerEffect[]): void {
    for (const effect of effects) {
      if (effect.type === 'persist') this.kv.set(effect.job.id, structuredClone(effect.job));
      else if (effect.type === 'forget') this.kv.delete(effect.jobId);
      this.effects.push(effect);
    }
  }

  submit(key: string, spec: JobSpecInput): StepResult['reply'] {
    return this.input({ type: 'submit', nowMs: this.nowMs, key, spec }).reply;
  }

  tick(advanceMs = 0): SchedulerEffect[] {
    this.nowMs += advanceMs;
    return this.input({ type: 'tick', nowMs: this.nowMs }).effects;
  }

  job(id: string): JobRecord {
    const job = this.state.jobs.get(id);
    if (job === undefined) throw new Error(`no job ${id}`);
    return job;
  }

  binds(jobId?: string): BindEffect[] {
    return this.effects.filter((effect): effect is BindEffect => effect.type === 'bind' && (jobId === undefined || effect.jobId === jobId));
  }

  /** The executor starts every pod of the job's current attempt. */
  run(jobId: string): void {
    const job = this.job(jobId);
    for (const placement of job.placements ?? []) this.input({ type: 'podPhase', nowMs: this.nowMs, jobId, attempt: job.attempt, pod: placement.pod, phase: 'Running' });
  }

  /** Every pod of the job's current attempt succeeds. */
  succeed(jobId: string): void {
    const job = this.job(jobId);
    for (const placement of job.placements ?? []) this.input({ type: 'podPhase', nowMs: this.nowMs, jobId, attempt: job.attempt, pod: placement.pod, phase: 'Succeeded' });
  }

  fail(jobId: string, pod: string): void {
    const job = this.job(jobId);
    this.input({ type: 'podPhase', nowMs: this.nowMs, jobId, attempt: job.attempt, pod, phase: 'Failed', message: 'exit code 1' });
  }

  /** The executor finishes deleting the pods of every evicting job. */
  deletionsDone(): void {
    for (const job of [...this.state.jobs.values()]) {
      if (job.status === 'Evicting') this.input({ type: 'podsGone', nowMs: this.nowMs, jobId: job.id, attempt: job.attempt });
    }
  }

  /** Drops the in-memory core and rebuilds it from the persisted records (a control-plane restart). */
  restart(): SchedulerEffect[] {
    const nodes = [...this.state.inventory.nodes.values()].map((state) => ({ spec: state.spec, ready: state.ready }));
    const recovered = recover(this.config, [...this.kv.values()].map((record) => structuredClone(record)), nodes);
    this.state = recovered.state;
    this.record(recovered.effects);
    checkInvariants(this.state);
    return recovered.effects;
  }

  statusOf(jobId: string): string {
    return this.job(jobId).status;
  }
}

export function jobIdOf(reply: StepResult['reply']): string {
  if (reply === undefined || !reply.ok || !('jobId' in reply)) throw new Error(`submission failed: ${JSON.stringify(reply)}`);
  return reply.jobId;
}
