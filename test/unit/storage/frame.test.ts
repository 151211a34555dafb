import { describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES, RecordType, crc32c, encodeFrame, readFrame } from '../../../actors/storage/index.js';
import { bytes, payload } from '../../support/storage-temp.js';

describe('crc32c', () => {
  it('matches the RFC 3720 check values', () => {
    expect(crc32c(bytes('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    const ascending = Uint8Array.from({ length: 32 }, (_, position) => position);
    expect(crc32c(ascending)).toBe(0x46dd794e);
  });

  it('continues across pieces exactly as over the whole', () => {
    const data = payload(7, 1000);
    for (const split of [0, 1, 7, 8, 9, 500, 999, 1000]) {
      expect(crc32c(data, crc32c(data, 0, 0, split), split)).toBe(crc32c(data));
    }
  });
});

describe('record frames', () => {
  it('round-trips type, index, batch position and payload', () => {
    const frame = encodeFrame({ type: RecordType.entry, index: 2 ** 40 + 3, batchPosition: 5, payload: bytes('hello') });
    expect(frame.length).toBe(FRAME_HEADER_BYTES + 5);
    const read = readFrame(frame, 0, 100);
    expect(read.kind).toBe('frame');
    if (read.kind !== 'frame') return;
    expect(read.frame.type).toBe(RecordType.entry);
    expect(read.frame.index).toBe(2 ** 40 + 3);
    expect(read.frame.batchPosition).toBe(5);
    expect(Array.from(read.frame.payload)).toEqual(Array.from(bytes('hello')));
    expect(read.frame.end).toBe(frame.length);
  });

  it('reports the exact end of the bytes as end, not as damage', () => {
    const frame = encodeFrame({ type: RecordType.entry, index: 1, batchPosition: 0, payload: bytes('x') });
    expect(readFrame(frame, frame.length, 100).kind).toBe('end');
  });

  it('detects every single-bit flip anywhere in the frame', () => {
    const frame = encodeFrame({ type: RecordType.entry, index: 9, batchPosition: 0, payload: payload(1, 40) });
    for (let bit = 0; bit < frame.length * 8; bit += 1) {
      const damaged = frame.slice();
      damaged[bit >> 3] = damaged[bit >> 3]! ^ (1 << (bit & 7));
      const read = readFrame(damaged, 0, 1_000);
      expect(read.kind, `bit ${bit}`).not.toBe('frame');
    }
  });

  it('calls a frame cut at any byte truncated', () => {
    const frame = encodeFrame({ type: RecordType.entry, index: 1, batchPosition: 0, payload: payload(2, 30) });
    for (let length = 1; length < frame.length; length += 1) {
      expect(readFrame(frame.subarray(0, length), 0, 1_000).kind, `length ${length}`).toBe('truncated');
    }
  });

  it('refuses a payload length over the limit before reading it', () => {
    const frame = encodeFrame({ type: RecordType.entry, index: 1, batchPosition: 0, payload: payload(3, 64) });
    const read = readFrame(frame, 0, 63);
    expect(read).toEqual({ kind: 'invalid', reason: 'payload length 64 exceeds 63' });
  });

  it('refuses zeroed bytes (a preallocated or zero-filled tail)', () => {
    expect(readFrame(new Uint8Array(100), 0, 1_000).kind).toBe('invalid');
  });
});
