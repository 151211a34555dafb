/**
 * The actors: `workflowEngine(options)` is a child spec for a workflow-engine supervisor whose child,
 * the engine actor, opens the WorkflowEngine in `init` (recovery: WAL replay, every open run resumed)
 * and serves the request protocol. A storage failure (WAL_FAILED) crashes the engine actor on purpose;
 * its supervisor restarts it and the new incarnation replays the histories from the WAL. Each run is
 * a serial mailbox of its own inside the engine actor (run-host.ts), and steps run in the engine's
 * task-queue workers.
 */
import { InvalidArgumentError, TroupeError, describeError, refuseUnknown, type ActorContext, type Ref, type Behaviour, type ActorSystem } from '../../runtime/index.js';
import { supervisor, type ChildSpec } from '../../supervisors/index.js';
import type { Disk } from '../storage/index.js';
import type { HistoryEvent } from './core/index.js';
import type { WorkflowDefinition } from './definition.js';
import { WorkflowEngine, type RunSummary } from './engine.js';
import { WorkflowError, WorkflowFailedError, type WorkflowErrorCode } from './errors.js';
import type { WorkflowLimits } from './limits.js';
import { isWorkflowRequestType, parseWorkflowRequest, type WorkflowReply, type WorkflowRequest } from './protocol.js';

/** Options of `workflowEngine`. */
export interface WorkflowEngineActorOptions {
  /** Data directory of the engine's WAL. */
  readonly dataDir: string;
  readonly workflows: readonly WorkflowDefinition<never, unknown>[];
  /** Child id of the supervisor (default `workflows`); the engine actor is its child `engine`. */
  readonly id?: string;
  readonly taskQueues?: Readonly<Record<string, number>>;
  readonly limits?: Partial<WorkflowLimits>;
  readonly disk?: Disk;
  /** Restart intensity of the workflow-engine supervisor. */
  readonly maxRestarts?: number;
  readonly periodMs?: number;
}

/** The engine actor's state: the open engine. */
export interface WorkflowActorState {
  readonly engine: WorkflowEngine;
  /** Identifies this incarnation's own fault notice, so no other sender can forge one. */
  readonly faultToken: object;
}

type EngineMessage = WorkflowRequest | { readonly type: 'workflow.fault'; readonly message: string; readonly token: object };

/** The engine actor's behaviour. */
export function workflowEngineBehaviour(options: WorkflowEngineActorOptions): Behaviour<WorkflowActorState, EngineMessage> {
  return {
    name: 'workflow-engine',
    async init(ctx) {
      const faultToken = {};
      const engine = await WorkflowEngine.open({
        directory: options.dataDir, workflows: options.workflows, clock: ctx.clock, rng: ctx.rng,
        ...(options.disk ? { disk: options.disk } : {}), ...(options.taskQueues ? { taskQueues: options.taskQueues } : {}), ...(options.limits ? { limits: options.limits } : {}),
        onFault: (error) => ctx.tell(ctx.self, { type: 'workflow.fault', message: describeError(error).message, token: faultToken }),
      });
      return { engine, faultToken };
    },
    receive(state, message, ctx) {
      const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
      if (type === 'terminated') return state;
      if (type === 'workflow.fault' && (message as { token?: unknown }).token === state.faultToken) {
        // Fail-stop: the WAL refuses further writes; a restart reopens it and replays the histories.
        throw new WorkflowError('ENGINE_CLOSED', `workflow engine storage failed: ${String((message as { message?: unknown }).message)}`);
      }
      if (!isWorkflowRequestType(message)) {
        refuseUnknown(ctx, message, 'workflow-engine');
        return state;
      }
      const request = parseWorkflowRequest(message);
      if ('ok' in request) {
        if (!ctx.reply(request)) ctx.deadLetter(message, request.message);
        return state;
      }
      serve(state.engine, request, ctx);
      return state;
    },
    async onStop(state) {
      await state?.engine.close();
    },
    describe(state) {
      const runs = state.engine.list();
      return { runs: runs.length, running: runs.filter((run) => run.status === 'running').length };
    },
  };
}

