/**
 * One supervised actor per running workflow, and the hosting that puts an engine's runs, step
 * attempts and wake times into actors of a node (actor.ts builds the tree):
 *
 *   workflows (one_for_all)
 *   ├── workers (one_for_one)    queue-<task queue>: worker actors (worker-actor.ts)
 *   ├── runs (one_for_one)       runs-0 ... runs-<n-1> (one_for_one): run-<workflow id> actors
 *   ├── timers                   the timer service (worker-actor.ts)
 *   └── engine                   the WAL, the histories, the client protocol (actor.ts)
 *
 * A run actor's mailbox is the run's mailbox (run-host.ts): signals, cancels, step outcomes, child
 * results and wake-ups are processed one at a time. Its `init` creates a host over the run's durable
 * history, which the engine keeps, and replays it (begin for a new run); so when the shell throws
 * (an invariant, a test hook), the actor crashes, its supervisor restarts it (transient: a run that
 * finished stops normally and is not restarted), and the new incarnation replays the history to the
 * same state and re-dispatches attempts of unknown outcome under their same idempotency keys. Runs are
 * spread over partition supervisors by a hash of their id, so no supervisor holds more children than
 * `limits.childrenPerSupervisorMax` allows for the engine's `runsMax`.
 */
import { InvariantError, describeError, refuseUnknown, type ActorContext, type Behaviour, type Ref } from '../../runtime/index.js';
import type { SupervisorReply } from '../../supervisors/index.js';
import type { EngineHosting, RunSlot } from './engine.js';
import { WorkflowError } from './errors.js';
import type { RunHost, RunMailbox, RunMessage, WorkflowHooks } from './run-host.js';
import type { QueuedAttempt, StepQueues } from './task-queues.js';
import type { WakeTimers } from './timer-service.js';
import { workerBehaviour } from './worker-actor.js';

/** Messages of a run actor (all from the engine's own code in this process: they carry its token). */
export type RunActorMessage =
  | { readonly type: 'workflow.run.input'; readonly message: RunMessage; readonly token: object }
  | { readonly type: 'workflow.run.booted'; readonly token: object }
  | { readonly type: 'workflow.run.bootFailed'; readonly error: string; readonly token: object };

/** A run actor's state: the host of this incarnation and its boot (replay) in progress. */
export interface RunActorState {
  readonly host: RunHost | undefined;
  readonly booting: Promise<void>;
}

/** How long an ask to a run actor (a signal or cancel, awaited until durable) may take. */
const runAskTimeoutMs = 60_000;

/** The run actor of one workflow id. */
export function runBehaviour(slot: RunSlot, token: object): Behaviour<RunActorState, RunActorMessage> {
  return {
    name: 'workflow-run',
    init(ctx) {
      if (slot.stopped) return { host: undefined, booting: Promise.resolve() };
      const mailbox: RunMailbox = {
        post: async (message) => {
          const reply = await ctx.ask<{ ok: boolean; code?: string; message?: string }>(ctx.self, { type: 'workflow.run.input', message, token }, { timeoutMs: runAskTimeoutMs });
          if (!reply.ok) throw new WorkflowError('ENGINE_CLOSED', `run ${slot.workflowId}: ${reply.message ?? reply.code ?? 'refused'}`);
        },
        send: (message) => ctx.tell(ctx.self, { type: 'workflow.run.input', message, token }),
      };
      const host = slot.create(mailbox);
      // Replay runs after init returns, so the supervisor is not held while a history is read back;
      // messages wait for it in `receive`.
      const booting = host.boot(slot.boot()).then(() => {
        slot.attach(host);
        ctx.tell(ctx.self, { type: 'workflow.run.booted', token });
      });
      booting.catch((error: unknown) => ctx.tell(ctx.self, { type: 'workflow.run.bootFailed', error: describeError(error).message, token }));
      return { host, booting };
    },
    async receive(state, message, ctx) {
      const known = typeof message === 'object' && message !== null && (message as { token?: unknown }).token === token ? (message as RunActorMessage) : undefined;
      if (known === undefined) {
        if ((message as { type?: unknown })?.type !== 'terminated') refuseUnknown(ctx, message, 'workflow-run');
        return state;
      }
      switch (known.type) {
        case 'workflow.run.input':
          await state.booting;
          await state.host?.handle(known.message);
          ctx.reply({ ok: true });
          break;
        case 'workflow.run.booted':
          break;
        case 'workflow.run.bootFailed':
          throw new InvariantError(`run ${slot.workflowId} failed to replay: ${known.error}`);
        default:
          refuseUnknown(ctx, message, 'workflow-run');
          return state;
      }
      const host = state.host;
      if (host === undefined || host.closed || host.state.status !== 'running' || host.nondeterminism !== undefined) ctx.stopSelf();
      return state;
    },
    onStop(state, _ctx, reason) {
      if (state?.host === undefined) return;
      slot.detach(state.host, reason === 'crashed' || reason === 'restart' ? 'restart' : 'closed');
    },
    describe: (state) => ({
      workflowId: slot.workflowId, status: state.host?.state.status ?? 'stopped', run: state.host?.state.run ?? 0, events: state.host?.history.length ?? 0,
    }),
  };
}

