/**
 * Hand-built CBOR bytes (RFC 8949) for tests of hostile input: headers with any argument, the
 * shared-value bomb, long bignums. Built by hand because no well-behaved encoder writes them.
 */

/** Major types of RFC 8949 section 3.1. */
export const major = { unsigned: 0, negative: 1, bytes: 2, text: 3, array: 4, map: 5, tag: 6, simple: 7 } as const;

/** The initial byte and argument of an item of `majorType` with `argument` (any size up to 2^64 - 1). */
export function head(majorType: number, argument: number | bigint): number[] {
  const value = BigInt(argument);
  const top = majorType << 5;
  if (value < 24n) return [top | Number(value)];
  if (value < 0x100n) return [top | 24, Number(value)];
  if (value < 0x10000n) return [top | 25, Number(value >> 8n), Number(value & 0xffn)];
  if (value < 0x100000000n) return [top | 26, ...bigEndian(value, 4)];
  return [top | 27, ...bigEndian(value, 8)];
}

function bigEndian(value: bigint, size: number): number[] {
  return Array.from({ length: size }, (_, index) => Number((value >> BigInt(8 * (size - 1 - index))) & 0xffn));
}

/** A text string item. */
export function text(value: string): number[] {
  const bytes = [...new TextEncoder().encode(value)];
  return [...head(major.text, bytes.length), ...bytes];
}

/**
 * The shared-value bomb: a list of `levels` arrays, each marked shareable (tag 28) and holding two
 * references (tag 29) to the one before it, so level n reaches the first one by 2^n paths. About
 * six bytes a level on the wire; a decoder that follows shared references, or a walk over what it
 * built, does 2^levels work.
 */
export function sharedValueBomb(levels: number): Uint8Array {
  const bytes: number[] = [...head(major.array, levels + 1)];
  bytes.push(...head(major.tag, 28), ...head(major.array, 1), ...text('x'));
  for (let level = 0; level < levels; level += 1) {
    bytes.push(...head(major.tag, 28), ...head(major.array, 2));
    bytes.push(...head(major.tag, 29), ...head(major.unsigned, level), ...head(major.tag, 29), ...head(major.unsigned, level));
  }
  return Uint8Array.from(bytes);
}

/** The bomb wrapped as a one-frame message, the shape a socket decodes first. */
export function sharedValueBombMessage(levels: number): Uint8Array {
  return Uint8Array.from([...head(major.array, 1), ...sharedValueBomb(levels)]);
}

/** A positive bignum (tag 2) whose magnitude is `length` bytes of 0xff. */
export function bignum(length: number): Uint8Array {
  const header = [...head(major.tag, 2), ...head(major.bytes, length)];
  const bytes = new Uint8Array(header.length + length).fill(0xff);
  bytes.set(header, 0);
  return bytes;
}
