/**
 * Every bound of the workflow engine, with what happens at it. `WorkflowEngine.open({ limits })`
 * overrides any of them.
 */
export const workflowLimits = {
  /** Commands (steps, timers, signal waits, markers, children) one run may issue; the next one throws TOO_MANY_COMMANDS inside the workflow, which fails the run. */
  commandsPerRunMax: 10_000,
  /** Workflow ids, step, timer, signal and query names: longest accepted; longer is INVALID_ARGUMENT. */
  nameLengthMax: 200,
  /** Encoded bytes of one input, step result, signal payload or workflow result; larger is INVALID_ARGUMENT (a step result: the attempt fails with NOT_JSON and is retried per policy). */
  valueBytesMax: 256 * 1024,
  /** Default concurrency of a task queue (steps running at once); more wait in the queue, which scheduleToStart bounds. */
  taskQueueConcurrency: 64,
  /** Step attempts waiting in one task queue; one more fails at once with TASK_QUEUE_FULL (retried per policy). */
  taskQueueDepthMax: 100_000,
  /** Runs (open and finished) an engine holds in memory; a start beyond it is refused with INVALID_ARGUMENT. */
  runsMax: 1_000_000,
  /** Signals one run may receive; one more is refused with INVALID_ARGUMENT (the history would grow without bound). */
  signalsPerRunMax: 10_000,
} as const;

/** The limits type, for overrides. */
export type WorkflowLimits = { readonly [K in keyof typeof workflowLimits]: number };
