/**
 * The linearizability checker on histories whose verdict is known: hand-written linearizable and
 * non-linearizable ones (stale reads, lost writes, double compare-and-swap, torn scans), operations
 * with unknown outcomes, two-key transactions, per-key partitioning, the search budget, and randomly generated histories
 * that are linearizable by construction.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../runtime/rng.js';
import { checkLinearizability, describeFailure, kvModel, type HistoryOperation, type KvCommand, type KvResult, type Model } from '../../support/linearizability.js';

type Operation = HistoryOperation<KvCommand, KvResult>;

function op(clientId: string, call: number, returned: number | null, input: KvCommand, output?: KvResult): Operation {
  return { clientId, input, call, return: returned ?? Infinity, output: returned === null ? undefined : output };
}

const put = (key: string, value: string): KvCommand => ({ type: 'put', key, value });
const get = (key: string): KvCommand => ({ type: 'get', key });
const cas = (key: string, expected: string | null, value: string): KvCommand => ({ type: 'cas', key, expected, value });
const del = (key: string): KvCommand => ({ type: 'delete', key });
const scan = (start: string, end: string | null, limit = 10): KvCommand => ({ type: 'scan', start, end, limit });
const putOk: KvResult = { ok: true, type: 'put' };
const got = (value: string | null): KvResult => ({ ok: true, type: 'get', value });

function verdict(history: Operation[]): boolean | 'unknown' {
  return checkLinearizability(kvModel, history).ok;
}

describe('linearizability checker: single register', () => {
  it('accepts a sequential history that follows the model', () => {
    expect(verdict([
      op('a', 0, 1, put('x', '1'), putOk),
      op('b', 2, 3, get('x'), got('1')),
      op('a', 4, 5, put('x', '2'), putOk),
      op('b', 6, 7, get('x'), got('2')),
    ])).toBe(true);
  });

  it('accepts a read concurrent with a write seeing either the old or the new value', () => {
    const base = [op('a', 0, 1, put('x', '1'), putOk), op('a', 2, 10, put('x', '2'), putOk)];
    expect(verdict([...base, op('b', 3, 4, get('x'), got('1'))])).toBe(true);
    expect(verdict([...base, op('b', 3, 4, get('x'), got('2'))])).toBe(true);
  });

  it('rejects a stale read after the write returned', () => {
    const result = checkLinearizability(kvModel, [
      op('a', 0, 1, put('x', '1'), putOk),
      op('a', 2, 3, put('x', '2'), putOk),
      op('b', 4, 5, get('x'), got('1')),
    ]);
    expect(result.ok).toBe(false);
    expect(describeFailure(result)).toContain('not linearizable');
  });

  it('rejects two sequential reads that see a new value and then the old one again', () => {
    expect(verdict([
      op('a', 0, 1, put('x', '1'), putOk),
      op('a', 2, 20, put('x', '2'), putOk),
      op('b', 3, 4, get('x'), got('2')),
      op('c', 5, 6, get('x'), got('1')),
    ])).toBe(false);
  });

  it('rejects a read of a value nobody wrote', () => {
    expect(verdict([op('a', 0, 1, put('x', '1'), putOk), op('b', 2, 3, get('x'), got('9'))])).toBe(false);
  });

  it('treats operations that touch at one instant as concurrent', () => {
    expect(verdict([op('a', 0, 5, put('x', '1'), putOk), op('b', 5, 6, get('x'), got(null))])).toBe(true);
  });

  it('rejects two compare-and-swaps from the same value that both succeed', () => {
    const swapped = (value: string): KvResult => ({ ok: true, type: 'cas', swapped: true, current: value });
    const history = [
      op('a', 0, 1, put('x', '0'), putOk),
      op('b', 2, 5, cas('x', '0', 'b'), swapped('b')),
      op('c', 3, 6, cas('x', '0', 'c'), swapped('c')),
    ];
    expect(verdict(history)).toBe(false);
    const oneFails: Operation[] = [history[0]!, history[1]!, op('c', 3, 6, cas('x', '0', 'c'), { ok: true, type: 'cas', swapped: false, current: 'b' })];
    expect(verdict(oneFails)).toBe(true);
  });

  it('checks delete results against presence', () => {
    const deleted = (existed: boolean): KvResult => ({ ok: true, type: 'delete', existed });
    expect(verdict([op('a', 0, 1, put('x', '1'), putOk), op('a', 2, 3, del('x'), deleted(true)), op('b', 4, 5, get('x'), got(null))])).toBe(true);
    expect(verdict([op('a', 0, 1, del('x'), deleted(true))])).toBe(false);
    expect(verdict([op('a', 0, 1, put('x', '1'), putOk), op('a', 2, 3, del('x'), deleted(false))])).toBe(false);
  });

  it('accepts refused requests as having no effect', () => {
    expect(verdict([
      op('a', 0, 1, put('x', '1'), { ok: false, code: 'STALE_REQUEST', lastSequence: 3 }),
      op('b', 2, 3, get('x'), got(null)),
    ])).toBe(true);
  });
});

describe('linearizability checker: unknown outcomes', () => {
  it('lets a timed-out write take effect at any later point', () => {
    expect(verdict([op('a', 0, null, put('x', '1')), op('b', 10, 11, get('x'), got('1'))])).toBe(true);
  });

  it('lets a timed-out write never take effect', () => {
    expect(verdict([op('a', 0, null, put('x', '1')), op('b', 10, 11, get('x'), got(null))])).toBe(true);
  });

  it('does not let a timed-out write take effect before it was invoked', () => {
    expect(verdict([op('b', 0, 1, get('x'), got('1')), op('a', 5, null, put('x', '1'))])).toBe(false);
  });

  it('does not let a timed-out write take effect and then be undone', () => {
    expect(verdict([
      op('a', 0, null, put('x', '1')),
      op('b', 10, 11, get('x'), got('1')),
      op('c', 12, 13, get('x'), got(null)),
    ])).toBe(false);
  });

  it('lets a timed-out compare-and-swap apply only when its expectation holds', () => {
    expect(verdict([
      op('a', 0, 1, put('x', '0'), putOk),
      op('b', 2, null, cas('x', '0', '1')),
      op('c', 5, 6, get('x'), got('1')),
    ])).toBe(true);
    expect(verdict([
      op('a', 0, 1, put('x', '5'), putOk),
      op('b', 2, null, cas('x', '0', '1')),
      op('c', 5, 6, get('x'), got('1')),
    ])).toBe(false);
  });
});

describe('linearizability checker: scans and partitions', () => {
  const scanned = (...pairs: Array<[string, string]>): KvResult => ({ ok: true, type: 'scan', pairs: pairs.map(([key, value]) => ({ key, value })) });

  it('accepts a scan that sees a consistent cut', () => {
    expect(verdict([
      op('a', 0, 1, put('a', '1'), putOk),
      op('a', 2, 3, put('b', '1'), putOk),
      op('b', 4, 5, scan('a', null), scanned(['a', '1'], ['b', '1'])),
    ])).toBe(true);
  });

  it('rejects a scan that sees a later write but misses an earlier one', () => {
    expect(verdict([
      op('a', 0, 1, put('a', '1'), putOk),
      op('a', 2, 10, put('b', '1'), putOk),
      op('b', 3, 4, scan('a', null), scanned(['b', '1'])),
    ])).toBe(false);
  });

  it('applies the scan range and limit', () => {
    const history = [
      op('a', 0, 1, put('a', '1'), putOk),
      op('a', 2, 3, put('b', '2'), putOk),
      op('a', 4, 5, put('c', '3'), putOk),
    ];
    expect(verdict([...history, op('b', 6, 7, scan('a', 'c', 1), scanned(['a', '1']))])).toBe(true);
    expect(verdict([...history, op('b', 6, 7, scan('b', null, 5), scanned(['b', '2'], ['c', '3']))])).toBe(true);
    expect(verdict([...history, op('b', 6, 7, scan('a', 'c', 5), scanned(['a', '1'], ['b', '2'], ['c', '3']))])).toBe(false);
  });

  it('checks independent keys as separate partitions', () => {
    const result = checkLinearizability(kvModel, [
      op('a', 0, 1, put('x', '1'), putOk),
      op('b', 0, 1, put('y', '1'), putOk),
      op('c', 2, 3, get('x'), got('1')),
      op('c', 4, 5, get('y'), got('1')),
    ]);
    expect(result).toEqual({ ok: true, partitions: 2 });
  });

  it('joins the keys a scan covers into one partition', () => {
    const result = checkLinearizability(kvModel, [
      op('a', 0, 1, put('a', '1'), putOk),
      op('b', 0, 1, put('b', '1'), putOk),
      op('c', 0, 1, put('z', '1'), putOk),
      op('d', 2, 3, scan('a', 'c'), scanned(['a', '1'], ['b', '1'])),
    ]);
    expect(result).toEqual({ ok: true, partitions: 2 });
  });
});

describe('linearizability checker: search', () => {
  it('answers unknown when the budget runs out', () => {
    // Many concurrent unknown writes and a final read: a large search space for a tiny budget.
    const history: Operation[] = Array.from({ length: 10 }, (_, index) => op(`c${index}`, 0, null, put('x', `${index}`)));
    history.push(op('r', 1, 2, get('x'), got('99')));
    expect(checkLinearizability(kvModel, history, { stepsMax: 50 }).ok).toBe('unknown');
    expect(checkLinearizability(kvModel, history).ok).toBe(false);
  });

  it('refuses an operation that returns before its call', () => {
    expect(() => checkLinearizability(kvModel, [op('a', 5, 1, get('x'), got(null))])).toThrow(RangeError);
  });

  it('accepts random histories that are linearizable by construction', () => {
    // Execute operations sequentially at distinct instants, then widen each into an interval that
    // contains its instant: the instants are a valid linearization, so the checker must agree.
    for (let seed = 1; seed <= 60; seed += 1) {
      const rng = createRng(seed);
      const state = new Map<string, string>();
      const history: Operation[] = [];
      for (let step = 0; step < 40; step += 1) {
        const instant = step * 10;
        const key = ['a', 'b', 'c'][rng.int(0, 2)]!;
        const call = instant - rng.int(0, 25);
        const returned = rng.next() < 0.1 ? null : instant + rng.int(0, 25);
        const roll = rng.next();
        let input: KvCommand;
        let output: KvResult;
        if (roll < 0.4) {
          input = put(key, `${step}`);
          output = putOk;
          state.set(key, `${step}`);
        } else if (roll < 0.7) {
          input = get(key);
          output = got(state.get(key) ?? null);
        } else if (roll < 0.9) {
          const expected = rng.next() < 0.5 ? state.get(key) ?? null : 'nope';
          input = cas(key, expected, `${step}`);
          const current = state.get(key) ?? null;
          if (current === expected) state.set(key, `${step}`);
          output = { ok: true, type: 'cas', swapped: current === expected, current: current === expected ? `${step}` : current };
        } else {
          input = scan('a', null);
          output = { ok: true, type: 'scan', pairs: [...state].sort(([left], [right]) => (left < right ? -1 : 1)).map(([k, value]) => ({ key: k, value })) };
        }
        // An unknown read constrains nothing, so it is left out, as the simulation's clients do.
        if (returned === null && (input.type === 'get' || input.type === 'scan')) continue;
        history.push(op(`c${step % 5}`, call, returned, input, output));
      }
      const result = checkLinearizability(kvModel, history);
      expect(result.ok, `seed ${seed}: ${describeFailure(result)}`).toBe(true);
    }
  });

  it('works with any model: a counter whose increments return the new value', () => {
    const counter: Model<number, 'increment', number> = {
      init: () => 0,
      step: (state, _input, output) => (output === undefined || output === state + 1 ? state + 1 : null),
      key: (state) => String(state),
    };
    const increment = (clientId: string, call: number, returned: number, output: number): HistoryOperation<'increment', number> =>
      ({ clientId, input: 'increment', call, return: returned, output });
    expect(checkLinearizability(counter, [increment('a', 0, 10, 2), increment('b', 1, 3, 1)]).ok).toBe(true);
    expect(checkLinearizability(counter, [increment('a', 0, 1, 2), increment('b', 2, 3, 1)]).ok).toBe(false);
  });
});

describe('linearizability checker: two-key transactions', () => {
  const pair = (expected: string | null, first: string, second: string): KvCommand => ({ type: 'pair', first: 'c', second: 'd', expected, values: [first, second] });
  const swapped = (first: string, second: string): KvResult => ({ ok: true, type: 'pair', swapped: true, current: [first, second] });
  const kept = (first: string | null, second: string | null): KvResult => ({ ok: true, type: 'pair', swapped: false, current: [first, second] });

  it('accepts a swap seen whole by a later read of both keys', () => {
    expect(verdict([
      op('a', 0, 1, pair(null, '1', '1/2'), swapped('1', '1/2')),
      op('b', 2, 3, get('c'), got('1')),
      op('b', 4, 5, get('d'), got('1/2')),
      op('b', 6, 7, pair('x', 'y', 'z'), kept('1', '1/2')),
    ])).toBe(true);
  });

  it('rejects a transaction whose two writes are seen apart (half applied)', () => {
    expect(verdict([
      op('a', 0, 1, pair(null, '1', '1/2'), swapped('1', '1/2')),
      op('b', 2, 3, pair('none', 'x', 'y'), kept('1', null)),
    ])).toBe(false);
  });

  it('rejects a swap that claims success although the compare could not hold', () => {
    expect(verdict([
      op('a', 0, 1, put('c', '5'), putOk),
      op('b', 2, 3, pair(null, '1', '1/2'), swapped('1', '1/2')),
    ])).toBe(false);
  });

  it('ties the two keys into one partition with the single-key operations on them', () => {
    // Alone, each get is fine; together with the transaction between them they are not.
    expect(verdict([
      op('b', 0, 1, get('d'), got(null)),
      op('a', 2, 3, pair(null, '1', '1/2'), swapped('1', '1/2')),
      op('b', 4, 5, get('c'), got(null)),
    ])).toBe(false);
  });
});
