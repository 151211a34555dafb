/**
 * The structural scan that runs over untrusted CBOR bytes (RFC 8949) before any value is built.
 *
 * It walks the encoded items once, front to back, with no recursion and no allocation per item: a
 * fixed stack of "items still expected" per open container, sized by the depth limit. It admits only
 * the subset of CBOR that plain data encodes to, and bounds the work and memory a decoder may spend:
 *   - well-formed items only: no reserved additional information, no truncated argument or payload,
 *     no trailing bytes, and no container or string that declares more than the bytes that remain;
 *   - definite lengths only: indefinite-length items and break codes are refused (plain data never
 *     needs them, and the encoder never writes them);
 *   - map keys are text strings, and never `__proto__`;
 *   - tags 2 and 3 (bignums) only, each wrapping a definite byte string of at most `bignumBytesMax`
 *     bytes; every other tag is refused, in particular shared values (28, 29), which let a few hundred
 *     bytes describe a value with 2^n paths, records (105, 0xdfff...), sets, maps, dates and typed arrays;
 *   - simple values false, true, null and undefined, and floats; no other simple value;
 *   - at most `depthMax` nested containers, `itemsMax` data items and `decodedBytesMax` estimated bytes
 *     of decoded value.
 * Every check happens before the decoder sees the bytes, and the scan costs one pass over the headers,
 * so the whole decode is linear in the size of the input.
 */
import { DecodeError, assert } from './errors.js';

/** The bounds one scan enforces; each refusal is a DecodeError whose code is named beside the bound. */
export interface ScanBounds {
  /** Containers nested deeper are refused with DEPTH_EXCEEDED. */
  readonly depthMax: number;
  /** More data items (every scalar, string, array, map, key and tag counts one) are refused with ITEMS_EXCEEDED. */
  readonly itemsMax: number;
  /** A larger estimated decoded size (see `decodedCost`) is refused with DECODED_TOO_LARGE. */
  readonly decodedBytesMax: number;
  /** A longer bignum magnitude (tags 2 and 3) is refused with BIGNUM_TOO_LARGE. */
  readonly bignumBytesMax: number;
}

/** What one scan found in an accepted input. */
export interface ScanSummary {
  /** Data items in the input: the number of nodes the decoded value will have, tags included. */
  readonly items: number;
  /** The estimated size in memory of the decoded value, in bytes. */
  readonly decodedBytes: number;
}

/**
 * The estimate of the decoded value's size in memory, per kind of item, in bytes. Deliberately
 * generous (V8 spends about 16 bytes on a heap number, 40-60 on an empty object or array, and 80-100
 * on a small typed array), so the bound is one on real memory, not a guess below it.
 */
export const decodedCost = {
  /** Every item: a slot in its container and a small heap value. */
  itemBytes: 16,
  /** An array or a map, on top of `itemBytes`. */
  containerBytes: 48,
  /** A byte string's object, on top of `itemBytes` and its length (the decoder copies the bytes). */
  byteStringBytes: 80,
  /** A text string's payload: at most two bytes per encoded byte (UTF-16). */
  textBytesPerByte: 2,
} as const;

const itemBytes = decodedCost.itemBytes;
const majorNegative = 1;
const majorBytes = 2;
const majorText = 3;
const majorArray = 4;
const majorMap = 5;
const majorTag = 6;
const tagPositiveBignum = 2;
const tagNegativeBignum = 3;
const simpleFalse = 20;
const simpleUndefined = 23;
/** `__proto__` in UTF-8: a key decoders would turn into a prototype change. */
const protoKey = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f] as const;

function refuse(code: string, message: string, offset: number, context: Record<string, unknown> = {}): never {
  throw new DecodeError(code, `${message} (byte ${offset})`, { context: { offset, ...context } });
}

/** Bytes of argument that follow an initial byte with additional information `info` (RFC 8949 section 3). */
function argumentSize(info: number, offset: number): number {
  if (info < 24) return 0;
  if (info === 24) return 1;
  if (info === 25) return 2;
  if (info === 26) return 4;
  if (info === 27) return 8;
  if (info === 31) refuse('DECODE_FAILED', 'indefinite-length items and break codes are not accepted', offset - 1);
  return refuse('DECODE_FAILED', `reserved additional information ${info}`, offset - 1);
}

/** The big-endian unsigned integer of `size` bytes at `offset`; exact below 2^53, which every bound is. */
function readUint(bytes: Uint8Array, offset: number, size: number): number {
  let value = 0;
  for (let index = 0; index < size; index += 1) value = value * 256 + bytes[offset + index]!;
  return value;
}

function isProtoKey(bytes: Uint8Array, offset: number): boolean {
  for (let index = 0; index < protoKey.length; index += 1) if (bytes[offset + index] !== protoKey[index]) return false;
  return true;
}

/**
 * A reusable scanner for one set of bounds. Its stack is allocated once; `scan` is synchronous and
 * calls out to nothing, so one scanner can serve every decode of a codec.
 */
export class CborScanner {
  readonly bounds: ScanBounds;
  /**
   * Per open container (index 0 is the top level), twice the number of items it still expects, plus 1
   * for a map. Items never outnumber the bytes of a frame, so the state fits 31 bits.
   */
  readonly #open: Int32Array;

  constructor(bounds: ScanBounds) {
    this.bounds = bounds;
    assert(Number.isSafeInteger(bounds.depthMax) && bounds.depthMax >= 1, 'depthMax must be a positive integer', { depthMax: bounds.depthMax });
    this.#open = new Int32Array(bounds.depthMax + 1);
  }