/** Options of `actorHosting`. */
export interface ActorHostingOptions {
  /** The ref of the engine's `workflows` supervisor. */
  readonly base: Ref;
  /** Run partitions (`runs-0` ...): supervisors the run actors are spread over. */
  readonly partitions: number;
  readonly token: object;
  readonly hooks: WorkflowHooks;
  /** Concurrency of the queues with a worker started with the engine; others start on first use. */
  readonly taskQueues: Readonly<Record<string, number>>;
  readonly defaultConcurrency: number;
  readonly depthMax: number;
}

/** A valid actor name for a workflow id or task queue: unsafe characters escaped as `~hh`, long ones cut and hashed. */
export function actorNameFor(prefix: string, id: string): string {
  let escaped = '';
  for (const unit of id) escaped += /^[A-Za-z0-9._:@$+=-]$/.test(unit) ? unit : `~${unit.codePointAt(0)!.toString(16)}`;
  const name = `${prefix}-${escaped}`;
  return name.length <= 180 ? name : `${name.slice(0, 160)}~${fnv1a(id)}`;
}

function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

/** Hosting of an engine's runs in run actors, its attempts in worker actors and its wake times in the timer actor. */
export function actorHosting(ctx: ActorContext, options: ActorHostingOptions): EngineHosting {
  const base = options.base;
  const ref = (path: string): Ref => ({ node: base.node, path: `${base.path}/${path}` });
  const timersRef = ref('timers');
  const workers = new Map<string, Promise<Ref>>();
  let closed = false;
  let spawned = 0;
  const worker = (taskQueue: string): Promise<Ref> => {
    let found = workers.get(taskQueue);
    if (found === undefined) {
      const id = actorNameFor('queue', taskQueue);
      const spec = { id, kind: 'worker' as const, restart: 'permanent' as const, shutdownMs: 5_000, start: workerBehaviour({ taskQueue, concurrency: options.taskQueues[taskQueue] ?? options.defaultConcurrency, depthMax: options.depthMax, token: options.token, hooks: options.hooks }) };
      found = ctx.ask<SupervisorReply>(ref('workers'), { type: 'supervisor.startChild', spec }, { timeoutMs: 30_000 }).then((reply) => {
        // NAME_TAKEN: the worker was started with the engine (a configured queue).
        if (!reply.ok && reply.code !== 'NAME_TAKEN') throw new WorkflowError('ENGINE_CLOSED', `could not start the worker of task queue ${taskQueue}: ${reply.message}`);
        return ref(`workers/${id}`);
      });
      workers.set(taskQueue, found);
    }
    return found;
  };
  const queues: StepQueues = {
    submit: (taskQueue: string, attempt: QueuedAttempt) => {
      worker(taskQueue).then((target) => ctx.tell(target, { type: 'workflow.worker.submit', attempt, token: options.token }), (error: unknown) => {
        attempt.report({ ok: false, failure: { type: 'WORKER_UNAVAILABLE', message: describeError(error).message } });
      });
    },
  };
  const timers: WakeTimers = {
    arm: (key, atMs, fire) => {
      if (!closed) ctx.tell(timersRef, { type: 'workflow.timers.arm', key, atMs, fire, token: options.token });
    },
  };
  return {
    queues, timers,
    host: (slot) => {
      const inert: RunMailbox = {
        post: () => Promise.reject(new WorkflowError('WORKFLOW_NOT_RUNNING', `workflow ${slot.workflowId} is not running`)),
        send: () => undefined,
      };
      const probe = slot.boot().mode === 'restore' ? slot.create(inert) : undefined;
      if (probe !== undefined && probe.state.status !== 'running') {
        // A finished run needs no actor: its history, result and queries are served from memory.
        void probe.boot({ mode: 'restore' }).then(() => slot.attach(probe));
        return;
      }
      spawned += 1;
      const partition = ref(`runs/runs-${Number.parseInt(fnv1a(slot.workflowId), 16) % options.partitions}`);
      const id = `${actorNameFor('run', slot.workflowId)}~${spawned.toString(36)}`;
      const spec = { id, kind: 'worker' as const, restart: 'transient' as const, shutdownMs: 5_000, start: runBehaviour(slot, options.token) };
      ctx.ask<SupervisorReply>(partition, { type: 'supervisor.startChild', spec }, { timeoutMs: 60_000 }).then((reply) => {
        if (!reply.ok) throw new WorkflowError('ENGINE_CLOSED', `could not start the actor of run ${slot.workflowId}: ${reply.message}`);
      }).catch((error: unknown) => {
        if (closed || slot.stopped) return;
        // The engine cannot host the run: an internal fault. Crash the engine actor so its supervisor restarts the tree.
        ctx.tell(ctx.self, { type: 'workflow.fault', message: describeError(error).message, token: options.token });
      });
    },
    close: () => {
      closed = true;
    },
  };
}
