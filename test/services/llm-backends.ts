/**
 * LLM inference backends for the router's tests and bench: a tiny llama-architecture GGUF written
 * here (no model can be downloaded; `write-tiny-gguf.py` writes seeded random weights with the `gguf`
 * PyPI package, installed with pip into a virtual environment in the cache), served by real llama.cpp
 * processes (actors/router/llama-backend-main.ts on node-llama-cpp's prebuilt CPU binary).
 *
 * Cache: `~/.cache/troupe/router/` holds the venv (gguf 0.19.0, numpy) and the model file, named by
 * its shape and seed; a second run writes nothing.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childExited, spawnChild, stopChild } from '../support/children.js';
import { cacheRoot, freePort, run } from './process.js';

/** Pinned version of the model writer. */
export const ggufVersion = '0.19.0';

/** The model's shape (the defaults give a 13 MB model whose prefill costs about 0.5 ms per token here). */
export interface TinyModelShape {
  readonly embedding: number;
  readonly layers: number;
  readonly seed: number;
}

const defaultShape: TinyModelShape = { embedding: 256, layers: 4, seed: 7 };
const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Writes the tiny model into the cache if it is not there; returns its path. */
export async function ensureTinyModel(shape: TinyModelShape = defaultShape): Promise<string> {
  const root = join(cacheRoot(), 'router');
  const model = join(root, `tiny-llama-${shape.embedding}x${shape.layers}-seed${shape.seed}.gguf`);
  if (existsSync(model)) return model;
  mkdirSync(root, { recursive: true });
  const venv = join(root, 'venv');
  const python = join(venv, 'bin', 'python');
  const marker = join(venv, `gguf-${ggufVersion}`);
  if (!existsSync(marker)) {
    if (!existsSync(python)) await run('python3', ['-m', 'venv', venv], { timeoutMs: 120_000 });
    await run(join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `gguf==${ggufVersion}`, 'numpy'], { timeoutMs: 600_000 });
    await run('touch', [marker]);
  }
  const staging = `${model}.${process.pid}.tmp`;
  await run(python, [join(repositoryRoot, 'test', 'services', 'write-tiny-gguf.py'), staging,
    '--embedding', String(shape.embedding), '--layers', String(shape.layers), '--seed', String(shape.seed)], { timeoutMs: 300_000 });
  renameSync(staging, model);
  return model;
}

/** A running backend process. */
export interface BackendProcess {
  readonly url: string;
  readonly port: number;
  readonly bootId: string;
  readonly child: ChildProcess;
  /** SIGKILLs the process (a crash, as a test wants it). */
  kill(): Promise<void>;
}

/** Options of a backend process. */
export interface BackendProcessOptions {
  readonly slots?: number;
  readonly contextTokens?: number;
  readonly port?: number;
}

/** Starts one llama.cpp backend process on the model; resolves once it serves. */
export async function startBackendProcess(modelPath: string, options: BackendProcessOptions = {}): Promise<BackendProcess> {
  const port = options.port ?? await freePort();
  const child = spawnChild(process.execPath, [
    '--import', 'tsx', join(repositoryRoot, 'actors', 'router', 'llama-backend-main.ts'),
    '--model', modelPath, '--port', String(port), '--slots', String(options.slots ?? 2), '--context', String(options.contextTokens ?? 2_048),
  ], { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4_000); });
  const ready = await new Promise<string>((resolve, reject) => {
    let line = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      line += chunk.toString();
      const match = /ready (\S+) (\S+)/.exec(line);
      if (match !== null) resolve(match[2]!);
    });
    void childExited(child).then((exit) => reject(new Error(`backend on port ${port} exited (${exit.code ?? exit.signal}) before serving:\n${output}`)));
  });
  return { url: `http://127.0.0.1:${port}`, port, bootId: ready, child, kill: async () => { await stopChild(child); } };
}
