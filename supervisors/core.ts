/**
 * A supervisor's decisions as a pure state machine (OTP supervisor semantics, DESIGN.md section 2):
 * `supervisorStep(state, input) -> { state, effects }`. Time comes in as `nowMs` and jitter as a draw
 * `random` in [0, 1); effects are data that the shell (supervisor.ts) carries out in order. The shell
 * reports each start and stop it carries out back as an input, so a sequence (stop the siblings in
 * reverse, start the group in order) advances one completion at a time, and every decision (restart or
 * not, which siblings, how long to wait, escalate or not, refuse) is made here.
 *
 * Semantics kept:
 *  - restart types: `permanent` is always restarted, `transient` only after a crash, `temporary` never;
 *  - strategies: `one_for_one` restarts the child, `one_for_all` every child, `rest_for_one` the child
 *    and those started after it; siblings are stopped in reverse spec order, the group is started in
 *    spec order; temporary siblings of a group are stopped and removed, not restarted;
 *  - restart intensity: more than `maxRestarts` restart decisions within `periodMs` escalates;
 *  - backoff: the n-th restart of a child within `periodMs` waits `backoffDelayMs(n - 1, ...)`;
 *  - the message that crashed a child with `retry: { maxAttempts }` is redelivered to the next
 *    incarnation while its `attempt` (0 on first delivery) is below `maxAttempts`, so it is delivered
 *    at most `maxAttempts + 1` times in all; after that it is dead-lettered as `poison`.
 *
 * Invariants (asserted where cheap):
 *  - pending restarts are kept per restart group, each with its own id and timer; a group id is never
 *    reused, so a late timer can only refer to its own group, and a later crash never overwrites an
 *    earlier pending restart (a child is moved, not dropped, when a later group absorbs it);
 *  - a child is in at most one pending group; every `down` child that will be restarted is in one;
 *  - until the supervisor has escalated or shut down, a `permanent` child is `running`, `starting`,
 *    `stopping` for a restart, or `down` with a pending group;
 *  - a report is acted on only for the generation the core started last and only while that
 *    generation is running, so a stale report (an incarnation already replaced) changes nothing;
 *  - a message the supervisor does not understand is refused and changes nothing but a counter.
 *
 * Like the other cores, `step` updates `state` in place and returns it; a caller keeps no other copy.
 */
import { assert } from '../runtime/errors.js';
import type { ChildSpec } from './child-spec.js';
import { backoffDelayMs, recordRestart, type Backoff, type Intensity } from './restart-policy.js';

/** How a crash of one child affects its siblings. */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/** What the core reads of a child spec (the shell's full spec carries the behaviour too). */
export type CoreChildSpec = Pick<ChildSpec, 'id' | 'restart' | 'shutdownMs' | 'kind' | 'retry'>;

/** Validated supervisor settings. */
export interface CoreSettings {
  readonly strategy: Strategy;
  readonly intensity: Intensity;
  readonly backoff: Backoff;
  /** Children one supervisor may hold; a dynamic start past it is refused with LIMIT. */
  readonly childrenMax: number;
}

/** Where a child is in its life, as this supervisor knows it. */
export type ChildStatus = 'starting' | 'running' | 'stopping' | 'down';

/** One child as the core knows it. */
export interface CoreChild<Spec extends CoreChildSpec = CoreChildSpec> {
  readonly spec: Spec;
  status: ChildStatus;
  /** Number of starts issued; reports name the generation they are about. */
  generation: number;
  /** Restart decisions for this child within the period (its backoff exponent). */
  restartWindow: number[];
  restarts: number;
  /** The message that crashed it waits to be redelivered to the next incarnation. */
  redeliver: boolean;
  /** The pending restart group holding this child, if any. */
  group: number | undefined;
}

/** Children waiting for one restart, started together in spec order when its timer fires. */
export interface RestartGroup {
  readonly id: number;
  ids: string[];
  phase: 'waiting' | 'starting';
}

