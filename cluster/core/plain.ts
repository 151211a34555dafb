/**
 * The plain-data check for outbound messages, with a size estimate. Messages are checked once, when
 * they are queued, so the batch encoder can later encode many frames in one call without checking
 * again; the estimate (an upper bound of the CBOR size) cuts batches and bounds the send queue
 * without encoding each message on its own. Admits exactly what the kernel codec admits: null,
 * undefined, booleans, numbers, bigints, strings, byte strings, arrays and plain objects, nested at
 * most `depthMax` deep, and no `__proto__` keys.
 */
import { EncodeError, limits } from '../../runtime/index.js';

/**
 * Returns an upper bound of the encoded size of `value`, or throws EncodeError (ENCODE_FAILED /
 * DEPTH_EXCEEDED, or BIGNUM_TOO_LARGE for a bigint whose tag 2/3 magnitude exceeds the codec's
 * `bignumBytesMax`, which the receiver would refuse along with the whole batch).
 */
export function measurePlain(value: unknown, depthMax: number): number {
  return measure(value, 0, depthMax);
}

const uint64Limit = 1n << 64n;

function measureBigint(value: bigint): number {
  const magnitudeBytes = Math.ceil((value < 0n ? -1n - value : value).toString(16).length / 2);
  if ((value >= uint64Limit || value < -uint64Limit) && magnitudeBytes > limits.bignumBytesMax) {
    throw new EncodeError('BIGNUM_TOO_LARGE', `a bignum of ${magnitudeBytes} bytes, limit ${limits.bignumBytesMax}`, { context: { bytes: magnitudeBytes } });
  }
  return 16 + magnitudeBytes;
}

function measure(value: unknown, depth: number, depthMax: number): number {
  switch (typeof value) {
    case 'string':
      return 9 + value.length * 3;
    case 'number':
      return 9;
    case 'boolean':
    case 'undefined':
      return 1;
    case 'bigint':
      return measureBigint(value);
    case 'object': {
      if (value === null) return 1;
      if (depth >= depthMax) throw new EncodeError('DEPTH_EXCEEDED', `nesting deeper than ${depthMax}`, { context: { depthMax } });
      if (value instanceof Uint8Array) return 9 + value.length;
      let size = 9;
      if (Array.isArray(value)) {
        for (const item of value) size += measure(item, depth + 1, depthMax);
        return size;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) {
        throw new EncodeError('ENCODE_FAILED', `not plain data: ${(prototype as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'unknown'} instance`);
      }
      for (const key of Object.keys(value)) {
        if (key === '__proto__') throw new EncodeError('ENCODE_FAILED', 'not plain data: __proto__ key');
        size += 9 + key.length * 3 + measure((value as Record<string, unknown>)[key], depth + 1, depthMax);
      }
      return size;
    }
    default:
      throw new EncodeError('ENCODE_FAILED', `not plain data: a ${typeof value}`);
  }
}
