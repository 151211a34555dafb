/**
 * Which seeds the host simulation runs, and its totals. `SEED=<n>` replays exactly one run (the
 * regression file runs it in both simulations; the random batches stand aside); otherwise the
 * regression file runs a fixed list and each random batch draws fresh run seeds from the batch seed.
 */
import { runHostSimulation, type HostSimulationReport } from './host-simulation.js';

/** A spread of plain seeds, plus any that once exposed a bug in the host. */
export const hostRegressionSeeds: readonly number[] = Array.from({ length: 30 }, (_, index) => 20_000 + index * 7919);

/** Totals over many host runs, printed once per file. */
export class HostTotals {
  runs = 0;
  events = 0;
  operations = 0;
  unknown = 0;
  elections = 0;
  crashes = 0;
  readonly watch = { events: 0, restarts: 0, revisionsChecked: 0 };
  readonly faults: Record<string, number> = {};
  readonly messages: Record<string, number> = {};

  add(report: HostSimulationReport): void {
    this.runs += 1;
    this.events += report.events;
    this.operations += report.operations;
    this.unknown += report.unknown;
    this.elections += report.elections;
    this.crashes += report.crashes;
    this.watch.events += report.watch.events;
    this.watch.restarts += report.watch.restarts;
    this.watch.revisionsChecked += report.watch.revisionsChecked;
    for (const [kind, count] of Object.entries(report.faults)) this.faults[kind] = (this.faults[kind] ?? 0) + count;
    for (const [kind, count] of Object.entries(report.messageTypes)) this.messages[kind] = (this.messages[kind] ?? 0) + count;
  }
}

/** Runs the seeds in order; the first failure rejects with its seed. */
export async function runHostSeeds(seeds: readonly number[], totals: HostTotals): Promise<void> {
  for (const seed of seeds) totals.add(await runHostSimulation(seed));
}
