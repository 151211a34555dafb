/**
 * The budget of unauthenticated sockets: bounded per remote address and in total, places given back
 * exactly once, and an address's entry forgotten when it holds none (the table stays bounded). A full
 * total makes the heaviest address give up its oldest socket to an address holding fewer, never the
 * other way round.
 */
import { describe, expect, it } from 'vitest';
import { HandshakeBudget } from '../../../cluster/admission.js';

describe('the unauthenticated socket budget', () => {
  it('refuses an address past its share and everyone past the total (TOO_MANY_HANDSHAKES)', () => {
    const budget = new HandshakeBudget(5, 2);
    const a = [budget.admit('a', 'a'), budget.admit('a', 'a'), budget.admit('a', 'a')];
    expect(a.map((admission) => admission.ok)).toEqual([true, true, false]);
    expect(a[2]).toEqual({ ok: false, code: 'TOO_MANY_HANDSHAKES' });
    const others = ['b', 'b', 'c', 'c'].map((address) => budget.admit(address, address));
    expect(others.map((admission) => admission.ok)).toEqual([true, true, true, false]);
    expect(budget.held).toBe(5);
  });

  it('gives a place back once, however often release is called', () => {
    const budget = new HandshakeBudget(2, 2);
    const first = budget.admit('a', 'a');
    if (!first.ok) throw new Error('admitted');
    first.release();
    first.release();
    expect(budget.held).toBe(0);
    expect([budget.admit('a', 'a').ok, budget.admit('a', 'a').ok, budget.admit('a', 'a').ok]).toEqual([true, true, false]);
  });

  it('makes room for an address holding fewer by evicting the oldest socket of the heaviest address', () => {
    const budget = new HandshakeBudget<string>(6, 3);
    for (const address of ['a', 'b']) for (let index = 1; index <= 3; index += 1) expect(budget.admit(address, `${address}${index}`).ok).toBe(true);
    expect(budget.held).toBe(6);
    // The total is full, spread over two addresses; a real client from c still gets in.
    const c1 = budget.admit('c', 'c1');
    expect(c1).toMatchObject({ ok: true, evicted: { socket: 'a1', address: 'a' } });
    // Now b is the heaviest: its oldest goes next.
    expect(budget.admit('d', 'd1')).toMatchObject({ ok: true, evicted: { socket: 'b1', address: 'b' } });
    expect(budget.held).toBe(6);
    expect(budget.evictions).toBe(2);
  });

  it('refuses a newcomer whose address would hold as many as the one it pushes out, so two addresses cannot take turns', () => {
    const budget = new HandshakeBudget<string>(4, 4);
    for (const socket of ['a1', 'a2', 'b1', 'b2']) expect(budget.admit(socket[0]!, socket).ok).toBe(true);
    expect(budget.admit('a', 'a3')).toEqual({ ok: false, code: 'TOO_MANY_HANDSHAKES' });
    expect(budget.admit('c', 'c1')).toMatchObject({ ok: true, evicted: { socket: 'a1' } });
    // a: 1, b: 2, c: 1. c again would leave it at 2 against b's 1: refused.
    expect(budget.admit('c', 'c2')).toEqual({ ok: false, code: 'TOO_MANY_HANDSHAKES' });
    expect(budget.held).toBe(4);
  });

  it('does not count an evicted place twice when its socket closes afterwards', () => {
    const budget = new HandshakeBudget<string>(2, 2);
    const first = budget.admit('a', 'a1');
    budget.admit('a', 'a2');
    expect(budget.admit('b', 'b1')).toMatchObject({ ok: true, evicted: { socket: 'a1' } });
    if (!first.ok) throw new Error('admitted');
    first.release(); // the evicted socket's close event
    expect(budget.held).toBe(2);
    expect([budget.admit('c', 'c1').ok, budget.held]).toEqual([false, 2]);
  });
});
