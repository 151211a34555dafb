/**
 * One conformance suite for both disks: the real file system (NodeDisk, in a temp directory) and the
 * simulated disk. What storage tests prove on the simulated disk only holds if it behaves like the
 * real one wherever the real one's behaviour is defined.
 */
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeDisk, SimulatedDisk, isStorageError, type Disk } from '../../../actors/storage/index.js';
import { TempDirectories, bytes, text } from '../../support/storage-temp.js';

interface DiskFixture {
  readonly disk: Disk;
  readonly root: string;
  /**
   * Simulates what survives a restart after everything was synced: for the real disk, a fresh look at
   * the same files; for the simulated disk, a crash that drops whatever was not durable.
   */
  restart(): void;
}

const temps = new TempDirectories();
afterEach(() => temps.cleanup());

const fixtures: Array<[string, () => DiskFixture]> = [
  ['NodeDisk', () => ({ disk: new NodeDisk(), root: temps.make('troupe-disk-'), restart: () => undefined })],
  [
    'SimulatedDisk',
    () => {
      const disk = new SimulatedDisk({ seed: 3 });
      return { disk, root: '/data', restart: () => disk.crash('drop') };
    },
  ],
];

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(isStorageError(error) ? error.code : error).toBe(code);
}

describe.each(fixtures)('disk conformance: %s', (_name, makeFixture) => {
  it('writes at positions, reads back, and reports the size', async () => {
    const { disk, root } = makeFixture();
    await disk.makeDirectory(root);
    const file = await disk.open(path.join(root, 'a'), 'create');
    await file.write(bytes('hello world'), 0);
    await file.write(bytes('W'), 6);
    await file.write(bytes('!'), 11);
    expect(await file.size()).toBe(12);
    expect(text(await file.read(0, 12))).toBe('hello World!');
    expect(text(await file.read(6, 100))).toBe('World!');
    expect((await file.read(50, 10)).length).toBe(0);
    await file.close();
  });

  it('fills a gap left by a write past the end with zeros', async () => {
    const { disk, root } = makeFixture();
    await disk.makeDirectory(root);
    const file = await disk.open(path.join(root, 'gap'), 'create');
    await file.write(bytes('x'), 4);
    expect(Array.from(await file.read(0, 5))).toEqual([0, 0, 0, 0, 120]);
    await file.close();
  });

  it('truncates and extends with zeros', async () => {
    const { disk, root } = makeFixture();
    await disk.makeDirectory(root);
    const file = await disk.open(path.join(root, 't'), 'create');
    await file.write(bytes('abcdef'), 0);
    await file.truncate(2);
    expect(text(await file.read(0, 10))).toBe('ab');
    await file.truncate(4);
    expect(Array.from(await file.read(0, 10))).toEqual([97, 98, 0, 0]);
    await file.close();
  });

  it('keeps synced data and synced directory entries across a restart', async () => {
    const fixture = makeFixture();
    const { disk, root } = fixture;
    await disk.makeDirectory(root);
    const file = await disk.open(path.join(root, 'durable'), 'create');
    await file.write(bytes('kept'), 0);
    await file.sync();
    await file.close();
    await disk.syncDirectory(root);
    fixture.restart();
    expect(text(await disk.readFile(path.join(root, 'durable')))).toBe('kept');
  });

  it('creates exclusively and opens only existing files', async () => {
    const { disk, root } = makeFixture();
    await disk.makeDirectory(root);
    const filePath = path.join(root, 'once');
    await (await disk.open(filePath, 'create')).close();
    await expectCode(disk.open(filePath, 'create'), 'DISK_EXISTS');
    await expectCode(disk.open(path.join(root, 'missing'), 'read'), 'DISK_NOT_FOUND');
    await expectCode(disk.open(path.join(root, 'missing'), 'readWrite'), 'DISK_NOT_FOUND');
    await expectCode(disk.readFile(path.join(root, 'missing')), 'DISK_NOT_FOUND');
  });

  it('renames atomically over an existing file and lists names sorted', async () => {
    const fixture = makeFixture();
    const { disk, root } = fixture;
    await disk.makeDirectory(path.join(root, 'sub'));
    for (const [name, content] of [['b', 'new'], ['a', 'old']] as const) {
      const file = await disk.open(path.join(root, name), 'create');
      await file.write(bytes(content), 0);
      await file.sync();
      await file.close();
    }
    await disk.rename(path.join(root, 'b'), path.join(root, 'a'));
    await disk.syncDirectory(root);
    fixture.restart();
    expect(await disk.list(root)).toEqual(['a', 'sub']);
    expect(text(await disk.readFile(path.join(root, 'a')))).toBe('new');
    expect(await disk.exists(path.join(root, 'b'))).toBe(false);
    expect(await disk.exists(path.join(root, 'sub'))).toBe(true);
  });

  it('removes files, and removing a missing file is not an error', async () => {
    const { disk, root } = makeFixture();
    await disk.makeDirectory(root);
    await (await disk.open(path.join(root, 'gone'), 'create')).close();
    await disk.remove(path.join(root, 'gone'));
    await disk.remove(path.join(root, 'never'));
    expect(await disk.list(root)).toEqual([]);
  });

  it('refuses use of a closed file with DISK_CLOSED', async () => {
    const { disk, root } = makeFixture();
    await disk.makeDirectory(root);
    const file = await disk.open(path.join(root, 'c'), 'create');
    await file.close();
    await expectCode(file.write(bytes('x'), 0), 'DISK_CLOSED');
    await expectCode(file.read(0, 1), 'DISK_CLOSED');
    await expectCode(file.sync(), 'DISK_CLOSED');
  });

  it('refuses writes through a read-only handle', async () => {
    const { disk, root } = makeFixture();
    await disk.makeDirectory(root);
    await (await disk.open(path.join(root, 'r'), 'create')).close();
    const file = await disk.open(path.join(root, 'r'), 'read');
    await expectCode(file.write(bytes('x'), 0), 'DISK_IO');
    await file.close();
  });

  it('lists a missing directory as DISK_NOT_FOUND', async () => {
    const { disk, root } = makeFixture();
    await expectCode(disk.list(path.join(root, 'nowhere')), 'DISK_NOT_FOUND');
  });
});
