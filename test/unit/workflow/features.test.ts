/**
 * Workflow features through the engine on a real WAL with a VirtualClock: durable timers and signals
 * across restarts, replay detecting changed code (NONDETERMINISM), sagas, idempotent start, cancellation,
 * child workflows, queries, recorded now/random, and attempts of unknown outcome re-run under the same key.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NondeterminismError, WorkflowError, workflow, type StepContext, type WorkflowContext } from '../../../actors/workflow/index.js';
import { TempDirectories } from '../../support/storage-temp.js';
import { waitFor } from '../../support/wait.js';
import { EngineHarness, codedError, deferred } from './harness.js';

const temps = new TempDirectories();
let harness: EngineHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  temps.cleanup();
});

describe('durable timers and signals', () => {
  it('a timer set before a restart fires at its recorded due time, not one re-armed from the restart', async () => {
    const napper = workflow('napper', async (ctx) => {
      await ctx.sleep('cool-off', 5_000);
      return ctx.step('after', () => 'woke');
    });
    harness = await EngineHarness.open(temps, [napper]);
    const startMs = harness.clock.now();
    await harness.engine.start('napper', { workflowId: 'n1' });
    const set = await harness.until('n1', (event) => event.type === 'timerSet');
    expect(set).toMatchObject({ dueMs: startMs + 5_000 });
    harness.clock.advance(3_000);
    await harness.restart();
    harness.clock.advance(1_999);
    await harness.engine.idle();
    expect(harness.types('n1')).not.toContain('timerFired');
    harness.clock.advance(1);
    await expect(harness.engine.result('n1')).resolves.toBe('woke');
  });

  it('a signal sent before the function waits is buffered; signals recorded before a restart replay in order', async () => {
    const approvals = workflow('approvals', async (ctx) => {
      const first = await ctx.signal<string>('approve');
      const mid = await ctx.step('between', () => `got ${first}`);
      const second = await ctx.signal<string>('approve');
      return [mid, second];
    });
    harness = await EngineHarness.open(temps, [approvals]);
    await harness.engine.start('approvals', { workflowId: 'a1' });
    await harness.engine.signal('a1', 'approve', 'alice');
    await harness.until('a1', (event) => event.type === 'stepCompleted');
    await harness.restart();
    // The restarted run replays 'alice' into the first wait; 'bob' arrives after replay into the second.
    await harness.engine.signal('a1', 'approve', 'bob');
    await expect(harness.engine.result('a1')).resolves.toEqual(['got alice', 'bob']);
  });

  it('a signal sent the moment a restarted engine is open is recorded once, after the replay', async () => {
    const gate = workflow('gate', async (ctx) => {
      await ctx.step('one', () => 1);
      await ctx.step('two', () => 2);
      return ctx.signal<number>('open');
    });
    harness = await EngineHarness.open(temps, [gate]);
    await harness.engine.start('gate', { workflowId: 'g1' });
    await harness.until('g1', (event) => event.type === 'signalAwaited');
    await harness.engine.close();
    const { WorkflowEngine } = await import('../../../actors/workflow/index.js');
    const engine = await WorkflowEngine.open({ directory: harness.directory, workflows: [gate], clock: harness.clock });
    const signalled = engine.signal('g1', 'open', 42);
    harness.engine = engine;
    await signalled;
    await expect(engine.result('g1')).resolves.toBe(42);
    expect(harness.types('g1').filter((type) => type === 'signalReceived')).toHaveLength(1);
  });
});

describe('replay', () => {
  it('a changed workflow function is detected as NONDETERMINISM naming the steps that differ', async () => {
    const v1 = workflow('order', async (ctx: WorkflowContext) => {
      await ctx.step('reserve', () => 'r');
      await ctx.sleep('wait', 1_000);
      return ctx.step('ship', () => 's');
    });
    const v2 = workflow('order', async (ctx: WorkflowContext) => {
      await ctx.step('reserve-stock', () => 'r');
      await ctx.sleep('wait', 1_000);
      return ctx.step('ship', () => 's');
    });
    harness = await EngineHarness.open(temps, [v1]);
    await harness.engine.start('order', { workflowId: 'o1' });
    await harness.until('o1', (event) => event.type === 'timerSet');
    await harness.restart([v2]);
    const error = await harness.engine.result('o1').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NondeterminismError);
    expect((error as NondeterminismError).code).toBe('NONDETERMINISM');
    expect((error as NondeterminismError).expected).toEqual({ kind: 'step', name: 'reserve' });
    expect((error as NondeterminismError).actual).toEqual({ kind: 'step', name: 'reserve-stock' });
    expect(harness.engine.list()[0]!.nondeterminism).toContain('reserve-stock');
    // Nothing was appended for the diverged replay; the timer does not fire it on; signals are refused.
    const events = harness.engine.history('o1').length;
    await expect(harness.engine.signal('o1', 'poke')).rejects.toMatchObject({ code: 'NONDETERMINISM' });
    harness.clock.advance(2_000);
    await harness.engine.idle();
    expect(harness.engine.history('o1')).toHaveLength(events);
    // The original code resumes it.
    await harness.restart([v1]);
    harness.clock.advance(1);
    await expect(harness.engine.result('o1')).resolves.toBe('s');
  });

  it('an engine opened without the code of a recorded workflow type refuses to start with UNKNOWN_WORKFLOW_TYPE', async () => {
    const kept = workflow('kept', async (ctx) => ctx.signal('never'));
    harness = await EngineHarness.open(temps, [kept]);
    await harness.engine.start('kept', { workflowId: 'k1' });
    await harness.engine.close();
    const { WorkflowEngine } = await import('../../../actors/workflow/index.js');
    await expect(WorkflowEngine.open({ directory: harness.directory, workflows: [], clock: harness.clock })).rejects.toMatchObject({ code: 'UNKNOWN_WORKFLOW_TYPE' });
    harness.engine = await WorkflowEngine.open({ directory: harness.directory, workflows: [kept], clock: harness.clock });
    expect(harness.engine.describe('k1').status).toBe('running');
  });

  it('ctx.now() and ctx.random() are recorded once and replay to the same values', async () => {
    const seen: Array<[number, number]> = [];
    const stamp = workflow('stamp', async (ctx) => {
      const pair: [number, number] = [ctx.now(), ctx.random()];
      seen.push(pair);
      await ctx.signal('go');
      return pair;
    });
    harness = await EngineHarness.open(temps, [stamp]);
    await harness.engine.start('stamp', { workflowId: 's1' });
    await harness.until('s1', (event) => event.type === 'signalAwaited');
    harness.clock.advance(10_000);
    await harness.restart();
    await harness.engine.signal('s1', 'go');
    const result = await harness.engine.result('s1');
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual(seen[0]);
    expect(result).toEqual(seen[0]);
  });

  it('a step whose outcome was unknown at the crash runs again under the same idempotency key', async () => {
    const keys: string[] = [];
    const gate = deferred<void>();
    const once = workflow('once', async (ctx) => ctx.step('pay', (step: StepContext) => {
      keys.push(step.idempotencyKey);
      return keys.length === 1 ? gate.promise.then(() => 'first') : 'again';
    }));
    harness = await EngineHarness.open(temps, [once]);
    await harness.engine.start('once', { workflowId: 'p1' });
    await harness.until('p1', (event) => event.type === 'stepStarted');
    await harness.restart();
    gate.resolve();
    await expect(harness.engine.result('p1')).resolves.toBe('again');
    expect(keys).toEqual(['p1/pay/1', 'p1/pay/1']);
  });
});

describe('sagas, cancellation, children, queries, start', () => {
  it('compensates completed steps in reverse order when a later step fails for good', async () => {
    const undone: string[] = [];
    const trip = workflow('trip', async (ctx) => {
      await ctx.step('flight', () => 'F1', { compensate: (id) => void undone.push(`cancel ${id}`) });
      await ctx.step('hotel', () => 'H1', { compensate: (id) => void undone.push(`cancel ${id}`) });
      await ctx.step('car', () => { throw codedError('SOLD_OUT'); }, { retry: { nonRetryableErrorTypes: ['SOLD_OUT'] } });
      return 'booked';
    });
    harness = await EngineHarness.open(temps, [trip]);
    await harness.engine.start('trip', { workflowId: 't1' });
    await expect(harness.engine.result('t1')).rejects.toMatchObject({ failure: { type: 'SOLD_OUT' } });
    expect(undone).toEqual(['cancel H1', 'cancel F1']);
    const scheduled = harness.engine.history('t1').filter((event) => event.type === 'stepScheduled').map((event) => (event as { name: string }).name);
    expect(scheduled).toEqual(['flight', 'hotel', 'car', 'undo:hotel', 'undo:flight']);
  });

  it('cancel aborts the running step, rejects the wait with CANCELLED, compensates, and ends cancelled', async () => {
    let aborted = false;
    const undone: string[] = [];
    const job = workflow('job', async (ctx) => {
      await ctx.step('reserve', () => 'R', { compensate: () => void undone.push('release') });
      return ctx.step('work', (step: StepContext) => new Promise(() => step.signal.addEventListener('abort', () => { aborted = true; })));
    });
    harness = await EngineHarness.open(temps, [job]);
    await harness.engine.start('job', { workflowId: 'j1' });
    await harness.until('j1', (event) => event.type === 'stepStarted' && event.seq === 1);
    await harness.engine.cancel('j1');
    await harness.finished('j1');
    expect(harness.engine.describe('j1').status).toBe('cancelled');
    await waitFor(() => aborted, { what: 'abort of the running step' });
    expect(undone).toEqual(['release']);
    await expect(harness.engine.signal('j1', 'x')).rejects.toMatchObject({ code: 'WORKFLOW_NOT_RUNNING' });
  });

  it('runs a child workflow and returns its result to the parent, across a restart', async () => {
    const child = workflow('child', async (ctx, input: { n: number }) => {
      await ctx.signal('go');
      return ctx.step('square', () => input.n * input.n);
    });
    const parent = workflow('parent', async (ctx) => {
      const value = await ctx.child<number>('sq', 'child', { n: 7 });
      return ctx.step('add', () => value + 1);
    });
    harness = await EngineHarness.open(temps, [child, parent]);
    await harness.engine.start('parent', { workflowId: 'p1' });
    await harness.until('p1', (event) => event.type === 'childStarted');
    await waitFor(() => harness!.engine.list().some((run) => run.workflowId === 'p1/sq'), { what: 'child run' });
    await harness.restart();
    await harness.engine.signal('p1/sq', 'go');
    await expect(harness.engine.result('p1')).resolves.toBe(50);
    expect(harness.engine.list().filter((run) => run.workflowId === 'p1/sq')).toHaveLength(1);
  });

  it('answers queries from the live function state', async () => {
    const counter = workflow('counter', async (ctx) => {
      let count = 0;
      ctx.setQuery('count', () => count);
      for (let round = 0; round < 3; round += 1) count += await ctx.signal<number>('add', `add-${round}`);
      return count;
    });
    harness = await EngineHarness.open(temps, [counter]);
    await harness.engine.start('counter', { workflowId: 'c1' });
    await harness.engine.signal('c1', 'add', 2);
    await waitFor(() => harness!.engine.query('c1', 'count') === 2, { what: 'count 2' });
    await harness.restart();
    await waitFor(() => harness!.engine.query('c1', 'count') === 2, { what: 'count 2 after replay' });
    expect(() => harness!.engine.query('c1', 'nope')).toThrow(WorkflowError);
  });

  it('start is idempotent by id: the same input returns the run, another input is WORKFLOW_ID_CONFLICT', async () => {
    const echo = workflow('echo', async (ctx, input: { a: number; b: number }) => ctx.step('echo', () => input));
    harness = await EngineHarness.open(temps, [echo]);
    const [first, second] = await Promise.all([
      harness.engine.start('echo', { workflowId: 'e1', input: { a: 1, b: 2 } }),
      harness.engine.start('echo', { workflowId: 'e1', input: { b: 2, a: 1 } }),
    ]);
    expect([first.existing, second.existing].sort()).toEqual([false, true]);
    await expect(harness.engine.start('echo', { workflowId: 'e1', input: { a: 9, b: 2 } })).rejects.toMatchObject({ code: 'WORKFLOW_ID_CONFLICT' });
    await harness.engine.result('e1');
    await harness.restart();
    await expect(harness.engine.start('echo', { workflowId: 'e1', input: { a: 1, b: 2 } })).resolves.toMatchObject({ existing: true });
    expect(harness.types('e1').filter((type) => type === 'started')).toHaveLength(1);
    await expect(harness.engine.start('nope', { workflowId: 'x' })).rejects.toMatchObject({ code: 'UNKNOWN_WORKFLOW_TYPE' });
    await expect(harness.engine.start('echo', { workflowId: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('a step name used twice fails the run with DUPLICATE_COMMAND_NAME instead of sharing a key', async () => {
    const twice = workflow('twice', async (ctx) => {
      await ctx.step('same', () => 1);
      return ctx.step('same', () => 2);
    });
    harness = await EngineHarness.open(temps, [twice]);
    await harness.engine.start('twice', { workflowId: 'd1' });
    await expect(harness.engine.result('d1')).rejects.toMatchObject({ failure: { type: 'DUPLICATE_COMMAND_NAME' } });
  });
});
