/**
 * The fixed regression seeds (or the one seed in SEED=<n>): the real Raft core and KV state machine
 * over a simulated network, disk and clock, with partitions, crashes, lost and torn writes, leader
 * transfers and membership changes. Safety invariants are checked after every event and each run's
 * client history must be linearizable.
 */
import { describe, expect, it } from 'vitest';
import { regressionSeeds, replaySeed, runSeeds, Totals } from './seeds.js';

describe('raft simulation: regression seeds', () => {
  const replay = replaySeed();
  const seeds = replay === null ? regressionSeeds : [replay];

  it(`keeps every safety invariant and a linearizable history on ${seeds.length} seed(s)`, () => {
    const totals = new Totals();
    runSeeds(seeds, totals);
    console.log(`raft simulation regression: ${JSON.stringify(totals)}`);
    expect(totals.runs).toBe(seeds.length);
    // The runs must really exercise what they claim to: elections, faults, snapshots, client work.
    if (replay === null) {
      expect(totals.elections).toBeGreaterThan(seeds.length);
      expect(totals.snapshots).toBeGreaterThan(0);
      expect(totals.messages.snapshot ?? 0).toBeGreaterThan(0);
      expect(totals.messages.timeoutNow ?? 0).toBeGreaterThan(0);
      expect(totals.messages.readIndexResponse ?? 0).toBeGreaterThan(0);
      expect(totals.lostWrites).toBeGreaterThan(0);
      expect(totals.operations).toBeGreaterThan(seeds.length * 10);
    }
  });
});
