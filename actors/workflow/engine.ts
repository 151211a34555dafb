/**
 * The workflow engine: the runs of one data directory, their histories on the storage engine's WAL,
 * recovery, and the client operations (start, signal, query, cancel, retry, result, list, history).
 * Every history append is one WAL record `{ id, events }`, acknowledged only once fsync'd; opening the
 * engine replays the WAL into histories and resumes every open run (timers re-armed from their
 * recorded due times, attempts of unknown outcome run again under the same idempotency key).
 *
 * Where runs live is the hosting's business (`EngineHosting`): in-process serial mailboxes with one
 * task-queue pool and one timer service (the default, and what `WorkflowEngine.open` alone gives), or
 * in a node one supervised actor per run, worker actors per task queue and a timer actor (actor.ts).
 * Either way the engine keeps each run's durable history, so a host that crashed is replaced by one
 * that replays it.
 */
import * as path from 'node:path';
import { InvalidArgumentError, RealClock, createRng, type Clock, type Rng } from '../../runtime/index.js';
import { Wal, type Disk } from '../storage/index.js';
import { foldHistory, type Effect, type HistoryEvent, type RunState, type RunStatus } from './core/index.js';
import type { WorkflowDefinition } from './definition.js';
import { WorkflowError } from './errors.js';
import { canonicalJson, toJson } from './json.js';
import { workflowLimits, type WorkflowLimits } from './limits.js';
import { RunHost, SerialMailbox, type RunBoot, type RunHostDeps, type RunMailbox, type WorkflowHooks } from './run-host.js';
import { TaskQueues, type StepQueues } from './task-queues.js';
import { TimerService, type WakeTimers } from './timer-service.js';

/** Options of `WorkflowEngine.open`. */
export interface WorkflowEngineOptions {
  /** The engine's data directory; its WAL lives in `<directory>/wal`. */
  readonly directory: string;
  readonly workflows: readonly WorkflowDefinition<never, unknown>[];
  readonly clock?: Clock;
  readonly rng?: Rng;
  readonly disk?: Disk;
  /** Concurrency per task queue (default `limits.taskQueueConcurrency`). */
  readonly taskQueues?: Readonly<Record<string, number>>;
  readonly limits?: Partial<WorkflowLimits>;
  /** Called once if the WAL fails (fail-stop): the engine stops taking work; reopen to recover. */
  readonly onFault?: (error: unknown) => void;
  /** Where runs, steps and wake times live (default: in this process, without actors). */
  readonly hosting?: EngineHosting;
  /** Test hooks called in the shells (see `WorkflowHooks`). */
  readonly hooks?: WorkflowHooks;
}

/** Options of `start`. */
export interface StartOptions {
  readonly workflowId: string;
  readonly input?: unknown;
  /** Overrides the definition's execution timeout. */
  readonly executionTimeoutMs?: number;
}

/** One run as `list` shows it. */
export interface RunSummary {
  readonly workflowId: string;
  readonly workflowType: string;
  readonly status: RunStatus;
  /** 1, or the number of the run `retry` started last. */
  readonly run: number;
  readonly events: number;
  readonly startedAtMs: number;
  readonly nondeterminism?: string;
}

/** What `open` found in the WAL. */
export interface EngineRecovery {
  readonly records: number;
  readonly runs: number;
  readonly resumed: number;
}

/**
 * One run as its hosting sees it: the engine keeps the durable history; each incarnation of the run's
 * host is created over it, boots (begin or replay), and attaches.
 */
export interface RunSlot {
  readonly workflowId: string;
  /** True once the engine closed or fail-stopped: a host coming up now does nothing. */
  readonly stopped: boolean;
  /** A host for the next incarnation, over the run's durable history. */
  create(mailbox: RunMailbox): RunHost;
  /** How that incarnation boots: `begin` while nothing is durable yet, else `restore` (replay). */
  boot(): RunBoot;
  /** Called once the incarnation booted: it serves the run from now on. */
  attach(host: RunHost): void;
  /** Called when an incarnation ends; `restart` keeps the run's result waiters for the next one. */
  detach(host: RunHost, reason: 'closed' | 'restart'): void;
}

