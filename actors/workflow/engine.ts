/**
 * The workflow engine: the runs of one data directory, their histories on the storage engine's WAL,
 * recovery, worker pools and the client operations (start, signal, query, cancel, result, list,
 * history). Every history append is one WAL record `{ id, events }`, acknowledged only once fsync'd;
 * opening the engine replays the WAL into histories and resumes every open run (timers re-armed from
 * their recorded due times, attempts of unknown outcome run again under the same idempotency key).
 */
import * as path from 'node:path';
import { InvalidArgumentError, RealClock, createRng, type Clock, type Rng } from '../../runtime/index.js';
import { Wal, type Disk } from '../storage/index.js';
import { foldHistory, type Effect, type HistoryEvent, type RunState, type RunStatus } from './core/index.js';
import type { WorkflowDefinition } from './definition.js';
import { WorkflowError } from './errors.js';
import { canonicalJson, toJson } from './json.js';
import { workflowLimits, type WorkflowLimits } from './limits.js';
import { RunHost, type RunHostDeps } from './run-host.js';
import { TaskQueues } from './task-queues.js';

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
  readonly events: number;
  readonly nondeterminism?: string;
}

/** What `open` found in the WAL. */
export interface EngineRecovery {
  readonly records: number;
  readonly runs: number;
  readonly resumed: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A running workflow engine. Create with `WorkflowEngine.open`. */
export class WorkflowEngine {
  readonly limits: WorkflowLimits;
  readonly recovery: EngineRecovery;
  readonly #wal: Wal;
  readonly #definitions: ReadonlyMap<string, WorkflowDefinition>;
  readonly #runs = new Map<string, RunHost>();
  readonly #pending = new Map<string, Promise<RunHost>>();
  readonly #parents = new Map<string, Array<{ parent: RunHost; seq: number }>>();
  readonly #deps: RunHostDeps;
  readonly #onFault: ((error: unknown) => void) | undefined;
  #fault: unknown;
  #closed = false;

  private constructor(wal: Wal, options: WorkflowEngineOptions, limits: WorkflowLimits) {
    this.#wal = wal;
    this.limits = limits;
    this.#onFault = options.onFault;
    this.#definitions = new Map(options.workflows.map((definition) => [definition.name, definition as WorkflowDefinition]));
    const queues = new TaskQueues({ ...(options.taskQueues ? { concurrency: options.taskQueues } : {}), defaultConcurrency: limits.taskQueueConcurrency, depthMax: limits.taskQueueDepthMax });
    this.#deps = {
      clock: options.clock ?? new RealClock(), rng: options.rng ?? createRng(Date.now() >>> 0), limits, queues,
      persist: (workflowId, events) => this.#persist(workflowId, events),
      startChild: (parent, effect) => this.#startChild(parent, effect),
      finished: (host) => this.#finished(host),
      fault: (_host, error) => this.#failStop(error),
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
    const histories = new Map<string, HistoryEvent[]>();
    let records = 0;
    for await (const entry of this.#wal.entries(this.#wal.firstIndex)) {
      const record = JSON.parse(decoder.decode(entry.payload)) as { id: string; events: HistoryEvent[] };
      const history = histories.get(record.id) ?? [];
      history.push(...record.events);
      histories.set(record.id, history);
      records += 1;
    }
    let resumed = 0;
    // Every run is registered as pending before any replays, so a parent resuming its child's start
    // finds the child (idempotent start) instead of starting it again.
    for (const [workflowId, history] of histories) {
      const definition = this.#definition(foldHistory(history.slice(0, 1)).workflowType);
      this.#pending.set(workflowId, RunHost.restore(this.#deps, definition, history));
      if (foldHistory(history).status === 'running') resumed += 1;
    }
    const restoring = [...this.#pending];
    const settled = await Promise.allSettled(restoring.map(([, promise]) => promise));
    restoring.forEach(([workflowId], index) => {
      const outcome = settled[index]!;
      if (outcome.status === 'fulfilled') this.#runs.set(workflowId, outcome.value);
      this.#pending.delete(workflowId);
    });
    const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    (this as { recovery: EngineRecovery }).recovery = { records, runs: histories.size, resumed };
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
    const existing = this.#runs.get(options.workflowId) ?? (pending === undefined ? undefined : await pending);
    if (existing !== undefined) {
      if (existing.state.workflowType !== workflowType || canonicalJson(existing.state.input) !== canonicalJson(input)) {
        throw new WorkflowError('WORKFLOW_ID_CONFLICT', `workflow ${options.workflowId} already exists with another type or input`, { context: { workflowId: options.workflowId } });
      }
      return { host: existing, existing: true };
    }
    if (this.#runs.size + this.#pending.size >= this.limits.runsMax) throw new InvalidArgumentError(`the engine holds ${this.limits.runsMax} runs`, { runsMax: this.limits.runsMax });
    const executionTimeoutMs = options.executionTimeoutMs ?? definition.executionTimeoutMs;
    const starting = RunHost.begin(this.#deps, definition, {
      type: 'start', workflowId: options.workflowId, workflowType, input, nowMs: this.#deps.clock.now(),
      ...(executionTimeoutMs !== undefined ? { executionTimeoutMs } : {}),
      ...(parent !== undefined ? { parentId: parent.id, parentSeq: parent.seq } : {}),
    });
    this.#pending.set(options.workflowId, starting);
    try {
      const host = await starting;
      this.#runs.set(options.workflowId, host);
      return { host, existing: false };
    } finally {
      this.#pending.delete(options.workflowId);
    }
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
    return this.#run(workflowId).result();
  }

  /** The run's state as the core sees it. */
  describe(workflowId: string): RunState {
    return this.#run(workflowId).state;
  }

  /** Every run held by the engine. */
  list(): RunSummary[] {
    return [...this.#runs.values()].map((host) => ({
      workflowId: host.workflowId, workflowType: host.state.workflowType, status: host.state.status, events: host.history.length,
      ...(host.nondeterminism ? { nondeterminism: host.nondeterminism.message } : {}),
    }));
  }

