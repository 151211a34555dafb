/**
 * Validation of Raft messages from the network (actors/raft/wire.ts) and of client requests
 * (kv-service.ts): every well-formed message passes unchanged, every malformed one is refused with a
 * reason, and no input (random mutations included) makes validation throw.
 */
import { describe, expect, it } from 'vitest';
import { checkMessage, parseServiceRequest, type Message } from '../../../actors/raft/index.js';
import { createRng } from '../../../runtime/index.js';

const header = { from: 'a', to: 'b', term: 3 };
const meta = { index: 10, term: 2, membership: { voters: ['a', 'b', 'c'], learners: [] } };
const valid: Message[] = [
  { ...header, type: 'raft.preVote', lastLogIndex: 5, lastLogTerm: 2 },
  { ...header, type: 'raft.vote', lastLogIndex: 5, lastLogTerm: 2, transfer: false },
  { ...header, type: 'raft.voteResponse', reject: true },
  { ...header, type: 'raft.preVoteResponse', reject: false },
  {
    ...header, type: 'raft.append', prevLogIndex: 4, prevLogTerm: 2, commit: 4,
    entries: [{ type: 'normal', term: 3, index: 5, data: Uint8Array.of(1, 2) }, { type: 'membership', term: 3, index: 6, change: { type: 'addLearner', node: 'd' } }],
  },
  { ...header, type: 'raft.appendResponse', reject: false, index: 6, hintIndex: 0, hintTerm: 0 },
  { ...header, type: 'raft.heartbeat', commit: 4, readContext: null },
  { ...header, type: 'raft.heartbeatResponse', readContext: 'ctx-1' },
  { ...header, type: 'raft.snapshot', meta, chunkIndex: 0, chunkCount: 2, totalBytes: 10, data: Uint8Array.of(1, 2, 3) },
  { ...header, type: 'raft.snapshotResponse', snapshotIndex: 10, nextChunk: 1 },
  { ...header, type: 'raft.timeoutNow' },
  { ...header, term: 0, type: 'raft.propose', data: Uint8Array.of(9) },
  { ...header, term: 0, type: 'raft.readIndex', context: 'ctx-2' },
  { ...header, type: 'raft.readIndexResponse', context: 'ctx-2', index: 7 },
  { ...header, type: 'raft.append', prevLogIndex: 6, prevLogTerm: 3, commit: 6, entries: [], commitOnly: true },
];

describe('raft message validation', () => {
  it('accepts every well-formed message unchanged', () => {
    for (const message of valid) expect(checkMessage(message)).toEqual({ ok: true, message });
  });

  it('refuses malformed messages with a reason', () => {
    const refused = [
      null, 'raft.vote', [], { type: 'raft.nope', ...header },
      { ...valid[0], term: -1 }, { ...valid[0], from: '' }, { ...valid[1], transfer: 'yes' },
      { ...valid[4], entries: [{ type: 'normal', term: 3, index: 5, data: 'text' }] },
      { ...valid[4], entries: [{ type: 'normal', term: 3, index: 6, data: Uint8Array.of(1) }] },
      { ...valid[4], entries: [{ type: 'normal', term: 3, index: 5, data: Uint8Array.of(1) }, { type: 'normal', term: 3, index: 7, data: Uint8Array.of(1) }] },
      { ...valid[4], entries: [{ type: 'membership', term: 3, index: 5, change: { type: 'promoteEveryone', node: 'x' } }] },
      { ...valid[8], meta: { ...meta, membership: { voters: 'a' } } },
      { ...valid[6], readContext: 7 },
      { ...valid[6], to: 'x'.repeat(300) },
      { ...valid[4], commitOnly: true }, { ...valid[4], entries: [], commitOnly: false }, { ...valid[4], entries: [], commitOnly: 1 },
    ];
    for (const message of refused) {
      const checked = checkMessage(message);
      expect(checked.ok, JSON.stringify(message)).toBe(false);
    }
  });

  it('never throws on random mutations of valid messages', () => {
    const rng = createRng(7);
    const junk = [null, undefined, -1, 1.5, 'x', '', [], {}, Uint8Array.of(1), Number.MAX_SAFE_INTEGER + 2, true];
    for (let round = 0; round < 5_000; round += 1) {
      const message: Record<string, unknown> = { ...valid[rng.int(0, valid.length - 1)]! };
      const keys = Object.keys(message);
      const key = keys[rng.int(0, keys.length - 1)]!;
      message[key] = junk[rng.int(0, junk.length - 1)];
      expect(() => checkMessage(message)).not.toThrow();
    }
  });
});

describe('kv service request validation', () => {
  it('accepts requests and keeps only their known fields', () => {
    const key = new TextEncoder().encode('k');
    const value = new TextEncoder().encode('v');
    const put = { type: 'txn', txn: { compare: [], success: [{ type: 'put', key, value, padding: 'x'.repeat(1_000) }], failure: [] } };
    expect(parseServiceRequest({ type: 'kv.request', clientId: 'c', sequence: 1, command: put, extra: 1 })).toEqual({
      ok: true, request: { type: 'kv.request', clientId: 'c', sequence: 1, command: { type: 'txn', txn: { compare: [], success: [{ type: 'put', key, value }], failure: [] } } },
    });
    const get = { type: 'txn', txn: { compare: [], success: [{ type: 'range', key }], failure: [] } };
    expect(parseServiceRequest({ type: 'kv.read', command: get, timeoutMs: 100 })).toEqual({ ok: true, request: { type: 'kv.read', command: get, timeoutMs: 100 } });
    expect(parseServiceRequest({ type: 'kv.watch', key, rangeEnd: Uint8Array.of(0), fromRevision: 3, extra: 1 })).toEqual({ ok: true, request: { type: 'kv.watch', key, rangeEnd: Uint8Array.of(0), fromRevision: 3 } });
    expect(parseServiceRequest({ type: 'kv.leaseKeepAlive', lease: 4 })).toEqual({ ok: true, request: { type: 'kv.leaseKeepAlive', lease: 4 } });
    expect(parseServiceRequest({ type: 'something.else' })).toBeNull();
  });

  it('refuses malformed requests with a reason', () => {
    const key = new TextEncoder().encode('k');
    const txn = (op: unknown) => ({ type: 'txn', txn: { success: [op] } });
    const refused = [
      { type: 'kv.request', clientId: 'c', sequence: 0, command: txn({ type: 'put', key, value: key }) },
      { type: 'kv.request', sequence: 1, command: txn({ type: 'put', key, value: key }) },
      { type: 'kv.request', clientId: 'c', sequence: 1, command: txn({ type: 'put', key, value: 5 }) },
      { type: 'kv.request', clientId: 'c', sequence: 1, command: txn({ type: 'put', key: 'text', value: key }) },
      { type: 'kv.request', clientId: 'c', sequence: 1, command: txn({ type: 'range', key, limit: -1 }) },
      { type: 'kv.request', clientId: 'c', sequence: 1, command: txn({ type: 'put', key, value: key }), timeoutMs: 10 ** 9 },
      { type: 'kv.read', command: txn({ type: 'deleteRange', key }) },
      { type: 'kv.read', command: { type: 'leaseGrant', ttlMs: 1_000 } },
      { type: 'kv.watch', key, fromRevision: 0 },
      { type: 'kv.watch', key: 'k', fromRevision: 1 },
      { type: 'kv.leaseKeepAlive', lease: 'one' },
      { type: 'raft.transferLeader', target: 7 },
    ];
    for (const request of refused) expect(parseServiceRequest(request)?.ok, JSON.stringify(request)).toBe(false);
  });
});
