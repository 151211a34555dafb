/**
 * Step retries and the four timeouts, end to end through the engine on a real WAL, with time driven by
 * a VirtualClock: every path is reached by advancing the clock, never by waiting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WorkflowFailedError, workflow, type HistoryEvent, type StepContext } from '../../../actors/workflow/index.js';
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

const retry = { initialIntervalMs: 100, backoffCoefficient: 2, maximumIntervalMs: 1_000, jitter: 0 };

describe('step retries', () => {
  it('retries a failing step with exponential backoff and a new idempotency key per attempt', async () => {
    const keys: string[] = [];
    const flaky = workflow('flaky', async (ctx) => ctx.step('charge', (step: StepContext) => {
      keys.push(step.idempotencyKey);
      if (step.attempt < 3) throw codedError('UNAVAILABLE');
      return 'charged';
    }, { retry: { ...retry, maximumAttempts: 5 } }));
    harness = await EngineHarness.open(temps, [flaky]);
    const start = harness.clock.now();
    await harness.engine.start('flaky', { workflowId: 'f1' });
    const first = await harness.until('f1', (event) => event.type === 'stepFailed', 'first failure');
    expect(first).toMatchObject({ attempt: 1, final: false, retryAtMs: start + 100 });
    harness.clock.advance(100);
    await harness.until('f1', (event) => event.type === 'stepFailed' && event.attempt === 2, 'second failure');
    const second = harness.engine.history('f1').find((event) => event.type === 'stepFailed' && event.attempt === 2);
    expect(second).toMatchObject({ retryAtMs: start + 100 + 200 });
    harness.clock.advance(199);
    expect(keys).toHaveLength(2);
    harness.clock.advance(1);
    await expect(harness.engine.result('f1')).resolves.toBe('charged');
    expect(keys).toEqual(['f1/charge/1', 'f1/charge/2', 'f1/charge/3']);
  });

  it('fails a step at once on a non-retryable error type and fails the workflow with it', async () => {
    let attempts = 0;
    const declined = workflow('declined', async (ctx) => ctx.step('charge', () => {
      attempts += 1;
      throw codedError('CARD_DECLINED', 'card declined');
    }, { retry: { ...retry, nonRetryableErrorTypes: ['CARD_DECLINED'] } }));
    harness = await EngineHarness.open(temps, [declined]);
    await harness.engine.start('declined', { workflowId: 'd1' });
    const error = await harness.engine.result('d1').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).failure.type).toBe('CARD_DECLINED');
    expect(attempts).toBe(1);
    expect(harness.engine.history('d1').find((event) => event.type === 'stepFailed')).toMatchObject({ final: true });
  });

  it('gives up after maximumAttempts', async () => {
    const always = workflow('always', async (ctx) => ctx.step('s', () => { throw new Error('nope'); }, { retry: { ...retry, maximumAttempts: 2 } }));
    harness = await EngineHarness.open(temps, [always]);
    await harness.engine.start('always', { workflowId: 'a1' });
    await harness.until('a1', (event) => event.type === 'stepFailed');
    harness.clock.advance(100);
    await harness.finished('a1');
    expect(harness.engine.history('a1').filter((event) => event.type === 'stepFailed').map((event) => (event as { final: boolean }).final)).toEqual([false, true]);
  });
});

describe('step timeouts', () => {
  it('startToClose: aborts the hung attempt through its AbortSignal and retries it', async () => {
    const aborted: string[] = [];
    const hung = workflow('hung', async (ctx) => ctx.step('call', (step: StepContext) => {
      if (step.attempt === 2) return 'second time';
      return new Promise((_resolve, reject) => step.signal.addEventListener('abort', () => {
        aborted.push(step.idempotencyKey);
        reject(new Error('aborted'));
      }));
    }, { retry, timeouts: { startToCloseMs: 1_000 } }));
    harness = await EngineHarness.open(temps, [hung]);
    await harness.engine.start('hung', { workflowId: 'h1' });
    await harness.until('h1', (event) => event.type === 'stepStarted');
    harness.clock.advance(1_000);
    const timedOut = await harness.until('h1', (event) => event.type === 'stepTimedOut');
    expect(timedOut).toMatchObject({ timeout: 'startToClose', final: false, attempt: 1 });
    expect(aborted).toEqual(['h1/call/1']);
    harness.clock.advance(100);
    await expect(harness.engine.result('h1')).resolves.toBe('second time');
  });

  it('heartbeat: a long step that keeps heartbeating lives; one that stops is timed out', async () => {
    const beats = deferred<void>();
    let beat: ((details: unknown) => void) | undefined;
    const long = workflow('long', async (ctx) => ctx.step('crunch', (step: StepContext) => {
      if (step.attempt > 1) return 'done';
      beat = (details) => step.heartbeat(details);
      beats.resolve();
      return new Promise(() => {});
    }, { retry, timeouts: { heartbeatMs: 500, startToCloseMs: 60_000 } }));
    harness = await EngineHarness.open(temps, [long]);
    await harness.engine.start('long', { workflowId: 'l1' });
    await beats.promise;
    await harness.until('l1', (event) => event.type === 'stepStarted');
    for (let round = 0; round < 4; round += 1) {
      harness.clock.advance(400);
      beat!({ round });
      await harness.engine.idle();
    }
    expect(harness.types('l1')).not.toContain('stepTimedOut');
    harness.clock.advance(500);
    const timedOut = await harness.until('l1', (event) => event.type === 'stepTimedOut');
    expect(timedOut).toMatchObject({ timeout: 'heartbeat', attempt: 1, final: false });
    harness.clock.advance(100);
    await expect(harness.engine.result('l1')).resolves.toBe('done');
  });

  it('scheduleToStart: an attempt left queued behind a full task queue fails for good', async () => {
    const blocker = deferred<string>();
    const queued = workflow('queued', async (ctx) => {
      const first = ctx.step('blocker', () => blocker.promise, { taskQueue: 'narrow' });
      const second = ctx.step('waiting', () => 'ran', { taskQueue: 'narrow', timeouts: { scheduleToStartMs: 200 } });
      return Promise.all([first, second]);
    });
    harness = await EngineHarness.open(temps, [queued], { taskQueues: { narrow: 1 } });
    await harness.engine.start('queued', { workflowId: 'q1' });
    await harness.until('q1', (event) => event.type === 'stepStarted');
    harness.clock.advance(200);
    const timedOut = await harness.until('q1', (event) => event.type === 'stepTimedOut');
    expect(timedOut).toMatchObject({ timeout: 'scheduleToStart', final: true });
    blocker.resolve('late');
    const error = await harness.engine.result('q1').catch((caught: unknown) => caught);
    expect((error as WorkflowFailedError).failure.type).toBe('TIMEOUT');
  });

  it('scheduleToClose: bounds the step across all its retries', async () => {
    const never = workflow('never', async (ctx) => ctx.step('s', () => { throw new Error('down'); }, { retry: { ...retry, maximumAttempts: 0 }, timeouts: { scheduleToCloseMs: 1_000 } }));
    harness = await EngineHarness.open(temps, [never]);
    await harness.engine.start('never', { workflowId: 'n1' });
    for (let round = 0; round < 12 && harness.engine.describe('n1').status === 'running'; round += 1) {
      await harness.engine.idle();
      harness.clock.advance(100);
      await waitFor(async () => { await harness!.engine.idle(); return true; });
    }
    await harness.finished('n1');
    const failures = harness.engine.history('n1').filter((event): event is Extract<HistoryEvent, { type: 'stepFailed' }> => event.type === 'stepFailed');
    expect(failures.at(-1)!.final).toBe(true);
    expect(failures.length).toBeGreaterThan(1);
    expect(harness.engine.describe('n1').status).toBe('failed');
  });

  it('workflow execution timeout ends the run and aborts its running step', async () => {
    let abortedReason: unknown;
    const slow = workflow('slow', async (ctx) => ctx.step('s', (step: StepContext) => new Promise(() => step.signal.addEventListener('abort', () => { abortedReason = step.signal.reason; }))), { executionTimeoutMs: 5_000 });
    harness = await EngineHarness.open(temps, [slow]);
    await harness.engine.start('slow', { workflowId: 's1' });
    await harness.until('s1', (event) => event.type === 'stepStarted');
    harness.clock.advance(5_000);
    await harness.finished('s1');
    expect(harness.engine.describe('s1').status).toBe('timedOut');
    await waitFor(() => abortedReason !== undefined, { what: 'the running step to be aborted' });
    await expect(harness.engine.result('s1')).rejects.toMatchObject({ code: 'WORKFLOW_FAILED', status: 'timedOut' });
  });
});
