/**
 * The supervisor behaviour: the shell around the supervisor core (core.ts). A supervisor is an
 * ordinary actor whose children do not know they are supervised (Akka's "supervision as a
 * decorator"). The kernel reports a child's crash or normal exit through a hook, which the supervisor
 * receives as a message; the shell turns every message into a core input (with the clock's `nowMs` and
 * a draw from the seeded Rng), carries out the core's effects in order, and feeds each start and stop
 * it completes back to the core. It makes no decision of its own: which children restart, when,
 * whether to escalate and what to refuse are all the core's.
 *
 * Messages held for a restarting child wait in the kernel's restart buffer for the new incarnation.
 * Kernel reports and restart timers carry a token private to one supervisor incarnation, so a
 * message from outside that imitates them is refused like any unknown message.
 */
import {
  ActorCrashedError, InvalidArgumentError, StoppedError, TroupeError, behaviour, describeError, isHandlingAsk, kernelOf, limits,
  type ActorContext, type Behaviour, type Cell, type Clock, type Delivery, type Ref, type SupervisionHook,
} from '../runtime/index.js';
import type { KernelServices } from '../runtime/kernel-services.js';
import { Delivery as DeliveryClass } from '../runtime/cell.js';
import { validateChildSpec, type ChildSpec } from './child-spec.js';
import {
  createSupervisorCore, supervisorStep,
  type CoreSettings, type FailureData, type FailureOrigin, type Strategy, type SupervisorCoreState, type SupervisorEffect, type SupervisorInput,
} from './core.js';
import type { Backoff } from './restart-policy.js';

export type { Strategy } from './core.js';

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

/** Messages a supervisor handles. The `supervisor.child*` and `restartDue` ones come from the kernel hook and timers. */
export type SupervisorMessage =
  | { readonly type: 'supervisor.childCrashed'; readonly id: string; readonly cell: Cell; readonly incarnation: number; readonly error: unknown; readonly delivery: Delivery | undefined; readonly token: object }
  | { readonly type: 'supervisor.childExited'; readonly id: string; readonly cell: Cell; readonly incarnation: number; readonly token: object }
  | { readonly type: 'supervisor.restartDue'; readonly group: number; readonly token: object }
  | { readonly type: 'supervisor.startChild'; readonly spec: ChildSpec }
  | { readonly type: 'supervisor.stopChild'; readonly id: string }
  | { readonly type: 'supervisor.children' };

/** Replies to `supervisor.startChild` / `supervisor.stopChild`, and to any message a supervisor does not handle (UNKNOWN_MESSAGE). */
export type SupervisorReply =
  | { readonly ok: true; readonly ref?: Ref }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Raised inside a supervisor when restart intensity is exceeded; it crashes the supervisor into its own. */
export class EscalationError extends TroupeError {
  /** Supervisors that escalated, innermost first, ending with this one. */
  readonly chain: readonly string[];
  /** The child whose failure began the chain, and its error message. */
  readonly origin: { readonly path: string; readonly message: string };

  constructor(path: string, cause: unknown, origin?: FailureOrigin) {
    super('ESCALATED', `${path}: restart intensity exceeded`, { cause, context: { path, ...(origin ? { chain: origin.chain, child: origin.path } : {}) } });
    this.chain = origin?.chain ?? [path];
    this.origin = { path: origin?.path ?? path, message: origin?.message ?? describeError(cause).message };
  }
}

interface ChildRecord {
  readonly spec: ChildSpec;
  readonly path: string;
  cell: Cell | undefined;
  /** The core's generation now running in `cell`, and the cell incarnation that runs it. */
  generation: number;
  incarnation: number;
  redeliver: Delivery | undefined;
}

interface ShellState {
  core: SupervisorCoreState<ChildSpec>;
  readonly records: Map<string, ChildRecord>;
  /** Private to this incarnation: kernel reports and timers carry it. */
  readonly token: object;
  lastFailure: unknown;
}

