/**
 * The two reliable lanes of a pair, on the pure cores (core/lanes.ts, core/reliable.ts): death-watch
 * traffic is classed onto the notice lane, and each lane is its own go-back-N stream, so over one
 * faulty channel (drops, duplicates, reordering, broken connections and resends) each delivers exactly
 * once and in order while the other is stuck; replayable from its seed.
 */
import { describe, expect, it } from 'vitest';
import { createRng, seedFromEnvironment, type Envelope } from '../../../runtime/index.js';
import type { StreamMessage } from '../../../cluster/core/frames.js';
import { deliveryClass, noticeBytesMax, type Lane } from '../../../cluster/core/lanes.js';
import {
  ackDue, classifyReliable, createDedupeWindow, createInbox, createOutbox, cumulativeAck, outboxSize, outboxStep, reliableDelivered,
  type DedupeWindow, type OutboxEffect, type OutboxState,
} from '../../../cluster/core/reliable.js';

const envelope = (body: unknown): StreamMessage => ({ type: 'envelope', envelope: { id: 'e', to: { node: 'n2', path: '/root/w' }, body } satisfies Envelope });
const terminated = { type: 'terminated', ref: { node: 'n1', path: '/root/x' }, reason: 'stopped' };
const watcher = { node: 'n1', path: '/root/w' };

describe('which stream a message takes', () => {
  it('puts watch, unwatch and terminated notices on the notice lane whatever the caller asked for', () => {
    expect(deliveryClass({ type: 'watch', target: '/root/x', watcher }, true, 100)).toBe('notice');
    expect(deliveryClass({ type: 'unwatch', target: '/root/x', watcher }, false, 100)).toBe('notice');
    expect(deliveryClass(envelope(terminated), false, 200)).toBe('notice');
    expect(deliveryClass(envelope(terminated), true, 200)).toBe('notice');
  });

  it('keeps other messages on the bulk lane or at-most-once, as asked', () => {
    expect(deliveryClass(envelope({ type: 'work' }), true, 100)).toBe('bulk');
    expect(deliveryClass(envelope({ type: 'work' }), false, 100)).toBe('atMostOnce');
    // Not a notice: `ref` is not a ref.
    expect(deliveryClass(envelope({ type: 'terminated', ref: 'x' }), false, 100)).toBe('atMostOnce');
  });

  it('sends a large body that only looks like a notice reliably, but on the bulk lane', () => {
    expect(deliveryClass(envelope({ ...terminated, padding: 'x' }), false, noticeBytesMax + 1)).toBe('bulk');
    expect(deliveryClass({ type: 'watch', target: '/root/x', watcher }, true, noticeBytesMax + 1)).toBe('bulk');
  });
});

interface WireFrame { readonly lane: Lane; readonly rseq: number; readonly id: string }

