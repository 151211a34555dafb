/**
 * Receiver-side parking of reliable frames (core/reliable.ts): a full mailbox delays that target's
 * frames, never the stream. Scripted sequences drive the inbox, the dedupe window and the parking lot
 * exactly as the peer does, with mailboxes that fill and drain.
 */
import { describe, expect, it } from 'vitest';
import {
  ackDue, classifyReliable, createDedupeWindow, createInbox, createParking, dueParked, hasParked, nextParkedDueMs, park, parkedDelivered,
  parkedHead, parkedRefused, reliableDelivered, drainParked, type ParkingState,
} from '../../../cluster/core/reliable.js';

const settings = { parkedMax: 4, parkedBytesMax: 1_000, parkRetryMsMin: 10, parkRetryMsMax: 80 };

interface Frame { readonly rseq: number; readonly target: string; readonly id: string }

/** A receiver as the peer runs it: mailboxes with a capacity, delivered messages per target. */
function receiver(capacity: Record<string, number>) {
  const inbox = createInbox(1).lanes.bulk;
  const window = createDedupeWindow(100);
  const parking: ParkingState<Frame> = createParking(settings);
  const delivered: Record<string, string[]> = {};
  const rejected: string[] = [];
  const deliver = (frame: Frame): boolean => {
    const list = (delivered[frame.target] ??= []);
    if (list.length >= (capacity[frame.target] ?? Infinity)) return false;
    list.push(frame.id);
    return true;
  };
  const receive = (frame: Frame, nowMs: number): string => {
    const verdict = classifyReliable(inbox, window, frame.rseq, frame.id);
    if (verdict !== 'deliver') return verdict;
    if (hasParked(parking, frame.target) || !deliver(frame)) {
      if (park(parking, { target: frame.target, payload: frame, bytes: 100, nowMs }) === 'rejected') rejected.push(frame.id);
    }
    reliableDelivered(inbox, window, frame.rseq, frame.id);
    return verdict;
  };
  const retry = (nowMs: number): void => {
    for (const due of dueParked(parking, nowMs)) {
      let next: Frame | undefined = due.payload;
      while (next !== undefined) {
        if (!deliver(next)) {
          parkedRefused(parking, due.target, nowMs);
          break;
        }
        parkedDelivered(parking, due.target, nowMs);
        next = parkedHead(parking, due.target);
      }
    }
  };
  return { inbox, parking, delivered, rejected, receive, retry, capacity };
}

describe('parking reliable frames for a full mailbox', () => {
  it('advances and acknowledges the stream past a full mailbox, so later frames to another actor are delivered at once', () => {
    const node = receiver({ slow: 1 });
    const frames: Frame[] = [
      { rseq: 1, target: 'slow', id: 's1' }, { rseq: 2, target: 'slow', id: 's2' }, { rseq: 3, target: 'fast', id: 'f1' },
      { rseq: 4, target: 'slow', id: 's3' }, { rseq: 5, target: 'fast', id: 'f2' },
    ];
    expect(frames.map((frame) => node.receive(frame, 0))).toEqual(['deliver', 'deliver', 'deliver', 'deliver', 'deliver']);
    expect(ackDue(node.inbox)).toBe(5);
    expect(node.delivered).toEqual({ slow: ['s1'], fast: ['f1', 'f2'] });
    expect(node.parking.count).toBe(2);
  });

  it('keeps per-target order: a newer frame waits behind parked ones even when the mailbox has room again', () => {
    const node = receiver({ slow: 1 });
    node.receive({ rseq: 1, target: 'slow', id: 's1' }, 0);
    node.receive({ rseq: 2, target: 'slow', id: 's2' }, 0);
    node.capacity.slow = 10;
    node.receive({ rseq: 3, target: 'slow', id: 's3' }, 1);
    expect(node.delivered.slow).toEqual(['s1']);
    node.retry(settings.parkRetryMsMin);
    expect(node.delivered.slow).toEqual(['s1', 's2', 's3']);
    expect(node.parking.count).toBe(0);
    expect(node.parking.bytes).toBe(0);
    expect(nextParkedDueMs(node.parking)).toBeUndefined();
  });

  it('backs off a target that keeps refusing, doubling up to the ceiling, and delivers once it drains', () => {
    const node = receiver({ slow: 0 });
    node.receive({ rseq: 1, target: 'slow', id: 's1' }, 0);
    const dues: number[] = [];
    let nowMs = 0;
    for (let attempt = 0; attempt < 6; attempt += 1) {
      nowMs = nextParkedDueMs(node.parking)!;
      dues.push(nowMs);
      node.retry(nowMs);
    }
    expect(dues.map((due, index) => (index === 0 ? due : due - dues[index - 1]!))).toEqual([10, 20, 40, 80, 80, 80]);
    node.capacity.slow = 1;
    node.retry(nextParkedDueMs(node.parking)!);
    expect(node.delivered.slow).toEqual(['s1']);
    expect(hasParked(node.parking, 'slow')).toBe(false);
  });

  it('rejects a frame when the lot is full in messages or in bytes, and the stream still advances', () => {
    const node = receiver({ slow: 0 });
    for (let rseq = 1; rseq <= 6; rseq += 1) node.receive({ rseq, target: 'slow', id: `s${rseq}` }, 0);
    expect(node.parking.count).toBe(settings.parkedMax);
    expect(node.rejected).toEqual(['s5', 's6']);
    expect(ackDue(node.inbox)).toBe(6);
    const bytes = createParking<string>(settings);
    expect(park(bytes, { target: 'a', payload: 'big', bytes: 900, nowMs: 0 })).toBe('parked');
    expect(park(bytes, { target: 'b', payload: 'more', bytes: 101, nowMs: 0 })).toBe('rejected');
    expect(drainParked(bytes)).toEqual(['big']);
    expect(bytes.count + bytes.bytes).toBe(0);
  });

  it('treats a redelivered copy of a parked frame as stale (it was taken once)', () => {
    const node = receiver({ slow: 0 });
    node.receive({ rseq: 1, target: 'slow', id: 's1' }, 0);
    expect(node.receive({ rseq: 1, target: 'slow', id: 's1' }, 5)).toBe('stale');
    expect(node.parking.count).toBe(1);
  });
});
