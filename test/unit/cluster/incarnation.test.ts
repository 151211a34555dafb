/**
 * Incarnations kept in a data directory grow on every start, even when the clock steps back, and a
 * corrupt record is a clear startup error rather than a silent reset.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nextIncarnation } from '../../../cluster/incarnation.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('incarnations', () => {
  it('grow on every start, even if the wall clock goes back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'troupe-incarnation-'));
    dirs.push(dir);
    const first = await nextIncarnation(dir, 5_000);
    const second = await nextIncarnation(dir, 1_000);
    const third = await nextIncarnation(dir, 9_000);
    expect(first).toBe(5_000);
    expect(second).toBe(5_001);
    expect(third).toBe(9_000);
    expect((await readFile(join(dir, 'incarnation'), 'utf8')).trim()).toBe('9000');
  });

  it('use the wall clock without a data directory', async () => {
    expect(await nextIncarnation(undefined, 1234.9)).toBe(1234);
  });

  it('refuse a corrupt record with a typed error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'troupe-incarnation-'));
    dirs.push(dir);
    await writeFile(join(dir, 'incarnation'), 'garbage');
    await expect(nextIncarnation(dir, 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
