/**
 * Delivery guarantees of one ordered pair of nodes (sender -> receiver), as a pure core.
 *
 * At-most-once (the default, like Erlang and Akka): every stream frame carries `seq`, increasing per
 * sender incarnation across reconnects; the receiver drops a frame whose seq is not above the last one
 * it took. TCP keeps order within one connection, and this keeps it across reconnects and across the
 * brief overlap of two connections during a tie-break: a message may be lost, never reordered.
 *
 * At-least-once (opt-in): the frame also carries `reliable: n`, its place in the pair's reliable
 * stream. The sender keeps each message in a bounded outbox until a cumulative ack covers it, resends
 * everything unacknowledged on reconnect and on a timeout with exponential backoff (go-back-N). The
 * receiver takes only the next expected number (so the reliable stream is FIFO as well), acks
 * cumulatively, and also drops any envelope id it has already delivered within a bounded window, so a
 * message re-sent by the application with the same id (an idempotency key) has one effect too.
 *
 * A pair has two such streams, its lanes (`lanes.ts`): bulk and notice. Each lane has its own
 * outbox, receiving position (`LaneInbox`), dedupe window and parking lot; nothing here is shared
 * between them, so a lane never waits for the other.
 *
 * Invariants: outbox entries are in strictly increasing `rseq` order; `ackedUpTo` never decreases; the
 * receiver's `expected` never decreases; the dedupe window never exceeds its bound.
 * The state objects are owned by one caller and updated in place so every step is O(1) amortised.
 */
import { assert } from '../../runtime/index.js';
import type { Lane } from './lanes.js';

/** Outbox parameters. */
export interface OutboxSettings {
  readonly outboxMax: number;
  readonly redeliverMsMin: number;
  readonly redeliverMsMax: number;
}

interface OutboxEntry<Payload> {
  readonly rseq: number;
  readonly payload: Payload;
  sentAtMs: number | undefined;
  attempts: number;
}

/** The sender side of a reliable stream. */
export interface OutboxState<Payload> {
  nextRseq: number;
  ackedUpTo: number;
  connected: boolean;
  /** Unacknowledged entries from index `head` on (entries before it are acked and awaiting compaction). */
  entries: Array<OutboxEntry<Payload>>;
  head: number;
  readonly settings: OutboxSettings;
}

/** Inputs of the outbox. */
export type OutboxInput<Payload> =
  | { readonly type: 'send'; readonly payload: Payload; readonly nowMs: number }
  | { readonly type: 'ack'; readonly upTo: number }
  | { readonly type: 'connected'; readonly nowMs: number }
  | { readonly type: 'disconnected' }
  | { readonly type: 'tick'; readonly nowMs: number };

/** Effects of the outbox: put a message on the wire, or refuse it because the outbox is full. */
export type OutboxEffect<Payload> =
  | { readonly type: 'transmit'; readonly rseq: number; readonly payload: Payload; readonly redelivery: boolean }
  | { readonly type: 'refused'; readonly payload: Payload; readonly code: 'OUTBOX_FULL' };

/** An empty outbox. */
export function createOutbox<Payload>(settings: OutboxSettings): OutboxState<Payload> {
  return { nextRseq: 1, ackedUpTo: 0, connected: false, entries: [], head: 0, settings };
}

/** Unacknowledged messages. */
export function outboxSize<Payload>(state: OutboxState<Payload>): number {
  return state.entries.length - state.head;
}

/** The payloads still unacknowledged, oldest first (for dead letters when the stream is abandoned). */
export function unacknowledged<Payload>(state: OutboxState<Payload>): Payload[] {
  return state.entries.slice(state.head).map((entry) => entry.payload);
}

/** The redelivery delay after `attempts` transmissions. */
export function redeliveryDelayMs(settings: OutboxSettings, attempts: number): number {
  return Math.min(settings.redeliverMsMax, settings.redeliverMsMin * 2 ** Math.min(Math.max(0, attempts - 1), 20));
}

