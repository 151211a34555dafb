/**
 * The scheduling core's state and the bookkeeping every transition shares: admitting a gang
 * (allocating all of it at once), evicting one (its resources stay held until the executor says its
 * pods are gone), finishing, and collecting the step's effects with persists first.
 */
import { assert } from '../../../runtime/index.js';
import { emptyInventory, Inventory } from './placement.js';
import { QuotaBook } from './quota.js';
import { jobRequest, podCount } from './spec.js';
import type { EvictionReason, FinalReason, JobRecord, PodPlacement, SchedulerConfig, SchedulerEffect } from './types.js';

/** The whole core state. The shell owns it and passes it to every `step`. */
export interface SchedulerState {
  readonly config: SchedulerConfig;
  readonly jobs: Map<string, JobRecord>;
  /** Idempotency key -> job id. */
  readonly keys: Map<string, string>;
  nextSeq: number;
  readonly inventory: Inventory;
  readonly quota: QuotaBook;
  /** Jobs waiting for admission, in submission (or requeue) order. */
  readonly pending: Set<string>;
  /** Jobs not yet in a final status (pending, bound or evicting). */
  readonly active: Set<string>;
  /** Admitted jobs whose pods are not all running yet (the start timeout watches them). */
  readonly starting: Set<string>;
  /** Preemptor -> the victims still evicting for it. */
  readonly victimsOf: Map<string, Set<string>>;
  /** Finished job ids, oldest first (bounded by `finishedJobsMax`). */
  readonly finished: string[];
  /** An empty copy of every known node, for "could any node set ever hold this job". */
  capacityView: Inventory;
  capacityViewVersion: number;
}

/** Collects one step's effects: persists (one per changed job, first), then actions. */
export class Outbox {
  private readonly changed = new Map<string, JobRecord>();
  private readonly forgotten: SchedulerEffect[] = [];
  readonly actions: SchedulerEffect[] = [];
  passWanted = false;

  touch(job: JobRecord): void {
    this.changed.set(job.id, job);
  }

  forget(job: JobRecord): void {
    this.changed.delete(job.id);
    this.forgotten.push({ type: 'forget', jobId: job.id, key: job.key });
  }

  effects(): SchedulerEffect[] {
    const effects: SchedulerEffect[] = [];
    for (const job of this.changed.values()) effects.push({ type: 'persist', job });
    effects.push(...this.forgotten, ...this.actions);
    if (this.passWanted) effects.push({ type: 'passWanted' });
    return effects;
  }
}

/** A fresh state with the configured queues and no nodes or jobs. */
export function emptyState(config: SchedulerConfig): SchedulerState {
  return {
    config, jobs: new Map(), keys: new Map(), nextSeq: 1, inventory: new Inventory(), quota: new QuotaBook(config.queues, config.tenants),
    pending: new Set(), active: new Set(), starting: new Set(), victimsOf: new Map(), finished: [], capacityView: new Inventory(), capacityViewVersion: 0,
  };
}

/** The empty-cluster view, rebuilt only when nodes or capacities changed. */
export function capacityView(state: SchedulerState): Inventory {
  if (state.capacityViewVersion !== state.inventory.version) {
    state.capacityView = emptyInventory([...state.inventory.nodes.values()].map((node) => node.spec));
    state.capacityViewVersion = state.inventory.version;
  }
  return state.capacityView;
}

/** Binds a whole gang: every placement is allocated, the quota charged, and one bind effect carries all pods. */
export function admit(state: SchedulerState, out: Outbox, job: JobRecord, gpuType: string, placements: PodPlacement[], nowMs: number): void {
  assert(job.status === 'Pending', 'only a pending job is admitted', { job: job.id, status: job.status });
  assert(placements.length === podCount(job.spec), 'a gang is admitted with a placement for every pod', { job: job.id });
  for (const placement of placements) state.inventory.allocate(job.id, placement);
  state.quota.charge(job.spec.queue, jobRequest(job.spec, gpuType), 1);
  state.pending.delete(job.id);
  state.starting.add(job.id);
  job.status = 'Admitted';
  job.attempt += 1;
  job.gpuType = gpuType;
  job.placements = placements;
  job.phases = Object.fromEntries(placements.map((placement) => [placement.pod, 'Pending' as const]));
  job.admittedAtMs = nowMs;
  job.firstAdmittedAtMs ??= nowMs;
  delete job.nominated;
  delete job.preemptedBy;
  delete job.preemptorAttempt;
  delete job.eviction;
  out.touch(job);
  out.actions.push({ type: 'bind', jobId: job.id, attempt: job.attempt, spec: job.spec, placements });
}

