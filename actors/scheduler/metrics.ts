/**
 * Scheduler status as data and as Prometheus text: jobs per queue and status (pending, admitted,
 * running, evicting), and GPUs in use per tenant against the GPUs of ready nodes. Pure functions of
 * the core state, so the same figures feed `/metrics`, the CLI and the tree view.
 */
import type { JobStatus, SchedulerState } from './core/index.js';

/** One queue's job counts and usage. */
export interface QueueStatus {
  readonly queue: string;
  readonly tenant: string;
  readonly cohort?: string;
  readonly jobs: Readonly<Partial<Record<JobStatus, number>>>;
  readonly usage: Readonly<Record<string, number>>;
  readonly nominal: Readonly<Record<string, number>>;
}

/** The scheduler's figures at one moment. */
export interface SchedulerStatus {
  readonly queues: readonly QueueStatus[];
  /** GPUs held per tenant per product. */
  readonly tenantGpus: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** GPUs on ready nodes per product. */
  readonly gpuCapacity: Readonly<Record<string, number>>;
}

/** Counts active jobs per queue and status (finished jobs are counted too, by final status). */
export function schedulerStatus(state: SchedulerState): SchedulerStatus {
  const counts = new Map<string, Partial<Record<JobStatus, number>>>();
  for (const job of state.jobs.values()) {
    const queue = counts.get(job.spec.queue) ?? {};
    queue[job.status] = (queue[job.status] ?? 0) + 1;
    counts.set(job.spec.queue, queue);
  }
  const queues = [...state.quota.queues.values()].map(({ spec }) => ({
    queue: spec.name, tenant: spec.tenant, ...(spec.cohort === undefined ? {} : { cohort: spec.cohort }),
    jobs: counts.get(spec.name) ?? {}, usage: state.quota.usageOf(spec.name), nominal: spec.nominal,
  }));
  const tenantGpus: Record<string, Record<string, number>> = {};
  for (const [tenant, usage] of state.quota.tenantUsage) {
    tenantGpus[tenant] = Object.fromEntries([...usage].filter(([resource]) => resource.startsWith('gpu/')).map(([resource, amount]) => [resource.slice(4), amount]));
  }
  const gpuCapacity: Record<string, number> = {};
  for (const node of state.inventory.nodes.values()) {
    if (node.ready && node.spec.gpuCount > 0) gpuCapacity[node.spec.gpuType] = (gpuCapacity[node.spec.gpuType] ?? 0) + node.spec.gpuCount;
  }
  return { queues, tenantGpus, gpuCapacity };
}

const labelValue = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Prometheus text exposition of the status. */
export function schedulerMetricsText(status: SchedulerStatus): string {
  const lines = [
    '# HELP troupe_scheduler_jobs Jobs per queue and status.', '# TYPE troupe_scheduler_jobs gauge',
  ];
  for (const queue of status.queues) {
    for (const phase of ['Pending', 'Admitted', 'Running', 'Evicting'] as const) {
      lines.push(`troupe_scheduler_jobs{queue="${labelValue(queue.queue)}",tenant="${labelValue(queue.tenant)}",status="${phase}"} ${queue.jobs[phase] ?? 0}`);
    }
  }
  lines.push('# HELP troupe_scheduler_tenant_gpus GPUs held by a tenant\'s admitted jobs, per product.', '# TYPE troupe_scheduler_tenant_gpus gauge');
  lines.push('# HELP troupe_scheduler_tenant_gpu_utilisation Fraction of the ready GPUs of a product held by a tenant.', '# TYPE troupe_scheduler_tenant_gpu_utilisation gauge');
  for (const [tenant, gpus] of Object.entries(status.tenantGpus)) {
    for (const [product, amount] of Object.entries(gpus)) {
      const labels = `tenant="${labelValue(tenant)}",gpu="${labelValue(product)}"`;
      const capacity = status.gpuCapacity[product] ?? 0;
      lines.push(`troupe_scheduler_tenant_gpus{${labels}} ${amount}`);
      lines.push(`troupe_scheduler_tenant_gpu_utilisation{${labels}} ${capacity === 0 ? 0 : Number((amount / capacity).toFixed(6))}`);
    }
  }
  lines.push('# HELP troupe_scheduler_gpu_capacity GPUs on ready nodes, per product.', '# TYPE troupe_scheduler_gpu_capacity gauge');
  for (const [product, amount] of Object.entries(status.gpuCapacity)) lines.push(`troupe_scheduler_gpu_capacity{gpu="${labelValue(product)}"} ${amount}`);
  return `${lines.join('\n')}\n`;
}
