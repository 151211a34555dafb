/**
 * The budget of unauthenticated sockets: bounded per remote address and in total, places given back
 * exactly once, and an address's entry forgotten when it holds none (the table stays bounded). A full
 * total makes the heaviest address give up its oldest socket to an address holding fewer, never the
 * other way round.
 */
import { describe, expect, it } from 'vitest';
import { HandshakeBudget } from '../../../cluster/admission.js';

describe('the unauthenticated socket budget', () => {
  it('refuses an address past its share (TOO_MANY_HANDSHAKES), also when the total is full', () => {
    const budget = new HandshakeBudget(5, 2);
    const a = [budget.admit('a', 'a'), budget.admit('a', 'a'), budget.admit('a', 'a')];
    expect(a.map((admission) => admission.ok)).toEqual([true, true, false]);
    expect(a[2]).toEqual({ ok: false, code: 'TOO_MANY_HANDSHAKES' });
    expect(['b', 'b', 'c'].map((address) => budget.admit(address, address).ok)).toEqual([true, true, true]);
    expect(budget.held).toBe(5);
    // The total is full: c holds fewer than a, so it takes one of a's places; b is at its share.
    expect(budget.admit('c', 'c')).toMatchObject({ ok: true, evicted: { address: 'a' } });
    expect(budget.admit('b', 'b')).toEqual({ ok: false, code: 'TOO_MANY_HANDSHAKES' });
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

  it('refuses a newcomer from an address that already holds as many as any other', () => {
    const budget = new HandshakeBudget<string>(4, 4);
    for (const socket of ['a1', 'a2', 'b1', 'b2']) expect(budget.admit(socket[0]!, socket).ok).toBe(true);
    expect(budget.admit('a', 'a3')).toEqual({ ok: false, code: 'TOO_MANY_HANDSHAKES' });
    expect(budget.admit('c', 'c1')).toMatchObject({ ok: true, evicted: { socket: 'a1' } });
    // a: 1, b: 2, c: 1. c holds fewer than b, so b gives one up; then every address holds one or two.
    expect(budget.admit('c', 'c2')).toMatchObject({ ok: true, evicted: { socket: 'b1' } });
    expect(budget.admit('c', 'c3')).toEqual({ ok: false, code: 'TOO_MANY_HANDSHAKES' });
    expect(budget.held).toBe(4);
  });

  it('admits a newcomer even when strangers hold one place each from as many addresses as the total, evicting the earliest first', () => {
    const budget = new HandshakeBudget<string>(4, 4);
    for (const address of ['s1', 's2', 's3', 's4']) budget.admit(address, address);
    expect(budget.admit('client', 'client')).toMatchObject({ ok: true, evicted: { socket: 's1' } });
    // More strangers push out the earlier ones; the client's place outlasts every stranger admitted before it.
    expect(['s5', 's6', 's7'].map((address) => (budget.admit(address, address) as { evicted?: { socket: string } }).evicted?.socket)).toEqual(['s2', 's3', 's4']);
    expect((budget.admit('s8', 's8') as { evicted?: { socket: string } }).evicted?.socket).toBe('client');
  });

  it('does not count an evicted place twice when its socket closes afterwards', () => {
    const budget = new HandshakeBudget<string>(2, 2);
    const first = budget.admit('a', 'a1');
    budget.admit('a', 'a2');
    expect(budget.admit('b', 'b1')).toMatchObject({ ok: true, evicted: { socket: 'a1' } });
    if (!first.ok) throw new Error('admitted');
    first.release(); // the evicted socket's close event
    first.release();
    expect(budget.held).toBe(2);
    // a and b hold one each: b cannot take a's last place, a newcomer can.
    expect(budget.admit('b', 'b2')).toEqual({ ok: false, code: 'TOO_MANY_HANDSHAKES' });
    expect(budget.admit('c', 'c1')).toMatchObject({ ok: true, evicted: { socket: 'a2' } });
    expect(budget.held).toBe(2);
  });
});
