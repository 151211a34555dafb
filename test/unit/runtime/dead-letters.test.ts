/**
 * Dead letters are bounded in bytes: only summaries are kept (type, size estimate, sender, preview),
 * the ring is bounded in count and bytes, summarising does bounded work however large the message,
 * and a flood of dead letters becomes a few lifecycle events plus one coalesced event with a count.
 */
import { describe, expect, it } from 'vitest';
import { ActorSystem, VirtualClock, limits, type InspectionEvent } from '../../../runtime/index.js';
import { DeadLetterEventGate, recordBytes, summarizeDeadLetter } from '../../../runtime/dead-letters.js';

describe('dead-letter summaries', () => {
  it('keep type, size, sender and a bounded preview of a large message, not the message', () => {
    const body = { type: 'upload', data: new Uint8Array(8 * 1024 * 1024), note: 'x'.repeat(100_000) };
    const record = summarizeDeadLetter(body, '/root/missing', 'noSuchActor', 5, 'n2:/root/sender');
    expect(record).toMatchObject({ messageType: 'upload', from: 'n2:/root/sender', sizeCapped: false, to: '/root/missing' });
    expect(record.bytes).toBeGreaterThan(8 * 1024 * 1024);
    expect(record.preview.length).toBeLessThanOrEqual(limits.deadLetterPreviewChars);
    expect(record.preview.startsWith('{"type":"upload","data":<8388608 bytes>,"note":"xxx')).toBe(true);
    expect(recordBytes(record)).toBeLessThan(2_000);
    expect(JSON.stringify(record).length).toBeLessThan(1_000);
  });

  it('stop estimating after a bounded number of values (sizeCapped)', () => {
    const wide = Array.from({ length: limits.deadLetterSummaryNodesMax * 3 }, (_, index) => index);
    const record = summarizeDeadLetter(wide, '/x', 'noSuchActor', 0);
    expect(record.sizeCapped).toBe(true);
    expect(record.messageType).toBe('object');
  });

  it('are kept within the count bound by the dead-letters actor', async () => {
    const system = new ActorSystem({ node: 'n1' });
    try {
      for (let index = 0; index < limits.deadLettersKept + 50; index += 1) system.tell({ node: 'n1', path: '/nobody' }, { type: 'lost', index, pad: 'p'.repeat(2_000) });
      const letters = await system.ask<{ received: number; recent: Array<{ preview: string }> }>(system.deadLetters().ref, { type: 'deadLetters.list' });
      expect(letters.received).toBe(limits.deadLettersKept + 50);
      expect(letters.recent.length).toBeLessThanOrEqual(limits.deadLettersKept);
      expect(letters.recent.reduce((sum, letter) => sum + 64 + 2 * letter.preview.length, 0)).toBeLessThanOrEqual(limits.deadLetterBytesMax);
    } finally {
      await system.stop();
    }
  });
});

describe('dead-letter lifecycle events', () => {
  it('pass a few per interval and coalesce the rest into one event carrying the count', async () => {
    const clock = new VirtualClock(0);
    const system = new ActorSystem({ node: 'n1', clock });
    const events: InspectionEvent[] = [];
    system.inspect((event) => { if (event.type === 'deadLetter') events.push(event); });
    try {
      for (let index = 0; index < 5_000; index += 1) system.tell({ node: 'n1', path: '/nobody' }, { type: 'lost', index });
      expect(events).toHaveLength(limits.deadLetterEventsPerInterval);
      clock.advance(limits.deadLetterEventIntervalMs);
      expect(events).toHaveLength(limits.deadLetterEventsPerInterval + 1);
      expect(events.at(-1)).toMatchObject({ path: '*', reason: 'coalesced', count: 5_000 - limits.deadLetterEventsPerInterval });
      system.tell({ node: 'n1', path: '/nobody' }, { type: 'lost' });
      expect(events.at(-1)).toMatchObject({ path: '/nobody', reason: 'noSuchActor' });
    } finally {
      await system.stop();
    }
  });

  it('gate: admits per window, reports the suppressed count once', () => {
    const gate = new DeadLetterEventGate(100, 2);
    expect([0, 1, 2, 3].map((nowMs) => gate.admit(nowMs))).toEqual([
      { verdict: 'emit', firstSuppressed: false }, { verdict: 'emit', firstSuppressed: false },
      { verdict: 'suppress', firstSuppressed: true }, { verdict: 'suppress', firstSuppressed: false },
    ]);
    expect(gate.remainingMs(3)).toBe(97);
    expect(gate.closeInterval(100)).toBe(2);
    expect(gate.admit(101).verdict).toBe('emit');
  });
});
