/**
 * The fold of a history into a run's state. `applyEvent` is the only place state changes, so the state
 * after recovery (a fold of the WAL) equals the state the live run had when it wrote the same events.
 */
import { assert } from '../../../runtime/index.js';
import type { HistoryEvent, RunState, StepState } from './types.js';

/** The state before any event: replaced by the `started` event. */
export function emptyRunState(): RunState {
  return {
    workflowId: '', workflowType: '', input: null, status: 'running', run: 1, startedAtMs: 0, commands: [], steps: {}, timers: {},
    children: {}, cancelRequested: false, events: 0, diverged: false,
  };
}

/** Folds a whole history. */
export function foldHistory(events: readonly HistoryEvent[]): RunState {
  let state = emptyRunState();
  for (const event of events) state = applyEvent(state, event);
  return state;
}

function withStep(state: RunState, seq: number, change: (step: StepState) => StepState): RunState {
  const step = state.steps[seq];
  assert(step !== undefined, 'event for an unknown step', { seq });
  return { ...state, steps: { ...state.steps, [seq]: change(step) } };
}

function record(state: RunState, seq: number, kind: RunState['commands'][number]['kind'], name: string): RunState {
  assert(seq === state.commands.length, 'commands are recorded in sequence', { seq, recorded: state.commands.length });
  return { ...state, commands: [...state.commands, { kind, name }] };
}

/** Applies one event to the state. Asserts the history's own invariants (sequence, known steps). */
export function applyEvent(previous: RunState, event: HistoryEvent): RunState {
  const state = { ...previous, events: previous.events + 1 };
  switch (event.type) {
    case 'started':
      return {
        ...state, workflowId: event.workflowId, workflowType: event.workflowType, input: event.input, startedAtMs: event.atMs, run: event.run ?? 1,
        ...(event.executionTimeoutMs !== undefined ? { executionDeadlineMs: event.atMs + event.executionTimeoutMs } : {}),
        ...(event.parentId !== undefined ? { parentId: event.parentId, parentSeq: event.parentSeq ?? 0 } : {}),
      };
    case 'stepScheduled': {
      const scheduled = { attempt: event.attempt, phase: 'scheduled' as const, attemptScheduledAtMs: event.atMs };
      if (event.attempt === 1) {
        const recorded = record(state, event.seq, 'step', event.name);
        const step: StepState = { seq: event.seq, name: event.name, options: event.options, firstScheduledAtMs: event.atMs, ...scheduled };
        return { ...recorded, steps: { ...recorded.steps, [event.seq]: step } };
      }
      return withStep(state, event.seq, (step) => ({ seq: step.seq, name: step.name, options: step.options, firstScheduledAtMs: step.firstScheduledAtMs, ...scheduled }));
    }
    case 'stepStarted':
      return withStep(state, event.seq, (step) => ({ ...step, phase: 'started', startedAtMs: event.atMs, lastHeartbeatMs: event.atMs }));
    case 'stepCompleted':
      return withStep(state, event.seq, (step) => ({ ...step, phase: 'completed' }));
    case 'stepFailed':
    case 'stepTimedOut':
      return withStep(state, event.seq, (step) => (event.final ? { ...step, phase: 'failed' } : { ...step, phase: 'backoff', retryAtMs: event.retryAtMs ?? 0 }));
    case 'timerSet': {
      const recorded = record(state, event.seq, 'timer', event.name);
      return { ...recorded, timers: { ...recorded.timers, [event.seq]: { name: event.name, dueMs: event.dueMs, fired: false } } };
    }
    case 'timerFired': {
      const timer = state.timers[event.seq];
      assert(timer !== undefined, 'fired an unknown timer', { seq: event.seq });
      return { ...state, timers: { ...state.timers, [event.seq]: { ...timer, fired: true } } };
    }
    case 'signalAwaited':
      return record(state, event.seq, 'signal', event.name);
    case 'markerRecorded':
      return record(state, event.seq, 'marker', event.name);
    case 'childStarted': {
      const recorded = record(state, event.seq, 'child', event.name);
      return { ...recorded, children: { ...recorded.children, [event.seq]: { childId: event.childId, workflowType: event.workflowType, input: event.input, done: false } } };
    }
    case 'childCompleted': {
      const child = state.children[event.seq];
      assert(child !== undefined, 'result of an unknown child', { seq: event.seq });
      return { ...state, children: { ...state.children, [event.seq]: { ...child, done: true } } };
    }
    case 'signalReceived':
      return state;
    case 'cancelRequested':
      return { ...state, cancelRequested: true };
    case 'completed':
      return { ...record(state, state.commands.length, 'complete', ''), status: 'completed', result: event.result };
    case 'failed':
      return { ...record(state, state.commands.length, 'fail', ''), status: 'failed', failure: event.failure };
    case 'cancelled':
      return { ...record(state, state.commands.length, 'fail', ''), status: 'cancelled', failure: event.failure };
    case 'continuedAsNew':
      return { ...record(state, state.commands.length, 'continue', ''), status: 'continued', continuedWith: event.input };
    case 'timedOut':
      return { ...state, status: 'timedOut', failure: { type: 'WORKFLOW_TIMED_OUT', message: 'workflow execution timeout' } };
    default: {
      const unknown: never = event;
      assert(false, 'unknown history event', { event: unknown });
      return state;
    }
  }
}
