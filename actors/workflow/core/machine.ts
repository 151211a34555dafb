/**
 * The execution core of one workflow run: `step(state, input) -> { state, effects, wakeAtMs }`.
 *
 * A run is a state machine over its event history (types.ts). The workflow function, run by the
 * shell, turns the history into commands; this core checks each command against the recorded one at
 * the same sequence number (a replay that asks for something else is NONDETERMINISM, reported and
 * never continued), records new commands as events, and decides everything the run does next:
 * dispatch or retry a step, which of the four timeouts fired, when a timer is due, when the run ends.
 * Time and randomness arrive as inputs (`nowMs`, `random`), so the same inputs give the same output.
 *
 * Invariants: commands are recorded in sequence without gaps; an attempt's result counts only while
 * that attempt is the live one (late results of a timed-out attempt are dropped); nothing changes a
 * run after it reached a terminal status; every effect after an `append` assumes the append is durable.
 */
import { assert } from '../../../runtime/index.js';
import { applyEvent } from './history.js';
import { decideRetry } from './retry.js';
import type { Command, CoreInput, CoreOutput, Effect, FailureInfo, HistoryEvent, RecordedCommand, RunState, StepState, TimeoutKind } from './types.js';

/** Accumulates events (applied at once) and effects; consecutive events become one `append`. */
class Output {
  state: RunState;
  readonly effects: Effect[] = [];
  #batch: HistoryEvent[] = [];

  constructor(state: RunState) {
    this.state = state;
  }

  event(event: HistoryEvent): void {
    this.state = applyEvent(this.state, event);
    this.#batch.push(event);
  }

  effect(effect: Effect): void {
    this.#flush();
    this.effects.push(effect);
  }

  done(): CoreOutput {
    this.#flush();
    return { state: this.state, effects: this.effects, wakeAtMs: nextWakeMs(this.state) };
  }