/** What the one start sequence in progress is for. */
type Starting =
  | { readonly kind: 'boot' }
  | { readonly kind: 'dynamic'; readonly id: string }
  | { readonly kind: 'group'; readonly group: number };

/** Where the chain of a failure started, carried up through escalations. */
export interface FailureOrigin {
  /** Supervisors that escalated, innermost first. */
  readonly chain: readonly string[];
  /** The child whose failure began it, and its error. */
  readonly path: string;
  readonly message: string;
}

/** A failure as plain data (the shell keeps the error object). */
export interface FailureData {
  readonly message: string;
  readonly stack?: string;
  /** Present when the failed child is a supervisor that escalated. */
  readonly escalation?: FailureOrigin;
}

/** The state of one supervisor. */
export interface SupervisorCoreState<Spec extends CoreChildSpec = CoreChildSpec> {
  readonly path: string;
  readonly settings: CoreSettings;
  /** In spec order (dynamic children appended). */
  readonly children: Array<CoreChild<Spec>>;
  /** Restart decisions within the period (intensity). */
  window: number[];
  readonly groups: Map<number, RestartGroup>;
  nextGroup: number;
  starting: Starting | undefined;
  phase: 'booting' | 'running' | 'escalated' | 'shutdown';
  /** Messages refused as unknown. */
  refused: number;
}

/** Inputs of the supervisor core. */
export type SupervisorInput<Spec extends CoreChildSpec = CoreChildSpec> =
  | { readonly type: 'boot'; readonly nowMs: number }
  | { readonly type: 'started'; readonly id: string; readonly generation: number; readonly ok: true; readonly nowMs: number; readonly random: number }
  | { readonly type: 'started'; readonly id: string; readonly generation: number; readonly ok: false; readonly error: FailureData; readonly nowMs: number; readonly random: number }
  | { readonly type: 'crashed'; readonly id: string; readonly generation: number; readonly error: FailureData; readonly attempt: number | undefined; readonly nowMs: number; readonly random: number }
  | { readonly type: 'exited'; readonly id: string; readonly generation: number; readonly nowMs: number; readonly random: number }
  | { readonly type: 'stopFinished'; readonly id: string; readonly mode: StopMode }
  | { readonly type: 'stopTimedOut'; readonly id: string; readonly mode: StopMode }
  | { readonly type: 'restartDue'; readonly group: number; readonly nowMs: number }
  | { readonly type: 'startChild'; readonly spec: Spec; readonly nowMs: number }
  | { readonly type: 'startChildInvalid'; readonly message: string }
  | { readonly type: 'stopChild'; readonly id: string }
  | { readonly type: 'listChildren' }
  | { readonly type: 'shutdown' }
  | { readonly type: 'unknown'; readonly messageType: string; readonly ask: boolean };

/** `restart`: end the incarnation, hold messages for the next; `remove`: stop for good. */
export type StopMode = 'restart' | 'remove';

/** A typed reply to a request. */
export type CoreReply =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: 'START_FAILED' | 'INVALID_CHILD_SPEC' | 'NAME_TAKEN' | 'LIMIT' | 'NO_SUCH_CHILD' | 'UNKNOWN_MESSAGE' | 'STOPPING'; readonly message: string };

