/**
 * The engine actor's request protocol: plain-data messages with a `type`, validated before the engine
 * sees them (they may come from the network), and one reply per request, `{ ok: true, ... }` or
 * `{ ok: false, code, message }`.
 */
import type { HistoryEvent } from './core/index.js';
import type { RunSummary } from './engine.js';

/** Requests the engine actor serves. */
export type WorkflowRequest =
  | { readonly type: 'workflow.start'; readonly workflowType: string; readonly workflowId: string; readonly input?: unknown; readonly executionTimeoutMs?: number }
  | { readonly type: 'workflow.signal'; readonly workflowId: string; readonly name: string; readonly payload?: unknown }
  | { readonly type: 'workflow.query'; readonly workflowId: string; readonly name: string; readonly args?: unknown }
  | { readonly type: 'workflow.cancel'; readonly workflowId: string }
  | { readonly type: 'workflow.result'; readonly workflowId: string }
  | { readonly type: 'workflow.list' }
  | { readonly type: 'workflow.history'; readonly workflowId: string }
  | { readonly type: 'workflow.retry'; readonly workflowId: string }
  | { readonly type: 'workflow.describe'; readonly workflowId: string };

/** Replies, by request. */
export type WorkflowReply =
  | {
    readonly ok: true; readonly workflowId?: string; readonly existing?: boolean; readonly value?: unknown; readonly runs?: readonly RunSummary[];
    readonly events?: readonly HistoryEvent[]; readonly earlierRuns?: readonly (readonly HistoryEvent[])[]; readonly run?: number;
  }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly status?: string };

/** Every request type. */
export const WORKFLOW_REQUEST_TYPES = ['workflow.start', 'workflow.signal', 'workflow.query', 'workflow.cancel', 'workflow.result', 'workflow.list', 'workflow.history', 'workflow.retry', 'workflow.describe'] as const;

const required: Record<(typeof WORKFLOW_REQUEST_TYPES)[number], readonly string[]> = {
  'workflow.start': ['workflowType', 'workflowId'],
  'workflow.signal': ['workflowId', 'name'],
  'workflow.query': ['workflowId', 'name'],
  'workflow.cancel': ['workflowId'],
  'workflow.result': ['workflowId'],
  'workflow.list': [],
  'workflow.history': ['workflowId'],
  'workflow.retry': ['workflowId'],
  'workflow.describe': ['workflowId'],
};

/** True for a message whose `type` is one of the workflow requests (its fields are checked by `parseWorkflowRequest`). */
export function isWorkflowRequestType(message: unknown): boolean {
  const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
  return typeof type === 'string' && Object.hasOwn(required, type);
}

/** Checks a request's fields (its type is known); returns the request, or an INVALID_ARGUMENT reply naming what is wrong. */
export function parseWorkflowRequest(message: unknown): WorkflowRequest | Extract<WorkflowReply, { ok: false }> {
  if (!isWorkflowRequestType(message)) return { ok: false, code: 'INVALID_ARGUMENT', message: 'not a workflow request' };
  const candidate = message as Record<string, unknown>;
  const type = candidate.type as string;
  for (const field of required[type as keyof typeof required]) {
    if (typeof candidate[field] !== 'string') return { ok: false, code: 'INVALID_ARGUMENT', message: `${type}: ${field} must be a string` };
  }
  if (candidate.executionTimeoutMs !== undefined && (typeof candidate.executionTimeoutMs !== 'number' || !Number.isInteger(candidate.executionTimeoutMs) || candidate.executionTimeoutMs <= 0)) {
    return { ok: false, code: 'INVALID_ARGUMENT', message: `${type}: executionTimeoutMs must be a positive integer` };
  }
  return message as WorkflowRequest;
}
