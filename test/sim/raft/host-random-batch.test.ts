/**
 * A random batch of the host simulation: fresh run seeds every time (drawn from SEED or a random batch
 * seed). A failure names its run seed; `SEED=<n> npx vitest run test/sim/raft` replays exactly that run.
 */
import { describe, expect, it } from 'vitest';
import { randomSeeds, replaySeed } from './seeds.js';
import { HostTotals, runHostSeeds } from './host-seeds.js';

const runsPerTest = 20;
const tests = 4;

describe.skipIf(replaySeed() !== null)('raft host simulation: random batch', () => {
  const seeds = randomSeeds(101, runsPerTest * tests);
  const totals = new HostTotals();
  for (let test = 0; test < tests; test += 1) {
    const slice = seeds.slice(test * runsPerTest, (test + 1) * runsPerTest);
    it(`runs ${slice.length} random seeds (${slice[0]} ...) of the production host safely and linearizably`, async () => {
      await runHostSeeds(slice, totals);
      expect(totals.runs).toBe((test + 1) * runsPerTest);
      if (test === tests - 1) console.log(`raft host simulation batch: ${JSON.stringify(totals)}`);
    }, 300_000);
  }
});
