/**
 * The key-value state machine, pure: validation of commands and their effect on the key space. No I/O,
 * no clock, no randomness, so that applying the same WAL entries to the same state always gives the
 * same state and the same results (deterministic replay, DESIGN.md section 4).
 *
 * Commands are what the WAL records. Conditional commands (compare-and-set, increment) are decided when
 * they are applied, from the state at their index, not when they are submitted: replay then decides
 * them the same way again.
 *
 * Keys are strings, ordered by their UTF-8 bytes (so scans are byte-ordered, as in LevelDB). Values
 * are byte arrays.
 */

/** A write inside an atomic batch. */
export type StoreOperation = { readonly type: 'put'; readonly key: string; readonly value: Uint8Array } | { readonly type: 'delete'; readonly key: string };

/** A command as the WAL records it. */
export type StoreCommand =
  | { readonly type: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly type: 'delete'; readonly key: string }
  | { readonly type: 'batch'; readonly ops: readonly StoreOperation[] }
  /** Sets `key` to `value` (null: deletes it) if it currently holds `expected` (null: absent). */
  | { readonly type: 'cas'; readonly key: string; readonly expected: Uint8Array | null; readonly value: Uint8Array | null }
  /** Adds `delta` to the counter at `key` (absent counts as 0); the counter is stored as decimal text. */
  | { readonly type: 'increment'; readonly key: string; readonly delta: number };

/** Codes of expected command failures (decided at apply time, so they are results, not errors). */
export type StoreFailureCode = 'NOT_A_COUNTER' | 'COUNTER_OVERFLOW';

/** The outcome of one applied command. */
export type StoreResult =
  | { readonly ok: true; readonly type: 'write' }
  | { readonly ok: true; readonly type: 'cas'; readonly swapped: boolean; readonly current: Uint8Array | null }
  | { readonly ok: true; readonly type: 'increment'; readonly value: number }
  | { readonly ok: false; readonly code: StoreFailureCode; readonly message: string };

/** Codes of bad input. */
export type StoreInputErrorCode = 'INVALID_ARGUMENT' | 'KEY_TOO_LARGE' | 'VALUE_TOO_LARGE' | 'BATCH_TOO_LARGE';

/** A validation outcome. */
export type Validated<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: StoreInputErrorCode; readonly message: string };

/** The key changes one command makes: `null` deletes. In command order; later entries win. */
export type StoreWrites = Array<readonly [key: string, value: Uint8Array | null]>;

/** The limits validation needs (a subset of StorageLimits, declared here to keep the core self-contained). */
export interface StoreCommandLimits {
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;
  readonly batchOpsMax: number;
}

const encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Checks a key: a well-formed string of 1..keyBytesMax UTF-8 bytes. */
export function validateKey(key: unknown, limits: StoreCommandLimits): Validated<string> {
  if (typeof key !== 'string') return invalid('INVALID_ARGUMENT', `key must be a string, got ${describe(key)}`);
  if (key.length === 0) return invalid('INVALID_ARGUMENT', 'key must not be empty');
  // A lone surrogate would encode to U+FFFD, making two different strings the same key.
  if (LONE_SURROGATE.test(key)) return invalid('INVALID_ARGUMENT', 'key is not well-formed Unicode');
  const bytes = utf8Length(key);
  if (bytes > limits.keyBytesMax) return invalid('KEY_TOO_LARGE', `key is ${bytes} bytes, limit ${limits.keyBytesMax}`);
  return { ok: true, value: key };
}

/** Checks a value: a byte array of at most valueBytesMax bytes (`nullable` admits null). */
export function validateValue(value: unknown, limits: StoreCommandLimits, nullable = false): Validated<Uint8Array | null> {
  if (value === null && nullable) return { ok: true, value: null };
  if (!(value instanceof Uint8Array)) return invalid('INVALID_ARGUMENT', `value must be a Uint8Array${nullable ? ' or null' : ''}, got ${describe(value)}`);
  if (value.length > limits.valueBytesMax) return invalid('VALUE_TOO_LARGE', `value is ${value.length} bytes, limit ${limits.valueBytesMax}`);
  return { ok: true, value };
}

/** Checks untrusted input (for example a decoded WAL record or request) and returns a typed command. */
export function validateCommand(input: unknown, limits: StoreCommandLimits): Validated<StoreCommand> {
  if (typeof input !== 'object' || input === null) return invalid('INVALID_ARGUMENT', `command must be an object, got ${describe(input)}`);
  const record = input as Record<string, unknown>;
  switch (record.type) {
    case 'put':
    case 'delete':
      return validateOperation(record, limits);
    case 'batch':
      return validateBatch(record.ops, limits);
    case 'cas': {
      const key = validateKey(record.key, limits);
      if (!key.ok) return key;
      const expected = validateValue(record.expected, limits, true);
      if (!expected.ok) return expected;
      const value = validateValue(record.value, limits, true);
      if (!value.ok) return value;
      return { ok: true, value: { type: 'cas', key: key.value, expected: expected.value, value: value.value } };
    }
    case 'increment': {
      const key = validateKey(record.key, limits);
      if (!key.ok) return key;
      if (!Number.isSafeInteger(record.delta)) return invalid('INVALID_ARGUMENT', `delta must be a safe integer, got ${describe(record.delta)}`);
      return { ok: true, value: { type: 'increment', key: key.value, delta: record.delta as number } };
    }
    default:
      return invalid('INVALID_ARGUMENT', `unknown command type ${describe(record.type)}`);
  }
}