/** Effects for the shell, carried out in order. */
export type SupervisorEffect<Spec extends CoreChildSpec = CoreChildSpec> =
  | { readonly type: 'start'; readonly spec: Spec; readonly generation: number; readonly redeliver: boolean }
  | { readonly type: 'stop'; readonly id: string; readonly shutdownMs: number; readonly mode: StopMode }
  | { readonly type: 'kill'; readonly id: string }
  | { readonly type: 'forget'; readonly id: string }
  | { readonly type: 'setTimer'; readonly group: number; readonly delayMs: number }
  | { readonly type: 'cancelTimer'; readonly group: number }
  | { readonly type: 'settleDelivery'; readonly id: string; readonly outcome: 'redeliver' | 'crashed' | 'poison' }
  | { readonly type: 'dropRedelivery'; readonly id: string }
  | { readonly type: 'escalate'; readonly origin: FailureOrigin }
  | { readonly type: 'bootFailed'; readonly id: string; readonly message: string }
  | { readonly type: 'reply'; readonly value: CoreReply }
  | { readonly type: 'replyStarted'; readonly id: string }
  | { readonly type: 'replyChildren'; readonly ids: readonly string[] }
  | { readonly type: 'deadLetter'; readonly reason: string }
  | { readonly type: 'emit'; readonly event: { readonly type: 'restarting'; readonly path: string; readonly delayMs: number } | { readonly type: 'escalated'; readonly path: string; readonly error: string } }
  | { readonly type: 'log'; readonly level: 'warn' | 'error'; readonly event: string; readonly fields: Readonly<Record<string, unknown>> };

/** The outcome of one step. */
export interface StepResult<Spec extends CoreChildSpec = CoreChildSpec> {
  readonly state: SupervisorCoreState<Spec>;
  readonly effects: Array<SupervisorEffect<Spec>>;
}

/** A supervisor with its initial children, none started yet (feed `boot`). */
export function createSupervisorCore<Spec extends CoreChildSpec>(path: string, settings: CoreSettings, specs: readonly Spec[]): SupervisorCoreState<Spec> {
  const seen = new Set<string>();
  for (const spec of specs) {
    assert(!seen.has(spec.id), 'duplicate child id', { id: spec.id });
    seen.add(spec.id);
  }
  return {
    path, settings, window: [], groups: new Map(), nextGroup: 1, starting: undefined, phase: 'booting', refused: 0,
    children: specs.map((spec) => newChild(spec)),
  };
}

/** Applies one input. */
export function supervisorStep<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, input: SupervisorInput<Spec>): StepResult<Spec> {
  const effects: Array<SupervisorEffect<Spec>> = [];
  const child = 'id' in input && input.type !== 'stopChild' ? find(state, input.id) : undefined;
  switch (input.type) {
    case 'boot':
      assert(state.phase === 'booting' && state.starting === undefined, 'boot twice');
      state.starting = { kind: 'boot' };
      startNextOfBoot(state, effects);
      break;
    case 'started':
      if (child !== undefined && child.status === 'starting' && child.generation === input.generation) onStarted(state, child, input, effects);
      break;
    case 'crashed':
      if (child !== undefined && child.status === 'running' && child.generation === input.generation && live(state)) {
        logCrash(state, child, input.error, effects);
        childDown(state, child, { error: input.error, attempt: input.attempt }, input.nowMs, input.random, effects);
      } else if (input.attempt !== undefined) {
        // The incarnation it crashed was already being replaced: its message is failed, not retried.
        effects.push({ type: 'settleDelivery', id: input.id, outcome: 'crashed' });
      }
      break;
    case 'exited':
      if (child !== undefined && child.status === 'running' && child.generation === input.generation && live(state)) {
        childDown(state, child, undefined, input.nowMs, input.random, effects);
      }
      break;
    case 'stopFinished':
    case 'stopTimedOut':
      onStopped(state, input.id, input.mode, input.type === 'stopTimedOut', effects);
      break;
    case 'restartDue':
      onRestartDue(state, input.group, effects);
      break;
    case 'startChild':
      startDynamic(state, input.spec, effects);
      break;
    case 'startChildInvalid':
      effects.push({ type: 'reply', value: { ok: false, code: 'INVALID_CHILD_SPEC', message: input.message } });
      break;
    case 'stopChild':
      stopDynamic(state, input.id, effects);
      break;
    case 'listChildren':
      effects.push({ type: 'replyChildren', ids: state.children.map((each) => each.spec.id) });
      break;
    case 'shutdown':
      shutdown(state, effects);
      break;
    case 'unknown':
      refuse(state, input.messageType, input.ask, effects);
      break;
    default:
      assertNever(input);
  }
  return { state, effects };
}

