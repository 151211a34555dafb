/**
 * The demo child set a `troupe start` node runs: small actors that make the cluster observable and
 * testable from outside (echo, counter, a crash-on-demand worker, a sink that checks order and
 * duplicates per stream, a producer that streams to a remote sink at-most-once or at-least-once, and a
 * watcher of remote actors). Each but echo (which answers anything by design) refuses a message it does
 * not know with `refuseUnknown` and keeps its state. They run under their own supervisor, `/root/demo`,
 * so that a client crashing them on purpose reaches that supervisor and not the root that holds
 * storage and the KV.
 */
import { behaviour, limits, refuseUnknown, type Ref, type Terminated } from '../runtime/index.js';
import { supervisor, type ChildSpec } from '../supervisors/index.js';
import type { SendResult } from './router.js';

/** Messages of the echo actor: every ask is answered with what it carried. */
export const echoBehaviour = behaviour<null, unknown>({
  name: 'echo',
  init: () => null,
  receive(state, message, ctx) {
    ctx.reply({ type: 'echo', body: message });
    return state;
  },
});

/** Messages of the counter. */
export type CounterMessage = { readonly type: 'inc'; readonly by?: number } | { readonly type: 'get' };

/** Counts `inc` messages; `get` answers the count (lost on restart: it is a demo). */
export const counterBehaviour = behaviour<{ count: number }, CounterMessage>({
  name: 'counter',
  init: () => ({ count: 0 }),
  receive(state, message, ctx) {
    if (message?.type === 'inc') state.count += typeof message.by === 'number' ? message.by : 1;
    else if (message?.type === 'get') ctx.reply(state.count);
    else refuseUnknown(ctx, message, 'counter');
    return state;
  },
});

/** Messages of the flaky worker. */
export type FlakyMessage = { readonly type: 'crash'; readonly reason?: string } | { readonly type: 'ping' };

/** Crashes on `crash` (so its supervisor restarts it); answers `ping` with `pong`. */
export const flakyBehaviour = behaviour<{ pings: number }, FlakyMessage>({
  name: 'flaky',
  init: () => ({ pings: 0 }),
  receive(state, message, ctx) {
    if (message?.type === 'crash') throw new Error(typeof message.reason === 'string' ? message.reason : 'crash requested');
    if (message?.type === 'ping') {
      state.pings += 1;
      ctx.reply('pong');
    } else {
      refuseUnknown(ctx, message, 'flaky');
    }
    return state;
  },
  describe: (state) => ({ pings: state.pings }),
});

/** Bounds of the demo actors' tables, each keyed by names that clients choose. */
export const demoLimits = {
  /** Streams a sink or producer tracks; items of further streams are counted and ignored. */
  streamsMax: 1_000,
  /** Distinct seqs a sink remembers per stream for duplicate detection; past it only `lastSeq` is checked. */
  seenPerStreamMax: 100_000,
  /** Mailbox of the slow sink: small, so a burst fills it (MAILBOX_FULL). */
  slowSinkMailboxCapacity: 64,
  /** Time the slow sink spends on each item. */
  slowSinkItemMs: 5,
} as const;

/** What the sink knows about one stream. */
export interface StreamReport {
  readonly received: number;
  readonly distinct: number;
  readonly duplicates: number;
  readonly outOfOrder: number;
  readonly lastSeq: number;
}

/** Messages of the sink. */
export type SinkMessage =
  | { readonly type: 'item'; readonly stream: string; readonly seq: number }
  | { readonly type: 'n' }
  | { readonly type: 'count' }
  | { readonly type: 'report'; readonly stream: string };

interface SinkState {
  total: number;
  refusedStreams: number;
  readonly streams: Map<string, { received: number; duplicates: number; outOfOrder: number; lastSeq: number; seen: Set<number> }>;
}