function validateOperation(record: Record<string, unknown>, limits: StoreCommandLimits): Validated<StoreOperation> {
  const key = validateKey(record.key, limits);
  if (!key.ok) return key;
  if (record.type === 'delete') return { ok: true, value: { type: 'delete', key: key.value } };
  const value = validateValue(record.value, limits);
  if (!value.ok) return value;
  return { ok: true, value: { type: 'put', key: key.value, value: value.value! } };
}

function validateBatch(ops: unknown, limits: StoreCommandLimits): Validated<StoreCommand> {
  if (!Array.isArray(ops)) return invalid('INVALID_ARGUMENT', `batch ops must be an array, got ${describe(ops)}`);
  if (ops.length === 0) return invalid('INVALID_ARGUMENT', 'batch has no operations');
  if (ops.length > limits.batchOpsMax) return invalid('BATCH_TOO_LARGE', `batch has ${ops.length} operations, limit ${limits.batchOpsMax}`);
  const checked: StoreOperation[] = [];
  for (const [position, op] of ops.entries()) {
    if (typeof op !== 'object' || op === null || (op.type !== 'put' && op.type !== 'delete')) {
      return invalid('INVALID_ARGUMENT', `batch operation ${position} must be a put or delete`);
    }
    const result = validateOperation(op as Record<string, unknown>, limits);
    if (!result.ok) return { ...result, message: `batch operation ${position}: ${result.message}` };
    checked.push(result.value);
  }
  return { ok: true, value: { type: 'batch', ops: checked } };
}

/** Keys whose current values a command needs before it can be executed. */
export function keysRead(command: StoreCommand): string[] {
  return command.type === 'cas' || command.type === 'increment' ? [command.key] : [];
}

/**
 * Executes a command against the current state, read through `read` (undefined: absent). Returns the
 * writes to make and the result to report. Never throws for a valid command.
 */
export function executeCommand(command: StoreCommand, read: (key: string) => Uint8Array | undefined): { writes: StoreWrites; result: StoreResult } {
  switch (command.type) {
    case 'put':
      return { writes: [[command.key, command.value]], result: { ok: true, type: 'write' } };
    case 'delete':
      return { writes: [[command.key, null]], result: { ok: true, type: 'write' } };
    case 'batch':
      return { writes: command.ops.map((op) => [op.key, op.type === 'put' ? op.value : null] as const), result: { ok: true, type: 'write' } };
    case 'cas': {
      const current = read(command.key) ?? null;
      if (!bytesEqual(current, command.expected)) return { writes: [], result: { ok: true, type: 'cas', swapped: false, current } };
      return { writes: [[command.key, command.value]], result: { ok: true, type: 'cas', swapped: true, current: command.value } };
    }
    case 'increment':
      return executeIncrement(command.key, command.delta, read(command.key));
  }
}

function executeIncrement(key: string, delta: number, current: Uint8Array | undefined): { writes: StoreWrites; result: StoreResult } {
  let value = 0;
  if (current !== undefined) {
    const parsed = parseCounter(current);
    if (parsed === undefined) return { writes: [], result: { ok: false, code: 'NOT_A_COUNTER', message: `the value at ${key} is not a decimal integer` } };
    value = parsed;
  }
  const next = value + delta;
  if (!Number.isSafeInteger(next)) return { writes: [], result: { ok: false, code: 'COUNTER_OVERFLOW', message: `${value} + ${delta} is not a safe integer` } };
  return { writes: [[key, encoder.encode(String(next))]], result: { ok: true, type: 'increment', value: next } };
}

/** Reads a counter value written by `increment` (decimal text), or undefined if it is not one. */
export function parseCounter(bytes: Uint8Array): number | undefined {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return undefined;
  }
  if (!/^-?(0|[1-9][0-9]{0,15})$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Byte equality, with null meaning "absent". */
export function bytesEqual(left: Uint8Array | null, right: Uint8Array | null): boolean {
  if (left === null || right === null) return left === right;
  if (left.length !== right.length) return false;
  for (let position = 0; position < left.length; position += 1) if (left[position] !== right[position]) return false;
  return true;
}

/** UTF-8 length of a well-formed string, without allocating. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let position = 0; position < text.length; position += 1) {
    const unit = text.charCodeAt(position);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      bytes += 4;
      position += 1;
    } else bytes += 3;
  }
  return bytes;
}

function invalid<T>(code: StoreInputErrorCode, message: string): Validated<T> {
  return { ok: false, code, message };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'a byte array';
  return typeof value === 'string' ? `"${value.slice(0, 40)}"` : typeof value;
}
