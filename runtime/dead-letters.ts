/**
 * The dead-letters actor: every message that could not be delivered ends here with a reason. It keeps
 * summaries of the most recent ones for inspection (a ring bounded in count and in bytes) and answers
 * `deadLetters.list`. A summary holds the message's type, an estimate of its size, its sender and a
 * short preview, never the body itself: a flood of large undeliverable messages must not pin their
 * bodies in memory.
 *
 * Dead letters can arrive at message rates, so their lifecycle events are coalesced
 * (`DeadLetterEventGate`): a few per interval pass, the rest are counted and reported as one event
 * carrying the count when the interval ends.
 */
import { behaviour, refuseUnknown } from './behaviour.js';
import { limits } from './limits.js';

/** One undeliverable message, summarised. */
export interface DeadLetterRecord {
  readonly type: 'deadLetter';
  readonly to: string;
  readonly reason: string;
  readonly at: number;
  /** The message's `type` field when it has a string one, else its JavaScript type. */
  readonly messageType: string;
  /** Estimated encoded size of the message (an upper bound; `sizeCapped` when the walk stopped early). */
  readonly bytes: number;
  readonly sizeCapped: boolean;
  /** Who sent it, when known (`node:path`). */
  readonly from?: string;
  /** The start of the message rendered as text, at most `limits.deadLetterPreviewChars` characters. */
  readonly preview: string;
}

/** Messages the dead-letters actor answers. */
export type DeadLettersMessage = DeadLetterRecord | { readonly type: 'deadLetters.list' };

interface DeadLettersState {
  readonly recent: DeadLetterRecord[];
  recentBytes: number;
  received: number;
}

/** Bytes a summary is charged in the ring: its strings plus fixed overhead. */
export function recordBytes(record: DeadLetterRecord): number {
  return 64 + 2 * (record.to.length + record.reason.length + record.messageType.length + record.preview.length + (record.from?.length ?? 0));
}

/** Summarises an undeliverable message, doing work bounded by `limits.deadLetterSummaryNodesMax`. */
export function summarizeDeadLetter(message: unknown, to: string, reason: string, at: number, from?: string): DeadLetterRecord {
  const walk = { nodes: 0, capped: false };
  const bytes = estimateBytes(message, walk, 0);
  const type = typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string'
    ? ((message as { type: string }).type).slice(0, limits.nameLengthMax) : message === null ? 'null' : message instanceof Uint8Array ? 'bytes' : typeof message;
  return {
    type: 'deadLetter', to: to.slice(0, 2 * limits.nameLengthMax), reason: reason.slice(0, 200), at, messageType: type, bytes, sizeCapped: walk.capped,
    ...(from !== undefined ? { from: from.slice(0, 2 * limits.nameLengthMax) } : {}), preview: preview(message, limits.deadLetterPreviewChars),
  };
}

function estimateBytes(value: unknown, walk: { nodes: number; capped: boolean }, depth: number): number {
  walk.nodes += 1;
  if (walk.nodes > limits.deadLetterSummaryNodesMax || depth > limits.messageDepthMax) {
    walk.capped = true;
    return 0;
  }
  if (typeof value === 'string') return 9 + value.length * 3;
  if (typeof value === 'bigint') return 16 + Math.ceil(value.toString(16).length / 2);
  if (typeof value !== 'object' || value === null) return 9;
  if (value instanceof Uint8Array) return 9 + value.byteLength;
  let total = 9;
  if (Array.isArray(value)) {
    for (const item of value) {
      total += estimateBytes(item, walk, depth + 1);
      if (walk.capped) break;
    }
    return total;
  }
  for (const key of Object.keys(value)) {
    total += 9 + key.length * 3 + estimateBytes((value as Record<string, unknown>)[key], walk, depth + 1);
    if (walk.capped) break;
  }
  return total;
}

