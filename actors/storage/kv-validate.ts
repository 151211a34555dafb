/**
 * Validation of the key-value model's commands, which arrive from the network or the log and are
 * untrusted: every field is checked, unknown fields are dropped, and a bad command yields a reason
 * (a typed INVALID_REQUEST), never an exception. Pure.
 */
import type { KvCommand, KvCompare, KvCompareOperator, KvLimits, KvOp, KvTxn } from './kv-model.js';

/** A checked value, or why it was refused. */
export type KvChecked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const operators: ReadonlySet<unknown> = new Set(['=', '!=', '<', '>']);
const numericTargets: ReadonlySet<unknown> = new Set(['version', 'createRevision', 'modRevision']);

/** Checks a command of the model; the result holds only known fields. */
export function validateKvCommand(input: unknown, limits: KvLimits): KvChecked<KvCommand> {
  if (typeof input !== 'object' || input === null) return refuse('command must be an object');
  const record = input as Record<string, unknown>;
  switch (record.type) {
    case 'txn': {
      const txn = validateTxn(record.txn, limits);
      return txn.ok ? { ok: true, value: { type: 'txn', txn: txn.value } } : txn;
    }
    case 'leaseGrant': {
      const ttlMs = record.ttlMs;
      if (!isInteger(ttlMs) || ttlMs < limits.leaseTtlMsMin || ttlMs > limits.leaseTtlMsMax) return refuse(`ttlMs must be an integer in ${limits.leaseTtlMsMin}-${limits.leaseTtlMsMax}`);
      return { ok: true, value: { type: 'leaseGrant', ttlMs } };
    }
    case 'leaseRevoke':
      return isInteger(record.lease) && record.lease > 0 ? { ok: true, value: { type: 'leaseRevoke', lease: record.lease } } : refuse('lease must be a positive integer');
    case 'compact':
      return isInteger(record.revision) && record.revision > 0 ? { ok: true, value: { type: 'compact', revision: record.revision } } : refuse('revision must be a positive integer');
    default:
      return refuse('unknown command type');
  }
}

/** Checks a transaction. */
export function validateTxn(input: unknown, limits: KvLimits): KvChecked<KvTxn> {
  if (typeof input !== 'object' || input === null) return refuse('txn must be an object { compare, success, failure }');
  const record = input as Record<string, unknown>;
  const lists = [record.compare ?? [], record.success ?? [], record.failure ?? []];
  if (!lists.every(Array.isArray)) return refuse('txn compare, success and failure must be arrays');
  const [compareInput, successInput, failureInput] = lists as unknown[][];
  const total = compareInput!.length + successInput!.length + failureInput!.length;
  if (total > limits.txnOpsMax) return refuse(`a txn holds ${total} compares and ops, limit ${limits.txnOpsMax}`);
  const compare: KvCompare[] = [];
  for (const [position, item] of compareInput!.entries()) {
    const checked = validateCompare(item, limits);
    if (!checked.ok) return refuse(`compare ${position}: ${checked.reason}`);
    compare.push(checked.value);
  }
  const success = validateOps(successInput!, 'success', limits);
  if (!success.ok) return success;
  const failure = validateOps(failureInput!, 'failure', limits);
  if (!failure.ok) return failure;
  return { ok: true, value: { compare, success: success.value, failure: failure.value } };
}

function validateOps(items: unknown[], name: string, limits: KvLimits): KvChecked<KvOp[]> {
  const ops: KvOp[] = [];
  for (const [position, item] of items.entries()) {
    const checked = validateOp(item, limits);
    if (!checked.ok) return refuse(`${name} ${position}: ${checked.reason}`);
    ops.push(checked.value);
  }
  return { ok: true, value: ops };
}

function validateCompare(input: unknown, limits: KvLimits): KvChecked<KvCompare> {
  if (typeof input !== 'object' || input === null) return refuse('must be an object { key, target, operator, value }');
  const record = input as Record<string, unknown>;
  const key = checkKey(record.key, 'key', limits);
  if (key !== null) return refuse(key);
  if (!operators.has(record.operator)) return refuse('operator must be =, !=, < or >');
  const operator = record.operator as KvCompareOperator;
  if (record.target === 'value') {
    const value = checkValue(record.value, limits);
    return value === null ? { ok: true, value: { key: plain(record.key as Uint8Array), target: 'value', operator, value: plain(record.value as Uint8Array) } } : refuse(value);
  }
  if (!numericTargets.has(record.target)) return refuse('target must be value, version, createRevision or modRevision');
  if (!isInteger(record.value) || record.value < 0) return refuse('a numeric compare needs a non-negative integer value');
  return { ok: true, value: { key: plain(record.key as Uint8Array), target: record.target as 'version', operator, value: record.value } };
}

