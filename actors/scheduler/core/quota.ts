/**
 * Queues, quotas, cohort borrowing and Dominant Resource Fairness.
 *
 * Quotas follow Kueue's ClusterQueue and cohort model: a queue admits a job while its usage stays
 * within its nominal quota, or above it by borrowing, which needs the cohort's total usage to stay
 * within the cohort's total nominal quota and the queue's excess to stay within its borrowing limit.
 * A resource a queue does not list is not limited by it. Borrowed quota is reclaimed by preemption
 * when a lender needs it back (see `preemption.ts`).
 *
 * DRF (Ghodsi et al., "Dominant Resource Fairness", NSDI 2011, section 4): a tenant's dominant share
 * is the largest, over resources, of its usage divided by the cluster's capacity; the scheduler
 * offers the next admission to the tenant with the smallest dominant share (divided by its weight).
 *
 * Invariants: usage is never negative; a queue's usage never exceeds nominal + borrowing limit; a
 * cohort's usage of a resource never exceeds the sum of its queues' nominal quotas.
 */
import { assert } from '../../../runtime/index.js';
import type { QueueSpec, ResourceList, TenantSpec } from './types.js';

interface QueueBook {
  readonly spec: QueueSpec;
  readonly usage: Map<string, number>;
}

interface CohortBook {
  readonly queues: string[];
  readonly nominal: Map<string, number>;
  readonly usage: Map<string, number>;
}

/** Why a request can never be admitted by a queue, whatever else runs. */
export type QuotaVerdict = { ok: true } | { ok: false; resource: string; limit: number };

/** Usage per queue, cohort and tenant. */
export class QuotaBook {
  readonly queues = new Map<string, QueueBook>();
  private readonly cohorts = new Map<string, CohortBook>();
  readonly tenantUsage = new Map<string, Map<string, number>>();
  readonly tenantWeights = new Map<string, number>();

  constructor(queues: readonly QueueSpec[], tenants: readonly TenantSpec[]) {
    for (const tenant of tenants) this.tenantWeights.set(tenant.name, tenant.weight);
    for (const queue of queues) {
      this.queues.set(queue.name, { spec: queue, usage: new Map() });
      if (!this.tenantUsage.has(queue.tenant)) this.tenantUsage.set(queue.tenant, new Map());
      if (queue.cohort === undefined) continue;
      let cohort = this.cohorts.get(queue.cohort);
      if (cohort === undefined) {
        cohort = { queues: [], nominal: new Map(), usage: new Map() };
        this.cohorts.set(queue.cohort, cohort);
      }
      cohort.queues.push(queue.name);
      for (const [resource, amount] of Object.entries(queue.nominal)) cohort.nominal.set(resource, (cohort.nominal.get(resource) ?? 0) + amount);
    }
  }

  /** The most a queue could ever hold of each resource it limits: whether `request` is beyond it. */
  everFits(queueName: string, request: ResourceList): QuotaVerdict {
    const queue = this.book(queueName);
    for (const [resource, amount] of Object.entries(request)) {
      const nominal = queue.spec.nominal[resource];
      if (nominal === undefined || amount === 0) continue;
      let limit = nominal;
      if (queue.spec.cohort !== undefined) {
        const cohortNominal = this.cohorts.get(queue.spec.cohort)!.nominal.get(resource) ?? 0;
        limit = Math.min(cohortNominal, nominal + (queue.spec.borrowingLimit?.[resource] ?? Number.POSITIVE_INFINITY));
      }
      if (amount > limit) return { ok: false, resource, limit };
    }
    return { ok: true };
  }

  /** Whether the queue can admit `request` now (within nominal, or by borrowing idle cohort quota). */
  fits(queueName: string, request: ResourceList): boolean {
    const queue = this.book(queueName);
    const cohort = queue.spec.cohort === undefined ? undefined : this.cohorts.get(queue.spec.cohort)!;
    for (const [resource, amount] of Object.entries(request)) {
      const nominal = queue.spec.nominal[resource];
      if (nominal === undefined || amount === 0) continue;
      const after = (queue.usage.get(resource) ?? 0) + amount;
      if (cohort === undefined) {
        if (after > nominal) return false;
        continue;
      }
      if (after > nominal + (queue.spec.borrowingLimit?.[resource] ?? Number.POSITIVE_INFINITY)) return false;
      if ((cohort.usage.get(resource) ?? 0) + amount > (cohort.nominal.get(resource) ?? 0)) return false;
    }
    return true;
  }

