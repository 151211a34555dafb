import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../../actors/storage/index.js';
import { runCli, stopAllChildren } from '../../support/children.js';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

afterAll(stopAllChildren);

async function troupe(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const result = await runCli(args);
  return { status: result.code, stdout: result.stdout, stderr: result.stderr };
}

async function populated(records: number): Promise<string> {
  const directory = mkdtempSync(join(tmpdir(), 'troupe-cli-'));
  directories.push(directory);
  const store = await Store.open({ directory });
  for (let index = 0; index < records; index += 1) await store.put(`key-${index}`, new TextEncoder().encode(`value-${index}`));
  await store.close();
  return directory;
}

describe('troupe storage', { timeout: 120_000 }, () => {
  it('inspect lists segments, records and the last index of a real store', async () => {
    const directory = await populated(25);
    const result = await troupe('storage', 'inspect', directory);
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { wal: { records: number; lastIndex: number } };
    expect(report.wal).toMatchObject({ records: 25, lastIndex: 25 });
  });

  it('verify passes a healthy store and fails (exit 1) on a flipped bit before the tail', async () => {
    const directory = await populated(25);
    expect((await troupe('storage', 'verify', directory)).status).toBe(0);
    const walDirectory = join(directory, 'wal');
    const segment = join(walDirectory, readdirSync(walDirectory).find((name) => name.endsWith('.wal'))!);
    const bytes = readFileSync(segment);
    bytes[Math.floor(bytes.length / 3)]! ^= 0x10;
    writeFileSync(segment, bytes);
    const result = await troupe('storage', 'verify', directory);
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false });
  });

  it('verify fails (exit 1, NOT_FOUND) on a directory that does not exist', async () => {
    const result = await troupe('storage', 'verify', join(tmpdir(), `troupe-missing-${process.pid}-${Date.now()}`));
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, problems: [expect.objectContaining({ code: 'NOT_FOUND', severity: 'error' })] });
  });

  it('verify fails (exit 1, NOT_A_SEGMENT) on a segment overwritten with random bytes', async () => {
    const directory = await populated(25);
    const walDirectory = join(directory, 'wal');
    const segment = join(walDirectory, readdirSync(walDirectory).find((name) => name.endsWith('.wal'))!);
    writeFileSync(segment, randomBytes(readFileSync(segment).length));
    const result = await troupe('storage', 'verify', directory);
    expect(result.status, result.stdout).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, problems: expect.arrayContaining([expect.objectContaining({ code: 'NOT_A_SEGMENT', severity: 'error' })]) });
  });

  it('verify fails (exit 1, NOT_A_SEGMENT) on a file in the WAL directory that is not a segment', async () => {
    const directory = await populated(3);
    writeFileSync(join(directory, 'wal', 'notes.txt'), 'not a segment');
    const result = await troupe('storage', 'verify', directory);
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout).problems).toContainEqual(expect.objectContaining({ code: 'NOT_A_SEGMENT', file: 'notes.txt' }));
  });

  it('refuses a bad subcommand with usage and exit 2', async () => {
    const result = await troupe('storage', 'explode');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage: troupe storage inspect|verify <dir>');
  });
});
