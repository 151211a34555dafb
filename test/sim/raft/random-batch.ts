/**
 * One random batch of the raft simulation as a vitest suite: fresh run seeds every time (drawn from
 * SEED or a random batch seed), split into tests so progress shows and each stays well under its
 * timeout. Batches live in separate files so vitest runs them in parallel. While SEED replays one run
 * (see regression.test.ts), the random batches stand down.
 */
import { describe, expect, it } from 'vitest';
import { randomSeeds, replaySeed, runSeeds, Totals } from './seeds.js';

const runsPerTest = 200;
const tests = 8;

/** Declares random batch number `batch`. */
export function describeRandomBatch(batch: number): void {
  describe.skipIf(replaySeed() !== null)(`raft simulation: random batch ${batch}`, () => {
    const seeds = randomSeeds(batch, runsPerTest * tests);
    const totals = new Totals();
    for (let test = 0; test < tests; test += 1) {
      const slice = seeds.slice(test * runsPerTest, (test + 1) * runsPerTest);
      it(`runs ${slice.length} random seeds (${slice[0]} ...) safely and linearizably`, () => {
        runSeeds(slice, totals);
        expect(totals.runs).toBe((test + 1) * runsPerTest);
        if (test === tests - 1) console.log(`raft simulation batch ${batch}: ${JSON.stringify(totals)}`);
      });
    }
  });
}