function serve(engine: WorkflowEngine, request: WorkflowRequest, ctx: ActorContext<EngineMessage>): void {
  const done = ctx.replier();
  const reply = (async (): Promise<WorkflowReply> => {
    switch (request.type) {
      case 'workflow.start':
        return { ok: true, ...(await engine.start(request.workflowType, { workflowId: request.workflowId, input: request.input, ...(request.executionTimeoutMs !== undefined ? { executionTimeoutMs: request.executionTimeoutMs } : {}) })) };
      case 'workflow.signal':
        await engine.signal(request.workflowId, request.name, request.payload);
        return { ok: true };
      case 'workflow.query':
        return { ok: true, value: engine.query(request.workflowId, request.name, request.args) };
      case 'workflow.cancel':
        await engine.cancel(request.workflowId);
        return { ok: true };
      case 'workflow.result':
        return { ok: true, value: await engine.result(request.workflowId) };
      case 'workflow.list':
        return { ok: true, runs: engine.list() };
      case 'workflow.history':
        return { ok: true, events: engine.history(request.workflowId) };
    }
  })();
  reply.then(done, (error: unknown) => done(errorReply(error)));
}

function errorReply(error: unknown): WorkflowReply {
  if (error instanceof WorkflowFailedError) return { ok: false, code: error.code, message: error.message, status: error.status };
  if (error instanceof TroupeError) return { ok: false, code: error.code, message: error.message };
  return { ok: false, code: 'INTERNAL', message: describeError(error).message };
}

/** A child spec for the workflow-engine supervisor (one_for_one) with the engine actor as its child. */
export function workflowEngine(options: WorkflowEngineActorOptions): ChildSpec {
  return {
    id: options.id ?? 'workflows', kind: 'supervisor', restart: 'permanent', shutdownMs: 10_000,
    start: supervisor({
      name: 'workflow-engine-supervisor', strategy: 'one_for_one',
      ...(options.maxRestarts !== undefined ? { maxRestarts: options.maxRestarts } : {}), ...(options.periodMs !== undefined ? { periodMs: options.periodMs } : {}),
      children: [{ id: 'engine', start: workflowEngineBehaviour(options), restart: 'permanent', shutdownMs: 10_000, kind: 'worker' }],
    }),
  };
}

/** A small client over the engine actor: each call is an ask, each refusal a typed WorkflowError. */
export interface WorkflowClient {
  start(workflowType: string, workflowId: string, input?: unknown, options?: { executionTimeoutMs?: number }): Promise<{ workflowId: string; existing: boolean }>;
  signal(workflowId: string, name: string, payload?: unknown): Promise<void>;
  query(workflowId: string, name: string, args?: unknown): Promise<unknown>;
  cancel(workflowId: string): Promise<void>;
  /** Waits (up to `timeoutMs`) for the run's result. */
  result(workflowId: string, options?: { timeoutMs?: number }): Promise<unknown>;
  list(): Promise<readonly RunSummary[]>;
  history(workflowId: string): Promise<readonly HistoryEvent[]>;
}

/** A client for the engine actor at `engine` (the supervisor's ref from `startChild`, plus `/engine`). */
export function workflowClient(system: Pick<ActorSystem, 'ask'>, engine: Ref, options: { timeoutMs?: number } = {}): WorkflowClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const ask = async (request: WorkflowRequest, askTimeoutMs = timeoutMs): Promise<Extract<WorkflowReply, { ok: true }>> => {
    const reply = await system.ask<WorkflowReply>(engine, request, { timeoutMs: askTimeoutMs });
    if (!reply.ok) throw new WorkflowError(reply.code as WorkflowErrorCode, reply.message, { context: { request: request.type, ...(reply.status ? { status: reply.status } : {}) } });
    return reply;
  };
  return {
    start: async (workflowType, workflowId, input, startOptions = {}) => {
      const reply = await ask({ type: 'workflow.start', workflowType, workflowId, input, ...startOptions });
      return { workflowId, existing: reply.existing ?? false };
    },
    signal: async (workflowId, name, payload) => void (await ask({ type: 'workflow.signal', workflowId, name, payload })),
    query: async (workflowId, name, args) => (await ask({ type: 'workflow.query', workflowId, name, args })).value,
    cancel: async (workflowId) => void (await ask({ type: 'workflow.cancel', workflowId })),
    result: async (workflowId, resultOptions = {}) => (await ask({ type: 'workflow.result', workflowId }, resultOptions.timeoutMs ?? timeoutMs)).value,
    list: async () => (await ask({ type: 'workflow.list' })).runs ?? [],
    history: async (workflowId) => (await ask({ type: 'workflow.history', workflowId })).events ?? [],
  };
}

/** The engine actor's ref under the supervisor ref that `startChild(workflowEngine(...))` returned. */
export function engineRef(supervisorRef: Ref): Ref {
  if (typeof supervisorRef?.path !== 'string') throw new InvalidArgumentError('engineRef needs the workflow supervisor ref');
  return { node: supervisorRef.node, path: `${supervisorRef.path}/engine` };
}
