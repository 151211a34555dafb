/**
 * Runs the link handshake (core/handshake.ts) on a real WebSocket, under a deadline: a peer that
 * fails the proof is refused with AUTH_FAILED, one that stalls is dropped with HANDSHAKE_TIMEOUT, and
 * nothing but small, well-formed handshake frames is read before authentication.
 * Completion is reported synchronously so the link layer takes over the socket before any further
 * message from the peer can arrive.
 */
import { WebSocket, type ClientOptions } from 'ws';
import type { Clock, Codec, Logger, TimerHandle } from '../runtime/index.js';
import type { ClusterSettings } from './config.js';
import { closeCodes } from './errors.js';
import { parseHandshakeFrame, type HandshakeFrame } from './core/frames.js';
import { acceptorStep, createAcceptor, createDialer, dialerStep, type AcceptorState, type DialerState, type HandshakeStep, type Identity, type PeerIdentity } from './core/handshake.js';
import type { InboundDecision } from './core/tie-break.js';
import { FramedSocket, type ProblemObserver, type SocketLimits } from './socket.js';

/** What both sides of a handshake need. */
export interface HandshakeContext {
  readonly self: Identity;
  readonly secret: Uint8Array;
  readonly codec: Codec;
  readonly clock: Clock;
  readonly settings: ClusterSettings;
  readonly onProblem: ProblemObserver;
  /** A fresh random nonce (32 bytes). */
  nonce(): Uint8Array;
  /** Where refusals of inbound connections are logged (`cluster.refused`, with the remote address). */
  readonly log?: Logger;
  /** TLS options for outbound dials (CA, client certificate for mutual TLS). */
  readonly tls?: Pick<ClientOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;
}

/** An authenticated connection, ready for the link protocol. */
export interface Authenticated {
  readonly socket: FramedSocket;
  readonly peer: PeerIdentity;
  readonly dialledByPeer: boolean;
}

/** Outcome callbacks of a handshake. */
export interface HandshakeCallbacks {
  authenticated(result: Authenticated): void;
  failed(code: string, message: string): void;
}

/** Limits while unauthenticated: tiny messages, one frame each, few errors. */
export function handshakeLimits(settings: ClusterSettings): SocketLimits {
  return {
    messageBytesMax: settings.handshakeBytesMax, framesPerMessageMax: 1, messagesPerSecond: 20, bytesPerSecond: settings.handshakeBytesMax * 20,
    errorsMax: 0, errorWindowMs: settings.handshakeTimeoutMs, idleMs: undefined,
  };
}

const closeCodeOf = (code: string): number =>
  code === 'AUTH_FAILED' ? closeCodes.unauthorized : code === 'DUPLICATE_LINK' || code === 'STALE_INCARNATION' ? closeCodes.duplicate
    : code === 'HANDSHAKE_TIMEOUT' ? closeCodes.handshakeTimeout : closeCodes.handshakeInvalid;

/**
 * Runs the acceptor side on an inbound socket. `decide` applies the one-link-per-pair rule once the
 * dialer has proven the secret.
 */
export function acceptHandshake(ws: WebSocket, context: HandshakeContext, decide: (peer: PeerIdentity) => InboundDecision, callbacks: HandshakeCallbacks, remote = 'unknown'): void {
  let state: AcceptorState = createAcceptor(context.self, context.secret, context.nonce());
  // Every refusal on this socket, before and after authentication, is counted and logged with its address.
  const onProblem: ProblemObserver = (code) => {
    context.onProblem(code);
    context.log?.warn('cluster.refused', { code, remote, endpoint: 'cluster' });
  };
  let finished = false;
  const finish = (): void => {
    finished = true;
    context.clock.clearTimeout(deadline);
  };
  const refuse = (code: string, message: string): void => {
    finish();
    onProblem(code);
    socket.sendFrames([{ type: 'reject', code, message } satisfies HandshakeFrame]);
    socket.close(closeCodeOf(code), code);
    callbacks.failed(code, message);
  };
  const socket: FramedSocket = new FramedSocket(ws, {
    codec: context.codec, clock: context.clock, limits: handshakeLimits(context.settings), onProblem,
    handler: {
      frames: (frames) => {
        if (finished) return;
        const parsed = parseHandshakeFrame(frames[0]);
        if (!parsed.ok) return refuse('HANDSHAKE_INVALID', parsed.message);
        const step: HandshakeStep<AcceptorState> = acceptorStep(state, parsed.frame);
        state = step.state;
        if (step.send.length > 0) socket.sendFrames(step.send);
        if (step.verdict === undefined) return;
        if (!step.verdict.ok) return refuse(step.verdict.code, step.verdict.message);
        const decision = decide(step.verdict.peer);
        if (!decision.accept) return refuse(decision.code, `link to ${step.verdict.peer.node} refused: ${decision.code}`);
        finish();
        socket.sendFrames([{ type: 'accept' } satisfies HandshakeFrame]);
        callbacks.authenticated({ socket, peer: step.verdict.peer, dialledByPeer: true });
      },
      closed: (code, reason) => {
        if (finished) return;
        finish();
        // A dialer that found our proof wrong (another cluster secret) closes with its code: say so here too.
        if (code >= 4000 && reason !== '') context.log?.warn('cluster.handshakeFailed', { code: reason, remote, endpoint: 'cluster', detectedBy: 'peer' });
        callbacks.failed('CONNECTION_LOST', `closed during handshake (${code} ${reason})`);
      },
    },
  });
  const deadline: TimerHandle = context.clock.setTimeout(() => {
    if (!finished) refuse('HANDSHAKE_TIMEOUT', `handshake not completed within ${context.settings.handshakeTimeoutMs} ms`);
  }, context.settings.handshakeTimeoutMs);
}

