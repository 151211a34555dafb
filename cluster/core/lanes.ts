/**
 * Which ordered stream of a node pair a message travels on, as a pure decision.
 *
 * A pair has three streams in each direction:
 *   - at-most-once (`seq`): user tells and asks by default, FIFO, may lose a message;
 *   - the bulk lane (`reliable: n`): at-least-once user traffic (`sendReliable`), FIFO per pair;
 *   - the notice lane (`reliable: n` on lane `notice`): death watch (watch, unwatch, terminated).
 *
 * The two reliable lanes are independent go-back-N streams (see `reliable.ts`): each has its own
 * numbering, cumulative acks, outbox bound, dedupe window and parking lot. The sender writes notice
 * frames ahead of every bulk frame, so a backlog of bulk data (a slow reader, a full bulk outbox, a
 * stream parked behind a full mailbox) delays a notice by at most what is already in the socket (the
 * high-water mark), and a full bulk outbox never refuses a watch. Within a lane order holds; between
 * lanes it does not: a `terminated` notice may overtake bulk messages still on their way from the
 * same node, as the control stream of Akka's Artery transport does.
 *
 * A notice is small. A body that only looks like a terminated notice but is larger than
 * `noticeBytesMax` (an application may send such a thing) goes on the lane it asked for instead, so
 * the notice lane cannot be used to push bulk data past the queue.
 */
import { isRef, type Terminated } from '../../runtime/index.js';
import type { StreamMessage } from './frames.js';

/** The reliable lanes of a pair. */
export type Lane = 'bulk' | 'notice';

/** Every reliable lane, in the order the sender writes them (notices first). */
export const lanes: readonly Lane[] = ['notice', 'bulk'];

/** How a stream message travels. */
export type DeliveryClass = 'atMostOnce' | Lane;

/** Largest stream message (its size estimate in bytes) that may travel on the notice lane. */
export const noticeBytesMax = 16 * 1024;

/** True for a death-watch notice body `{ type: 'terminated', ref }`. */
export function isTerminatedNotice(body: unknown): body is Terminated {
  return typeof body === 'object' && body !== null && (body as { type?: unknown }).type === 'terminated' && isRef((body as { ref?: unknown }).ref);
}

/**
 * The stream a message takes: death-watch traffic (watch, unwatch, and envelopes carrying a
 * terminated notice) the notice lane, whatever the caller asked for; anything else the bulk lane when
 * `reliable` was asked for, or at-most-once. `sizeBytes` is the message's encoded size estimate.
 */
export function deliveryClass(message: StreamMessage, reliable: boolean, sizeBytes: number): DeliveryClass {
  if (sizeBytes <= noticeBytesMax && (message.type !== 'envelope' || isTerminatedNotice(message.envelope.body))) return 'notice';
  return reliable || message.type !== 'envelope' || isTerminatedNotice(message.envelope.body) ? 'bulk' : 'atMostOnce';
}
