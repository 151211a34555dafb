/**
 * The actors: `workflowEngine(options)` is a child spec for the engine's supervision tree (see
 * run-actor.ts for its shape): worker actors per task queue, one supervised actor per running
 * workflow under partition supervisors, the timer actor, and the engine actor, which opens the
 * WorkflowEngine in `init` (recovery: WAL replay, every open run resumed in its own actor) and serves
 * the request protocol. A storage failure (WAL_FAILED) crashes the engine actor on purpose; its
 * supervisor (one_for_all) restarts the whole tree and the new engine replays the histories from the WAL.
 */
import { InvalidArgumentError, TroupeError, describeError, limits as kernelLimits, refuseUnknown, type ActorContext, type Ref, type Behaviour, type ActorSystem } from '../../runtime/index.js';
import { supervisor, type ChildSpec } from '../../supervisors/index.js';
import type { Disk } from '../storage/index.js';
import type { HistoryEvent } from './core/index.js';
import type { WorkflowDefinition } from './definition.js';
import { WorkflowEngine, type RunSummary } from './engine.js';
import { WorkflowError, WorkflowFailedError, type WorkflowErrorCode } from './errors.js';
import { workflowLimits, type WorkflowLimits } from './limits.js';
import { isWorkflowRequestType, parseWorkflowRequest, type WorkflowReply, type WorkflowRequest } from './protocol.js';
import { actorHosting, actorNameFor } from './run-actor.js';
import type { WorkflowHooks } from './run-host.js';
import { timerBehaviour, workerBehaviour } from './worker-actor.js';

/** Options of `workflowEngine`. */
export interface WorkflowEngineActorOptions {
  /** Data directory of the engine's WAL. */
  readonly dataDir: string;
  readonly workflows: readonly WorkflowDefinition<never, unknown>[];
  /** Child id of the supervisor (default `workflows`); the engine actor is its child `engine`. */
  readonly id?: string;
  /** Task queues with a worker started with the engine, and their concurrency; other queues start a worker on first use. */
  readonly taskQueues?: Readonly<Record<string, number>>;
  readonly limits?: Partial<WorkflowLimits>;
  readonly disk?: Disk;
  /** Restart intensity of the engine's top supervisor (one_for_all). */
  readonly maxRestarts?: number;
  readonly periodMs?: number;
  /** Partition supervisors the run actors are spread over (default 16; each holds up to `limits.childrenPerSupervisorMax`). */
  readonly runPartitions?: number;
  /** Restart intensity of each run partition and of the workers' supervisor (default 100 in 10 s), after which it escalates. */
  readonly childMaxRestarts?: number;
  readonly childPeriodMs?: number;
  /** Test hooks called in the run and worker actors; an exception from one crashes that actor. */
  readonly hooks?: WorkflowHooks;
}

/** The engine actor's state: the open engine. */
export interface WorkflowActorState {
  readonly engine: WorkflowEngine;
}

type EngineMessage = WorkflowRequest | { readonly type: 'workflow.fault'; readonly message: string; readonly token: object };

/**
 * The engine actor's behaviour. `token` identifies messages from the engine's own actors (fault
 * notices, run and worker messages); `workflowEngine` shares one among the tree it builds.
 */
export function workflowEngineBehaviour(options: WorkflowEngineActorOptions, token: object = {}): Behaviour<WorkflowActorState, EngineMessage> {
  const limits = { ...workflowLimits, ...options.limits };
  return {
    name: 'workflow-engine',
    async init(ctx) {
      const base = { node: ctx.self.node, path: ctx.self.path.slice(0, ctx.self.path.lastIndexOf('/')) };
      const hosting = actorHosting(ctx, {
        base, partitions: options.runPartitions ?? defaultRunPartitions, token, hooks: options.hooks ?? {},
        taskQueues: options.taskQueues ?? {}, defaultConcurrency: limits.taskQueueConcurrency, depthMax: limits.taskQueueDepthMax,
      });
      const engine = await WorkflowEngine.open({
        directory: options.dataDir, workflows: options.workflows, clock: ctx.clock, rng: ctx.rng, hosting, limits,
        ...(options.disk ? { disk: options.disk } : {}), ...(options.hooks ? { hooks: options.hooks } : {}),
        onFault: (error) => ctx.tell(ctx.self, { type: 'workflow.fault', message: describeError(error).message, token }),
      });
      return { engine };
    },
    receive(state, message, ctx) {
      const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
      if (type === 'terminated') return state;
      if (type === 'workflow.fault' && (message as { token?: unknown }).token === token) {
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

const defaultRunPartitions = 16;

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
        return { ok: true, events: engine.history(request.workflowId), earlierRuns: engine.earlierRuns(request.workflowId) };
      case 'workflow.retry':
        return { ok: true, ...(await engine.retry(request.workflowId)) };
      case 'workflow.describe':
        return { ok: true, value: describeRun(engine, request.workflowId) };
    }
  })();
  reply.then(done, (error: unknown) => done(errorReply(error)));
}

