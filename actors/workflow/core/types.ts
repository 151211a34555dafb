/**
 * The data of the workflow execution core: history events (what is made durable), commands (what the
 * workflow function asks for), inputs (what the shell feeds the core) and effects (what the core asks
 * the shell to do). All plain JSON data, so a history can be written to the WAL and replayed.
 */

/** Temporal's retry policy shape. Every field is optional on input; `resolveRetryPolicy` fills defaults. */
export interface RetryPolicy {
  readonly initialIntervalMs: number;
  readonly backoffCoefficient: number;
  readonly maximumIntervalMs: number;
  /** 0 means unlimited (bounded by the scheduleToClose timeout, if any). */
  readonly maximumAttempts: number;
  /** Error types (the thrown error's `code`, else its `name`) that fail the step at once. */
  readonly nonRetryableErrorTypes: readonly string[];
  /** Fraction of each delay randomised: delay * (1 - jitter + 2 * jitter * random). */
  readonly jitter: number;
}

/** The four step timeouts, in milliseconds; absent means none. */
export interface StepTimeouts {
  /** From scheduling an attempt to a worker starting it (time spent queued). */
  readonly scheduleToStartMs?: number;
  /** From a worker starting an attempt to its result. */
  readonly startToCloseMs?: number;
  /** From the first attempt's scheduling to the final result, across all retries. */
  readonly scheduleToCloseMs?: number;
  /** Longest gap between heartbeats of a started attempt. */
  readonly heartbeatMs?: number;
}

/** The resolved options of a step, as recorded in the history. */
export interface StepOptions {
  readonly retry: RetryPolicy;
  readonly timeouts: StepTimeouts;
  readonly taskQueue: string;
}

/** A failure as data: `type` is the error's code (or name), what retry policies match on. */
export interface FailureInfo {
  readonly type: string;
  readonly message: string;
  readonly details?: unknown;
}

/** Which timeout ended an attempt (or the workflow). */
export type TimeoutKind = 'scheduleToStart' | 'startToClose' | 'scheduleToClose' | 'heartbeat';

/** Terminal status of a run; `running` until one of the others. */
/** `continued`: the run ended by continuing as new (`ctx.continueAsNew`); the next run of the id carries on. */
export type RunStatus = 'running' | 'completed' | 'failed' | 'cancelled' | 'timedOut' | 'continued';

/** One record of a run's history. `seq` is the command sequence number the event belongs to. */
export type HistoryEvent =
  | { readonly type: 'started'; readonly workflowId: string; readonly workflowType: string; readonly input: unknown; readonly atMs: number; readonly executionTimeoutMs?: number; readonly parentId?: string; readonly parentSeq?: number; readonly run?: number }
  | { readonly type: 'stepScheduled'; readonly seq: number; readonly name: string; readonly attempt: number; readonly atMs: number; readonly options: StepOptions }
  | { readonly type: 'stepStarted'; readonly seq: number; readonly attempt: number; readonly atMs: number }
  | { readonly type: 'stepCompleted'; readonly seq: number; readonly attempt: number; readonly result: unknown; readonly atMs?: number }
  | { readonly type: 'stepFailed'; readonly seq: number; readonly attempt: number; readonly failure: FailureInfo; readonly final: boolean; readonly retryAtMs?: number; readonly atMs?: number }
  | { readonly type: 'stepTimedOut'; readonly seq: number; readonly attempt: number; readonly timeout: TimeoutKind; readonly final: boolean; readonly retryAtMs?: number; readonly atMs?: number }
  | { readonly type: 'timerSet'; readonly seq: number; readonly name: string; readonly dueMs: number }
  | { readonly type: 'timerFired'; readonly seq: number; readonly atMs?: number }
  | { readonly type: 'signalAwaited'; readonly seq: number; readonly name: string }
  | { readonly type: 'signalReceived'; readonly name: string; readonly payload: unknown; readonly atMs?: number }
  | { readonly type: 'markerRecorded'; readonly seq: number; readonly name: string; readonly value: number }
  | { readonly type: 'childStarted'; readonly seq: number; readonly name: string; readonly childId: string; readonly workflowType: string; readonly input: unknown }
  | { readonly type: 'childCompleted'; readonly seq: number; readonly ok: boolean; readonly result?: unknown; readonly failure?: FailureInfo; readonly atMs?: number }
  | { readonly type: 'cancelRequested'; readonly atMs: number }
  | { readonly type: 'completed'; readonly result: unknown; readonly atMs?: number }
  | { readonly type: 'failed'; readonly failure: FailureInfo; readonly atMs?: number }
  | { readonly type: 'cancelled'; readonly failure: FailureInfo; readonly atMs?: number }
  | { readonly type: 'timedOut'; readonly atMs: number }
  | { readonly type: 'continuedAsNew'; readonly input: unknown; readonly atMs?: number };