/** Starts evicting an admitted job: its pods are deleted; it keeps its resources until `podsGone`. */
export function evict(
  state: SchedulerState, out: Outbox, job: JobRecord,
  eviction: { reason: EvictionReason; then: 'requeue' | 'fail' | 'cancel'; countsRestart: boolean },
): void {
  assert(job.status === 'Admitted' || job.status === 'Running', 'only a bound job is evicted', { job: job.id, status: job.status });
  state.starting.delete(job.id);
  job.status = 'Evicting';
  job.eviction = eviction;
  out.touch(job);
  out.actions.push({ type: 'deletePods', jobId: job.id, attempt: job.attempt, reason: eviction.reason });
}

/** Gives back what a bound or evicting job holds. */
export function releaseJob(state: SchedulerState, job: JobRecord): void {
  for (const placement of job.placements ?? []) state.inventory.release(job.id, placement);
  state.quota.charge(job.spec.queue, jobRequest(job.spec, job.gpuType ?? ''), -1);
}

/** Moves a job to a final status and forgets the oldest finished jobs beyond the bound. */
export function finish(
  state: SchedulerState, out: Outbox, job: JobRecord, status: 'Succeeded' | 'Failed' | 'Refused' | 'Cancelled', nowMs: number,
  reason?: { code: FinalReason; message: string },
): void {
  state.pending.delete(job.id);
  state.starting.delete(job.id);
  state.active.delete(job.id);
  job.status = status;
  job.finishedAtMs = nowMs;
  delete job.eviction;
  delete job.nominated;
  if (reason !== undefined) {
    job.reason = reason.code;
    job.message = reason.message;
  }
  out.touch(job);
  state.finished.push(job.id);
  while (state.finished.length > state.config.finishedJobsMax) {
    const oldest = state.jobs.get(state.finished.shift()!);
    // The newest job is never forgotten, so a recovered core continues the id sequence after it.
    if (oldest === undefined || oldest.seq === state.nextSeq - 1) continue;
    state.jobs.delete(oldest.id);
    state.keys.delete(oldest.key);
    out.forget(oldest);
  }
}

/** Backoff before a requeued gang is tried again: doubling from the minimum, capped. */
export function backoffMs(config: SchedulerConfig, restarts: number): number {
  if (restarts <= 0) return 0;
  return Math.min(config.backoffMsMax, config.backoffMsMin * 2 ** Math.min(30, restarts - 1));
}

/** Checks the core's invariants across its tables; tests and the simulation call it after steps. */
export function checkInvariants(state: SchedulerState): void {
  state.quota.checkInvariants();
  const held = new Map<string, number>();
  let pending = 0;
  for (const jobId of state.active) {
    const job = state.jobs.get(jobId)!;
    const bound = job.status === 'Admitted' || job.status === 'Running' || job.status === 'Evicting';
    if (job.status === 'Pending') pending += 1;
    if (state.pending.has(job.id) !== (job.status === 'Pending')) assert(false, 'the pending set matches pending jobs', { job: job.id, status: job.status });
    if (!bound) continue;
    assert(job.placements !== undefined && job.placements.length === podCount(job.spec), 'a bound job has a placement for every pod of its gang', { job: job.id });
    for (const placement of job.placements) {
      const node = state.inventory.nodes.get(placement.node);
      if (node === undefined) continue;
      if (!node.pods.has(`${job.id}/${placement.pod}`)) assert(false, 'a bound pod is allocated on its node', { job: job.id, pod: placement.pod });
      held.set(placement.node, (held.get(placement.node) ?? 0) + 1);
    }
  }
  assert(pending === state.pending.size, 'every pending job is active');
  for (const [name, node] of state.inventory.nodes) {
    if (node.pods.size !== (held.get(name) ?? 0)) assert(false, 'a node holds only the pods of bound jobs', { node: name });
    let free = 0;
    for (const holder of node.gpuHolders) if (holder === '') free += 1;
    if (node.freeGpus !== free) assert(false, 'free GPU count matches the holders', { node: name });
  }
}
