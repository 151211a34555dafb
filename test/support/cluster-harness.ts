/**
 * Starts real cluster node processes (`cluster/main.ts` under tsx) on loopback for multi-process
 * tests, reads their "listening" line, and kills them (SIGKILL or SIGTERM) on demand. Every process
 * started here is tracked and killed with its process group by `stopAll` (and, failing that, by the
 * end-of-run check of test/support/children.ts), so a failing test leaves nothing running.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childExited, spawnChild, stopChild } from './children.js';
export { freePort } from './net.js';

/** Settings that make failure detection quick but tolerant of a loaded test machine. */
export const testTiming = { heartbeatMs: 250, acceptablePauseMs: 1_000, downPhi: 8, suspectPhi: 3, linkIdleMs: 4_000 } as const;

/** A running node process. */
export interface NodeProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly incarnation: number;
  readonly child: ChildProcess;
  /** Everything the process printed (stdout and stderr). */
  output(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Options for one node process. */
export interface NodeProcessOptions {
  readonly name: string;
  readonly port: number;
  readonly seeds?: readonly string[];
  readonly dataDir: string;
  readonly secret: string;
  readonly token: string;
  /** The address others dial (e.g. a TCP proxy in front of the node). */
  readonly advertise?: string;
  readonly extraArgs?: readonly string[];
}

const running = new Set<ChildProcess>();


/** A fresh temporary directory; remove it with `removeDir`. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `troupe-${prefix}-`));
}

/** Removes a directory made by `tempDir`. */
export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/** How long a node process may take to print its listening line (tsx compiles on a loaded machine). */
const startTimeoutMs = 120_000;

/** Starts a node process and waits (up to `startTimeoutMs`) until it listens. */
export function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  const args = [
    '--import', 'tsx', 'cluster/main.ts', '--name', options.name, '--listen', `127.0.0.1:${options.port}`, '--data', options.dataDir,
    '--secret', options.secret, '--token', options.token, '--heartbeat-ms', String(testTiming.heartbeatMs),
    '--acceptable-pause-ms', String(testTiming.acceptablePauseMs), '--down-phi', String(testTiming.downPhi), '--suspect-phi', String(testTiming.suspectPhi),
    '--link-idle-ms', String(testTiming.linkIdleMs),
    ...(options.seeds && options.seeds.length > 0 ? ['--seeds', options.seeds.join(',')] : []),
    ...(options.advertise ? ['--advertise', options.advertise] : []),
    ...(options.extraArgs ?? []),
  ];
  const child = spawnChild(process.execPath, args, { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TROUPE_SECRET: '', TROUPE_TOKENS: '' } });
  running.add(child);
  let output = '';
  const exited = childExited(child).then((exit) => {
    running.delete(child);
    return exit;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stopChild(child);
      reject(new Error(`node ${options.name} did not start within ${startTimeoutMs} ms:\n${output}`));
    }, startTimeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.startsWith('{"event":"listening"')) continue;
        const listening = JSON.parse(line) as { port: number; incarnation: number; address: string };
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.on('data', (more: Buffer) => { output += more.toString(); });
        resolve({
          name: options.name, port: listening.port, url: `ws://127.0.0.1:${listening.port}`, incarnation: listening.incarnation, child,
          output: () => output, exited,
        });
        return;
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`node ${options.name} exited early (${code ?? signal}):\n${output}`));
    });
  });
}

/** Kills a node process (and its process group) with SIGKILL and waits for it to be gone. */
export async function killNode(node: NodeProcess): Promise<void> {
  await stopChild(node.child);
  await node.exited;
}

/** Kills every process this harness started, with their process groups. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => stopChild(child)));
}
