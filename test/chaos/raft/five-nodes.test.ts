/**
 * Process chaos, five nodes: a client workload while the leader is kill -9ed, isolated by a
 * partition proxy and restarted, and followers are killed and restarted. Every acknowledged write
 * survives, the history is linearizable, and the replicas converge. SEED=... replays a schedule.
 */
import { describe, expect, it } from 'vitest';
import { describeFailure } from '../../support/linearizability.js';
import { runRaftChaos } from '../../support/raft-chaos.js';

const seed = Number(process.env.SEED ?? 5);

describe('raft chaos, 5 node processes', () => {
  it(`keeps every acknowledged write and stays linearizable through leader kills and partitions (seed ${seed})`, async () => {
    const report = await runRaftChaos({ names: ['n1', 'n2', 'n3', 'n4', 'n5'], seed, durationMs: 30_000, clients: 4 });
    console.log(`raft chaos 5 nodes: ${JSON.stringify({ ...report, linearizability: report.linearizability.ok })}`);
    expect(report.faults.leaderKills).toBeGreaterThanOrEqual(1);
    expect(report.faults.partitions).toBeGreaterThanOrEqual(1);
    expect(report.lostWrites).toEqual([]);
    expect(report.ledgerAcknowledged).toBeGreaterThan(20);
    expect(report.acknowledged).toBeGreaterThan(100);
    expect(report.linearizability.ok, `seed ${seed}: ${describeFailure(report.linearizability)}`).toBe(true);
  }, 110_000);
});
