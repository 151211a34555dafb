/**
 * The supervisor behaviour (OTP semantics, DESIGN.md section 2). A supervisor is an ordinary actor
 * whose state is its children; the children do not know they are supervised (Akka's "supervision as a
 * decorator"). The kernel reports a child's crash or normal exit through a hook, which the supervisor
 * receives as a message, so every decision is made one at a time in its own mailbox.
 *
 * Invariants: children start in spec order and stop in reverse; a restart runs the child's `init`
 * again; more than `maxRestarts` restarts within `periodMs` escalates (the supervisor crashes into its
 * own supervisor after stopping its children); messages sent to a restarting child are held for the
 * new incarnation by the kernel.
 */
import {
  ActorCrashedError, InvalidArgumentError, TroupeError, behaviour, describeError, kernelOf, limits,
  type ActorContext, type Behaviour, type Cell, type Clock, type Delivery, type Ref, type SupervisionHook,
} from '../runtime/index.js';
import type { KernelServices } from '../runtime/kernel-services.js';
import { Delivery as DeliveryClass } from '../runtime/cell.js';
import { validateChildSpec, type ChildSpec } from './child-spec.js';
import { backoffDelayMs, recordRestart, type Backoff, type Intensity } from './restart-policy.js';

/** How a crash of one child affects its siblings. */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/** A supervisor's configuration. */
export interface SupervisorOptions {
  readonly strategy: Strategy;
  readonly maxRestarts?: number;
  readonly periodMs?: number;
  readonly backoff?: Partial<Backoff>;
  readonly children?: readonly ChildSpec[];
  /** Shown as the behaviour name in the tree. */
  readonly name?: string;
}

/** Messages a supervisor handles. The `supervisor.child*` ones come from the kernel hook. */
export type SupervisorMessage =
  | { readonly type: 'supervisor.childCrashed'; readonly id: string; readonly cell: Cell; readonly error: unknown; readonly delivery: Delivery | undefined }
  | { readonly type: 'supervisor.childExited'; readonly id: string; readonly cell: Cell }
  | { readonly type: 'supervisor.restartDue'; readonly ids: readonly string[]; readonly round: number }
  | { readonly type: 'supervisor.startChild'; readonly spec: ChildSpec }
  | { readonly type: 'supervisor.stopChild'; readonly id: string }
  | { readonly type: 'supervisor.children' };

/** Replies to `supervisor.startChild` / `supervisor.stopChild`. */
export type SupervisorReply =
  | { readonly ok: true; readonly ref?: Ref }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Raised inside a supervisor when restart intensity is exceeded; it crashes the supervisor. */
export class EscalationError extends TroupeError {
  constructor(path: string, cause: unknown) {
    super('ESCALATED', `${path}: restart intensity exceeded`, { cause, context: { path } });
  }
}

interface ChildRecord {
  readonly spec: ChildSpec;
  readonly path: string;
  cell: Cell;
  window: number[];
  redeliver: Delivery | undefined;
}

interface SupervisorState {
  readonly children: ChildRecord[];
  window: number[];
  round: number;
}

interface Settings {
  readonly strategy: Strategy;
  readonly intensity: Intensity;
  readonly backoff: Backoff;
}

/** Builds a supervisor behaviour. Use it as a child's `start` with `kind: 'supervisor'`, or as a node's root. */
export function supervisor(options: SupervisorOptions): Behaviour<SupervisorState, SupervisorMessage> {
  const settings = validateOptions(options);
  const specs = (options.children ?? []).map(validateChildSpec);
  assertUniqueIds(specs);
  return behaviour<SupervisorState, SupervisorMessage>({
    name: options.name ?? `supervisor(${settings.strategy})`,
    mailbox: { capacity: limits.childrenPerSupervisorMax + 1000, overflow: 'reject' },
    async init(ctx) {
      const state: SupervisorState = { children: [], window: [], round: 0 };
      for (const spec of specs) {
        const started = await startNewChild(state, spec, ctx);
        if (!started.ok) {
          await stopChildren(state, ctx);
          throw new TroupeError('START_FAILED', `${ctx.self.path}: child ${spec.id} failed to start: ${started.message}`);
        }
      }
      return state;
    },
    receive: (state, message, ctx) => handle(state, message as SupervisorMessage, ctx, settings),
    onStop: async (state, ctx) => {
      if (state !== undefined) await stopChildren(state, ctx);
    },
    describe: (state) => ({ strategy: settings.strategy, children: state.children.length }),
  });
}

