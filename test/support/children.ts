/**
 * Child processes started by tests and the harnesses. A test that spawns a process and then fails an
 * assertion must not leave the process running, so every child started here:
 *   - runs in its own process group (`detached`), and is stopped by signalling the whole group, so
 *     whatever it forked goes with it;
 *   - is tracked in this process: `stopAllChildren` (call it from an `afterAll`) stops every child
 *     still running, and a process 'exit' hook SIGKILLs any group left as a last resort;
 *   - is recorded on disk (test/services/process.ts) with the vitest run that owns it, so the suite's
 *     global teardown can find a child whose test process died without cleaning up, kill it and fail
 *     the run naming it.
 * This module does not import vitest, so benchmarks (run outside vitest) can use the harnesses too.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { forgetTestChild, recordTestChild, signalGroup } from '../services/process.js';

/** How a child ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Tracked {
  readonly child: ChildProcess;
  readonly exited: Promise<ChildExit>;
}

const tracked = new Map<ChildProcess, Tracked>();
let exitHookInstalled = false;

/** SIGKILLs every tracked group; synchronous, for the process 'exit' hook. */
function killAllNow(): void {
  for (const { child } of tracked.values()) if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
}

/**
 * Spawns `command` in its own process group and tracks it until it exits. Options are `spawn`'s;
 * `detached` is always on (a test never wants a child in its own group, where Ctrl-C or a group kill
 * would hit the test runner too).
 */
export function spawnChild(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // A child that never started has no exit; report the error as an exit so waiters do not hang.
    child.once('error', () => resolve({ code: child.exitCode, signal: child.signalCode }));
  });
  const entry: Tracked = { child, exited };
  tracked.set(child, entry);
  if (!exitHookInstalled) {
    process.on('exit', killAllNow);
    exitHookInstalled = true;
  }
  const record = child.pid === undefined ? undefined : recordTestChild(child.pid, [command, ...args]);
  void exited.then(() => {
    tracked.delete(child);
    if (record !== undefined) forgetTestChild(record);
  });
  return child;
}

/** Resolves when the child has exited (at once if it already has). */
export function childExited(child: ChildProcess): Promise<ChildExit> {
  const entry = tracked.get(child);
  if (entry !== undefined) return entry.exited;
  return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
}

/** True while the child runs. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && tracked.has(child);
}

/**
 * Stops a child and everything in its process group: `signal` (default SIGKILL) to the group, then
 * SIGKILL after `graceMs` if it is still there. Resolves once the child has exited. Idempotent.
 */
export async function stopChild(child: ChildProcess, options: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<ChildExit> {
  const exited = childExited(child);
  const pid = child.pid;
  if (pid === undefined) return exited;
  if (isRunning(child)) signalGroup(pid, options.signal ?? 'SIGKILL');
  const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), options.graceMs ?? 10_000);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
    // The leader is gone; anything it left in the group goes too.
    signalGroup(pid, 'SIGKILL');
  }
}

/** Stops every child still running (SIGKILL to each group) and waits for them. For `afterAll`/`afterEach`. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...tracked.keys()].map((child) => stopChild(child)));
}

/** What a finished command printed and how it ended. */
export interface CommandResult extends ChildExit {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command to completion without blocking the event loop (unlike `spawnSync`, which would stall
 * every socket and timer of the test for as long as the command runs). After `timeoutMs` the child's
 * group is killed and the result says so (`signal: 'SIGKILL'`).
 */
export async function runCommand(command: string, args: readonly string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<CommandResult> {
  const { timeoutMs = 120_000, ...spawnOptions } = options;
  const child = spawnChild(command, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const timer = setTimeout(() => void stopChild(child), timeoutMs);
  try {
    const exit = await childExited(child);
    await closed;
    return { ...exit, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the CLI (`cli.ts` under tsx) from the repository root; see `runCommand`. */
export function runCli(words: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  return runCommand(process.execPath, ['--import', 'tsx', 'cli.ts', ...words], { env: options.env ?? process.env, timeoutMs: options.timeoutMs ?? 120_000 });
}
