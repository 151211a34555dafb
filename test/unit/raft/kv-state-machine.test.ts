/**
 * The replicated KV state machine: typed results for every command, exactly-once client requests
 * (Raft thesis 6.3), bounded sessions evicted the same way on every replica, snapshots as plain data,
 * and typed rejection of malformed entries.
 */
import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../../runtime/errors.js';
import { codec } from '../../../runtime/codec.js';
import { KvStateMachine, decodeKvRequest, decodeKvSnapshot, encodeKvRequest, encodeKvSnapshot, type KvCommand, type KvRequest } from '../../../actors/raft/index.js';

function request(clientId: string, sequence: number, command: KvCommand): KvRequest {
  return { clientId, sequence, command };
}

describe('KV state machine', () => {
  it('answers put, get, delete, cas and scan with typed results', () => {
    const machine = new KvStateMachine();
    let index = 0;
    const apply = (command: KvCommand) => machine.apply(++index, request('c', index, command)).result;
    expect(apply({ type: 'put', key: 'b', value: '1' })).toEqual({ ok: true, type: 'put' });
    expect(apply({ type: 'get', key: 'b' })).toEqual({ ok: true, type: 'get', value: '1' });
    expect(apply({ type: 'get', key: 'zz' })).toEqual({ ok: true, type: 'get', value: null });
    expect(apply({ type: 'cas', key: 'b', expected: '0', value: '2' })).toEqual({ ok: true, type: 'cas', swapped: false, current: '1' });
    expect(apply({ type: 'cas', key: 'b', expected: '1', value: '2' })).toEqual({ ok: true, type: 'cas', swapped: true, current: '2' });
    expect(apply({ type: 'cas', key: 'new', expected: null, value: 'n' })).toEqual({ ok: true, type: 'cas', swapped: true, current: 'n' });
    apply({ type: 'put', key: 'a', value: 'A' });
    apply({ type: 'put', key: 'c', value: 'C' });
    expect(apply({ type: 'scan', start: 'a', end: 'c', limit: 10 })).toEqual({ ok: true, type: 'scan', pairs: [{ key: 'a', value: 'A' }, { key: 'b', value: '2' }] });
    expect(apply({ type: 'scan', start: 'b', end: null, limit: 2 })).toEqual({ ok: true, type: 'scan', pairs: [{ key: 'b', value: '2' }, { key: 'c', value: 'C' }] });
    expect(apply({ type: 'delete', key: 'b' })).toEqual({ ok: true, type: 'delete', existed: true });
    expect(apply({ type: 'delete', key: 'b' })).toEqual({ ok: true, type: 'delete', existed: false });
    expect(machine.appliedIndex).toBe(index);
  });

  it('applies a retried request once and answers the retry with the first result', () => {
    const machine = new KvStateMachine();
    machine.apply(1, request('c', 1, { type: 'put', key: 'k', value: 'v1' }));
    const first = machine.apply(2, request('c', 2, { type: 'cas', key: 'k', expected: 'v1', value: 'v2' }));
    // The same request committed again (a retry through another leader) must not apply a second time.
    const retry = machine.apply(3, request('c', 2, { type: 'cas', key: 'k', expected: 'v1', value: 'v2' }));
    expect(first).toEqual({ result: { ok: true, type: 'cas', swapped: true, current: 'v2' }, duplicate: false });
    expect(retry).toEqual({ result: first.result, duplicate: true });
    machine.apply(4, request('other', 1, { type: 'put', key: 'k', value: 'x' }));
    const late = machine.apply(5, request('c', 2, { type: 'cas', key: 'k', expected: 'v1', value: 'v2' }));
    expect(late.result).toEqual(first.result);
    expect(machine.read({ type: 'get', key: 'k' })).toEqual({ ok: true, type: 'get', value: 'x' });
  });

  it('refuses a request older than the client\'s last one without applying it', () => {
    const machine = new KvStateMachine();
    machine.apply(1, request('c', 5, { type: 'put', key: 'k', value: 'new' }));
    expect(machine.apply(2, request('c', 4, { type: 'put', key: 'k', value: 'old' })).result).toEqual({ ok: false, code: 'STALE_REQUEST', lastSequence: 5 });
    expect(machine.read({ type: 'get', key: 'k' })).toMatchObject({ value: 'new' });
  });

  it('forgets the least recently active session past sessionsMax, identically on every replica', () => {
    const build = () => {
      const machine = new KvStateMachine({ sessionsMax: 2 });
      machine.apply(1, request('x', 1, { type: 'put', key: 'k', value: '1' }));
      machine.apply(2, request('y', 1, { type: 'put', key: 'k', value: '2' }));
      machine.apply(3, request('x', 2, { type: 'put', key: 'k', value: '3' }));
      machine.apply(4, request('z', 1, { type: 'put', key: 'k', value: '4' }));
      return machine;
    };
    const one = build();
    const two = build();
    expect(one.snapshot()).toEqual(two.snapshot());
    expect(one.snapshot().sessions.map((session) => session.clientId)).toEqual(['x', 'z']);
  });

  it('round-trips through a snapshot, sessions included', () => {
    const machine = new KvStateMachine();
    machine.apply(1, request('c', 1, { type: 'put', key: 'b', value: '2' }));
    machine.apply(2, request('c', 2, { type: 'put', key: 'a', value: '1' }));
    machine.skip(3);
    const snapshot = machine.snapshot();
    expect(snapshot).toEqual({
      appliedIndex: 3,
      pairs: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }],
      sessions: [{ clientId: 'c', sequence: 2, result: { ok: true, type: 'put' }, lastIndex: 2 }],
    });
    const restored = KvStateMachine.restore(decodeKvSnapshot(encodeKvSnapshot(snapshot)));
    expect(restored.snapshot()).toEqual(snapshot);
    // Identical bytes, so replicas can compare snapshots taken at the same index.
    expect(encodeKvSnapshot(restored.snapshot())).toEqual(encodeKvSnapshot(machine.snapshot()));
    expect(restored.apply(4, request('c', 2, { type: 'put', key: 'a', value: 'again' })).duplicate).toBe(true);
  });

  it('applies entries in log order, once', () => {
    const machine = new KvStateMachine();
    machine.skip(2);
    expect(() => machine.skip(2)).toThrow(InvariantError);
    expect(() => machine.apply(1, request('c', 1, { type: 'get', key: 'k' }))).toThrow(InvariantError);
  });

  it('turns malformed requests into INVALID_REQUEST results without touching state', () => {
    const machine = new KvStateMachine({ keyLengthMax: 4, scanLimitMax: 5 });
    const invalid = [
      request('', 1, { type: 'get', key: 'k' }),
      request('c', 0, { type: 'get', key: 'k' }),
      request('c', 1, { type: 'put', key: 'toolong', value: 'v' }),
      request('c', 1, { type: 'scan', start: 'a', end: null, limit: 50 }),
      request('c', 1, { type: 'nope' } as unknown as KvCommand),
    ];
    invalid.forEach((item, position) => {
      expect(machine.apply(position + 1, item).result).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
    });
    expect(machine.snapshot().pairs).toEqual([]);
    expect(machine.snapshot().sessions).toEqual([]);
  });
});

describe('KV entry codec', () => {
  it('round-trips a request', () => {
    const original = request('c', 3, { type: 'cas', key: 'k', expected: null, value: 'v' });
    expect(decodeKvRequest(encodeKvRequest(original))).toEqual({ ok: true, request: original });
  });

  it('rejects bytes that are not a request with a reason, never a throw', () => {
    expect(decodeKvRequest(new Uint8Array([0xff, 0x00, 0x13]))).toMatchObject({ ok: false });
    expect(decodeKvRequest(codec.encode({ clientId: 'c', sequence: -1, command: { type: 'get', key: 'k' } }))).toMatchObject({ ok: false, reason: expect.stringContaining('sequence') });
    expect(decodeKvRequest(codec.encode([1, 2, 3]))).toMatchObject({ ok: false });
    expect(() => decodeKvSnapshot(codec.encode({ nope: true }))).toThrow(/not a KV snapshot/);
  });
});