/** Feeds one input to the outbox. */
export function outboxStep<Payload>(state: OutboxState<Payload>, input: OutboxInput<Payload>): Array<OutboxEffect<Payload>> {
  switch (input.type) {
    case 'send': {
      if (outboxSize(state) >= state.settings.outboxMax) return [{ type: 'refused', payload: input.payload, code: 'OUTBOX_FULL' }];
      const entry: OutboxEntry<Payload> = { rseq: state.nextRseq, payload: input.payload, sentAtMs: undefined, attempts: 0 };
      state.nextRseq += 1;
      state.entries.push(entry);
      return state.connected ? [transmit(entry, input.nowMs)] : [];
    }
    case 'ack':
      acknowledge(state, input.upTo);
      return [];
    case 'connected':
      state.connected = true;
      return resendAll(state, input.nowMs);
    case 'disconnected':
      state.connected = false;
      return [];
    case 'tick': {
      const oldest = state.entries[state.head];
      if (!state.connected || oldest === undefined || oldest.sentAtMs === undefined) return [];
      if (input.nowMs - oldest.sentAtMs < redeliveryDelayMs(state.settings, oldest.attempts)) return [];
      // Go-back-N: the receiver dropped everything after the first gap, so everything is resent.
      return resendAll(state, input.nowMs);
    }
  }
}

function transmit<Payload>(entry: OutboxEntry<Payload>, nowMs: number): OutboxEffect<Payload> {
  const redelivery = entry.attempts > 0;
  entry.attempts += 1;
  entry.sentAtMs = nowMs;
  return { type: 'transmit', rseq: entry.rseq, payload: entry.payload, redelivery };
}

function resendAll<Payload>(state: OutboxState<Payload>, nowMs: number): Array<OutboxEffect<Payload>> {
  const effects: Array<OutboxEffect<Payload>> = [];
  for (let index = state.head; index < state.entries.length; index += 1) effects.push(transmit(state.entries[index]!, nowMs));
  return effects;
}

function acknowledge<Payload>(state: OutboxState<Payload>, upTo: number): void {
  // An ack beyond what was ever sent is a confused or hostile peer; clamp rather than trust it.
  const limit = Math.min(upTo, state.nextRseq - 1);
  if (limit <= state.ackedUpTo) return;
  state.ackedUpTo = limit;
  while (state.head < state.entries.length && state.entries[state.head]!.rseq <= limit) state.head += 1;
  if (state.head > 1024 && state.head * 2 > state.entries.length) {
    state.entries = state.entries.slice(state.head);
    state.head = 0;
  }
  assert(state.head === state.entries.length || state.entries[state.head]!.rseq === limit + 1, 'outbox entries are contiguous');
}

/** A bounded set of recently delivered envelope ids (FIFO eviction). */
export interface DedupeWindow {
  readonly ids: Set<string>;
  readonly order: string[];
  head: number;
  readonly capacity: number;
}

/** An empty window of `capacity` ids. */
export function createDedupeWindow(capacity: number): DedupeWindow {
  return { ids: new Set(), order: [], head: 0, capacity };
}

/** Remembers `id`, forgetting the oldest id when the window is full. */
export function rememberId(window: DedupeWindow, id: string): void {
  if (window.ids.has(id)) return;
  window.ids.add(id);
  window.order.push(id);
  if (window.ids.size > window.capacity) {
    window.ids.delete(window.order[window.head]!);
    window.head += 1;
    if (window.head > 1024 && window.head * 2 > window.order.length) {
      window.order.splice(0, window.head);
      window.head = 0;
    }
  }
}

/** The receiver side of one reliable lane. */
export interface LaneInbox {
  /** Next reliable number expected. */
  expected: number;
  /** Highest reliable number acknowledged to the sender. */
  ackedUpTo: number;
}

