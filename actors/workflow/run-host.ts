/**
 * The shell of one workflow run: it feeds inputs to the pure core (core/machine.ts) one at a time and
 * executes the core's effects in order: appends (awaited until durable before anything that depends
 * on them), step dispatches to the task queues, aborts, child starts, and one wake time with the timer
 * service. It makes no decision of its own; the replayer turns history events into the workflow
 * function's progress and its calls into commands.
 *
 * Its inputs arrive through a `RunMailbox`: in a node that is the mailbox of the run's own supervised
 * actor (run-actor.ts), so a crash in the shell crashes that actor and its supervisor restarts it, and
 * the new incarnation replays the history; in an engine without actors it is a serial promise chain
 * (`SerialMailbox`) whose failures fail-stop the engine.
 */
import { assert, type Clock, type Rng } from '../../runtime/index.js';
import { foldHistory, nextWakeMs, step, type CoreInput, type Effect, type FailureInfo, type HistoryEvent, type RunState, type StepDispatch } from './core/index.js';
import type { StepContext, WorkflowDefinition } from './definition.js';
import { NondeterminismError, WorkflowError, WorkflowFailedError, failureOf } from './errors.js';
import { toJson } from './json.js';
import type { WorkflowLimits } from './limits.js';
import { Replayer } from './replayer.js';
import type { QueuedAttempt, StepOutcome, StepQueues } from './task-queues.js';
import type { WakeTimers } from './timer-service.js';

/** What a run's mailbox carries: plain data; the clock and randomness are read when it is processed. */
export type RunMessage =
  | { readonly kind: 'signal'; readonly name: string; readonly payload: unknown }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'childResult'; readonly seq: number; readonly ok: boolean; readonly result?: unknown; readonly failure?: FailureInfo }
  | { readonly kind: 'heartbeat'; readonly seq: number; readonly attempt: number }
  | { readonly kind: 'stepStarted'; readonly seq: number; readonly attempt: number }
  | { readonly kind: 'stepResult'; readonly seq: number; readonly attempt: number; readonly ok: boolean; readonly result?: unknown; readonly failure?: FailureInfo }
  | { readonly kind: 'tick' };

/** Where a run's inputs queue: its actor's mailbox, or a serial promise chain. */
export interface RunMailbox {
  /** Queues `message`; resolves once the run has processed it (or rejects if processing failed). */
  post(message: RunMessage): Promise<void>;
  /** Queues `message` without waiting for it (step reports, heartbeats, wake-ups). */
  send(message: RunMessage): void;
}

/** Test hooks, called in the shells: an exception thrown by one crashes the actor that called it. */
export interface WorkflowHooks {
  /** Before a run processes a mailbox message. */
  readonly beforeRunInput?: (workflowId: string, message: RunMessage) => void;
  /** In a worker, before it reports a step attempt's outcome to its run. */
  readonly beforeStepReport?: (attempt: { workflowId: string; stepName: string; attempt: number }) => void;
}

/** What a run host needs from its engine. */
export interface RunHostDeps {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly limits: WorkflowLimits;
  readonly queues: StepQueues;
  readonly timers: WakeTimers;
  readonly hooks: WorkflowHooks;
  /** Makes the events durable (resolves after fsync). */
  persist(workflowId: string, events: readonly HistoryEvent[]): Promise<void>;
  /** Starts (idempotently) a child run and delivers its result to the parent later. */
  startChild(parentId: string, effect: Extract<Effect, { type: 'startChild' }>): void;
  /** Called once when the run reached a terminal status (or stopped on NONDETERMINISM). */
  finished(host: RunHost): void;
}

/** How a host comes up: a new run records `started`; an existing one replays its history. */
export type RunBoot = { readonly mode: 'begin'; readonly start: Extract<CoreInput, { type: 'start' }> } | { readonly mode: 'restore' };

interface ResultWaiter {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** One run, live in this process. */
export class RunHost {
  readonly workflowId: string;
  readonly definition: WorkflowDefinition;
  state: RunState;
  /** The durable history: events are pushed only once fsync'd. Shared with the engine, so a restarted host replays it. */
  readonly history: HistoryEvent[];
  /** Set when a replay diverged from the history; the run stays stopped until the code is fixed. */
  nondeterminism: NondeterminismError | undefined;
  readonly #deps: RunHostDeps;
  readonly #mailbox: RunMailbox;
  readonly #replayer: Replayer;
  readonly #aborts = new Map<string, AbortController>();
  #resultWaiters: ResultWaiter[] = [];
  #closed = false;
  #fault: unknown;

