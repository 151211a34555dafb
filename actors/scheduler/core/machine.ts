/**
 * The scheduling core: `step(state, input) -> { effects, reply }`, pure and deterministic.
 *
 * Jobs are gangs: a scheduling pass (on `tick`) offers admission to pending jobs in order of
 * priority, then Dominant Resource Fairness across tenants (the tenant with the smallest dominant
 * share goes next), then submission order within a tenant. A job is admitted only when its queue's
 * quota allows it and every pod of it has a node (`placement.ts`); otherwise it may preempt
 * (`preemption.ts`) or waits. Admission emits one `bind` with all pods. A job that no node set
 * could ever hold, or that its queue's quota could never allow, is refused at once with a reason.
 *
 * Reconciliation: the executor reports pod phases and node health. A failed pod evicts the whole
 * gang (restart policy `gang`: requeue with backoff until `restartsMax`, then Failed
 * RESTARTS_EXHAUSTED; `never`: Failed POD_FAILED); a lost node evicts the gangs on it (requeued
 * without consuming a restart); a gang not fully Running within `startTimeoutMs` is evicted and
 * requeued. An evicting job keeps its resources until the executor reports its pods gone, so no
 * GPU is ever given to two pods.
 *
 * Durability: every changed job record is emitted as a `persist` effect before any action of the
 * same step; `recover` rebuilds the state from those records and re-issues the idempotent actions
 * (bind, deletePods) a crash may have cut off.
 */
import { assert } from '../../../runtime/index.js';
import { findVictims } from './preemption.js';
import { canonicalText, gpuChoices, jobRequest, resolveSpec, podCount } from './spec.js';
import { admit, backoffMs, capacityView, emptyState, evict, finish, Outbox, releaseJob, type SchedulerState } from './state.js';
import type { CancelReply, JobRecord, NodeSpec, PodPhase, SchedulerConfig, SchedulerInput, StepResult, SubmitReply } from './types.js';

const keyLengthMax = 256;

/** Applies one input. The state is changed in place; effects are returned in the order they must run. */
export function step(state: SchedulerState, input: SchedulerInput): StepResult {
  const out = new Outbox();
  let reply: SubmitReply | CancelReply | undefined;
  switch (input.type) {
    case 'submit': reply = submit(state, out, input.key, input.spec, input.nowMs); break;
    case 'cancel': reply = cancel(state, out, input.jobId, input.nowMs); break;
    case 'nodeUp': state.inventory.upsert(input.node); out.passWanted = true; break;
    case 'nodeDown': nodeLost(state, out, input.node, input.nowMs, false); break;
    case 'nodeRemoved': nodeLost(state, out, input.node, input.nowMs, true); break;
    case 'podPhase': podPhase(state, out, input.jobId, input.attempt, input.pod, input.phase, input.nowMs, input.message); break;
    case 'podsGone': podsGone(state, out, input.jobId, input.attempt, input.nowMs, input.finalPhases); break;
    case 'tick': tick(state, out, input.nowMs); break;
    default: assert(false, 'unknown scheduler input', { input });
  }
  return reply === undefined ? { effects: out.effects() } : { effects: out.effects(), reply };
}

function submit(state: SchedulerState, out: Outbox, key: string, input: unknown, nowMs: number): SubmitReply {
  if (typeof key !== 'string' || key.length === 0 || key.length > keyLengthMax) return { ok: false, code: 'INVALID_SPEC', message: `the idempotency key must be 1 to ${keyLengthMax} characters` };
  const resolved = resolveSpec(input, state.config);
  if (!resolved.ok) return { ok: false, code: 'INVALID_SPEC', message: resolved.message };
  const specText = canonicalText(resolved.spec);
  const existingId = state.keys.get(key);
  if (existingId !== undefined) {
    const existing = state.jobs.get(existingId)!;
    if (existing.specText !== specText) return { ok: false, code: 'IDEMPOTENCY_CONFLICT', jobId: existingId, message: `key ${key} was used for job ${existingId} with a different spec` };
    return { ok: true, jobId: existingId, existing: true, status: existing.status };
  }
  if (state.jobs.size >= state.config.jobsMax) return { ok: false, code: 'TOO_MANY_JOBS', message: `the scheduler holds ${state.config.jobsMax} jobs` };
  const seq = state.nextSeq;
  state.nextSeq += 1;
  const job: JobRecord = { id: `job-${seq}`, key, seq, spec: resolved.spec, specText, status: 'Pending', attempt: 0, restarts: 0, submittedAtMs: nowMs, notBeforeMs: nowMs };
  state.jobs.set(job.id, job);
  state.keys.set(key, job.id);
  const refusal = refusalOf(state, job);
  if (refusal !== undefined) finish(state, out, job, 'Refused', nowMs, refusal);
  else {
    state.active.add(job.id);
    state.pending.add(job.id);
    out.touch(job);
    out.passWanted = true;
  }
  return { ok: true, jobId: job.id, existing: false, status: job.status };
}

