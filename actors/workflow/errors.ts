/**
 * Typed workflow errors. Each carries a stable `code`; the ones a workflow function sees (a step that
 * failed for good, a cancellation, a failed child) also carry the recorded `FailureInfo`.
 */
import { TroupeError } from '../../runtime/index.js';
import type { FailureInfo, RecordedCommand } from './core/index.js';

/** Stable codes of the workflow layer. */
export type WorkflowErrorCode =
  | 'NONDETERMINISM'
  | 'WORKFLOW_ID_CONFLICT'
  | 'WORKFLOW_NOT_FOUND'
  | 'WORKFLOW_NOT_RUNNING'
  | 'UNKNOWN_WORKFLOW_TYPE'
  | 'UNKNOWN_QUERY'
  | 'STEP_FAILED'
  | 'CHILD_FAILED'
  | 'CANCELLED'
  | 'WORKFLOW_FAILED'
  | 'DUPLICATE_COMMAND_NAME'
  | 'TOO_MANY_COMMANDS'
  | 'NOT_JSON'
  | 'TASK_QUEUE_FULL'
  | 'ENGINE_CLOSED';

/** A workflow-layer failure with a stable code. */
export class WorkflowError extends TroupeError {
  constructor(code: WorkflowErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
  }
}

/** A replay asked for a different command than the history holds: the workflow code changed. */
export class NondeterminismError extends WorkflowError {
  readonly seq: number;
  readonly expected: RecordedCommand | undefined;
  readonly actual: RecordedCommand | undefined;

  constructor(workflowId: string, seq: number, expected: RecordedCommand | undefined, actual: RecordedCommand | undefined) {
    const show = (command: RecordedCommand | undefined): string => (command === undefined ? 'nothing' : `${command.kind} ${JSON.stringify(command.name)}`);
    super('NONDETERMINISM', `workflow ${workflowId}: replay diverged at command ${seq}: history has ${show(expected)}, code asked for ${show(actual)}`, {
      context: { workflowId, seq, expected, actual },
    });
    this.seq = seq;
    this.expected = expected;
    this.actual = actual;
  }
}

/** Raised inside a workflow function where a step failed for good (after its retries). */
export class StepFailedError extends WorkflowError {
  readonly failure: FailureInfo;

  constructor(stepName: string, failure: FailureInfo) {
    super('STEP_FAILED', `step ${stepName} failed: ${failure.type}: ${failure.message}`, { context: { stepName, failure } });
    this.failure = failure;
  }
}

/** Raised inside a workflow function at every await pending when the run was cancelled. */
export class WorkflowCancelledError extends WorkflowError {
  constructor(workflowId: string) {
    super('CANCELLED', `workflow ${workflowId} was cancelled`, { context: { workflowId } });
  }
}

/** Raised inside a parent workflow when its child failed. */
export class ChildFailedError extends WorkflowError {
  readonly failure: FailureInfo;

  constructor(childId: string, failure: FailureInfo) {
    super('CHILD_FAILED', `child workflow ${childId} failed: ${failure.type}: ${failure.message}`, { context: { childId, failure } });
    this.failure = failure;
  }
}

/** What `result()` rejects with when a run failed, was cancelled or timed out. */
export class WorkflowFailedError extends WorkflowError {
  readonly failure: FailureInfo;
  readonly status: string;

  constructor(workflowId: string, status: string, failure: FailureInfo) {
    super('WORKFLOW_FAILED', `workflow ${workflowId} ${status}: ${failure.type}: ${failure.message}`, { context: { workflowId, status, failure } });
    this.failure = failure;
    this.status = status;
  }
}

/** Turns anything a step or workflow threw into recorded failure data; `type` is its code, else its name. */
export function failureOf(error: unknown): FailureInfo {
  if (error instanceof StepFailedError || error instanceof ChildFailedError) return { type: error.failure.type, message: error.message };
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { type: typeof code === 'string' ? code : error.name, message: error.message };
  }
  return { type: 'Error', message: String(error) };
}