/** Dials `address` (ws:// or wss:// base URL) and runs the dialer side. Returns a cancel function. */
export function dialHandshake(address: string, context: HandshakeContext, callbacks: HandshakeCallbacks): () => void {
  let finished = false;
  let socket: FramedSocket | undefined;
  const ws = new WebSocket(`${address.replace(/\/+$/, '')}/cluster`, {
    perMessageDeflate: false, maxPayload: context.settings.frameBytesMax, handshakeTimeout: context.settings.handshakeTimeoutMs,
    // RFC 6455 masking protects intermediaries from script-chosen bytes of browser clients; node links
    // carry only authenticated node traffic, so a zero mask (which ws then skips) saves a pass over
    // every byte on both ends.
    generateMask: (mask: Buffer) => { mask.fill(0); },
    ...context.tls,
  });
  const finish = (): void => {
    finished = true;
    context.clock.clearTimeout(deadline);
  };
  const fail = (code: string, message: string): void => {
    if (finished) return;
    finish();
    if (socket !== undefined) socket.close(closeCodeOf(code), code);
    else ws.terminate();
    callbacks.failed(code, message);
  };
  ws.on('error', (error) => {
    if (socket === undefined) fail('CONNECTION_FAILED', `cannot connect to ${address}: ${error.message}`);
  });
  ws.once('unexpected-response', (_request, response) => fail('CONNECTION_FAILED', `${address} answered HTTP ${response.statusCode}`));
  ws.once('open', () => {
    if (finished) {
      ws.terminate();
      return;
    }
    const start = createDialer(context.self, context.secret, context.nonce());
    let state: DialerState = start.state;
    socket = new FramedSocket(ws, {
      codec: context.codec, clock: context.clock, limits: handshakeLimits(context.settings),
      onProblem: (code) => {
        context.onProblem(code);
        context.log?.warn('cluster.refused', { code, remote: address, endpoint: 'cluster', direction: 'outbound' });
      },
      handler: {
        frames: (frames) => {
          if (finished) return;
          const parsed = parseHandshakeFrame(frames[0]);
          if (!parsed.ok) return fail('HANDSHAKE_INVALID', parsed.message);
          const step = dialerStep(state, parsed.frame);
          state = step.state;
          if (step.send.length > 0) socket!.sendFrames(step.send);
          if (step.verdict === undefined) return;
          if (!step.verdict.ok) return fail(step.verdict.code, step.verdict.message);
          finish();
          callbacks.authenticated({ socket: socket!, peer: step.verdict.peer, dialledByPeer: false });
        },
        closed: (code, reason) => fail(reason !== '' && code >= 4000 ? reason : 'CONNECTION_LOST', `closed during handshake (${code} ${reason})`),
      },
    });
    socket.sendFrames(start.send);
  });
  const deadline: TimerHandle = context.clock.setTimeout(
    () => fail('HANDSHAKE_TIMEOUT', `handshake with ${address} not completed within ${context.settings.handshakeTimeoutMs} ms`),
    context.settings.handshakeTimeoutMs,
  );
  return () => fail('CANCELLED', 'dial cancelled');
}
