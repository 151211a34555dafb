/**
 * How the replicated key-value state lies in an ordered engine (LevelDB or in memory), one namespace
 * per kind of record, each a one-byte prefix:
 *
 *   'k' + key                     a user key: CBOR { value, createRevision, modRevision, version, lease }
 *   'e' + revision (8 bytes, BE)  the events of one revision, CBOR, for watches
 *   'l' + lease (8 bytes, BE)     a lease: CBOR { ttlMs, keys }
 *   'a' + lease (8 bytes) + key   a key attached to a lease (empty value), so a revoke finds its keys
 *   's' + client id (UTF-8)       a client session: CBOR { sequence, result, lastIndex }
 *   'm' + 'state'                 the model's scalar state: CBOR { revision, compactRevision, nextLease, leases }
 *
 * Big-endian numbers keep revisions and leases in numeric order. Reads go through `LayoutView`, which
 * serves the storage model's `KvView` from any synchronous ordered reader: the in-memory engine
 * itself, or a buffer prefetched from LevelDB before a command executes (`planReads`).
 */
import { codec } from '../../runtime/codec.js';
import { assert } from '../../runtime/errors.js';
import {
  initialModelState,
  isToEnd,
  plainBytes,
  prefixRangeEnd,
  type KvEngineEntry,
  type KvEngineRange,
  type KvEngineWrite,
  type KvEvent,
  type KvKeyValue,
  type KvLease,
  type KvLimits,
  type KvModelState,
  type KvMutation,
  type KvView,
} from '../storage/index.js';
import type { KvRequest, KvSession } from './core/kv-state-machine.js';

/** A synchronous ordered reader: what a `LayoutView` reads through. */
export interface OrderedReader {
  readSync(key: Uint8Array): Uint8Array | undefined;
  rangeSync(range: KvEngineRange): KvEngineEntry[];
}

const KEY = 0x6b; // 'k'
const EVENT = 0x65; // 'e'
const LEASE = 0x6c; // 'l'
const ATTACHED = 0x61; // 'a'
const SESSION = 0x73; // 's'
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The engine key of the model's scalar state. */
export const stateKey = Uint8Array.of(0x6d, ...encoder.encode('state'));

function withPrefix(prefix: number, ...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.length, 1);
  const result = new Uint8Array(length);
  result[0] = prefix;
  let offset = 1;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

function uint64(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value));
  return bytes;
}

function readUint64(bytes: Uint8Array, offset: number): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigUint64(0));
}

/** Whether an engine key holds a user key (not an event, lease, session or the model's state). */
export const isUserKey = (engineKey: Uint8Array): boolean => engineKey[0] === KEY;
/** Engine key of a user key. */
export const userKey = (key: Uint8Array): Uint8Array => withPrefix(KEY, key);
/** Engine key of a revision's events. */
export const eventKey = (revision: number): Uint8Array => withPrefix(EVENT, uint64(revision));
/** Engine key of a lease. */
export const leaseKey = (id: number): Uint8Array => withPrefix(LEASE, uint64(id));
const attachedKey = (lease: number, key: Uint8Array): Uint8Array => withPrefix(ATTACHED, uint64(lease), key);
/** Engine key of a client's session. */
export const sessionKey = (clientId: string): Uint8Array => withPrefix(SESSION, encoder.encode(clientId));

/** The engine range of the user range (key, rangeEnd) with etcd's conventions. */
export function userRange(key: Uint8Array, rangeEnd: Uint8Array | undefined): { start: Uint8Array; end: Uint8Array } {
  const start = userKey(key);
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start, end: withPrefix(KEY, key, Uint8Array.of(0)) };
  return { start, end: isToEnd(rangeEnd) ? Uint8Array.of(KEY + 1) : userKey(rangeEnd) };
}

