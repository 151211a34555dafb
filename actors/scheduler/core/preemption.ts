/**
 * Preemption and reclaim, after Kueue's rules:
 *  - within a queue, a job may evict strictly lower-priority jobs of the same queue;
 *  - across a cohort, a job whose queue stays within its nominal quota may evict jobs of queues that
 *    borrow (whatever their priority): lent quota is reclaimed.
 * No other job is a candidate, so one tenant's priorities never evict another tenant's jobs that run
 * within their own quota.
 *
 * Victims are removed tentatively, borrowers first, then lowest priority, then most recently
 * admitted, until the preemptor's quota and gang placement both fit; victims that turn out not to be
 * needed are put back (newest removal first). If even all candidates do not make room, nothing is
 * evicted.
 *
 * Why this cannot loop: a victim records its preemptor and is not readmitted while that job waits,
 * and a job never evicts the job that evicted it; priority preemption needs a strictly higher
 * priority, and reclaim needs the victim's queue to borrow while the preemptor's stays within
 * nominal, so neither relation can hold both ways for one pair of jobs at once.
 */
import { jobRequest } from './spec.js';
import { releaseJob, type SchedulerState } from './state.js';
import type { JobRecord } from './types.js';

/** Kueue-style candidate limit: how many bound jobs a single preemption search considers. */
const candidatesMax = 512;

/** The victims whose eviction lets `job` run on `gpuType`, and whether each is a reclaim; undefined if none would. */
export function findVictims(state: SchedulerState, job: JobRecord, gpuType: string): { victim: JobRecord; reclaim: boolean }[] | undefined {
  const request = jobRequest(job.spec, gpuType);
  const queue = state.quota.queues.get(job.spec.queue)!.spec;
  // Reclaim answers quota contention only: the job's queue would stay within its nominal quota, yet
  // the cohort has no room because others borrow. Node capacity alone is contended by priority.
  const reclaimAllowed = queue.cohort !== undefined && state.quota.withinNominal(job.spec.queue, request) && !state.quota.fits(job.spec.queue, request);
  const candidates: { victim: JobRecord; reclaim: boolean }[] = [];
  for (const otherId of state.active) {
    const other = state.jobs.get(otherId)!;
    if (other.status !== 'Admitted' && other.status !== 'Running') continue;
    if (other.id === job.preemptedBy) continue;
    if (other.spec.queue === job.spec.queue) {
      if (other.spec.priority < job.spec.priority) candidates.push({ victim: other, reclaim: false });
      continue;
    }
    const otherQueue = state.quota.queues.get(other.spec.queue)!.spec;
    if (reclaimAllowed && otherQueue.cohort === queue.cohort && state.quota.borrowing(other.spec.queue, request)) candidates.push({ victim: other, reclaim: true });
  }
  if (candidates.length === 0) return undefined;
  candidates.sort((a, b) => Number(b.reclaim) - Number(a.reclaim) || a.victim.spec.priority - b.victim.spec.priority
    || (b.victim.admittedAtMs ?? 0) - (a.victim.admittedAtMs ?? 0) || b.victim.seq - a.victim.seq);
  candidates.length = Math.min(candidates.length, candidatesMax);

  // One check with every candidate gone first: the common case, no victim set helps, costs one placement.
  for (const candidate of candidates) releaseJob(state, candidate.victim);
  const possible = fitsNow(state, job, gpuType);
  for (const candidate of candidates) restore(state, candidate.victim);
  if (!possible) return undefined;

  const removed: { victim: JobRecord; reclaim: boolean }[] = [];
  let fits = false;
  for (const candidate of candidates) {
    // A borrower stops being reclaimable once earlier removals brought its queue back within nominal.
    if (candidate.reclaim && !state.quota.borrowing(candidate.victim.spec.queue, request)) continue;
    releaseJob(state, candidate.victim);
    removed.push(candidate);
    if (fitsNow(state, job, gpuType)) {
      fits = true;
      break;
    }
  }
  if (fits) {
    // Put back, newest removal first (the last one made it fit, so it stays out), every victim not needed.
    for (let index = removed.length - 2; index >= 0; index -= 1) {
      const candidate = removed[index]!;
      restore(state, candidate.victim);
      if (fitsNow(state, job, gpuType)) removed.splice(index, 1);
      else releaseJob(state, candidate.victim);
    }
  }
  for (const candidate of removed) restore(state, candidate.victim);
  return fits ? removed : undefined;
}

function fitsNow(state: SchedulerState, job: JobRecord, gpuType: string): boolean {
  const request = jobRequest(job.spec, gpuType);
  if (!state.quota.fits(job.spec.queue, request)) return false;
  return state.inventory.placeGang(job.id, job.spec, gpuType) !== undefined;
}

function restore(state: SchedulerState, job: JobRecord): void {
  for (const placement of job.placements ?? []) state.inventory.allocate(job.id, placement);
  state.quota.charge(job.spec.queue, jobRequest(job.spec, job.gpuType ?? ''), 1);
}