/** The receiver side of one sender incarnation. */
export interface InboxState {
  readonly incarnation: number;
  /** Highest at-most-once seq taken. */
  lastSeq: number;
  /** Each reliable lane's position. */
  readonly lanes: Readonly<Record<Lane, LaneInbox>>;
}

/** A fresh inbox for a sender incarnation. */
export function createInbox(incarnation: number): InboxState {
  return { incarnation, lastSeq: 0, lanes: { bulk: { expected: 1, ackedUpTo: 0 }, notice: { expected: 1, ackedUpTo: 0 } } };
}

/** At-most-once ordering: true if a frame with `seq` may be delivered (and records it). */
export function takeInOrder(state: InboxState, seq: number): boolean {
  if (seq <= state.lastSeq) return false;
  state.lastSeq = seq;
  return true;
}

/**
 * What to do with a reliable frame: `deliver` it (then call `reliableDelivered`), skip a `duplicate`
 * (an id seen before: it counts as delivered), re-ack a `stale` copy, or drop a frame after a `gap`.
 */
export function classifyReliable(state: LaneInbox, window: DedupeWindow, rseq: number, id: string): 'deliver' | 'duplicate' | 'stale' | 'gap' {
  if (rseq < state.expected) return 'stale';
  if (rseq > state.expected) return 'gap';
  return window.ids.has(id) ? 'duplicate' : 'deliver';
}

/** Records that reliable frame `rseq` with `id` was delivered (or skipped as a duplicate) on its lane. */
export function reliableDelivered(state: LaneInbox, window: DedupeWindow, rseq: number, id: string): void {
  assert(rseq === state.expected, 'reliable frames are taken in order', { rseq, expected: state.expected });
  state.expected += 1;
  rememberId(window, id);
}

/** The cumulative ack position (to re-ack a stale copy whose ack was lost). */
export function cumulativeAck(state: LaneInbox): number {
  state.ackedUpTo = state.expected - 1;
  return state.ackedUpTo;
}

/** The cumulative ack to send now, if one is due. */
export function ackDue(state: LaneInbox): number | undefined {
  const upTo = state.expected - 1;
  if (upTo <= state.ackedUpTo) return undefined;
  state.ackedUpTo = upTo;
  return upTo;
}

/**
 * Receiver-side parking of reliable frames whose target mailbox was full.
 *
 * A reliable frame is acknowledged once the receiving node has taken responsibility for it: delivered
 * to the mailbox, or parked here. Parking lets the reliable sequence advance past a slow actor, so
 * one full mailbox delays that actor's messages, never the whole link (later frames to other actors
 * are delivered and acknowledged at once). Each target keeps its own FIFO queue: while a target has
 * parked messages, newer ones for it are parked behind them, so per-target order survives. Parked
 * messages are retried with exponential backoff (`parkRetryMsMin` doubling to `parkRetryMsMax`), head of each
 * queue only. The lot is bounded per sending node in messages and bytes; a frame that finds it full
 * is `rejected`: the host dead-letters it with MAILBOX_FULL and tells the sender.
 *
 * Invariants: `count` and `bytes` equal the sums over every queue; no queue is empty; both stay within
 * the settings' bounds.
 */

/** Bounds of one parking lot (per sending node). */
export interface ParkingSettings {
  readonly parkedMax: number;
  readonly parkedBytesMax: number;
  readonly parkRetryMsMin: number;
  readonly parkRetryMsMax: number;
}

interface ParkedEntry<Payload> {
  readonly payload: Payload;
  readonly bytes: number;
}

interface ParkedQueue<Payload> {
  readonly entries: Array<ParkedEntry<Payload>>;
  attempts: number;
  dueMs: number;
}

/** Parked reliable frames of one sending node, by target. */
export interface ParkingState<Payload> {
  readonly queues: Map<string, ParkedQueue<Payload>>;
  count: number;
  bytes: number;
  readonly settings: ParkingSettings;
}

