/**
 * Object store chaos on three node processes (test/support/objectstore-chaos.ts): S3 clients through
 * the gateways while the leader is killed and isolated and a follower is killed. SEED=... replays a
 * schedule.
 */
import { describe, expect, it } from 'vitest';
import { describeFailure } from '../../support/linearizability.js';
import { runObjectStoreChaos } from '../../support/objectstore-chaos.js';

const seed = Number(process.env.SEED ?? 11);

describe('object store chaos, 3 node processes', () => {
  it(`keeps every acknowledged object whole and each key's history linearizable through leader kills and partitions (seed ${seed})`, async () => {
    const report = await runObjectStoreChaos({ seed, faultRounds: 3, operationsBetweenFaults: 20, acknowledgedMin: 120, ledgerMin: 12, workloadMsMax: 240_000, clients: 4 });
    console.log(`object store chaos: ${JSON.stringify({ ...report, linearizability: report.linearizability.ok })}`);
    expect(report.faults).toEqual({ leaderKills: 1, partitions: 1, followerKills: 1 });
    expect(report.lostOrTorn).toEqual([]);
    expect(report.ledgerAcknowledged).toBeGreaterThanOrEqual(12);
    expect(report.acknowledged).toBeGreaterThanOrEqual(120);
    expect(report.linearizability.ok, `seed ${seed}: ${describeFailure(report.linearizability)}`).toBe(true);
  }, 480_000);
});
