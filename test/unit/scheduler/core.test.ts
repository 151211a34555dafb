/**
 * Scenario tables for the pure scheduling core: gangs that fit, that never fit, that fit after
 * preemption; GPU type matching and bin-packing; quotas, cohort borrowing and reclaim; DRF shares;
 * idempotent submission; reconciliation of pod failures, node loss, start timeouts and restarts.
 */
import { describe, expect, it } from 'vitest';
import type { JobSpecInput } from '../../../actors/scheduler/index.js';
import { Driver, gang, jobIdOf, node } from './harness.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const A100 = 'NVIDIA-A100-SXM4-40GB';
const open = (name: string, tenant: string, extra: object = {}) => ({ name, tenant, nominal: {}, ...extra });

describe('gang admission', () => {
  it('admits a launcher plus 2 whole-node workers in one bind, each worker on its own node', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8), node('n2', H100, 8), node('cpu1', '', 0)] });
    const spec: JobSpecInput = {
      tenant: 't', queue: 'q',
      podSets: [{ name: 'launcher', count: 1, cpuMilli: 500, memoryMiB: 512 }, { name: 'worker', count: 2, cpuMilli: 8_000, memoryMiB: 65_536, gpu: { types: [H100], count: 8 } }],
    };
    const id = jobIdOf(driver.submit('k1', spec));
    expect(driver.binds()).toHaveLength(0);
    driver.tick();
    const [bind] = driver.binds(id);
    expect(bind!.placements.map((placement) => [placement.pod, placement.node, placement.gpuIndices.length])).toEqual([
      ['worker-0', 'n1', 8], ['worker-1', 'n2', 8], ['launcher-0', 'cpu1', 0],
    ]);
    expect(driver.statusOf(id)).toBe('Admitted');
    driver.run(id);
    expect(driver.statusOf(id)).toBe('Running');
    driver.succeed(id);
    expect(driver.statusOf(id)).toBe('Succeeded');
    expect(driver.state.inventory.nodes.get('n1')!.freeGpus).toBe(8);
  });

  it.each([
    ['more GPUs than the cluster has', gang('t', 'q', 3, 8, [H100]), /nodes can hold the gang's 3 pods on NVIDIA-H100/],
    ['a GPU type the cluster lacks', gang('t', 'q', 1, 1, [A100]), /on NVIDIA-A100/],
    ['more GPUs per pod than any node has', gang('t', 'q', 1, 16, [H100]), /1 pods/],
    ['two 8-GPU pods on one node', gang('t', 'q', 2, 8, [H100], { topology: 'sameNode' }), /on one node/],
    ['two 8-GPU pods in one rack of one node', gang('t', 'q', 2, 8, [H100], { topology: 'sameRack' }), /within one rack/],
  ])('refuses a gang no node set could ever hold: %s', (_name, spec, message) => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8, { rack: 'r1' }), node('n2', H100, 8, { rack: 'r2' })] });
    const reply = driver.submit('k', spec);
    const job = driver.job(jobIdOf(reply));
    expect(job.status).toBe('Refused');
    expect(job.reason).toBe('UNSCHEDULABLE');
    expect(job.message).toMatch(message);
    driver.tick();
    expect(driver.binds()).toHaveLength(0);
  });

  it('keeps a gang that fits later pending, binding none of its pods until all fit', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8), node('n2', H100, 8)] });
    const small = jobIdOf(driver.submit('small', gang('t', 'q', 1, 4, [H100])));
    driver.tick();
    const big = jobIdOf(driver.submit('big', gang('t', 'q', 2, 8, [H100])));
    driver.tick();
    expect(driver.statusOf(big)).toBe('Pending');
    expect(driver.binds(big)).toHaveLength(0);
    driver.run(small);
    driver.succeed(small);
    driver.tick();
    expect(driver.statusOf(big)).toBe('Admitted');
    expect(driver.binds(big)[0]!.placements).toHaveLength(2);
  });

  it('packs small jobs onto one node so a whole node stays free for an 8-GPU worker', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8), node('n2', H100, 8)] });
    for (let index = 0; index < 4; index += 1) driver.submit(`s${index}`, gang('t', 'q', 1, 1, [H100]));
    driver.tick();
    expect(new Set(driver.binds().map((bind) => bind.placements[0]!.node)).size).toBe(1);
    const whole = jobIdOf(driver.submit('whole', gang('t', 'q', 1, 8, [H100])));
    driver.tick();
    expect(driver.statusOf(whole)).toBe('Admitted');
  });

  it('places an any-of-types gang on the second type when the first is full, all pods on one type', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('h1', H100, 8), node('a1', A100, 8), node('a2', A100, 8)] });
    jobIdOf(driver.submit('fill', gang('t', 'q', 1, 8, [H100])));
    const id = jobIdOf(driver.submit('any', gang('t', 'q', 2, 4, [H100, A100])));
    driver.tick();
    const job = driver.job(id);
    expect(job.gpuType).toBe(A100);
    expect(job.placements!.every((placement) => placement.node.startsWith('a'))).toBe(true);
  });

  it('places a same-rack gang inside one rack', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('a1', H100, 8, { rack: 'ra' }), node('b1', H100, 8, { rack: 'rb' }), node('b2', H100, 8, { rack: 'rb' })] });
    const id = jobIdOf(driver.submit('rack', gang('t', 'q', 2, 8, [H100], { topology: 'sameRack' })));
    driver.tick();
    expect(driver.job(id).placements!.map((placement) => placement.node).sort()).toEqual(['b1', 'b2']);
  });
});

