/**
 * The CBOR codec for everything that crosses a process boundary (RFC 8949, via cbor-x).
 *
 * Plain CBOR only: no shared structures or records, because cbor-x decodes a record whose structure
 * table differs on the peer silently wrong (DESIGN.md section 8). Decoding untrusted bytes is bounded
 * by work, not only by bytes, and runs in three steps so that no input can crash or stall the process
 * or smuggle in a non-plain value:
 *   1. a size check (FRAME_TOO_LARGE);
 *   2. the structural scan of `codec-scan.ts`, linear in the input and allocation-free, which refuses
 *      every tag but bignums (TAG_REFUSED: shared values, records, sets, dates ...), long bignums
 *      (BIGNUM_TOO_LARGE), deep nesting (DEPTH_EXCEEDED), too many items (ITEMS_EXCEEDED), a decoded
 *      value too large for memory (DECODED_TOO_LARGE), and anything malformed or outside plain data
 *      (DECODE_FAILED): indefinite lengths, non-text map keys, `__proto__` keys, other simple values;
 *   3. cbor-x decoding of the bytes the scan admitted. What it admitted can only decode to plain data
 *      (null, undefined, booleans, numbers, bigints, strings, byte strings, arrays and string-keyed
 *      plain objects), with one node per item scanned, so no walk over the result is needed.
 * Byte strings decode to fresh `Uint8Array`s (never Buffers, never views that keep the whole input
 * alive). Encoding checks the value is plain data, encodes it, and runs the same scan over the result,
 * so a value this codec encodes is one every peer with the same limits decodes.
 */
import { Decoder, Encoder } from 'cbor-x';
import { CborScanner, type ScanSummary } from './codec-scan.js';
import { DecodeError, EncodeError } from './errors.js';
import { limits } from './limits.js';

/** Limits a codec enforces; each is described, with what happens at the bound, in `limits.ts`. */
export interface CodecLimits {
  readonly frameBytesMax: number;
  readonly messageDepthMax: number;
  readonly messageItemsMax: number;
  readonly decodedBytesMax: number;
  readonly bignumBytesMax: number;
}

/** Encodes and decodes plain-data messages with limits. Stateless between calls, so one instance may be shared. */
export class Codec {
  readonly limits: CodecLimits;
  readonly #encoder: Encoder;
  readonly #decoder: Decoder;
  readonly #scanner: CborScanner;

  constructor(overrides: Partial<CodecLimits> = {}) {
    this.limits = {
      frameBytesMax: limits.frameBytesMax,
      messageDepthMax: limits.messageDepthMax,
      messageItemsMax: limits.messageItemsMax,
      decodedBytesMax: limits.decodedBytesMax,
      bignumBytesMax: limits.bignumBytesMax,
      ...overrides,
    };
    this.#encoder = new Encoder({
      useRecords: false,
      mapsAsObjects: true,
      structuredClone: false,
      tagUint8Array: false,
      pack: false,
    } as ConstructorParameters<typeof Encoder>[0]);
    // Explicitly the plain decoder: no records, no shared structures, objects for maps, copied byte strings.
    this.#decoder = new Decoder({ useRecords: false, mapsAsObjects: true, copyBuffers: true } as ConstructorParameters<typeof Decoder>[0]);
    this.#scanner = new CborScanner({
      depthMax: this.limits.messageDepthMax,
      itemsMax: this.limits.messageItemsMax,
      decodedBytesMax: this.limits.decodedBytesMax,
      bignumBytesMax: this.limits.bignumBytesMax,
    });
  }

  /**
   * Encodes `value`; throws EncodeError on data that is not plain (ENCODE_FAILED) or that a peer would
   * refuse: FRAME_TOO_LARGE, DEPTH_EXCEEDED, ITEMS_EXCEEDED, DECODED_TOO_LARGE, BIGNUM_TOO_LARGE.
   */
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
    try {
      this.#scanner.scan(bytes);
    } catch (cause) {
      if (!(cause instanceof DecodeError)) throw cause;
      throw new EncodeError(cause.code, `a peer would refuse this value: ${cause.message}`, { cause, context: cause.context });
    }
    return bytes;
  }

  /** Decodes untrusted bytes into plain data, or throws DecodeError with a stable code. */
  decode(bytes: Uint8Array): unknown {
    this.#admit(bytes);
    // cbor-x's byte strings take the input's class: a plain view makes them plain Uint8Arrays.
    const source = Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      return this.#decoder.decode(source);
    } catch (cause) {
      throw new DecodeError('DECODE_FAILED', 'malformed CBOR', { cause });
    }
  }

  /**
   * Runs the size check and the structural scan alone, without building a value: what `decode` would
   * refuse, this throws; otherwise it says how many items the value has and its estimated size.
   */
  inspect(bytes: Uint8Array): ScanSummary {
    return this.#admit(bytes);
  }

  #admit(bytes: Uint8Array): ScanSummary {
    if (!(bytes instanceof Uint8Array)) throw new DecodeError('DECODE_FAILED', 'input is not a byte array');
    if (bytes.length > this.limits.frameBytesMax) {
      throw new DecodeError('FRAME_TOO_LARGE', `frame is ${bytes.length} bytes, limit ${this.limits.frameBytesMax}`, {
        context: { bytes: bytes.length, limit: this.limits.frameBytesMax },
      });
    }
    if (bytes.length === 0) throw new DecodeError('DECODE_FAILED', 'empty input');
    return this.#scanner.scan(bytes);
  }
}

/** The process-wide default codec. */
export const codec = new Codec();

type ErrorClass = new (code: string, message: string, options?: { cause?: unknown; context?: Record<string, unknown> }) => Error;

/** Walks a value about to be encoded and throws unless it is plain data within the depth limit (iterative). */
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
