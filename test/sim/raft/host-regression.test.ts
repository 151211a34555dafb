/**
 * The production replica host (host.ts) in the simulation, on the fixed regression seeds (or the one
 * seed in SEED=<n>): DurableLog on simulated disks with crashes that lose, keep or tear unsynced
 * writes, a seeded network, the production client's retries, membership changes and transfers through
 * service requests; safety checked after every event, the history checked for linearizability.
 */
import { describe, expect, it } from 'vitest';
import { replaySeed } from './seeds.js';
import { hostRegressionSeeds, HostTotals, runHostSeeds } from './host-seeds.js';

describe('raft host simulation: regression seeds', () => {
  const replay = replaySeed();
  const seeds = replay === null ? hostRegressionSeeds : [replay];

  it(`runs the production host safely and linearizably on ${seeds.length} seed(s)`, async () => {
    const totals = new HostTotals();
    await runHostSeeds(seeds, totals);
    console.log(`raft host simulation regression: ${JSON.stringify(totals)}`);
    expect(totals.runs).toBe(seeds.length);
    if (replay === null) {
      // The runs must exercise what they claim: elections, crashes, client work, forwarded reads, snapshots.
      expect(totals.elections).toBeGreaterThan(seeds.length);
      expect(totals.crashes).toBeGreaterThan(seeds.length / 2);
      expect(totals.operations).toBeGreaterThan(seeds.length * 5);
      expect(totals.messages.snapshot ?? 0).toBeGreaterThan(0);
      expect(totals.messages.readIndexResponse ?? 0).toBeGreaterThan(0);
    }
  }, 300_000);
});
