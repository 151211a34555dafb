/**
 * The CBOR codec for everything that crosses a process boundary (RFC 8949, via cbor-x).
 *
 * Plain CBOR only: no shared structures or records, because cbor-x decodes a record whose structure
 * table differs on the peer silently wrong (DESIGN.md section 8). Decoding untrusted bytes runs in three
 * steps so that no input can crash the process or smuggle in a non-plain value:
 *   1. a size check (FRAME_TOO_LARGE),
 *   2. a structural scan of the bytes that bounds nesting depth before any recursion (DEPTH_EXCEEDED,
 *      DECODE_FAILED for truncated or malformed items),
 *   3. cbor-x decoding, then a walk that admits only plain data: null, booleans, numbers, bigints,
 *      strings, byte strings, arrays and string-keyed plain objects (DECODE_FAILED otherwise).
 */
import { Encoder } from 'cbor-x';
import { DecodeError, EncodeError } from './errors.js';
import { limits } from './limits.js';

/** Limits a codec enforces. */
export interface CodecLimits {
  readonly frameBytesMax: number;
  readonly messageDepthMax: number;
}

/** Encodes and decodes plain-data messages with limits. Stateless, so one instance may be shared. */
export class Codec {
  readonly limits: CodecLimits;
  readonly #encoder: Encoder;

  constructor(overrides: Partial<CodecLimits> = {}) {
    this.limits = { frameBytesMax: limits.frameBytesMax, messageDepthMax: limits.messageDepthMax, ...overrides };
    this.#encoder = new Encoder({
      useRecords: false,
      mapsAsObjects: true,
      structuredClone: false,
      tagUint8Array: false,
      pack: false,
    } as ConstructorParameters<typeof Encoder>[0]);
  }

  /** Encodes `value`; throws EncodeError (ENCODE_FAILED / FRAME_TOO_LARGE) on non-plain or oversized data. */
  encode(value: unknown): Uint8Array {
    assertPlain(value, this.limits.messageDepthMax, 'ENCODE_FAILED', EncodeError);
    let bytes: Uint8Array;
    try {
      bytes = this.#encoder.encode(value);
    } catch (cause) {
      throw new EncodeError('ENCODE_FAILED', 'value cannot be encoded as CBOR', { cause });
    }
    if (bytes.length > this.limits.frameBytesMax) {
      throw new EncodeError('FRAME_TOO_LARGE', `encoded message is ${bytes.length} bytes, limit ${this.limits.frameBytesMax}`, {
        context: { bytes: bytes.length, limit: this.limits.frameBytesMax },
      });
    }
    return bytes;
  }

  /** Decodes untrusted bytes into plain data, or throws DecodeError with a stable code. */
  decode(bytes: Uint8Array): unknown {
    if (!(bytes instanceof Uint8Array)) throw new DecodeError('DECODE_FAILED', 'input is not a byte array');
    if (bytes.length > this.limits.frameBytesMax) {
      throw new DecodeError('FRAME_TOO_LARGE', `frame is ${bytes.length} bytes, limit ${this.limits.frameBytesMax}`, {
        context: { bytes: bytes.length, limit: this.limits.frameBytesMax },
      });
    }
    if (bytes.length === 0) throw new DecodeError('DECODE_FAILED', 'empty input');
    scanItem(bytes, this.limits.messageDepthMax);
    let value: unknown;
    try {
      value = this.#encoder.decode(bytes);
    } catch (cause) {
      throw new DecodeError('DECODE_FAILED', 'malformed CBOR', { cause });
    }
    assertPlain(value, this.limits.messageDepthMax, 'DECODE_FAILED', DecodeError);
    return value;
  }
}

/** The process-wide default codec. */
export const codec = new Codec();

type ErrorClass = new (code: string, message: string, options?: { cause?: unknown; context?: Record<string, unknown> }) => Error;

