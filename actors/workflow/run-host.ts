/**
 * The shell of one workflow run: a serial mailbox that feeds inputs to the pure core (core/machine.ts)
 * and executes its effects in order: appends (awaited until durable before anything that depends on
 * them), step dispatches to the task queues, aborts, child starts, and one wake timer at the time the
 * core asks for. It makes no decision of its own; the replayer turns history events into the
 * workflow function's progress and its calls into commands.
 */
import { assert, type Clock, type Rng, type TimerHandle } from '../../runtime/index.js';
import { foldHistory, nextWakeMs, step, type CoreInput, type Effect, type FailureInfo, type HistoryEvent, type RunState, type StepDispatch } from './core/index.js';
import type { StepContext, WorkflowDefinition } from './definition.js';
import { NondeterminismError, WorkflowError, WorkflowFailedError, failureOf } from './errors.js';
import { toJson } from './json.js';
import type { WorkflowLimits } from './limits.js';
import { Replayer } from './replayer.js';
import type { TaskQueues } from './task-queues.js';

/** What a run host needs from its engine. */
export interface RunHostDeps {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly limits: WorkflowLimits;
  readonly queues: TaskQueues;
  /** Makes the events durable (resolves after fsync). */
  persist(workflowId: string, events: readonly HistoryEvent[]): Promise<void>;
  /** Starts (idempotently) a child run and delivers its result to the parent later. */
  startChild(parent: RunHost, effect: Extract<Effect, { type: 'startChild' }>): void;
  /** Called once when the run reached a terminal status. */
  finished(host: RunHost): void;
  /** Called when executing an effect failed (the WAL failed or closed): the run stops here. */
  fault(host: RunHost, error: unknown): void;
}

/** One run, live in this process. */
export class RunHost {
  readonly workflowId: string;
  readonly definition: WorkflowDefinition;
  state: RunState;
  readonly history: HistoryEvent[];
  /** Set when a replay diverged from the history; the run stays stopped until the code is fixed. */
  nondeterminism: NondeterminismError | undefined;
  readonly #deps: RunHostDeps;
  readonly #replayer: Replayer;
  readonly #aborts = new Map<string, AbortController>();
  readonly #resultWaiters: Array<{ resolve: (value: unknown) => void; reject: (error: unknown) => void }> = [];
  #chain: Promise<void> = Promise.resolve();
  #wake: { atMs: number; handle: TimerHandle } | undefined;
  #closed = false;
  #fault: unknown;

  private constructor(deps: RunHostDeps, definition: WorkflowDefinition, workflowId: string, history: HistoryEvent[]) {
    this.#deps = deps;
    this.definition = definition;
    this.workflowId = workflowId;
    this.history = history;
    this.state = foldHistory(history);
    this.#replayer = new Replayer(definition, workflowId, { nowMs: () => deps.clock.now(), random: () => deps.rng.next() }, deps.limits);
  }

