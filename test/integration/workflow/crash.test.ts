/**
 * Crash test with real processes (DESIGN.md section 3): a child process (crash-child.ts) runs a node
 * hosting the engine's actor tree (a supervised actor per run, worker and timer actors) with 12 workflows of 5 to 20 steps whose side effects append idempotency keys to a ledger
 * file; the test kill -9s it at random points (while recovering, right after recovery, or a few
 * effects in, after a random delay), restarts it, and repeats for a budget of kills. Then it lets the
 * child finish and checks:
 *   1. every workflow completed;
 *   2. every step's effect is in the ledger exactly once, under attempt 1's key (an attempt of unknown
 *      outcome ran again under the same key; no step ran under two keys), and nothing else is there;
 *   3. every history replays through the workflow code to the same final state with no NONDETERMINISM.
 *
 * Kills: WORKFLOW_CRASH_KILLS (default 20). Seed: SEED (printed on failure; replays the kill schedule).
 */
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createRng, seedFromEnvironment, type Rng } from '../../../runtime/index.js';
import { WorkflowEngine, replayHistory, type WorkflowDefinition } from '../../../actors/workflow/index.js';
import { childExited, spawnChild, stopAllChildren, stopChild } from '../../support/children.js';
import { TempDirectories } from '../../support/storage-temp.js';
import { crashPlan, crashWorkflows, expectedKeys, readLedger } from './crash-workflows.js';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const childScript = path.join(repositoryRoot, 'test/integration/workflow/crash-child.ts');
const kills = Number(process.env.WORKFLOW_CRASH_KILLS ?? '20');

const temps = new TempDirectories();
afterAll(async () => {
  await stopAllChildren();
  temps.cleanup();
});

/** When to kill: at a startup line, or after this many effects plus a delay (decorrelates from the write cycle). */
type KillPlan = { readonly at: 'starting' | 'ready' } | { readonly at: 'effects'; readonly count: number; readonly delayMs: number } | { readonly at: 'never' };

function planKill(rng: Rng): KillPlan {
  const roll = rng.next();
  if (roll < 0.1) return { at: 'starting' };
  if (roll < 0.2) return { at: 'ready' };
  return { at: 'effects', count: rng.int(1, 12), delayMs: rng.int(0, 15) };
}

/** Runs the child until the plan says kill (or, for `never`, until all-done), and waits for it to be gone. */
async function runChild(directory: string, ledger: string, plan: KillPlan): Promise<{ effects: number; allDone: boolean; stderr: string }> {
  const child = spawnChild(process.execPath, ['--import', 'tsx', childScript, directory, ledger], { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = childExited(child);
  let effects = 0;
  let allDone = false;
  let killed = false;
  const kill = (): void => {
    if (!killed) void stopChild(child);
    killed = true;
  };
  if (plan.at === 'starting') setTimeout(kill, 0);
  // A failure bound, not a timing assertion: a final run that makes no progress for this long is killed
  // and the test fails on the missing all-done.
  let stalled: NodeJS.Timeout | undefined;
  const watchdog = (): void => {
    if (plan.at !== 'never') return;
    clearTimeout(stalled);
    stalled = setTimeout(kill, 120_000);
  };
  watchdog();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'ready' && plan.at === 'ready') kill();
    watchdog();
    if (line.startsWith('effect ')) {
      effects += 1;
      if (plan.at === 'effects' && effects === plan.count) setTimeout(kill, plan.delayMs);
    }
    if (line === 'all-done') {
      allDone = true;
      kill();
    }
  });
  try {
    await exited;
  } finally {
    clearTimeout(stalled);
    await stopChild(child);
  }
  return { effects, allDone, stderr };
}

describe('workflow engine under kill -9', () => {
  it(`completes every workflow with each step's effect exactly once across ${kills} kills`, async () => {
    const seed = seedFromEnvironment();
    const rng = createRng(seed);
    const directory = temps.make('troupe-workflow-crash-');
    const ledger = path.join(directory, 'ledger.txt');
    try {
      let killed = 0;
      let allDone = false;
      for (let round = 0; killed < kills && !allDone; round += 1) {
        const outcome = await runChild(directory, ledger, planKill(rng));
        if (outcome.stderr.length > 0 && !/Killed|SIGKILL/.test(outcome.stderr)) expect.fail(`child wrote to stderr: ${outcome.stderr}`);
        allDone = outcome.allDone;
        if (!allDone) killed += 1;
      }
      if (!allDone) {
        const final = await runChild(directory, ledger, { at: 'never' });
        expect(final.stderr).toBe('');
        expect(final.allDone).toBe(true);
      }
      const lines = readLedger(ledger);
      expect(new Set(lines).size).toBe(lines.length);
      expect([...lines].sort()).toEqual(expectedKeys().sort());

      const workflows = crashWorkflows(undefined);
      const engine = await WorkflowEngine.open({ directory, workflows });
      try {
        const definition = workflows[0]! as WorkflowDefinition;
        for (const { workflowId, input } of crashPlan()) {
          expect(engine.describe(workflowId).status).toBe('completed');
          expect(await engine.result(workflowId)).toBe(input.steps);
          const replayed = await replayHistory(definition, engine.history(workflowId));
          expect(replayed.nondeterminism).toBeUndefined();
          expect(replayed).toMatchObject({ status: 'completed', result: input.steps });
        }
      } finally {
        await engine.close();
      }
      expect(killed).toBeGreaterThan(0);
    } catch (error) {
      throw new Error(`workflow crash test failed with SEED=${seed}: ${String(error)}`, { cause: error });
    }
  }, 600_000);
});