  constructor(deps: RunHostDeps, definition: WorkflowDefinition, workflowId: string, history: HistoryEvent[], mailbox: RunMailbox) {
    this.#deps = deps;
    this.#mailbox = mailbox;
    this.definition = definition;
    this.workflowId = workflowId;
    this.history = history;
    this.state = foldHistory(history);
    this.#replayer = new Replayer(definition, workflowId, { nowMs: () => deps.clock.now(), random: () => deps.rng.next() }, deps.limits);
  }

  /** True once the host was closed (engine close or a crash of its actor). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Brings the run up. `begin` records `started`, then runs the function until it first waits.
   * `restore`: a finished run is only kept; an open one replays its history through the function
   * (events fed one at a time), checks the replay, and resumes (recover input).
   */
  async boot(boot: RunBoot): Promise<void> {
    if (boot.mode === 'begin') {
      assert(this.history.length === 0, 'begin of a run that already has a history', { workflowId: this.workflowId });
      await this.#process(boot.start);
      this.#replayer.start(this.state.input);
      await this.#replayer.settle();
      await this.#process(this.#commandsInput());
      return;
    }
    const first = this.history[0];
    assert(first?.type === 'started', 'a history starts with a started event');
    if (this.state.status !== 'running') return;
    const history = [...this.history];
    this.#replayer.preload(history);
    this.#replayer.start(this.state.input);
    await this.#replayer.settle();
    for (const event of history) if (this.#replayer.feed(event)) await this.#replayer.settle();
    const recorded = this.state.commands.length;
    const commands = this.#replayer.takeCommands();
    const replayed = commands.filter((command) => command.seq < recorded);
    await this.#process({ type: 'commands', commands: replayed, nowMs: this.#deps.clock.now() });
    await this.#process({ type: 'recover', nowMs: this.#deps.clock.now(), issued: Math.min(this.#replayer.issued, recorded) });
    await this.#process({ type: 'commands', commands: commands.filter((command) => command.seq >= recorded), nowMs: this.#deps.clock.now() });
  }

  /** Processes one mailbox message (called by the mailbox's owner, one at a time). Throws on a shell failure. */
  async handle(message: RunMessage): Promise<void> {
    if (this.#closed || this.#fault !== undefined) return;
    this.#deps.hooks.beforeRunInput?.(this.workflowId, message);
    await this.#process(this.#input(message));
  }

  /** Delivers a signal (recorded, then seen by the function). */
  signal(name: string, payload: unknown): Promise<void> {
    return this.#mailbox.post({ kind: 'signal', name, payload });
  }

  /** Requests cancellation: pending awaits reject with CANCELLED, running steps are aborted. */
  cancel(): Promise<void> {
    return this.#mailbox.post({ kind: 'cancel' });
  }

  /** Delivers a child run's outcome to this (parent) run. */
  childResult(seq: number, outcome: StepOutcome): Promise<void> {
    return this.#mailbox.post({ kind: 'childResult', seq, ...outcome });
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

  /**
   * Stops the host: its wake time disarmed, attempts aborted, no more inputs. `closed` (engine close)
   * rejects result waiters; `restart` (its actor crashed) hands them back for the next incarnation.
   */
  close(reason: 'closed' | 'restart'): ResultWaiter[] {
    if (this.#closed) return [];
    this.#closed = true;
    this.#deps.timers.arm(this.workflowId, undefined, () => undefined);
    for (const controller of this.#aborts.values()) controller.abort(new WorkflowError('ENGINE_CLOSED', `run ${this.workflowId} stopped`));
    this.#aborts.clear();
    const waiters = this.#resultWaiters.splice(0);
    if (reason === 'restart') return waiters;
    for (const waiter of waiters) waiter.reject(new WorkflowError('ENGINE_CLOSED', `engine closed before workflow ${this.workflowId} finished`));
    return [];
  }

  /** Takes over the result waiters of the incarnation before this one. */
  adoptWaiters(waiters: readonly ResultWaiter[]): void {
    this.#resultWaiters.push(...waiters);
    this.#settleWaiters();
  }

  /** Marks the host failed (engine without actors): waiters reject, nothing more is processed. */
  fail(error: unknown): void {
    if (this.#fault !== undefined) return;
    this.#fault = error;
    this.#rejectWaiters(error);
  }

  #settledOutcome(): Promise<unknown> | undefined {
    if (this.nondeterminism !== undefined) return Promise.reject(this.nondeterminism);
    if (this.#fault !== undefined) return Promise.reject(this.#fault);
    if (this.state.status === 'completed') return Promise.resolve(this.state.result);
    // Continued as new: the result is the next run's, whose host adopts the waiters.
    if (this.state.status === 'continued') return undefined;
    if (this.state.status !== 'running') return Promise.reject(new WorkflowFailedError(this.workflowId, this.state.status, this.state.failure!));
    return undefined;
  }

  #commandsInput(): CoreInput {
    return { type: 'commands', commands: this.#replayer.takeCommands(), nowMs: this.#deps.clock.now() };
  }

  /** The core input for a message, with the clock and randomness read now. */
  #input(message: RunMessage): CoreInput {
    const nowMs = this.#deps.clock.now();
    switch (message.kind) {
      case 'signal':
        return { type: 'signal', name: message.name, payload: message.payload, nowMs };
      case 'cancel':
        return { type: 'cancel', nowMs };
      case 'childResult':
        return { type: 'childResult', seq: message.seq, ok: message.ok, ...outcomeFields(message), nowMs };
      case 'heartbeat':
        return { type: 'heartbeat', seq: message.seq, attempt: message.attempt, nowMs };
      case 'stepStarted':
        return { type: 'stepStarted', seq: message.seq, attempt: message.attempt, nowMs };
      case 'stepResult':
        return { type: 'stepResult', seq: message.seq, attempt: message.attempt, ok: message.ok, ...outcomeFields(message), nowMs, random: this.#deps.rng.next() };
      case 'tick':
        return { type: 'tick', nowMs, random: this.#deps.rng.next() };
    }
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
        this.#deps.startChild(this.workflowId, effect);
        return;
      case 'finished':
        this.#settleWaiters();
        this.#deps.finished(this);
        return;
      case 'nondeterminism':
        this.nondeterminism = new NondeterminismError(this.workflowId, effect.seq, effect.expected, effect.actual);
        this.#rejectWaiters(this.nondeterminism);
        this.#deps.finished(this);
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
    const post = (message: RunMessage): void => this.#mailbox.send(message);
    const context: StepContext = {
      workflowId: this.workflowId, stepName: effect.name, attempt: effect.attempt, idempotencyKey: effect.idempotencyKey, signal,
      heartbeat: () => {
        if (!signal.aborted) post({ kind: 'heartbeat', seq: effect.seq, attempt: effect.attempt });
      },
    };
    const attempt: QueuedAttempt = {
      workflowId: this.workflowId, stepName: effect.name, attempt: effect.attempt, signal,
      run: async () => {
        post({ kind: 'stepStarted', seq: effect.seq, attempt: effect.attempt });
        try {
          const value: unknown = await captured.fn(context);
          return { ok: true, result: toJson(value, this.#deps.limits.valueBytesMax, `result of step ${effect.name}`) };
        } catch (error) {
          return { ok: false, failure: failureOf(error) };
        }
      },
      report: (outcome) => {
        if (signal.aborted) return;
        this.#aborts.delete(key);
        post({ kind: 'stepResult', seq: effect.seq, attempt: effect.attempt, ...outcome });
        // A worker that crashed under a running attempt: tell the step function it is abandoned.
        if (outcome.failure?.type === 'WORKER_CRASHED') controller.abort(new WorkflowError('CANCELLED', outcome.failure.message));
      },
    };
    this.#deps.queues.submit(effect.taskQueue, attempt);
  }

  #arm(): void {
    if (this.#closed) return;
    const atMs = this.nondeterminism === undefined ? nextWakeMs(this.state) : undefined;
    this.#deps.timers.arm(this.workflowId, atMs, () => this.#mailbox.send({ kind: 'tick' }));
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

function outcomeFields(message: { readonly ok: boolean; readonly result?: unknown; readonly failure?: FailureInfo }): { result?: unknown; failure?: FailureInfo } {
  return message.ok ? { result: message.result } : { ...(message.failure !== undefined ? { failure: message.failure } : {}) };
}

/**
 * The mailbox of a run in an engine without actors: a serial promise chain. A failure while
 * processing fails the host and is passed to `onFailure` (the engine fail-stops).
 */
export class SerialMailbox implements RunMailbox {
  #chain: Promise<void> = Promise.resolve();
  #host: RunHost | undefined;
  readonly #onFailure: (host: RunHost, error: unknown) => void;

  constructor(onFailure: (host: RunHost, error: unknown) => void) {
    this.#onFailure = onFailure;
  }

  /** Binds the mailbox to its host (once) and runs its boot first. */
  bind(host: RunHost, boot: RunBoot): Promise<void> {
    assert(this.#host === undefined, 'a serial mailbox binds one host');
    this.#host = host;
    return this.#enqueue(() => host.boot(boot));
  }

  post(message: RunMessage): Promise<void> {
    return this.#enqueue(() => this.#host!.handle(message));
  }

  send(message: RunMessage): void {
    void this.post(message);
  }

  /** Resolves once every message queued so far has been processed. */
  idle(): Promise<void> {
    return this.#chain;
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(async () => {
      const host = this.#host!;
      if (host.closed) return;
      try {
        await work();
      } catch (error) {
        host.fail(error);
        this.#onFailure(host, error);
      }
    });
    this.#chain = next;
    return next;
  }
}