function validateOptions(options: SupervisorOptions): Settings {
  const strategy = options.strategy;
  if (strategy !== 'one_for_one' && strategy !== 'one_for_all' && strategy !== 'rest_for_one') {
    throw new InvalidArgumentError(`unknown supervisor strategy ${JSON.stringify(strategy)}`);
  }
  const intensity = { maxRestarts: options.maxRestarts ?? limits.maxRestarts, periodMs: options.periodMs ?? limits.maxRestartsPeriodMs };
  if (!Number.isInteger(intensity.maxRestarts) || intensity.maxRestarts < 0 || !(intensity.periodMs > 0)) {
    throw new InvalidArgumentError('maxRestarts must be a non-negative integer and periodMs positive', intensity);
  }
  const backoff = { minMs: limits.backoffMsMin, maxMs: limits.backoffMsMax, jitter: limits.backoffJitter, ...options.backoff };
  if (!(backoff.minMs >= 0) || !(backoff.maxMs >= backoff.minMs) || !(backoff.jitter >= 0 && backoff.jitter <= 1)) {
    throw new InvalidArgumentError('backoff needs 0 <= minMs <= maxMs and 0 <= jitter <= 1', backoff);
  }
  return { strategy, intensity, backoff };
}

function assertUniqueIds(specs: readonly ChildSpec[]): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.id)) throw new InvalidArgumentError(`duplicate child id ${spec.id}`, { id: spec.id });
    seen.add(spec.id);
  }
}

async function handle(state: SupervisorState, message: SupervisorMessage, ctx: ActorContext, settings: Settings): Promise<SupervisorState> {
  switch (message.type) {
    case 'supervisor.childCrashed':
      return onChildDown(state, message.id, message.cell, { error: message.error, delivery: message.delivery }, ctx, settings);
    case 'supervisor.childExited':
      return onChildDown(state, message.id, message.cell, undefined, ctx, settings);
    case 'supervisor.restartDue':
      if (message.round === state.round) await restartChildren(state, message.ids, ctx);
      return state;
    case 'supervisor.startChild':
      ctx.reply(await startDynamicChild(state, message.spec, ctx));
      return state;
    case 'supervisor.stopChild':
      ctx.reply(await stopDynamicChild(state, message.id, ctx));
      return state;
    case 'supervisor.children':
      ctx.reply(state.children.map((child) => ({ id: child.spec.id, ref: child.cell.ref, status: child.cell.status })));
      return state;
  }
}

/** A child crashed (`failure` set) or exited normally: decide, per restart type and strategy. */
async function onChildDown(
  state: SupervisorState, id: string, cell: Cell, failure: { error: unknown; delivery: Delivery | undefined } | undefined,
  ctx: ActorContext, settings: Settings,
): Promise<SupervisorState> {
  const record = state.children.find((child) => child.spec.id === id);
  if (record === undefined || record.cell !== cell) return state; // A report from an incarnation already replaced.
  const kernel = kernelOf(ctx);
  if (failure !== undefined) settleCrashedMessage(record, failure, kernel);
  const restart = record.spec.restart === 'permanent' || (record.spec.restart === 'transient' && failure !== undefined);
  if (!restart) {
    await removeChild(state, record, ctx);
    return state;
  }
  const now = ctx.clock.now();
  const intensity = recordRestart(state.window, now, settings.intensity);
  state.window = intensity.window;
  if (intensity.exceeded) {
    const error = new EscalationError(ctx.self.path, failure?.error);
    kernel.emit({ type: 'escalated', node: kernel.node, path: ctx.self.path, at: now, error: describeError(failure?.error ?? error).message });
    throw error;
  }
  const affected = affectedChildren(state, record, settings.strategy);
  for (const sibling of [...affected].reverse()) {
    if (sibling !== record) await terminateChild(sibling, ctx);
  }
  const attempt = recordRestart(record.window, now, { maxRestarts: Number.MAX_SAFE_INTEGER, periodMs: settings.intensity.periodMs });
  record.window = attempt.window;
  const delayMs = backoffDelayMs(attempt.window.length - 1, settings.backoff, ctx.rng.next());
  for (const child of affected) {
    kernel.emit({ type: 'restarting', node: kernel.node, path: child.path, at: now, delayMs });
  }
  state.round += 1;
  const ids = affected.filter((child) => child.spec.restart !== 'temporary').map((child) => child.spec.id);
  for (const child of affected) if (child.spec.restart === 'temporary' && child !== record) await removeChild(state, child, ctx);
  if (delayMs === 0) await restartChildren(state, ids, ctx);
  else ctx.timers.startSingle(`restart-${state.round}`, { type: 'supervisor.restartDue', ids, round: state.round }, delayMs);
  return state;
}

/** The crashing message: redelivered to the next incarnation if the spec allows, else poison / failed. */
function settleCrashedMessage(record: ChildRecord, failure: { error: unknown; delivery: Delivery | undefined }, kernel: KernelServices): void {
  const delivery = failure.delivery;
  if (delivery === undefined) return;
  const retry = record.spec.retry;
  if (retry !== undefined && delivery.attempt < retry.maxAttempts) {
    record.redeliver = new DeliveryClass(delivery.message, delivery.sender, delivery.corr, delivery.replyTo, delivery.attempt + 1);
    return;
  }
  kernel.failDelivery(delivery, new ActorCrashedError(record.path, failure.error));
  kernel.deadLetter(delivery.message, record.path, retry === undefined ? 'crashed' : 'poison');
}

