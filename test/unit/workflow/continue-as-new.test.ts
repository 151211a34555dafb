/**
 * Continue-as-new (Temporal's): a run that ends with `ctx.continueAsNew(input)` is followed by the next
 * run of the same workflow id with that input and a fresh history, so a long-lived workflow's history,
 * and what a restart replays, stay bounded. Callers waiting for the result get the last run's; step
 * keys are per run; a restart recovers only the current run's history; a parent waiting for a child
 * that continues as new gets the child's final result.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { workflow } from '../../../actors/workflow/index.js';
import { TempDirectories } from '../../support/storage-temp.js';
import { EngineHarness } from './harness.js';

const temps = new TempDirectories();
let harness: EngineHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  temps.cleanup();
});

const keys: string[] = [];
const counter = workflow('counter', async (ctx, input: { n: number; limit: number }) => {
  const next = await ctx.step('add', (step) => {
    keys.push(step.idempotencyKey);
    return input.n + 1;
  });
  if (next < input.limit) return ctx.continueAsNew({ n: next, limit: input.limit });
  return next;
});
const parent = workflow('parent', async (ctx) => ctx.child<number>('count', 'counter', { n: 0, limit: 3 }));

describe('continue as new', () => {
  it('runs the next run of the same id with the new input and a fresh history; the result is the last run\'s', async () => {
    keys.length = 0;
    harness = await EngineHarness.open(temps, [counter, parent]);
    await harness.engine.start('counter', { workflowId: 'c', input: { n: 0, limit: 5 } });
    await expect(harness.engine.result('c')).resolves.toBe(5);
    expect(keys).toEqual(['c/add/1', 'c#2/add/1', 'c#3/add/1', 'c#4/add/1', 'c#5/add/1']);
    expect(harness.engine.list()).toEqual([expect.objectContaining({ workflowId: 'c', status: 'completed', run: 5 })]);
    expect(harness.types('c')).toEqual(['started', 'stepScheduled', 'stepStarted', 'stepCompleted', 'completed']);
    expect(harness.engine.history('c')[0]).toMatchObject({ type: 'started', run: 5, input: { n: 4, limit: 5 } });
    expect(harness.engine.earlierRuns('c')).toEqual([]);
    // The same start again is idempotent even though the current run's input is another.
    await expect(harness.engine.start('counter', { workflowId: 'c', input: { n: 0, limit: 5 } })).resolves.toEqual({ workflowId: 'c', existing: true });

    await harness.restart();
    expect(harness.engine.describe('c')).toMatchObject({ status: 'completed', run: 5, result: 5 });
    expect(harness.types('c')).toHaveLength(5);
    expect(keys).toHaveLength(5);
  });

  it('a parent waiting for a child that continues as new gets the child\'s final result', async () => {
    keys.length = 0;
    harness = await EngineHarness.open(temps, [counter, parent]);
    await harness.engine.start('parent', { workflowId: 'p' });
    await expect(harness.engine.result('p')).resolves.toBe(3);
    expect(keys).toEqual(['p/count/add/1', 'p/count#2/add/1', 'p/count#3/add/1']);
  });
});