describe('two lanes over one faulty channel (seeded simulation)', () => {
  const settings = { outboxMax: 200, redeliverMsMin: 50, redeliverMsMax: 400 };

  it('delivers each lane exactly once and in order despite drops, duplicates, reordering and reconnects', () => {
    const seed = seedFromEnvironment();
    const rng = createRng(seed);
    const counts: Record<Lane, number> = { bulk: 2_000, notice: 300 };
    const outboxes: Record<Lane, OutboxState<string>> = { bulk: createOutbox(settings), notice: createOutbox(settings) };
    const windows: Record<Lane, DedupeWindow> = { bulk: createDedupeWindow(128), notice: createDedupeWindow(128) };
    const inbox = createInbox(1);
    const delivered: Record<Lane, string[]> = { bulk: [], notice: [] };
    const sent: Record<Lane, number> = { bulk: 0, notice: 0 };
    let inFlight: WireFrame[] = [];
    let acksInFlight: Array<{ lane: Lane; upTo: number }> = [];
    let nowMs = 0;
    const transmit = (lane: Lane, effects: ReadonlyArray<OutboxEffect<string>>): void => {
      for (const effect of effects) if (effect.type === 'transmit') inFlight.push({ lane, rseq: effect.rseq, id: effect.payload });
    };
    for (const lane of ['notice', 'bulk'] as const) transmit(lane, outboxStep(outboxes[lane], { type: 'connected', nowMs }));
    for (let step = 0; step < 400_000 && (delivered.bulk.length < counts.bulk || delivered.notice.length < counts.notice); step += 1) {
      nowMs += 5;
      for (const lane of ['notice', 'bulk'] as const) {
        if (sent[lane] < counts[lane] && rng.next() < 0.5 && outboxSize(outboxes[lane]) < settings.outboxMax) {
          sent[lane] += 1;
          transmit(lane, outboxStep(outboxes[lane], { type: 'send', payload: `${lane}-${sent[lane]}`, nowMs }));
        }
      }
      if (rng.next() < 0.005) {
        // The connection breaks: everything in flight is lost; both lanes resend on the new one.
        inFlight = [];
        acksInFlight = [];
        for (const lane of ['notice', 'bulk'] as const) {
          outboxStep(outboxes[lane], { type: 'disconnected' });
          transmit(lane, outboxStep(outboxes[lane], { type: 'connected', nowMs }));
        }
      }
      // Reordering: a frame in flight swaps places with a later one.
      if (inFlight.length > 2 && rng.next() < 0.05) {
        const at = rng.int(0, inFlight.length - 2);
        [inFlight[at], inFlight[at + 1]] = [inFlight[at + 1]!, inFlight[at]!];
      }
      const frame = inFlight.shift();
      if (frame !== undefined && rng.next() > 0.1) {
        if (rng.next() < 0.05) inFlight.unshift(frame); // duplicated
        const position = inbox.lanes[frame.lane];
        const verdict = classifyReliable(position, windows[frame.lane], frame.rseq, frame.id);
        if (verdict === 'deliver') delivered[frame.lane].push(frame.id);
        if (verdict === 'deliver' || verdict === 'duplicate') reliableDelivered(position, windows[frame.lane], frame.rseq, frame.id);
        const upTo = verdict === 'stale' ? cumulativeAck(position) : ackDue(position);
        if (upTo !== undefined) acksInFlight.push({ lane: frame.lane, upTo });
      }
      const ack = acksInFlight.shift();
      if (ack !== undefined && rng.next() > 0.1) outboxStep(outboxes[ack.lane], { type: 'ack', upTo: ack.upTo });
      for (const lane of ['notice', 'bulk'] as const) transmit(lane, outboxStep(outboxes[lane], { type: 'tick', nowMs }));
    }
    for (const lane of ['notice', 'bulk'] as const) {
      expect(delivered[lane], `seed ${seed}, ${lane} lane`).toEqual(Array.from({ length: counts[lane] }, (_, index) => `${lane}-${index + 1}`));
    }
  });

  it('keeps taking notices while the bulk lane is stuck at a gap and its outbox is full', () => {
    const outboxes: Record<Lane, OutboxState<string>> = { bulk: createOutbox({ ...settings, outboxMax: 3 }), notice: createOutbox(settings) };
    const inbox = createInbox(1);
    const window = createDedupeWindow(16);
    const noticeWindow = createDedupeWindow(16);
    for (const lane of ['notice', 'bulk'] as const) outboxStep(outboxes[lane], { type: 'connected', nowMs: 0 });
    const bulk = [1, 2, 3].map((index) => outboxStep(outboxes.bulk, { type: 'send', payload: `b${index}`, nowMs: 0 }));
    expect(outboxStep(outboxes.bulk, { type: 'send', payload: 'b4', nowMs: 0 })).toEqual([{ type: 'refused', payload: 'b4', code: 'OUTBOX_FULL' }]);
    // Bulk frame 1 is lost: the bulk lane drops 2 and 3 as a gap, and stays at 1.
    expect(bulk.map((effects) => effects[0]!.type === 'transmit' && classifyReliable(inbox.lanes.bulk, window, effects[0]!.rseq, effects[0]!.payload)))
      .toEqual(['deliver', 'gap', 'gap']);
    // Notices have their own numbering from 1, and every one is taken.
    for (let index = 1; index <= 5; index += 1) {
      const [effect] = outboxStep(outboxes.notice, { type: 'send', payload: `t${index}`, nowMs: 0 });
      expect(effect).toMatchObject({ type: 'transmit', rseq: index });
      expect(classifyReliable(inbox.lanes.notice, noticeWindow, index, `t${index}`)).toBe('deliver');
      reliableDelivered(inbox.lanes.notice, noticeWindow, index, `t${index}`);
    }
    expect(ackDue(inbox.lanes.notice)).toBe(5);
    expect(ackDue(inbox.lanes.bulk)).toBeUndefined();
    // Acks are per lane: the notice ack frees the notice outbox and leaves bulk as it was.
    outboxStep(outboxes.notice, { type: 'ack', upTo: 5 });
    expect([outboxSize(outboxes.notice), outboxSize(outboxes.bulk)]).toEqual([0, 3]);
  });

  it('skips a notice redelivered under a new number (same id) as a duplicate, per lane', () => {
    const inbox = createInbox(1);
    const notices = createDedupeWindow(16);
    const bulk = createDedupeWindow(16);
    expect(classifyReliable(inbox.lanes.notice, notices, 1, 'n1.t.9')).toBe('deliver');
    reliableDelivered(inbox.lanes.notice, notices, 1, 'n1.t.9');
    expect(classifyReliable(inbox.lanes.notice, notices, 2, 'n1.t.9')).toBe('duplicate');
    expect(classifyReliable(inbox.lanes.notice, notices, 1, 'n1.t.9')).toBe('stale');
    // The bulk lane has its own window and position: the same id there is new to it.
    expect(classifyReliable(inbox.lanes.bulk, bulk, 1, 'n1.t.9')).toBe('deliver');
  });
});