function affectedChildren(state: SupervisorState, record: ChildRecord, strategy: Strategy): ChildRecord[] {
  if (strategy === 'one_for_one') return [record];
  if (strategy === 'one_for_all') return [...state.children];
  return state.children.slice(state.children.indexOf(record));
}

/** Starts children again in order; a child whose init fails reports a crash and is handled next. */
async function restartChildren(state: SupervisorState, ids: readonly string[], ctx: ActorContext): Promise<void> {
  const kernel = kernelOf(ctx);
  for (const id of ids) {
    const record = state.children.find((child) => child.spec.id === id);
    if (record === undefined) continue;
    if (record.cell.status === 'stopped') record.cell = createChildCell(record.spec, record.path, ctx, kernel);
    if (record.cell.status === 'running') continue;
    if (record.redeliver !== undefined) {
      record.cell.redeliverFirst(record.redeliver);
      record.redeliver = undefined;
    }
    await record.cell.start();
  }
}

async function startNewChild(state: SupervisorState, spec: ChildSpec, ctx: ActorContext): Promise<SupervisorReply> {
  const kernel = kernelOf(ctx);
  const path = `${ctx.self.path}/${spec.id}`;
  const record: ChildRecord = { spec, path, cell: undefined as unknown as Cell, window: [], redeliver: undefined };
  record.cell = createChildCell(spec, path, ctx, kernel);
  state.children.push(record);
  const started = await record.cell.start();
  if (started) return { ok: true, ref: record.cell.ref };
  const reason = record.cell.lastError?.message ?? 'init failed';
  await removeChild(state, record, ctx);
  return { ok: false, code: 'START_FAILED', message: reason };
}

function createChildCell(spec: ChildSpec, path: string, ctx: ActorContext, kernel: KernelServices): Cell {
  let cell: Cell | undefined;
  const self = ctx.self;
  const hook: SupervisionHook = {
    childCrashed: (_path, error, delivery) => kernel.tell(self, { type: 'supervisor.childCrashed', id: spec.id, cell, error, delivery }, undefined),
    childExited: () => kernel.tell(self, { type: 'supervisor.childExited', id: spec.id, cell }, undefined),
  };
  cell = kernel.createCell(spec.start, { path, kind: spec.kind, supervision: hook, ...(spec.mailbox ? { mailbox: spec.mailbox } : {}) });
  return cell;
}

async function startDynamicChild(state: SupervisorState, candidate: unknown, ctx: ActorContext): Promise<SupervisorReply> {
  let spec: ChildSpec;
  try {
    spec = validateChildSpec(candidate);
  } catch (error) {
    return { ok: false, code: 'INVALID_CHILD_SPEC', message: describeError(error).message };
  }
  if (state.children.some((child) => child.spec.id === spec.id)) return { ok: false, code: 'NAME_TAKEN', message: `child ${spec.id} exists` };
  if (state.children.length >= limits.childrenPerSupervisorMax) return { ok: false, code: 'LIMIT', message: 'too many children' };
  return startNewChild(state, spec, ctx);
}

async function stopDynamicChild(state: SupervisorState, id: string, ctx: ActorContext): Promise<SupervisorReply> {
  const record = state.children.find((child) => child.spec.id === id);
  if (record === undefined) return { ok: false, code: 'NO_SUCH_CHILD', message: `no child ${id}` };
  await removeChild(state, record, ctx);
  return { ok: true };
}

async function removeChild(state: SupervisorState, record: ChildRecord, ctx: ActorContext): Promise<void> {
  const index = state.children.indexOf(record);
  if (index >= 0) state.children.splice(index, 1);
  await stopWithin(record.cell, record.spec.shutdownMs, ctx.clock);
}

async function stopChildren(state: SupervisorState, ctx: ActorContext): Promise<void> {
  for (const record of [...state.children].reverse()) await stopWithin(record.cell, record.spec.shutdownMs, ctx.clock);
}

/** Ends a running sibling's incarnation for a restart, abandoning it after `shutdownMs`. */
async function terminateChild(record: ChildRecord, ctx: ActorContext): Promise<void> {
  if (record.cell.status === 'stopped') return;
  const finished = await within(record.cell.terminate(), record.spec.shutdownMs, ctx.clock);
  if (!finished) record.cell.kill();
}

async function stopWithin(cell: Cell, shutdownMs: number, clock: Clock): Promise<void> {
  if (cell.status === 'stopped') return;
  const finished = await within(cell.stop(), shutdownMs, clock);
  if (!finished) cell.kill();
}

/** Resolves true if `work` settles within `ms` on `clock`, false otherwise. */
function within(work: Promise<unknown>, ms: number, clock: Clock): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), ms);
    work.then(() => { clock.clearTimeout(timer); resolve(true); }, () => { clock.clearTimeout(timer); resolve(true); });
  });
}
