/**
 * Mutual authentication of a link with a shared cluster secret: HMAC-SHA256 challenge-response over
 * fresh nonces from both sides (the shape of RFC 2104 + a SCRAM-like exchange, without sending the
 * secret). Each proof covers both nonces, both names and incarnations and the prover's role, so a proof
 * cannot be replayed on another connection, reflected back to its sender, or moved to another peer.
 * The dialer checks the acceptor's proof before it sends its own, so an impostor acceptor learns no
 * proof it could relay.
 *
 * Pure: nonces come in from the shell (node:crypto), and the machines return frames to send and a
 * verdict; the shell owns the socket and the deadline.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { lengthPrefixed } from '../../runtime/index.js';
import type { HandshakeFrame } from './frames.js';
import { linkProtocolVersion } from './frames.js';

/** Who a side of a link is. */
export interface Identity {
  readonly node: string;
  readonly incarnation: number;
  readonly address: string;
}

/** What a finished handshake knows about the other side. */
export interface PeerIdentity extends Identity {}

const encoder = new TextEncoder();

/** The bytes a proof is computed over. */
export function transcript(role: 'dialer' | 'acceptor', dialer: Identity, dialerNonce: Uint8Array, acceptor: Identity, acceptorNonce: Uint8Array): Uint8Array {
  const parts = [
    encoder.encode(`troupe-link-v${linkProtocolVersion}`), encoder.encode(role),
    encoder.encode(dialer.node), encoder.encode(String(dialer.incarnation)), dialerNonce,
    encoder.encode(acceptor.node), encoder.encode(String(acceptor.incarnation)), acceptorNonce,
  ];
  // Length-prefix every part so that no two different transcripts share the same bytes.
  return lengthPrefixed(parts);
}

/** HMAC-SHA256 of `message` under `secret`. */
export function proofOf(secret: Uint8Array, message: Uint8Array): Uint8Array {
  return hmac(sha256, secret, message);
}

/** Compares two byte strings in time independent of where they differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index += 1) difference |= a[index]! ^ b[index]!;
  return difference === 0;
}

/** A step of a handshake machine: frames to send, and a verdict once there is one. */
export interface HandshakeStep<State> {
  readonly state: State;
  readonly send: readonly HandshakeFrame[];
  readonly verdict?: { readonly ok: true; readonly peer: PeerIdentity } | { readonly ok: false; readonly code: string; readonly message: string };
}

/** The acceptor's side. */
export type AcceptorState =
  | { readonly phase: 'awaitHello'; readonly self: Identity; readonly secret: Uint8Array; readonly nonce: Uint8Array }
  | { readonly phase: 'awaitAuth'; readonly self: Identity; readonly secret: Uint8Array; readonly nonce: Uint8Array; readonly peer: PeerIdentity; readonly peerNonce: Uint8Array }
  | { readonly phase: 'done' };

/** Starts an acceptor with its own fresh nonce. */
export function createAcceptor(self: Identity, secret: Uint8Array, nonce: Uint8Array): AcceptorState {
  return { phase: 'awaitHello', self, secret, nonce };
}

/** Feeds one handshake frame to the acceptor. */
export function acceptorStep(state: AcceptorState, frame: HandshakeFrame): HandshakeStep<AcceptorState> {
  if (state.phase === 'awaitHello' && frame.type === 'hello') {
    if (frame.version !== linkProtocolVersion) return fail('PROTOCOL_VERSION', `protocol version ${frame.version} is not ${linkProtocolVersion}`);
    if (frame.node === state.self.node) return fail('SELF_CONNECT', 'a node dialled itself');
    const peer: PeerIdentity = { node: frame.node, incarnation: frame.incarnation, address: frame.address };
    const proof = proofOf(state.secret, transcript('acceptor', peer, frame.nonce, state.self, state.nonce));
    return {
      state: { phase: 'awaitAuth', self: state.self, secret: state.secret, nonce: state.nonce, peer, peerNonce: frame.nonce },
      send: [{ type: 'challenge', node: state.self.node, incarnation: state.self.incarnation, address: state.self.address, nonce: state.nonce, proof }],
    };
  }
  if (state.phase === 'awaitAuth' && frame.type === 'auth') {
    const expected = proofOf(state.secret, transcript('dialer', state.peer, state.peerNonce, state.self, state.nonce));
    if (!constantTimeEqual(expected, frame.proof)) return fail('AUTH_FAILED', 'the dialer could not prove the cluster secret');
    return { state: { phase: 'done' }, send: [], verdict: { ok: true, peer: state.peer } };
  }
  return fail('HANDSHAKE_INVALID', `unexpected ${frame.type} frame in phase ${state.phase}`);
}

/** The dialer's side. */
export type DialerState =
  | { readonly phase: 'awaitChallenge'; readonly self: Identity; readonly secret: Uint8Array; readonly nonce: Uint8Array }
  | { readonly phase: 'awaitDecision'; readonly peer: PeerIdentity }
  | { readonly phase: 'done' };

/** Starts a dialer: the returned step holds the hello to send. */
export function createDialer(self: Identity, secret: Uint8Array, nonce: Uint8Array): HandshakeStep<DialerState> {
  return {
    state: { phase: 'awaitChallenge', self, secret, nonce },
    send: [{ type: 'hello', version: linkProtocolVersion, node: self.node, incarnation: self.incarnation, address: self.address, nonce }],
  };
}

/** Feeds one handshake frame to the dialer. */
export function dialerStep(state: DialerState, frame: HandshakeFrame): HandshakeStep<DialerState> {
  if (frame.type === 'reject') return fail(frame.code, frame.message);
  if (state.phase === 'awaitChallenge' && frame.type === 'challenge') {
    if (frame.node === state.self.node) return fail('SELF_CONNECT', 'this address is the node itself');
    const peer: PeerIdentity = { node: frame.node, incarnation: frame.incarnation, address: frame.address };
    const expected = proofOf(state.secret, transcript('acceptor', state.self, state.nonce, peer, frame.nonce));
    if (!constantTimeEqual(expected, frame.proof)) return fail('AUTH_FAILED', 'the acceptor could not prove the cluster secret');
    const proof = proofOf(state.secret, transcript('dialer', state.self, state.nonce, peer, frame.nonce));
    return { state: { phase: 'awaitDecision', peer }, send: [{ type: 'auth', proof }] };
  }
  if (state.phase === 'awaitDecision' && frame.type === 'accept') {
    return { state: { phase: 'done' }, send: [], verdict: { ok: true, peer: state.peer } };
  }
  return fail('HANDSHAKE_INVALID', `unexpected ${frame.type} frame in phase ${state.phase}`);
}

function fail<State extends { phase: string }>(code: string, message: string): HandshakeStep<State> {
  return { state: { phase: 'done' } as State, send: [], verdict: { ok: false, code, message } };
}