describe('quotas, borrowing and reclaim (Kueue cohorts)', () => {
  const twoQueues = (borrowingLimit?: Record<string, number>) => new Driver({
    queues: [
      { name: 'qa', tenant: 'a', cohort: 'c', nominal: { [`gpu/${H100}`]: 8 }, ...(borrowingLimit ? { borrowingLimit } : {}) },
      { name: 'qb', tenant: 'b', cohort: 'c', nominal: { [`gpu/${H100}`]: 8 }, ...(borrowingLimit ? { borrowingLimit } : {}) },
    ],
    nodes: [node('n1', H100, 8), node('n2', H100, 8)],
  });

  it('refuses a job its queue could never hold, even by borrowing', () => {
    const driver = new Driver({ queues: [{ name: 'q', tenant: 't', nominal: { [`gpu/${H100}`]: 8 } }], nodes: [node('n1', H100, 8), node('n2', H100, 8)] });
    const job = driver.job(jobIdOf(driver.submit('k', gang('t', 'q', 2, 8, [H100]))));
    expect([job.status, job.reason]).toEqual(['Refused', 'QUOTA_NEVER_SUFFICIENT']);
  });

  it('holds a second job at the nominal quota without a cohort', () => {
    const driver = new Driver({ queues: [{ name: 'q', tenant: 't', nominal: { [`gpu/${H100}`]: 8 } }], nodes: [node('n1', H100, 8), node('n2', H100, 8)] });
    driver.submit('k1', gang('t', 'q', 1, 8, [H100]));
    const second = jobIdOf(driver.submit('k2', gang('t', 'q', 1, 8, [H100])));
    driver.tick();
    expect(driver.statusOf(second)).toBe('Pending');
  });

  it('borrows idle cohort quota, then the lender reclaims it: the borrower is evicted and the lender admitted', () => {
    const driver = twoQueues();
    const b1 = jobIdOf(driver.submit('b1', gang('b', 'qb', 1, 8, [H100])));
    const b2 = jobIdOf(driver.submit('b2', gang('b', 'qb', 1, 8, [H100])));
    driver.tick();
    expect([driver.statusOf(b1), driver.statusOf(b2)]).toEqual(['Admitted', 'Admitted']);
    expect(driver.state.quota.borrowing('qb')).toBe(true);
    const a1 = jobIdOf(driver.submit('a1', gang('a', 'qa', 1, 8, [H100], { priority: -5 })));
    driver.tick();
    expect(driver.statusOf(b2)).toBe('Evicting');
    expect(driver.job(b2).eviction!.reason).toBe('RECLAIMED');
    expect(driver.statusOf(b1)).toBe('Admitted');
    driver.deletionsDone();
    driver.tick();
    expect(driver.statusOf(a1)).toBe('Admitted');
    expect(driver.statusOf(b2)).toBe('Pending');
    expect(driver.state.quota.borrowing('qb')).toBe(false);
  });

  it('borrows no further than the borrowing limit', () => {
    const driver = twoQueues({ [`gpu/${H100}`]: 4 });
    driver.submit('b1', gang('b', 'qb', 1, 8, [H100]));
    const b2 = jobIdOf(driver.submit('b2', gang('b', 'qb', 1, 8, [H100])));
    const b3 = jobIdOf(driver.submit('b3', gang('b', 'qb', 1, 4, [H100])));
    driver.tick();
    expect([driver.statusOf(b2), driver.statusOf(b3)]).toEqual(['Pending', 'Admitted']);
  });
});

