import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../../actors/storage/index.js';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function troupe(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'cli.ts', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function populated(records: number): Promise<string> {
  const directory = mkdtempSync(join(tmpdir(), 'troupe-cli-'));
  directories.push(directory);
  const store = await Store.open({ directory });
  for (let index = 0; index < records; index += 1) await store.put(`key-${index}`, new TextEncoder().encode(`value-${index}`));
  await store.close();
  return directory;
}

describe('troupe storage', () => {
  it('inspect lists segments, records and the last index of a real store', async () => {
    const directory = await populated(25);
    const result = troupe('storage', 'inspect', directory);
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { wal: { records: number; lastIndex: number } };
    expect(report.wal).toMatchObject({ records: 25, lastIndex: 25 });
  });

  it('verify passes a healthy store and fails (exit 1) on a flipped bit before the tail', async () => {
    const directory = await populated(25);
    expect(troupe('storage', 'verify', directory).status).toBe(0);
    const walDirectory = join(directory, 'wal');
    const segment = join(walDirectory, readdirSync(walDirectory).find((name) => name.endsWith('.wal'))!);
    const bytes = readFileSync(segment);
    bytes[Math.floor(bytes.length / 3)]! ^= 0x10;
    writeFileSync(segment, bytes);
    const result = troupe('storage', 'verify', directory);
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false });
  });

  it('verify fails (exit 1, NOT_FOUND) on a directory that does not exist', () => {
    const result = troupe('storage', 'verify', join(tmpdir(), `troupe-missing-${process.pid}-${Date.now()}`));
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, problems: [expect.objectContaining({ code: 'NOT_FOUND', severity: 'error' })] });
  });

  it('verify fails (exit 1, NOT_A_SEGMENT) on a segment overwritten with random bytes', async () => {
    const directory = await populated(25);
    const walDirectory = join(directory, 'wal');
    const segment = join(walDirectory, readdirSync(walDirectory).find((name) => name.endsWith('.wal'))!);
    writeFileSync(segment, randomBytes(readFileSync(segment).length));
    const result = troupe('storage', 'verify', directory);
    expect(result.status, result.stdout).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, problems: expect.arrayContaining([expect.objectContaining({ code: 'NOT_A_SEGMENT', severity: 'error' })]) });
  });

  it('verify fails (exit 1, NOT_A_SEGMENT) on a file in the WAL directory that is not a segment', async () => {
    const directory = await populated(3);
    writeFileSync(join(directory, 'wal', 'notes.txt'), 'not a segment');
    const result = troupe('storage', 'verify', directory);
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout).problems).toContainEqual(expect.objectContaining({ code: 'NOT_A_SEGMENT', file: 'notes.txt' }));
  });

  it('refuses a bad subcommand with usage and exit 2', () => {
    const result = troupe('storage', 'explode');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage: troupe storage inspect|verify <dir>');
  });
});