/** Counts one item of a stream in the sink's bounded tables. */
function recordItem(state: SinkState, message: Extract<SinkMessage, { type: 'item' }>): void {
  state.total += 1;
  let stream = state.streams.get(message.stream);
  if (stream === undefined) {
    if (state.streams.size >= demoLimits.streamsMax) {
      state.refusedStreams += 1;
      return;
    }
    state.streams.set(message.stream, (stream = { received: 0, duplicates: 0, outOfOrder: 0, lastSeq: 0, seen: new Set() }));
  }
  stream.received += 1;
  if (stream.seen.has(message.seq)) stream.duplicates += 1;
  else if (stream.seen.size < demoLimits.seenPerStreamMax) stream.seen.add(message.seq);
  if (message.seq < stream.lastSeq) stream.outOfOrder += 1;
  stream.lastSeq = Math.max(stream.lastSeq, message.seq);
}

/** The sink's answers to `count` and `report`. */
function answerSink(state: SinkState, message: SinkMessage, ctx: { reply(value: unknown): boolean }): void {
  if (message.type === 'count') ctx.reply(state.total);
  else if (message.type === 'report') {
    const stream = state.streams.get(message.stream);
    const report: StreamReport = stream === undefined
      ? { received: 0, distinct: 0, duplicates: 0, outOfOrder: 0, lastSeq: 0 }
      : { received: stream.received, distinct: stream.seen.size, duplicates: stream.duplicates, outOfOrder: stream.outOfOrder, lastSeq: stream.lastSeq };
    ctx.reply(report);
  }
}

/** Records items per stream: how many, how many duplicates, how many arrived below the last seq. */
export const sinkBehaviour = behaviour<SinkState, SinkMessage>({
  name: 'sink',
  mailbox: { capacity: 1_000_000, overflow: 'reject' },
  init: () => ({ total: 0, refusedStreams: 0, streams: new Map() }),
  receive(state, message, ctx) {
    switch (message?.type) {
      case 'n':
        state.total += 1;
        break;
      case 'item':
        recordItem(state, message);
        break;
      case 'count':
      case 'report':
        answerSink(state, message, ctx);
        break;
      default:
        refuseUnknown(ctx, message, 'sink');
    }
    return state;
  },
});

/**
 * A sink that takes `demoLimits.slowSinkItemMs` per item behind a small mailbox: a burst of tells
 * fills it, which is how tests exercise MAILBOX_FULL on the at-least-once path. It answers `count`
 * and `report` like the sink.
 */
export const slowSinkBehaviour = behaviour<SinkState, SinkMessage>({
  name: 'slowSink',
  mailbox: { capacity: demoLimits.slowSinkMailboxCapacity, overflow: 'reject' },
  init: () => ({ total: 0, refusedStreams: 0, streams: new Map() }),
  async receive(state, message, ctx) {
    if (message?.type === 'item') {
      // Being slow is the point of this actor; the delay holds its mailbox, not the node.
      await new Promise((resolve) => setTimeout(resolve, demoLimits.slowSinkItemMs));
      recordItem(state, message);
    } else if (message?.type === 'n') state.total += 1;
    else if (message?.type === 'count' || message?.type === 'report') answerSink(state, message, ctx);
    else refuseUnknown(ctx, message, 'slowSink');
    return state;
  },
});

/** Messages of the producer. */
export type ProducerMessage =
  | { readonly type: 'produce'; readonly target: Ref; readonly stream: string; readonly count: number; readonly reliable: boolean; readonly perTick?: number; readonly intervalMs?: number }
  | { readonly type: 'tick'; readonly stream: string }
  | { readonly type: 'status'; readonly stream: string };

interface ProducerStream {
  readonly target: Ref;
  readonly count: number;
  readonly reliable: boolean;
  readonly perTick: number;
  readonly intervalMs: number;
  sent: number;
  refused: number;
}

