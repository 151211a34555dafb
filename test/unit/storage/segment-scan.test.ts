/**
 * The recovery rules over raw segment bytes: what is a torn tail (cut) and what is latent corruption
 * (refused), as etcd's WAL and hashicorp's raft-wal separate them.
 */
import { describe, expect, it } from 'vitest';
import { RecordType, encodeFrame, scanSegment, segmentName, parseSegmentName, type SegmentScan } from '../../../actors/storage/index.js';
import { payload } from '../../support/storage-temp.js';

/** Builds segment bytes from batches of payload sizes, starting at `firstIndex`. */
function buildSegment(firstIndex: number, batches: number[][]): { bytes: Uint8Array; offsets: number[] } {
  const frames: Uint8Array[] = [];
  const offsets: number[] = [];
  let index = firstIndex;
  let offset = 0;
  for (const batch of batches) {
    batch.forEach((size, position) => {
      const frame = encodeFrame({ type: RecordType.entry, index, batchPosition: position, payload: payload(index, size) });
      frames.push(frame);
      offsets.push(offset);
      offset += frame.length;
      index += 1;
    });
  }
  const bytes = new Uint8Array(offset);
  let cursor = 0;
  for (const frame of frames) {
    bytes.set(frame, cursor);
    cursor += frame.length;
  }
  return { bytes, offsets };
}

function scan(bytes: Uint8Array, isLast = true, firstIndex = 1): SegmentScan {
  return scanSegment({ name: segmentName(firstIndex), bytes, firstIndex, isLast, payloadBytesMax: 1 << 20 });
}

describe('segment names', () => {
  it('round-trips the first index and refuses other names', () => {
    expect(segmentName(42)).toBe('00000000000000000042.wal');
    expect(parseSegmentName(segmentName(2 ** 50))).toBe(2 ** 50);
    for (const name of ['42.wal', '0000000000000000004x.wal', '00000000000000000000.wal', '00000000000000000042.snap']) expect(parseSegmentName(name)).toBeUndefined();
  });
});

describe('scanSegment', () => {
  it('reads a clean segment to its end', () => {
    const { bytes, offsets } = buildSegment(5, [[10, 20], [30]]);
    const result = scan(bytes, true, 5);
    expect(result).toMatchObject({ kind: 'ok', firstIndex: 5, lastIndex: 7, validBytes: bytes.length, tail: { kind: 'clean' } });
    if (result.kind === 'ok') expect(result.offsets).toEqual(offsets);
  });

  it('cuts a torn tail at every byte offset of the last record', () => {
    const { bytes, offsets } = buildSegment(1, [[40, 40], [100]]);
    const lastStart = offsets[2]!;
    for (let cut = lastStart + 1; cut < bytes.length; cut += 1) {
      const result = scan(bytes.subarray(0, cut));
      expect(result, `cut at ${cut}`).toMatchObject({ kind: 'ok', lastIndex: 2, validBytes: lastStart, tail: { kind: 'torn', offset: lastStart } });
    }
  });

  it('cuts a torn tail whose missing part reads back as zeros, at every sector-free offset', () => {
    const { bytes, offsets } = buildSegment(1, [[40], [200]]);
    const lastStart = offsets[1]!;
    for (let cut = lastStart; cut < bytes.length; cut += 1) {
      const damaged = bytes.slice();
      damaged.fill(0, cut);
      const result = scan(damaged);
      expect(result, `zeros from ${cut}`).toMatchObject({ kind: 'ok', lastIndex: 1, tail: { kind: 'torn', offset: lastStart } });
    }
  });

  it('treats a later record of the same torn batch as part of the tear (sectors persisted out of order)', () => {
    const { bytes, offsets } = buildSegment(1, [[40], [60, 60, 60]]);
    const damaged = bytes.slice();
    damaged.fill(0, offsets[2]!, offsets[3]!); // record 3 lost, record 4 of the same batch intact
    const result = scan(damaged);
    expect(result).toMatchObject({ kind: 'ok', lastIndex: 2, tail: { kind: 'torn', offset: offsets[2] } });
  });

  it('refuses a bad record followed by a record of a later batch: latent corruption, with the offset', () => {
    const { bytes, offsets } = buildSegment(1, [[40], [60, 60], [60]]);
    const damaged = bytes.slice();
    damaged[offsets[1]! + 30] = damaged[offsets[1]! + 30]! ^ 0x10;
    const result = scan(damaged);
    expect(result).toMatchObject({ kind: 'corrupt', offset: offsets[1] });
    if (result.kind === 'corrupt') expect(result.reason).toMatch(/checksum mismatch, followed by record 4 of a later batch/);
  });

  it('refuses any bad record in a sealed (not last) segment, even at its end', () => {
    const { bytes, offsets } = buildSegment(1, [[40], [60]]);
    const result = scan(bytes.subarray(0, bytes.length - 1), false);
    expect(result).toMatchObject({ kind: 'corrupt', offset: offsets[1] });
  });

  it('refuses a valid record with the wrong index', () => {
    const first = encodeFrame({ type: RecordType.entry, index: 1, batchPosition: 0, payload: payload(1, 10) });
    const skipped = encodeFrame({ type: RecordType.entry, index: 3, batchPosition: 0, payload: payload(3, 10) });
    const bytes = new Uint8Array([...first, ...skipped]);
    expect(scan(bytes)).toMatchObject({ kind: 'corrupt', offset: first.length, reason: 'record has index 3, expected 2' });
  });

  it('finds a record of a later batch behind a megabyte of damage', () => {
    const { bytes, offsets } = buildSegment(1, [[10], Array.from({ length: 4000 }, () => 200), [10]]);
    const damaged = bytes.slice();
    damaged.fill(0xab, offsets[1]!, offsets[4001]!);
    const result = scan(damaged);
    expect(result).toMatchObject({ kind: 'corrupt', offset: offsets[1] });
  });
});
