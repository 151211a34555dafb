/**
 * Which seeds a simulation test file runs. `SEED=<n>` replays exactly one run (the regression file
 * runs it; the random batches stand aside). Without it, the regression file runs a fixed list and each
 * random batch draws fresh run seeds from a batch seed, so every CI run explores new schedules while
 * any failure still names the one run seed that replays it.
 */
export { randomSeeds, replaySeed } from '../../support/seeds.js';
import { runSimulation, type SimulationReport } from './simulation.js';

/** Seeds that once exposed a bug or an interesting schedule, plus a spread of plain ones. */
export const regressionSeeds: readonly number[] = [
  // A leader's snapshot superseded a local compaction request (compact() must decline).
  120,
  // The run loop dropped the first event past a deadline, stopping a replica's clock.
  808,
  // Long partitions with many unknown outcomes (checker budget).
  100, 135, 136, 149, 321, 1383,
  ...Array.from({ length: 92 }, (_, index) => 10_000 + index * 7919),
];

/** Totals over many runs, printed once per file so coverage of faults and features is visible. */
export class Totals {
  runs = 0;
  events = 0;
  operations = 0;
  unknown = 0;
  elections = 0;
  snapshots = 0;
  lostWrites = 0;
  tornWrites = 0;
  readonly faults: Record<string, number> = {};
  readonly messages: Record<string, number> = {};

  add(report: SimulationReport): void {
    this.runs += 1;
    this.events += report.events;
    this.operations += report.operations;
    this.unknown += report.unknown;
    this.elections += report.elections;
    this.snapshots += report.snapshots;
    this.lostWrites += report.disk.lostWrites;
    this.tornWrites += report.disk.tornWrites;
    for (const [kind, count] of Object.entries(report.faults)) this.faults[kind] = (this.faults[kind] ?? 0) + count;
    for (const [kind, count] of Object.entries(report.messageTypes)) this.messages[kind] = (this.messages[kind] ?? 0) + count;
  }
}

/** Runs the seeds in order, adding each report to `totals`; the first failure throws with its seed. */
export function runSeeds(seeds: readonly number[], totals: Totals): void {
  for (const seed of seeds) totals.add(runSimulation(seed));
}