/** Whether the permanent-child invariant applies (the supervisor is neither escalated nor shut down). */
export function live(state: SupervisorCoreState<CoreChildSpec>): boolean {
  return state.phase === 'running' || state.phase === 'booting';
}

/** Checks the core's invariants; throws InvariantError when one is broken (used by tests and asserts). */
export function checkInvariants(state: SupervisorCoreState<CoreChildSpec>): void {
  for (const child of state.children) {
    if (child.group !== undefined) {
      const group = state.groups.get(child.group);
      assert(group !== undefined && group.ids.includes(child.spec.id), 'child names a group that does not hold it', { id: child.spec.id });
    }
    if (state.phase === 'running' && state.starting === undefined && child.spec.restart === 'permanent') {
      assert(child.status === 'running' || child.group !== undefined, 'a permanent child is neither running nor scheduled', { id: child.spec.id, status: child.status });
    }
  }
  for (const group of state.groups.values()) {
    for (const id of group.ids) assert(find(state, id)?.group === group.id, 'group holds a child that does not name it', { id, group: group.id });
  }
}

function newChild<Spec extends CoreChildSpec>(spec: Spec): CoreChild<Spec> {
  return { spec, status: 'down', generation: 0, restartWindow: [], restarts: 0, redeliver: false, group: undefined };
}

function find<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, id: string): CoreChild<Spec> | undefined {
  return state.children.find((child) => child.spec.id === id);
}

function issueStart<Spec extends CoreChildSpec>(child: CoreChild<Spec>, effects: Array<SupervisorEffect<Spec>>): void {
  child.status = 'starting';
  child.generation += 1;
  effects.push({ type: 'start', spec: child.spec, generation: child.generation, redeliver: child.redeliver });
  child.redeliver = false;
}

function startNextOfBoot<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, effects: Array<SupervisorEffect<Spec>>): void {
  const next = state.children.find((child) => child.status === 'down' && child.generation === 0);
  if (next === undefined) {
    state.starting = undefined;
    state.phase = 'running';
    return;
  }
  issueStart(next, effects);
}

function onStarted<Spec extends CoreChildSpec>(
  state: SupervisorCoreState<Spec>, child: CoreChild<Spec>, input: Extract<SupervisorInput<Spec>, { type: 'started' }>, effects: Array<SupervisorEffect<Spec>>,
): void {
  const starting = state.starting;
  assert(starting !== undefined, 'a start completed with no start in progress', { id: child.spec.id });
  if (input.ok) {
    child.status = 'running';
    if (starting.kind === 'boot') startNextOfBoot(state, effects);
    else if (starting.kind === 'dynamic') {
      state.starting = undefined;
      effects.push({ type: 'replyStarted', id: child.spec.id });
    } else startNextOfGroup(state, starting.group, effects);
    return;
  }
  logCrash(state, child, input.error, effects);
  if (starting.kind === 'boot') {
    // OTP: a child that cannot start during the supervisor's own start fails the supervisor's start.
    state.starting = undefined;
    state.phase = 'shutdown';
    removeChild(state, child, effects);
    for (const started of [...state.children].reverse()) removeChild(state, started, effects);
    effects.push({ type: 'bootFailed', id: child.spec.id, message: input.error.message });
    return;
  }
  if (starting.kind === 'dynamic') {
    state.starting = undefined;
    removeChild(state, child, effects);
    effects.push({ type: 'reply', value: { ok: false, code: 'START_FAILED', message: input.error.message } });
    return;
  }
  // A restart whose init failed counts as a crash of that child; its decision covers the rest of the group.
  state.starting = undefined;
  const group = state.groups.get(starting.group);
  if (group !== undefined) {
    for (const id of group.ids) {
      const member = find(state, id);
      if (member !== undefined) member.group = undefined;
    }
    const remaining = group.ids.filter((id) => id !== child.spec.id);
    state.groups.delete(group.id);
    child.status = 'running'; // its generation ran init; childDown treats it as the crashed incarnation
    childDown(state, child, { error: input.error, attempt: undefined }, input.nowMs, input.random, effects);
    for (const id of remaining) {
      const member = find(state, id);
      if (live(state) && member !== undefined && member.group === undefined && member.status === 'down') scheduleAlone(state, member, effects);
    }
  }
}

