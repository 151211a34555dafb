/**
 * The simulated disk's faults: what survives a crash, how a write tears, the fsyncgate behaviour of a
 * failed sync, and held syncs. The storage tests rely on each of these being as pessimistic as stated.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedDisk, isStorageError } from '../../../actors/storage/index.js';
import { bytes, payload, text } from '../../support/storage-temp.js';

async function fileWith(disk: SimulatedDisk, filePath: string, content: string, options: { sync: boolean; syncDirectory: boolean }): Promise<void> {
  await disk.makeDirectory('/d');
  const file = await disk.open(filePath, 'create');
  await file.write(bytes(content), 0);
  if (options.sync) await file.sync();
  await file.close();
  if (options.syncDirectory) await disk.syncDirectory('/d');
}

describe('SimulatedDisk crashes', () => {
  it('drop: loses unsynced data but keeps synced data', async () => {
    const disk = new SimulatedDisk();
    await fileWith(disk, '/d/f', 'synced', { sync: true, syncDirectory: true });
    const file = await disk.open('/d/f', 'readWrite');
    await file.write(bytes('+unsynced'), 6);
    expect(text(await disk.readFile('/d/f'))).toBe('synced+unsynced');
    disk.crash('drop');
    expect(text(await disk.readFile('/d/f'))).toBe('synced');
  });

  it('drop: a file whose directory entry was never synced vanishes, even with its data synced', async () => {
    const disk = new SimulatedDisk();
    await fileWith(disk, '/d/f', 'data', { sync: true, syncDirectory: false });
    disk.crash('drop');
    expect(await disk.exists('/d/f')).toBe(false);
  });

  it('drop: an unsynced rename is undone', async () => {
    const disk = new SimulatedDisk();
    await fileWith(disk, '/d/a', 'a', { sync: true, syncDirectory: true });
    await disk.rename('/d/a', '/d/b');
    disk.crash('drop');
    expect(await disk.list('/d')).toEqual(['a']);
  });

  it('keep: a process crash keeps everything written, but every handle dies', async () => {
    const disk = new SimulatedDisk();
    await disk.makeDirectory('/d');
    const file = await disk.open('/d/f', 'create');
    await file.write(bytes('unsynced'), 0);
    disk.crash('keep');
    expect(text(await disk.readFile('/d/f'))).toBe('unsynced');
    const error = await file.write(bytes('x'), 0).catch((caught: unknown) => caught);
    expect(isStorageError(error, 'DISK_CLOSED')).toBe(true);
  });

  it('tear: keeps a prefix of the unsynced writes, the last one cut at a sector boundary', async () => {
    const sectorBytes = 16;
    const outcomes = new Set<number>();
    for (let seed = 1; seed <= 60; seed += 1) {
      const disk = new SimulatedDisk({ seed, sectorBytes });
      await disk.makeDirectory('/d');
      const file = await disk.open('/d/f', 'create');
      await file.write(payload(1, 10), 0);
      await file.sync();
      await disk.syncDirectory('/d');
      const first = payload(2, 40);
      const second = payload(3, 40);
      await file.write(first, 10);
      await file.write(second, 50);
      disk.crash('tear');
      const after = await disk.readFile('/d/f');
      const expected = new Uint8Array(90);
      expected.set(payload(1, 10));
      expected.set(first, 10);
      expected.set(second, 50);
      // Whatever survived is the synced prefix plus written bytes up to a cut, and zeros (or nothing) after it.
      let cut = 10;
      while (cut < after.length && after[cut] === expected[cut]) cut += 1;
      expect(cut === 90 || cut % sectorBytes === 0 || cut === 50, `seed ${seed}: cut at ${cut}`).toBe(true);
      expect(after.subarray(cut).every((byte) => byte === 0), `seed ${seed}: bytes after the cut`).toBe(true);
      expect(Array.from(after.subarray(0, 10))).toEqual(Array.from(payload(1, 10)));
      outcomes.add(cut);
    }
    // Over many seeds the cut lands in several places, including inside a write.
    expect(outcomes.size).toBeGreaterThan(3);
  });
});

describe('SimulatedDisk faults', () => {
  it('a failed sync loses its data for good, though reads still return it (fsyncgate)', async () => {
    const disk = new SimulatedDisk();
    await fileWith(disk, '/d/f', 'base', { sync: true, syncDirectory: true });
    const file = await disk.open('/d/f', 'readWrite');
    await file.write(bytes('-lost'), 4);
    disk.failNext('sync', { path: '/d/f' });
    const error = await file.sync().catch((caught: unknown) => caught);
    expect(isStorageError(error, 'DISK_IO')).toBe(true);
    expect(text(await file.read(0, 100))).toBe('base-lost');
    await file.write(bytes('+ok'), 9);
    await file.sync(); // succeeds, but covers only the new write
    disk.crash('drop');
    expect(Array.from(await disk.readFile('/d/f'))).toEqual([...bytes('base'), 0, 0, 0, 0, 0, ...bytes('+ok')]);
  });

  it('fails a write, a directory sync or a rename on demand', async () => {
    const disk = new SimulatedDisk();
    await fileWith(disk, '/d/f', 'x', { sync: true, syncDirectory: true });
    const file = await disk.open('/d/f', 'readWrite');
    disk.failNext('write');
    expect(isStorageError(await file.write(bytes('y'), 0).catch((caught: unknown) => caught), 'DISK_IO')).toBe(true);
    expect(text(await file.read(0, 10))).toBe('x');
    disk.failNext('syncDirectory');
    expect(isStorageError(await disk.syncDirectory('/d').catch((caught: unknown) => caught), 'DISK_IO')).toBe(true);
    disk.failNext('rename');
    expect(isStorageError(await disk.rename('/d/f', '/d/g').catch((caught: unknown) => caught), 'DISK_IO')).toBe(true);
    await disk.syncDirectory('/d');
  });

  it('flipBit damages durable bytes', async () => {
    const disk = new SimulatedDisk();
    await fileWith(disk, '/d/f', 'A', { sync: true, syncDirectory: true });
    disk.flipBit('/d/f', 0, 1);
    disk.crash('drop');
    expect(text(await disk.readFile('/d/f'))).toBe('C');
  });

  it('holds syncs until released', async () => {
    const disk = new SimulatedDisk();
    await fileWith(disk, '/d/f', '', { sync: true, syncDirectory: true });
    const file = await disk.open('/d/f', 'readWrite');
    await file.write(bytes('held'), 0);
    disk.holdSyncs();
    let synced = false;
    const syncing = file.sync().then(() => {
      synced = true;
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(disk.heldSyncs()).toBe(1);
    expect(synced).toBe(false);
    disk.releaseSyncs();
    await syncing;
    disk.crash('drop');
    expect(text(await disk.readFile('/d/f'))).toBe('held');
  });

  it('clones independently', async () => {
    const disk = new SimulatedDisk();
    await fileWith(disk, '/d/f', 'one', { sync: true, syncDirectory: true });
    const copy = disk.clone();
    copy.flipBit('/d/f', 0, 0);
    expect(text(await disk.readFile('/d/f'))).toBe('one');
    expect(text(await copy.readFile('/d/f'))).toBe('nne');
  });
});