interface Environment {
  readonly ctx: ActorContext;
  readonly kernel: KernelServices;
  readonly reply: (value: unknown) => void;
  readonly message: unknown;
  /** The delivery and error of the crash report being handled, if any. */
  readonly delivery: Delivery | undefined;
  readonly error: unknown;
}

/** Builds a supervisor behaviour. Use it as a child's `start` with `kind: 'supervisor'`, or as a node's root. */
export function supervisor(options: SupervisorOptions): Behaviour<ShellState, SupervisorMessage> {
  const settings = validateOptions(options);
  const specs = (options.children ?? []).map(validateChildSpec);
  assertUniqueIds(specs);
  return behaviour<ShellState, SupervisorMessage>({
    name: options.name ?? `supervisor(${settings.strategy})`,
    mailbox: { capacity: limits.childrenPerSupervisorMax + 1000, overflow: 'reject' },
    async init(ctx) {
      const state: ShellState = { core: createSupervisorCore(ctx.self.path, settings, specs), records: new Map(), token: {}, lastFailure: undefined };
      await feed(state, { type: 'boot', nowMs: ctx.clock.now() }, environment(ctx, undefined));
      return state;
    },
    async receive(state, message, ctx) {
      const decoded = decode(state, message, ctx);
      if (decoded.error !== undefined) state.lastFailure = decoded.error;
      await feed(state, decoded.input, environment(ctx, message, decoded));
      return state;
    },
    onStop: async (state, ctx) => {
      if (state !== undefined) await feed(state, { type: 'shutdown' }, environment(ctx, undefined));
    },
    describe: (state) => ({ strategy: settings.strategy, children: state.core.children.length, pendingRestarts: state.core.groups.size, refused: state.core.refused }),
  });
}

function environment(ctx: ActorContext, message: unknown, decoded?: Decoded): Environment {
  return { ctx, kernel: kernelOf(ctx), reply: ctx.replier(), message, delivery: decoded?.delivery, error: decoded?.error };
}

function validateOptions(options: SupervisorOptions): CoreSettings {
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
  return { strategy, intensity, backoff, childrenMax: limits.childrenPerSupervisorMax };
}

function assertUniqueIds(specs: readonly ChildSpec[]): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.id)) throw new InvalidArgumentError(`duplicate child id ${spec.id}`, { id: spec.id });
    seen.add(spec.id);
  }
}

/** A core input decoded from a mailbox message, with the crash report's delivery and error kept aside. */
interface Decoded {
  readonly input: SupervisorInput<ChildSpec>;
  readonly delivery?: Delivery | undefined;
  readonly error?: unknown;
}

/** Translates a mailbox message into a core input (decoding only; the core decides what it means). */
function decode(state: ShellState, message: unknown, ctx: ActorContext): Decoded {
  const nowMs = ctx.clock.now();
  const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
  const internal = typeof message === 'object' && message !== null && (message as { token?: unknown }).token === state.token;
  if (internal && (type === 'supervisor.childCrashed' || type === 'supervisor.childExited')) {
    const report = message as Extract<SupervisorMessage, { type: 'supervisor.childCrashed' | 'supervisor.childExited' }>;
    const record = state.records.get(report.id);
    const generation = record !== undefined && record.cell === report.cell && record.incarnation === report.incarnation ? record.generation : -1;
    if (report.type === 'supervisor.childExited') return { input: { type: 'exited', id: report.id, generation, nowMs, random: ctx.rng.next() } };
    const input: SupervisorInput<ChildSpec> = { type: 'crashed', id: report.id, generation, error: failureData(report.error), attempt: report.delivery?.attempt, nowMs, random: ctx.rng.next() };
    return { input, delivery: report.delivery, error: report.error };
  }
  if (internal && type === 'supervisor.restartDue') return { input: { type: 'restartDue', group: (message as { group: number }).group, nowMs } };
  if (type === 'supervisor.startChild') {
    try {
      return { input: { type: 'startChild', spec: validateChildSpec((message as { spec?: unknown }).spec), nowMs } };
    } catch (error) {
      return { input: { type: 'startChildInvalid', message: describeError(error).message } };
    }
  }
  if (type === 'supervisor.stopChild' && typeof (message as { id?: unknown }).id === 'string') return { input: { type: 'stopChild', id: (message as { id: string }).id } };
  if (type === 'supervisor.children') return { input: { type: 'listChildren' } };
  const messageType = typeof type === 'string' ? type.slice(0, limits.nameLengthMax) : typeof message;
  return { input: { type: 'unknown', messageType, ask: isHandlingAsk(ctx) } };
}

