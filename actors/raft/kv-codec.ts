/**
 * Encoding of KV requests into log entries and of KV snapshots into snapshot bytes, with the runtime's
 * plain CBOR codec. Decoding treats its input as untrusted: a malformed entry decodes to a typed
 * error, which the state machine applies as a no-op, identically on every replica.
 */
import { codec } from '../../runtime/codec.js';
import { DecodeError } from '../../runtime/errors.js';
import { kvLimits, validateKvCommand, type KvLimits } from '../storage/index.js';
import { invalidSessionReason, type KvRequest } from './core/kv-state-machine.js';
import type { KvSnapshot } from './kv-machine.js';

/** Encodes a request as the data of a log entry. */
export function encodeKvRequest(request: KvRequest): Uint8Array {
  return codec.encode(request);
}

/** Checks a request (untrusted): its session fields and its command; the result holds only known fields. */
export function checkKvRequest(value: unknown, limits: KvLimits = kvLimits): { ok: true; request: KvRequest } | { ok: false; reason: string } {
  if (typeof value !== 'object' || value === null) return { ok: false, reason: 'request is not an object' };
  const record = value as Record<string, unknown>;
  const session = invalidSessionReason(record);
  if (session !== null) return { ok: false, reason: session };
  const command = validateKvCommand(record.command, limits);
  if (!command.ok) return { ok: false, reason: command.reason };
  const request: KvRequest = record.clientId === undefined ? { command: command.value } : { clientId: record.clientId as string, sequence: record.sequence as number, command: command.value };
  return { ok: true, request };
}

/** Decodes and validates a log entry's data; a bad entry yields `{ ok: false, reason }`. */
export function decodeKvRequest(data: Uint8Array): { ok: true; request: KvRequest } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = codec.decode(data);
  } catch (error) {
    if (error instanceof DecodeError) return { ok: false, reason: `undecodable entry: ${error.code}` };
    throw error;
  }
  return checkKvRequest(value);
}

/** Encodes a state-machine snapshot. */
export function encodeKvSnapshot(snapshot: KvSnapshot): Uint8Array {
  return codec.encode(snapshot);
}

/** Decodes a state-machine snapshot; throws DecodeError (DECODE_FAILED) when it is not one. */
export function decodeKvSnapshot(data: Uint8Array): KvSnapshot {
  const value = codec.decode(data) as Partial<KvSnapshot> | null;
  if (value === null || typeof value !== 'object' || !Number.isSafeInteger(value.appliedIndex) || !Array.isArray(value.pairs)) {
    throw new DecodeError('DECODE_FAILED', 'not a KV snapshot');
  }
  const pairs = value.pairs.map((pair) => {
    if (!(pair?.key instanceof Uint8Array) || !(pair.value instanceof Uint8Array)) throw new DecodeError('DECODE_FAILED', 'a KV snapshot pair is not two byte strings');
    return { key: new Uint8Array(pair.key), value: new Uint8Array(pair.value) };
  });
  return { appliedIndex: value.appliedIndex!, pairs };
}
