/**
 * One remote node as seen from this node: the link to it (at most one authenticated socket), the
 * bounded send queue that survives reconnects, batching and backpressure, the ordered streams in both
 * directions (at-most-once by seq, at-least-once through the outbox/inbox core) and acks.
 *
 * Send path: a message is checked (plain data, size estimate) when it is queued and encoded with the
 * rest of its batch when flushed, so, as with local tells, a message must not be changed after it is
 * sent. A flush writes priority frames (acks, gossip, control) first, then the notice lane's frames
 * (death watch, see core/lanes.ts), then bulk frames (at-most-once and the bulk lane) in batches
 * while the socket's buffered amount stays under the high-water mark; the write callback resumes a
 * held-back flush. Heartbeats skip the queue entirely, so a backlog of bulk data never delays them,
 * or a death-watch notice, by more than the high-water mark.
 * Overflow policy: when the queue is full a new at-most-once frame is refused (SEND_QUEUE_FULL) and
 * reported to the host (dead letter, failed ask); frames already queued are never dropped for it.
 */
import type { Clock, Codec, Envelope, TimerHandle } from '../runtime/index.js';
import { Encoder } from 'cbor-x';
import { EncodeError } from '../runtime/index.js';
import type { ClusterSettings } from './config.js';
import { Deque } from './core/deque.js';
import { FrameProblem, laneOf, parseLinkFrame, streamWire, type LinkFrame, type StreamFrame, type StreamMessage } from './core/frames.js';
import { deliveryClass, lanes, type Lane } from './core/lanes.js';
import {
  ackDue, classifyReliable, createDedupeWindow, createInbox, createOutbox, createParking, cumulativeAck, drainParked, dueParked, hasParked,
  nextParkedDueMs, outboxSize, parkedHead, outboxStep, park, parkedDelivered, parkedRefused, reliableDelivered, takeInOrder, unacknowledged,
  type DedupeWindow, type InboxState, type OutboxEffect, type OutboxState, type OutboxSettings, type ParkingState,
} from './core/reliable.js';
import { measurePlain } from './core/plain.js';
import { encodeBatch } from './core/wire.js';
import type { FramedSocket } from './socket.js';

/** What was given up on, for dead letters and failed asks. */
export interface Abandoned {
  readonly message: StreamMessage;
}

/** Counters a peer reports. */
export interface PeerCounters {
  framesOut: number;
  framesIn: number;
  batchesOut: number;
  redelivered: number;
  duplicates: number;
  outOfOrder: number;
  gaps: number;
  /** Reliable frames parked because their target's mailbox was full. */
  parked: number;
  /** Reliable frames refused because the parking lot was full (MAILBOX_FULL). */
  rejected: number;
}

/** What a peer needs from its owner. */
export interface PeerHost {
  readonly codec: Codec;
  readonly clock: Clock;
  readonly settings: ClusterSettings;
  /** Delivers an inbound stream frame; `retry` asks for a later redelivery (reliable frames only). */
  deliverStream(peer: Peer, frame: StreamFrame): 'done' | 'retry';
  /** Handles any other inbound frame (gossip, control, events, errors). */
  control(peer: Peer, frame: LinkFrame): void;
  heartbeat(peer: Peer): void;
  /** Messages given up on (queue overflow, stale incarnation, node removed). */
  abandoned(peer: Peer, items: readonly Abandoned[], code: string): void;
  /** A reliable frame this node took but could not keep (its parking lot was full, or its sender was removed). */
  rejectedInbound(peer: Peer, frame: StreamFrame, code: string): void;
  /** A socket-level refusal, for metrics. */
  problem(code: string): void;
}

/**
 * A queued frame: either the wire form of a checked stream message, encoded later together with its
 * batch, or bytes encoded up front (control frames, and frames too large to share a batch).
 */
interface QueueItem {
  readonly wire: unknown;
  readonly bytes: Uint8Array | undefined;
  /** Encoded size, or an upper bound of it for frames not yet encoded. */
  readonly size: number;
  readonly reliable: boolean;
  readonly message: StreamMessage | undefined;
}

interface ReliablePayload {
  readonly message: StreamMessage;
  readonly size: number;
  /** The wire form, made once the outbox has numbered the message (its number never changes). */
  wire: unknown;
  /** Set for frames too large to batch, encoded once. */
  bytes: Uint8Array | undefined;
}