/** An error as data for the core (message, stack, and the escalation chain when a child supervisor escalated). */
function failureData(error: unknown): FailureData {
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : undefined;
  const escalation = error instanceof EscalationError ? { chain: error.chain, path: error.origin.path, message: error.origin.message } : undefined;
  return { message: describeError(error).message, ...(stack !== undefined ? { stack } : {}), ...(escalation ? { escalation } : {}) };
}

/** Steps the core with `input` and carries out its effects. */
async function feed(state: ShellState, input: SupervisorInput<ChildSpec>, env: Environment): Promise<void> {
  const result = supervisorStep(state.core, input);
  state.core = result.state;
  for (const effect of result.effects) await execute(state, effect, env);
}

/** Carries out one effect; a start or stop reports its completion back to the core before the next effect. */
async function execute(state: ShellState, effect: SupervisorEffect<ChildSpec>, env: Environment): Promise<void> {
  const { ctx, kernel } = env;
  switch (effect.type) {
    case 'start':
      return startChild(state, effect, env);
    case 'stop':
      return stopChild(state, effect.id, effect.mode, effect.shutdownMs, env);
    case 'kill':
      state.records.get(effect.id)?.cell?.kill();
      return;
    case 'forget':
      state.records.delete(effect.id);
      return;
    case 'setTimer':
      ctx.timers.startSingle(`restart-${effect.group}`, { type: 'supervisor.restartDue', group: effect.group, token: state.token }, effect.delayMs);
      return;
    case 'cancelTimer':
      ctx.timers.cancel(`restart-${effect.group}`);
      return;
    case 'settleDelivery':
      return settleDelivery(state, effect.id, effect.outcome, env);
    case 'dropRedelivery': {
      const record = state.records.get(effect.id);
      if (record?.redeliver !== undefined) kernel.undeliverable(record.redeliver, record.path, 'stopped', new StoppedError(record.path));
      if (record !== undefined) record.redeliver = undefined;
      return;
    }
    case 'escalate':
      throw new EscalationError(ctx.self.path, state.lastFailure, effect.origin);
    case 'bootFailed':
      throw new TroupeError('START_FAILED', `${ctx.self.path}: child ${effect.id} failed to start: ${effect.message}`);
    case 'reply':
      env.reply(effect.value);
      return;
    case 'replyStarted':
      env.reply({ ok: true, ref: state.records.get(effect.id)?.cell?.ref ?? { node: kernel.node, path: `${ctx.self.path}/${effect.id}` } } satisfies SupervisorReply);
      return;
    case 'replyChildren':
      env.reply(effect.ids.map((id) => {
        const record = state.records.get(id);
        return { id, ref: record?.cell?.ref ?? { node: kernel.node, path: `${ctx.self.path}/${id}` }, status: record?.cell?.status ?? 'stopped' };
      }));
      return;
    case 'deadLetter':
      kernel.deadLetter(env.message, ctx.self.path, effect.reason);
      return;
    case 'emit':
      kernel.emit({ ...effect.event, node: kernel.node, at: ctx.clock.now() });
      return;
    case 'log':
      kernel.log[effect.level](effect.event, effect.fields);
      return;
  }
}

