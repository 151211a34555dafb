/**
 * The storage actor's request protocol: messages, replies, and their validation. Pure (no I/O).
 *
 * Every request gets exactly one reply, `{ ok: true, ... }` or `{ ok: false, code, message }`. Writes
 * reply only once their WAL record is durable and applied; their `index` is the WAL index that decided
 * them. Bad input is an `ok: false` reply with a stable code, never a crash.
 */
import { validateKey, type StoreCommand, type StoreFailureCode, type StoreInputErrorCode, type StoreCommandLimits, type StoreOperation } from './core.js';
import type { StorageErrorCode } from './errors.js';

/** What the storage actor accepts. */
export type StorageRequest =
  | { readonly type: 'storage.get'; readonly key: string }
  | { readonly type: 'storage.put'; readonly key: string; readonly value: Uint8Array }
  | { readonly type: 'storage.delete'; readonly key: string }
  | { readonly type: 'storage.batch'; readonly ops: readonly StoreOperation[] }
  | { readonly type: 'storage.cas'; readonly key: string; readonly expected: Uint8Array | null; readonly value: Uint8Array | null }
  | { readonly type: 'storage.increment'; readonly key: string; readonly delta: number }
  | {
      readonly type: 'storage.scan';
      readonly prefix?: string;
      readonly start?: string;
      readonly end?: string;
      readonly limit?: number;
      readonly reverse?: boolean;
    }
  | { readonly type: 'storage.digest' }
  | { readonly type: 'storage.snapshot' }
  | { readonly type: 'storage.status' };

/** Every request type, for routing and validation. */
export const STORAGE_REQUEST_TYPES: ReadonlySet<string> = new Set([
  'storage.get', 'storage.put', 'storage.delete', 'storage.batch', 'storage.cas', 'storage.increment',
  'storage.scan', 'storage.digest', 'storage.snapshot', 'storage.status',
]);

/** A refused or failed request. */
export interface StorageFailure {
  readonly ok: false;
  readonly code: StorageErrorCode | StoreInputErrorCode | StoreFailureCode | 'UNKNOWN_MESSAGE' | 'INTERNAL';
  readonly message: string;
  /** For a command that was logged and decided (for example NOT_A_COUNTER): its WAL index. */
  readonly index?: number;
}

/** Replies, by request. */
export type StorageReply =
  | { readonly ok: true; readonly index: number }
  | { readonly ok: true; readonly index: number; readonly swapped: boolean; readonly current: Uint8Array | null }
  | { readonly ok: true; readonly index: number; readonly value: number }
  | { readonly ok: true; readonly value: Uint8Array | null }
  | { readonly ok: true; readonly entries: Array<{ readonly key: string; readonly value: Uint8Array }>; readonly more: boolean }
  | { readonly ok: true; readonly digest: string; readonly appliedIndex: number; readonly keys: number }
  | { readonly ok: true; readonly name: string; readonly index: number; readonly bytes: number; readonly checksum: string }
  | ({ readonly ok: true } & Record<string, unknown>)
  | StorageFailure;

/** A read request, checked. */
export type ReadRequest = Extract<StorageRequest, { type: 'storage.get' | 'storage.scan' | 'storage.digest' | 'storage.snapshot' | 'storage.status' }>;

/** What a request turns into: a command for the WAL, or a read. */
export type ParsedRequest = { readonly kind: 'write'; readonly command: StoreCommand } | { readonly kind: 'read'; readonly request: ReadRequest } | StorageFailure;

/**
 * Checks the shape of a request. Write payloads are checked in full when the store validates the
 * command (one place for those rules); reads are checked here.
 */
export function parseRequest(message: unknown, limits: StoreCommandLimits): ParsedRequest {
  if (typeof message !== 'object' || message === null || typeof (message as { type?: unknown }).type !== 'string') {
    return failure('UNKNOWN_MESSAGE', 'a storage request must be an object with a string type');
  }
  const request = message as Record<string, unknown> & { type: string };
  switch (request.type) {
    case 'storage.put':
      return { kind: 'write', command: { type: 'put', key: request.key as string, value: request.value as Uint8Array } };
    case 'storage.delete':
      return { kind: 'write', command: { type: 'delete', key: request.key as string } };
    case 'storage.batch':
      return { kind: 'write', command: { type: 'batch', ops: request.ops as StoreOperation[] } };
    case 'storage.cas':
      return { kind: 'write', command: { type: 'cas', key: request.key as string, expected: request.expected as Uint8Array | null, value: request.value as Uint8Array | null } };
    case 'storage.increment':
      return { kind: 'write', command: { type: 'increment', key: request.key as string, delta: request.delta as number } };
    case 'storage.get': {
      const key = validateKey(request.key, limits);
      return key.ok ? { kind: 'read', request: { type: 'storage.get', key: key.value } } : failure(key.code, key.message);
    }
    case 'storage.scan':
      return parseScan(request);
    case 'storage.digest':
    case 'storage.snapshot':
    case 'storage.status':
      return { kind: 'read', request: { type: request.type } };
    default:
      return failure('UNKNOWN_MESSAGE', `unknown storage request type ${JSON.stringify(request.type.slice(0, 60))}`);
  }
}

function parseScan(request: Record<string, unknown>): ParsedRequest {
  const bounds: { prefix?: string; start?: string; end?: string } = {};
  for (const name of ['prefix', 'start', 'end'] as const) {
    const value = request[name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') return failure('INVALID_ARGUMENT', `scan ${name} must be a string`);
    bounds[name] = value;
  }
  const limit = request.limit;
  if (limit !== undefined && limit !== null && (!Number.isSafeInteger(limit) || (limit as number) < 0)) return failure('INVALID_ARGUMENT', 'scan limit must be a non-negative integer');
  const reverse = request.reverse;
  if (reverse !== undefined && reverse !== null && typeof reverse !== 'boolean') return failure('INVALID_ARGUMENT', 'scan reverse must be a boolean');
  return {
    kind: 'read',
    request: {
      type: 'storage.scan',
      ...bounds,
      ...(typeof limit === 'number' ? { limit } : {}),
      ...(typeof reverse === 'boolean' ? { reverse } : {}),
    },
  };
}

/** Builds a failure reply. */
export function failure(code: StorageFailure['code'], message: string, index?: number): StorageFailure {
  return index === undefined ? { ok: false, code, message } : { ok: false, code, message, index };
}
