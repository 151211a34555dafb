/**
 * The code-first API: a workflow is an ordinary async function of a context and an input. Every
 * `ctx` call that can wait (steps, timers, signals, children) and every value that would differ
 * between runs (`now`, `random`) goes through the history, so the function replays to the same point.
 *
 * Rules for workflow code (what replay needs): do all I/O inside steps; read time and randomness only
 * through `ctx.now()` / `ctx.random()`; give every step, timer, signal wait and child a name unique in
 * the run (loops: `item-${i}`); keep inputs, results and payloads JSON.
 */
import type { RetryPolicy, StepTimeouts } from './core/index.js';

/** What a step function receives. */
export interface StepContext {
  readonly workflowId: string;
  readonly stepName: string;
  /** 1 for the first attempt; a retry after a failure or timeout gets the next number. */
  readonly attempt: number;
  /** `<workflowId>/<step name>/<attempt>`: the same for a re-run after a crash; pass it to external APIs. */
  readonly idempotencyKey: string;
  /** Aborted when the attempt timed out, the workflow was cancelled or ended, or the engine closes. */
  readonly signal: AbortSignal;
  /** Reports progress of a long step; a gap longer than the heartbeat timeout fails the attempt. */
  heartbeat(details?: unknown): void;
}

/** Options of one `ctx.step` call. */
export interface StepCallOptions<Result> {
  readonly retry?: Partial<RetryPolicy>;
  readonly timeouts?: StepTimeouts;
  /** Which worker pool runs the step (bounded concurrency per queue). Default `default`. */
  readonly taskQueue?: string;
  /** Saga undo: if the workflow later fails for good, completed steps' compensations run in reverse. */
  readonly compensate?: (result: Result, step: StepContext) => unknown;
  /** Retry policy of the compensation step (default: the step's own). */
  readonly compensateRetry?: Partial<RetryPolicy>;
}

/** The context a workflow function runs against. */
export interface WorkflowContext {
  readonly workflowId: string;
  /** Runs `fn` as a durable step: its result is recorded before the workflow goes on, and replayed after. */
  step<Result>(name: string, fn: (step: StepContext) => Result | Promise<Result>, options?: StepCallOptions<Result>): Promise<Result>;
  /** A durable timer of `delayMs` from `ctx.now()`. */
  sleep(name: string, delayMs: number): Promise<void>;
  /** A durable timer until `atMs` on the engine's clock. */
  sleepUntil(name: string, atMs: number): Promise<void>;
  /** Waits for the next signal `signalName` (each call takes one, in arrival order). `name` labels the wait. */
  signal<Payload = unknown>(signalName: string, name?: string): Promise<Payload>;
  /** Starts a child workflow with id `<workflowId>/<name>` and waits for its result. */
  child<Result = unknown>(name: string, workflowType: string, input: unknown): Promise<Result>;
  /** The engine's clock at first execution, replayed from the history afterwards. */
  now(): number;
  /** A random float in [0, 1), recorded at first execution, replayed afterwards. */
  random(): number;
  /** Registers a query handler over the workflow's current state (read-only, not recorded). */
  setQuery(name: string, handler: (args: unknown) => unknown): void;
  /**
   * Ends this run and starts the next run of the same workflow id with `input` and a fresh history
   * (Temporal's continue-as-new): what keeps a long-lived workflow's history, and its replay, bounded.
   * Use as `return ctx.continueAsNew(next)`; the returned promise never resolves.
   */
  continueAsNew(input: unknown): Promise<never>;
}

/** A registered workflow type. */
export interface WorkflowDefinition<Input = unknown, Output = unknown> {
  readonly name: string;
  readonly run: (ctx: WorkflowContext, input: Input) => Promise<Output>;
  /** Workflow-level execution timeout: the run ends `timedOut` if not done in this time. */
  readonly executionTimeoutMs?: number;
}

/** Defines a workflow type: `workflow('charge-and-ship', async (ctx, input) => { ... })`. */
export function workflow<Input, Output>(name: string, run: (ctx: WorkflowContext, input: Input) => Promise<Output>, options: { executionTimeoutMs?: number } = {}): WorkflowDefinition<Input, Output> {
  return { name, run, ...(options.executionTimeoutMs !== undefined ? { executionTimeoutMs: options.executionTimeoutMs } : {}) };
}
