/**
 * The routing simulation (simulation.ts) on fixed seeds, or on the one seed in SEED=<n>
 * (`SEED=<n> npx vitest run test/sim/router` replays exactly that run).
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from './simulation.js';

const replay = process.env.SEED === undefined || process.env.SEED === '' ? null : Number(process.env.SEED) >>> 0;
const seeds = replay === null ? [1, 2, 3, 4, 5, 6] : [replay];

describe('routing simulation: backends join, leave, crash and evict', () => {
  for (const seed of seeds) {
    it(`seed ${seed}: routes only to up backends, keeps load bounded and belief close to the caches`, () => {
      const report = runSimulation(seed);
      console.log(JSON.stringify(report));
      expect(report.completed + report.failedMidStream).toBeGreaterThan(report.requests * 0.9);
      // Load: among the backends up the whole run, the busiest took at most 1.5 times the least busy.
      const routed = report.routedPerStableBackend;
      expect(Math.max(...routed) / Math.min(...routed)).toBeLessThanOrEqual(1.5);
      // Belief: of the prompt tokens the router expected cached where it sent them, at least 95% were
      // (evictions behind its back, crashes and restarts included); and at the end at least 60% of the
      // blocks it believes cached are (the rest are old prefixes no request asked for again, aged out
      // by LRU as new ones come).
      expect(report.realizedHitTokens / report.expectedHitTokens).toBeGreaterThanOrEqual(0.95);
      expect(report.beliefPrecision).toBeGreaterThanOrEqual(0.6);
      expect(report.corrections.occupancy ?? 0).toBeGreaterThan(0);
      expect(report.cachedTokens / report.promptTokens).toBeGreaterThan(0.5);
    });
  }
});