/** Why a job can never run here: unknown queue, another tenant's queue, a quota or a cluster too small for it. */
function refusalOf(state: SchedulerState, job: JobRecord): { code: JobRecord['reason'] & string; message: string } | undefined {
  const queue = state.quota.queues.get(job.spec.queue);
  if (queue === undefined) return { code: 'UNKNOWN_QUEUE', message: `no queue ${job.spec.queue}` };
  if (queue.spec.tenant !== job.spec.tenant) return { code: 'QUEUE_TENANT_MISMATCH', message: `queue ${job.spec.queue} belongs to tenant ${queue.spec.tenant}` };
  const view = capacityView(state);
  let quotaMessage: string | undefined;
  for (const gpuType of gpuChoices(job.spec)) {
    const verdict = state.quota.everFits(job.spec.queue, jobRequest(job.spec, gpuType));
    if (!verdict.ok) {
      quotaMessage ??= `the job needs more ${verdict.resource} than queue ${job.spec.queue} can ever hold (${verdict.limit})`;
      continue;
    }
    if (view.placeGang(job.id, job.spec, gpuType) !== undefined) return undefined;
  }
  if (quotaMessage !== undefined) return { code: 'QUOTA_NEVER_SUFFICIENT', message: quotaMessage };
  const gpus = gpuChoices(job.spec).filter((type) => type !== '').join(' or ');
  const where = job.spec.topology === 'sameNode' ? ' on one node' : job.spec.topology === 'sameRack' ? ' within one rack' : '';
  return { code: 'UNSCHEDULABLE', message: `no set of the cluster's ${state.inventory.nodes.size} nodes can hold the gang's ${podCount(job.spec)} pods${gpus === '' ? '' : ` on ${gpus}`}${where}` };
}

function cancel(state: SchedulerState, out: Outbox, jobId: string, nowMs: number): CancelReply {
  const job = state.jobs.get(jobId);
  if (job === undefined) return { ok: false, code: 'NO_SUCH_JOB', message: `no job ${jobId}` };
  if (job.status === 'Pending') finish(state, out, job, 'Cancelled', nowMs);
  else if (job.status === 'Admitted' || job.status === 'Running') evict(state, out, job, { reason: 'CANCELLED', then: 'cancel', countsRestart: false });
  else if (job.status === 'Evicting' && job.eviction!.then !== 'cancel') {
    job.eviction = { ...job.eviction!, then: 'cancel' };
    out.touch(job);
  }
  return { ok: true, status: job.status };
}

function nodeLost(state: SchedulerState, out: Outbox, name: string, nowMs: number, removed: boolean): void {
  const node = state.inventory.nodes.get(name);
  if (node === undefined) return;
  const jobIds = new Set([...node.pods].map((key) => key.slice(0, key.indexOf('/'))));
  for (const jobId of jobIds) {
    const job = state.jobs.get(jobId)!;
    if (job.status === 'Admitted' || job.status === 'Running') evict(state, out, job, { reason: 'NODE_LOST', then: 'requeue', countsRestart: false });
  }
  if (!removed) {
    state.inventory.setNotReady(name);
    return;
  }
  state.inventory.remove(name);
  // With the node gone, some waiting jobs may no longer fit on any set of nodes that is left.
  for (const jobId of [...state.pending]) {
    const job = state.jobs.get(jobId)!;
    const refusal = refusalOf(state, job);
    if (refusal !== undefined) finish(state, out, job, 'Refused', nowMs, refusal);
  }
  out.passWanted = true;
}

