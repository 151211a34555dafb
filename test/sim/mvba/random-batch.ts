/**
 * One random batch of the MVBA simulation as a vitest suite: fresh run seeds every time (drawn from SEED
 * or a random batch seed), split into tests so progress shows. Batches live in separate files so vitest
 * runs them in parallel. While SEED replays one run (regression.test.ts), the random batches stand down.
 */
import { describe, expect, it } from 'vitest';
import { randomSeeds, replaySeed, runSeeds, Totals } from './seeds.js';

const runsPerTest = 100;
const tests = 4;

/** Declares random batch number `batch`. */
export function describeRandomBatch(batch: number): void {
  describe.skipIf(replaySeed() !== null)(`MVBA simulation: random batch ${batch}`, () => {
    const seeds = randomSeeds(batch, runsPerTest * tests);
    const totals = new Totals();
    for (let test = 0; test < tests; test += 1) {
      const slice = seeds.slice(test * runsPerTest, (test + 1) * runsPerTest);
      it(`runs ${slice.length} random seeds (${slice[0]} ...): agreement, validity, integrity, termination`, () => {
        runSeeds(slice, totals);
        expect(totals.runs).toBe((test + 1) * runsPerTest);
        if (test === tests - 1) {
          console.log(`MVBA simulation batch ${batch}: quality with f Byzantine ${totals.quality().toFixed(3)} ${JSON.stringify(totals)}`);
        }
      });
    }
  });
}
