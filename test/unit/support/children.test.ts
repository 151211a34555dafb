/**
 * The test-process plumbing that keeps a failing test from leaving processes behind
 * (test/support/children.ts, and the end-of-run check in test/services/process.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { reapTestChildren, testRunVariable } from '../../services/process.js';
import { childExited, isRunning, runCommand, spawnChild, stopAllChildren, stopChild } from '../../support/children.js';
import { waitFor } from '../../support/wait.js';

afterAll(stopAllChildren);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A child that starts a grandchild in its own group and prints the grandchild's pid. */
function parentOfGrandchild(): { child: ReturnType<typeof spawnChild>; grandchild: Promise<number> } {
  const script = "const g = require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' }); console.log(g.pid); setTimeout(() => {}, 600000);";
  const child = spawnChild(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const grandchild = waitFor(() => (/^\d+\n/.test(output) ? Number(output.trim()) : undefined), { timeoutMs: 60_000, what: 'the grandchild pid' });
  return { child, grandchild };
}

describe('test children', () => {
  it('stopChild ends the child and everything it forked into its process group', async () => {
    const { child, grandchild } = parentOfGrandchild();
    const grandchildPid = await grandchild;
    expect(isAlive(grandchildPid)).toBe(true);
    const exit = await stopChild(child);
    expect(exit.signal).toBe('SIGKILL');
    expect(isRunning(child)).toBe(false);
    await waitFor(() => !isAlive(grandchildPid), { timeoutMs: 10_000, what: 'the grandchild to be gone' });
  });

  it('runCommand kills a command that runs past its deadline, without blocking the event loop meanwhile', async () => {
    let ticks = 0;
    const ticker = setInterval(() => { ticks += 1; }, 10);
    try {
      const result = await runCommand(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { timeoutMs: 3_000 });
      expect(result.signal).toBe('SIGKILL');
      expect(ticks).toBeGreaterThan(0);
    } finally {
      clearInterval(ticker);
    }
  });

  it('the end-of-run check finds, kills and names a child its test left running, and only its own run\'s', async () => {
    const run = `unit-${process.pid}-${Date.now()}`;
    const previous = process.env[testRunVariable];
    process.env[testRunVariable] = run;
    let child: ReturnType<typeof spawnChild>;
    try {
      child = spawnChild(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
    } finally {
      if (previous === undefined) delete process.env[testRunVariable];
      else process.env[testRunVariable] = previous;
    }
    try {
      expect(reapTestChildren(`${run}-other`)).toEqual([]);
      expect(isRunning(child)).toBe(true);
      const leftovers = reapTestChildren(run);
      expect(leftovers).toEqual([{ pid: child.pid, commandLine: `${process.execPath} -e setTimeout(() => {}, 600000)` }]);
      expect((await childExited(child)).signal).toBe('SIGKILL');
      expect(reapTestChildren(run)).toEqual([]);
    } finally {
      await stopChild(child);
    }
  });
});
