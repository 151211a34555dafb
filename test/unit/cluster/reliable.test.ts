/**
 * Delivery guarantees of a pair, on the pure core: at-most-once frames are never reordered; the
 * at-least-once stream (go-back-N with cumulative acks, a bounded outbox and an id dedupe window)
 * delivers every message exactly once and in order over a channel that drops, duplicates and breaks,
 * replayable from its seed.
 */
import { describe, expect, it } from 'vitest';
import { createRng, seedFromEnvironment } from '../../../runtime/index.js';
import {
  ackDue, classifyReliable, createDedupeWindow, createInbox, createOutbox, cumulativeAck, outboxSize, outboxStep, redeliveryDelayMs,
  reliableDelivered, rememberId, takeInOrder, unacknowledged, type OutboxEffect,
} from '../../../cluster/core/reliable.js';

const settings = { outboxMax: 1_000, redeliverMsMin: 100, redeliverMsMax: 800 };

describe('at-most-once ordering', () => {
  it('takes increasing seqs and drops anything at or below the last one taken', () => {
    const inbox = createInbox(1);
    expect([1, 2, 4, 3, 4, 5, 2, 9].map((seq) => takeInOrder(inbox, seq))).toEqual([true, true, true, false, false, true, false, true]);
  });
});

describe('the outbox', () => {
  it('transmits when connected, holds while disconnected and resends everything unacknowledged on reconnect', () => {
    const outbox = createOutbox<string>(settings);
    expect(outboxStep(outbox, { type: 'send', payload: 'a', nowMs: 0 })).toEqual([]);
    const connected = outboxStep(outbox, { type: 'connected', nowMs: 1 });
    expect(connected).toEqual([{ type: 'transmit', rseq: 1, payload: 'a', redelivery: false }]);
    expect(outboxStep(outbox, { type: 'send', payload: 'b', nowMs: 2 })).toEqual([{ type: 'transmit', rseq: 2, payload: 'b', redelivery: false }]);
    outboxStep(outbox, { type: 'disconnected' });
    expect(outboxStep(outbox, { type: 'connected', nowMs: 3 }).map((effect) => effect.type === 'transmit' && [effect.rseq, effect.redelivery])).toEqual([[1, true], [2, true]]);
    outboxStep(outbox, { type: 'ack', upTo: 1 });
    expect(unacknowledged(outbox)).toEqual(['b']);
  });

  it('redelivers after a timeout with exponential backoff up to the ceiling', () => {
    const outbox = createOutbox<string>(settings);
    outboxStep(outbox, { type: 'connected', nowMs: 0 });
    outboxStep(outbox, { type: 'send', payload: 'a', nowMs: 0 });
    expect(outboxStep(outbox, { type: 'tick', nowMs: 99 })).toEqual([]);
    expect(outboxStep(outbox, { type: 'tick', nowMs: 100 })).toHaveLength(1);
    expect(outboxStep(outbox, { type: 'tick', nowMs: 299 })).toEqual([]);
    expect(outboxStep(outbox, { type: 'tick', nowMs: 300 })).toHaveLength(1);
    expect([1, 2, 3, 4, 5, 10].map((attempts) => redeliveryDelayMs(settings, attempts))).toEqual([100, 200, 400, 800, 800, 800]);
  });

  it('refuses new messages when full (OUTBOX_FULL) and never acks beyond what was sent', () => {
    const outbox = createOutbox<number>({ ...settings, outboxMax: 2 });
    outboxStep(outbox, { type: 'send', payload: 1, nowMs: 0 });
    outboxStep(outbox, { type: 'send', payload: 2, nowMs: 0 });
    expect(outboxStep(outbox, { type: 'send', payload: 3, nowMs: 0 })).toEqual([{ type: 'refused', payload: 3, code: 'OUTBOX_FULL' }]);
    outboxStep(outbox, { type: 'ack', upTo: 1_000 });
    expect(outbox.ackedUpTo).toBe(2);
    expect(outboxSize(outbox)).toBe(0);
  });
});

describe('the inbox', () => {
  it('takes only the next expected number, re-acks stale copies and skips ids it has delivered', () => {
    const inbox = createInbox(7).lanes.bulk;
    const window = createDedupeWindow(10);
    expect(classifyReliable(inbox, window, 2, 'b')).toBe('gap');
    expect(classifyReliable(inbox, window, 1, 'a')).toBe('deliver');
    reliableDelivered(inbox, window, 1, 'a');
    expect(classifyReliable(inbox, window, 1, 'a')).toBe('stale');
    expect(ackDue(inbox)).toBe(1);
    expect(ackDue(inbox)).toBeUndefined();
    expect(cumulativeAck(inbox)).toBe(1);
    // The application re-sent 'a' under a new number: same id, one effect.
    expect(classifyReliable(inbox, window, 2, 'a')).toBe('duplicate');
  });

  it('forgets the oldest ids once the window is full', () => {
    const window = createDedupeWindow(3);
    for (const id of ['a', 'b', 'c', 'd']) rememberId(window, id);
    expect([...window.ids].sort()).toEqual(['b', 'c', 'd']);
  });
});

describe('at-least-once over a faulty channel (seeded simulation)', () => {
  it('delivers every message exactly once, in order, despite drops, duplicates and broken connections', () => {
    const seed = seedFromEnvironment();
    const rng = createRng(seed);
    const count = 500;
    const outbox = createOutbox<number>(settings);
    const inbox = createInbox(1).lanes.bulk;
    const window = createDedupeWindow(64);
    const delivered: number[] = [];
    let nowMs = 0;
    let inFlight: Array<{ rseq: number; payload: number }> = [];
    let acksInFlight: number[] = [];
    const transmit = (effects: ReadonlyArray<OutboxEffect<number>>): void => {
      for (const effect of effects) if (effect.type === 'transmit') inFlight.push({ rseq: effect.rseq, payload: effect.payload });
    };
    transmit(outboxStep(outbox, { type: 'connected', nowMs }));
    let sent = 0;
    for (let step = 0; step < 200_000 && delivered.length < count; step += 1) {
      nowMs += 5;
      if (sent < count && rng.next() < 0.5) transmit(outboxStep(outbox, { type: 'send', payload: ++sent, nowMs }));
      if (rng.next() < 0.01) {
        // The connection breaks: everything in flight is lost; the sender reconnects.
        inFlight = [];
        acksInFlight = [];
        outboxStep(outbox, { type: 'disconnected' });
        transmit(outboxStep(outbox, { type: 'connected', nowMs }));
      }
      const frame = inFlight.shift();
      if (frame !== undefined && rng.next() > 0.1) {
        if (rng.next() < 0.05) inFlight.unshift(frame);
        const verdict = classifyReliable(inbox, window, frame.rseq, `id-${frame.payload}`);
        if (verdict === 'deliver') delivered.push(frame.payload);
        if (verdict === 'deliver' || verdict === 'duplicate') reliableDelivered(inbox, window, frame.rseq, `id-${frame.payload}`);
        const ack = verdict === 'stale' ? cumulativeAck(inbox) : ackDue(inbox);
        if (ack !== undefined) acksInFlight.push(ack);
      }
      const ack = acksInFlight.shift();
      if (ack !== undefined && rng.next() > 0.1) outboxStep(outbox, { type: 'ack', upTo: ack });
      transmit(outboxStep(outbox, { type: 'tick', nowMs }));
    }
    expect(delivered, `seed ${seed}`).toEqual(Array.from({ length: count }, (_, index) => index + 1));
  });
});
