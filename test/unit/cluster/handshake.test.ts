/**
 * The HMAC challenge-response handshake as pure machines: a dialer and acceptor with the same secret
 * authenticate each other; a wrong secret is caught on whichever side checks first; proofs cannot be
 * replayed on another connection or reflected; frames out of order and wrong versions are refused.
 */
import { describe, expect, it } from 'vitest';
import {
  acceptorStep, constantTimeEqual, createAcceptor, createDialer, dialerStep, proofOf, transcript, type AcceptorState, type DialerState,
} from '../../../cluster/core/handshake.js';
import { linkProtocolVersion, type HandshakeFrame } from '../../../cluster/core/frames.js';

const secret = new TextEncoder().encode('cluster secret');
const dialer = { node: 'a', incarnation: 1, address: 'ws://a' };
const acceptor = { node: 'b', incarnation: 2, address: 'ws://b' };
const nonce = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);

function run(dialerSecret: Uint8Array, acceptorSecret: Uint8Array) {
  const start = createDialer(dialer, dialerSecret, nonce(1));
  let dialerState: DialerState = start.state;
  let acceptorState: AcceptorState = createAcceptor(acceptor, acceptorSecret, nonce(2));
  let toAcceptor: readonly HandshakeFrame[] = start.send;
  const verdicts: Record<string, unknown> = {};
  for (let round = 0; round < 4 && toAcceptor.length > 0; round += 1) {
    const accepted = acceptorStep(acceptorState, toAcceptor[0]!);
    acceptorState = accepted.state;
    if (accepted.verdict) verdicts.acceptor = accepted.verdict;
    const reply: readonly HandshakeFrame[] = accepted.verdict?.ok ? [{ type: 'accept' }] : accepted.verdict ? [] : accepted.send;
    if (reply.length === 0) break;
    const dialed = dialerStep(dialerState, reply[0]!);
    dialerState = dialed.state;
    if (dialed.verdict) verdicts.dialer = dialed.verdict;
    toAcceptor = dialed.send;
  }
  return verdicts;
}

describe('link handshake', () => {
  it('authenticates both sides with the same secret, each learning the other', () => {
    const verdicts = run(secret, secret);
    expect(verdicts.acceptor).toEqual({ ok: true, peer: dialer });
    expect(verdicts.dialer).toEqual({ ok: true, peer: acceptor });
  });

  it('is refused with AUTH_FAILED when the secrets differ (the dialer notices the acceptor first)', () => {
    const verdicts = run(new TextEncoder().encode('wrong'), secret);
    expect(verdicts.dialer).toMatchObject({ ok: false, code: 'AUTH_FAILED' });
    expect(verdicts.acceptor).toBeUndefined();
  });

  it('refuses a dialer proof computed with another secret', () => {
    let state: AcceptorState = createAcceptor(acceptor, secret, nonce(2));
    state = acceptorStep(state, createDialer(dialer, secret, nonce(1)).send[0]!).state;
    const forged = proofOf(new TextEncoder().encode('guess'), transcript('dialer', dialer, nonce(1), acceptor, nonce(2)));
    expect(acceptorStep(state, { type: 'auth', proof: forged }).verdict).toMatchObject({ ok: false, code: 'AUTH_FAILED' });
  });

  it('binds proofs to both nonces and the role: a replayed or reflected proof fails', () => {
    let state: AcceptorState = createAcceptor(acceptor, secret, nonce(3));
    state = acceptorStep(state, createDialer(dialer, secret, nonce(1)).send[0]!).state;
    // A proof from an earlier connection (acceptor nonce 2) does not fit this one (nonce 3).
    const replayed = proofOf(secret, transcript('dialer', dialer, nonce(1), acceptor, nonce(2)));
    expect(acceptorStep(state, { type: 'auth', proof: replayed }).verdict).toMatchObject({ ok: false, code: 'AUTH_FAILED' });
    // The acceptor's own proof sent back as the dialer's.
    let fresh: AcceptorState = createAcceptor(acceptor, secret, nonce(2));
    const challenge = acceptorStep(fresh, createDialer(dialer, secret, nonce(1)).send[0]!);
    fresh = challenge.state;
    const reflected = (challenge.send[0] as Extract<HandshakeFrame, { type: 'challenge' }>).proof;
    expect(acceptorStep(fresh, { type: 'auth', proof: reflected }).verdict).toMatchObject({ ok: false, code: 'AUTH_FAILED' });
  });

  it('refuses frames out of order, other protocol versions and a node dialling itself', () => {
    const state = createAcceptor(acceptor, secret, nonce(2));
    expect(acceptorStep(state, { type: 'auth', proof: nonce(0) }).verdict).toMatchObject({ ok: false, code: 'HANDSHAKE_INVALID' });
    expect(acceptorStep(state, { type: 'hello', version: 99, node: 'a', incarnation: 1, address: '', nonce: nonce(1) }).verdict).toMatchObject({ ok: false, code: 'PROTOCOL_VERSION' });
    expect(acceptorStep(state, { type: 'hello', version: 1, node: 'a', incarnation: 1, address: '', nonce: nonce(1) }).verdict).toMatchObject({ ok: false, code: 'PROTOCOL_VERSION' });
    expect(acceptorStep(state, { type: 'hello', version: linkProtocolVersion, node: 'b', incarnation: 1, address: '', nonce: nonce(1) }).verdict).toMatchObject({ ok: false, code: 'SELF_CONNECT' });
  });

  it('compares proofs in constant time and by full length', () => {
    expect(constantTimeEqual(nonce(1), nonce(1))).toBe(true);
    expect(constantTimeEqual(nonce(1), Uint8Array.of(...nonce(1).subarray(0, 31), 0))).toBe(false);
    expect(constantTimeEqual(nonce(1), new Uint8Array(31).fill(1))).toBe(false);
  });
});
