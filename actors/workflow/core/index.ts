/** The pure execution core of workflows: history events, the fold, retry decisions and the run machine. */
export { applyEvent, emptyRunState, foldHistory } from './history.js';
export { dueTimeout, idempotencyKey, nextWakeMs, step } from './machine.js';
export { backoffIntervalMs, decideRetry, defaultRetryPolicy, jitteredMs } from './retry.js';
export type { RetryDecision } from './retry.js';
export type {
  Command, CoreInput, CoreOutput, Effect, FailureInfo, HistoryEvent, RecordedCommand, RetryPolicy, RunState, RunStatus, StepDispatch,
  StepOptions, StepState, StepTimeouts, TimeoutKind,
} from './types.js';
