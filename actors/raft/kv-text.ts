/**
 * String convenience at the edge: put, get, delete, compare-and-swap and scan over UTF-8 text, each
 * translated into one command of the byte-level model (a transaction) and its result translated
 * back. This is what the CLI, the simple client calls and the linearizability checker speak; the log
 * and the state machine only ever see bytes.
 *
 *   put k v        txn { success: [put k v] }
 *   get k          txn { success: [range k] }
 *   delete k       txn { success: [deleteRange k] }
 *   cas k e v      txn { compare: [value(k) = e] (e null: version(k) = 0), success: [put k v], failure: [range k] }
 *   scan s e n     txn { success: [range [s, e) limit n] }   (e null: to the last key; byte order)
 */
import { kvLimits, type KvCommand, type KvKeyValue, type KvOpResponse } from '../storage/index.js';
import type { KvAppliedResult } from './core/kv-state-machine.js';

/** A text operation. */
export type KvTextCommand =
  | { readonly type: 'put'; readonly key: string; readonly value: string }
  | { readonly type: 'get'; readonly key: string }
  | { readonly type: 'delete'; readonly key: string }
  | { readonly type: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly type: 'scan'; readonly start: string; readonly end: string | null; readonly limit: number };

/** A key and its value as text. */
export interface KvTextPair {
  readonly key: string;
  readonly value: string;
}

/** The outcome of a text operation (refusals of the model or the session layer pass through). */
export type KvTextResult =
  | { readonly ok: true; readonly type: 'put' }
  | { readonly ok: true; readonly type: 'get'; readonly value: string | null }
  | { readonly ok: true; readonly type: 'delete'; readonly existed: boolean }
  | { readonly ok: true; readonly type: 'cas'; readonly swapped: boolean; readonly current: string | null }
  | { readonly ok: true; readonly type: 'scan'; readonly pairs: readonly KvTextPair[] }
  | Extract<KvAppliedResult, { ok: false }>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a text operation cannot be translated (a string that is not well-formed Unicode, an empty key), or null. */
export function invalidTextReason(command: KvTextCommand): string | null {
  const texts: unknown[] = command.type === 'scan' ? [command.start, command.end] : command.type === 'cas' ? [command.key, command.expected, command.value] : [command.key, (command as { value?: unknown }).value];
  if (texts.some((text) => typeof text === 'string' && loneSurrogate.test(text))) return 'keys and values must be well-formed Unicode';
  if (command.type !== 'scan' && command.key === '') return 'key must not be empty';
  if (command.type === 'scan' && (!Number.isSafeInteger(command.limit) || command.limit < 1 || command.limit > kvLimits.rangeLimitMax)) return `limit must be 1-${kvLimits.rangeLimitMax}`;
  return null;
}

/** The model command of a text operation. */
export function textCommand(command: KvTextCommand): KvCommand {
  switch (command.type) {
    case 'put': return txn([], [{ type: 'put', key: encoder.encode(command.key), value: encoder.encode(command.value) }]);
    case 'get': return txn([], [{ type: 'range', key: encoder.encode(command.key) }]);
    case 'delete': return txn([], [{ type: 'deleteRange', key: encoder.encode(command.key) }]);
    case 'cas': {
      const key = encoder.encode(command.key);
      const compare = command.expected === null
        ? { key, target: 'version' as const, operator: '=' as const, value: 0 }
        : { key, target: 'value' as const, operator: '=' as const, value: encoder.encode(command.expected) };
      return { type: 'txn', txn: { compare: [compare], success: [{ type: 'put', key, value: encoder.encode(command.value) }], failure: [{ type: 'range', key }] } };
    }
    case 'scan': {
      // Every key is at least one byte long, so [0x00, ...) covers them all when the start is empty.
      const key = command.start === '' ? Uint8Array.of(0) : encoder.encode(command.start);
      const rangeEnd = command.end === null || command.end === '' ? Uint8Array.of(0) : encoder.encode(command.end);
      return txn([], [{ type: 'range', key, rangeEnd, limit: command.limit }]);
    }
  }
}

function txn(compare: [], success: Extract<KvCommand, { type: 'txn' }>['txn']['success']): KvCommand {
  return { type: 'txn', txn: { compare, success, failure: [] } };
}

/** The text result of a text operation, from its model result. */
export function textResult(command: KvTextCommand, result: KvAppliedResult): KvTextResult {
  if (!result.ok) return result;
  if (result.type !== 'txn') return { ok: false, code: 'INVALID_REQUEST', message: `a ${result.type} result does not answer a text ${command.type}` };
  const first: KvOpResponse | undefined = result.responses[0];
  switch (command.type) {
    case 'put': return { ok: true, type: 'put' };
    case 'get': return { ok: true, type: 'get', value: first?.type === 'range' && first.kvs.length > 0 ? text(first.kvs[0]!.value) : null };
    case 'delete': return { ok: true, type: 'delete', existed: first?.type === 'deleteRange' && first.deleted > 0 };
    case 'cas': {
      if (result.succeeded) return { ok: true, type: 'cas', swapped: true, current: command.value };
      return { ok: true, type: 'cas', swapped: false, current: first?.type === 'range' && first.kvs.length > 0 ? text(first.kvs[0]!.value) : null };
    }
    case 'scan': return { ok: true, type: 'scan', pairs: first?.type === 'range' ? first.kvs.map(textPair) : [] };
  }
}

function textPair(kv: KvKeyValue): KvTextPair {
  return { key: text(kv.key), value: text(kv.value) };
}

function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Whether a text operation only reads (served through ReadIndex unless the log is asked for). */
export function isTextRead(command: KvTextCommand): command is Extract<KvTextCommand, { type: 'get' | 'scan' }> {
  return command.type === 'get' || command.type === 'scan';
}