const phaseRank: Record<PodPhase, number> = { Pending: 0, Running: 1, Succeeded: 2, Failed: 2 };

function podPhase(state: SchedulerState, out: Outbox, jobId: string, attempt: number, pod: string, phase: PodPhase, nowMs: number, message?: string): void {
  const job = state.jobs.get(jobId);
  if (job === undefined || job.attempt !== attempt || (job.status !== 'Admitted' && job.status !== 'Running' && job.status !== 'Evicting')) return;
  const phases = job.phases!;
  const previous = phases[pod];
  if (previous === undefined || previous === phase || phaseRank[phase] < phaseRank[previous] || phaseRank[previous] === 2) return;
  phases[pod] = phase;
  out.touch(job);
  if (job.status === 'Evicting') {
    // A gang that completed while it was being evicted (a node lost after its pods succeeded, seen
    // by a restarted control plane) is done: running it again would run it twice.
    if (Object.values(phases).every((value) => value === 'Succeeded')) {
      releaseJob(state, job);
      for (const [preemptor, victims] of state.victimsOf) if (victims.delete(job.id) && victims.size === 0) state.victimsOf.delete(preemptor);
      finish(state, out, job, 'Succeeded', nowMs);
      out.passWanted = true;
    }
    return;
  }
  if (phase === 'Failed') {
    job.message = `pod ${pod} failed${message === undefined ? '' : `: ${message.slice(0, 200)}`}`;
    evict(state, out, job, job.spec.restartPolicy === 'gang'
      ? { reason: 'POD_FAILED', then: 'requeue', countsRestart: true }
      : { reason: 'POD_FAILED', then: 'fail', countsRestart: false });
    return;
  }
  let running = 0;
  let succeeded = 0;
  for (const value of Object.values(phases)) {
    if (value === 'Running') running += 1;
    else if (value === 'Succeeded') succeeded += 1;
  }
  const pods = job.placements!.length;
  if (succeeded === pods) {
    releaseJob(state, job);
    finish(state, out, job, 'Succeeded', nowMs);
    // The finished pods are cleaned up; their resources are already free.
    out.actions.push({ type: 'deletePods', jobId: job.id, attempt: job.attempt, reason: 'COMPLETED' });
    out.passWanted = true;
  } else if (job.status === 'Admitted' && running + succeeded === pods) {
    job.status = 'Running';
    state.starting.delete(job.id);
  }
}

function podsGone(state: SchedulerState, out: Outbox, jobId: string, attempt: number, nowMs: number, finalPhases?: Readonly<Record<string, PodPhase>>): void {
  const job = state.jobs.get(jobId);
  if (job === undefined || job.attempt !== attempt || job.status !== 'Evicting') return;
  const eviction = job.eviction!;
  const completed = finalPhases !== undefined && job.placements!.every((placement) => finalPhases[placement.pod] === 'Succeeded');
  releaseJob(state, job);
  out.passWanted = true;
  for (const [preemptor, victims] of state.victimsOf) {
    if (victims.delete(job.id) && victims.size === 0) state.victimsOf.delete(preemptor);
  }
  if (completed) {
    for (const placement of job.placements!) job.phases![placement.pod] = 'Succeeded';
    return finish(state, out, job, 'Succeeded', nowMs);
  }
  delete job.placements;
  delete job.phases;
  delete job.gpuType;
  if (eviction.then === 'cancel') return finish(state, out, job, 'Cancelled', nowMs);
  if (eviction.then === 'fail') return finish(state, out, job, 'Failed', nowMs, { code: 'POD_FAILED', message: job.message ?? 'a pod failed' });
  if (eviction.countsRestart) job.restarts += 1;
  if (job.restarts > job.spec.restartsMax) {
    return finish(state, out, job, 'Failed', nowMs, { code: 'RESTARTS_EXHAUSTED', message: `${job.restarts - 1} restarts used; last: ${eviction.reason}${job.message === undefined ? '' : ` (${job.message})`}` });
  }
  job.status = 'Pending';
  job.notBeforeMs = nowMs + (eviction.countsRestart ? backoffMs(state.config, job.restarts) : 0);
  delete job.eviction;
  state.pending.delete(job.id);
  state.pending.add(job.id);
  out.touch(job);
}

