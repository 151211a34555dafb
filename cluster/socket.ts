/**
 * A WebSocket carrying CBOR frame batches from an untrusted peer, with every limit applied before a
 * frame reaches protocol code: message size (checked again after `ws`'s maxPayload), message and byte
 * rate (token buckets), frames per message, decode depth, an error budget, and an idle deadline.
 * Protocol layers (handshake, link, client) swap in their own handler as the connection advances.
 */
import type { WebSocket } from 'ws';
import type { Clock, Codec, TimerHandle } from '../runtime/index.js';
import { closeCodes } from './errors.js';
import { countError, createBucket, createErrorBudget, take, type ErrorBudget, type TokenBucket } from './core/rate-limit.js';
import { decodeMessage, encodeBatch } from './core/wire.js';

/** Limits of one socket. */
export interface SocketLimits {
  readonly messageBytesMax: number;
  readonly framesPerMessageMax: number;
  readonly messagesPerSecond: number;
  readonly bytesPerSecond: number;
  readonly errorsMax: number;
  readonly errorWindowMs: number;
  /** Close the socket when nothing arrives for this long (undefined: no idle deadline). */
  readonly idleMs: number | undefined;
}

/** What a protocol layer does with a socket's traffic. */
export interface SocketHandler {
  /** Decoded frames of one message, in order (each still to be validated by the protocol). */
  frames(frames: readonly unknown[]): void;
  /** The socket closed (by either side); called once. */
  closed(code: number, reason: string): void;
}

/** Observes refusals for metrics. */
export type ProblemObserver = (code: string) => void;

/** A frame-batch socket. */
export class FramedSocket {
  readonly ws: WebSocket;
  #handler: SocketHandler;
  #limits: SocketLimits;
  #messages: TokenBucket;
  #bytes: TokenBucket;
  #errors: ErrorBudget;
  #idleTimer: TimerHandle | undefined;
  #terminateTimer: TimerHandle | undefined;
  #lastMessageMs: number;
  #closed = false;
  readonly #codec: Codec;
  readonly #clock: Clock;
  readonly #onProblem: ProblemObserver;

