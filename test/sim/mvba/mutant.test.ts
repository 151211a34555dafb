/**
 * The simulation must catch a broken core. Here the one rule every quorum rests on, "count each party
 * once" (core/quorum.ts), is replaced by one that counts a repeated signer or voter again, so a party
 * accepts a quorum certificate or vote count padded with repeats: with one Byzantine party among four,
 * its repeated votes then stand for the 2f + 1 parties a quorum needs. Run over the same random seed
 * budget as one batch file, the simulation must report a broken invariant.
 */
import { describe, expect, it, vi } from 'vitest';
import { randomSeeds, Totals, runSeeds } from './seeds.js';
import { SimulationFailure } from './simulation.js';

vi.mock('../../../actors/mvba/core/quorum.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../actors/mvba/core/quorum.js')>();
  return {
    ...original,
    recordOnce: (parties: number[], party: number) => {
      parties.push(party);
      return true;
    },
  };
});

describe('MVBA simulation: a core that counts a repeated signer is caught', () => {
  it('fails an invariant within one batch of random seeds', () => {
    const seeds = randomSeeds(99, 400);
    let failure: unknown = null;
    let runs = 0;
    for (const seed of seeds) {
      try {
        runSeeds([seed], new Totals());
        runs += 1;
      } catch (error) {
        failure = error;
        break;
      }
    }
    console.log(`mutant caught after ${runs} passing runs: ${String(failure).slice(0, 300)}`);
    expect(failure).toBeInstanceOf(SimulationFailure);
  });
});