/** The engine range of every session. */
export const sessionRange = { start: Uint8Array.of(SESSION), end: Uint8Array.of(SESSION + 1) } as const;
/** The engine range of every lease. */
export const leaseRange = { start: Uint8Array.of(LEASE), end: Uint8Array.of(LEASE + 1) } as const;
/** The engine range of the events from `fromRevision` on. */
export const eventRange = (fromRevision: number): { start: Uint8Array; end: Uint8Array } => ({ start: eventKey(fromRevision), end: Uint8Array.of(EVENT + 1) });
/** The engine range of a lease's attached keys. */
export const attachedRange = (lease: number): { start: Uint8Array; end: Uint8Array } => ({ start: withPrefix(ATTACHED, uint64(lease)), end: prefixRangeEnd(withPrefix(ATTACHED, uint64(lease))) });

interface StoredKey {
  readonly value: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: number;
}

/** Decodes a stored user key. */
export function decodeKeyValue(key: Uint8Array, bytes: Uint8Array): KvKeyValue {
  const stored = codec.decode(bytes) as StoredKey;
  assert(typeof stored === 'object' && stored !== null && stored.value instanceof Uint8Array, 'stored key is malformed');
  return { key, value: plainBytes(stored.value), createRevision: stored.createRevision, modRevision: stored.modRevision, version: stored.version, lease: stored.lease };
}

/** Decodes a revision's stored events. */
export function decodeEvents(bytes: Uint8Array): KvEvent[] {
  const events = codec.decode(bytes) as KvEvent[];
  assert(Array.isArray(events), 'stored events are malformed');
  return events.map((event) => ({ type: event.type, kv: { ...event.kv, key: plainBytes(event.kv.key), value: plainBytes(event.kv.value) } }));
}

/** The revision an event-log engine key stands for. */
export const revisionOfEventKey = (key: Uint8Array): number => readUint64(key, 1);

/** Decodes a stored lease. */
export function decodeLease(key: Uint8Array, bytes: Uint8Array): KvLease {
  const stored = codec.decode(bytes) as { ttlMs: number; keys: number };
  return { id: readUint64(key, 1), ttlMs: stored.ttlMs, keys: stored.keys };
}

/** Decodes a stored session. */
export function decodeSession(clientIdBytes: Uint8Array, bytes: Uint8Array): KvSession {
  const stored = codec.decode(bytes) as Omit<KvSession, 'clientId'>;
  assert(typeof stored === 'object' && stored !== null && Number.isSafeInteger(stored.sequence) && Number.isSafeInteger(stored.lastIndex), 'stored session is malformed');
  return { clientId: decoder.decode(clientIdBytes), sequence: stored.sequence, result: stored.result, lastIndex: stored.lastIndex };
}

/** Encodes a session for the engine. */
export function encodeSession(session: KvSession): Uint8Array {
  return codec.encode({ sequence: session.sequence, result: session.result, lastIndex: session.lastIndex });
}

/** Decodes the model's scalar state (absent: a fresh key space). */
export function decodeModelState(bytes: Uint8Array | undefined): KvModelState {
  if (bytes === undefined) return initialModelState;
  const stored = codec.decode(bytes) as KvModelState;
  assert(Number.isSafeInteger(stored.revision) && Number.isSafeInteger(stored.compactRevision), 'stored model state is malformed');
  return { revision: stored.revision, compactRevision: stored.compactRevision, nextLease: stored.nextLease, leases: stored.leases };
}

/** Engine writes for the model's mutations. */
export function mutationWrites(mutations: readonly KvMutation[]): KvEngineWrite[] {
  const writes: KvEngineWrite[] = [];
  for (const mutation of mutations) {
    switch (mutation.type) {
      case 'putKey': {
        const { kv, previousLease } = mutation;
        const stored: StoredKey = { value: kv.value, createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version, lease: kv.lease };
        writes.push({ type: 'put', key: userKey(kv.key), value: codec.encode(stored) });
        if (previousLease !== 0 && previousLease !== kv.lease) writes.push({ type: 'delete', key: attachedKey(previousLease, kv.key) });
        if (kv.lease !== 0) writes.push({ type: 'put', key: attachedKey(kv.lease, kv.key), value: new Uint8Array(0) });
        break;
      }
      case 'deleteKey':
        writes.push({ type: 'delete', key: userKey(mutation.key) });
        if (mutation.previousLease !== 0) writes.push({ type: 'delete', key: attachedKey(mutation.previousLease, mutation.key) });
        break;
      case 'putLease':
        writes.push({ type: 'put', key: leaseKey(mutation.lease.id), value: codec.encode({ ttlMs: mutation.lease.ttlMs, keys: mutation.lease.keys }) });
        break;
      case 'deleteLease':
        writes.push({ type: 'delete', key: leaseKey(mutation.id) });
        break;
      case 'putEvents':
        writes.push({ type: 'put', key: eventKey(mutation.revision), value: codec.encode(mutation.events) });
        break;
      case 'deleteEvents':
        writes.push({ type: 'delete', key: eventKey(mutation.revision) });
        break;
    }
  }
  return writes;
}