/** An empty parking lot. */
export function createParking<Payload>(settings: ParkingSettings): ParkingState<Payload> {
  return { queues: new Map(), count: 0, bytes: 0, settings };
}

/** True while `target` has parked frames: a newer frame for it must be parked behind them. */
export function hasParked<Payload>(state: ParkingState<Payload>, target: string): boolean {
  return state.queues.has(target);
}

/**
 * Parks a frame the target could not take now (or that must wait behind earlier ones). Returns
 * `parked`, or `rejected` when the lot is full in messages or bytes.
 */
export function park<Payload>(state: ParkingState<Payload>, input: { readonly target: string; readonly payload: Payload; readonly bytes: number; readonly nowMs: number }): 'parked' | 'rejected' {
  const settings = state.settings;
  if (state.count >= settings.parkedMax || state.bytes + input.bytes > settings.parkedBytesMax) return 'rejected';
  let queue = state.queues.get(input.target);
  if (queue === undefined) {
    queue = { entries: [], attempts: 0, dueMs: input.nowMs + settings.parkRetryMsMin };
    state.queues.set(input.target, queue);
  }
  queue.entries.push({ payload: input.payload, bytes: input.bytes });
  state.count += 1;
  state.bytes += input.bytes;
  return 'parked';
}

/** The targets whose head frame is due for another delivery attempt at `nowMs`, with that frame. */
export function dueParked<Payload>(state: ParkingState<Payload>, nowMs: number): Array<{ readonly target: string; readonly payload: Payload }> {
  const due: Array<{ target: string; payload: Payload }> = [];
  for (const [target, queue] of state.queues) if (queue.dueMs <= nowMs) due.push({ target, payload: queue.entries[0]!.payload });
  return due;
}

/** The oldest parked frame of `target`, if any. */
export function parkedHead<Payload>(state: ParkingState<Payload>, target: string): Payload | undefined {
  return state.queues.get(target)?.entries[0]?.payload;
}

/** The earliest time a parked frame is due, or undefined when nothing is parked. */
export function nextParkedDueMs<Payload>(state: ParkingState<Payload>): number | undefined {
  let earliest: number | undefined;
  for (const queue of state.queues.values()) if (earliest === undefined || queue.dueMs < earliest) earliest = queue.dueMs;
  return earliest;
}

/** The head frame of `target` was delivered: it leaves the lot, and the next one is due at once. */
export function parkedDelivered<Payload>(state: ParkingState<Payload>, target: string, nowMs: number): void {
  const queue = state.queues.get(target);
  assert(queue !== undefined, 'a delivered parked frame has a queue', { target });
  const entry = queue.entries.shift()!;
  state.count -= 1;
  state.bytes -= entry.bytes;
  queue.attempts = 0;
  queue.dueMs = nowMs;
  if (queue.entries.length === 0) state.queues.delete(target);
  assert(state.count >= 0 && state.bytes >= 0, 'parking totals stay non-negative');
}

/** The head frame of `target` was refused again: its queue backs off. */
export function parkedRefused<Payload>(state: ParkingState<Payload>, target: string, nowMs: number): void {
  const queue = state.queues.get(target);
  assert(queue !== undefined, 'a refused parked frame has a queue', { target });
  queue.attempts += 1;
  queue.dueMs = nowMs + Math.min(state.settings.parkRetryMsMax, state.settings.parkRetryMsMin * 2 ** Math.min(queue.attempts, 20));
}

/** Empties the lot (the sender was removed), returning what was parked, oldest first per target. */
export function drainParked<Payload>(state: ParkingState<Payload>): Payload[] {
  const payloads: Payload[] = [];
  for (const queue of state.queues.values()) for (const entry of queue.entries) payloads.push(entry.payload);
  state.queues.clear();
  state.count = 0;
  state.bytes = 0;
  return payloads;
}