/** A child that was in an abandoned group and is not covered by the new decision keeps its restart. */
function scheduleAlone<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, child: CoreChild<Spec>, effects: Array<SupervisorEffect<Spec>>): void {
  const group: RestartGroup = { id: state.nextGroup, ids: [child.spec.id], phase: 'waiting' };
  state.nextGroup += 1;
  state.groups.set(group.id, group);
  child.group = group.id;
  effects.push({ type: 'setTimer', group: group.id, delayMs: 0 });
}

/** A running child crashed (`failure` set) or exited normally: restart it per restart type and strategy. */
function childDown<Spec extends CoreChildSpec>(
  state: SupervisorCoreState<Spec>, child: CoreChild<Spec>, failure: { error: FailureData; attempt: number | undefined } | undefined,
  nowMs: number, random: number, effects: Array<SupervisorEffect<Spec>>,
): void {
  child.status = 'down';
  const restart = child.spec.restart === 'permanent' || (child.spec.restart === 'transient' && failure !== undefined);
  if (failure !== undefined && failure.attempt !== undefined) settleDelivery(child, failure.attempt, restart, effects);
  if (!restart) {
    removeChild(state, child, effects);
    return;
  }
  const intensity = recordRestart(state.window, nowMs, state.settings.intensity);
  state.window = intensity.window;
  if (intensity.exceeded) {
    escalate(state, child, failure?.error, effects);
    return;
  }
  const affected = affectedChildren(state, child);
  for (const sibling of [...affected].reverse()) {
    if (sibling === child) continue;
    if (sibling.spec.restart === 'temporary') removeChild(state, sibling, effects);
    else if (sibling.status === 'running') {
      sibling.status = 'stopping';
      effects.push({ type: 'stop', id: sibling.spec.id, shutdownMs: sibling.spec.shutdownMs, mode: 'restart' });
    }
  }
  const attempt = recordRestart(child.restartWindow, nowMs, { maxRestarts: Number.MAX_SAFE_INTEGER, periodMs: state.settings.intensity.periodMs });
  child.restartWindow = attempt.window;
  const delayMs = backoffDelayMs(attempt.window.length - 1, state.settings.backoff, random);
  const members = affected.filter((each) => each === child || each.spec.restart !== 'temporary');
  const group = createGroup(state, members, effects);
  for (const member of members) {
    member.restarts += 1;
    effects.push({ type: 'emit', event: { type: 'restarting', path: childPath(state, member), delayMs } });
  }
  effects.push({ type: 'log', level: 'warn', event: 'supervisor.restarting', fields: { path: state.path, child: childPath(state, child), group: members.map((each) => each.spec.id), delayMs } });
  if (delayMs === 0) beginGroup(state, group, effects);
  else effects.push({ type: 'setTimer', group: group.id, delayMs });
}

/** A new pending group; members leave any older group, which is cancelled when it empties. */
function createGroup<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, members: ReadonlyArray<CoreChild<Spec>>, effects: Array<SupervisorEffect<Spec>>): RestartGroup {
  for (const member of members) leaveGroup(state, member, effects);
  const group: RestartGroup = { id: state.nextGroup, ids: members.map((member) => member.spec.id), phase: 'waiting' };
  state.nextGroup += 1;
  state.groups.set(group.id, group);
  for (const member of members) member.group = group.id;
  return group;
}