/** Where an engine's runs, step attempts and wake times live. */
export interface EngineHosting {
  readonly queues: StepQueues;
  readonly timers: WakeTimers;
  /** Brings up a host for the run (it calls `slot.attach` once booted). */
  host(slot: RunSlot): void;
  /** Tells a hosted run that it finished (its actor may stop). */
  finished?(workflowId: string): void;
  /** Resolves once every run has processed what it was given so far (in-process hosting; for tests). */
  idle?(): Promise<void>;
  close(): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Deferred {
  readonly promise: Promise<RunHost>;
  readonly resolve: (host: RunHost) => void;
}

/** A running workflow engine. Create with `WorkflowEngine.open`. */
export class WorkflowEngine {
  readonly limits: WorkflowLimits;
  readonly recovery: EngineRecovery;
  readonly #wal: Wal;
  readonly #definitions: ReadonlyMap<string, WorkflowDefinition>;
  /** The current host of every run (finished ones included). */
  readonly #runs = new Map<string, RunHost>();
  /** Durable history of every run's latest run number; hosts append to these arrays. */
  readonly #histories = new Map<string, HistoryEvent[]>();
  /** Histories of earlier runs of a workflow id (before `retry`), oldest first. */
  readonly #earlier = new Map<string, HistoryEvent[][]>();
  /** The `start` input of runs whose `started` event is not durable yet. */
  readonly #begins = new Map<string, Extract<RunBoot, { mode: 'begin' }>>();
  /** Runs being brought up; resolved when their first host attached. */
  readonly #pending = new Map<string, Deferred>();
  readonly #parents = new Map<string, Array<{ parentId: string; seq: number }>>();
  /** Result waiters of a run whose host crashed, until its next incarnation attaches. */
  readonly #handover = new Map<string, ReturnType<RunHost['close']>>();
  readonly #deps: RunHostDeps;
  readonly #hosting: EngineHosting;
  readonly #onFault: ((error: unknown) => void) | undefined;
  #fault: unknown;
  #closed = false;

  private constructor(wal: Wal, options: WorkflowEngineOptions, limits: WorkflowLimits) {
    this.#wal = wal;
    this.limits = limits;
    this.#onFault = options.onFault;
    this.#definitions = new Map(options.workflows.map((definition) => [definition.name, definition as WorkflowDefinition]));
    const clock = options.clock ?? new RealClock();
    this.#hosting = options.hosting ?? localHosting(clock, limits, options.taskQueues, (error) => this.#failStop(error));
    this.#deps = {
      clock, rng: options.rng ?? createRng(Date.now() >>> 0), limits, queues: this.#hosting.queues, timers: this.#hosting.timers, hooks: options.hooks ?? {},
      persist: (workflowId, events) => this.#persist(workflowId, events),
      startChild: (parentId, effect) => this.#startChild(parentId, effect),
      finished: (host) => this.#finished(host),
    };
    this.recovery = { records: 0, runs: 0, resumed: 0 };
  }

  /** Opens the engine: replays the WAL into histories and resumes every open run. */
  static async open(options: WorkflowEngineOptions): Promise<WorkflowEngine> {
    const limits = { ...workflowLimits, ...options.limits };
    const wal = await Wal.open({ directory: path.join(options.directory, 'wal'), ...(options.disk ? { disk: options.disk } : {}) });
    const engine = new WorkflowEngine(wal, options, limits);
    try {
      await engine.#recover();
    } catch (error) {
      // A history the code cannot host (an unregistered type, a damaged record) refuses to start.
      await engine.close();
      throw error;
    }
    return engine;
  }

