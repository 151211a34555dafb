/**
 * One random batch of the host simulation as a vitest suite: fresh run seeds every time (drawn from
 * SEED or a random batch seed), split into tests so progress shows and each stays well under its
 * timeout. Batches live in separate files so vitest runs them in parallel; four of them run 2,000
 * seeds of the production host per `npm test`. While SEED replays one run (host-regression.test.ts),
 * the random batches stand down. A failure names its run seed;
 * `SEED=<n> npx vitest run test/sim/raft` replays exactly that run.
 */
import { describe, expect, it } from 'vitest';
import { randomSeeds, replaySeed } from './seeds.js';
import { HostTotals, runHostSeeds } from './host-seeds.js';

const runsPerTest = 50;
const tests = 10;

/** Declares host random batch number `batch` (1-based). */
export function describeHostRandomBatch(batch: number): void {
  describe.skipIf(replaySeed() !== null)(`raft host simulation: random batch ${batch}`, () => {
    const seeds = randomSeeds(100 + batch, runsPerTest * tests);
    const totals = new HostTotals();
    for (let test = 0; test < tests; test += 1) {
      const slice = seeds.slice(test * runsPerTest, (test + 1) * runsPerTest);
      it(`runs ${slice.length} random seeds (${slice[0]} ...) of the production host safely, linearizably and with whole watch streams`, async () => {
        const before = totals.runs;
        await runHostSeeds(slice, totals);
        expect(totals.runs - before).toBe(slice.length);
        if (test === tests - 1) {
          console.log(`raft host simulation batch ${batch}: ${JSON.stringify(totals)}`);
          // The batch must exercise what it claims: crashes, client work, watch events checked one by one.
          expect(totals.crashes).toBeGreaterThan(totals.runs / 2);
          expect(totals.watch.revisionsChecked).toBeGreaterThan(totals.runs);
        }
      }, 300_000);
    }
  });
}