describe('priority preemption', () => {
  it('evicts a lower-priority job of the same queue, admits the preemptor, and requeues the victim without a loop', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8)] });
    const low = jobIdOf(driver.submit('low', gang('t', 'q', 1, 8, [H100], { priority: 1 })));
    driver.tick();
    driver.run(low);
    const high = jobIdOf(driver.submit('high', gang('t', 'q', 1, 8, [H100], { priority: 10 })));
    driver.tick();
    expect(driver.job(low).eviction!.reason).toBe('PREEMPTED');
    driver.deletionsDone();
    for (let round = 0; round < 5; round += 1) driver.tick(1_000);
    expect(driver.statusOf(high)).toBe('Admitted');
    expect(driver.statusOf(low)).toBe('Pending');
    expect(driver.effects.filter((effect) => effect.type === 'deletePods')).toHaveLength(1);
    driver.run(high);
    driver.succeed(high);
    driver.tick();
    expect(driver.statusOf(low)).toBe('Admitted');
    expect(driver.job(low).restarts).toBe(0);
  });

  it('does not evict another tenant running within its own quota, whatever the priority', () => {
    const driver = new Driver({
      queues: [{ name: 'qa', tenant: 'a', cohort: 'c', nominal: { [`gpu/${H100}`]: 8 } }, { name: 'qb', tenant: 'b', cohort: 'c', nominal: { [`gpu/${H100}`]: 8 } }],
      nodes: [node('n1', H100, 8), node('n2', H100, 8)],
    });
    const a = jobIdOf(driver.submit('a', gang('a', 'qa', 1, 8, [H100], { priority: 0 })));
    driver.submit('b1', gang('b', 'qb', 1, 8, [H100], { priority: 0 }));
    driver.tick();
    const urgent = jobIdOf(driver.submit('b2', gang('b', 'qb', 1, 8, [H100], { priority: 1_000 })));
    driver.tick();
    expect(driver.statusOf(a)).toBe('Admitted');
    expect(driver.statusOf(urgent)).toBe('Pending');
  });

  it('evicts nothing when even every candidate would not make room', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8), node('n2', H100, 8)] });
    driver.submit('keep', gang('t', 'q', 1, 8, [H100], { priority: 50 }));
    driver.submit('low', gang('t', 'q', 1, 8, [H100], { priority: 1 }));
    driver.tick();
    const high = jobIdOf(driver.submit('high', gang('t', 'q', 2, 8, [H100], { priority: 10 })));
    driver.tick();
    expect(driver.statusOf(high)).toBe('Pending');
    expect(driver.effects.filter((effect) => effect.type === 'deletePods')).toHaveLength(0);
  });

  it('evicts only the victims it needs', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8), node('n2', H100, 8)] });
    driver.submit('l1', gang('t', 'q', 1, 8, [H100], { priority: 1 }));
    driver.submit('l2', gang('t', 'q', 1, 8, [H100], { priority: 2 }));
    driver.tick();
    driver.submit('high', gang('t', 'q', 1, 8, [H100], { priority: 10 }));
    driver.tick();
    expect(driver.effects.filter((effect) => effect.type === 'deletePods').map((effect) => 'jobId' in effect && effect.jobId)).toEqual(['job-1']);
  });
});