  /** A run's durable history, oldest event first. */
  history(workflowId: string): readonly HistoryEvent[] {
    return [...this.#run(workflowId).history];
  }

  /** Resolves once every run has processed what it was given so far (for tests and shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.#runs.values()].map((host) => host.idle()));
  }

  /** Stops every run (attempts aborted, timers cleared) and closes the WAL. Runs resume on the next open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const host of this.#runs.values()) host.close();
    await this.#wal.close();
  }

  #persist(workflowId: string, events: readonly HistoryEvent[]): Promise<void> {
    return this.#wal.append(encoder.encode(JSON.stringify({ id: workflowId, events }))).then(() => undefined);
  }

  #startChild(parent: RunHost, effect: Extract<Effect, { type: 'startChild' }>): void {
    const deliver = (child: RunHost): void => {
      if (child.state.status === 'running') {
        const waiting = this.#parents.get(child.workflowId) ?? [];
        if (!waiting.some((entry) => entry.parent === parent && entry.seq === effect.seq)) waiting.push({ parent, seq: effect.seq });
        this.#parents.set(child.workflowId, waiting);
        return;
      }
      void parent.childResult(effect.seq, outcomeOf(child.state));
    };
    this.#startRun(effect.workflowType, { workflowId: effect.childId, input: effect.input }, { id: parent.workflowId, seq: effect.seq }).then(({ host }) => deliver(host), (error: unknown) => {
      void parent.childResult(effect.seq, { ok: false, failure: { type: error instanceof WorkflowError ? error.code : 'Error', message: String(error) } });
    });
  }

  #finished(host: RunHost): void {
    const waiting = this.#parents.get(host.workflowId) ?? [];
    this.#parents.delete(host.workflowId);
    for (const { parent, seq } of waiting) void parent.childResult(seq, outcomeOf(host.state));
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

function outcomeOf(state: RunState): { ok: boolean; result?: unknown; failure?: { type: string; message: string } } {
  return state.status === 'completed' ? { ok: true, result: state.result } : { ok: false, failure: state.failure ?? { type: 'Error', message: state.status } };
}

function validateName(value: unknown, what: string, lengthMax: number): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > lengthMax) {
    throw new InvalidArgumentError(`${what} must be a non-empty string of at most ${lengthMax} characters`, { [what]: value });
  }
}