  async #recover(): Promise<void> {
    let records = 0;
    for await (const entry of this.#wal.entries(this.#wal.firstIndex)) {
      const record = JSON.parse(decoder.decode(entry.payload)) as { id: string; events: HistoryEvent[] };
      for (const event of record.events) {
        // A `started` event after others begins a new run of the id: a retried run is archived, one
        // that continued as new is dropped (that is what continuing as new is for).
        const history = this.#histories.get(record.id);
        if (event.type === 'started' && history !== undefined && history.length > 0) {
          if (history.at(-1)?.type !== 'continuedAsNew') this.#earlier.set(record.id, [...(this.#earlier.get(record.id) ?? []), history]);
          this.#histories.set(record.id, [event]);
        } else if (history === undefined) this.#histories.set(record.id, [event]);
        else history.push(event);
      }
      records += 1;
    }
    let resumed = 0;
    // Every run is registered as pending before any replays, so a parent resuming its child's start
    // finds the child (idempotent start) instead of starting it again.
    const opening: Promise<RunHost>[] = [];
    for (const [workflowId, history] of this.#histories) {
      this.#definition(foldHistory(history.slice(0, 1)).workflowType);
      if (foldHistory(history).status === 'running') resumed += 1;
      opening.push(this.#bringUp(workflowId));
    }
    await Promise.all(opening);
    // A run that continued as new just before a crash: its next run was not started yet.
    for (const host of [...this.#runs.values()]) if (host.state.status === 'continued') this.#continueAsNew(host);
    (this as { recovery: EngineRecovery }).recovery = { records, runs: this.#histories.size, resumed };
  }

  /** Brings up a host for a run whose history (or begin input) is registered; resolves once it booted. */
  #bringUp(workflowId: string): Promise<RunHost> {
    let resolve!: (host: RunHost) => void;
    const promise = new Promise<RunHost>((done) => (resolve = done));
    this.#pending.set(workflowId, { promise, resolve });
    this.#hosting.host(this.#slot(workflowId));
    return promise;
  }

  #slot(workflowId: string): RunSlot {
    const engine = this;
    return {
      workflowId,
      get stopped() {
        return engine.#closed || engine.#fault !== undefined;
      },
      create: (mailbox) => {
        const history = this.#histories.get(workflowId) ?? [];
        this.#histories.set(workflowId, history);
        const begin = this.#begins.get(workflowId);
        const workflowType = history.length > 0 ? foldHistory(history.slice(0, 1)).workflowType : begin!.start.workflowType;
        return new RunHost(this.#deps, this.#definition(workflowType), workflowId, history, mailbox);
      },
      boot: () => ((this.#histories.get(workflowId)?.length ?? 0) > 0 ? { mode: 'restore' } : this.#begins.get(workflowId)!),
      attach: (host) => {
        if (host.history.length > 0) this.#begins.delete(workflowId);
        const previous = this.#runs.get(workflowId);
        this.#runs.set(workflowId, host);
        if (previous !== undefined && previous !== host) host.adoptWaiters(previous.close('restart'));
        host.adoptWaiters(this.#handover.get(workflowId) ?? []);
        this.#handover.delete(workflowId);
        const pending = this.#pending.get(workflowId);
        this.#pending.delete(workflowId);
        pending?.resolve(host);
      },
      detach: (host, reason) => {
        const waiters = host.close(reason);
        if (waiters.length > 0) this.#handover.set(workflowId, [...(this.#handover.get(workflowId) ?? []), ...waiters]);
      },
    };
  }

  /**
   * Starts a run, idempotently by id: the same id with the same type and input returns the existing
   * run (`existing: true`); a different type or input is refused with WORKFLOW_ID_CONFLICT.
   * Resolves once the `started` event is durable.
   */
  async start(workflowType: string, options: StartOptions): Promise<{ workflowId: string; existing: boolean }> {
    const { existing } = await this.#startRun(workflowType, options, undefined);
    return { workflowId: options.workflowId, existing };
  }

  async #startRun(workflowType: string, options: StartOptions, parent: { id: string; seq: number } | undefined): Promise<{ host: RunHost; existing: boolean }> {
    this.#assertOpen();
    validateName(options.workflowId, 'workflowId', this.limits.nameLengthMax);
    const definition = this.#definition(workflowType);
    const input = toJson(options.input, this.limits.valueBytesMax, 'workflow input');
    // No await between this check and registering the start below, so concurrent starts of one id meet here.
    const pending = this.#pending.get(options.workflowId);
    const existing = this.#runs.get(options.workflowId) ?? (pending === undefined ? undefined : await pending.promise);
    if (existing !== undefined) {
      // A run past its first (continued as new, or retried) has another input by design: only the type must match.
      if (existing.state.workflowType !== workflowType || (existing.state.run === 1 && canonicalJson(existing.state.input) !== canonicalJson(input))) {
        throw new WorkflowError('WORKFLOW_ID_CONFLICT', `workflow ${options.workflowId} already exists with another type or input`, { context: { workflowId: options.workflowId } });
      }
      return { host: existing, existing: true };
    }
    if (this.#runs.size + this.#pending.size >= this.limits.runsMax) throw new InvalidArgumentError(`the engine holds ${this.limits.runsMax} runs`, { runsMax: this.limits.runsMax });
    const executionTimeoutMs = options.executionTimeoutMs ?? definition.executionTimeoutMs;
    this.#begins.set(options.workflowId, {
      mode: 'begin',
      start: {
        type: 'start', workflowId: options.workflowId, workflowType, input, nowMs: this.#deps.clock.now(),
        ...(executionTimeoutMs !== undefined ? { executionTimeoutMs } : {}),
        ...(parent !== undefined ? { parentId: parent.id, parentSeq: parent.seq } : {}),
      },
    });
    const host = await this.#bringUp(options.workflowId);
    return { host, existing: false };
  }

  /**
   * Retries a run that ended without completing (failed, cancelled, timed out): a new run of the same
   * id, type and input from the start (Temporal's reset to the first workflow task, Restate's restart
   * as new). The ended run's history is kept as an earlier run; the new run's steps get their own
   * idempotency keys (`<workflowId>#<run>/<step>/<attempt>`). Resolves with the new run number.
   */
  async retry(workflowId: string): Promise<{ workflowId: string; run: number }> {
    this.#assertOpen();
    const host = this.#run(workflowId);
    const status = host.state.status;
    if (status === 'running' || status === 'completed') {
      throw new WorkflowError('WORKFLOW_NOT_RUNNING', `workflow ${workflowId} is ${status}: only a failed, cancelled or timed-out run can be retried`, { context: { workflowId, status } });
    }
    const run = host.state.run + 1;
    const definition = this.#definition(host.state.workflowType);
    this.#earlier.set(workflowId, [...(this.#earlier.get(workflowId) ?? []), [...host.history]]);
    host.close('closed');
    this.#runs.delete(workflowId);
    this.#histories.set(workflowId, []);
    const executionTimeoutMs = definition.executionTimeoutMs;
    this.#begins.set(workflowId, {
      mode: 'begin',
      start: { type: 'start', workflowId, workflowType: host.state.workflowType, input: host.state.input, nowMs: this.#deps.clock.now(), run, ...(executionTimeoutMs !== undefined ? { executionTimeoutMs } : {}) },
    });
    await this.#bringUp(workflowId);
    return { workflowId, run };
  }

  /** Sends a signal to a run; refused with WORKFLOW_NOT_RUNNING once it ended. Resolves once recorded. */
  async signal(workflowId: string, name: string, payload?: unknown): Promise<void> {
    const host = this.#open(workflowId);
    validateName(name, 'signal name', this.limits.nameLengthMax);
    const received = host.history.filter((event) => event.type === 'signalReceived').length;
    if (received >= this.limits.signalsPerRunMax) throw new InvalidArgumentError(`workflow ${workflowId} received ${this.limits.signalsPerRunMax} signals`, { workflowId });
    await host.signal(name, toJson(payload, this.limits.valueBytesMax, 'signal payload'));
  }

  /** Runs a query handler the live workflow function registered with `ctx.setQuery`. */
  query(workflowId: string, name: string, args?: unknown): unknown {
    const host = this.#run(workflowId);
    return host.query(name, args ?? null);
  }

  /** Requests cancellation of a run; resolves once recorded. */
  async cancel(workflowId: string): Promise<void> {
    await this.#open(workflowId).cancel();
  }

  /** Resolves with a run's result; rejects with WORKFLOW_FAILED (failed, cancelled, timed out) or NONDETERMINISM. */
  result(workflowId: string): Promise<unknown> {
    const pending = this.#pending.get(workflowId);
    if (pending !== undefined && !this.#runs.has(workflowId)) return pending.promise.then(() => this.result(workflowId));
    return this.#run(workflowId).result();
  }

  /** The run's state as the core sees it. */
  describe(workflowId: string): RunState {
    return this.#run(workflowId).state;
  }

  /** Every run held by the engine. */
  list(): RunSummary[] {
    return [...this.#runs.values()].map((host) => summary(host));
  }

  /** A run's durable history (of its latest run number), oldest event first. */
  history(workflowId: string): readonly HistoryEvent[] {
    return [...this.#run(workflowId).history];
  }

  /** Histories of the earlier runs of a workflow id (those `retry` replaced), oldest first. */
  earlierRuns(workflowId: string): readonly (readonly HistoryEvent[])[] {
    this.#run(workflowId);
    return this.#earlier.get(workflowId) ?? [];
  }

  /** The host of a run, if any (for the hosting and tests). */
  host(workflowId: string): RunHost | undefined {
    return this.#runs.get(workflowId);
  }

  /** Resolves once every run has processed what it was given so far (for tests and shutdown). */
  async idle(): Promise<void> {
    await this.#hosting.idle?.();
  }

  /** Stops every run (attempts aborted, timers cleared) and closes the WAL. Runs resume on the next open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const host of this.#runs.values()) host.close('closed');
    this.#hosting.close();
    await this.#wal.close();
  }

  async #persist(workflowId: string, events: readonly HistoryEvent[]): Promise<void> {
    if (this.#closed || this.#fault !== undefined) throw new WorkflowError('ENGINE_CLOSED', 'the workflow engine is closed');
    try {
      await this.#wal.append(encoder.encode(JSON.stringify({ id: workflowId, events })));
    } catch (error) {
      this.#failStop(error);
      throw error;
    }
  }

  #startChild(parentId: string, effect: Extract<Effect, { type: 'startChild' }>): void {
    const deliver = (child: RunHost): void => {
      if (child.state.status === 'running' && child.nondeterminism === undefined) {
        const waiting = this.#parents.get(child.workflowId) ?? [];
        if (!waiting.some((entry) => entry.parentId === parentId && entry.seq === effect.seq)) waiting.push({ parentId, seq: effect.seq });
        this.#parents.set(child.workflowId, waiting);
        return;
      }
      void this.#runs.get(parentId)?.childResult(effect.seq, outcomeOf(child.state)).catch(() => undefined);
    };
    this.#startRun(effect.workflowType, { workflowId: effect.childId, input: effect.input }, { id: parentId, seq: effect.seq }).then(({ host }) => deliver(host), (error: unknown) => {
      void this.#runs.get(parentId)?.childResult(effect.seq, { ok: false, failure: { type: error instanceof WorkflowError ? error.code : 'Error', message: String(error) } }).catch(() => undefined);
    });
  }

  #finished(host: RunHost): void {
    this.#hosting.finished?.(host.workflowId);
    if (host.state.status === 'running') return;
    if (host.state.status === 'continued') {
      this.#continueAsNew(host);
      return;
    }
    const waiting = this.#parents.get(host.workflowId) ?? [];
    this.#parents.delete(host.workflowId);
    for (const { parentId, seq } of waiting) void this.#runs.get(parentId)?.childResult(seq, outcomeOf(host.state)).catch(() => undefined);
  }

  /**
   * Starts the next run of a run that continued as new: the same id and type, the input it passed, a
   * fresh history (the ended run's is dropped from memory), its parent and result waiters carried over.
   */
  #continueAsNew(host: RunHost): void {
    if (this.#closed || this.#fault !== undefined) return;
    const { workflowId, state } = host;
    const waiters = host.close('restart');
    if (waiters.length > 0) this.#handover.set(workflowId, [...(this.#handover.get(workflowId) ?? []), ...waiters]);
    this.#runs.delete(workflowId);
    this.#histories.set(workflowId, []);
    const executionTimeoutMs = this.#definition(state.workflowType).executionTimeoutMs;
    this.#begins.set(workflowId, {
      mode: 'begin',
      start: {
        type: 'start', workflowId, workflowType: state.workflowType, input: state.continuedWith ?? null, nowMs: this.#deps.clock.now(), run: state.run + 1,
        ...(executionTimeoutMs !== undefined ? { executionTimeoutMs } : {}),
        ...(state.parentId !== undefined ? { parentId: state.parentId, parentSeq: state.parentSeq ?? 0 } : {}),
      },
    });
    void this.#bringUp(workflowId);
  }

  #failStop(error: unknown): void {
    if (this.#fault !== undefined || this.#closed) return;
    this.#fault = error;
    this.#onFault?.(error);
  }

  #definition(workflowType: string): WorkflowDefinition {
    const definition = this.#definitions.get(workflowType);
    if (definition === undefined) throw new WorkflowError('UNKNOWN_WORKFLOW_TYPE', `no workflow type ${JSON.stringify(workflowType)} is registered`, { context: { workflowType } });
    return definition;
  }

  #run(workflowId: string): RunHost {
    const host = this.#runs.get(workflowId);
    if (host === undefined) throw new WorkflowError('WORKFLOW_NOT_FOUND', `no workflow ${JSON.stringify(workflowId)}`, { context: { workflowId } });
    return host;
  }

  #open(workflowId: string): RunHost {
    this.#assertOpen();
    const host = this.#run(workflowId);
    if (host.nondeterminism !== undefined) throw host.nondeterminism;
    if (host.state.status !== 'running') throw new WorkflowError('WORKFLOW_NOT_RUNNING', `workflow ${workflowId} is ${host.state.status}`, { context: { workflowId, status: host.state.status } });
    return host;
  }