function errorReply(error: unknown): WorkflowReply {
  if (error instanceof WorkflowFailedError) return { ok: false, code: error.code, message: error.message, status: error.status };
  if (error instanceof TroupeError) return { ok: false, code: error.code, message: error.message };
  return { ok: false, code: 'INTERNAL', message: describeError(error).message };
}

/** A child spec for the engine's supervision tree (one_for_all): workers, run partitions, timers, engine. */
export function workflowEngine(options: WorkflowEngineActorOptions): ChildSpec {
  const token = {};
  const limits = { ...workflowLimits, ...options.limits };
  const partitions = options.runPartitions ?? defaultRunPartitions;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > kernelLimits.childrenPerSupervisorMax) throw new InvalidArgumentError('runPartitions must be a positive integer', { runPartitions: partitions });
  const intensity = { maxRestarts: options.childMaxRestarts ?? 100, periodMs: options.childPeriodMs ?? 10_000 };
  const workers: ChildSpec[] = Object.entries({ default: limits.taskQueueConcurrency, ...options.taskQueues }).map(([taskQueue, concurrency]) => ({
    id: actorNameFor('queue', taskQueue), kind: 'worker', restart: 'permanent', shutdownMs: 5_000,
    start: workerBehaviour({ taskQueue, concurrency, depthMax: limits.taskQueueDepthMax, token, hooks: options.hooks ?? {} }),
  }));
  const runs: ChildSpec[] = Array.from({ length: partitions }, (_, index) => ({
    id: `runs-${index}`, kind: 'supervisor', restart: 'permanent', shutdownMs: 30_000,
    start: supervisor({ name: 'workflow-run-partition', strategy: 'one_for_one', ...intensity }),
  }));
  return {
    id: options.id ?? 'workflows', kind: 'supervisor', restart: 'permanent', shutdownMs: 60_000,
    start: supervisor({
      name: 'workflow-engine-supervisor', strategy: 'one_for_all',
      ...(options.maxRestarts !== undefined ? { maxRestarts: options.maxRestarts } : {}), ...(options.periodMs !== undefined ? { periodMs: options.periodMs } : {}),
      children: [
        { id: 'workers', kind: 'supervisor', restart: 'permanent', shutdownMs: 30_000, start: supervisor({ name: 'workflow-workers', strategy: 'one_for_one', ...intensity, children: workers }) },
        { id: 'runs', kind: 'supervisor', restart: 'permanent', shutdownMs: 60_000, start: supervisor({ name: 'workflow-runs', strategy: 'one_for_one', ...intensity, children: runs }) },
        { id: 'timers', kind: 'worker', restart: 'permanent', shutdownMs: 5_000, start: timerBehaviour({ token }) },
        { id: 'engine', kind: 'worker', restart: 'permanent', shutdownMs: 30_000, start: workflowEngineBehaviour(options, token) },
      ],
    }),
  };
}

/** What `workflow.describe` answers: the run's summary, state as the core folds it, and pending work. */
function describeRun(engine: WorkflowEngine, workflowId: string): Record<string, unknown> {
  const state = engine.describe(workflowId);
  const summary = engine.list().find((run) => run.workflowId === workflowId);
  return {
    ...summary, input: state.input, ...(state.result !== undefined ? { result: state.result } : {}), ...(state.failure ? { failure: state.failure } : {}),
    ...(state.parentId !== undefined ? { parentId: state.parentId } : {}),
    steps: Object.values(state.steps).map((step) => ({ name: step.name, attempt: step.attempt, phase: step.phase })),
    timers: Object.values(state.timers).map((timer) => ({ name: timer.name, dueMs: timer.dueMs, fired: timer.fired })),
    earlierRuns: engine.earlierRuns(workflowId).length,
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
  /** Retries a failed, cancelled or timed-out run as a new run of the same id and input. */
  retry(workflowId: string): Promise<{ workflowId: string; run: number }>;
  /** The run's summary, input, result or failure, steps and timers. */
  describe(workflowId: string): Promise<Record<string, unknown>>;
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
    retry: async (workflowId) => ({ workflowId, run: (await ask({ type: 'workflow.retry', workflowId })).run ?? 0 }),
    describe: async (workflowId) => (await ask({ type: 'workflow.describe', workflowId })).value as Record<string, unknown>,
  };
}

/** The engine actor's ref under the supervisor ref that `startChild(workflowEngine(...))` returned. */
export function engineRef(supervisorRef: Ref): Ref {
  if (typeof supervisorRef?.path !== 'string') throw new InvalidArgumentError('engineRef needs the workflow supervisor ref');
  return { node: supervisorRef.node, path: `${supervisorRef.path}/engine` };
}
