/**
 * Drives a workflow function deterministically. The function runs once per process incarnation of a
 * run and is kept alive while the process lives: each `ctx` call that waits issues a command (numbered
 * in call order) and returns a promise that only a history event settles. After a restart the
 * function runs again from the start and the recorded events are fed back one at a time, in history
 * order, so every await resolves in the same order as the first time and the function reissues the
 * same commands (which the core compares with the recorded ones). The shell never decides anything
 * here: it turns events into settled promises and calls into commands.
 *
 * Between two fed events the replayer lets the microtask queue drain (one `setImmediate`), which is
 * what "the function has gone as far as it can" means for code that does no I/O of its own.
 */
import { defaultRetryPolicy, type Command, type FailureInfo, type HistoryEvent, type StepOptions } from './core/index.js';
import type { StepCallOptions, StepContext, WorkflowContext, WorkflowDefinition } from './definition.js';
import { ChildFailedError, StepFailedError, WorkflowCancelledError, WorkflowError, failureOf } from './errors.js';
import { toJson } from './json.js';
import type { WorkflowLimits } from './limits.js';

/** How `ctx.continueAsNew` ends the function: thrown through its awaits, turned into a `continue` command. */
export class ContinueAsNewRequest extends Error {
  readonly input: unknown;

  constructor(input: unknown) {
    super('continue as new');
    this.input = input;
  }
}

/** A step function captured when its command was issued, for the shell to run on dispatch. */
export interface CapturedStep {
  readonly name: string;
  readonly fn: (step: StepContext) => unknown;
}

interface Waiter {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly name: string;
}

/** Live values the replayer records the first time they are asked for. */
export interface LiveSource {
  nowMs(): number;
  random(): number;
}

/** One incarnation of a workflow function. */
export class Replayer {
  readonly #definition: WorkflowDefinition;
  readonly #workflowId: string;
  readonly #live: LiveSource;
  readonly #limits: WorkflowLimits;
  readonly #commands: Command[] = [];
  #taken = 0;
  readonly #waiters = new Map<number, Waiter>();
  readonly #signalWaiters = new Map<string, Waiter[]>();
  readonly #signalBuffer = new Map<string, unknown[]>();
  readonly #markers = new Map<number, number>();
  readonly #names = new Set<string>();
  readonly #steps = new Map<number, CapturedStep>();
  readonly #queries = new Map<string, (args: unknown) => unknown>();
  #cancelled = false;

  constructor(definition: WorkflowDefinition, workflowId: string, live: LiveSource, limits: WorkflowLimits) {
    this.#definition = definition;
    this.#workflowId = workflowId;
    this.#live = live;
    this.#limits = limits;
  }

  /** Takes the recorded values of `now` / `random` calls from a history before the function runs. */
  preload(events: readonly HistoryEvent[]): void {
    for (const event of events) if (event.type === 'markerRecorded') this.#markers.set(event.seq, event.value);
  }

  /** Starts the function; it issues a `complete` or `fail` command when it settles. */
  start(input: unknown): void {
    const compensations: Array<{ name: string; run: () => Promise<unknown> }> = [];
    const ctx = this.#context(compensations);
    const body = async (): Promise<unknown> => {
      try {
        return await this.#definition.run(ctx, input);
      } catch (error) {
        // Continuing as new is not a failure: nothing is compensated.
        if (error instanceof ContinueAsNewRequest) throw error;
        // Saga: undo the completed steps in reverse; the original failure is what the run reports.
        for (const compensation of compensations.reverse()) await compensation.run();
        throw error;
      }
    };
    body().then(
      (result) => this.#issue({ kind: 'complete', seq: this.#commands.length, result: result ?? null }),
      (error: unknown) => this.#issue(error instanceof ContinueAsNewRequest ? { kind: 'continue', seq: this.#commands.length, input: error.input } : { kind: 'fail', seq: this.#commands.length, failure: failureOf(error) }),
    );
  }