  #flush(): void {
    if (this.#batch.length === 0) return;
    this.effects.push({ type: 'append', events: this.#batch });
    this.#batch = [];
  }
}

/** `{ atMs }` when the input carried a time (older inputs and histories may not). */
function at(nowMs: number | undefined): { atMs?: number } {
  return nowMs === undefined ? {} : { atMs: nowMs };
}

/**
 * The idempotency key of a step attempt: stable across crashes and replays. A retried workflow (run 2
 * and later of the same id) gets keys of its own, `<workflowId>#<run>/<step>/<attempt>`, so its steps
 * are new effects rather than answers deduplicated against the failed run's.
 */
export function idempotencyKey(workflowId: string, stepName: string, attempt: number, run = 1): string {
  return `${run > 1 ? `${workflowId}#${run}` : workflowId}/${stepName}/${attempt}`;
}

/** Advances a run by one input. Pure: no I/O, no clock, no randomness beyond `input`. */
export function step(state: RunState, input: CoreInput): CoreOutput {
  // A diverged replay takes nothing more: the history stays as it was until the original code returns.
  if (state.diverged) return { state, effects: [], wakeAtMs: undefined };
  const out = new Output(state);
  switch (input.type) {
    case 'start':
      if (state.events === 0) {
        out.event({
          type: 'started', workflowId: input.workflowId, workflowType: input.workflowType, input: input.input, atMs: input.nowMs,
          ...(input.executionTimeoutMs !== undefined ? { executionTimeoutMs: input.executionTimeoutMs } : {}),
          ...(input.parentId !== undefined ? { parentId: input.parentId, parentSeq: input.parentSeq ?? 0 } : {}),
          ...(input.run !== undefined && input.run > 1 ? { run: input.run } : {}),
        });
      }
      break;
    case 'commands':
      for (const command of input.commands) if (!applyCommand(out, command, input.nowMs)) break;
      break;
    case 'stepStarted': {
      const current = liveStep(out.state, input.seq, input.attempt);
      if (current?.phase === 'scheduled') out.event({ type: 'stepStarted', seq: input.seq, attempt: input.attempt, atMs: input.nowMs });
      break;
    }
    case 'stepResult':
      stepResult(out, input);
      break;
    case 'heartbeat': {
      const current = liveStep(out.state, input.seq, input.attempt);
      if (current?.phase === 'started') out.state = replaceStep(out.state, { ...current, lastHeartbeatMs: input.nowMs });
      break;
    }
    case 'tick':
      tick(out, input.nowMs, input.random);
      break;
    case 'signal':
      if (out.state.status === 'running') out.event({ type: 'signalReceived', name: input.name, payload: input.payload, ...at(input.nowMs) });
      break;
    case 'childResult': {
      const child = out.state.children[input.seq];
      if (out.state.status === 'running' && child !== undefined && !child.done) {
        out.event({ type: 'childCompleted', seq: input.seq, ok: input.ok, ...(input.ok ? { result: input.result } : { failure: input.failure ?? { type: 'Error', message: 'child failed' } }), ...at(input.nowMs) });
      }
      break;
    }
    case 'cancel':
      cancel(out, input.nowMs);
      break;
    case 'recover':
      recover(out, input.nowMs, input.issued);
      break;
    default: {
      const unknown: never = input;
      assert(false, 'unknown core input', { input: unknown });
    }
  }
  return out.done();
}

/** Checks the replay against the history, then executes new commands; false once the run diverged or ended. */
function applyCommand(out: Output, command: Command, nowMs: number): boolean {
  const state = out.state;
  if (state.status !== 'running' || state.diverged) return false;
  const actual: RecordedCommand = { kind: command.kind, name: commandName(command) };
  if (command.seq < state.commands.length) {
    const expected = state.commands[command.seq]!;
    if (expected.kind === actual.kind && expected.name === actual.name) return true;
    diverge(out, command.seq, expected, actual);
    return false;
  }
  if (command.seq !== state.commands.length) {
    diverge(out, state.commands.length, undefined, actual);
    return false;
  }
  executeCommand(out, command, nowMs);
  return out.state.status === 'running';
}

function commandName(command: Command): string {
  return command.kind === 'complete' || command.kind === 'fail' || command.kind === 'continue' ? '' : command.name;
}

function diverge(out: Output, seq: number, expected: RecordedCommand | undefined, actual: RecordedCommand | undefined): void {
  out.state = { ...out.state, diverged: true };
  out.effect({ type: 'nondeterminism', seq, expected, actual });
}

function executeCommand(out: Output, command: Command, nowMs: number): void {
  const workflowId = out.state.workflowId;
  switch (command.kind) {
    case 'step':
      out.event({ type: 'stepScheduled', seq: command.seq, name: command.name, attempt: 1, atMs: nowMs, options: command.options });
      out.effect(dispatch(out.state, out.state.steps[command.seq]!));
      return;
    case 'timer':
      out.event({ type: 'timerSet', seq: command.seq, name: command.name, dueMs: command.dueMs });
      return;
    case 'signal':
      out.event({ type: 'signalAwaited', seq: command.seq, name: command.name });
      return;
    case 'marker':
      out.event({ type: 'markerRecorded', seq: command.seq, name: command.name, value: command.value });
      return;
    case 'child': {
      // A retried run (run 2 and later) starts children of its own rather than finding the failed run's.
      const childId = `${out.state.run > 1 ? `${workflowId}#${out.state.run}` : workflowId}/${command.name}`;
      out.event({ type: 'childStarted', seq: command.seq, name: command.name, childId, workflowType: command.workflowType, input: command.input });
      out.effect({ type: 'startChild', seq: command.seq, childId, workflowType: command.workflowType, input: command.input });
      return;
    }
    case 'complete':
      finish(out, { type: 'completed', result: command.result, atMs: nowMs });
      return;
    case 'continue':
      finish(out, { type: 'continuedAsNew', input: command.input, atMs: nowMs });
      return;
    case 'fail':
      finish(out, out.state.cancelRequested && command.failure.type === 'CANCELLED' ? { type: 'cancelled', failure: command.failure, atMs: nowMs } : { type: 'failed', failure: command.failure, atMs: nowMs });
      return;
  }
}

function dispatch(state: RunState, current: StepState): Effect {
  return { type: 'dispatch', seq: current.seq, name: current.name, attempt: current.attempt, idempotencyKey: idempotencyKey(state.workflowId, current.name, current.attempt, state.run), taskQueue: current.options.taskQueue };
}

/** Records the terminal event, aborts every attempt still in flight, and reports the outcome. */
function finish(out: Output, event: Extract<HistoryEvent, { type: 'completed' | 'failed' | 'cancelled' | 'timedOut' | 'continuedAsNew' }>): void {
  const inFlight = Object.values(out.state.steps).filter((each) => each.phase === 'scheduled' || each.phase === 'started');
  out.event(event);
  for (const each of inFlight) out.effect({ type: 'abort', seq: each.seq, attempt: each.attempt, reason: `workflow ${event.type}` });
  const state = out.state;
  if (state.status === 'running') return;
  out.effect({ type: 'finished', status: state.status, ...(state.status === 'completed' ? { result: state.result } : state.status === 'continued' ? {} : { failure: state.failure! }) });
}

/** The step's current attempt, if `attempt` is it and the run still runs; otherwise the input is stale. */
function liveStep(state: RunState, seq: number, attempt: number): StepState | undefined {
  const current = state.steps[seq];
  if (state.status !== 'running' || current === undefined || current.attempt !== attempt) return undefined;
  return current;
}

function replaceStep(state: RunState, current: StepState): RunState {
  return { ...state, steps: { ...state.steps, [current.seq]: current } };
}

function stepResult(out: Output, input: Extract<CoreInput, { type: 'stepResult' }>): void {
  const current = liveStep(out.state, input.seq, input.attempt);
  if (current === undefined || (current.phase !== 'started' && current.phase !== 'scheduled')) return;
  if (input.ok) {
    out.event({ type: 'stepCompleted', seq: input.seq, attempt: input.attempt, result: input.result ?? null, atMs: input.nowMs });
    return;
  }
  const failure = input.failure ?? { type: 'Error', message: 'step failed' };
  const decision = decideRetry(current, failure, input.nowMs, input.random);
  out.event({ type: 'stepFailed', seq: input.seq, attempt: input.attempt, failure, final: !decision.retry, ...(decision.retry ? { retryAtMs: decision.retryAtMs } : {}), atMs: input.nowMs });
}

/** Which timeout of `current` is due at `nowMs`, if any (scheduleToClose first: it ends all retries). */
export function dueTimeout(current: StepState, nowMs: number): TimeoutKind | undefined {
  const timeouts = current.options.timeouts;
  const open = current.phase === 'scheduled' || current.phase === 'started' || current.phase === 'backoff';
  if (!open) return undefined;
  if (timeouts.scheduleToCloseMs !== undefined && nowMs >= current.firstScheduledAtMs + timeouts.scheduleToCloseMs) return 'scheduleToClose';
  if (current.phase === 'scheduled' && timeouts.scheduleToStartMs !== undefined && nowMs >= current.attemptScheduledAtMs + timeouts.scheduleToStartMs) return 'scheduleToStart';
  if (current.phase !== 'started') return undefined;
  if (timeouts.startToCloseMs !== undefined && nowMs >= (current.startedAtMs ?? 0) + timeouts.startToCloseMs) return 'startToClose';
  if (timeouts.heartbeatMs !== undefined && nowMs >= (current.lastHeartbeatMs ?? 0) + timeouts.heartbeatMs) return 'heartbeat';
  return undefined;
}

/** Fires what is due at `nowMs`: the execution timeout, timers, step timeouts, retries after backoff. */
function tick(out: Output, nowMs: number, random: number): void {
  if (out.state.status !== 'running') return;
  const deadline = out.state.executionDeadlineMs;
  if (deadline !== undefined && nowMs >= deadline) {
    finish(out, { type: 'timedOut', atMs: nowMs });
    return;
  }
  for (const [seqText, timer] of Object.entries(out.state.timers)) {
    if (!timer.fired && nowMs >= timer.dueMs) out.event({ type: 'timerFired', seq: Number(seqText), atMs: nowMs });
  }
  let uses = 0;
  for (const current of Object.values(out.state.steps)) {
    // Several retries in one tick each get their own spread of the one random input.
    const spread = (random + uses * 0.6180339887) % 1;
    uses += 1;
    const timeout = dueTimeout(current, nowMs);
    if (timeout !== undefined) {
      timeOut(out, current, timeout, nowMs, spread);
    } else if (current.phase === 'backoff' && nowMs >= (current.retryAtMs ?? 0)) {
      out.event({ type: 'stepScheduled', seq: current.seq, name: current.name, attempt: current.attempt + 1, atMs: nowMs, options: current.options });
      out.effect(dispatch(out.state, out.state.steps[current.seq]!));
    }
  }
}

/** scheduleToStart and scheduleToClose end the step; startToClose and heartbeat retry per policy. */
function timeOut(out: Output, current: StepState, timeout: TimeoutKind, nowMs: number, random: number): void {
  const failure: FailureInfo = { type: 'TIMEOUT', message: `step ${current.name} attempt ${current.attempt}: ${timeout} timeout` };
  const retryable = timeout === 'startToClose' || timeout === 'heartbeat';
  const decision = retryable ? decideRetry(current, failure, nowMs, random) : undefined;
  const retry = decision?.retry === true ? decision.retryAtMs : undefined;
  const wasRunning = current.phase !== 'backoff';
  out.event({ type: 'stepTimedOut', seq: current.seq, attempt: current.attempt, timeout, final: retry === undefined, ...(retry !== undefined ? { retryAtMs: retry } : {}), atMs: nowMs });
  if (wasRunning) out.effect({ type: 'abort', seq: current.seq, attempt: current.attempt, reason: failure.message });
}

/** A cancel request ends every step in flight (their awaits see the cancellation) and aborts them. */
function cancel(out: Output, nowMs: number): void {
  if (out.state.status !== 'running' || out.state.cancelRequested) return;
  out.event({ type: 'cancelRequested', atMs: nowMs });
  for (const current of Object.values(out.state.steps)) {
    if (current.phase !== 'scheduled' && current.phase !== 'started' && current.phase !== 'backoff') continue;
    out.event({ type: 'stepFailed', seq: current.seq, attempt: current.attempt, failure: { type: 'CANCELLED', message: 'workflow cancelled' }, final: true, atMs: nowMs });
    if (current.phase !== 'backoff') out.effect({ type: 'abort', seq: current.seq, attempt: current.attempt, reason: 'workflow cancelled' });
  }
}

/**
 * After a restart, attempts whose outcome is unknown run again under the same attempt number, so
 * their idempotency key is unchanged and an idempotent effect happens once; unfinished children are
 * started again (an idempotent start, which also re-delivers a result that was lost).
 */
function recover(out: Output, nowMs: number, issued: number): void {
  if (out.state.status !== 'running') return;
  if (issued < out.state.commands.length) {
    diverge(out, issued, out.state.commands[issued], undefined);
    return;
  }
  for (const current of Object.values(out.state.steps)) {
    if (current.phase !== 'scheduled' && current.phase !== 'started') continue;
    const rescheduled: StepState = { seq: current.seq, name: current.name, options: current.options, firstScheduledAtMs: current.firstScheduledAtMs, attempt: current.attempt, phase: 'scheduled', attemptScheduledAtMs: nowMs };
    out.state = replaceStep(out.state, rescheduled);
    out.effect(dispatch(out.state, rescheduled));
  }
  for (const [seqText, child] of Object.entries(out.state.children)) {
    if (child.done) continue;
    out.effect({ type: 'startChild', seq: Number(seqText), childId: child.childId, workflowType: child.workflowType, input: child.input });
  }
}

/** The earliest time anything of a running run falls due, or undefined if nothing will. */
export function nextWakeMs(state: RunState): number | undefined {
  if (state.status !== 'running') return undefined;
  const candidates: number[] = [];
  if (state.executionDeadlineMs !== undefined) candidates.push(state.executionDeadlineMs);
  for (const timer of Object.values(state.timers)) if (!timer.fired) candidates.push(timer.dueMs);
  for (const current of Object.values(state.steps)) {
    const timeouts = current.options.timeouts;
    const open = current.phase === 'scheduled' || current.phase === 'started' || current.phase === 'backoff';
    if (!open) continue;
    if (timeouts.scheduleToCloseMs !== undefined) candidates.push(current.firstScheduledAtMs + timeouts.scheduleToCloseMs);
    if (current.phase === 'backoff') candidates.push(current.retryAtMs ?? 0);
    if (current.phase === 'scheduled' && timeouts.scheduleToStartMs !== undefined) candidates.push(current.attemptScheduledAtMs + timeouts.scheduleToStartMs);
    if (current.phase === 'started' && timeouts.startToCloseMs !== undefined) candidates.push((current.startedAtMs ?? 0) + timeouts.startToCloseMs);
    if (current.phase === 'started' && timeouts.heartbeatMs !== undefined) candidates.push((current.lastHeartbeatMs ?? 0) + timeouts.heartbeatMs);
  }
  return candidates.length === 0 ? undefined : Math.min(...candidates);
}