/** What the workflow function asked for, in the order it asked. Replay must repeat this sequence. */
export type Command =
  | { readonly kind: 'step'; readonly seq: number; readonly name: string; readonly options: StepOptions }
  | { readonly kind: 'timer'; readonly seq: number; readonly name: string; readonly dueMs: number }
  | { readonly kind: 'signal'; readonly seq: number; readonly name: string }
  | { readonly kind: 'marker'; readonly seq: number; readonly name: string; readonly value: number }
  | { readonly kind: 'child'; readonly seq: number; readonly name: string; readonly workflowType: string; readonly input: unknown }
  | { readonly kind: 'complete'; readonly seq: number; readonly result: unknown }
  | { readonly kind: 'fail'; readonly seq: number; readonly failure: FailureInfo }
  | { readonly kind: 'continue'; readonly seq: number; readonly input: unknown };

/** A command as the history remembers it (enough to compare a replay against). */
export interface RecordedCommand {
  readonly kind: Command['kind'];
  readonly name: string;
}

/** What the shell feeds the core. Time (`nowMs`) and randomness (`random`, in [0, 1)) come in here. */
export type CoreInput =
  | { readonly type: 'start'; readonly workflowId: string; readonly workflowType: string; readonly input: unknown; readonly nowMs: number; readonly executionTimeoutMs?: number; readonly parentId?: string; readonly parentSeq?: number; readonly run?: number }
  | { readonly type: 'commands'; readonly commands: readonly Command[]; readonly nowMs: number }
  | { readonly type: 'stepStarted'; readonly seq: number; readonly attempt: number; readonly nowMs: number }
  | { readonly type: 'stepResult'; readonly seq: number; readonly attempt: number; readonly ok: boolean; readonly result?: unknown; readonly failure?: FailureInfo; readonly nowMs: number; readonly random: number }
  | { readonly type: 'heartbeat'; readonly seq: number; readonly attempt: number; readonly nowMs: number }
  | { readonly type: 'tick'; readonly nowMs: number; readonly random: number }
  | { readonly type: 'signal'; readonly name: string; readonly payload: unknown; readonly nowMs?: number }
  | { readonly type: 'childResult'; readonly seq: number; readonly ok: boolean; readonly result?: unknown; readonly failure?: FailureInfo; readonly nowMs?: number }
  | { readonly type: 'cancel'; readonly nowMs: number }
  | { readonly type: 'recover'; readonly nowMs: number; readonly issued: number };

/** A step attempt for a worker to run. */
export interface StepDispatch {
  readonly type: 'dispatch';
  readonly seq: number;
  readonly name: string;
  readonly attempt: number;
  /** `<workflowId>/<step name>/<attempt>`: stable across crashes, for the step to pass on. */
  readonly idempotencyKey: string;
  readonly taskQueue: string;
}

/** What the core asks the shell to do, in order. Effects after an `append` wait for it to be durable. */
export type Effect =
  | { readonly type: 'append'; readonly events: readonly HistoryEvent[] }
  | StepDispatch
  | { readonly type: 'abort'; readonly seq: number; readonly attempt: number; readonly reason: string }
  | { readonly type: 'startChild'; readonly seq: number; readonly childId: string; readonly workflowType: string; readonly input: unknown }
  | { readonly type: 'finished'; readonly status: Exclude<RunStatus, 'running'>; readonly result?: unknown; readonly failure?: FailureInfo }
  | { readonly type: 'nondeterminism'; readonly seq: number; readonly expected: RecordedCommand | undefined; readonly actual: RecordedCommand | undefined };

/** State of one step (one command seq) across its attempts. */
export interface StepState {
  readonly seq: number;
  readonly name: string;
  readonly options: StepOptions;
  readonly firstScheduledAtMs: number;
  readonly attempt: number;
  readonly phase: 'scheduled' | 'started' | 'backoff' | 'completed' | 'failed';
  readonly attemptScheduledAtMs: number;
  readonly startedAtMs?: number;
  readonly lastHeartbeatMs?: number;
  readonly retryAtMs?: number;
}

/** The run as the core sees it: a fold of its history, plus heartbeat times kept in memory. */
export interface RunState {
  readonly workflowId: string;
  readonly workflowType: string;
  readonly input: unknown;
  readonly status: RunStatus;
  /** 1 for the first run of a workflow id; `retry` starts run 2, 3, ... of the same id and input. */
  readonly run: number;
  readonly startedAtMs: number;
  readonly executionDeadlineMs?: number;
  readonly parentId?: string;
  readonly parentSeq?: number;
  readonly commands: readonly RecordedCommand[];
  readonly steps: Readonly<Record<number, StepState>>;
  readonly timers: Readonly<Record<number, { readonly name: string; readonly dueMs: number; readonly fired: boolean }>>;
  readonly children: Readonly<Record<number, { readonly childId: string; readonly workflowType: string; readonly input: unknown; readonly done: boolean }>>;
  readonly cancelRequested: boolean;
  readonly result?: unknown;
  readonly failure?: FailureInfo;
  /** The input of the next run, once the run continued as new. */
  readonly continuedWith?: unknown;
  readonly events: number;
  /** Set once a replay diverged from the history; the run accepts no more commands until restarted. */
  readonly diverged: boolean;
}

/** What one core step returns. `wakeAtMs` is the earliest time the core wants a `tick`. */
export interface CoreOutput {
  readonly state: RunState;
  readonly effects: readonly Effect[];
  readonly wakeAtMs: number | undefined;
}
