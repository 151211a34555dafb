/**
 * Encoding of KV requests into log entries and of KV snapshots into snapshot bytes, with the runtime's
 * plain CBOR codec. Decoding treats its input as untrusted: a malformed entry decodes to a typed
 * error, which the state machine turns into an INVALID_REQUEST result identical on every replica.
 */
import { codec } from '../../runtime/codec.js';
import { DecodeError } from '../../runtime/errors.js';
import { invalidRequestReason, type KvRequest, type KvSnapshot } from './core/kv-state-machine.js';

/** Encodes a request as the data of a log entry. */
export function encodeKvRequest(request: KvRequest): Uint8Array {
  return codec.encode(request);
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
  const reason = invalidRequestReason(value as KvRequest);
  return reason === null ? { ok: true, request: value as KvRequest } : { ok: false, reason };
}

/** Encodes a state-machine snapshot. */
export function encodeKvSnapshot(snapshot: KvSnapshot): Uint8Array {
  return codec.encode(snapshot);
}

/** Decodes a state-machine snapshot; throws DecodeError (DECODE_FAILED) when it is not one. */
export function decodeKvSnapshot(data: Uint8Array): KvSnapshot {
  const value = codec.decode(data) as Partial<KvSnapshot> | null;
  if (value === null || typeof value !== 'object' || !Number.isSafeInteger(value.appliedIndex) || !Array.isArray(value.pairs) || !Array.isArray(value.sessions)) {
    throw new DecodeError('DECODE_FAILED', 'not a KV snapshot');
  }
  return value as KvSnapshot;
}
