/**
 * The pure execution core: retry decisions, timeout selection, the replay check, stale inputs. No
 * engine, no I/O: inputs in, state and effects out.
 */
import { describe, expect, it } from 'vitest';
import {
  backoffIntervalMs, decideRetry, defaultRetryPolicy, dueTimeout, emptyRunState, jitteredMs, nextWakeMs, step, type CoreInput, type RunState, type StepOptions, type StepState,
} from '../../../actors/workflow/index.js';

const options = (overrides: Partial<StepOptions['retry']> = {}, timeouts: StepOptions['timeouts'] = {}): StepOptions => ({ retry: { ...defaultRetryPolicy, jitter: 0, ...overrides }, timeouts, taskQueue: 'default' });

function run(inputs: CoreInput[], state: RunState = emptyRunState()): { state: RunState; effects: ReturnType<typeof step>['effects'][number][]; wakeAtMs: number | undefined } {
  const effects: ReturnType<typeof step>['effects'][number][] = [];
  let wakeAtMs: number | undefined;
  for (const input of inputs) {
    const output = step(state, input);
    state = output.state;
    effects.push(...output.effects);
    wakeAtMs = output.wakeAtMs;
  }
  return { state, effects, wakeAtMs };
}

const started: CoreInput = { type: 'start', workflowId: 'w1', workflowType: 't', input: null, nowMs: 0 };
const scheduleA = (stepOptions: StepOptions): CoreInput => ({ type: 'commands', commands: [{ kind: 'step', seq: 0, name: 'a', options: stepOptions }], nowMs: 0 });

describe('retry policy (Temporal shape)', () => {
  it('grows by the backoff coefficient up to the maximum interval', () => {
    const policy = { ...defaultRetryPolicy, initialIntervalMs: 100, backoffCoefficient: 3, maximumIntervalMs: 1_000 };
    expect([1, 2, 3, 4].map((attempt) => backoffIntervalMs(policy, attempt))).toEqual([100, 300, 900, 1_000]);
  });

  it('spreads a delay by the jitter with the injected random value', () => {
    const policy = { ...defaultRetryPolicy, jitter: 0.5 };
    expect(jitteredMs(policy, 1_000, 0)).toBe(500);
    expect(jitteredMs(policy, 1_000, 0.5)).toBe(1_000);
    expect(jitteredMs(policy, 1_000, 0.999)).toBeLessThan(1_500);
  });

  it('refuses to retry a non-retryable type, an exhausted attempt count, or past scheduleToClose', () => {
    const base: StepState = { seq: 0, name: 'a', options: options({ maximumAttempts: 3, nonRetryableErrorTypes: ['CARD_DECLINED'] }, { scheduleToCloseMs: 5_000 }), firstScheduledAtMs: 0, attempt: 1, phase: 'started', attemptScheduledAtMs: 0 };
    expect(decideRetry(base, { type: 'CARD_DECLINED', message: '' }, 0, 0)).toEqual({ retry: false, reason: 'nonRetryable' });
    expect(decideRetry({ ...base, attempt: 3 }, { type: 'E', message: '' }, 0, 0)).toEqual({ retry: false, reason: 'attemptsExhausted' });
    expect(decideRetry(base, { type: 'E', message: '' }, 4_500, 0)).toEqual({ retry: false, reason: 'scheduleToClose' });
    expect(decideRetry(base, { type: 'E', message: '' }, 100, 0)).toEqual({ retry: true, retryAtMs: 1_100 });
  });
});

