/**
 * Process plumbing shared by the service starters: free ports, child processes in their own process
 * group (so that stopping one stops everything it forked), waiting on a condition with a deadline, and
 * a record of every running service so that a later run can reap what a crashed run left behind.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
export { freePort } from '../support/net.js';

/** Where downloaded service binaries live: `TROUPE_CACHE_DIR`, else `$XDG_CACHE_HOME/troupe`, else `~/.cache/troupe`. */
export function cacheRoot(): string {
  const explicit = process.env.TROUPE_CACHE_DIR;
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'troupe');
}

/**
 * Renames a finished staging directory (holding a `complete` marker) to `target`. If another run got
 * there first with a complete copy, that copy wins; an incomplete leftover is replaced.
 */
export function moveIntoPlace(staging: string, target: string): void {
  try {
    renameSync(staging, target);
    return;
  } catch (error) {
    if (existsSync(join(target, 'complete'))) return;
    if (!existsSync(target)) throw error;
  }
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
}


/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, options: { timeoutMs: number; intervalMs?: number; abort?: () => string | undefined }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const aborted = options.abort?.();
    if (aborted !== undefined) throw new Error(`${what}: ${aborted}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`${what} not ready within ${options.timeoutMs} ms${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

/** Runs a command to completion, capturing output; rejects with the output tail on a non-zero exit. */
export async function run(command: string, args: readonly string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-20_000); });
    child.stderr?.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-20_000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.once('error', (error) => { clearTimeout(timer); reject(error); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}:\n${output.slice(-4000)}`));
    });
  });
}

/** A long-running service process in its own process group, with its output in a log file. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Set once the process has exited (then readiness probes give up at once). */
  exited(): string | undefined;
  /** The last part of the log, for error messages. */
  logTail(): string;
  /** Stops the whole process group: `signal`, then SIGKILL after `graceMs`. Idempotent. */
  stop(options?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<void>;
}

/** Starts `command` detached in a new process group and records it for reaping (see `reapStale`). */
export function startService(kind: string, command: string, args: readonly string[], options: { logPath: string; cleanupPaths: readonly string[]; uid?: number; gid?: number; env?: NodeJS.ProcessEnv; stdinPipe?: boolean; cwd?: string }): ServiceProcess {
  const log: WriteStream = createWriteStream(options.logPath, { flags: 'a' });
  const child = spawn(command, args, {
    detached: true,
    // A child that watches its stdin exits when this process dies and the pipe closes.
    stdio: [options.stdinPipe === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  if (child.pid !== undefined) livePids.add(child.pid);
  let exit: string | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => { exit = `exited with ${code ?? signal}`; resolve(); });
    child.once('exit', () => { if (child.pid !== undefined) livePids.delete(child.pid); });
    child.once('error', (error) => { exit = `failed to start: ${error.message}`; resolve(); });
  });
  const record = child.pid === undefined ? undefined : recordService({ kind, pid: child.pid, ownerPid: process.pid, cleanupPaths: options.cleanupPaths });
  let stopping: Promise<void> | undefined;
  const stop = async (stopOptions: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<void> => {
    stopping ??= (async () => {
      if (child.pid !== undefined && exit === undefined) {
        signalGroup(child.pid, stopOptions.signal ?? 'SIGTERM');
        const timer = setTimeout(() => { if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL'); }, stopOptions.graceMs ?? 10_000);
        await exitedPromise;
        clearTimeout(timer);
      }
      // The leader is gone; anything it forked into the group goes too.
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      log.end();
      for (const path of options.cleanupPaths) rmSync(path, { recursive: true, force: true });
      if (record !== undefined) rmSync(record, { force: true });
    })();
    return stopping;
  };
  return {
    child,
    logPath: options.logPath,
    exited: () => exit,
    logTail: () => (existsSync(options.logPath) ? readFileSync(options.logPath, 'utf8').slice(-3000) : ''),
    stop,
  };
}

const livePids = new Set<number>();

/**
 * Last resort for an exiting test run that skipped its teardown: SIGKILLs every service group this
 * process started and has not seen exit. Synchronous, so it can run in a process 'exit' handler.
 */
export function killAllNow(): void {
  for (const pid of livePids) signalGroup(pid, 'SIGKILL');
  livePids.clear();
}

/** Sends `signal` to a process group; a group that is already gone is not an error. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

interface ServiceRecord {
  readonly kind: string;
  readonly pid: number;
  readonly ownerPid: number;
  readonly cleanupPaths: readonly string[];
  /** For a test's child (test/support/children.ts): the vitest run that owns it (`TROUPE_TEST_RUN`). */
  readonly runId?: string | null;
  /** For a test's child: its argv, which its /proc command line must still show before it is killed. */
  readonly commandLine?: readonly string[];
}

function recordsDir(): string {
  return join(cacheRoot(), 'run');
}

function recordService(record: ServiceRecord): string {
  mkdirSync(recordsDir(), { recursive: true });
  const path = join(recordsDir(), `${record.kind}-${record.pid}.json`);
  writeFileSync(path, JSON.stringify(record));
  return path;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Kills services whose owning test run died without tearing down (kill -9 of vitest, a crashed CI
 * step). Only process groups named in our own records are touched, and only when the recorded process
 * still runs a command line that mentions one of the recorded temp paths (so a recycled pid is safe).
 */
export function reapStale(): number {
  if (!existsSync(recordsDir())) return 0;
  let reaped = 0;
  for (const name of readdirSync(recordsDir())) {
    const path = join(recordsDir(), name);
    let record: ServiceRecord;
    try {
      record = JSON.parse(readFileSync(path, 'utf8')) as ServiceRecord;
    } catch {
      rmSync(path, { force: true }); // A torn record (its writer died mid-write) names nothing we can check.
      continue;
    }
    if (isAlive(record.ownerPid)) continue;
    if (isAlive(record.pid) && (commandLineMentions(record.pid, record.cleanupPaths) || commandLineIs(record.pid, record.commandLine))) {
      signalGroup(record.pid, 'SIGKILL');
      reaped += 1;
    }
    for (const cleanup of record.cleanupPaths) rmSync(cleanup, { recursive: true, force: true });
    rmSync(path, { force: true });
  }
  return reaped;
}

/** The environment variable naming the vitest run (its main process id) that test children belong to. */
export const testRunVariable = 'TROUPE_TEST_RUN';

/**
 * Records a child a test started (see test/support/children.ts), so that `reapTestChildren` at the end
 * of the run, or `reapStale` on a later run, finds it if nobody stopped it. Returns the record's path.
 */
export function recordTestChild(pid: number, commandLine: readonly string[]): string {
  return recordService({ kind: 'test-child', pid, ownerPid: process.pid, cleanupPaths: [], runId: process.env[testRunVariable] ?? null, commandLine });
}

/** Removes the record of a child that has exited. */
export function forgetTestChild(recordPath: string): void {
  rmSync(recordPath, { force: true });
}

/** A child a test left running, as the end-of-run check reports it. */
export interface LeftoverChild {
  readonly pid: number;
  readonly commandLine: string;
}

/**
 * The end-of-run check: every child recorded for run `runId` that still runs (and still runs the
 * recorded command) was left behind by a test. Its group is SIGKILLed and it is returned, so the
 * caller can fail the run naming it. Records of exited children are removed.
 */
export function reapTestChildren(runId: string): LeftoverChild[] {
  if (!existsSync(recordsDir())) return [];
  const leftovers: LeftoverChild[] = [];
  for (const name of readdirSync(recordsDir())) {
    if (!name.startsWith('test-child-')) continue;
    const path = join(recordsDir(), name);
    let record: ServiceRecord;
    try {
      record = JSON.parse(readFileSync(path, 'utf8')) as ServiceRecord;
    } catch {
      continue; // Being written by a run still going, or torn by a dead one (reapStale removes those).
    }
    if (record.runId !== runId) continue;
    if (isAlive(record.pid) && commandLineIs(record.pid, record.commandLine)) {
      signalGroup(record.pid, 'SIGKILL');
      leftovers.push({ pid: record.pid, commandLine: (record.commandLine ?? []).join(' ') });
    }
    rmSync(path, { force: true });
  }
  return leftovers;
}

/** True when the process still runs exactly `commandLine` (so a recycled pid is never touched). */
function commandLineIs(pid: number, commandLine: readonly string[] | undefined): boolean {
  if (commandLine === undefined || commandLine.length === 0) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `${commandLine.join('\0')}\0`;
  } catch {
    return false;
  }
}

function commandLineMentions(pid: number, paths: readonly string[]): boolean {
  try {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return paths.some((path) => commandLine.includes(path));
  } catch {
    return false;
  }
}
