/**
 * Durable workflows: code-first workflow functions whose every step result is fsync'd to the WAL before
 * the next step runs; retries, four step timeouts, durable timers, signals, queries, child workflows,
 * sagas; recovery by replay. The only public surface of actors/workflow.
 */
export { engineRef, workflowClient, workflowEngine, workflowEngineBehaviour } from './actor.js';
export type { WorkflowActorState, WorkflowClient, WorkflowEngineActorOptions } from './actor.js';
export { WORKFLOW_REQUEST_TYPES, isWorkflowRequestType, parseWorkflowRequest } from './protocol.js';
export type { WorkflowReply, WorkflowRequest } from './protocol.js';
export { workflow } from './definition.js';
export type { StepCallOptions, StepContext, WorkflowContext, WorkflowDefinition } from './definition.js';
export { WorkflowEngine } from './engine.js';
export type { EngineHosting, EngineRecovery, RunSlot, RunSummary, StartOptions, WorkflowEngineOptions } from './engine.js';
export {
  ChildFailedError, NondeterminismError, StepFailedError, WorkflowCancelledError, WorkflowError, WorkflowFailedError, failureOf,
} from './errors.js';
export type { WorkflowErrorCode } from './errors.js';
export { replayHistory } from './replay-check.js';
export { describeEvent, formatTimeline, runWorkflowCli, workflowRequestOf, workflowUsage } from './cli.js';
export type { WorkflowCliArgs, WorkflowCliOptions } from './cli.js';
export { eventKind, timelineOf, workflowHttp } from './http.js';
export type { EventKind } from './http.js';
export { workflowsPage } from './ui-page.js';
export { demoWorkflows, greetWorkflow, orderWorkflow, paymentWorkflow } from './demo.js';
export type { ReplayOutcome } from './replay-check.js';
export { workflowLimits } from './limits.js';
export type { WorkflowLimits } from './limits.js';
export { TaskQueues } from './task-queues.js';
export type { QueuedAttempt, StepOutcome, StepQueues, TaskQueueOptions } from './task-queues.js';
export { TimerService } from './timer-service.js';
export type { TimerClock, WakeTimers } from './timer-service.js';
export type { RunMailbox, RunMessage, WorkflowHooks } from './run-host.js';
export { actorNameFor, runBehaviour } from './run-actor.js';
export type { RunActorMessage, RunActorState } from './run-actor.js';
export { timerBehaviour, workerBehaviour } from './worker-actor.js';
export type { TimerMessage, WorkerMessage, WorkerOptions } from './worker-actor.js';
export { applyEvent, backoffIntervalMs, decideRetry, defaultRetryPolicy, dueTimeout, emptyRunState, foldHistory, idempotencyKey, jitteredMs, nextWakeMs, step } from './core/index.js';
export type {
  Command, CoreInput, CoreOutput, Effect, FailureInfo, HistoryEvent, RecordedCommand, RetryPolicy, RunState, RunStatus, StepOptions, StepState, StepTimeouts, TimeoutKind,
} from './core/index.js';