  /** A new run: records `started`, then runs the function until it first waits. */
  static async begin(deps: RunHostDeps, definition: WorkflowDefinition, start: Extract<CoreInput, { type: 'start' }>): Promise<RunHost> {
    const host = new RunHost(deps, definition, start.workflowId, []);
    await host.#enqueue(() => start);
    await host.#enqueue(async () => {
      host.#replayer.start(host.state.input);
      await host.#replayer.settle();
      return host.#commandsInput();
    });
    return host;
  }

  /**
   * A run recovered from its history: a finished run is only kept; an open one replays its history
   * through the function (events fed one at a time), checks the replay, and resumes (recover input).
   */
  static async restore(deps: RunHostDeps, definition: WorkflowDefinition, history: HistoryEvent[]): Promise<RunHost> {
    const first = history[0];
    assert(first?.type === 'started', 'a history starts with a started event');
    const host = new RunHost(deps, definition, first.workflowId, history);
    if (host.state.status !== 'running') return host;
    await host.#enqueue(async () => {
      host.#replayer.preload(history);
      host.#replayer.start(host.state.input);
      await host.#replayer.settle();
      for (const event of history) if (host.#replayer.feed(event)) await host.#replayer.settle();
      const recorded = host.state.commands.length;
      const commands = host.#replayer.takeCommands();
      const replayed = commands.filter((command) => command.seq < recorded);
      await host.#process({ type: 'commands', commands: replayed, nowMs: deps.clock.now() });
      await host.#process({ type: 'recover', nowMs: deps.clock.now(), issued: Math.min(host.#replayer.issued, recorded) });
      return { type: 'commands', commands: commands.filter((command) => command.seq >= recorded), nowMs: deps.clock.now() };
    });
    return host;
  }

  /** Delivers a signal (recorded, then seen by the function). */
  signal(name: string, payload: unknown): Promise<void> {
    return this.#enqueue(() => ({ type: 'signal', name, payload }));
  }

  /** Requests cancellation: pending awaits reject with CANCELLED, running steps are aborted. */
  cancel(): Promise<void> {
    return this.#enqueue(() => ({ type: 'cancel', nowMs: this.#deps.clock.now() }));
  }

  /** Delivers a child run's outcome to this (parent) run. */
  childResult(seq: number, outcome: { ok: boolean; result?: unknown; failure?: FailureInfo }): Promise<void> {
    return this.#enqueue(() => ({ type: 'childResult', seq, ...outcome }));
  }

  /** Runs a query handler of the live function. */
  query(name: string, args: unknown): unknown {
    return this.#replayer.query(name, args);
  }

  /** Resolves with the result when the run completes; rejects if it fails, is cancelled or times out. */
  result(): Promise<unknown> {
    const settled = this.#settledOutcome();
    if (settled !== undefined) return settled;
    return new Promise((resolve, reject) => this.#resultWaiters.push({ resolve, reject }));
  }

  /** Stops the host (engine close or crash simulation): timers cleared, steps aborted, no more inputs. */
  close(): void {
    this.#closed = true;
    if (this.#wake !== undefined) this.#deps.clock.clearTimeout(this.#wake.handle);
    this.#wake = undefined;
    for (const controller of this.#aborts.values()) controller.abort(new WorkflowError('ENGINE_CLOSED', 'engine closed'));
    this.#aborts.clear();
    this.#rejectWaiters(new WorkflowError('ENGINE_CLOSED', `engine closed before workflow ${this.workflowId} finished`));
  }

  /** Resolves once every input queued so far has been processed. */
  idle(): Promise<void> {
    return this.#chain;
  }

  #settledOutcome(): Promise<unknown> | undefined {
    if (this.nondeterminism !== undefined) return Promise.reject(this.nondeterminism);
    if (this.#fault !== undefined) return Promise.reject(this.#fault);
    if (this.state.status === 'completed') return Promise.resolve(this.state.result);
    if (this.state.status !== 'running') return Promise.reject(new WorkflowFailedError(this.workflowId, this.state.status, this.state.failure!));
    return undefined;
  }

  #commandsInput(): CoreInput {
    return { type: 'commands', commands: this.#replayer.takeCommands(), nowMs: this.#deps.clock.now() };
  }

  /** Queues an input; `make` runs when it is this input's turn, so it reads the clock at that moment. */
  #enqueue(make: () => CoreInput | Promise<CoreInput>): Promise<void> {
    const next = this.#chain.then(async () => {
      if (this.#closed || this.#fault !== undefined) return;
      try {
        await this.#process(await make());
      } catch (error) {
        this.#fail(error);
      }
    });
    this.#chain = next;
    return next;
  }

  async #process(input: CoreInput): Promise<void> {
    if (this.#closed) return;
    if (input.type === 'commands' && input.commands.length === 0) return;
    const output = step(this.state, input);
    this.state = output.state;
    for (const effect of output.effects) await this.#execute(effect);
    const more = this.#replayer.takeCommands();
    if (more.length > 0 && !this.#closed) await this.#process({ type: 'commands', commands: more, nowMs: this.#deps.clock.now() });
    this.#arm();
  }

  async #execute(effect: Effect): Promise<void> {
    switch (effect.type) {
      case 'append':
        await this.#deps.persist(this.workflowId, effect.events);
        this.history.push(...effect.events);
        for (const event of effect.events) if (this.#replayer.feed(event)) await this.#replayer.settle();
        return;
      case 'dispatch':
        this.#dispatch(effect);
        return;
      case 'abort':
        this.#aborts.get(`${effect.seq}/${effect.attempt}`)?.abort(new WorkflowError('CANCELLED', effect.reason));
        this.#aborts.delete(`${effect.seq}/${effect.attempt}`);
        return;
      case 'startChild':
        this.#deps.startChild(this, effect);
        return;
      case 'finished':
        this.#settleWaiters();
        this.#deps.finished(this);
        return;
      case 'nondeterminism':
        this.nondeterminism = new NondeterminismError(this.workflowId, effect.seq, effect.expected, effect.actual);
        this.#rejectWaiters(this.nondeterminism);
        return;
    }
  }

  #dispatch(effect: StepDispatch): void {
    const captured = this.#replayer.stepFunction(effect.seq);
    assert(captured !== undefined, 'dispatch of a step the function did not issue', { seq: effect.seq });
    const controller = new AbortController();
    const key = `${effect.seq}/${effect.attempt}`;
    this.#aborts.get(key)?.abort();
    this.#aborts.set(key, controller);
    const signal = controller.signal;
    const context: StepContext = {
      workflowId: this.workflowId, stepName: effect.name, attempt: effect.attempt, idempotencyKey: effect.idempotencyKey, signal,
      heartbeat: () => {
        if (!signal.aborted) void this.#enqueue(() => ({ type: 'heartbeat', seq: effect.seq, attempt: effect.attempt, nowMs: this.#deps.clock.now() }));
      },
    };
    const report = (outcome: { ok: boolean; result?: unknown; failure?: FailureInfo }): void => {
      if (signal.aborted) return;
      this.#aborts.delete(key);
      void this.#enqueue(() => ({ type: 'stepResult', seq: effect.seq, attempt: effect.attempt, ...outcome, nowMs: this.#deps.clock.now(), random: this.#deps.rng.next() }));
    };
    const accepted = this.#deps.queues.submit(effect.taskQueue, {
      signal,
      run: async () => {
        void this.#enqueue(() => ({ type: 'stepStarted', seq: effect.seq, attempt: effect.attempt, nowMs: this.#deps.clock.now() }));
        try {
          const value: unknown = await captured.fn(context);
          report({ ok: true, result: toJson(value, this.#deps.limits.valueBytesMax, `result of step ${effect.name}`) });
        } catch (error) {
          report({ ok: false, failure: failureOf(error) });
        }
      },
    });
    if (!accepted) report({ ok: false, failure: { type: 'TASK_QUEUE_FULL', message: `task queue ${effect.taskQueue} is full` } });
  }

  #arm(): void {
    if (this.#closed) return;
    const atMs = nextWakeMs(this.state);
    if (this.#wake !== undefined && this.#wake.atMs === atMs) return;
    if (this.#wake !== undefined) this.#deps.clock.clearTimeout(this.#wake.handle);
    this.#wake = undefined;
    if (atMs === undefined || this.nondeterminism !== undefined) return;
    const handle = this.#deps.clock.setTimeout(() => {
      this.#wake = undefined;
      void this.#enqueue(() => ({ type: 'tick', nowMs: this.#deps.clock.now(), random: this.#deps.rng.next() }));
    }, atMs - this.#deps.clock.now());
    this.#wake = { atMs, handle };
  }

  #fail(error: unknown): void {
    this.#fault = error;
    this.#rejectWaiters(error);
    this.#deps.fault(this, error);
  }

  #settleWaiters(): void {
    if (this.#resultWaiters.length === 0) return;
    const outcome = this.#settledOutcome();
    if (outcome === undefined) return;
    for (const waiter of this.#resultWaiters.splice(0)) outcome.then(waiter.resolve, waiter.reject);
  }

  #rejectWaiters(error: unknown): void {
    for (const waiter of this.#resultWaiters.splice(0)) waiter.reject(error);
  }
}
