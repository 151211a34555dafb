/**
 * The replicated KV state machine: the session layer (exactly-once client requests, Raft thesis 6.3)
 * over the storage model, text operations translated to and from model transactions, bounded sessions
 * evicted the same way on every replica, snapshots as plain data, and typed rejection of malformed
 * entries.
 */
import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../../runtime/errors.js';
import { codec } from '../../../runtime/codec.js';
import {
  KvStateMachine, decideSession, decodeKvRequest, decodeKvSnapshot, encodeKvRequest, encodeKvSnapshot, textCommand, textResult,
  type KvRequest, type KvTextCommand,
} from '../../../actors/raft/index.js';

function request(clientId: string, sequence: number, command: KvTextCommand): KvRequest {
  return { clientId, sequence, command: textCommand(command) };
}

/** Applies a text operation and translates its result back. */
function applyText(machine: KvStateMachine, index: number, clientId: string, sequence: number, command: KvTextCommand) {
  const applied = machine.apply(index, request(clientId, sequence, command));
  return { result: textResult(command, applied.result), duplicate: applied.duplicate };
}

const readText = (machine: KvStateMachine, command: KvTextCommand) => textResult(command, machine.read({ command: textCommand(command) }));

describe('KV state machine', () => {
  it('answers put, get, delete, cas and scan with typed results', () => {
    const machine = new KvStateMachine();
    let index = 0;
    const apply = (command: KvTextCommand) => applyText(machine, ++index, 'c', index, command).result;
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

  it('scans text keys in the byte order of their UTF-8 (U+FFFD before an emoji, as LevelDB orders them)', () => {
    const machine = new KvStateMachine();
    // UTF-16 code units put the emoji (a surrogate pair, 0xD83D...) before U+FFFD; UTF-8 bytes put it after.
    applyText(machine, 1, 'c', 1, { type: 'put', key: '\u{1F600}', value: 'emoji' });
    applyText(machine, 2, 'c', 2, { type: 'put', key: '\uFFFD', value: 'replacement' });
    expect(readText(machine, { type: 'scan', start: '', end: null, limit: 10 })).toEqual({
      ok: true, type: 'scan', pairs: [{ key: '\uFFFD', value: 'replacement' }, { key: '\u{1F600}', value: 'emoji' }],
    });
  });

  it('applies a retried request once and answers the retry with the first result (thesis 6.3)', () => {
    const machine = new KvStateMachine();
    applyText(machine, 1, 'c', 1, { type: 'put', key: 'k', value: 'v1' });
    const first = machine.apply(2, request('c', 2, { type: 'cas', key: 'k', expected: 'v1', value: 'v2' }));
    // The same request committed again (a retry through another leader) must not apply a second time.
    const retry = machine.apply(3, request('c', 2, { type: 'cas', key: 'k', expected: 'v1', value: 'v2' }));
    expect(first).toMatchObject({ result: { ok: true, type: 'txn', succeeded: true }, duplicate: false });
    expect(retry).toEqual({ result: first.result, duplicate: true });
    applyText(machine, 4, 'other', 1, { type: 'put', key: 'k', value: 'x' });
    const late = machine.apply(5, request('c', 2, { type: 'cas', key: 'k', expected: 'v1', value: 'v2' }));
    expect(late.result).toEqual(first.result);
    expect(readText(machine, { type: 'get', key: 'k' })).toEqual({ ok: true, type: 'get', value: 'x' });
  });

  it('refuses a request older than the client\'s last one without applying it', () => {
    const machine = new KvStateMachine();
    applyText(machine, 1, 'c', 5, { type: 'put', key: 'k', value: 'new' });
    expect(machine.apply(2, request('c', 4, { type: 'put', key: 'k', value: 'old' })).result).toEqual({ ok: false, code: 'STALE_REQUEST', lastSequence: 5 });
    expect(readText(machine, { type: 'get', key: 'k' })).toMatchObject({ value: 'new' });
  });

  it('applies a request without a session every time it commits (the replicas\' own idempotent commands)', () => {
    expect(decideSession(undefined, { command: { type: 'leaseRevoke', lease: 1 } })).toEqual({ kind: 'execute' });
    const machine = new KvStateMachine();
    const grant = machine.apply(1, { clientId: 'c', sequence: 1, command: { type: 'leaseGrant', ttlMs: 1_000 } });
    expect(grant.result).toMatchObject({ ok: true, type: 'leaseGrant', lease: 1 });
    expect(machine.apply(2, { command: { type: 'leaseRevoke', lease: 1 } }).result).toMatchObject({ ok: true, type: 'leaseRevoke' });
    expect(machine.apply(3, { command: { type: 'leaseRevoke', lease: 1 } }).result).toMatchObject({ ok: false, code: 'LEASE_NOT_FOUND' });
  });

  it('forgets the least recently active session past sessionsMax, identically on every replica', () => {
    const build = () => {
      const machine = new KvStateMachine({ sessionsMax: 2 });
      applyText(machine, 1, 'x', 1, { type: 'put', key: 'k', value: '1' });
      applyText(machine, 2, 'y', 1, { type: 'put', key: 'k', value: '2' });
      applyText(machine, 3, 'x', 2, { type: 'put', key: 'k', value: '3' });
      applyText(machine, 4, 'z', 1, { type: 'put', key: 'k', value: '4' });
      return machine;
    };
    const one = build();
    const two = build();
    expect(one.snapshot()).toEqual(two.snapshot());
    // x is remembered; y was forgotten, so its old sequence is applied again rather than answered.
    expect(one.apply(5, request('x', 2, { type: 'put', key: 'k', value: '6' })).duplicate).toBe(true);
    expect(one.apply(6, request('y', 1, { type: 'put', key: 'k', value: '5' })).duplicate).toBe(false);
  });

  it('round-trips through a snapshot, sessions and revisions included', async () => {
    const machine = new KvStateMachine();
    applyText(machine, 1, 'c', 1, { type: 'put', key: 'b', value: '2' });
    applyText(machine, 2, 'c', 2, { type: 'put', key: 'a', value: '1' });
    machine.skip(3);
    const snapshot = machine.snapshot();
    expect(snapshot.appliedIndex).toBe(3);
    const restored = KvStateMachine.restore(decodeKvSnapshot(encodeKvSnapshot(snapshot)));
    expect(restored.snapshot().pairs.map((pair) => Buffer.from(pair.key).toString('hex'))).toEqual(snapshot.pairs.map((pair) => Buffer.from(pair.key).toString('hex')));
    expect(restored.modelState).toEqual(machine.modelState);
    // Identical bytes, so replicas can compare snapshots taken at the same index.
    expect(encodeKvSnapshot(restored.snapshot())).toEqual(encodeKvSnapshot(machine.snapshot()));
    expect((await restored.digest()).digest).toBe((await machine.digest()).digest);
    expect(restored.apply(4, request('c', 2, { type: 'put', key: 'a', value: 'again' })).duplicate).toBe(true);
  });

  it('applies entries in log order, once', () => {
    const machine = new KvStateMachine();
    machine.skip(2);
    expect(() => machine.skip(2)).toThrow(InvariantError);
    expect(() => machine.apply(1, request('c', 1, { type: 'get', key: 'k' }))).toThrow(InvariantError);
  });
});

describe('KV entry codec', () => {
  it('round-trips a request', () => {
    const original = request('c', 3, { type: 'cas', key: 'k', expected: null, value: 'v' });
    expect(decodeKvRequest(encodeKvRequest(original))).toEqual({ ok: true, request: original });
  });

  it('rejects bytes that are not a request with a reason, never a throw', () => {
    expect(decodeKvRequest(new Uint8Array([0xff, 0x00, 0x13]))).toMatchObject({ ok: false });
    expect(decodeKvRequest(codec.encode({ clientId: 'c', sequence: -1, command: textCommand({ type: 'get', key: 'k' }) }))).toMatchObject({ ok: false, reason: expect.stringContaining('sequence') });
    expect(decodeKvRequest(codec.encode({ clientId: 'c', sequence: 1, command: { type: 'txn', txn: { success: [{ type: 'put', key: 'text', value: new Uint8Array(1) }] } } }))).toMatchObject({ ok: false, reason: expect.stringContaining('bytes') });
    expect(decodeKvRequest(codec.encode({ clientId: 'c', sequence: 1, command: { type: 'nope' } }))).toMatchObject({ ok: false });
    expect(decodeKvRequest(codec.encode([1, 2, 3]))).toMatchObject({ ok: false });
    expect(() => decodeKvSnapshot(codec.encode({ nope: true }))).toThrow(/not a KV snapshot/);
  });
});