  #assertOpen(): void {
    if (this.#closed) throw new WorkflowError('ENGINE_CLOSED', 'the workflow engine is closed');
    if (this.#fault !== undefined) throw new WorkflowError('ENGINE_CLOSED', 'the workflow engine stopped after a storage failure', { cause: this.#fault });
  }
}

/** The default hosting: serial mailboxes, one task-queue pool and one timer service in this process. */
function localHosting(clock: Clock, limits: WorkflowLimits, concurrency: Readonly<Record<string, number>> | undefined, failStop: (error: unknown) => void): EngineHosting {
  const timers = new TimerService(clock);
  const queues = new TaskQueues({ ...(concurrency ? { concurrency } : {}), defaultConcurrency: limits.taskQueueConcurrency, depthMax: limits.taskQueueDepthMax });
  const mailboxes = new Map<string, SerialMailbox>();
  return {
    queues, timers,
    host: (slot) => {
      const mailbox = new SerialMailbox((_host, error) => failStop(error));
      mailboxes.set(slot.workflowId, mailbox);
      const host = slot.create(mailbox);
      void mailbox.bind(host, slot.boot()).then(() => slot.attach(host));
    },
    idle: async () => {
      await Promise.all([...mailboxes.values()].map((mailbox) => mailbox.idle()));
    },
    close: () => timers.close(),
  };
}

function summary(host: RunHost): RunSummary {
  return {
    workflowId: host.workflowId, workflowType: host.state.workflowType, status: host.state.status, run: host.state.run, events: host.history.length, startedAtMs: host.state.startedAtMs,
    ...(host.nondeterminism ? { nondeterminism: host.nondeterminism.message } : {}),
  };
}

function outcomeOf(state: RunState): { ok: boolean; result?: unknown; failure?: { type: string; message: string } } {
  return state.status === 'completed' ? { ok: true, result: state.result } : { ok: false, failure: state.failure ?? { type: 'Error', message: state.status } };
}

function validateName(value: unknown, what: string, lengthMax: number): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > lengthMax) {
    throw new InvalidArgumentError(`${what} must be a non-empty string of at most ${lengthMax} characters`, { [what]: value });
  }
}
