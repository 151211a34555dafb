/**
 * What the `troupe workflow` command needs, given only a way to ask the engine actor:
 *
 *   troupe workflow start <type> <id> [--input <json>] [--wait]   idempotent by id; --wait prints the result
 *   troupe workflow list                                           every run: id, type, status, run, events
 *   troupe workflow show <id>                                      summary, input, result or failure, steps, timers
 *   troupe workflow history <id> [--json]                          the run's events, one line each (or JSON)
 *   troupe workflow signal <id> <name> [--payload <json>]
 *   troupe workflow cancel <id>
 *   troupe workflow retry <id>            a failed, cancelled or timed-out run runs again from the start as run n+1
 *   troupe workflow result <id> [--timeout-ms N]
 *
 * Output is JSON (history as a readable timeline unless --json). Exit codes: 0 done, 1 refused (the
 * engine's typed code is printed), 2 usage.
 */
import type { HistoryEvent } from './core/index.js';
import type { WorkflowReply, WorkflowRequest } from './protocol.js';

/** Usage text of `troupe workflow`. */
export const workflowUsage = [
  'usage: troupe workflow start <type> <id> [--input <json>] [--wait]',
  '       troupe workflow list',
  '       troupe workflow show <id>',
  '       troupe workflow history <id> [--json]',
  '       troupe workflow signal <id> <name> [--payload <json>]',
  '       troupe workflow cancel <id>',
  '       troupe workflow retry <id>',
  '       troupe workflow result <id> [--timeout-ms N]',
  '  (options: --path <engine actor path> (default /root/workflows/engine), --node <node>)',
].join('\n');

/** Options of `runWorkflowCli`. */
export interface WorkflowCliOptions {
  /** Asks the engine actor. */
  readonly ask: (request: WorkflowRequest, timeoutMs: number) => Promise<WorkflowReply>;
}

/** The words after `troupe workflow`, split into positionals and flags. */
export interface WorkflowCliArgs {
  readonly positional: readonly string[];
  readonly flags: ReadonlyMap<string, string | true>;
}

class UsageError extends Error {}

function parseJson(text: string | true | undefined, what: string): unknown {
  if (text === undefined) return undefined;
  if (text === true) throw new UsageError(`--${what} needs a JSON value`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError(`--${what} is not JSON: ${text}`);
  }
}

/** The request a command line asks for, or a usage error. */
export function workflowRequestOf(args: WorkflowCliArgs): { request: WorkflowRequest; wait: boolean; timeoutMs: number } {
  const [verb, first, second] = args.positional;
  const timeoutText = args.flags.get('timeout-ms');
  const timeoutMs = typeof timeoutText === 'string' ? Number(timeoutText) : 60_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout-ms needs a positive integer');
  const need = (value: string | undefined): string => {
    if (value === undefined || value === '') throw new UsageError(workflowUsage);
    return value;
  };
  const plain = { wait: false, timeoutMs: 10_000 };
  switch (verb) {
    case 'start': {
      const input = parseJson(args.flags.get('input'), 'input');
      return { request: { type: 'workflow.start', workflowType: need(first), workflowId: need(second), ...(input !== undefined ? { input } : {}) }, wait: args.flags.has('wait'), timeoutMs };
    }
    case 'list':
      return { request: { type: 'workflow.list' }, ...plain };
    case 'show':
      return { request: { type: 'workflow.describe', workflowId: need(first) }, ...plain };
    case 'history':
      return { request: { type: 'workflow.history', workflowId: need(first) }, ...plain };
    case 'signal': {
      const payload = parseJson(args.flags.get('payload'), 'payload');
      return { request: { type: 'workflow.signal', workflowId: need(first), name: need(second), ...(payload !== undefined ? { payload } : {}) }, ...plain };
    }
    case 'cancel':
      return { request: { type: 'workflow.cancel', workflowId: need(first) }, ...plain };
    case 'retry':
      return { request: { type: 'workflow.retry', workflowId: need(first) }, ...plain };
    case 'result':
      return { request: { type: 'workflow.result', workflowId: need(first) }, wait: false, timeoutMs };
    default:
      throw new UsageError(workflowUsage);
  }
}