async function startChild(state: ShellState, effect: Extract<SupervisorEffect<ChildSpec>, { type: 'start' }>, env: Environment): Promise<void> {
  const { ctx, kernel } = env;
  const spec = effect.spec;
  let record = state.records.get(spec.id);
  if (record === undefined) {
    record = { spec, path: `${ctx.self.path}/${spec.id}`, cell: undefined, generation: 0, incarnation: -1, redeliver: undefined };
    state.records.set(spec.id, record);
  }
  if (record.cell === undefined || record.cell.status === 'stopped') record.cell = createChildCell(state, record, kernel, ctx.self);
  record.generation = effect.generation;
  if (effect.redeliver && record.redeliver !== undefined) record.cell.redeliverFirst(record.redeliver);
  record.redeliver = undefined;
  const cell = record.cell;
  const ok = await cell.start();
  record.incarnation = cell.incarnation;
  const nowMs = ctx.clock.now();
  if (ok) {
    await feed(state, { type: 'started', id: spec.id, generation: effect.generation, ok: true, nowMs, random: ctx.rng.next() }, env);
    return;
  }
  const message = cell.lastError?.message ?? 'init failed';
  state.lastFailure = new TroupeError('START_FAILED', message);
  await feed(state, { type: 'started', id: spec.id, generation: effect.generation, ok: false, error: { message }, nowMs, random: ctx.rng.next() }, env);
}

async function stopChild(state: ShellState, id: string, mode: 'restart' | 'remove', shutdownMs: number, env: Environment): Promise<void> {
  const cell = state.records.get(id)?.cell;
  let finished = true;
  if (cell !== undefined && cell.status !== 'stopped') finished = await within(mode === 'restart' ? cell.terminate() : cell.stop(), shutdownMs, env.ctx.clock);
  await feed(state, { type: finished ? 'stopFinished' : 'stopTimedOut', id, mode }, env);
}

/** The core's verdict on the message that crashed a child: keep it for the next incarnation, or fail it. */
function settleDelivery(state: ShellState, id: string, outcome: 'redeliver' | 'crashed' | 'poison', env: Environment): void {
  const delivery = env.delivery;
  if (delivery === undefined) return;
  const path = `${env.ctx.self.path}/${id}`;
  const record = state.records.get(id);
  if (outcome === 'redeliver' && record !== undefined) {
    record.redeliver = new DeliveryClass(delivery.message, delivery.sender, delivery.corr, delivery.replyTo, delivery.attempt + 1);
    return;
  }
  env.kernel.failDelivery(delivery, new ActorCrashedError(path, env.error));
  env.kernel.deadLetter(delivery.message, path, outcome);
}

function createChildCell(state: ShellState, record: ChildRecord, kernel: KernelServices, self: Ref): Cell {
  let cell: Cell | undefined;
  const { spec, path } = record;
  const token = state.token;
  const hook: SupervisionHook = {
    childCrashed: (_path, error, delivery) => {
      kernel.tell(self, { type: 'supervisor.childCrashed', id: spec.id, cell, incarnation: cell?.incarnation ?? -1, error, delivery, token }, undefined);
    },
    childExited: () => kernel.tell(self, { type: 'supervisor.childExited', id: spec.id, cell, incarnation: cell?.incarnation ?? -1, token }, undefined),
  };
  cell = kernel.createCell(spec.start, { path, kind: spec.kind, supervision: hook, ...(spec.mailbox ? { mailbox: spec.mailbox } : {}) });
  return cell;
}

/** Resolves true if `work` settles within `ms` on `clock`, false otherwise. */
function within(work: Promise<unknown>, ms: number, clock: Clock): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), ms);
    work.then(() => { clock.clearTimeout(timer); resolve(true); }, () => { clock.clearTimeout(timer); resolve(true); });
  });
}
