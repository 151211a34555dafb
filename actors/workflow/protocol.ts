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
  | { readonly type: 'workflow.history'; readonly workflowId: string };

/** Replies, by request. */
export type WorkflowReply =
  | { readonly ok: true; readonly workflowId?: string; readonly existing?: boolean; readonly value?: unknown; readonly runs?: readonly RunSummary[]; readonly events?: readonly HistoryEvent[] }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly status?: string };

/** Every request type. */
export const WORKFLOW_REQUEST_TYPES = ['workflow.start', 'workflow.signal', 'workflow.query', 'workflow.cancel', 'workflow.result', 'workflow.list', 'workflow.history'] as const;

const required: Record<(typeof WORKFLOW_REQUEST_TYPES)[number], readonly string[]> = {
  'workflow.start': ['workflowType', 'workflowId'],
  'workflow.signal': ['workflowId', 'name'],
  'workflow.query': ['workflowId', 'name'],
  'workflow.cancel': ['workflowId'],
  'workflow.result': ['workflowId'],
  'workflow.list': [],
  'workflow.history': ['workflowId'],
};

/** Checks a message's shape; returns the request, or a refusal reply naming what is wrong. */
export function parseWorkflowRequest(message: unknown): WorkflowRequest | Extract<WorkflowReply, { ok: false }> {
  if (typeof message !== 'object' || message === null) return { ok: false, code: 'INVALID_ARGUMENT', message: 'a workflow request must be an object' };
  const candidate = message as Record<string, unknown>;
  const type = candidate.type;
  if (typeof type !== 'string' || !(type in required)) return { ok: false, code: 'INVALID_ARGUMENT', message: `unknown workflow request type ${JSON.stringify(type)}` };
  for (const field of required[type as keyof typeof required]) {
    if (typeof candidate[field] !== 'string') return { ok: false, code: 'INVALID_ARGUMENT', message: `${type}: ${field} must be a string` };
  }
  if (candidate.executionTimeoutMs !== undefined && (typeof candidate.executionTimeoutMs !== 'number' || !Number.isInteger(candidate.executionTimeoutMs) || candidate.executionTimeoutMs <= 0)) {
    return { ok: false, code: 'INVALID_ARGUMENT', message: `${type}: executionTimeoutMs must be a positive integer` };
  }
  return message as WorkflowRequest;
}