/** The model's `KvView` over an ordered reader of this layout. */
export class LayoutView implements KvView {
  constructor(readonly reader: OrderedReader) {}

  get(key: Uint8Array): KvKeyValue | undefined {
    const bytes = this.reader.readSync(userKey(key));
    return bytes === undefined ? undefined : decodeKeyValue(key, bytes);
  }

  range(key: Uint8Array, rangeEnd: Uint8Array | undefined, limit: number): KvKeyValue[] {
    const { start, end } = userRange(key, rangeEnd);
    return this.reader.rangeSync({ start, end, limit }).map((entry) => decodeKeyValue(entry.key.slice(1), entry.value));
  }

  lease(id: number): KvLease | undefined {
    const bytes = this.reader.readSync(leaseKey(id));
    return bytes === undefined ? undefined : decodeLease(leaseKey(id), bytes);
  }

  leaseKeys(id: number, limit: number): Uint8Array[] {
    return this.reader.rangeSync({ ...attachedRange(id), limit }).map((entry) => entry.key.slice(9));
  }

  session(clientId: string): KvSession | undefined {
    const bytes = this.reader.readSync(sessionKey(clientId));
    return bytes === undefined ? undefined : decodeSession(encoder.encode(clientId), bytes);
  }
}

/** What a request will read, in two rounds: the engine keys and ranges to load before it executes. */
export interface ReadPlan {
  readonly keys: Uint8Array[];
  readonly ranges: KvEngineRange[];
}

/**
 * The first round of reads of a request: its session, every key its compares and ops name (both
 * branches of a transaction), every range they cover (with room for the transaction's own writes),
 * and the leases they name. The second round (`leaseReads`) loads the leases of the keys found.
 */
export function planReads(request: KvRequest, limits: KvLimits): ReadPlan {
  const keys: Uint8Array[] = [];
  const ranges: KvEngineRange[] = [];
  if (request.clientId !== undefined) keys.push(sessionKey(request.clientId));
  const command = request.command;
  const rangeLimit = limits.rangeScanKeysMax + 1 + limits.txnOpsMax;
  switch (command.type) {
    case 'txn':
      for (const condition of command.txn.compare) keys.push(userKey(condition.key));
      for (const op of [...command.txn.success, ...command.txn.failure]) {
        if (op.type === 'put') {
          keys.push(userKey(op.key));
          if (op.lease !== undefined) keys.push(leaseKey(op.lease));
        } else ranges.push({ ...userRange(op.key, op.rangeEnd), limit: rangeLimit });
      }
      break;
    case 'leaseRevoke':
      keys.push(leaseKey(command.lease));
      ranges.push({ ...attachedRange(command.lease), limit: limits.leaseKeysMax });
      break;
    case 'leaseGrant':
    case 'compact':
      break;
  }
  return { keys, ranges };
}

/** The second round: the lease records of the user keys loaded in the first. */
export function leaseReads(loaded: readonly KvEngineEntry[]): Uint8Array[] {
  const leases = new Set<number>();
  for (const entry of loaded) {
    if (entry.key[0] !== KEY) continue;
    const lease = decodeKeyValue(entry.key.slice(1), entry.value).lease;
    if (lease !== 0) leases.add(lease);
  }
  return [...leases].map(leaseKey);
}
