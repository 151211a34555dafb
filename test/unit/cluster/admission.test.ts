/**
 * The budget of unauthenticated sockets: bounded per remote address and in total, places given back
 * exactly once, and an address's entry forgotten when it holds none (the table stays bounded).
 */
import { describe, expect, it } from 'vitest';
import { HandshakeBudget } from '../../../cluster/admission.js';

describe('the unauthenticated socket budget', () => {
  it('refuses an address past its share and everyone past the total (TOO_MANY_HANDSHAKES)', () => {
    const budget = new HandshakeBudget(5, 2);
    const a = [budget.admit('a'), budget.admit('a'), budget.admit('a')];
    expect(a.map((admission) => admission.ok)).toEqual([true, true, false]);
    expect(a[2]).toEqual({ ok: false, code: 'TOO_MANY_HANDSHAKES' });
    const others = ['b', 'b', 'c', 'c'].map((address) => budget.admit(address));
    expect(others.map((admission) => admission.ok)).toEqual([true, true, true, false]);
    expect(budget.held).toBe(5);
  });

  it('gives a place back once, however often release is called', () => {
    const budget = new HandshakeBudget(2, 2);
    const first = budget.admit('a');
    if (!first.ok) throw new Error('admitted');
    first.release();
    first.release();
    expect(budget.held).toBe(0);
    expect([budget.admit('a').ok, budget.admit('a').ok, budget.admit('a').ok]).toEqual([true, true, false]);
  });
});
