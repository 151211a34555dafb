/**
 * Crash test with real processes (DESIGN.md section 3): a child process (test/support/
 * storage-crash-child.ts) writes through the storage actor and prints every acknowledged write; the
 * test kill -9s it at random moments, restarts it, and after every kill checks, on a byte-for-byte copy
 * of the crashed directory:
 *   1. every acknowledged increment and record is present, with the acknowledged bytes;
 *   2. nothing was applied twice: the recovered state's digest equals the digest of a replay from
 *      scratch (the snapshot and the WAL only, into a new LevelDB), and each counter covers its records;
 *   3. the WAL passes `verifyStorage` (a torn tail, at most, as a warning).
 * The child itself recovers the original directory on its next start, so every round also exercises
 * recovery in the actor's `init`. Some rounds kill the child while it is still recovering, and some
 * delete LevelDB before the restart (a machine that lost LevelDB's unsynced writes), forcing a restore
 * from the snapshot plus a WAL replay.
 *
 * Rounds: STORAGE_CRASH_ROUNDS (default 20: each round starts a process, so the run is a budget of
 * work whose wall time follows the machine's load; the timeout allows for a machine three times
 * slower than an idle one). Every 10th round deletes LevelDB, and the kill plans cover startup,
 * recovery and mid-write kills, so 20 rounds still meet each kind of kill. Seed: SEED (printed on
 * failure; replays the kill schedule).
 */
import { cpSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { childExited, spawnChild, stopAllChildren, stopChild } from '../../support/children.js';
import { createRng, seedFromEnvironment, type Rng } from '../../../runtime/index.js';
import { Store, verifyStorage } from '../../../actors/storage/index.js';
import { crashPayload } from '../../support/storage-crash-payload.js';
import { TempDirectories, text } from '../../support/storage-temp.js';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const childScript = path.join(repositoryRoot, 'test/support/storage-crash-child.ts');
const rounds = Number(process.env.STORAGE_CRASH_ROUNDS ?? '20');
const writers = 4;
/** Per round: a child start under tsx, up to 150 acknowledged writes, and the checks on a copy, on a loaded machine. */
const roundBudgetMs = 20_000;

const temps = new TempDirectories();
afterAll(async () => {
  await stopAllChildren();
  temps.cleanup();
});

/** What the child acknowledged, across all rounds: per writer, increment values and record values. */
interface Acknowledged {
  readonly increments: Map<number, number>;
  readonly records: Map<number, Set<number>>;
}

/** When to kill the child: at a startup line (mid-recovery), or after this many acknowledgements. */
type KillPlan = { readonly at: 'starting' | 'ready' } | { readonly at: 'acks'; readonly count: number; readonly delayMs: number };

function planKill(rng: Rng): KillPlan {
  const roll = rng.next();
  if (roll < 0.08) return { at: 'starting' };
  if (roll < 0.14) return { at: 'ready' };
  // The delay after the ack line decorrelates the kill from the child's write cycle (an ack is printed
  // at one fixed point of it), so kills also land mid-fsync, mid-apply and mid-snapshot.
  return { at: 'acks', count: rng.int(1, 150), delayMs: rng.int(0, 12) };
}

/** Runs the child until the plan says kill, then kill -9s it and waits for it to be gone. */
async function runAndKill(directory: string, plan: KillPlan, acknowledged: Acknowledged): Promise<{ acks: number }> {
  const child = spawnChild(process.execPath, ['--import', 'tsx', childScript, directory, String(writers)], { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = childExited(child);
  let acks = 0;
  let killed = false;
  let unexpected: string | undefined;
  const kill = (): void => {
    if (!killed) void stopChild(child);
    killed = true;
  };
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    // Lines read after the kill were still printed before it: they are acknowledged writes too.
    const [kind, writerText, valueText] = line.split(' ');
    if (kind === 'starting' || kind === 'ready') {
      if (plan.at === kind) kill();
      return;
    }
    const writer = Number(writerText);
    const value = Number(valueText);
    if (kind === 'inc') acknowledged.increments.set(writer, Math.max(acknowledged.increments.get(writer) ?? 0, value));
    else if (kind === 'put') acknowledged.records.get(writer)!.add(value);
    else {
      unexpected ??= line;
      kill();
      return;
    }
    acks += 1;
    if (plan.at === 'acks' && acks === plan.count) setTimeout(kill, plan.delayMs);
  });
  const exit = await exited;
  lines.close();
  if (unexpected !== undefined) throw new Error(`unexpected line from the child: ${unexpected}`);
  if (!killed) throw new Error(`the child exited by itself (code ${String(exit.code)}): ${stderr}`);
  expect(exit.signal).toBe('SIGKILL');
  return { acks };
}

/** Checks the crashed state (on a copy, so the child recovers the original itself). Returns its digest. */
async function checkCrashedState(directory: string, acknowledged: Acknowledged, label: string): Promise<void> {
  const copy = temps.make('troupe-crash-copy-');
  cpSync(directory, copy, { recursive: true });
  const verification = await verifyStorage(copy);
  expect(verification.problems.filter((problem) => problem.severity === 'error'), `${label}: verifyStorage`).toEqual([]);

  const recovered = await Store.open({ directory: copy });
  try {
    for (let writer = 0; writer < writers; writer += 1) {
      const count = Number(text(await recovered.get(`count/${writer}`)) ?? '0');
      expect(count, `${label}: writer ${writer} counter below an acknowledged increment`).toBeGreaterThanOrEqual(acknowledged.increments.get(writer) ?? 0);
      for (const value of acknowledged.records.get(writer)!) {
        const stored = await recovered.get(`rec/${writer}/${value}`);
        expect(stored, `${label}: acknowledged rec/${writer}/${value} missing`).toEqual(crashPayload(writer, value));
      }
      // A record exists only for a value its counter handed out, so no counter can trail its records.
      const records = await recovered.scan({ prefix: `rec/${writer}/` });
      for (const entry of records.entries) expect(Number(entry.key.split('/')[2]), `${label}: record beyond its counter`).toBeLessThanOrEqual(count);
    }
    const digest = await recovered.digest();
    const scratch = temps.make('troupe-crash-scratch-');
    cpSync(path.join(copy, 'wal'), path.join(scratch, 'wal'), { recursive: true });
    cpSync(path.join(copy, 'snapshots'), path.join(scratch, 'snapshots'), { recursive: true });
    const replayed = await Store.open({ directory: scratch });
    try {
      expect(await replayed.digest(), `${label}: digest differs from a replay from scratch`).toEqual(digest);
    } finally {
      await replayed.close();
    }
    rmSync(scratch, { recursive: true, force: true });
  } finally {
    await recovered.close();
    rmSync(copy, { recursive: true, force: true });
  }
}

describe('storage crash test (kill -9, real processes)', () => {
  it(`keeps every acknowledged write and applies nothing twice over ${rounds} kill -9 rounds`, { timeout: rounds * roundBudgetMs }, async () => {
    const seed = seedFromEnvironment();
    const rng = createRng(seed);
    const directory = temps.make('troupe-crash-');
    const acknowledged: Acknowledged = { increments: new Map(), records: new Map(Array.from({ length: writers }, (_, writer) => [writer, new Set<number>()])) };
    let totalAcks = 0;
    try {
      for (let round = 1; round <= rounds; round += 1) {
        if (round % 10 === 0) rmSync(path.join(directory, 'kv'), { recursive: true, force: true });
        const plan = planKill(rng);
        const { acks } = await runAndKill(directory, plan, acknowledged);
        totalAcks += acks;
        await checkCrashedState(directory, acknowledged, `round ${round} (${JSON.stringify(plan)})`);
      }
    } catch (error) {
      throw new Error(`storage crash test failed; replay with SEED=${seed}: ${String(error)}`, { cause: error });
    }
    expect(totalAcks).toBeGreaterThan(rounds);
  });
});
