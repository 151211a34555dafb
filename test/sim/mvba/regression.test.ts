/**
 * The fixed MVBA seeds, or with `SEED=<n>` exactly one run (printed by any failing simulation test):
 * `SEED=123 npx vitest run test/sim/mvba/regression.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { regressionSeeds, replaySeed, runSeeds, Totals } from './seeds.js';
import { describe as describeOptions, optionsFromSeed } from './simulation.js';

describe('MVBA simulation: regression seeds', () => {
  const only = replaySeed();
  if (only !== null) {
    it(`replays seed ${only} (${describeOptions(optionsFromSeed(only))})`, () => {
      const totals = new Totals();
      runSeeds([only], totals);
      expect(totals.runs).toBe(1);
    });
    return;
  }
  it(`runs ${regressionSeeds.length} fixed seeds`, () => {
    const totals = new Totals();
    runSeeds(regressionSeeds, totals);
    expect(totals.runs).toBe(regressionSeeds.length);
  });
});
