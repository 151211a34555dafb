/**
 * The durable Raft log on the WAL (actors/raft/durable-log.ts), on real files: etcd-style replay where
 * a later record overwrites a suffix, snapshot markers (installed from a leader or taken locally),
 * compaction that removes WAL segments, torn tails, and corruption that refuses to start.
 */
import { appendFile, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableLog, RaftLogCorruptError, type Entry, type RecoveredLog } from '../../../actors/raft/index.js';
import { NodeDisk, SnapshotWriter, Wal, parseSegmentName } from '../../../actors/storage/index.js';
import { TempDirectories } from '../../support/storage-temp.js';

const temp = new TempDirectories();
afterEach(() => temp.cleanup());

const membership = { voters: ['a', 'b', 'c'], learners: [] };

function entries(from: number, to: number, term: number): Entry[] {
  return Array.from({ length: to - from + 1 }, (_, position) => ({ type: 'normal' as const, term, index: from + position, data: new TextEncoder().encode(`e${from + position}t${term}`) }));
}

/** Real snapshot bytes (storage format) covering `index`, written into `directory`. */
async function snapshotBytes(directory: string, index: number, pairs: number): Promise<Uint8Array> {
  const disk = new NodeDisk();
  await disk.makeDirectory(directory);
  const writer = await SnapshotWriter.create(disk, directory);
  await writer.begin(index);
  for (let position = 0; position < pairs; position += 1) await writer.add(new TextEncoder().encode(`d/key-${String(position).padStart(4, '0')}`), new TextEncoder().encode(`value-${position}`));
  const info = await writer.finish();
  return disk.readFile(path.join(directory, info.name));
}

/** Opens the log again, closes it, and returns what recovery found. */
async function reopen(directory: string): Promise<RecoveredLog> {
  const { log, recovered } = await DurableLog.open({ directory });
  await log.close();
  return recovered;
}

