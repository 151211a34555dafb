/**
 * The codec's decode bounds, one by one: each refusal has its typed code and happens in the scan,
 * before cbor-x builds anything; values at a bound are accepted; what the codec encodes, it decodes.
 */
import { Encoder } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { measurePlain } from '../../../cluster/core/plain.js';
import { Codec, DecodeError, EncodeError, codec, limits } from '../../../runtime/index.js';
import { bignum, head, major, sharedValueBomb, sharedValueBombMessage, text } from '../../support/cbor-bytes.js';

const hex = (value: string): Uint8Array => Uint8Array.from(Buffer.from(value, 'hex'));
const refusal = (run: () => unknown): string | undefined => {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof DecodeError || error instanceof EncodeError) return error.code;
    throw error;
  }
};

describe('codec decode bounds', () => {
  it('has a limits entry for every bound', () => {
    expect(codec.limits).toEqual({
      frameBytesMax: limits.frameBytesMax, messageDepthMax: limits.messageDepthMax, messageItemsMax: limits.messageItemsMax,
      decodedBytesMax: limits.decodedBytesMax, bignumBytesMax: limits.bignumBytesMax,
    });
    expect(limits.bignumBytesMax).toBe(64);
  });

  it('refuses the shared-value bomb (tags 28/29) at its first tag, at any depth of the bomb', () => {
    for (const levels of [1, 8, 64, 200]) {
      expect(() => codec.decode(sharedValueBomb(levels))).toThrowError(expect.objectContaining({ code: 'TAG_REFUSED', context: expect.objectContaining({ tag: 28 }) }));
      expect(() => codec.decode(sharedValueBombMessage(levels))).toThrowError(expect.objectContaining({ code: 'TAG_REFUSED' }));
    }
    // What cbor-x itself writes for a value shared twice (structured clone): refused too.
    const shared = { a: 1 };
    const cloned = new Encoder({ structuredClone: true } as ConstructorParameters<typeof Encoder>[0]).encode([shared, shared]);
    expect(refusal(() => codec.decode(cloned))).toBe('TAG_REFUSED');
  });

  it('refuses records and every tag cbor-x would interpret other than bignums', () => {
    const records = new Encoder({ useRecords: true } as ConstructorParameters<typeof Encoder>[0]).encode([{ a: 1 }, { a: 2 }]);
    expect(refusal(() => codec.decode(records))).toBe('TAG_REFUSED');
    const samples = {
      set: 'd901028101', map: 'd90103a10102', date: 'c11a00000000', epochString: 'c0613a', float32Array: 'd855440000803f',
      error: 'd81b82654572726f726178', regexp: 'd81b8366526567457870617860', legacyRecord: 'd86982000000', selfDescribed: 'd9d9f701',
      packedTable: 'd83384808080800000', packedReference: 'c600', structure: 'da0001000001', bigTag: 'db000000010000000201',
    };
    for (const [name, bytes] of Object.entries(samples)) expect(refusal(() => codec.decode(hex(bytes))), name).toBe('TAG_REFUSED');
  });

  it('accepts bignums up to bignumBytesMax and refuses longer ones before converting them', () => {
    const largest = 2n ** 512n - 1n; // 64 bytes of magnitude
    expect(codec.decode(codec.encode({ n: largest, m: -largest - 1n }))).toEqual({ n: largest, m: -largest - 1n });
    expect(codec.decode(Uint8Array.from([0x81, ...bignum(64)]))).toEqual([largest]);
    expect(() => codec.decode(Uint8Array.from([0x81, ...bignum(65)]))).toThrowError(expect.objectContaining({ code: 'BIGNUM_TOO_LARGE' }));
    const quadratic = Uint8Array.from([0x81, ...bignum(256 * 1024)]);
    expect(() => codec.decode(quadratic)).toThrowError(expect.objectContaining({ code: 'BIGNUM_TOO_LARGE', context: expect.objectContaining({ bytes: 256 * 1024 }) }));
    // A bignum tag must wrap a definite byte string.
    expect(refusal(() => codec.decode(hex('c201')))).toBe('DECODE_FAILED');
    expect(refusal(() => codec.decode(hex('c25f4101ff')))).toBe('DECODE_FAILED');
  });

  it('refuses to encode a bignum a peer would refuse, with the same code', () => {
    expect(() => codec.encode({ n: 2n ** 512n })).toThrowError(expect.objectContaining({ code: 'BIGNUM_TOO_LARGE' }));
    expect(() => codec.encode({ n: 2n ** 512n })).toThrow(EncodeError);
    // The link's plain-data check, run when a message is queued, refuses the same bigints, so one
    // message cannot make the receiver refuse the whole batch it travels in.
    for (const value of [2n ** 512n - 1n, -(2n ** 512n), 2n ** 512n, -(2n ** 512n) - 1n, 2n ** 64n, -(2n ** 64n) - 1n]) {
      expect(refusal(() => measurePlain({ n: value }, 64)), String(value)).toBe(refusal(() => codec.encode({ n: value })));
    }
  });

  it('bounds the item count (ITEMS_EXCEEDED) and the decoded size (DECODED_TOO_LARGE), on decode and on encode', () => {
    const small = new Codec({ messageItemsMax: 1_000, decodedBytesMax: 1024 * 1024 });
    const array = (count: number, item: number): Uint8Array => Uint8Array.from([...head(major.array, count), ...new Array<number>(count).fill(item)]);
    expect((small.decode(array(999, 0x00)) as unknown[]).length).toBe(999); // 999 zeros and the array: 1,000 items
    expect(small.inspect(array(999, 0x00)).items).toBe(1_000);
    expect(refusal(() => small.decode(array(1_000, 0x00)))).toBe('ITEMS_EXCEEDED');
    expect(refusal(() => small.encode(new Array(1_000).fill(0)))).toBe('ITEMS_EXCEEDED');
    // Empty maps are the costliest item per byte: 64 estimated bytes each.
    const sized = new Codec({ decodedBytesMax: 64 * 1024 });
    expect(sized.inspect(array(999, 0xa0)).decodedBytes).toBe(1_000 * 64);
    expect(refusal(() => sized.decode(array(1_100, 0xa0)))).toBe('DECODED_TOO_LARGE');
    expect(refusal(() => sized.encode(Array.from({ length: 1_100 }, () => ({}))))).toBe('DECODED_TOO_LARGE');
  });

  it('refuses declared lengths beyond the input before allocating anything', () => {
    for (const majorType of [major.bytes, major.text, major.array, major.map]) {
      for (const length of [100, 2 ** 32 - 1, 2n ** 64n - 1n]) {
        expect(refusal(() => codec.decode(Uint8Array.from([...head(majorType, length), 0x00, 0x00]))), `${majorType} ${length}`).toBe('DECODE_FAILED');
      }
    }
  });

  it('applies the depth limit to empty containers too, as encoding does', () => {
    const shallow = new Codec({ messageDepthMax: 3 });
    expect(shallow.decode(hex('818180'))).toEqual([[[]]]);
    expect(refusal(() => shallow.decode(hex('81818180')))).toBe('DEPTH_EXCEEDED');
    expect(refusal(() => shallow.encode([[[[]]]]))).toBe('DEPTH_EXCEEDED');
  });

  it('refuses indefinite lengths, non-text map keys, __proto__ keys and simple values outside plain data', () => {
    const samples = {
      indefiniteArray: '9f01ff', indefiniteMap: 'bf616101ff', indefiniteBytes: '5f4101ff', indefiniteText: '7f6161ff', lonelyBreak: 'ff',
      integerKey: 'a10102', arrayKey: 'a1800102', protoKey: `a1${Buffer.from([...text('__proto__')]).toString('hex')}a0`,
      simpleZero: 'e0', simpleTwoByte: 'f814', simpleReserved: 'f820', reservedInfo: '1c', reservedFloat: 'fc',
      trailing: '0101', truncatedArgument: '19ff',
    };
    for (const [name, bytes] of Object.entries(samples)) expect(refusal(() => codec.decode(hex(bytes))), name).toBe('DECODE_FAILED');
    expect(codec.decode(hex('84f4f5f6f7'))).toEqual([false, true, null, undefined]);
    expect(codec.decode(hex('83f93c00fa3f800000fb3ff0000000000000'))).toEqual([1, 1, 1]);
    expect(codec.decode(hex('a16b636f6e7374727563746f7201'))).toEqual({ constructor: 1 });
  });

  it('decodes byte strings to plain Uint8Arrays that do not share the input, even from a Buffer', () => {
    const input = Buffer.from(codec.encode({ data: Uint8Array.of(1, 2, 3) }));
    const { data } = codec.decode(input) as { data: Uint8Array };
    expect(Object.getPrototypeOf(data)).toBe(Uint8Array.prototype);
    input.fill(0);
    expect([...data]).toEqual([1, 2, 3]);
    expect(data.buffer.byteLength).toBe(3);
  });

  it('reports every refusal in the scan, so inspect and decode agree', () => {
    expect(refusal(() => codec.inspect(sharedValueBombMessage(30)))).toBe('TAG_REFUSED');
    expect(codec.inspect(codec.encode({ type: 'x', list: [1, 2, 3] }))).toEqual({ items: 8, decodedBytes: expect.any(Number) });
  });
});
