/**
 * Model-based test of the supervisor core: thousands of seeded schedules (nested supervisors, crashes
 * during backoff, during a sibling's restart, right before a stop, inside init, bursts past intensity,
 * poison messages) run on the real core and on the reference model side by side; after every event the
 * tree, the restart counts, the settled messages and the set of live children must agree, and no
 * permanent child of a live supervisor may be without a running incarnation or a scheduled restart.
 *
 * The budget is a number of schedules, not a time. `SEED=<n>` replays exactly one schedule; a failure
 * prints its seed and a shrunk schedule. The mutant test runs the same checker against a core with the
 * old single-counter rule (a restart timer that is not the latest one is dropped) and must catch it.
 */
import { describe, expect, it } from 'vitest';
import { createRng, seedFromEnvironment } from '../../../runtime/rng.js';
import { supervisorStep } from '../../../supervisors/core.js';
import { checkSchedule, shrink, type Step } from './harness.js';
import { generateSchedule } from './schedule.js';

const schedulesPerRun = 2000;

function replaySeed(): number | undefined {
  const value = process.env.SEED;
  return value === undefined || value === '' ? undefined : seedFromEnvironment();
}

/** Run seeds: the replayed one, or `count` drawn from a fresh batch seed. */
function runSeeds(count: number): number[] {
  const replay = replaySeed();
  if (replay !== undefined) return [replay];
  const batch = createRng(seedFromEnvironment());
  return Array.from({ length: count }, () => Math.floor(batch.next() * 4294967296) >>> 0);
}

/** The first failing seed among `seeds`, with its message and shrunk schedule. */
function firstFailure(seeds: readonly number[], step: Step): { seed: number; index: number; message: string; shrunk: string } | undefined {
  for (const [index, seed] of seeds.entries()) {
    const schedule = generateSchedule(createRng(seed));
    const message = checkSchedule(schedule, step);
    if (message === undefined) continue;
    const small = shrink(schedule, step);
    return { seed, index, message, shrunk: JSON.stringify(small, null, 1) };
  }
  return undefined;
}

/** The old bug, put back: one counter per supervisor; a restart timer that is not the latest is dropped. */
const singleCounterMutant: Step = (state, input) => {
  if (input.type === 'restartDue' && input.group !== state.nextGroup - 1) return { state, effects: [] };
  return supervisorStep(state, input);
};

describe('supervisor core against the reference model', () => {
  it(`agrees with the model on ${replaySeed() === undefined ? schedulesPerRun : 1} random schedules`, () => {
    const seeds = runSeeds(schedulesPerRun);
    const failure = firstFailure(seeds, supervisorStep);
    if (failure !== undefined) {
      throw new Error(`seed ${failure.seed} (replay: SEED=${failure.seed} npx vitest run test/sim/supervisors) failed:\n${failure.message}\nshrunk schedule:\n${failure.shrunk}`);
    }
    console.log(`supervisor model-based test: ${seeds.length} schedules agree (seeds from ${replaySeed() ?? 'a fresh batch seed'})`);
  });

  it.skipIf(replaySeed() !== undefined)('catches a core that keeps one restart counter per supervisor (the mutant fails within the budget)', () => {
    const seeds = runSeeds(schedulesPerRun);
    const failure = firstFailure(seeds, singleCounterMutant);
    expect(failure, 'the mutant survived every schedule').toBeDefined();
    console.log(`single-counter mutant caught at schedule ${failure!.index + 1} of ${seeds.length} (seed ${failure!.seed}):\n${failure!.message.split('\n')[0]}`);
  });
});