  constructor(ws: WebSocket, options: { codec: Codec; clock: Clock; limits: SocketLimits; handler: SocketHandler; onProblem: ProblemObserver }) {
    this.ws = ws;
    this.#codec = options.codec;
    this.#clock = options.clock;
    this.#limits = options.limits;
    this.#handler = options.handler;
    this.#onProblem = options.onProblem;
    const nowMs = this.#clock.now();
    this.#lastMessageMs = nowMs;
    this.#messages = createBucket(this.#limits.messagesPerSecond, nowMs);
    this.#bytes = createBucket(this.#limits.bytesPerSecond, nowMs);
    this.#errors = createErrorBudget(this.#limits.errorsMax, this.#limits.errorWindowMs);
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => this.#receive(data as Buffer, isBinary));
    ws.on('close', (code, reason) => this.#finish(code, reason.toString()));
    // A socket error is followed by 'close'; the listener keeps it from becoming an uncaught exception.
    ws.on('error', (error: Error & { code?: string }) => this.#onProblem(error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'FRAME_TOO_LARGE' : 'SOCKET_ERROR'));
    this.#armIdle();
  }

  /** True once the socket is closing or closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes handed to the socket but not yet written to the network. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** Replaces the protocol handler (when the handshake completes). */
  setHandler(handler: SocketHandler): void {
    this.#handler = handler;
  }

  /** Replaces the limits (authenticated peers get larger ones). */
  setLimits(limits: SocketLimits): void {
    this.#limits = limits;
    const nowMs = this.#clock.now();
    this.#messages = createBucket(limits.messagesPerSecond, nowMs);
    this.#bytes = createBucket(limits.bytesPerSecond, nowMs);
    this.#errors = createErrorBudget(limits.errorsMax, limits.errorWindowMs);
    this.#armIdle();
  }

  /** Sends one already-built message; `done` runs once it is written out (or the socket failed). */
  sendMessage(message: Uint8Array, done?: (error?: Error) => void): void {
    if (this.#closed) {
      done?.(new Error('socket closed'));
      return;
    }
    this.ws.send(message, { binary: true }, done);
  }

  /** Encodes `frames` as one message and sends it. */
  sendFrames(frames: readonly unknown[], done?: (error?: Error) => void): void {
    const items = frames.map((frame) => this.#codec.encode(frame));
    this.sendMessage(encodeBatch(items, items.reduce((sum, item) => sum + item.length, 0)), done);
  }

  /**
   * Refuses something the peer sent: counts it, tells the peer with an `error` frame carrying the code,
   * and closes the socket once the peer has used up its error budget.
   */
  refuse(code: string, message: string): void {
    this.#onProblem(code);
    if (this.#closed) return;
    const counted = countError(this.#errors, this.#clock.now());
    this.#errors = counted.budget;
    this.sendFrames([{ type: 'error', code, message: message.slice(0, 500) }]);
    // With no budget at all (before authentication) the first error closes, naming that error.
    if (counted.exhausted) this.close(this.#limits.errorsMax === 0 ? closeCodes.handshakeInvalid : closeCodes.tooManyErrors, this.#limits.errorsMax === 0 ? code : 'TOO_MANY_ERRORS');
  }

  /** Closes with an application close code; the reason is the stable error code. */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarmIdle();
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      // close() throws only for an invalid code; fall back to dropping the connection.
      this.ws.terminate();
    }
    // A peer that never completes the closing handshake must not hold the socket open.
    const ws = this.ws;
    this.#terminateTimer = this.#clock.setTimeout(() => ws.terminate(), 2_000);
  }

  /** Drops the connection at once. */
  terminate(): void {
    this.#closed = true;
    this.#disarmIdle();
    this.ws.terminate();
  }

  #receive(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    const nowMs = this.#clock.now();
    this.#lastMessageMs = nowMs;
    if (!isBinary) {
      this.refuse('FRAME_INVALID', 'text messages are not part of the protocol');
      return;
    }
    if (data.length > this.#limits.messageBytesMax) {
      this.#onProblem('FRAME_TOO_LARGE');
      this.sendFrames([{ type: 'error', code: 'FRAME_TOO_LARGE', message: `message of ${data.length} bytes, limit ${this.#limits.messageBytesMax}` }]);
      this.close(1009, 'FRAME_TOO_LARGE');
      return;
    }
    const messageTaken = take(this.#messages, 1, nowMs);
    const bytesTaken = take(this.#bytes, data.length, nowMs);
    this.#messages = messageTaken.bucket;
    this.#bytes = bytesTaken.bucket;
    if (!messageTaken.allowed || !bytesTaken.allowed) {
      this.refuse('RATE_LIMITED', 'message rate limit exceeded; message dropped');
      return;
    }
    const decoded = decodeMessage(this.#codec, data, this.#limits.framesPerMessageMax);
    if (!decoded.ok) {
      this.refuse(decoded.code, decoded.message);
      return;
    }
    try {
      this.#handler.frames(decoded.frames);
    } catch (error) {
      // A fault in protocol code must cost this connection, never the node: count it, report it, drop the peer.
      this.#onProblem('INTERNAL_ERROR');
      process.stderr.write(`troupe: closing a connection after an internal error: ${(error as Error).stack ?? String(error)}\n`);
      this.close(closeCodes.internalError, 'INTERNAL_ERROR');
    }
  }

  #finish(code: number, reason: string): void {
    this.#closed = true;
    this.#disarmIdle();
    if (this.#terminateTimer !== undefined) this.#clock.clearTimeout(this.#terminateTimer);
    const handler = this.#handler;
    this.#handler = { frames: () => {}, closed: () => {} };
    handler.closed(code, reason);
  }

  #armIdle(): void {
    this.#disarmIdle();
    const idleMs = this.#limits.idleMs;
    if (idleMs === undefined || this.#closed) return;
    // Check at a fraction of the deadline instead of re-arming a timer on every message.
    const checkMs = Math.max(10, Math.floor(idleMs / 4));
    const check = (): void => {
      if (this.#closed) return;
      if (this.#clock.now() - this.#lastMessageMs >= idleMs) {
        this.#onProblem('LINK_IDLE');
        this.close(closeCodes.idle, 'LINK_IDLE');
        return;
      }
      this.#idleTimer = this.#clock.setTimeout(check, checkMs);
    };
    this.#idleTimer = this.#clock.setTimeout(check, checkMs);
  }

  #disarmIdle(): void {
    if (this.#idleTimer !== undefined) this.#clock.clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}