/** Streams numbered items to a target over time, at-most-once (`tell`) or at-least-once. */
export function producerBehaviour(sendReliable: (target: Ref, body: unknown) => SendResult) {
  return behaviour<Map<string, ProducerStream>, ProducerMessage>({
    name: 'producer',
    init: () => new Map(),
    receive(state, message, ctx) {
      if (message?.type === 'produce') {
        if (!state.has(message.stream) && state.size >= demoLimits.streamsMax) {
          ctx.reply({ ok: false, code: 'TOO_MANY_STREAMS' });
          return state;
        }
        state.set(message.stream, {
          target: message.target, count: message.count, reliable: message.reliable, perTick: message.perTick ?? 50, intervalMs: message.intervalMs ?? 5, sent: 0, refused: 0,
        });
        ctx.tell(ctx.self, { type: 'tick', stream: message.stream });
        ctx.reply({ ok: true });
      } else if (message?.type === 'tick') {
        const stream = state.get(message.stream);
        if (stream === undefined) return state;
        const end = Math.min(stream.count, stream.sent + stream.perTick);
        for (let seq = stream.sent + 1; seq <= end; seq += 1) {
          const item = { type: 'item', stream: message.stream, seq };
          if (!stream.reliable) ctx.tell(stream.target, item);
          else if (!sendReliable(stream.target, item).ok) stream.refused += 1;
        }
        stream.sent = end;
        if (stream.sent < stream.count) ctx.timers.startSingle(`tick:${message.stream}`, { type: 'tick', stream: message.stream }, stream.intervalMs);
      } else if (message?.type === 'status') {
        const stream = state.get(message.stream);
        ctx.reply({ sent: stream?.sent ?? 0, refused: stream?.refused ?? 0, done: stream !== undefined && stream.sent >= stream.count });
      } else {
        refuseUnknown(ctx, message, 'producer');
      }
      return state;
    },
  });
}

/** Messages of the watcher. */
export type WatcherMessage = { readonly type: 'watch'; readonly target: Ref } | { readonly type: 'report' };

/** Watches targets (on any node) and remembers every `terminated` it hears. */
export const watcherBehaviour = behaviour<{ terminated: Terminated[] }, WatcherMessage>({
  name: 'watcher',
  init: () => ({ terminated: [] }),
  receive(state, message, ctx) {
    if (message?.type === 'terminated') {
      state.terminated.push(message);
      if (state.terminated.length > 1_000) state.terminated.shift();
    } else if (message?.type === 'watch') {
      ctx.watch(message.target);
      ctx.reply({ ok: true });
    } else if (message?.type === 'report') {
      ctx.reply(state.terminated);
    } else {
      refuseUnknown(ctx, message, 'watcher');
    }
    return state;
  },
});

/** Restart intensity of the demo supervisor (the defaults: a flaky crash storm escalates to it). */
export const demoSupervision = { maxRestarts: limits.maxRestarts, periodMs: limits.maxRestartsPeriodMs } as const;

/**
 * The demo children, in start order, under one supervisor at `/root/demo` (`/root/demo/<id>`).
 *
 * A crash storm in a demo actor (more than `demoSupervision.maxRestarts` crashes within its period)
 * makes the demo supervisor escalate: it stops the demo actors and crashes into the root, which
 * restarts it (it is a `permanent` child) with the root's backoff; the root counts that as one restart
 * of its own, so one storm costs the root one restart instead of four, and storage and the KV replica
 * beside it are never touched. The demo supervisor's restarts window is its own: a fresh incarnation
 * starts with an empty window. `supervision` overrides the demo supervisor's intensity (tests that
 * crash the demo actors on purpose many times).
 */
export function demoChildren(
  node: { sendReliable(target: Ref, body: unknown): SendResult },
  supervision: { readonly maxRestarts: number; readonly periodMs: number } = demoSupervision,
): ChildSpec[] {
  const worker = (id: string, start: ChildSpec['start']): ChildSpec => ({ id, start, restart: 'permanent', shutdownMs: 1_000, kind: 'worker' });
  const demo = supervisor({
    name: 'demo', strategy: 'one_for_one', maxRestarts: supervision.maxRestarts, periodMs: supervision.periodMs,
    children: [
      worker('echo', echoBehaviour),
      worker('counter', counterBehaviour),
      worker('flaky', flakyBehaviour),
      worker('sink', sinkBehaviour),
      worker('slow', slowSinkBehaviour),
      worker('producer', producerBehaviour((target, body) => node.sendReliable(target, body))),
      worker('watcher', watcherBehaviour),
    ],
  });
  return [{ id: 'demo', start: demo, restart: 'permanent', shutdownMs: 10_000, kind: 'supervisor' }];
}