/** The sending and receiving state of one reliable lane toward one peer. */
interface LaneState {
  outbox: OutboxState<ReliablePayload>;
  readonly dedupe: DedupeWindow;
  readonly parking: ParkingState<StreamFrame>;
}

/** The outbox bound of `lane`. */
function outboxSettings(settings: ClusterSettings, lane: Lane): OutboxSettings {
  return { outboxMax: lane === 'notice' ? settings.noticeOutboxMax : settings.outboxMax, redeliverMsMin: settings.redeliverMsMin, redeliverMsMax: settings.redeliverMsMax };
}

/** Upper bound of the encoded size of a stream frame without the envelope body (strings at 3 bytes a character). */
function overheadBytes(message: StreamMessage): number {
  if (message.type !== 'envelope') return 64 + 3 * (message.target.length + message.watcher.node.length + message.watcher.path.length);
  const envelope = message.envelope;
  let bytes = 32 + 3 * (envelope.id.length + envelope.to.path.length);
  if (envelope.from !== undefined) bytes += 24 + 3 * (envelope.from.node.length + envelope.from.path.length);
  if (envelope.replyTo !== undefined) bytes += 24 + 3 * (envelope.replyTo.node.length + envelope.replyTo.path.length);
  if (envelope.corr !== undefined) bytes += 16 + 3 * envelope.corr.length;
  if (envelope.failure !== undefined) bytes += 32 + 3 * (envelope.failure.code.length + envelope.failure.message.length);
  return bytes + 48;
}

/** What a parked frame holds in memory (an upper bound); a body that cannot be measured counts as too large to park. */
function parkedBytes(body: unknown, depthMax: number): number {
  try {
    return 256 + measurePlain(body, depthMax);
  } catch (error) {
    if (error instanceof EncodeError) return Number.MAX_SAFE_INTEGER;
    throw error;
  }
}

/** Options of the batch encoder: plain CBOR, exactly as the kernel codec (frames are checked when queued). */
const batchEncoder = new Encoder({ useRecords: false, mapsAsObjects: true, structuredClone: false, tagUint8Array: false, pack: false } as ConstructorParameters<typeof Encoder>[0]);

/** The link currently carrying traffic to the peer. */
export interface CurrentLink {
  readonly socket: FramedSocket;
  readonly incarnation: number;
  readonly dialledByPeer: boolean;
}

/** One remote node. */
export class Peer {
  readonly node: string;
  address: string | undefined;
  /** The peer's incarnation as of the latest authenticated link. */
  incarnation: number | undefined;
  link: CurrentLink | undefined;
  /** True while the peer wants our lifecycle events. */
  forwardLifecycle = false;
  readonly counters: PeerCounters = { framesOut: 0, framesIn: 0, batchesOut: 0, redelivered: 0, duplicates: 0, outOfOrder: 0, gaps: 0, parked: 0, rejected: 0 };
  readonly #host: PeerHost;
  /** At-most-once frames and the bulk lane, in order, written under the high-water mark. */
  readonly #bulk = new Deque<QueueItem>();
  /** The notice lane, written before any bulk frame. */
  readonly #notices = new Deque<QueueItem>();
  #priority: QueueItem[] = [];
  #queuedBytes = 0;
  #seq = 0;
  readonly #lanes: Readonly<Record<Lane, LaneState>>;
  #inbox: InboxState | undefined;
  #parkingTimer: TimerHandle | undefined;
  #flushScheduled = false;
  #writesInFlight = 0;
  #retryTimer: TimerHandle | undefined;
  #ackTimer: TimerHandle | undefined;
  #unackedDeliveries = 0;

  constructor(node: string, address: string | undefined, host: PeerHost) {
    this.node = node;
    this.address = address;
    this.#host = host;
    const lane = (name: Lane): LaneState => ({
      outbox: createOutbox(outboxSettings(host.settings, name)), dedupe: createDedupeWindow(host.settings.dedupeWindow), parking: createParking(host.settings),
    });
    this.#lanes = { bulk: lane('bulk'), notice: lane('notice') };
  }

  /** Inbound reliable frames parked for a full mailbox, awaiting another attempt (both lanes). */
  get parked(): number {
    return this.#lanes.bulk.parking.count + this.#lanes.notice.parking.count;
  }

  /** Frames waiting to be written. */
  get queuedFrames(): number {
    return this.#bulk.length + this.#notices.length + this.#priority.length;
  }

