/**
 * The workflow engine on a node's HTTP port: two read-only API routes and a page, which a cluster node
 * serves when given them (`createClusterNode({ http: { extensions } })`, as `npm start` does):
 *
 *   GET /api/workflows                    every run: id, type, status, run number, events, start time
 *   GET /api/workflows/history?id=<id>    one run: its summary, state, and each history event with its
 *                                          time since the start, a kind and the same words as the CLI
 *   GET /ui/workflows                     the page: runs, and a run's history as a timeline
 *
 * Both routes need a token that may read the tree (`tree:read` or admin). They ask the engine actor
 * like any client, so a refusal (WORKFLOW_NOT_FOUND) is a 404 with the engine's code.
 */
import type { ActorSystem, Ref } from '../../runtime/index.js';
import type { ApiRoute, UiPage } from '../../cluster/index.js';
import type { HistoryEvent } from './core/index.js';
import { describeEvent } from './cli.js';
import type { WorkflowReply, WorkflowRequest } from './protocol.js';
import { workflowsPage } from './ui-page.js';

/** How an event is drawn on the timeline. */
export type EventKind = 'start' | 'step' | 'error' | 'timer' | 'signal' | 'child' | 'marker' | 'end';

/** The kind of one history event. */
export function eventKind(event: HistoryEvent): EventKind {
  switch (event.type) {
    case 'started':
      return 'start';
    case 'stepScheduled':
    case 'stepStarted':
    case 'stepCompleted':
      return 'step';
    case 'stepFailed':
    case 'stepTimedOut':
    case 'failed':
    case 'timedOut':
    case 'cancelled':
      return 'error';
    case 'timerSet':
    case 'timerFired':
      return 'timer';
    case 'signalAwaited':
    case 'signalReceived':
    case 'cancelRequested':
      return 'signal';
    case 'childStarted':
    case 'childCompleted':
      return 'child';
    case 'markerRecorded':
      return 'marker';
    case 'completed':
    case 'continuedAsNew':
      return 'end';
    default:
      return 'marker';
  }
}

/** The events of a history as the page draws them. */
export function timelineOf(events: readonly HistoryEvent[]): Array<HistoryEvent & { index: number; kind: EventKind; text: string; offsetMs?: number }> {
  const first = events[0];
  const startedAtMs = first?.type === 'started' ? first.atMs : 0;
  const names = new Map<number, string>();
  return events.map((event, index) => {
    if (event.type === 'stepScheduled' || event.type === 'timerSet' || event.type === 'childStarted' || event.type === 'signalAwaited') names.set(event.seq, event.name);
    const atMs = (event as { atMs?: unknown }).atMs;
    return {
      ...event, index, kind: eventKind(event), text: describeEvent(event, { names, startedAtMs }),
      ...(typeof atMs === 'number' ? { offsetMs: Math.round(atMs - startedAtMs) } : {}),
    };
  });
}

/** The routes and the page for the engine actor at `engine`. */
export function workflowHttp(system: Pick<ActorSystem, 'ask'>, engine: Ref): { routes: ApiRoute[]; pages: UiPage[] } {
  const ask = (request: WorkflowRequest): Promise<WorkflowReply> => system.ask<WorkflowReply>(engine, request, { timeoutMs: 10_000 });
  const refused = (reply: Extract<WorkflowReply, { ok: false }>): { status: number; body: unknown } => ({ status: reply.code === 'WORKFLOW_NOT_FOUND' ? 404 : 400, body: { code: reply.code, message: reply.message } });
  const routes: ApiRoute[] = [
    {
      path: '/api/workflows', read: 'tree',
      handle: async () => {
        const reply = await ask({ type: 'workflow.list' });
        if (!reply.ok) return refused(reply);
        const runs = [...(reply.runs ?? [])].sort((a, b) => b.startedAtMs - a.startedAtMs || a.workflowId.localeCompare(b.workflowId)).slice(0, 1_000);
        return { status: 200, body: { node: engine.node, runs, total: reply.runs?.length ?? 0 } };
      },
    },
    {
      path: '/api/workflows/history', read: 'tree',
      handle: async (query) => {
        const workflowId = query.get('id');
        if (workflowId === null || workflowId === '') return { status: 400, body: { code: 'INVALID_ARGUMENT', message: 'id is required' } };
        const [described, history] = await Promise.all([ask({ type: 'workflow.describe', workflowId }), ask({ type: 'workflow.history', workflowId })]);
        if (!described.ok) return refused(described);
        if (!history.ok) return refused(history);
        return {
          status: 200,
          body: {
            run: described.value, events: timelineOf(history.events ?? []),
            earlierRuns: (history.earlierRuns ?? []).map((events, index) => ({ run: index + 1, events: timelineOf(events) })),
          },
        };
      },
    },
  ];
  return { routes, pages: [{ path: '/ui/workflows', title: 'Workflows', html: workflowsPage(engine.node) }] };
}
