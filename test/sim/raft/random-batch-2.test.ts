/**
 * Random batch 2: fresh run seeds every time (drawn from SEED or a random batch seed). A failure
 * names its run seed; `SEED=<n> npx vitest run test/sim/raft` replays exactly that run.
 */
import { describe, expect, it } from 'vitest';
import { randomSeeds, replaySeed, runSeeds, Totals } from './seeds.js';

/** Runs per test; the batch is split so progress shows and one test stays well under its timeout. */
const runsPerTest = 200;
const tests = 8;

describe.skipIf(replaySeed() !== null)('raft simulation: random batch 2', () => {
  const seeds = randomSeeds(2, runsPerTest * tests);
  const totals = new Totals();
  for (let test = 0; test < tests; test += 1) {
    const slice = seeds.slice(test * runsPerTest, (test + 1) * runsPerTest);
    it(`runs ${slice.length} random seeds (${slice[0]} ...) safely and linearizably`, () => {
      runSeeds(slice, totals);
      expect(totals.runs).toBe((test + 1) * runsPerTest);
      if (test === tests - 1) console.log(`raft simulation batch 2: ${JSON.stringify(totals)}`);
    });
  }
});
