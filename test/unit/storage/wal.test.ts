/**
 * The WAL on the simulated disk (fault injection) and on the real file system: group commit,
 * durability of acknowledged appends, rotation, prefix truncation, recovery and fail-stop.
 */
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedDisk, Wal, WalCorruptionError, isStorageError, segmentName, type WalEntry } from '../../../actors/storage/index.js';
import { TempDirectories, payload } from '../../support/storage-temp.js';
import { waitFor } from '../../support/wait.js';

const temps = new TempDirectories();
afterEach(() => temps.cleanup());

const directory = '/node/wal';

async function readAll(wal: Wal): Promise<WalEntry[]> {
  const entries: WalEntry[] = [];
  if (wal.lastIndex < wal.firstIndex) return entries;
  for await (const entry of wal.entries(wal.firstIndex)) entries.push({ index: entry.index, payload: entry.payload.slice() });
  return entries;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => undefined, (error: unknown) => error);
}

function sameBytes(left: Uint8Array, right: Uint8Array): boolean {
  return left.length === right.length && left.every((byte, position) => byte === right[position]);
}

describe('WAL appends', () => {
  it('assigns consecutive indexes and reads every record back after reopening (real disk)', async () => {
    const root = temps.make();
    const wal = await Wal.open({ directory: root });
    const indexes = await Promise.all(Array.from({ length: 50 }, (_, position) => wal.append(payload(position, 10 + position))));
    expect(indexes).toEqual(Array.from({ length: 50 }, (_, position) => position + 1));
    await wal.close();
    const reopened = await Wal.open({ directory: root });
    const entries = await readAll(reopened);
    expect(entries.map((entry) => entry.index)).toEqual(indexes);
    entries.forEach((entry, position) => expect(sameBytes(entry.payload, payload(position, 10 + position))).toBe(true));
    expect(reopened.recovery).toEqual({ segments: 1, records: 50 });
    await reopened.close();
  });

  it('group commit: concurrent appends share fdatasyncs (far fewer syncs than records)', async () => {
    const disk = new SimulatedDisk();
    const wal = await Wal.open({ directory, disk });
    const syncsBefore = disk.stats.syncs;
    await Promise.all(Array.from({ length: 256 }, (_, position) => wal.append(payload(position, 64))));
    const syncs = disk.stats.syncs - syncsBefore;
    expect(syncs).toBeGreaterThanOrEqual(1);
    expect(syncs).toBeLessThanOrEqual(2);
    await wal.close();
  });

  it('resolves an append only after its batch is durable: nothing resolves while the fsync is held', async () => {
    const disk = new SimulatedDisk();
    const wal = await Wal.open({ directory, disk });
    disk.holdSyncs();
    let resolved = 0;
    const appends = Array.from({ length: 10 }, (_, position) => wal.append(payload(position, 32)).then(() => (resolved += 1)));
    await waitFor(() => disk.heldSyncs() === 1, { what: 'a held sync' });
    expect(resolved).toBe(0);
    // Power loss now: nobody was acknowledged, and nothing survives.
    const lost = disk.clone();
    lost.crash('drop');
    const afterLoss = await Wal.open({ directory, disk: lost });
    expect(afterLoss.lastIndex).toBe(0);
    await afterLoss.close();
    disk.releaseSyncs();
    await Promise.all(appends);
    expect(resolved).toBe(10);
    disk.crash('drop');
    const afterSync = await Wal.open({ directory, disk });
    expect(afterSync.lastIndex).toBe(10);
    await afterSync.close();
  });

  it('refuses oversized records, bad types and writes after close with typed errors, losing nothing', async () => {
    const disk = new SimulatedDisk();
    const wal = await Wal.open({ directory, disk, limits: { recordBytesMax: 100 } });
    const kept = wal.append(payload(1, 100));
    expect(() => wal.appendAssigned(payload(2, 101))).toThrow(expect.objectContaining({ code: 'RECORD_TOO_LARGE' }));
    expect(() => wal.appendAssigned('text' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const closing = wal.close();
    expect(isStorageError(await caught(wal.append(payload(3, 10))), 'WAL_CLOSED')).toBe(true);
    await closing;
    expect(await kept).toBe(1);
    disk.crash('drop');
    const reopened = await Wal.open({ directory, disk, limits: { recordBytesMax: 100 } });
    expect((await readAll(reopened)).map((entry) => entry.index)).toEqual([1]);
    await reopened.close();
  });

  it('refuses appends beyond the pending-bytes bound with STORAGE_BUSY', async () => {
    const disk = new SimulatedDisk();
    const wal = await Wal.open({ directory, disk, limits: { pendingBytesMax: 1000 } });
    disk.holdSyncs();
    const first = wal.append(payload(1, 10));
    await waitFor(() => disk.heldSyncs() === 1, { what: 'a held sync' });
    const queued = [wal.append(payload(2, 600))];
    expect(() => wal.appendAssigned(payload(3, 600))).toThrow(expect.objectContaining({ code: 'STORAGE_BUSY' }));
    disk.releaseSyncs();
    expect(await first).toBe(1);
    expect(await Promise.all(queued)).toEqual([2]);
    await wal.close();
  });
});

describe('WAL segments', () => {
  it('rotates into new segments and keeps every record readable across them', async () => {
    const disk = new SimulatedDisk();
    const wal = await Wal.open({ directory, disk, limits: { segmentBytesMax: 1024 } });
    for (let position = 0; position < 40; position += 1) await wal.append(payload(position, 100));
    expect(wal.segments().length).toBeGreaterThan(3);
    await wal.close();
    disk.crash('drop');
    const reopened = await Wal.open({ directory, disk, limits: { segmentBytesMax: 1024 } });
    const entries = await readAll(reopened);
    expect(entries.length).toBe(40);
    entries.forEach((entry, position) => expect(sameBytes(entry.payload, payload(position, 100))).toBe(true));
    expect(sameBytes(await reopened.read(17), payload(16, 100))).toBe(true);
    for (const outside of [0, 41, 1.5]) expect(isStorageError(await caught(reopened.read(outside)), 'INVALID_ARGUMENT'), `read(${outside})`).toBe(true);
    await reopened.close();
  });

  it('truncates a prefix of sealed segments, never the active one, and recovers from the suffix', async () => {
    const disk = new SimulatedDisk();
    const wal = await Wal.open({ directory, disk, limits: { segmentBytesMax: 1024 } });
    for (let position = 0; position < 40; position += 1) await wal.append(payload(position, 100));
    const segments = wal.segments();
    const cover = segments[2]!.lastIndex;
    const removed = await wal.truncatePrefix(cover);
    expect(removed).toBe(3);
    expect(wal.firstIndex).toBe(cover + 1);
    expect(await wal.truncatePrefix(1_000)).toBe(segments.length - 4);
    expect(wal.segments().length).toBe(1);
    await wal.close();
    disk.crash('drop');
    const reopened = await Wal.open({ directory, disk, limits: { segmentBytesMax: 1024 } });
    expect(reopened.firstIndex).toBe(segments[segments.length - 1]!.firstIndex);
    expect(reopened.lastIndex).toBe(40);
    await reopened.close();
  });

  it('reset starts over at a given index', async () => {
    const disk = new SimulatedDisk();
    const wal = await Wal.open({ directory, disk });
    await wal.append(payload(1, 10));
    await wal.reset(500);
    expect(wal.firstIndex).toBe(500);
    expect(await wal.append(payload(2, 10))).toBe(500);
    await wal.close();
    disk.crash('drop');
    const reopened = await Wal.open({ directory, disk });
    expect((await readAll(reopened)).map((entry) => entry.index)).toEqual([500]);
    await reopened.close();
  });

  it('a crash right after a rotation (new segment empty or its entry lost) loses only the unacknowledged batch', async () => {
    for (const mode of ['drop', 'tear'] as const) {
      for (let seed = 1; seed <= 10; seed += 1) {
        const disk = new SimulatedDisk({ seed, sectorBytes: 64 });
        const wal = await Wal.open({ directory, disk, limits: { segmentBytesMax: 512 } });
        for (let position = 0; position < 4; position += 1) await wal.append(payload(position, 100));
        disk.holdSyncs();
        const unacknowledged = wal.append(payload(99, 100)).catch(() => undefined);
        await waitFor(() => disk.heldSyncs() === 1, { what: 'a held sync' });
        disk.crash(mode);
        await unacknowledged;
        const reopened = await Wal.open({ directory, disk, limits: { segmentBytesMax: 512 } });
        expect(reopened.lastIndex, `${mode} seed ${seed}`).toBeGreaterThanOrEqual(4);
        expect(await reopened.append(payload(5, 100))).toBe(reopened.lastIndex);
        await reopened.close();
      }
    }
  });
});

describe('WAL recovery on the simulated disk', () => {
  async function walWithBatches(disk: SimulatedDisk, batches: number[][]): Promise<Wal> {
    const wal = await Wal.open({ directory, disk });
    let seed = 0;
    for (const batch of batches) await Promise.all(batch.map((size) => wal.append(payload((seed += 1), size))));
    return wal;
  }

  it('repairs a torn tail at every byte offset of the last record, then appends after it', async () => {
    const base = new SimulatedDisk();
    const wal = await walWithBatches(base, [[50, 50], [30], [200]]);
    const segment = path.join(directory, segmentName(1));
    const full = (await base.readFile(segment)).length;
    const lastStart = full - (24 + 200);
    await wal.close();
    for (let cut = lastStart + 1; cut < full; cut += 1) {
      for (const fill of ['cut', 'zeros'] as const) {
        const disk = base.clone();
        disk.rewrite(segment, (bytes) => (fill === 'cut' ? bytes.slice(0, cut) : Uint8Array.from(bytes, (byte, position) => (position >= cut ? 0 : byte))));
        const reopened = await Wal.open({ directory, disk });
        expect(reopened.lastIndex, `cut ${cut} ${fill}`).toBe(3);
        expect(reopened.recovery.tornTail).toMatchObject({ segment: segmentName(1), offset: lastStart });
        expect((await disk.readFile(segment)).length).toBe(lastStart);
        expect(await reopened.append(payload(9, 10))).toBe(4);
        await reopened.close();
      }
    }
  });

  it('refuses to start on a flipped bit in the middle, naming the segment and offset', async () => {
    const disk = new SimulatedDisk();
    const wal = await walWithBatches(disk, [[40], [40], [40], [40]]);
    await wal.close();
    const recordBytes = 24 + 40;
    disk.flipBit(path.join(directory, segmentName(1)), recordBytes + 30, 3);
    const error = await caught(Wal.open({ directory, disk }));
    expect(error).toBeInstanceOf(WalCorruptionError);
    expect(error).toMatchObject({ code: 'WAL_CORRUPT', segment: segmentName(1), offset: recordBytes });
  });

  it('refuses to start on a flipped bit in a sealed segment, even in its last record', async () => {
    const disk = new SimulatedDisk();
    const wal = await Wal.open({ directory, disk, limits: { segmentBytesMax: 300 } });
    for (let position = 0; position < 10; position += 1) await wal.append(payload(position, 100));
    const sealed = wal.segments()[0]!;
    await wal.close();
    disk.flipBit(path.join(directory, sealed.name), sealed.bytes - 5, 0);
    const error = await caught(Wal.open({ directory, disk, limits: { segmentBytesMax: 300 } }));
    expect(error).toMatchObject({ code: 'WAL_CORRUPT', segment: sealed.name, offset: sealed.bytes - 124 });
  });

  it('refuses a missing segment in the middle (a gap)', async () => {
    const disk = new SimulatedDisk();
    const wal = await Wal.open({ directory, disk, limits: { segmentBytesMax: 300 } });
    for (let position = 0; position < 10; position += 1) await wal.append(payload(position, 100));
    const middle = wal.segments()[1]!;
    await wal.close();
    await disk.remove(path.join(directory, middle.name));
    await disk.syncDirectory(directory);
    expect(await caught(Wal.open({ directory, disk, limits: { segmentBytesMax: 300 } }))).toMatchObject({ code: 'WAL_CORRUPT' });
  });

  it('a lost unsynced write loses only unacknowledged data (random tears, many seeds)', async () => {
    for (let seed = 1; seed <= 40; seed += 1) {
      const disk = new SimulatedDisk({ seed, sectorBytes: 64 });
      const wal = await Wal.open({ directory, disk, limits: { segmentBytesMax: 2048 } });
      const acknowledged = new Set<number>();
      const appends: Array<Promise<unknown>> = [];
      for (let round = 0; round < 6; round += 1) {
        for (let writer = 0; writer < 5; writer += 1) {
          const size = 20 + ((seed * 7 + round * 13 + writer * 31) % 150);
          appends.push(wal.append(payload(seed * 1000 + round * 10 + writer, size)).then((index) => acknowledged.add(index), () => undefined));
        }
        await appends[appends.length - 1];
      }
      // A final batch is in flight (its fsync held) when the power goes.
      disk.holdSyncs();
      for (let writer = 0; writer < 5; writer += 1) appends.push(wal.append(payload(seed, 77)).then((index) => acknowledged.add(index), () => undefined));
      await waitFor(() => disk.heldSyncs() === 1, { what: 'a held sync' });
      disk.crash('tear');
      await Promise.all(appends);
      const reopened = await Wal.open({ directory, disk, limits: { segmentBytesMax: 2048 } });
      const present = new Set((await readAll(reopened)).map((entry) => entry.index));
      for (const index of acknowledged) expect(present.has(index), `seed ${seed}: acknowledged ${index} lost`).toBe(true);
      expect(acknowledged.size).toBe(30);
      await reopened.close();
    }
  });
});

describe('WAL fail-stop', () => {
  it('after an fsync error refuses the batch and every later write with WAL_FAILED, and never retries the fsync', async () => {
    const disk = new SimulatedDisk();
    const wal = await Wal.open({ directory, disk });
    await wal.append(payload(1, 10));
    disk.failNext('sync');
    const failed = await Promise.all(Array.from({ length: 5 }, (_, position) => caught(wal.append(payload(position, 10)))));
    for (const error of failed) expect(isStorageError(error, 'WAL_FAILED')).toBe(true);
    const syncs = disk.stats.syncs;
    expect(() => wal.appendAssigned(payload(9, 10))).toThrow(expect.objectContaining({ code: 'WAL_FAILED' }));
    expect(isStorageError(await caught(wal.append(payload(9, 10))), 'WAL_FAILED')).toBe(true);
    expect(wal.failure?.code).toBe('WAL_FAILED');
    expect(disk.stats.syncs).toBe(syncs);
    await wal.close();
    // The acknowledged record survives a power loss; the failed ones were never acknowledged.
    disk.crash('drop');
    const reopened = await Wal.open({ directory, disk });
    expect(reopened.lastIndex).toBe(1);
    await reopened.close();
  });

  it('fails stop on a write error and on a failed directory fsync of a new segment', async () => {
    for (const operation of ['write', 'syncDirectory'] as const) {
      const disk = new SimulatedDisk();
      const wal = await Wal.open({ directory, disk, limits: { segmentBytesMax: 200 } });
      await wal.append(payload(1, 150));
      disk.failNext(operation);
      expect(isStorageError(await caught(wal.append(payload(2, 150))), 'WAL_FAILED'), operation).toBe(true);
      expect(isStorageError(await caught(wal.append(payload(3, 10))), 'WAL_FAILED'), operation).toBe(true);
      await wal.close();
    }
  });
});
