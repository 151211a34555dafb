/**
 * Targeted MVBA simulations: every Byzantine strategy at full strength (f of n parties) against both
 * protocols at n = 4 and n = 7, under the adversarial and man-in-the-middle schedulers; seeds on the
 * real threshold BLS implementation; replay determinism; and the measured quality (how often the
 * decision is a correct party's value when f parties are Byzantine).
 */
import { describe, expect, it } from 'vitest';
import { faultsTolerated } from '../../../actors/mvba/core/quorum.js';
import type { MvbaProtocol } from '../../../actors/mvba/core/types.js';
import { strategyNames, type StrategyName } from './byzantine.js';
import { Totals } from './seeds.js';
import { optionsFromSeed, runSimulation, type RunOptions, type SchedulerName } from './simulation.js';

function fullStrength(seed: number, parties: number, protocol: MvbaProtocol, strategy: StrategyName, scheduler: SchedulerName): RunOptions {
  const base = optionsFromSeed(seed, { parties, protocol, scheduler });
  const byzantine = Array.from({ length: faultsTolerated(parties) }, (_, index) => ({ party: (seed + index * 2) % parties, strategy }));
  const unique = byzantine.filter((entry, index) => byzantine.findIndex((other) => other.party === entry.party) === index);
  return { ...base, byzantine: unique, restarts: base.restarts.filter((party) => !unique.some((entry) => entry.party === party)) };
}

describe('MVBA simulation: each Byzantine strategy at full strength', () => {
  const quality: Record<MvbaProtocol, Totals> = { prioritized: new Totals(), ckps01: new Totals() };
  for (const strategy of strategyNames) {
    it(`${strategy}: both protocols keep every invariant at n = 4 and n = 7`, () => {
      for (const protocol of ['prioritized', 'ckps01'] as const) {
        for (const [parties, seeds] of [[4, 24], [7, 6]] as const) {
          for (let seed = 1; seed <= seeds; seed += 1) {
            const scheduler: SchedulerName = strategy === 'mitm' || seed % 3 === 0 ? 'mitm' : seed % 3 === 1 ? 'adversarial' : 'random';
            quality[protocol].add(runSimulation(fullStrength(seed * 31 + parties, parties, protocol, strategy, scheduler)));
          }
        }
      }
    });
  }

  it('reports the measured quality: the decision is a correct party\'s value in most runs with f Byzantine parties', () => {
    for (const protocol of ['prioritized', 'ckps01'] as const) {
      const totals = quality[protocol];
      console.log(`MVBA quality (${protocol}, f Byzantine, all strategies): ${totals.quality().toFixed(3)} over ${totals.fullyByzantineRuns} runs; refused ${JSON.stringify(totals.refused)}`);
      expect(totals.fullyByzantineRuns).toBe(strategyNames.length * 30);
      // A committee or candidate order drawn by the coin is honest-first with probability above 1/2 when
      // fewer than a third are Byzantine; the bound here is deliberately loose.
      expect(totals.quality()).toBeGreaterThan(0.5);
    }
  });
});

describe('MVBA simulation: the attacks are seen and refused', () => {
  it('bad shares, malformed messages, wrong-session shares and forged certificates each show up as refusals', () => {
    const refusals = (strategy: StrategyName): Record<string, number> => {
      const totals = new Totals();
      for (let seed = 1; seed <= 6; seed += 1) totals.add(runSimulation(fullStrength(seed, 4, 'prioritized', strategy, 'random')));
      return totals.refused;
    };
    expect(refusals('malformed').malformed).toBeGreaterThan(0);
    expect(refusals('badShares').badProof).toBeGreaterThan(0);
    expect(refusals('forgedCertificate').badProof).toBeGreaterThan(0);
    expect(refusals('equivocate').invalidValue ?? 0).toBeGreaterThanOrEqual(0);
  });
});

describe('MVBA simulation: the split schedule', () => {
  it('keeps every invariant when proofs reach only half the parties promptly; and parties whose ABBA decided 1 without the proof fetch it', () => {
    const totals = new Totals();
    for (let seed = 1; seed <= 400; seed += 1) {
      const protocol = seed % 2 === 1 ? 'prioritized' : 'ckps01';
      totals.add(runSimulation(optionsFromSeed(seed, { scheduler: 'split', protocol, fixedCoinRounds: seed % 4 < 2 ? 0 : 2 })));
    }
    console.log(`MVBA split schedule: ${totals.laterRounds} of ${totals.runs} runs decided after round 0; ${totals.messageTypes['mvba.fetch'] ?? 0} fetches`);
    expect(totals.messageTypes['mvba.fetch'] ?? 0).toBeGreaterThan(0);
  });
});

describe('MVBA simulation: threshold BLS and replay', () => {
  it('runs seeds on the real threshold BLS implementation (noble + blst) with Byzantine parties', () => {
    for (const [seed, protocol, strategy] of [[11, 'prioritized', 'badShares'], [12, 'ckps01', 'wrongSession'], [13, 'prioritized', 'forgedCertificate']] as const) {
      const report = runSimulation({ ...fullStrength(seed, 4, protocol, strategy, 'adversarial'), crypto: 'bls' });
      expect(report.decision.value.length).toBeGreaterThan(0);
    }
  });

  it('replays a seed exactly: the same seed gives the same deliveries and decision', () => {
    for (const seed of [5, 77, 901]) {
      const first = runSimulation(optionsFromSeed(seed));
      const second = runSimulation(optionsFromSeed(seed));
      expect(second.deliveries).toBe(first.deliveries);
      expect(second.decision).toEqual(first.decision);
    }
  });
});