/** The first `charsMax` characters of a JSON-like rendering, built without rendering the rest. */
function preview(value: unknown, charsMax: number): string {
  const out: string[] = [];
  let length = 0;
  const push = (text: string): boolean => {
    out.push(text.slice(0, charsMax - length));
    length += text.length;
    return length < charsMax;
  };
  const render = (item: unknown, depth: number): boolean => {
    if (typeof item === 'string') return push(JSON.stringify(item.length > charsMax ? item.slice(0, charsMax) : item));
    if (typeof item === 'bigint') return push(`${item}n`);
    if (typeof item !== 'object' || item === null) return push(String(item));
    if (item instanceof Uint8Array) return push(`<${item.byteLength} bytes>`);
    if (depth >= 8) return push('…');
    const entries: Array<[string | undefined, unknown]> = Array.isArray(item) ? item.map((entry) => [undefined, entry]) : Object.keys(item).map((key) => [key, (item as Record<string, unknown>)[key]]);
    if (!push(Array.isArray(item) ? '[' : '{')) return false;
    for (let index = 0; index < entries.length; index += 1) {
      const [key, entry] = entries[index]!;
      if (index > 0 && !push(',')) return false;
      if (key !== undefined && !push(`${JSON.stringify(key)}:`)) return false;
      if (!render(entry, depth + 1)) return false;
    }
    return push(Array.isArray(item) ? ']' : '}');
  };
  render(value, 0);
  return out.join('');
}

/** Keeps the last `limits.deadLettersKept` summaries within `limits.deadLetterBytesMax`; older ones are forgotten. */
export const deadLettersBehaviour = behaviour<DeadLettersState, DeadLettersMessage>({
  name: 'deadLetters',
  mailbox: { capacity: limits.deadLetterMailboxCapacity, overflow: 'reject' },
  init: () => ({ recent: [], recentBytes: 0, received: 0 }),
  receive(state, message, ctx) {
    if (message?.type === 'deadLetter') {
      state.received += 1;
      state.recent.push(message);
      state.recentBytes += recordBytes(message);
      while (state.recent.length > limits.deadLettersKept || (state.recentBytes > limits.deadLetterBytesMax && state.recent.length > 1)) {
        state.recentBytes -= recordBytes(state.recent.shift()!);
      }
    } else if (message?.type === 'deadLetters.list') {
      ctx.reply({ received: state.received, recent: [...state.recent] });
    } else {
      refuseUnknown(ctx, message, 'deadLetters');
    }
    return state;
  },
});

/**
 * Coalesces dead-letter lifecycle events: at most `eventsPerInterval` pass in each interval of
 * `intervalMs`; the rest are counted. Time comes in as `nowMs`; the caller reports the count (one
 * event with `count`) when `closeInterval` says so, from a timer it arms when `admit` first suppresses.
 */
export class DeadLetterEventGate {
  #windowStartMs = Number.NEGATIVE_INFINITY;
  #passed = 0;
  #suppressed = 0;

  constructor(readonly intervalMs: number, readonly eventsPerInterval: number) {}

  /** `emit` the event now, or `suppress` it; `firstSuppressed` asks the caller to arm the interval-end timer. */
  admit(nowMs: number): { readonly verdict: 'emit' | 'suppress'; readonly firstSuppressed: boolean } {
    if (nowMs - this.#windowStartMs >= this.intervalMs && this.#suppressed === 0) {
      this.#windowStartMs = nowMs;
      this.#passed = 0;
    }
    if (this.#passed < this.eventsPerInterval && this.#suppressed === 0) {
      this.#passed += 1;
      return { verdict: 'emit', firstSuppressed: false };
    }
    this.#suppressed += 1;
    return { verdict: 'suppress', firstSuppressed: this.#suppressed === 1 };
  }

  /** When the timer armed for the window end fires: the suppressed count to report (0: none); a new window starts. */
  closeInterval(nowMs: number): number {
    const count = this.#suppressed;
    this.#suppressed = 0;
    this.#windowStartMs = nowMs;
    this.#passed = 0;
    return count;
  }

  /** Milliseconds from `nowMs` until the current interval ends. */
  remainingMs(nowMs: number): number {
    return Math.max(1, this.#windowStartMs + this.intervalMs - nowMs);
  }
}
