/**
 * Seed selection shared by the seeded simulations: `SEED=<n>` replays exactly one run; without it each
 * random batch draws fresh run seeds from a batch seed, so every test run explores new schedules while
 * a failure still names the one run seed that replays it.
 */
import { createRng, seedFromEnvironment } from '../../runtime/rng.js';

/** The replay seed from `SEED`, or null when none was given. */
export function replaySeed(): number | null {
  const value = process.env.SEED;
  return value === undefined || value === '' ? null : seedFromEnvironment();
}

/** `count` run seeds for random batch number `batch`, drawn from a fresh batch seed. */
export function randomSeeds(batch: number, count: number): number[] {
  const rng = createRng((seedFromEnvironment() + batch * 0x9e37_79b9) >>> 0);
  return Array.from({ length: count }, () => Math.floor(rng.next() * 4294967296) >>> 0);
}