describe('Dominant Resource Fairness', () => {
  it('reproduces the DRF paper example: <1 CPU, 4 GB> tasks get 3, <3 CPU, 1 GB> tasks get 2 (NSDI 2011, section 4)', () => {
    const driver = new Driver({ queues: [open('qa', 'a'), open('qb', 'b')], nodes: [node('m', '', 0, { cpuMilli: 9_000, memoryMiB: 18 * 1024 })] });
    for (let index = 0; index < 10; index += 1) {
      driver.submit(`a${index}`, { tenant: 'a', queue: 'qa', podSets: [{ name: 'task', count: 1, cpuMilli: 1_000, memoryMiB: 4 * 1024 }] });
      driver.submit(`b${index}`, { tenant: 'b', queue: 'qb', podSets: [{ name: 'task', count: 1, cpuMilli: 3_000, memoryMiB: 1024 }] });
    }
    driver.tick();
    const admitted = (tenant: string) => [...driver.state.jobs.values()].filter((job) => job.spec.tenant === tenant && job.status === 'Admitted').length;
    expect([admitted('a'), admitted('b')]).toEqual([3, 2]);
  });

  it('splits GPUs evenly between equal tenants however their jobs were submitted, and by weight otherwise', () => {
    for (const [weights, expected] of [[[1, 1], [8, 8]], [[1, 3], [4, 12]]] as const) {
      const driver = new Driver({
        queues: [open('qa', 'a'), open('qb', 'b')], tenants: [{ name: 'a', weight: weights[0] }, { name: 'b', weight: weights[1] }],
        nodes: [node('n1', H100, 8), node('n2', H100, 8)],
      });
      for (let index = 0; index < 20; index += 1) driver.submit(`a${index}`, gang('a', 'qa', 1, 1, [H100]));
      for (let index = 0; index < 20; index += 1) driver.submit(`b${index}`, gang('b', 'qb', 1, 1, [H100]));
      driver.tick();
      const gpus = (tenant: string) => driver.state.quota.tenantUsage.get(tenant)!.get(`gpu/${H100}`);
      expect([gpus('a'), gpus('b')]).toEqual(expected);
    }
  });

  it('converges back to equal shares as jobs complete after one tenant held the whole cluster', () => {
    const driver = new Driver({ queues: [open('qa', 'a'), open('qb', 'b')], nodes: [node('n1', H100, 8), node('n2', H100, 8)] });
    for (let index = 0; index < 40; index += 1) driver.submit(`a${index}`, gang('a', 'qa', 1, 1, [H100]));
    driver.tick();
    for (let index = 0; index < 40; index += 1) driver.submit(`b${index}`, gang('b', 'qb', 1, 1, [H100]));
    const share = (tenant: string) => driver.state.quota.tenantUsage.get(tenant)!.get(`gpu/${H100}`) ?? 0;
    const history: number[] = [];
    for (let round = 0; round < 16; round += 1) {
      const oldest = [...driver.state.jobs.values()].find((job) => job.status === 'Admitted' || job.status === 'Running');
      driver.run(oldest!.id);
      driver.succeed(oldest!.id);
      driver.tick();
      history.push(share('a') - share('b'));
    }
    expect(history[0]).toBe(14);
    expect(Math.abs(history.at(-1)!)).toBeLessThanOrEqual(1);
  });
});