  /** Lets the function run as far as it can (microtasks drain before the next macrotask). */
  async settle(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Settles whatever `event` answers; true if a promise of the function was settled. */
  feed(event: HistoryEvent): boolean {
    switch (event.type) {
      case 'stepCompleted':
        return this.#settle(event.seq, (waiter) => waiter.resolve(event.result));
      case 'stepFailed':
      case 'stepTimedOut':
        if (!event.final) return false;
        return this.#settle(event.seq, (waiter) => waiter.reject(new StepFailedError(waiter.name, event.type === 'stepFailed' ? event.failure : { type: 'TIMEOUT', message: `${event.timeout} timeout` })));
      case 'timerFired':
        return this.#settle(event.seq, (waiter) => waiter.resolve(undefined));
      case 'childCompleted':
        return this.#settle(event.seq, (waiter) => (event.ok ? waiter.resolve(event.result) : waiter.reject(new ChildFailedError(waiter.name, event.failure ?? { type: 'Error', message: 'child failed' }))));
      case 'signalReceived':
        return this.#signal(event.name, event.payload);
      case 'cancelRequested':
        return this.#cancel();
      default:
        return false;
    }
  }

  /** Commands issued since the last call, in order. */
  takeCommands(): Command[] {
    const taken = this.#commands.slice(this.#taken);
    this.#taken = this.#commands.length;
    return taken;
  }

  /** Number of commands issued so far. */
  get issued(): number {
    return this.#commands.length;
  }

  /** The function of step `seq`, captured when it was issued. */
  stepFunction(seq: number): CapturedStep | undefined {
    return this.#steps.get(seq);
  }

  /** Runs a registered query handler. */
  query(name: string, args: unknown): unknown {
    const handler = this.#queries.get(name);
    if (handler === undefined) throw new WorkflowError('UNKNOWN_QUERY', `workflow ${this.#workflowId} has no query ${JSON.stringify(name)}`, { context: { name } });
    return handler(args);
  }

  #settle(seq: number, action: (waiter: Waiter) => void): boolean {
    const waiter = this.#waiters.get(seq);
    if (waiter === undefined) return false;
    this.#waiters.delete(seq);
    action(waiter);
    return true;
  }