/** Checks one op. */
export function validateOp(input: unknown, limits: KvLimits): KvChecked<KvOp> {
  if (typeof input !== 'object' || input === null) return refuse('op must be an object');
  const record = input as Record<string, unknown>;
  const key = checkKey(record.key, 'key', limits);
  if (key !== null) return refuse(key);
  const opKey = plain(record.key as Uint8Array);
  switch (record.type) {
    case 'put': {
      const reason = checkValue(record.value, limits) ?? optionalFlag(record.prevKv, 'prevKv');
      if (reason !== null) return refuse(reason);
      if (record.lease !== undefined && (!isInteger(record.lease) || record.lease < 0)) return refuse('lease must be a non-negative integer');
      return { ok: true, value: { type: 'put', key: opKey, value: plain(record.value as Uint8Array), ...flag('prevKv', record.prevKv), ...(isInteger(record.lease) && record.lease > 0 ? { lease: record.lease } : {}) } };
    }
    case 'deleteRange': {
      const reason = checkRangeEnd(record.rangeEnd, limits) ?? optionalFlag(record.prevKv, 'prevKv');
      if (reason !== null) return refuse(reason);
      return { ok: true, value: { type: 'deleteRange', key: opKey, ...rangeEnd(record.rangeEnd), ...flag('prevKv', record.prevKv) } };
    }
    case 'range': {
      const reason = checkRangeEnd(record.rangeEnd, limits) ?? optionalFlag(record.keysOnly, 'keysOnly') ?? optionalFlag(record.countOnly, 'countOnly');
      if (reason !== null) return refuse(reason);
      if (record.limit !== undefined && (!isInteger(record.limit) || record.limit < 0)) return refuse('limit must be a non-negative integer');
      return {
        ok: true,
        value: {
          type: 'range', key: opKey, ...rangeEnd(record.rangeEnd), ...(isInteger(record.limit) && record.limit > 0 ? { limit: record.limit } : {}),
          ...flag('keysOnly', record.keysOnly), ...flag('countOnly', record.countOnly),
        },
      };
    }
    default:
      return refuse('op type must be put, deleteRange or range');
  }
}

function checkKey(value: unknown, name: string, limits: KvLimits): string | null {
  if (!(value instanceof Uint8Array)) return `${name} must be bytes`;
  if (value.length === 0) return `${name} must not be empty`;
  return value.length <= limits.keyBytesMax ? null : `${name} is ${value.length} bytes, limit ${limits.keyBytesMax}`;
}

function checkRangeEnd(value: unknown, limits: KvLimits): string | null {
  if (value === undefined) return null;
  if (!(value instanceof Uint8Array)) return 'rangeEnd must be bytes';
  return value.length <= limits.keyBytesMax ? null : `rangeEnd is ${value.length} bytes, limit ${limits.keyBytesMax}`;
}

function checkValue(value: unknown, limits: KvLimits): string | null {
  if (!(value instanceof Uint8Array)) return 'value must be bytes';
  return value.length <= limits.valueBytesMax ? null : `value is ${value.length} bytes, limit ${limits.valueBytesMax}`;
}

function optionalFlag(value: unknown, name: string): string | null {
  return value === undefined || typeof value === 'boolean' ? null : `${name} must be a boolean`;
}

function flag<Name extends string>(name: Name, value: unknown): { [key in Name]?: true } {
  return (value === true ? { [name]: true } : {}) as { [key in Name]?: true };
}

function rangeEnd(value: unknown): { rangeEnd?: Uint8Array } {
  return value instanceof Uint8Array && value.length > 0 ? { rangeEnd: plain(value) } : {};
}

/** A plain Uint8Array view of bytes a decoder handed back as a Buffer, so they compare and encode alike. */
function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

function refuse<T>(reason: string): KvChecked<T> {
  return { ok: false, reason };
}