function tick(state: SchedulerState, out: Outbox, nowMs: number): void {
  for (const jobId of [...state.starting]) {
    const job = state.jobs.get(jobId)!;
    if (job.admittedAtMs! + state.config.startTimeoutMs <= nowMs) {
      job.message = `the gang was not running ${state.config.startTimeoutMs} ms after admission`;
      evict(state, out, job, { reason: 'START_TIMEOUT', then: 'requeue', countsRestart: true });
    }
  }
  schedulingPass(state, out, nowMs);
}

/** Cluster capacity per resource over ready nodes: the denominators of dominant shares. */
function clusterCapacity(state: SchedulerState): Map<string, number> {
  const capacity = new Map<string, number>();
  const add = (resource: string, amount: number): void => { capacity.set(resource, (capacity.get(resource) ?? 0) + amount); };
  for (const node of state.inventory.nodes.values()) {
    if (!node.ready) continue;
    add('cpu', node.spec.cpuMilli);
    add('memory', node.spec.memoryMiB);
    if (node.spec.gpuCount > 0) add(`gpu/${node.spec.gpuType}`, node.spec.gpuCount);
  }
  return capacity;
}

/**
 * One pass, in two sweeps (Kueue admits workloads that need no borrowing before those that do):
 * the first admits only jobs that stay within their queue's nominal quota and may preempt; the
 * second lets the rest borrow idle cohort quota, except in a cohort where a job entitled to its
 * nominal quota is still waiting for quota: a borrower admitted there would only be reclaimed at
 * once, and two queues borrowing different resources would reclaim from each other forever.
 */
function schedulingPass(state: SchedulerState, out: Outbox, nowMs: number): void {
  // Candidates grouped by (nominated first, then priority); within a group, one FIFO per tenant.
  const groups = new Map<string, { nominated: boolean; priority: number; tenants: Map<string, JobRecord[]> }>();
  for (const jobId of state.pending) {
    const job = state.jobs.get(jobId)!;
    if (job.notBeforeMs > nowMs || blocked(state, job)) continue;
    const nominated = job.nominated === true;
    const groupKey = `${nominated ? 0 : 1}/${-job.spec.priority}`;
    let group = groups.get(groupKey);
    if (group === undefined) {
      group = { nominated, priority: job.spec.priority, tenants: new Map() };
      groups.set(groupKey, group);
    }
    let fifo = group.tenants.get(job.spec.tenant);
    if (fifo === undefined) {
      fifo = [];
      group.tenants.set(job.spec.tenant, fifo);
    }
    fifo.push(job);
  }
  const ordered = [...groups.values()].sort((a, b) => Number(b.nominated) - Number(a.nominated) || b.priority - a.priority);
  const capacity = clusterCapacity(state);
  const budget = { attempts: 0 };
  const starvedCohorts = new Set<string>();
  const failedShapes = new Set<string>();
  for (const sweep of ['nominal', 'borrow'] as const) {
    for (const group of ordered) {
      if (!sweepGroup(state, out, group.tenants, capacity, budget, { sweep, starvedCohorts, failedShapes, nowMs })) return;
    }
  }
}

/** What placement depends on: within one pass nothing is freed, so a shape that found no nodes finds none later in the pass. */
function shapeOf(job: JobRecord, gpuType: string): string {
  let shape = `${job.spec.topology}|${gpuType}`;
  for (const podSet of job.spec.podSets) shape += `|${podSet.count}x${podSet.cpuMilli}/${podSet.memoryMiB}/${podSet.gpu?.count ?? 0}`;
  return shape;
}

