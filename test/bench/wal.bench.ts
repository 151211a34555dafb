/**
 * WAL benchmark: durable appends per second with group commit at 1, 16 and 256 concurrent writers
 * (128-byte and 4 KiB records), against two baselines measured in the same run on the same disk:
 *   - raw `fs.writeSync` + `fdatasyncSync` per record (what a WAL without group commit costs),
 *   - classic-level `put` with `{ sync: true }` (LevelDB's own synced writes), at 1 and 256 writers.
 * Each figure is the median of ROUNDS interleaved runs. Then the recovery time of a WAL holding 1M records (open = read + checksum every record), and the
 * time to read them all back.
 *
 * Target: at 256 writers, at least 20x the per-record fsync baseline. `ratio` is ours(256 writers,
 * 128 B) / raw per-record fsync (128 B). Run with `npm run bench -- wal`; the last line is the JSON.
 */
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Level } from 'level';
import { Wal } from '../../actors/storage/index.js';

const MEASURE_MS = Number(process.env.WAL_BENCH_MS ?? '800');
const ROUNDS = Number(process.env.WAL_BENCH_ROUNDS ?? '3');
const RECOVERY_RECORDS = Number(process.env.WAL_BENCH_RECOVERY_RECORDS ?? '1000000');
const SIZES = [
  { label: '128B', bytes: 128 },
  { label: '4KiB', bytes: 4096 },
] as const;
const WRITER_COUNTS = [1, 16, 256] as const;

const scratch = mkdtempSync(path.join(tmpdir(), 'troupe-wal-bench-'));
let directoryCount = 0;
function freshDirectory(): string {
  directoryCount += 1;
  return path.join(scratch, `run-${directoryCount}`);
}

function record(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, position) => (position * 31) & 0xff);
}

/** Runs `writers` loops that each repeat `operation` until the time is up; returns completed operations per second. */
async function measure(writers: number, operation: () => Promise<unknown>): Promise<number> {
  let completed = 0;
  const started = performance.now();
  const deadline = started + MEASURE_MS;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < deadline) {
        await operation();
        completed += 1;
      }
    }),
  );
  return Math.round(completed / ((performance.now() - started) / 1000));
}

async function groupCommit(size: number, writers: number): Promise<number> {
  const directory = freshDirectory();
  const wal = await Wal.open({ directory });
  const payload = record(size);
  const perSecond = await measure(writers, () => wal.append(payload));
  await wal.close();
  // Each run writes up to gigabytes; removing them keeps later runs (ours and the baselines) on an equally clean disk.
  rmSync(directory, { recursive: true, force: true });
  return perSecond;
}

function rawFsyncPerRecord(size: number): number {
  const directory = freshDirectory();
  mkdirSync(directory, { recursive: true });
  const descriptor = openSync(path.join(directory, 'raw.log'), 'w');
  const payload = record(size);
  let completed = 0;
  const started = performance.now();
  while (performance.now() - started < MEASURE_MS) {
    writeSync(descriptor, payload);
    fdatasyncSync(descriptor);
    completed += 1;
  }
  const perSecond = Math.round(completed / ((performance.now() - started) / 1000));
  closeSync(descriptor);
  rmSync(directory, { recursive: true, force: true });
  return perSecond;
}

async function levelSyncPut(size: number, writers: number): Promise<number> {
  const directory = freshDirectory();
  const db = new Level<string, Uint8Array>(directory, { valueEncoding: 'view' });
  await db.open();
  const payload = record(size);
  let key = 0;
  const perSecond = await measure(writers, () => db.put(`k${(key += 1)}`, payload, { sync: true }));
  await db.close();
  rmSync(directory, { recursive: true, force: true });
  return perSecond;
}