describe('run machine', () => {
  it('records a new step and dispatches it with the idempotency key <workflowId>/<step>/<attempt>', () => {
    const { effects, state } = run([started, scheduleA(options())]);
    expect(effects.map((effect) => effect.type)).toEqual(['append', 'append', 'dispatch']);
    expect(effects[2]).toMatchObject({ type: 'dispatch', idempotencyKey: 'w1/a/1', attempt: 1 });
    expect(state.commands).toEqual([{ kind: 'step', name: 'a' }]);
  });

  it('reports NONDETERMINISM naming both commands when a replay asks for a different step', () => {
    const before = run([started, scheduleA(options())]).state;
    const { effects, state } = run([{ type: 'commands', commands: [{ kind: 'step', seq: 0, name: 'b', options: options() }], nowMs: 0 }], before);
    expect(effects).toEqual([{ type: 'nondeterminism', seq: 0, expected: { kind: 'step', name: 'a' }, actual: { kind: 'step', name: 'b' } }]);
    expect(state.diverged).toBe(true);
    for (const input of [{ type: 'commands', commands: [{ kind: 'timer', seq: 1, name: 't', dueMs: 5 }], nowMs: 0 }, { type: 'signal', name: 's', payload: 1 }, { type: 'tick', nowMs: 10_000, random: 0 }] as CoreInput[]) {
      expect(run([input], state).effects).toEqual([]);
    }
  });

  it('reports NONDETERMINISM when a replay issues fewer commands than the history holds', () => {
    const before = run([started, scheduleA(options())]).state;
    expect(run([{ type: 'recover', nowMs: 0, issued: 0 }], before).effects).toEqual([{ type: 'nondeterminism', seq: 0, expected: { kind: 'step', name: 'a' }, actual: undefined }]);
  });

  it('drops the late result of an attempt that timed out', () => {
    const stepOptions = options({ initialIntervalMs: 10 }, { startToCloseMs: 100 });
    const { state } = run([started, scheduleA(stepOptions), { type: 'stepStarted', seq: 0, attempt: 1, nowMs: 0 }, { type: 'tick', nowMs: 100, random: 0 }]);
    expect(state.steps[0]).toMatchObject({ phase: 'backoff', attempt: 1 });
    const late = run([{ type: 'stepResult', seq: 0, attempt: 1, ok: true, result: 1, nowMs: 101, random: 0 }], { ...state, steps: { 0: { ...state.steps[0]!, attempt: 2, phase: 'started' } } });
    expect(late.effects).toEqual([]);
  });

  it('picks the timeout that fired: scheduleToClose, scheduleToStart, startToClose, heartbeat', () => {
    const base: StepState = { seq: 0, name: 'a', options: options({}, { scheduleToCloseMs: 1_000, scheduleToStartMs: 50, startToCloseMs: 300, heartbeatMs: 100 }), firstScheduledAtMs: 0, attempt: 1, phase: 'scheduled', attemptScheduledAtMs: 0 };
    expect(dueTimeout(base, 49)).toBeUndefined();
    expect(dueTimeout(base, 50)).toBe('scheduleToStart');
    const running: StepState = { ...base, phase: 'started', startedAtMs: 10, lastHeartbeatMs: 10 };
    expect(dueTimeout(running, 110)).toBe('heartbeat');
    expect(dueTimeout({ ...running, lastHeartbeatMs: 250 }, 310)).toBe('startToClose');
    expect(dueTimeout({ ...running, lastHeartbeatMs: 990 }, 1_000)).toBe('scheduleToClose');
    expect(nextWakeMs(run([started, scheduleA(base.options)]).state)).toBe(50);
  });

  it('ends a run at its execution timeout and aborts the attempts in flight', () => {
    const start: CoreInput = { ...started, executionTimeoutMs: 500 } as CoreInput;
    const { state, effects } = run([start, scheduleA(options()), { type: 'tick', nowMs: 500, random: 0 }]);
    expect(state.status).toBe('timedOut');
    expect(effects.slice(-2).map((effect) => effect.type)).toEqual(['abort', 'finished']);
  });

  it('re-dispatches an attempt of unknown outcome under the same attempt number after recovery', () => {
    const before = run([started, scheduleA(options()), { type: 'stepStarted', seq: 0, attempt: 1, nowMs: 5 }]).state;
    const { effects } = run([{ type: 'recover', nowMs: 50, issued: 1 }], before);
    expect(effects).toEqual([expect.objectContaining({ type: 'dispatch', attempt: 1, idempotencyKey: 'w1/a/1' })]);
  });

  it('ignores everything but queries after the run ended', () => {
    const done = run([started, { type: 'commands', commands: [{ kind: 'complete', seq: 0, result: 1 }], nowMs: 0 }]).state;
    expect(done.status).toBe('completed');
    for (const input of [{ type: 'signal', name: 's', payload: 1 }, { type: 'cancel', nowMs: 1 }, { type: 'tick', nowMs: 1, random: 0 }] as CoreInput[]) {
      expect(run([input], done).effects).toEqual([]);
    }
  });
});
