/**
 * The worker and timer actors of a workflow engine in a node.
 *
 * A worker actor serves one task queue: it runs at most the queue's concurrency of step attempts at
 * once (task-queues.ts) and routes every outcome through its own mailbox before reporting it to the
 * run, so an outcome is reported by the incarnation that ran the attempt or not at all. When a worker
 * crashes, every attempt it held (running or waiting) is reported to its run as failed with
 * WORKER_CRASHED, which the run's core retries per the step's policy under the next attempt number
 * (a new idempotency key), as Temporal retries an activity whose worker died. Its supervisor restarts it.
 *
 * The timer actor hosts the engine's timer service (timer-service.ts) on one keyed actor timer, so
 * wake-ups arrive through its mailbox.
 *
 * Messages carry closures and a token private to the engine: they only come from the engine's own
 * runs in this process; any other message is refused as unknown.
 */
import { refuseUnknown, type Behaviour, type TimerHandle } from '../../runtime/index.js';
import type { WorkflowHooks } from './run-host.js';
import { TaskQueues, type QueuedAttempt, type StepOutcome } from './task-queues.js';
import { TimerService } from './timer-service.js';

/** Messages of a worker actor. */
export type WorkerMessage =
  | { readonly type: 'workflow.worker.submit'; readonly attempt: QueuedAttempt; readonly token: object }
  | { readonly type: 'workflow.worker.settled'; readonly attempt: QueuedAttempt; readonly outcome: StepOutcome; readonly token: object };

/** A worker actor's state: its queue. */
export interface WorkerState {
  readonly queues: TaskQueues;
}

/** Options of a worker actor. */
export interface WorkerOptions {
  readonly taskQueue: string;
  readonly concurrency: number;
  readonly depthMax: number;
  /** Shared by the engine's runs and workers; messages without it are refused. */
  readonly token: object;
  readonly hooks: WorkflowHooks;
}

function internal(message: unknown, token: object): boolean {
  return typeof message === 'object' && message !== null && (message as { token?: unknown }).token === token;
}

/** The worker actor of one task queue. */
export function workerBehaviour(options: WorkerOptions): Behaviour<WorkerState, WorkerMessage> {
  return {
    name: 'workflow-worker',
    init(ctx) {
      const queues = new TaskQueues({
        concurrency: { [options.taskQueue]: options.concurrency }, defaultConcurrency: options.concurrency, depthMax: options.depthMax,
        settled: (attempt, outcome) => ctx.tell(ctx.self, { type: 'workflow.worker.settled', attempt, outcome, token: options.token }),
      });
      return { queues };
    },
    receive(state, message, ctx) {
      if (!internal(message, options.token)) {
        if ((message as { type?: unknown })?.type !== 'terminated') refuseUnknown(ctx, message, 'workflow-worker');
        return state;
      }
      const known = message as WorkerMessage;
      switch (known.type) {
        case 'workflow.worker.submit':
          state.queues.submit(options.taskQueue, known.attempt);
          ctx.reply({ ok: true });
          return state;
        case 'workflow.worker.settled': {
          const { attempt } = known;
          options.hooks.beforeStepReport?.({ workflowId: attempt.workflowId, stepName: attempt.stepName, attempt: attempt.attempt });
          if (state.queues.complete(attempt)) attempt.report(known.outcome);
          return state;
        }
        default:
          refuseUnknown(ctx, message, 'workflow-worker');
          return state;
      }
    },
    onStop(state, _ctx, reason) {
      if (state === undefined) return;
      const held = state.queues.drain();
      // On shutdown the engine is closing: its runs abort their attempts and re-run them on the next open.
      if (reason !== 'crashed' && reason !== 'restart') return;
      for (const attempt of held) {
        attempt.report({ ok: false, failure: { type: 'WORKER_CRASHED', message: `the worker of task queue ${options.taskQueue} crashed during attempt ${attempt.attempt} of step ${attempt.stepName}` } });
      }
    },
    describe: (state) => ({ taskQueue: options.taskQueue, ...state.queues.stats()[options.taskQueue] }),
  };
}

/** Messages of the timer actor. */
export type TimerMessage =
  | { readonly type: 'workflow.timers.arm'; readonly key: string; readonly atMs: number | undefined; readonly fire: () => void; readonly token: object }
  | { readonly type: 'workflow.timers.due'; readonly id: number; readonly token: object };

/** The timer actor's state: the service and the callback its one actor timer will run. */
export interface TimerActorState {
  readonly service: TimerService;
  due: { id: number; callback: () => void } | undefined;
}

/** The engine's timer actor. A restart loses its wake times; the engine is restarted with it (one_for_all) and re-arms from the histories. */
export function timerBehaviour(options: { readonly token: object }): Behaviour<TimerActorState, TimerMessage> {
  return {
    name: 'workflow-timers',
    init(ctx) {
      let next = 0;
      const state: TimerActorState = {
        due: undefined,
        service: new TimerService({
          now: () => ctx.clock.now(),
          setTimeout: (callback, delayMs): TimerHandle => {
            next += 1;
            state.due = { id: next, callback };
            ctx.timers.startSingle('wake', { type: 'workflow.timers.due', id: next, token: options.token }, delayMs);
            return { id: next };
          },
          clearTimeout: (handle) => {
            if (state.due?.id !== handle.id) return;
            state.due = undefined;
            ctx.timers.cancel('wake');
          },
        }),
      };
      return state;
    },
    receive(state, message, ctx) {
      if (!internal(message, options.token)) {
        if ((message as { type?: unknown })?.type !== 'terminated') refuseUnknown(ctx, message, 'workflow-timers');
        return state;
      }
      const known = message as TimerMessage;
      switch (known.type) {
        case 'workflow.timers.arm':
          state.service.arm(known.key, known.atMs, known.fire);
          ctx.reply({ ok: true });
          return state;
        case 'workflow.timers.due': {
          const due = state.due;
          if (due === undefined || due.id !== known.id) return state;
          state.due = undefined;
          due.callback();
          return state;
        }
        default:
          refuseUnknown(ctx, message, 'workflow-timers');
          return state;
      }
    },
    onStop(state) {
      state?.service.close();
    },
    describe: (state) => ({ armed: state.service.size }),
  };
}