  /** Checks that `bytes` hold exactly one admissible data item within the bounds, or throws DecodeError. */
  scan(bytes: Uint8Array): ScanSummary {
    assert(bytes.length < 2 ** 29, 'a scanned frame is under 512 MiB', { bytes: bytes.length });
    const { depthMax, itemsMax, decodedBytesMax } = this.bounds;
    const open = this.#open;
    const end = bytes.length;
    let offset = 0;
    let depth = 0;
    let items = 0;
    let decodedBytes = 0;
    open[0] = 2; // the top level: one item expected, not a map
    for (;;) {
      if (offset >= end) refuse('DECODE_FAILED', 'truncated: an item is missing', offset);
      const initial = bytes[offset]!;
      offset += 1;
      const major = initial >>> 5;
      let argument = initial & 31;
      if (argument === 24 && offset < end) {
        argument = bytes[offset]!;
        offset += 1;
      } else if (argument >= 24) {
        const size = argumentSize(argument, offset);
        if (offset + size > end) refuse('DECODE_FAILED', 'truncated argument', offset);
        argument = readUint(bytes, offset, size);
        offset += size;
      }
      items += 1;
      const state = open[depth]!;
      // In a map, the item is a key when an even number of items is left (bit 1 of the state clear).
      const atKey = (state & 3) === 1;
      if (atKey && major !== majorText) refuse('DECODE_FAILED', 'map keys must be text strings', offset);
      if (major === majorText || major === majorBytes) {
        if (argument > end - offset) refuse('DECODE_FAILED', `a string declares ${argument} bytes but ${end - offset} remain`, offset);
        if (atKey && argument === protoKey.length && isProtoKey(bytes, offset)) refuse('DECODE_FAILED', 'a __proto__ key', offset);
        offset += argument;
        decodedBytes += major === majorText ? itemBytes + decodedCost.textBytesPerByte * argument : itemBytes + decodedCost.byteStringBytes + argument;
      } else if (major === majorArray || major === majorMap) {
        const count = major === majorMap ? argument * 2 : argument;
        if (count > end - offset) refuse('DECODE_FAILED', `a container declares ${count} items but ${end - offset} bytes remain`, offset);
        if (depth >= depthMax) refuse('DEPTH_EXCEEDED', `nesting deeper than ${depthMax}`, offset, { depthMax });
        decodedBytes += itemBytes + decodedCost.containerBytes;
        if (count > 0) {
          depth += 1;
          open[depth] = count * 2 + (major === majorMap ? 1 : 0);
          continue;
        }
      } else if (major === majorTag) {
        const start = offset;
        offset = this.#bignum(bytes, offset, argument);
        items += 1;
        decodedBytes += 2 * itemBytes + (offset - start);
      } else {
        if (major > majorNegative) checkSimple(initial, offset);
        decodedBytes += itemBytes;
      }
      if (items > itemsMax) refuse('ITEMS_EXCEEDED', `more than ${itemsMax} data items`, offset, { itemsMax });
      if (decodedBytes > decodedBytesMax) refuse('DECODED_TOO_LARGE', `decoded value would exceed ${decodedBytesMax} bytes`, offset, { decodedBytesMax });
      // One item is complete: count it against its container, closing every container it fills.
      let left = open[depth]! - 2;
      while (left < 2) {
        if (depth === 0) {
          if (offset !== end) refuse('DECODE_FAILED', `${end - offset} trailing bytes`, offset);
          return { items, decodedBytes };
        }
        depth -= 1;
        left = open[depth]! - 2;
      }
      open[depth] = left;
    }
  }

  /** Checks a tag and the byte string it must wrap; returns the offset after it. */
  #bignum(bytes: Uint8Array, offset: number, tag: number): number {
    if (tag !== tagPositiveBignum && tag !== tagNegativeBignum) refuse('TAG_REFUSED', `CBOR tag ${tag} is not accepted`, offset, { tag });
    if (offset >= bytes.length) refuse('DECODE_FAILED', 'truncated: a bignum tag without content', offset);
    const initial = bytes[offset]!;
    if (initial >>> 5 !== majorBytes) refuse('DECODE_FAILED', 'a bignum tag must wrap a byte string', offset);
    const size = argumentSize(initial & 31, offset + 1);
    const start = offset + 1 + size;
    if (start > bytes.length) refuse('DECODE_FAILED', 'truncated argument', offset);
    const length = size === 0 ? initial & 31 : readUint(bytes, offset + 1, size);
    const { bignumBytesMax } = this.bounds;
    if (length > bignumBytesMax) refuse('BIGNUM_TOO_LARGE', `a bignum of ${length} bytes, limit ${bignumBytesMax}`, offset, { bytes: length, bignumBytesMax });
    if (length > bytes.length - start) refuse('DECODE_FAILED', `a bignum declares ${length} bytes but ${bytes.length - start} remain`, offset);
    return start + length;
  }
}

/** Admits floats and the simple values false, true, null and undefined (major type 7). */
function checkSimple(initial: number, offset: number): void {
  const info = initial & 31;
  if (info >= 25) return; // half, single and double floats; 28-31 were refused with the argument
  if (info < simpleFalse || info > simpleUndefined) refuse('DECODE_FAILED', `simple value ${info === 24 ? '(two-byte)' : info} is not accepted`, offset);
}