  /** Whether the queue would stay within its own nominal quota after admitting `request` (what entitles it to reclaim). */
  withinNominal(queueName: string, request: ResourceList): boolean {
    const queue = this.book(queueName);
    for (const [resource, amount] of Object.entries(request)) {
      const nominal = queue.spec.nominal[resource];
      if (nominal !== undefined && (queue.usage.get(resource) ?? 0) + amount > nominal) return false;
    }
    return true;
  }

  /** Whether the queue uses more than its nominal quota of some resource (of those in `only`, when given). */
  borrowing(queueName: string, only?: ResourceList): boolean {
    const queue = this.book(queueName);
    for (const [resource, used] of queue.usage) {
      if (only !== undefined && !(only[resource]! > 0)) continue;
      const nominal = queue.spec.nominal[resource];
      if (nominal !== undefined && used > nominal) return true;
    }
    return false;
  }

  /** Counts an admitted job's request (sign +1) or gives it back (sign -1). */
  charge(queueName: string, request: ResourceList, sign: 1 | -1): void {
    const queue = this.book(queueName);
    const cohort = queue.spec.cohort === undefined ? undefined : this.cohorts.get(queue.spec.cohort)!;
    const tenant = this.tenantUsage.get(queue.spec.tenant)!;
    for (const [resource, amount] of Object.entries(request)) {
      if (amount === 0) continue;
      add(queue.usage, resource, sign * amount);
      add(tenant, resource, sign * amount);
      if (cohort !== undefined && queue.spec.nominal[resource] !== undefined) add(cohort.usage, resource, sign * amount);
    }
  }

  /** A tenant's dominant share of `capacity`, divided by its weight. */
  dominantShare(tenantName: string, capacity: ReadonlyMap<string, number>): number {
    const usage = this.tenantUsage.get(tenantName);
    if (usage === undefined) return 0;
    let share = 0;
    for (const [resource, used] of usage) {
      const total = capacity.get(resource) ?? 0;
      if (total > 0 && used > 0) share = Math.max(share, used / total);
    }
    return share / (this.tenantWeights.get(tenantName) ?? 1);
  }

  /** A queue's usage as a plain list (for status and metrics). */
  usageOf(queueName: string): Record<string, number> {
    return Object.fromEntries(this.book(queueName).usage);
  }

  /** Checks the quota invariants; the simulation calls it after every step. */
  checkInvariants(): void {
    for (const [name, queue] of this.queues) {
      for (const [resource, used] of queue.usage) {
        assert(used >= 0, 'queue usage went negative', { queue: name, resource, used });
        const nominal = queue.spec.nominal[resource];
        if (nominal === undefined) continue;
        const limit = queue.spec.cohort === undefined ? nominal : nominal + (queue.spec.borrowingLimit?.[resource] ?? Number.POSITIVE_INFINITY);
        assert(used <= limit, 'a queue exceeds its nominal quota plus its borrowing limit', { queue: name, resource, used, limit });
      }
    }
    for (const [name, cohort] of this.cohorts) {
      for (const [resource, used] of cohort.usage) {
        assert(used <= (cohort.nominal.get(resource) ?? 0), 'a cohort exceeds its total nominal quota', { cohort: name, resource, used });
      }
    }
  }

  private book(queueName: string): QueueBook {
    const queue = this.queues.get(queueName);
    assert(queue !== undefined, 'unknown queue', { queue: queueName });
    return queue;
  }
}

function add(map: Map<string, number>, key: string, amount: number): void {
  const value = (map.get(key) ?? 0) + amount;
  if (value === 0) map.delete(key);
  else map.set(key, value);
}