describe('idempotent submission', () => {
  it('returns the same job for the same key and spec (field order aside), and IDEMPOTENCY_CONFLICT for another spec', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8)] });
    const first = driver.submit('k', gang('t', 'q', 1, 1, [H100]));
    const spec = gang('t', 'q', 1, 1, [H100]);
    const reordered = { podSets: spec.podSets, queue: 'q', tenant: 't' };
    const again = driver.submit('k', reordered);
    expect(again).toEqual({ ok: true, jobId: jobIdOf(first), existing: true, status: 'Pending' });
    expect(driver.submit('k', gang('t', 'q', 1, 2, [H100]))).toMatchObject({ ok: false, code: 'IDEMPOTENCY_CONFLICT', jobId: jobIdOf(first) });
    expect(driver.state.jobs.size).toBe(1);
  });

  it.each([
    ['an unknown field', { ...gang('t', 'q', 1, 1, [H100]), extra: 1 }],
    ['no pod sets', { tenant: 't', queue: 'q', podSets: [] }],
    ['a negative count', gang('t', 'q', -1, 1, [H100])],
    ['a bad GPU count', gang('t', 'q', 1, 0, [H100])],
    ['too many pods', gang('t', 'q', 5_000, 1, [H100])],
  ])('refuses %s as INVALID_SPEC without creating a job', (_name, spec) => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8)] });
    expect(driver.submit('k', spec as JobSpecInput)).toMatchObject({ ok: false, code: 'INVALID_SPEC' });
    expect(driver.state.jobs.size).toBe(0);
  });

  it('refuses a job for another tenant\'s queue, and an unknown queue, with a reason', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8)] });
    expect(driver.job(jobIdOf(driver.submit('k1', gang('other', 'q', 1, 1, [H100])))).reason).toBe('QUEUE_TENANT_MISMATCH');
    expect(driver.job(jobIdOf(driver.submit('k2', gang('t', 'nope', 1, 1, [H100])))).reason).toBe('UNKNOWN_QUEUE');
  });
});

