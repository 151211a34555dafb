/**
 * A node's incarnation: a number that grows every time a node with a given name starts, so peers can
 * tell a restarted node from the process they knew and drop what was meant for the old one.
 * With a data directory the last incarnation is kept in `<dataDir>/incarnation` (written to a temp
 * file, fsynced, renamed, directory fsynced), so it grows even if the wall clock steps back; without
 * one the wall clock in milliseconds is used.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ClusterError } from './errors.js';

/** Returns this start's incarnation, recording it in `dataDir` when given. */
export async function nextIncarnation(dataDir: string | undefined, nowMs: number): Promise<number> {
  const wallClock = Math.max(1, Math.floor(nowMs));
  if (dataDir === undefined) return wallClock;
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, 'incarnation');
  let previous = 0;
  try {
    const text = (await readFile(file, 'utf8')).trim();
    previous = Number(text);
    if (!Number.isSafeInteger(previous) || previous < 0) {
      throw new ClusterError('INVALID_ARGUMENT', `${file} holds ${JSON.stringify(text.slice(0, 40))}, not an incarnation number`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const next = Math.max(previous + 1, wallClock);
  const temp = `${file}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(`${next}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  const directory = await open(dataDir, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
  return next;
}
