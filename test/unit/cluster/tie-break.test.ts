/**
 * One link per pair: for every way two dials can meet, both nodes reach the same decision on their
 * own (the acceptor keeps the dial of the smaller name when both are dialling; a redial by the side
 * that lost its link wins; a newer incarnation always wins; an older one never does).
 */
import { describe, expect, it } from 'vitest';
import { decideInbound } from '../../../cluster/core/tie-break.js';

describe('one link per pair', () => {
  it('keeps only the dial of the smaller name when both nodes dial at once', () => {
    // a < b. At a (acceptor of b's dial, while dialling b): refuse. At b (acceptor of a's dial, while dialling a): accept.
    expect(decideInbound('a', { node: 'b', incarnation: 1 }, { knownIncarnation: undefined, current: undefined, dialling: true })).toEqual({ accept: false, code: 'DUPLICATE_LINK' });
    expect(decideInbound('b', { node: 'a', incarnation: 1 }, { knownIncarnation: undefined, current: undefined, dialling: true })).toEqual({ accept: true, replace: false, cancelDial: true });
  });

  it('accepts the only dial when the acceptor is not dialling', () => {
    expect(decideInbound('a', { node: 'b', incarnation: 1 }, { knownIncarnation: 1, current: undefined, dialling: false })).toEqual({ accept: true, replace: false, cancelDial: false });
  });

  it('lets the side that dialled an existing link replace it (it lost the old socket)', () => {
    expect(decideInbound('a', { node: 'b', incarnation: 1 }, { knownIncarnation: 1, current: { incarnation: 1, dialledByPeer: true }, dialling: false }))
      .toEqual({ accept: true, replace: true, cancelDial: false });
  });

  it('keeps an existing link it dialled itself unless the other name is smaller', () => {
    expect(decideInbound('a', { node: 'b', incarnation: 1 }, { knownIncarnation: 1, current: { incarnation: 1, dialledByPeer: false }, dialling: false }))
      .toEqual({ accept: false, code: 'DUPLICATE_LINK' });
    expect(decideInbound('b', { node: 'a', incarnation: 1 }, { knownIncarnation: 1, current: { incarnation: 1, dialledByPeer: false }, dialling: false }))
      .toEqual({ accept: true, replace: true, cancelDial: false });
  });

  it('always takes a newer incarnation and never an older one', () => {
    expect(decideInbound('a', { node: 'b', incarnation: 2 }, { knownIncarnation: 1, current: { incarnation: 1, dialledByPeer: false }, dialling: true }))
      .toEqual({ accept: true, replace: true, cancelDial: true });
    expect(decideInbound('b', { node: 'a', incarnation: 1 }, { knownIncarnation: 2, current: undefined, dialling: false })).toEqual({ accept: false, code: 'STALE_INCARNATION' });
  });

  it('agrees on both sides for every simultaneous-dial situation', () => {
    for (const [small, large] of [['a', 'b'], ['n1', 'n2'], ['node-10', 'node-9']] as const) {
      const atSmall = decideInbound(small, { node: large, incarnation: 1 }, { knownIncarnation: undefined, current: undefined, dialling: true });
      const atLarge = decideInbound(large, { node: small, incarnation: 1 }, { knownIncarnation: undefined, current: undefined, dialling: true });
      // Exactly one of the two connections survives: the one the smaller name dialled.
      expect(atSmall.accept).toBe(false);
      expect(atLarge.accept).toBe(true);
    }
  });
});