function leaveGroup<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, child: CoreChild<Spec>, effects: Array<SupervisorEffect<Spec>>): void {
  if (child.group === undefined) return;
  const group = state.groups.get(child.group);
  child.group = undefined;
  if (group === undefined) return;
  group.ids = group.ids.filter((id) => id !== child.spec.id);
  if (group.ids.length === 0) {
    state.groups.delete(group.id);
    if (group.phase === 'waiting') effects.push({ type: 'cancelTimer', group: group.id });
  }
}

function onRestartDue<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, id: number, effects: Array<SupervisorEffect<Spec>>): void {
  const group = state.groups.get(id);
  if (group === undefined || group.phase !== 'waiting' || !live(state)) return; // cancelled: its children moved to a later group
  beginGroup(state, group, effects);
}

function beginGroup<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, group: RestartGroup, effects: Array<SupervisorEffect<Spec>>): void {
  assert(state.starting === undefined, 'two start sequences at once', { group: group.id });
  group.phase = 'starting';
  state.starting = { kind: 'group', group: group.id };
  startNextOfGroup(state, group.id, effects);
}

function startNextOfGroup<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, id: number, effects: Array<SupervisorEffect<Spec>>): void {
  const group = state.groups.get(id);
  // Siblings still stopping (a zero-delay restart): the last stop to finish starts the group, in order.
  if (group !== undefined && group.ids.some((each) => find(state, each)?.status === 'stopping')) return;
  const next = group?.ids.map((each) => find(state, each)).find((member) => member !== undefined && member.status === 'down');
  if (group === undefined || next === undefined) {
    if (group !== undefined) {
      for (const member of group.ids) {
        const each = find(state, member);
        if (each !== undefined) each.group = undefined;
      }
      state.groups.delete(id);
    }
    state.starting = undefined;
    return;
  }
  issueStart(next, effects);
}

function affectedChildren<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, child: CoreChild<Spec>): Array<CoreChild<Spec>> {
  switch (state.settings.strategy) {
    case 'one_for_one': return [child];
    case 'one_for_all': return [...state.children];
    case 'rest_for_one': return state.children.slice(state.children.indexOf(child));
  }
}

/** The crashing message: redelivered if the spec allows and the child will run again, else failed. */
function settleDelivery<Spec extends CoreChildSpec>(child: CoreChild<Spec>, attempt: number, restart: boolean, effects: Array<SupervisorEffect<Spec>>): void {
  const retry = child.spec.retry;
  if (retry !== undefined && restart && attempt < retry.maxAttempts) {
    child.redeliver = true;
    effects.push({ type: 'settleDelivery', id: child.spec.id, outcome: 'redeliver' });
    return;
  }
  effects.push({ type: 'settleDelivery', id: child.spec.id, outcome: retry === undefined ? 'crashed' : 'poison' });
}

function escalate<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, child: CoreChild<Spec>, error: FailureData | undefined, effects: Array<SupervisorEffect<Spec>>): void {
  state.phase = 'escalated';
  const inner = error?.escalation;
  const origin: FailureOrigin = inner === undefined
    ? { chain: [state.path], path: childPath(state, child), message: error?.message ?? 'exited' }
    : { chain: [...inner.chain, state.path], path: inner.path, message: inner.message };
  const { maxRestarts, periodMs } = state.settings.intensity;
  effects.push({ type: 'emit', event: { type: 'escalated', path: state.path, error: error?.message ?? 'restart intensity exceeded' } });
  effects.push({ type: 'log', level: 'error', event: 'supervisor.escalated', fields: { path: state.path, chain: origin.chain, child: origin.path, error: origin.message, maxRestarts, periodMs } });
  effects.push({ type: 'escalate', origin });
}

function logCrash<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, child: CoreChild<Spec>, error: FailureData, effects: Array<SupervisorEffect<Spec>>): void {
  effects.push({ type: 'log', level: 'error', event: 'actor.crashed', fields: { path: childPath(state, child), error: error.message, ...(error.stack !== undefined ? { stack: error.stack } : {}) } });
}