  /** Reliable messages not yet acknowledged (both lanes). */
  get unacknowledged(): number {
    return outboxSize(this.#lanes.bulk.outbox) + outboxSize(this.#lanes.notice.outbox);
  }

  /** Messages not yet acknowledged on one lane. */
  unacknowledgedOn(lane: Lane): number {
    return outboxSize(this.#lanes[lane].outbox);
  }

  /**
   * Makes `socket` the link. A newer incarnation of the peer first discards everything addressed to the
   * old one (it would reach a process that no longer exists). Reliable frames are then resent.
   */
  attach(socket: FramedSocket, incarnation: number, dialledByPeer: boolean, onClosed: () => void): void {
    if (this.incarnation !== undefined && incarnation > this.incarnation) this.#resetIncarnation('STALE_INCARNATION');
    if (this.incarnation !== incarnation || this.#inbox === undefined) this.#inbox = createInbox(incarnation);
    this.incarnation = incarnation;
    this.link = { socket, incarnation, dialledByPeer };
    this.forwardLifecycle = false;
    socket.setHandler({ frames: (frames) => this.#receive(socket, frames), closed: onClosed });
    for (const lane of lanes) this.#apply(lane, outboxStep(this.#lanes[lane].outbox, { type: 'connected', nowMs: this.#host.clock.now() }));
    this.#scheduleFlush();
  }

  /** The link is gone: reliable frames leave the queue (the outbox resends them on the next link). */
  detach(): void {
    this.link = undefined;
    this.forwardLifecycle = false;
    this.#bulk.removeWhere((item) => item.reliable);
    this.#notices.drain();
    this.#recount();
    for (const lane of lanes) outboxStep(this.#lanes[lane].outbox, { type: 'disconnected' });
  }

  /**
   * Queues a stream message on the stream core/lanes.ts picks: death-watch traffic on the notice lane,
   * others on the bulk lane when `reliable`, else at-most-once. At-most-once messages get the next seq
   * and may be refused with SEND_QUEUE_FULL, or an encode error code for a body that is not plain data
   * or too large; reliable ones go through their lane's outbox (OUTBOX_FULL).
   */
  sendStream(message: StreamMessage, reliable: boolean): { ok: true } | { ok: false; code: string } {
    const settings = this.#host.settings;
    let size: number;
    try {
      size = overheadBytes(message) + (message.type === 'envelope' ? measurePlain(message.envelope.body, this.#host.codec.limits.messageDepthMax) : 0);
    } catch (error) {
      if (error instanceof EncodeError) return { ok: false, code: error.code };
      throw error;
    }
    const stream = deliveryClass(message, reliable, size);
    if (stream !== 'atMostOnce') return this.#sendReliable(message, size, stream);
    if (this.#bulk.length >= settings.sendQueueFramesMax || this.#queuedBytes >= settings.sendQueueBytesMax) return { ok: false, code: 'SEND_QUEUE_FULL' };
    const wire = streamWire(message, { seq: this.#seq + 1 });
    let item: QueueItem = { wire, bytes: undefined, size, reliable: false, message };
    if (size > settings.batchBytesMax) {
      const encoded = this.#encodeAlone(wire);
      if (!encoded.ok) return encoded;
      item = { wire, bytes: encoded.bytes, size: encoded.bytes.length, reliable: false, message };
    }
    this.#seq += 1;
    this.#bulk.push(item);
    this.#queuedBytes += item.size;
    this.#scheduleFlush();
    return { ok: true };
  }

  #sendReliable(message: StreamMessage, size: number, lane: Lane): { ok: true } | { ok: false; code: string } {
    const outbox = this.#lanes[lane].outbox;
    const payload: ReliablePayload = { message, size, wire: undefined, bytes: undefined };
    if (size > this.#host.settings.batchBytesMax) {
      // Too large to share a batch: encoded now (with the number the outbox will give it), so a
      // FRAME_TOO_LARGE reaches the sender instead of the outbox.
      const encoded = this.#encodeAlone(streamWire(message, { reliable: outbox.nextRseq, lane }));
      if (!encoded.ok) return encoded;
      payload.bytes = encoded.bytes;
    }
    const effects = outboxStep(outbox, { type: 'send', payload, nowMs: this.#host.clock.now() });
    const refused = effects.find((effect) => effect.type === 'refused');
    if (refused !== undefined) return { ok: false, code: refused.code };
    this.#apply(lane, effects);
    this.#armRetry();
    return { ok: true };
  }

  #encodeAlone(wire: unknown): { ok: true; bytes: Uint8Array } | { ok: false; code: string } {
    try {
      return { ok: true, bytes: this.#host.codec.encode(wire) };
    } catch (error) {
      if (error instanceof EncodeError) return { ok: false, code: error.code };
      throw error;
    }
  }

  /** Queues a control frame (gossip, ack, control, event) ahead of bulk data. Dropped when there is no link. */
  sendControl(frame: LinkFrame): void {
    if (this.link === undefined) return;
    const bytes = this.#host.codec.encode(frame);
    this.#priority.push({ wire: undefined, bytes, size: bytes.length, reliable: false, message: undefined });
    this.#queuedBytes += bytes.length;
    this.#scheduleFlush();
  }

  /** Sends a heartbeat now, bypassing every queue. */
  sendHeartbeat(nowMs: number): void {
    const socket = this.link?.socket;
    if (socket === undefined || socket.closed) return;
    socket.sendFrames([{ type: 'heartbeat', sentMs: nowMs }]);
  }

  /** The peer was declared down: queued at-most-once frames are given up (reliable ones wait). */
  dropQueued(code: string): void {
    const dropped = this.#bulk.removeWhere((item) => !item.reliable);
    this.#recount();
    this.#report(dropped, code);
  }

  /** The peer was removed: everything is given up, the outbox included, and timers stop. */
  abandon(code: string): void {
    this.#resetIncarnation(code);
    this.#priority = [];
    this.#recount();
    if (this.#retryTimer !== undefined) this.#host.clock.clearTimeout(this.#retryTimer);
    if (this.#ackTimer !== undefined) this.#host.clock.clearTimeout(this.#ackTimer);
    if (this.#parkingTimer !== undefined) this.#host.clock.clearTimeout(this.#parkingTimer);
    this.#retryTimer = undefined;
    this.#ackTimer = undefined;
    this.#parkingTimer = undefined;
    for (const lane of lanes) for (const frame of drainParked(this.#lanes[lane].parking)) this.#host.rejectedInbound(this, frame, code);
  }

  #resetIncarnation(code: string): void {
    const queued = this.#bulk.drain().filter((item) => !item.reliable);
    this.#notices.drain();
    const pending: ReliablePayload[] = [];
    for (const lane of lanes) {
      const state = this.#lanes[lane];
      pending.push(...unacknowledged(state.outbox));
      state.outbox = createOutbox(outboxSettings(this.#host.settings, lane));
      if (this.link !== undefined) state.outbox.connected = true;
    }
    this.#recount();
    this.#report(queued, code);
    this.#host.abandoned(this, pending.map((payload) => ({ message: payload.message })), code);
  }

  #report(items: readonly QueueItem[], code: string): void {
    const abandoned = items.filter((item) => item.message !== undefined).map((item) => ({ message: item.message! }));
    if (abandoned.length > 0) this.#host.abandoned(this, abandoned, code);
  }

  #recount(): void {
    let bytes = 0;
    for (const item of this.#priority) bytes += item.size;
    for (const queue of [this.#notices, this.#bulk]) {
      for (const item of queue.drain()) {
        bytes += item.size;
        queue.push(item);
      }
    }
    this.#queuedBytes = bytes;
  }

  #apply(lane: Lane, effects: ReadonlyArray<OutboxEffect<ReliablePayload>>): void {
    const queue = lane === 'notice' ? this.#notices : this.#bulk;
    for (const effect of effects) {
      if (effect.type !== 'transmit') continue;
      const payload = effect.payload;
      payload.wire ??= streamWire(payload.message, { reliable: effect.rseq, lane });
      if (effect.redelivery) this.counters.redelivered += 1;
      queue.push({ wire: payload.wire, bytes: payload.bytes, size: payload.bytes?.length ?? payload.size, reliable: true, message: payload.message });
      this.#queuedBytes += payload.size;
    }
    if (effects.length > 0) this.#scheduleFlush();
  }

  #armRetry(): void {
    if (this.#retryTimer !== undefined) return;
    const intervalMs = Math.max(10, Math.floor(this.#host.settings.redeliverMsMin / 2));
    const tick = (): void => {
      this.#retryTimer = undefined;
      if (this.unacknowledged === 0) return;
      for (const lane of lanes) this.#apply(lane, outboxStep(this.#lanes[lane].outbox, { type: 'tick', nowMs: this.#host.clock.now() }));
      this.#retryTimer = this.#host.clock.setTimeout(tick, intervalMs);
    };
    this.#retryTimer = this.#host.clock.setTimeout(tick, intervalMs);
  }

  /**
   * Flushes soon. An idle link (nothing being written) flushes at the end of the current job, which
   * keeps a lone ask fast and still batches a synchronous burst; a busy link waits for the next turn
   * of the event loop, so that messages produced by many actors in between share batches.
   */
  #scheduleFlush(): void {
    if (this.#flushScheduled || this.link === undefined) return;
    this.#flushScheduled = true;
    const run = (): void => {
      this.#flushScheduled = false;
      this.#flush();
    };
    if (this.#writesInFlight === 0) queueMicrotask(run);
    else setImmediate(run);
  }

  #flush(): void {
    const socket = this.link?.socket;
    if (socket === undefined || socket.closed) return;
    const settings = this.#host.settings;
    if (this.#priority.length > 0) {
      const priority = this.#priority;
      this.#priority = [];
      for (let start = 0; start < priority.length; start += settings.batchFramesMax) this.#write(socket, priority.slice(start, start + settings.batchFramesMax));
    }
    // Notices are few and bounded (noticeOutboxMax): all of them go now, ahead of any bulk frame.
    this.#writeBatches(socket, this.#notices, Number.POSITIVE_INFINITY);
    this.#writeBatches(socket, this.#bulk, settings.bufferedBytesHighWater); // resumed by a write callback when held back
  }

  /** Writes `queue` in batches while the socket holds less than `highWater` bytes. */
  #writeBatches(socket: FramedSocket, queue: Deque<QueueItem>, highWater: number): void {
    const settings = this.#host.settings;
    while (queue.length > 0) {
      if (socket.bufferedAmount >= highWater) return;
      // A batch holds frames of one kind: objects encoded together, or bytes encoded before.
      const encoded = queue.peek()!.bytes !== undefined;
      const batch: QueueItem[] = [];
      let bytes = 0;
      while (queue.length > 0 && batch.length < settings.batchFramesMax) {
        const next = queue.peek()!;
        if (batch.length > 0 && ((next.bytes !== undefined) !== encoded || bytes + next.size > settings.batchBytesMax)) break;
        batch.push(queue.shift()!);
        bytes += next.size;
      }
      this.#write(socket, batch);
    }
  }

  #write(socket: FramedSocket, items: readonly QueueItem[]): void {
    const message = this.#encode(items);
    for (const item of items) this.#queuedBytes -= item.size;
    if (message === undefined) return;
    this.counters.framesOut += items.length;
    this.counters.batchesOut += 1;
    this.#writesInFlight += 1;
    socket.sendMessage(message, () => {
      this.#writesInFlight -= 1;
      if (this.#bulk.length > 0) this.#scheduleFlush();
    });
  }

  /** One message for a batch. Frames were checked when queued; should encoding still fail, each is encoded alone and failures are given up. */
  #encode(items: readonly QueueItem[]): Uint8Array | undefined {
    if (items[0]!.bytes !== undefined) {
      let total = 0;
      for (const item of items) total += item.bytes!.length;
      return encodeBatch(items.map((item) => item.bytes!), total);
    }
    try {
      return batchEncoder.encode(items.map((item) => item.wire));
    } catch {
      const parts: Uint8Array[] = [];
      const failed: QueueItem[] = [];
      for (const item of items) {
        try {
          parts.push(this.#host.codec.encode(item.wire));
        } catch {
          failed.push(item);
        }
      }
      this.#report(failed, 'ENCODE_FAILED');
      return parts.length === 0 ? undefined : encodeBatch(parts, parts.reduce((sum, part) => sum + part.length, 0));
    }
  }

  #receive(socket: FramedSocket, frames: readonly unknown[]): void {
    // Frames from a link that has been replaced belong to an old connection (or incarnation): drop them.
    if (this.link?.socket !== socket) return;
    for (const raw of frames) {
      const frame = parseLinkFrame(raw, this.#host.settings.membersMax);
      if (frame instanceof FrameProblem) {
        socket.refuse(frame.code, frame.message);
        if (socket.closed) return;
        continue;
      }
      this.counters.framesIn += 1;
      switch (frame.type) {
        case 'heartbeat':
          this.#host.heartbeat(this);
          break;
        case 'ack': {
          const lane = laneOf(frame);
          this.#apply(lane, outboxStep(this.#lanes[lane].outbox, { type: 'ack', upTo: frame.upTo }));
          break;
        }
        case 'envelope':
        case 'watch':
        case 'unwatch':
          this.#receiveStream(frame);
          break;
        default:
          this.#host.control(this, frame);
      }
    }
  }

  #receiveStream(frame: StreamFrame): void {
    const inbox = this.#inbox!;
    if (frame.reliable === undefined) {
      if (takeInOrder(inbox, frame.seq!)) this.#host.deliverStream(this, frame);
      else this.counters.outOfOrder += 1;
      return;
    }
    const lane = laneOf(frame);
    const position = inbox.lanes[lane];
    const dedupe = this.#lanes[lane].dedupe;
    const id = frame.type === 'envelope' ? frame.id : `~${inbox.incarnation}.${lane}.${frame.reliable}`;
    switch (classifyReliable(position, dedupe, frame.reliable, id)) {
      case 'deliver':
        this.#take(frame, lane);
        reliableDelivered(position, dedupe, frame.reliable, id);
        this.#ackSoon();
        return;
      case 'duplicate':
        this.counters.duplicates += 1;
        reliableDelivered(position, dedupe, frame.reliable, id);
        this.#ackSoon();
        return;
      case 'stale':
        this.counters.duplicates += 1;
        this.sendControl(ackFrame(lane, cumulativeAck(position)));
        return;
      case 'gap':
        this.counters.gaps += 1;
        return;
    }
  }

  /**
   * Takes responsibility for a reliable frame so the stream can advance: delivers it, or parks it when
   * its target's mailbox is full (or earlier frames for that target are parked), or, with the parking
   * lot full, hands it back to the host as rejected (MAILBOX_FULL).
   */
  #take(frame: StreamFrame, lane: Lane): void {
    const parking = this.#lanes[lane].parking;
    const target = frame.type === 'envelope' ? frame.path : frame.target;
    const nowMs = this.#host.clock.now();
    if (!hasParked(parking, target) && this.#host.deliverStream(this, frame) === 'done') return;
    const bytes = frame.type === 'envelope' ? parkedBytes(frame.body, this.#host.codec.limits.messageDepthMax) : 256;
    if (park(parking, { target, payload: frame, bytes, nowMs }) === 'rejected') {
      this.counters.rejected += 1;
      this.#host.rejectedInbound(this, frame, 'MAILBOX_FULL');
      return;
    }
    this.counters.parked += 1;
    this.#armParking();
  }

  #armParking(): void {
    if (this.#parkingTimer !== undefined) return;
    const due = lanes.map((lane) => nextParkedDueMs(this.#lanes[lane].parking)).filter((ms): ms is number => ms !== undefined);
    if (due.length === 0) return;
    const dueMs = Math.min(...due);
    this.#parkingTimer = this.#host.clock.setTimeout(() => {
      this.#parkingTimer = undefined;
      this.#retryParked();
      this.#armParking();
    }, Math.max(1, dueMs - this.#host.clock.now()));
  }

  /** Retries the head of every due target queue of each lane, moving on down a queue while its target accepts. */
  #retryParked(): void {
    const nowMs = this.#host.clock.now();
    for (const lane of lanes) {
      const parking = this.#lanes[lane].parking;
      for (const due of dueParked(parking, nowMs)) {
        let frame: StreamFrame | undefined = due.payload;
        while (frame !== undefined) {
          if (this.#host.deliverStream(this, frame) === 'retry') {
            parkedRefused(parking, due.target, nowMs);
            break;
          }
          parkedDelivered(parking, due.target, nowMs);
          frame = parkedHead(parking, due.target);
        }
      }
    }
  }

  #ackSoon(): void {
    this.#unackedDeliveries += 1;
    if (this.#unackedDeliveries >= this.#host.settings.ackEvery) {
      this.#sendAck();
      return;
    }
    if (this.#ackTimer !== undefined) return;
    this.#ackTimer = this.#host.clock.setTimeout(() => {
      this.#ackTimer = undefined;
      this.#sendAck();
    }, this.#host.settings.ackDelayMs);
  }

  #sendAck(): void {
    this.#unackedDeliveries = 0;
    const inbox = this.#inbox;
    if (inbox === undefined) return;
    for (const lane of lanes) {
      const upTo = ackDue(inbox.lanes[lane]);
      if (upTo !== undefined) this.sendControl(ackFrame(lane, upTo));
    }
  }
}

/** The cumulative ack of `lane` (the bulk lane's without a lane field, as before there were two). */
function ackFrame(lane: Lane, upTo: number): LinkFrame {
  return lane === 'bulk' ? { type: 'ack', upTo } : { type: 'ack', upTo, lane };
}