interface PassOptions {
  readonly sweep: 'nominal' | 'borrow';
  readonly starvedCohorts: Set<string>;
  /** Shapes (see `shapeOf`) that found no nodes, and `preempt|queue|priority|shape` keys that found no victims, this pass. */
  readonly failedShapes: Set<string>;
  readonly nowMs: number;
}

/** Offers admission within one priority group, DRF order across tenants; false once the pass's attempt budget is spent. */
function sweepGroup(
  state: SchedulerState, out: Outbox, tenants: Map<string, JobRecord[]>, capacity: Map<string, number>, budget: { attempts: number },
  options: PassOptions,
): boolean {
  const cursors = new Map([...tenants.keys()].map((tenant) => [tenant, 0]));
  for (;;) {
    // The tenant with the smallest dominant share (ties by name) offers its oldest waiting job.
    let chosen: string | undefined;
    let chosenShare = Number.POSITIVE_INFINITY;
    for (const [tenant, cursor] of cursors) {
      if (cursor >= tenants.get(tenant)!.length) continue;
      const share = state.quota.dominantShare(tenant, capacity);
      if (share < chosenShare || (share === chosenShare && tenant < chosen!)) {
        chosen = tenant;
        chosenShare = share;
      }
    }
    if (chosen === undefined) return true;
    const cursor = cursors.get(chosen)!;
    cursors.set(chosen, cursor + 1);
    const job = tenants.get(chosen)![cursor]!;
    if (job.status !== 'Pending') continue;
    if (budget.attempts >= state.config.passAttemptsMax) {
      out.passWanted = true;
      return false;
    }
    budget.attempts += 1;
    tryAdmit(state, out, job, options);
  }
}

/**
 * A victim waits while the job that evicted it is still waiting for the room it made: otherwise the
 * victim could take that room back and the two would trade places forever. The block ends once the
 * preemptor is admitted (its attempt number moves on), so blocks never form a cycle.
 */
function blocked(state: SchedulerState, job: JobRecord): boolean {
  if (job.preemptedBy === undefined) return false;
  const preemptor = state.jobs.get(job.preemptedBy);
  return preemptor !== undefined && preemptor.status === 'Pending' && preemptor.attempt === job.preemptorAttempt;
}

function tryAdmit(state: SchedulerState, out: Outbox, job: JobRecord, options: PassOptions): void {
  const cohort = state.quota.queues.get(job.spec.queue)!.spec.cohort;
  for (const gpuType of gpuChoices(job.spec)) {
    const request = jobRequest(job.spec, gpuType);
    const withinNominal = state.quota.withinNominal(job.spec.queue, request);
    if (options.sweep === 'nominal' && !withinNominal) continue;
    if (options.sweep === 'borrow' && (withinNominal || (cohort !== undefined && options.starvedCohorts.has(cohort)))) continue;
    if (!state.quota.fits(job.spec.queue, request)) {
      if (withinNominal && cohort !== undefined) options.starvedCohorts.add(cohort);
      continue;
    }
    if (gpuType !== '' && state.inventory.freeGpusOf(gpuType) < request[`gpu/${gpuType}`]!) continue;
    const shape = shapeOf(job, gpuType);
    if (options.failedShapes.has(shape)) continue;
    const placements = state.inventory.placeGang(job.id, job.spec, gpuType);
    if (placements !== undefined) return admit(state, out, job, gpuType, placements, options.nowMs);
    options.failedShapes.add(shape);
  }
  // Preemption is tried once per pass, in the first sweep; a job whose earlier victims are still
  // leaving waits for them rather than evicting more.
  if (options.sweep !== 'nominal' || state.victimsOf.has(job.id)) return;
  for (const gpuType of gpuChoices(job.spec)) {
    // Evictions free nothing within the pass, so a search that found no victims finds none again.
    const request = jobRequest(job.spec, gpuType);
    const searchKey = `preempt|${job.spec.queue}|${job.spec.priority}|${job.preemptedBy ?? ''}|${state.quota.fits(job.spec.queue, request)}|${shapeOf(job, gpuType)}`;
    if (options.failedShapes.has(searchKey)) continue;
    const victims = findVictims(state, job, gpuType);
    if (victims === undefined) {
      options.failedShapes.add(searchKey);
      continue;
    }
    const set = new Set<string>();
    for (const { victim, reclaim } of victims) {
      victim.preemptedBy = job.id;
      victim.preemptorAttempt = job.attempt;
      victim.message = `${reclaim ? 'reclaimed' : 'preempted'} for ${job.id}`;
      evict(state, out, victim, { reason: reclaim ? 'RECLAIMED' : 'PREEMPTED', then: 'requeue', countsRestart: false });
      set.add(victim.id);
    }
    state.victimsOf.set(job.id, set);
    job.nominated = true;
    out.touch(job);
    return;
  }
}