/** Stops a child for good and forgets it (the `forget` follows the stop's completion). */
function removeChild<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, child: CoreChild<Spec>, effects: Array<SupervisorEffect<Spec>>): void {
  const index = state.children.indexOf(child);
  if (index < 0) return;
  leaveGroup(state, child, effects);
  state.children.splice(index, 1);
  if (child.redeliver) effects.push({ type: 'dropRedelivery', id: child.spec.id });
  child.redeliver = false;
  child.status = 'stopping';
  if (child.generation === 0) {
    effects.push({ type: 'forget', id: child.spec.id });
    return;
  }
  effects.push({ type: 'stop', id: child.spec.id, shutdownMs: child.spec.shutdownMs, mode: 'remove' });
}

function onStopped<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, id: string, mode: StopMode, timedOut: boolean, effects: Array<SupervisorEffect<Spec>>): void {
  if (timedOut) effects.push({ type: 'kill', id });
  if (mode === 'remove') {
    effects.push({ type: 'forget', id });
    return;
  }
  const child = find(state, id);
  if (child !== undefined && child.status === 'stopping') child.status = 'down';
  const starting = state.starting;
  if (starting?.kind === 'group' && !state.children.some((each) => each.status === 'starting')) startNextOfGroup(state, starting.group, effects);
}

function startDynamic<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, spec: Spec, effects: Array<SupervisorEffect<Spec>>): void {
  if (!live(state) || state.starting !== undefined) {
    effects.push({ type: 'reply', value: { ok: false, code: 'STOPPING', message: `${state.path} is not accepting children` } });
  } else if (find(state, spec.id) !== undefined) {
    effects.push({ type: 'reply', value: { ok: false, code: 'NAME_TAKEN', message: `child ${spec.id} exists` } });
  } else if (state.children.length >= state.settings.childrenMax) {
    effects.push({ type: 'reply', value: { ok: false, code: 'LIMIT', message: `too many children (at most ${state.settings.childrenMax})` } });
  } else {
    const child = newChild(spec);
    state.children.push(child);
    state.starting = { kind: 'dynamic', id: spec.id };
    issueStart(child, effects);
  }
}

function stopDynamic<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, id: string, effects: Array<SupervisorEffect<Spec>>): void {
  const child = find(state, id);
  if (child === undefined) {
    effects.push({ type: 'reply', value: { ok: false, code: 'NO_SUCH_CHILD', message: `no child ${id}` } });
    return;
  }
  removeChild(state, child, effects);
  effects.push({ type: 'reply', value: { ok: true } });
}

/** The supervisor stops: pending restarts are cancelled and every child stops in reverse order. */
function shutdown<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, effects: Array<SupervisorEffect<Spec>>): void {
  if (state.phase !== 'escalated') state.phase = 'shutdown';
  for (const group of state.groups.values()) if (group.phase === 'waiting') effects.push({ type: 'cancelTimer', group: group.id });
  state.groups.clear();
  for (const child of state.children) child.group = undefined;
  for (const child of [...state.children].reverse()) removeChild(state, child, effects);
}

function refuse<Spec extends CoreChildSpec>(state: SupervisorCoreState<Spec>, messageType: string, ask: boolean, effects: Array<SupervisorEffect<Spec>>): void {
  state.refused += 1;
  const message = `${state.path} does not handle ${JSON.stringify(messageType)}`;
  effects.push(ask ? { type: 'reply', value: { ok: false, code: 'UNKNOWN_MESSAGE', message } } : { type: 'deadLetter', reason: `UNKNOWN_MESSAGE: ${message}` });
  effects.push({ type: 'log', level: 'warn', event: 'supervisor.refused', fields: { path: state.path, messageType, refused: state.refused } });
}

function childPath(state: SupervisorCoreState<CoreChildSpec>, child: CoreChild<CoreChildSpec>): string {
  return `${state.path}/${child.spec.id}`;
}

function assertNever(value: never): never {
  throw new TypeError(`unknown supervisor input ${JSON.stringify(value)}`);
}
