/** Scheduler figures: jobs per queue and status, GPUs per tenant, and their Prometheus text. */
import { describe, expect, it } from 'vitest';
import { schedulerMetricsText, schedulerStatus } from '../../../actors/scheduler/index.js';
import { Driver, gang, node } from './harness.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';

describe('scheduler metrics', () => {
  it('counts pending, admitted and running jobs per queue and GPU use per tenant', () => {
    const driver = new Driver({ queues: [{ name: 'qa', tenant: 'a', nominal: {} }, { name: 'qb', tenant: 'b', nominal: {} }], nodes: [node('n1', H100, 8), node('n2', H100, 8)] });
    driver.submit('a1', gang('a', 'qa', 1, 8, [H100]));
    driver.submit('a2', gang('a', 'qa', 2, 8, [H100]));
    driver.submit('b1', gang('b', 'qb', 1, 4, [H100]));
    driver.tick();
    driver.run('job-1');
    const status = schedulerStatus(driver.state);
    expect(status.queues.map((queue) => [queue.queue, queue.jobs])).toEqual([['qa', { Running: 1, Pending: 1 }], ['qb', { Admitted: 1 }]]);
    expect(status.tenantGpus).toEqual({ a: { [H100]: 8 }, b: { [H100]: 4 } });
    const text = schedulerMetricsText(status);
    expect(text).toContain(`troupe_scheduler_jobs{queue="qa",tenant="a",status="Pending"} 1`);
    expect(text).toContain(`troupe_scheduler_jobs{queue="qb",tenant="b",status="Admitted"} 1`);
    expect(text).toContain(`troupe_scheduler_tenant_gpu_utilisation{tenant="a",gpu="${H100}"} 0.5`);
    expect(text).toContain(`troupe_scheduler_gpu_capacity{gpu="${H100}"} 16`);
  });
});