/** When the core next needs a tick without any other input: the earliest backoff end or start deadline. */
export function nextWakeMs(state: SchedulerState): number | undefined {
  let wake: number | undefined;
  for (const jobId of state.pending) {
    const at = state.jobs.get(jobId)!.notBeforeMs;
    if (wake === undefined || at < wake) wake = at;
  }
  for (const jobId of state.starting) {
    const at = state.jobs.get(jobId)!.admittedAtMs! + state.config.startTimeoutMs;
    if (wake === undefined || at < wake) wake = at;
  }
  return wake;
}

/** A node as the executor reports it on recovery. */
export interface ObservedNode {
  readonly spec: NodeSpec;
  readonly ready: boolean;
}

/**
 * Rebuilds the core from persisted job records and the executor's nodes (a restarted or newly
 * elected control plane). Bound jobs get their allocations back and their bind re-issued (the
 * executor creates only missing pods, completing a gang a crash cut short); evicting jobs get their
 * delete re-issued. A bound job on a node that is gone is evicted. The executor then resends every
 * pod's phase, which the core applies idempotently.
 */
export function recover(config: SchedulerConfig, records: Iterable<JobRecord>, nodes: Iterable<ObservedNode>): { state: SchedulerState; effects: StepResult['effects'] } {
  const state = emptyState(config);
  const out = new Outbox();
  for (const node of nodes) {
    state.inventory.upsert(node.spec);
    if (!node.ready) state.inventory.setNotReady(node.spec.name);
  }
  const sorted = [...records].sort((a, b) => a.seq - b.seq);
  for (const job of sorted) {
    state.jobs.set(job.id, job);
    state.keys.set(job.key, job.id);
    state.nextSeq = Math.max(state.nextSeq, job.seq + 1);
    const final = job.status === 'Succeeded' || job.status === 'Failed' || job.status === 'Refused' || job.status === 'Cancelled';
    if (final) state.finished.push(job.id);
    else state.active.add(job.id);
    if (job.status === 'Pending') state.pending.add(job.id);
    else if (!final) {
      for (const placement of job.placements!) state.inventory.allocate(job.id, placement);
      state.quota.charge(job.spec.queue, jobRequest(job.spec, job.gpuType ?? ''), 1);
      if (job.status === 'Evicting') {
        out.actions.push({ type: 'deletePods', jobId: job.id, attempt: job.attempt, reason: job.eviction!.reason });
        if (job.preemptedBy !== undefined) {
          const set = state.victimsOf.get(job.preemptedBy) ?? new Set<string>();
          set.add(job.id);
          state.victimsOf.set(job.preemptedBy, set);
        }
        continue;
      }
      if (job.status === 'Admitted') state.starting.add(job.id);
      const lost = job.placements!.some((placement) => state.inventory.nodes.get(placement.node)?.ready !== true);
      if (lost) evict(state, out, job, { reason: 'NODE_LOST', then: 'requeue', countsRestart: false });
      else out.actions.push({ type: 'bind', jobId: job.id, attempt: job.attempt, spec: job.spec, placements: job.placements! });
    }
  }
  state.finished.sort((a, b) => (state.jobs.get(a)!.finishedAtMs ?? 0) - (state.jobs.get(b)!.finishedAtMs ?? 0));
  out.passWanted = true;
  return { state, effects: out.effects() };
}