describe('durable raft log', () => {
  it('recovers entries and the hard state it persisted', async () => {
    const directory = temp.make();
    const { log } = await DurableLog.open({ directory });
    expect(await log.persist({ snapshot: null, entries: entries(1, 5, 1), hardState: { term: 1, vote: 'a', commit: 3 } })).toBe(true);
    await log.close();
    const recovered = await reopen(directory);
    expect(recovered.entries).toEqual(entries(1, 5, 1));
    expect(recovered.hardState).toEqual({ term: 1, vote: 'a', commit: 3 });
    expect(recovered.snapshot).toBeNull();
  });

  it('a later record for an index at or below the last overwrites that suffix on replay (a follower\'s conflicting tail)', async () => {
    const directory = temp.make();
    const { log } = await DurableLog.open({ directory });
    await log.persist({ snapshot: null, entries: entries(1, 6, 1), hardState: { term: 1, vote: null, commit: 2 } });
    await log.persist({ snapshot: null, entries: entries(4, 5, 2), hardState: { term: 2, vote: null, commit: 3 } });
    await log.persist({ snapshot: null, entries: entries(6, 7, 2), hardState: null });
    await log.close();
    const recovered = await reopen(directory);
    expect(recovered.entries).toEqual([...entries(1, 3, 1), ...entries(4, 7, 2)]);
  });

  it('syncs term and vote changes at once, but a commit-only hard state only along with entries', async () => {
    const directory = temp.make();
    const { log } = await DurableLog.open({ directory });
    expect(await log.persist({ snapshot: null, entries: [], hardState: { term: 2, vote: 'b', commit: 0 } })).toBe(true);
    await log.persist({ snapshot: null, entries: entries(1, 3, 2), hardState: { term: 2, vote: 'b', commit: 1 } });
    expect(await log.persist({ snapshot: null, entries: [], hardState: { term: 2, vote: 'b', commit: 3 } })).toBe(false);
    await log.close();
    const recovered = await reopen(directory);
    expect(recovered.hardState).toEqual({ term: 2, vote: 'b', commit: 1 });
  });

  it('a snapshot installed from the leader replaces the whole log, and is verified before it is kept', async () => {
    const directory = temp.make();
    const { log } = await DurableLog.open({ directory });
    await log.persist({ snapshot: null, entries: entries(1, 8, 1), hardState: { term: 1, vote: null, commit: 2 } });
    const data = await snapshotBytes(temp.make(), 20, 50);
    const corrupt = data.slice();
    corrupt[corrupt.length - 40] = corrupt[corrupt.length - 40]! ^ 0xff;
    await expect(log.persist({ snapshot: { meta: { index: 20, term: 3, membership }, data: corrupt }, entries: [], hardState: null })).rejects.toMatchObject({ code: 'SNAPSHOT_CORRUPT' });
    await log.persist({ snapshot: { meta: { index: 20, term: 3, membership }, data }, entries: entries(21, 22, 3), hardState: { term: 3, vote: null, commit: 20 } });
    await log.close();
    const recovered = await reopen(directory);
    expect(recovered.snapshot?.meta).toEqual({ index: 20, term: 3, membership });
    expect(recovered.snapshot?.data).toEqual(data);
    expect(recovered.entries).toEqual(entries(21, 22, 3));
    expect(recovered.hardState.commit).toBe(20);
  });

  it('compaction removes the WAL segments and snapshot files a new snapshot covers, and recovery starts from it', async () => {
    const directory = temp.make();
    const { log } = await DurableLog.open({ directory, limits: { segmentBytesMax: 512 } });
    for (let index = 1; index <= 100; index += 5) await log.persist({ snapshot: null, entries: entries(index, index + 4, 1), hardState: { term: 1, vote: 'a', commit: index + 4 } });
    const segmentsBefore = log.segments();
    const data = await snapshotBytes(log.snapshotDirectory, 60, 10);
    await log.compacted({ meta: { index: 60, term: 1, membership }, data });
    expect(log.segments()).toBeLessThan(segmentsBefore);
    const firstSegment = Math.min(...(await readdir(path.join(directory, 'wal'))).map(parseSegmentName).filter((first): first is number => first !== undefined));
    expect(firstSegment).toBeGreaterThan(1);
    await log.persist({ snapshot: null, entries: entries(101, 102, 2), hardState: { term: 2, vote: null, commit: 100 } });
    await log.close();
    const recovered = await reopen(directory);
    expect(recovered.snapshot?.meta.index).toBe(60);
    expect(recovered.entries).toEqual([...entries(61, 100, 1), ...entries(101, 102, 2)]);
    expect(recovered.hardState).toEqual({ term: 2, vote: null, commit: 100 });
  });

  it('keeps a consistent prefix after a torn tail', async () => {
    const directory = temp.make();
    const { log } = await DurableLog.open({ directory });
    await log.persist({ snapshot: null, entries: entries(1, 4, 1), hardState: { term: 1, vote: null, commit: 4 } });
    await log.close();
    const segments = (await readdir(path.join(directory, 'wal'))).filter((name) => parseSegmentName(name) !== undefined);
    await appendFile(path.join(directory, 'wal', segments[segments.length - 1]!), Uint8Array.of(40, 0, 0, 0, 1, 2, 3, 4, 5));
    const reopened = await DurableLog.open({ directory });
    expect(reopened.recovered.wal.tornTail).toBeDefined();
    expect(reopened.recovered.entries).toEqual(entries(1, 4, 1));
    await reopened.log.close();
  });

  it('refuses to start on a WAL record that is not a Raft record', async () => {
    const directory = temp.make();
    const wal = await Wal.open({ directory: path.join(directory, 'wal') });
    await wal.append(new TextEncoder().encode('not cbor at all'));
    await wal.close();
    await expect(DurableLog.open({ directory })).rejects.toBeInstanceOf(RaftLogCorruptError);
  });

  it('refuses to start when the snapshot the log names is missing', async () => {
    const directory = temp.make();
    const { log } = await DurableLog.open({ directory });
    const data = await snapshotBytes(log.snapshotDirectory, 5, 3);
    await log.persist({ snapshot: null, entries: entries(1, 6, 1), hardState: { term: 1, vote: null, commit: 6 } });
    await log.compacted({ meta: { index: 5, term: 1, membership }, data });
    await log.close();
    await new NodeDisk().remove(path.join(directory, 'snapshots', (await readdir(path.join(directory, 'snapshots')))[0]!));
    await expect(DurableLog.open({ directory })).rejects.toMatchObject({ code: 'STORAGE_INCONSISTENT' });
  });
});