/** Runs `troupe workflow ...`; returns the exit code and what to print. */
export async function runWorkflowCli(args: WorkflowCliArgs, options: WorkflowCliOptions): Promise<{ exitCode: number; output: string }> {
  let parsed: ReturnType<typeof workflowRequestOf>;
  try {
    parsed = workflowRequestOf(args);
  } catch (error) {
    if (error instanceof UsageError) return { exitCode: 2, output: error.message };
    throw error;
  }
  const { request } = parsed;
  const reply = await options.ask(request, parsed.timeoutMs);
  if (!reply.ok) return { exitCode: 1, output: JSON.stringify(reply) };
  if (request.type === 'workflow.start' && parsed.wait) {
    const result = await options.ask({ type: 'workflow.result', workflowId: request.workflowId }, parsed.timeoutMs);
    return { exitCode: result.ok ? 0 : 1, output: JSON.stringify(result.ok ? { ok: true, workflowId: request.workflowId, existing: reply.existing ?? false, result: result.value } : result) };
  }
  switch (request.type) {
    case 'workflow.start':
      return { exitCode: 0, output: JSON.stringify({ ok: true, workflowId: request.workflowId, existing: reply.existing ?? false }) };
    case 'workflow.list':
      return { exitCode: 0, output: JSON.stringify(reply.runs ?? [], null, 2) };
    case 'workflow.history':
      if (args.flags.has('json')) return { exitCode: 0, output: JSON.stringify({ events: reply.events ?? [], earlierRuns: reply.earlierRuns ?? [] }, null, 2) };
      return { exitCode: 0, output: formatTimeline(reply.events ?? [], reply.earlierRuns?.length ?? 0) };
    case 'workflow.describe':
    case 'workflow.result':
      return { exitCode: 0, output: JSON.stringify(request.type === 'workflow.result' ? { ok: true, result: reply.value } : reply.value, null, 2) };
    default:
      return { exitCode: 0, output: JSON.stringify(reply) };
  }
}

/** A history as a timeline: one line per event, milliseconds since the run started where the event has a time. */
export function formatTimeline(events: readonly HistoryEvent[], earlierRuns = 0): string {
  const first = events[0];
  const startedAtMs = first?.type === 'started' ? first.atMs : 0;
  const names = new Map<number, string>();
  const lines = events.map((event, index) => {
    if (event.type === 'stepScheduled' || event.type === 'timerSet' || event.type === 'childStarted' || event.type === 'signalAwaited') names.set(event.seq, event.name);
    const atMs = (event as { atMs?: unknown }).atMs;
    const time = typeof atMs === 'number' ? relative(atMs, startedAtMs) : '';
    return `${String(index).padStart(4)}  ${time.padStart(10)}  ${describeEvent(event, { names, startedAtMs })}`;
  });
  if (earlierRuns > 0) lines.unshift(`(${earlierRuns} earlier run${earlierRuns === 1 ? '' : 's'} of this id, replaced by retry)`);
  return lines.join('\n');
}

function relative(atMs: number, startedAtMs: number): string {
  return `+${Math.round(atMs - startedAtMs)}ms`;
}

/** One event in words: its type, step or timer name, attempt, error and retry time (relative to the run's start when known). */
export function describeEvent(event: HistoryEvent, context: { names?: ReadonlyMap<number, string>; startedAtMs?: number } = {}): string {
  const short = (value: unknown): string => {
    const text = JSON.stringify(value) ?? 'undefined';
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  };
  const name = (seq: number): string => context.names?.get(seq) ?? `#${seq}`;
  const when = (atMs: number | undefined): string => (atMs === undefined ? '?' : context.startedAtMs !== undefined ? relative(atMs, context.startedAtMs) : String(atMs));
  const retry = (final: boolean, retryAtMs: number | undefined): string => (final ? ' (final)' : ` (retry at ${when(retryAtMs)})`);
  switch (event.type) {
    case 'started':
      return `started ${event.workflowType}${event.run !== undefined ? ` (run ${event.run})` : ''} input=${short(event.input)}`;
    case 'stepScheduled':
      return `step ${event.name} scheduled, attempt ${event.attempt} (queue ${event.options.taskQueue})`;
    case 'stepStarted':
      return `step ${name(event.seq)} attempt ${event.attempt} started`;
    case 'stepCompleted':
      return `step ${name(event.seq)} attempt ${event.attempt} completed: ${short(event.result)}`;
    case 'stepFailed':
      return `step ${name(event.seq)} attempt ${event.attempt} failed: ${event.failure.type}: ${event.failure.message}${retry(event.final, event.retryAtMs)}`;
    case 'stepTimedOut':
      return `step ${name(event.seq)} attempt ${event.attempt} timed out (${event.timeout})${retry(event.final, event.retryAtMs)}`;
    case 'timerSet':
      return `timer ${event.name} set, due at ${when(event.dueMs)}`;
    case 'timerFired':
      return `timer ${name(event.seq)} fired`;
    case 'signalAwaited':
      return `waiting for signal ${event.name}`;
    case 'signalReceived':
      return `signal ${event.name} received: ${short(event.payload)}`;
    case 'markerRecorded':
      return `recorded ${event.name} = ${event.value}`;
    case 'childStarted':
      return `child ${event.childId} (${event.workflowType}) started`;
    case 'childCompleted':
      return `child ${name(event.seq)} ${event.ok ? `completed: ${short(event.result)}` : `failed: ${event.failure?.type}: ${event.failure?.message}`}`;
    case 'cancelRequested':
      return 'cancel requested';
    case 'completed':
      return `completed: ${short(event.result)}`;
    case 'failed':
      return `failed: ${event.failure.type}: ${event.failure.message}`;
    case 'cancelled':
      return `cancelled: ${event.failure.message}`;
    case 'timedOut':
      return 'timed out (execution timeout)';
    case 'continuedAsNew':
      return `continued as new with input=${short(event.input)}`;
    default:
      return JSON.stringify(event);
  }
}