async function recovery(records: number): Promise<{ records: number; bytes: number; segments: number; writeMs: number; openMs: number; readAllMs: number }> {
  const directory = freshDirectory();
  const payload = record(128);
  const writeStarted = performance.now();
  const wal = await Wal.open({ directory });
  // Keep a bounded number of appends in flight: large group-commit batches, bounded memory.
  for (let written = 0; written < records; written += 16_384) {
    const count = Math.min(16_384, records - written);
    await Promise.all(Array.from({ length: count }, () => wal.append(payload)));
  }
  await wal.close();
  const writeMs = performance.now() - writeStarted;
  const openStarted = performance.now();
  const reopened = await Wal.open({ directory });
  const openMs = performance.now() - openStarted;
  if (reopened.lastIndex !== records) throw new Error(`recovered ${reopened.lastIndex} records, wrote ${records}`);
  const readStarted = performance.now();
  let read = 0;
  for await (const entry of reopened.entries(1)) read += entry.payload.length > 0 ? 1 : 0;
  const readAllMs = performance.now() - readStarted;
  if (read !== records) throw new Error(`read back ${read} records, wrote ${records}`);
  const segments = reopened.segments();
  await reopened.close();
  return { records, bytes: segments.reduce((sum, segment) => sum + segment.bytes, 0), segments: segments.length, writeMs: Math.round(writeMs), openMs: Math.round(openMs), readAllMs: Math.round(readAllMs) };
}

/** The median of some samples (the disk here is shared and noisy; medians of interleaved runs hold up). */
function median(samples: number[]): number {
  const sorted = [...samples].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const groupCommitFigures: Record<string, Record<string, number>> = {};
  const rawFigures: Record<string, number> = {};
  const levelFigures: Record<string, Record<string, number>> = {};
  for (const size of SIZES) {
    // Interleave the baseline with our runs, ROUNDS times, so that a noisy moment hits both alike.
    const rawSamples: number[] = [];
    const ourSamples = new Map<number, number[]>(WRITER_COUNTS.map((writers) => [writers, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      rawSamples.push(rawFsyncPerRecord(size.bytes));
      for (const writers of WRITER_COUNTS) ourSamples.get(writers)!.push(await groupCommit(size.bytes, writers));
    }
    rawFigures[size.label] = median(rawSamples);
    console.log(`raw writeSync+fdatasyncSync per record, ${size.label}: ${rawFigures[size.label]} appends/s (samples ${rawSamples.join(', ')})`);
    groupCommitFigures[size.label] = {};
    for (const writers of WRITER_COUNTS) {
      const samples = ourSamples.get(writers)!;
      const perSecond = median(samples);
      groupCommitFigures[size.label]![String(writers)] = perSecond;
      console.log(`WAL group commit, ${size.label}, ${writers} writers: ${perSecond} durable appends/s, ${(perSecond / rawFigures[size.label]!).toFixed(1)}x raw (samples ${samples.join(', ')})`);
    }
    levelFigures[size.label] = {};
    for (const writers of [1, 256]) {
      const perSecond = await levelSyncPut(size.bytes, writers);
      levelFigures[size.label]![String(writers)] = perSecond;
      console.log(`classic-level put {sync:true}, ${size.label}, ${writers} writers: ${perSecond} puts/s`);
    }
  }
  const recovered = await recovery(RECOVERY_RECORDS);
  console.log(`recovery: ${recovered.records} records (${(recovered.bytes / 1e6).toFixed(1)} MB, ${recovered.segments} segments) written in ${recovered.writeMs} ms, opened (every record checked) in ${recovered.openMs} ms, read back in ${recovered.readAllMs} ms`);
  rmSync(scratch, { recursive: true, force: true });
  const ours = groupCommitFigures['128B']!['256']!;
  const ratio = Number((ours / rawFigures['128B']!).toFixed(1));
  const ratio4KiB = Number((groupCommitFigures['4KiB']!['256']! / rawFigures['4KiB']!).toFixed(1));
  console.log(
    JSON.stringify({
      bench: 'wal',
      unit: 'durable appends per second',
      groupCommit: groupCommitFigures,
      recovery: recovered,
      baseline: { rawWriteFdatasyncPerRecord: rawFigures, classicLevelSyncPut: levelFigures },
      ratio,
      ratio4KiB,
      target: { ratioMin: 20, met: ratio >= 20 && ratio4KiB >= 20 },
    }),
  );
}

await main().catch((error: unknown) => {
  rmSync(scratch, { recursive: true, force: true });
  console.error(error);
  process.exitCode = 1;
});