describe('reconciliation', () => {
  it('restarts the whole gang after a pod failure, with backoff, until restartsMax, then fails with RESTARTS_EXHAUSTED', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8), node('n2', H100, 8)] });
    const id = jobIdOf(driver.submit('k', gang('t', 'q', 2, 8, [H100], { restartsMax: 2 })));
    const notBefore: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      driver.tick();
      expect(driver.job(id).attempt).toBe(attempt);
      driver.run(id);
      driver.fail(id, 'worker-1');
      expect(driver.statusOf(id)).toBe('Evicting');
      driver.deletionsDone();
      if (attempt < 3) {
        expect(driver.statusOf(id)).toBe('Pending');
        notBefore.push(driver.job(id).notBeforeMs - driver.nowMs);
        driver.tick(500);
        expect(driver.job(id).attempt).toBe(attempt);
        driver.nowMs += 8_000;
      }
    }
    expect(notBefore).toEqual([1_000, 2_000]);
    expect([driver.statusOf(id), driver.job(id).reason]).toEqual(['Failed', 'RESTARTS_EXHAUSTED']);
    expect(driver.job(id).message).toMatch(/worker-1 failed: exit code 1/);
  });

  it('fails a job with restart policy never on its first pod failure', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8)] });
    const id = jobIdOf(driver.submit('k', gang('t', 'q', 2, 1, [H100], { restartPolicy: 'never' })));
    driver.tick();
    driver.fail(id, 'worker-0');
    driver.deletionsDone();
    expect([driver.statusOf(id), driver.job(id).reason]).toEqual(['Failed', 'POD_FAILED']);
  });

  it('reschedules the gangs of a lost node elsewhere without consuming a restart, and ignores the old attempt\'s events', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8), node('n2', H100, 8)] });
    const id = jobIdOf(driver.submit('k', gang('t', 'q', 1, 8, [H100])));
    driver.tick();
    driver.run(id);
    const lost = driver.job(id).placements![0]!.node;
    driver.input({ type: 'nodeDown', nowMs: driver.nowMs, node: lost });
    expect(driver.job(id).eviction!.reason).toBe('NODE_LOST');
    driver.deletionsDone();
    driver.tick();
    const job = driver.job(id);
    expect([job.status, job.attempt, job.restarts]).toEqual(['Admitted', 2, 0]);
    expect(job.placements![0]!.node).not.toBe(lost);
    driver.input({ type: 'podPhase', nowMs: driver.nowMs, jobId: id, attempt: 1, pod: 'worker-0', phase: 'Failed' });
    expect(driver.statusOf(id)).toBe('Admitted');
  });

  it('refuses a waiting job once the nodes that could hold it are removed', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8), node('n2', H100, 8)] });
    driver.submit('fill', gang('t', 'q', 1, 8, [H100]));
    driver.tick();
    const big = jobIdOf(driver.submit('big', gang('t', 'q', 2, 8, [H100])));
    driver.tick();
    driver.input({ type: 'nodeRemoved', nowMs: driver.nowMs, node: 'n2' });
    expect([driver.statusOf(big), driver.job(big).reason]).toEqual(['Refused', 'UNSCHEDULABLE']);
  });

  it('evicts and requeues a gang not running within the start timeout', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8)], startTimeoutMs: 5_000 });
    const id = jobIdOf(driver.submit('k', gang('t', 'q', 2, 1, [H100])));
    driver.tick();
    driver.input({ type: 'podPhase', nowMs: driver.nowMs, jobId: id, attempt: 1, pod: 'worker-0', phase: 'Running' });
    driver.tick(5_000);
    expect(driver.job(id).eviction!.reason).toBe('START_TIMEOUT');
  });

  it('cancels a pending job at once and a running job after its pods are gone', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8)] });
    const running = jobIdOf(driver.submit('r', gang('t', 'q', 1, 8, [H100])));
    driver.tick();
    const waiting = jobIdOf(driver.submit('w', gang('t', 'q', 1, 8, [H100])));
    driver.input({ type: 'cancel', nowMs: 0, jobId: waiting });
    driver.input({ type: 'cancel', nowMs: 0, jobId: running });
    expect([driver.statusOf(waiting), driver.statusOf(running)]).toEqual(['Cancelled', 'Evicting']);
    driver.deletionsDone();
    expect(driver.statusOf(running)).toBe('Cancelled');
    expect(driver.input({ type: 'cancel', nowMs: 0, jobId: 'job-99' }).reply).toMatchObject({ ok: false, code: 'NO_SUCH_JOB' });
  });

  it('recovers from the persisted records after a crash between persist and bind: the bind is issued again, nothing doubles', () => {
    const driver = new Driver({ queues: [open('q', 't')], nodes: [node('n1', H100, 8), node('n2', H100, 8)] });
    const id = jobIdOf(driver.submit('k', gang('t', 'q', 2, 4, [H100])));
    driver.tick();
    const before = driver.job(id).placements;
    const effects = driver.restart();
    const rebinds = effects.filter((effect) => effect.type === 'bind');
    expect(rebinds).toHaveLength(1);
    expect(rebinds[0]).toMatchObject({ jobId: id, attempt: 1, placements: before });
    expect(jobIdOf(driver.submit('k', gang('t', 'q', 2, 4, [H100])))).toBe(id);
    const next = jobIdOf(driver.submit('k2', gang('t', 'q', 1, 4, [H100])));
    expect(next).toBe('job-2');
    driver.tick();
    driver.run(id);
    driver.succeed(id);
    expect(driver.statusOf(id)).toBe('Succeeded');
  });
});
