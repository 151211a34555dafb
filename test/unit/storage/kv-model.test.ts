/**
 * The key-value model (actors/storage/kv-model.ts), after etcd's v3 semantics: one revision per
 * transaction that writes, per-key create/mod revision and version, compares on value, version and
 * revisions (a missing key has version 0), ops seeing earlier ops of their transaction, ranges with
 * limit, count, keys-only and `more`, delete-range, events per revision with bounded history and
 * compaction, and leases whose revoke deletes their keys at one revision. Validation refuses bad input
 * with a reason.
 */
import { describe, expect, it } from 'vitest';
import {
  compareBytes, executeKvCommand, hex, inRange, initialModelState, kvLimits, prefixRangeEnd, validateKvCommand,
  type KvCommand, type KvEvent, type KvKeyValue, type KvLease, type KvLimits, type KvModelState, type KvMutation, type KvOp, type KvView,
} from '../../../actors/storage/index.js';

const text = new TextEncoder();
const bytes = (value: string): Uint8Array => text.encode(value);

/** The model's state in plain maps, with the model's mutations applied to it. */
class Harness implements KvView {
  readonly keys = new Map<string, KvKeyValue>();
  readonly leases = new Map<number, KvLease>();
  readonly attached = new Map<number, Set<string>>();
  readonly events = new Map<number, readonly KvEvent[]>();
  state: KvModelState = initialModelState;
  constructor(readonly limits: KvLimits = kvLimits) {}

  get(key: Uint8Array): KvKeyValue | undefined { return this.keys.get(hex(key)); }
  range(key: Uint8Array, rangeEnd: Uint8Array | undefined, limit: number): KvKeyValue[] {
    return [...this.keys.values()].filter((kv) => inRange(kv.key, key, rangeEnd)).sort((left, right) => compareBytes(left.key, right.key)).slice(0, limit);
  }
  lease(id: number): KvLease | undefined { return this.leases.get(id); }
  leaseKeys(id: number, limit: number): Uint8Array[] {
    return [...(this.attached.get(id) ?? [])].slice(0, limit).map((name) => this.keys.get(name)!.key);
  }

  run(command: KvCommand) {
    const checked = validateKvCommand(command, this.limits);
    if (!checked.ok) throw new Error(checked.reason);
    const execution = executeKvCommand(this, this.state, checked.value, this.limits);
    for (const mutation of execution.mutations) this.#apply(mutation);
    this.state = execution.state;
    return execution.result;
  }

  txn(success: KvOp[], compare: Extract<KvCommand, { type: 'txn' }>['txn']['compare'] = [], failure: KvOp[] = []) {
    return this.run({ type: 'txn', txn: { compare, success, failure } });
  }

  #apply(mutation: KvMutation): void {
    switch (mutation.type) {
      case 'putKey':
        this.keys.set(hex(mutation.kv.key), mutation.kv);
        if (mutation.previousLease !== 0) this.attached.get(mutation.previousLease)?.delete(hex(mutation.kv.key));
        if (mutation.kv.lease !== 0) this.attached.set(mutation.kv.lease, (this.attached.get(mutation.kv.lease) ?? new Set()).add(hex(mutation.kv.key)));
        break;
      case 'deleteKey':
        this.keys.delete(hex(mutation.key));
        this.attached.get(mutation.previousLease)?.delete(hex(mutation.key));
        break;
      case 'putLease': this.leases.set(mutation.lease.id, mutation.lease); break;
      case 'deleteLease': this.leases.delete(mutation.id); this.attached.delete(mutation.id); break;
      case 'putEvents': this.events.set(mutation.revision, mutation.events); break;
      case 'deleteEvents': this.events.delete(mutation.revision); break;
    }
  }
}

const put = (key: string, value: string, options: { lease?: number; prevKv?: boolean } = {}): KvOp => ({ type: 'put', key: bytes(key), value: bytes(value), ...options });
const range = (key: string, options: Partial<Extract<KvOp, { type: 'range' }>> = {}): KvOp => ({ type: 'range', key: bytes(key), ...options });