  #signal(name: string, payload: unknown): boolean {
    const waiting = this.#signalWaiters.get(name);
    const waiter = waiting?.shift();
    if (waiter !== undefined) {
      waiter.resolve(payload);
      return true;
    }
    const buffer = this.#signalBuffer.get(name) ?? [];
    buffer.push(payload);
    this.#signalBuffer.set(name, buffer);
    return false;
  }

  #cancel(): boolean {
    this.#cancelled = true;
    const error = new WorkflowCancelledError(this.#workflowId);
    const pending = [...this.#waiters.values(), ...[...this.#signalWaiters.values()].flat()];
    this.#waiters.clear();
    this.#signalWaiters.clear();
    for (const waiter of pending) waiter.reject(error);
    return pending.length > 0;
  }

  #issue(command: Command): void {
    this.#commands.push(command);
  }

  /** Checks a command name, numbers the command, and returns its seq. Throws inside the workflow on misuse. */
  #next(name: string): number {
    if (typeof name !== 'string' || name.length === 0 || name.length > this.#limits.nameLengthMax) {
      throw new WorkflowError('DUPLICATE_COMMAND_NAME', `command name must be a non-empty string of at most ${this.#limits.nameLengthMax} characters`, { context: { name } });
    }
    if (this.#names.has(name)) throw new WorkflowError('DUPLICATE_COMMAND_NAME', `workflow ${this.#workflowId}: the name ${JSON.stringify(name)} is used twice (give each step, timer, wait and child its own name)`, { context: { name } });
    if (this.#commands.length >= this.#limits.commandsPerRunMax) throw new WorkflowError('TOO_MANY_COMMANDS', `workflow ${this.#workflowId} issued ${this.#limits.commandsPerRunMax} commands`);
    this.#names.add(name);
    return this.#commands.length;
  }

  #wait<T>(seq: number, name: string): Promise<T> {
    return new Promise<T>((resolve, reject) => this.#waiters.set(seq, { resolve: resolve as (value: unknown) => void, reject, name }));
  }

  #context(compensations: Array<{ name: string; run: () => Promise<unknown> }>): WorkflowContext {
    const step = async <Result>(name: string, fn: (step: StepContext) => Result | Promise<Result>, options: StepCallOptions<Result> = {}): Promise<Result> => {
      const seq = this.#next(name);
      this.#steps.set(seq, { name, fn });
      this.#issue({ kind: 'step', seq, name, options: stepOptions(options) });
      const result = await this.#wait<Result>(seq, name);
      const compensate = options.compensate;
      if (compensate !== undefined) {
        const retry = options.compensateRetry ?? options.retry;
        compensations.push({ name, run: () => step(`undo:${name}`, (context) => compensate(result, context), { ...(retry !== undefined ? { retry } : {}), ...(options.taskQueue !== undefined ? { taskQueue: options.taskQueue } : {}) }) });
      }
      return result;
    };
    const timer = (name: string, dueMs: number): Promise<void> => {
      const seq = this.#next(name);
      this.#issue({ kind: 'timer', seq, name, dueMs });
      return this.#wait<void>(seq, name);
    };
    const marker = (name: string, live: () => number): number => {
      const seq = this.#commands.length;
      const value = this.#markers.get(seq) ?? live();
      this.#issue({ kind: 'marker', seq, name, value });
      return value;
    };
    return {
      workflowId: this.#workflowId,
      step,
      sleep: (name, delayMs) => timer(name, marker(`${name}:now`, () => this.#live.nowMs()) + delayMs),
      sleepUntil: (name, atMs) => timer(name, atMs),
      signal: <Payload>(signalName: string, name?: string): Promise<Payload> => this.#awaitSignal<Payload>(signalName, name ?? `signal:${signalName}:${this.#commands.length}`),
      child: <Result>(name: string, workflowType: string, input: unknown): Promise<Result> => {
        const seq = this.#next(name);
        this.#issue({ kind: 'child', seq, name, workflowType, input });
        return this.#wait<Result>(seq, name);
      },
      now: () => marker('now', () => this.#live.nowMs()),
      random: () => marker('random', () => this.#live.random()),
      setQuery: (name, handler) => void this.#queries.set(name, handler),
      continueAsNew: (next) => Promise.reject(new ContinueAsNewRequest(toJson(next, this.#limits.valueBytesMax, 'continue-as-new input'))),
    };
  }

  #awaitSignal<Payload>(signalName: string, name: string): Promise<Payload> {
    const seq = this.#next(name);
    this.#issue({ kind: 'signal', seq, name: signalName });
    const buffered = this.#signalBuffer.get(signalName);
    if (buffered !== undefined && buffered.length > 0) return Promise.resolve(buffered.shift() as Payload);
    if (this.#cancelled) return Promise.reject(new WorkflowCancelledError(this.#workflowId));
    return new Promise<Payload>((resolve, reject) => {
      const waiting = this.#signalWaiters.get(signalName) ?? [];
      waiting.push({ resolve: resolve as (value: unknown) => void, reject, name });
      this.#signalWaiters.set(signalName, waiting);
    });
  }
}

/** Fills a step call's options with defaults, as they are recorded in the history. */
export function stepOptions(options: Pick<StepCallOptions<never>, 'retry' | 'timeouts' | 'taskQueue'>): StepOptions {
  return { retry: { ...defaultRetryPolicy, ...options.retry }, timeouts: { ...options.timeouts }, taskQueue: options.taskQueue ?? 'default' };
}

/** True for failures that mean the run was cancelled. */
export function isCancellation(failure: FailureInfo): boolean {
  return failure.type === 'CANCELLED';
}