/** Walks a value and throws unless it is plain data within the depth limit (iterative, no recursion). */
function assertPlain(root: unknown, depthMax: number, code: string, Failure: ErrorClass): void {
  const stack: Array<{ value: unknown; depth: number }> = [{ value: root, depth: 0 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (value === null || value === undefined) continue;
    const kind = typeof value;
    if (kind === 'string' || kind === 'boolean' || kind === 'bigint') continue;
    if (kind === 'number') continue;
    if (kind !== 'object') throw new Failure(code, `not plain data: a ${kind}`);
    if (depth >= depthMax) throw new Failure('DEPTH_EXCEEDED', `nesting deeper than ${depthMax}`, { context: { depthMax } });
    if (value instanceof Uint8Array) continue;
    if (Array.isArray(value)) {
      for (const item of value) stack.push({ value: item, depth: depth + 1 });
      continue;
    }
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      throw new Failure(code, `not plain data: ${prototype?.constructor?.name ?? 'unknown'} instance`);
    }
    for (const key of Object.keys(value as object)) {
      if (key === '__proto__') throw new Failure(code, 'not plain data: __proto__ key');
      stack.push({ value: (value as Record<string, unknown>)[key], depth: depth + 1 });
    }
  }
}

/**
 * Scans one complete CBOR data item in `bytes` without building values, checking that every length is
 * in bounds and that nesting stays within `depthMax`. Iterative: a hostile input cannot exhaust the stack.
 */
function scanItem(bytes: Uint8Array, depthMax: number): void {
  // Each open container is the number of items it still expects (-1: indefinite length).
  const open: number[] = [];
  let offset = 0;
  const fail = (message: string): never => {
    throw new DecodeError('DECODE_FAILED', `malformed CBOR at byte ${offset}: ${message}`, { context: { offset } });
  };
  const readArgument = (info: number): number => {
    if (info < 24) return info;
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (size === 0) fail(`reserved additional info ${info}`);
    if (offset + size > bytes.length) fail('truncated argument');
    let result = 0;
    for (let index = 0; index < size; index += 1) result = result * 256 + bytes[offset + index]!;
    offset += size;
    return result;
  };
  const finishItem = (): void => {
    // An item completed: count it against the innermost definite container, closing any that fill up.
    while (open.length > 0) {
      const top = open[open.length - 1]!;
      if (top < 0) return;
      if (top > 1) { open[open.length - 1] = top - 1; return; }
      open.pop();
    }
  };
  do {
    if (offset >= bytes.length) fail('truncated item');
    const initial = bytes[offset]!;
    offset += 1;
    const major = initial >> 5;
    const info = initial & 31;
    if (initial === 0xff) {
      if (open.length === 0 || open[open.length - 1]! >= 0) fail('unexpected break');
      open.pop();
      finishItem();
      continue;
    }
    if (info === 31) {
      if (major < 2 || major > 5) fail('indefinite length on a scalar');
      if (open.length >= depthMax) throw new DecodeError('DEPTH_EXCEEDED', `nesting deeper than ${depthMax}`, { context: { depthMax } });
      open.push(-1);
      continue;
    }
    const argument = readArgument(info);
    if (major === 2 || major === 3) {
      if (offset + argument > bytes.length) fail('byte/text string runs past the end');
      offset += argument;
      finishItem();
    } else if (major === 4 || major === 5) {
      const count = major === 5 ? argument * 2 : argument;
      if (count > bytes.length - offset) fail('container claims more items than bytes remain');
      if (count === 0) { finishItem(); continue; }
      if (open.length >= depthMax) throw new DecodeError('DEPTH_EXCEEDED', `nesting deeper than ${depthMax}`, { context: { depthMax } });
      open.push(count);
    } else if (major === 6) {
      // A tag wraps the next item; it adds no item of its own.
      continue;
    } else {
      finishItem();
    }
  } while (open.length > 0);
  if (offset !== bytes.length) fail(`${bytes.length - offset} trailing bytes`);
}