describe('key-value model', () => {
  it('moves the revision once per writing transaction; all its changes share it; a read-only one leaves it', () => {
    const model = new Harness();
    expect(model.state.revision).toBe(1);
    expect(model.txn([put('a', '1'), put('b', '2')])).toMatchObject({ ok: true, revision: 2, succeeded: true });
    expect(model.get(bytes('a'))).toMatchObject({ createRevision: 2, modRevision: 2, version: 1 });
    expect(model.get(bytes('b'))).toMatchObject({ createRevision: 2, modRevision: 2, version: 1 });
    expect(model.txn([range('a')])).toMatchObject({ revision: 2 });
    expect(model.txn([put('a', '3')])).toMatchObject({ revision: 3 });
    expect(model.get(bytes('a'))).toMatchObject({ createRevision: 2, modRevision: 3, version: 2 });
    expect(model.events.get(2)!.map((event) => event.type)).toEqual(['put', 'put']);
    // A delete that finds nothing writes nothing.
    expect(model.txn([{ type: 'deleteRange', key: bytes('zz') }])).toMatchObject({ revision: 3, responses: [{ type: 'deleteRange', deleted: 0 }] });
    expect(model.txn([{ type: 'deleteRange', key: bytes('a') }])).toMatchObject({ revision: 4, responses: [{ type: 'deleteRange', deleted: 1 }] });
    expect(model.events.get(4)).toEqual([{ type: 'delete', kv: { key: bytes('a'), value: new Uint8Array(0), createRevision: 0, modRevision: 4, version: 0, lease: 0 } }]);
    // Created again: a new create revision and version 1.
    model.txn([put('a', 'again')]);
    expect(model.get(bytes('a'))).toMatchObject({ createRevision: 5, version: 1 });
  });

  it('compares value, version, create and mod revision with =, !=, <, >; a missing key has version 0 and fails value compares', () => {
    const model = new Harness();
    model.txn([put('k', 'm')]);
    const holds = (compare: Extract<KvCommand, { type: 'txn' }>['txn']['compare'][number]): boolean => {
      const result = model.txn([], [compare]);
      return result.ok && result.type === 'txn' && result.succeeded;
    };
    const key = bytes('k');
    expect(holds({ key, target: 'value', operator: '=', value: bytes('m') })).toBe(true);
    expect(holds({ key, target: 'value', operator: '<', value: bytes('n') })).toBe(true);
    expect(holds({ key, target: 'value', operator: '>', value: bytes('n') })).toBe(false);
    expect(holds({ key, target: 'value', operator: '!=', value: bytes('m') })).toBe(false);
    expect(holds({ key, target: 'version', operator: '=', value: 1 })).toBe(true);
    expect(holds({ key, target: 'createRevision', operator: '=', value: 2 })).toBe(true);
    expect(holds({ key, target: 'modRevision', operator: '>', value: 1 })).toBe(true);
    const missing = bytes('missing');
    expect(holds({ key: missing, target: 'version', operator: '=', value: 0 })).toBe(true);
    expect(holds({ key: missing, target: 'value', operator: '!=', value: bytes('x') })).toBe(false);
    const result = model.txn([put('k', 'ok')], [{ key: missing, target: 'version', operator: '>', value: 0 }], [range('k')]);
    expect(result).toMatchObject({ succeeded: false, responses: [{ type: 'range', count: 1 }] });
  });

  it('lets a later op see the writes of earlier ops of its transaction, and refuses writing a key twice', () => {
    const model = new Harness();
    model.txn([put('p/1', 'a')]);
    const result = model.txn([put('p/2', 'b'), { type: 'deleteRange', key: bytes('p/1') }, range('p/', { rangeEnd: prefixRangeEnd(bytes('p/')) })]);
    expect(result).toMatchObject({ revision: 3, responses: [{ type: 'put' }, { type: 'deleteRange', deleted: 1 }, { type: 'range', count: 1, kvs: [{ key: bytes('p/2') }] }] });
    expect(model.txn([put('x', '1'), put('x', '2')])).toMatchObject({ ok: false, code: 'INVALID_REQUEST' });
    expect(model.get(bytes('x'))).toBeUndefined();
    expect(model.state.revision).toBe(3);
  });

  it('ranges in byte order with limit, more, count, keys-only, count-only, prefix and to-the-end', () => {
    const model = new Harness();
    const names = ['a', 'a/1', 'a/2', 'a/3', 'b', '\uFFFD', '\u{1F600}'];
    model.txn(names.map((name, position) => put(name, `v${position}`)));
    const all = model.txn([range('a', { rangeEnd: Uint8Array.of(0) })]);
    expect(all.ok && all.type === 'txn' && all.responses[0]!.type === 'range' ? all.responses[0]!.kvs.map((kv) => new TextDecoder().decode(kv.key)) : []).toEqual(names);
    expect(model.txn([range('a/', { rangeEnd: prefixRangeEnd(bytes('a/')), limit: 2 })])).toMatchObject({ responses: [{ more: true, count: 3, kvs: [{ key: bytes('a/1') }, { key: bytes('a/2') }] }] });
    expect(model.txn([range('a/', { rangeEnd: prefixRangeEnd(bytes('a/')), countOnly: true })])).toMatchObject({ responses: [{ count: 3, kvs: [], more: false }] });
    expect(model.txn([range('b', { keysOnly: true })])).toMatchObject({ responses: [{ kvs: [{ key: bytes('b'), value: new Uint8Array(0), version: 1 }] }] });
    expect(prefixRangeEnd(Uint8Array.of(0x61, 0xff))).toEqual(Uint8Array.of(0x62));
    expect(prefixRangeEnd(Uint8Array.of(0xff))).toEqual(Uint8Array.of(0));
  });

  it('refuses a range or delete-range covering more keys than rangeScanKeysMax, changing nothing', () => {
    const model = new Harness({ ...kvLimits, rangeScanKeysMax: 3 });
    model.txn(['a', 'b', 'c', 'd'].map((name) => put(name, name)));
    expect(model.txn([range('a', { rangeEnd: Uint8Array.of(0) })])).toMatchObject({ ok: false, code: 'RANGE_TOO_LARGE' });
    expect(model.txn([{ type: 'deleteRange', key: bytes('a'), rangeEnd: Uint8Array.of(0) }])).toMatchObject({ ok: false, code: 'RANGE_TOO_LARGE' });
    expect(model.keys.size).toBe(4);
  });

  it('returns previous values on put and delete-range when asked', () => {
    const model = new Harness();
    model.txn([put('k', 'old')]);
    expect(model.txn([put('k', 'new', { prevKv: true })])).toMatchObject({ responses: [{ type: 'put', prevKv: { value: bytes('old'), version: 1 } }] });
    expect(model.txn([{ type: 'deleteRange', key: bytes('k'), prevKv: true }])).toMatchObject({ responses: [{ deleted: 1, prevKvs: [{ value: bytes('new'), version: 2 }] }] });
  });

  it('keeps eventsKeptMax revisions of events and compacts older ones; compact(revision) drops more', () => {
    const model = new Harness({ ...kvLimits, eventsKeptMax: 3 });
    for (let round = 0; round < 5; round += 1) model.txn([put('k', `${round}`)]);
    expect(model.state.revision).toBe(6);
    expect([...model.events.keys()].sort()).toEqual([4, 5, 6]);
    expect(model.state.compactRevision).toBe(3);
    expect(model.run({ type: 'compact', revision: 5 })).toEqual({ ok: true, type: 'compact', revision: 6, compactRevision: 5 });
    expect([...model.events.keys()]).toEqual([6]);
    expect(model.run({ type: 'compact', revision: 4 })).toMatchObject({ ok: false, code: 'COMPACTED' });
    expect(model.run({ type: 'compact', revision: 9 })).toMatchObject({ ok: false, code: 'FUTURE_REVISION' });
  });

  it('grants leases, attaches keys, and deletes every attached key at one revision on revoke', () => {
    const model = new Harness({ ...kvLimits, leaseKeysMax: 2 });
    const grant = model.run({ type: 'leaseGrant', ttlMs: 5_000 });
    expect(grant).toEqual({ ok: true, type: 'leaseGrant', revision: 1, lease: 1, ttlMs: 5_000 });
    expect(model.txn([put('a', '1', { lease: 9 })])).toMatchObject({ ok: false, code: 'LEASE_NOT_FOUND' });
    model.txn([put('a', '1', { lease: 1 }), put('b', '2', { lease: 1 })]);
    expect(model.txn([put('c', '3', { lease: 1 })])).toMatchObject({ ok: false, code: 'LEASE_FULL' });
    // Re-putting b without the lease detaches it.
    model.txn([put('b', '2b')]);
    expect(model.lease(1)).toMatchObject({ keys: 1 });
    expect(model.run({ type: 'leaseRevoke', lease: 1 })).toEqual({ ok: true, type: 'leaseRevoke', revision: 4, deleted: 1 });
    expect(model.get(bytes('a'))).toBeUndefined();
    expect(model.get(bytes('b'))).toBeDefined();
    expect(model.events.get(4)).toMatchObject([{ type: 'delete', kv: { key: bytes('a'), modRevision: 4 } }]);
    expect(model.run({ type: 'leaseRevoke', lease: 1 })).toMatchObject({ ok: false, code: 'LEASE_NOT_FOUND' });
    expect(model.state.leases).toBe(0);
  });

  it('refuses malformed commands with a reason', () => {
    const refusals: unknown[] = [
      null, { type: 'nope' }, { type: 'txn', txn: { success: [{ type: 'put', key: 'text', value: new Uint8Array() }] } },
      { type: 'txn', txn: { success: [{ type: 'put', key: new Uint8Array(), value: new Uint8Array() }] } },
      { type: 'txn', txn: { compare: [{ key: bytes('k'), target: 'version', operator: '~', value: 1 }] } },
      { type: 'txn', txn: { compare: [{ key: bytes('k'), target: 'lease', operator: '=', value: 1 }] } },
      { type: 'txn', txn: { success: Array.from({ length: kvLimits.txnOpsMax + 1 }, () => ({ type: 'range', key: bytes('k') })) } },
      { type: 'txn', txn: { success: [{ type: 'put', key: new Uint8Array(kvLimits.keyBytesMax + 1), value: new Uint8Array() }] } },
      { type: 'leaseGrant', ttlMs: 1 }, { type: 'leaseRevoke', lease: 0 }, { type: 'compact', revision: -1 },
    ];
    for (const input of refusals) expect(validateKvCommand(input, kvLimits)).toMatchObject({ ok: false, reason: expect.any(String) });
    expect(validateKvCommand({ type: 'txn', txn: { success: [{ type: 'range', key: bytes('k'), extra: 1 }] }, extra: true }, kvLimits)).toEqual({ ok: true, value: { type: 'txn', txn: { compare: [], success: [{ type: 'range', key: bytes('k') }], failure: [] } } });
  });
});
