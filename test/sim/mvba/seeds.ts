/**
 * Which seeds the MVBA simulation runs. `SEED=<n>` replays exactly one run (regression.test.ts runs it;
 * the random batches stand aside). Without it, the regression file runs a fixed list and each random
 * batch draws fresh run seeds, so every test run explores new schedules while a failure still names the
 * one seed that replays it.
 */
export { randomSeeds, replaySeed } from '../../support/seeds.js';
import { optionsFromSeed, runSimulation, type RunOptions, type RunReport } from './simulation.js';

/** A fixed spread of seeds, plus any that once exposed a bug. */
export const regressionSeeds: readonly number[] = Array.from({ length: 150 }, (_, index) => 1 + index * 104_729);

/** Totals over many runs, printed once per file: coverage of strategies and the measured quality. */
export class Totals {
  runs = 0;
  deliveries = 0;
  messages = 0;
  laterRounds = 0;
  /** Runs with exactly f Byzantine parties, and how many of those decided a correct party's value. */
  fullyByzantineRuns = 0;
  fullyByzantineHonestDecisions = 0;
  honestDecisions = 0;
  readonly strategies: Record<string, number> = {};
  readonly schedulers: Record<string, number> = {};
  readonly refused: Record<string, number> = {};
  readonly messageTypes: Record<string, number> = {};

  add(report: RunReport): void {
    const { options } = report;
    this.runs += 1;
    this.deliveries += report.deliveries;
    this.messages += report.messages;
    if (report.decision.round > 0) this.laterRounds += 1;
    if (report.honestProposer) this.honestDecisions += 1;
    if (options.byzantine.length === Math.floor((options.parties - 1) / 3)) {
      this.fullyByzantineRuns += 1;
      if (report.honestProposer) this.fullyByzantineHonestDecisions += 1;
    }
    for (const { strategy } of options.byzantine) this.strategies[strategy] = (this.strategies[strategy] ?? 0) + 1;
    this.schedulers[options.scheduler] = (this.schedulers[options.scheduler] ?? 0) + 1;
    for (const [type, count] of Object.entries(report.messageTypes)) this.messageTypes[type] = (this.messageTypes[type] ?? 0) + count;
    for (const [reason, count] of Object.entries(report.refused)) this.refused[reason] = (this.refused[reason] ?? 0) + count;
  }

  /** The fraction of runs with f Byzantine parties whose decision was a correct party's value. */
  quality(): number {
    return this.fullyByzantineRuns === 0 ? 1 : this.fullyByzantineHonestDecisions / this.fullyByzantineRuns;
  }
}

/** Runs the seeds in order, adding each report to `totals`; the first failure throws, naming its seed. */
export function runSeeds(seeds: readonly number[], totals: Totals, overrides: Partial<RunOptions> = {}): void {
  for (const seed of seeds) totals.add(runSimulation(optionsFromSeed(seed, overrides)));
}
