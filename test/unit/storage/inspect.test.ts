/**
 * `inspectStorage` / `verifyStorage` (behind `troupe storage inspect|verify <dir>`): plain data about a
 * data directory, read-only, with every problem named by file and offset.
 */
import { readFileSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store, inspectStorage, segmentName, verifyStorage } from '../../../actors/storage/index.js';
import { TempDirectories, bytes } from '../../support/storage-temp.js';

const temps = new TempDirectories();
afterEach(() => temps.cleanup());

async function populated(options: { snapshot: boolean }): Promise<string> {
  const directory = temps.make();
  const store = await Store.open({ directory, limits: { segmentBytesMax: 2048 } });
  for (let position = 0; position < 60; position += 1) await store.put(`key/${position}`, bytes('v'.repeat(40)));
  if (options.snapshot) await store.snapshot();
  for (let position = 0; position < 10; position += 1) await store.put(`more/${position}`, bytes('w'));
  await store.close();
  return directory;
}

describe('inspectStorage', () => {
  it('lists segments with record counts, the last index and the snapshots', async () => {
    const directory = await populated({ snapshot: true });
    const report = await inspectStorage(directory);
    expect(report.wal.lastIndex).toBe(70);
    expect(report.wal.records).toBe(report.wal.segments.reduce((sum, segment) => sum + segment.records, 0));
    expect(report.wal.segments.every((segment) => segment.status === 'ok')).toBe(true);
    expect(report.latestSnapshot).toMatchObject({ index: 60, name: 'snapshot-00000000000000000060.snap' });
    expect(report.wal.firstIndex).toBeLessThanOrEqual(61);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('reports a torn tail without repairing it', async () => {
    const directory = await populated({ snapshot: false });
    const report = await inspectStorage(directory);
    const last = report.wal.segments.at(-1)!;
    const file = path.join(directory, 'wal', last.name);
    truncateSync(file, statSync(file).size - 3);
    const torn = await inspectStorage(directory);
    expect(torn.wal.segments.at(-1)).toMatchObject({ status: 'torn-tail', lastIndex: 69 });
    expect(statSync(file).size).toBe(last.bytes - 3);
  });

  it('reports an empty or missing directory as empty', async () => {
    const report = await inspectStorage(path.join(temps.make(), 'nothing'));
    expect(report).toMatchObject({ wal: { segments: [], firstIndex: null, lastIndex: null, records: 0 }, latestSnapshot: null });
  });
});

describe('verifyStorage', () => {
  it('passes a healthy directory', async () => {
    const directory = await populated({ snapshot: true });
    const result = await verifyStorage(directory);
    expect(result).toMatchObject({ ok: true, problems: [] });
    expect(result.checked.records).toBeGreaterThan(0);
    expect(result.checked.snapshots).toBe(1);
  });

  it('flags latent corruption with the segment and offset as an error, a torn tail as a warning', async () => {
    const directory = await populated({ snapshot: false });
    const first = path.join(directory, 'wal', segmentName(1));
    const damaged = readFileSync(first);
    const secondRecord = 24 + damaged.readUInt32LE(0);
    damaged[secondRecord + 6] = damaged[secondRecord + 6]! ^ 0x40;
    writeFileSync(first, damaged);
    const segments = (await inspectStorage(directory)).wal.segments;
    const last = path.join(directory, 'wal', segments.at(-1)!.name);
    truncateSync(last, statSync(last).size - 1);
    const result = await verifyStorage(directory);
    expect(result.ok).toBe(false);
    expect(result.problems.length).toBe(2);
    expect(result.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ severity: 'error', code: 'WAL_CORRUPT', file: segmentName(1), offset: secondRecord }),
        expect.objectContaining({ severity: 'warning', code: 'TORN_TAIL', file: segments.at(-1)!.name }),
      ]),
    );
  });

  it('flags a damaged snapshot and a WAL that starts after what any snapshot covers', async () => {
    const directory = await populated({ snapshot: true });
    const snapshot = (await inspectStorage(directory)).latestSnapshot!;
    const file = path.join(directory, 'snapshots', snapshot.name);
    const damaged = readFileSync(file);
    damaged[damaged.length - 50] = damaged[damaged.length - 50]! ^ 1;
    writeFileSync(file, damaged);
    const result = await verifyStorage(directory);
    expect(result.ok).toBe(false);
    expect(result.problems.map((problem) => problem.code).sort()).toEqual(['SNAPSHOT_CORRUPT', 'SNAPSHOT_GAP']);
  });
});
