/**
 * SGLang's router (the `sglang-router` PyPI wheel, which ships its Rust binary), installed with pip
 * into the router cache's virtual environment, for the router bench only. It probes each worker's
 * `/health`, `/server_info` and `/model_info` at start, which the llama.cpp backend serves.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnChild, stopChild } from '../support/children.js';
import { waitFor } from '../support/wait.js';
import { cacheRoot, freePort, run } from './process.js';
import { ensureTinyModel } from './llm-backends.js';

/** Pinned version. */
export const sglangRouterVersion = '0.3.2';

/** Installs sglang-router into the cache's venv if missing; returns its python. */
export async function ensureSglangRouter(): Promise<string> {
  await ensureTinyModel();
  const venv = join(cacheRoot(), 'router', 'venv');
  const marker = join(venv, `sglang-router-${sglangRouterVersion}`);
  if (!existsSync(marker)) {
    await run(join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `sglang-router==${sglangRouterVersion}`], { timeoutMs: 900_000 });
    await run('touch', [marker]);
  }
  return join(venv, 'bin', 'python');
}

/** A running SGLang router. */
export interface SglangRouter {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts `python -m sglang_router.launch_router --policy <policy>` over the workers; resolves once it routes. */
export async function startSglangRouter(python: string, workerUrls: readonly string[], policy = 'cache_aware'): Promise<SglangRouter> {
  const port = await freePort();
  const metricsPort = await freePort();
  const child = spawnChild(python, [
    '-m', 'sglang_router.launch_router', '--policy', policy, '--worker-urls', ...workerUrls, '--host', '127.0.0.1', '--port', String(port), '--prometheus-port', String(metricsPort), '--log-level', 'warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4_000); });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      const response = await fetch(`${url}/v1/models`).catch(() => undefined);
      if (response === undefined) return false;
      await response.body?.cancel();
      return response.ok;
    }, { timeoutMs: 60_000, intervalMs: 100, what: `sglang router on ${port}` });
  } catch (error) {
    await stopChild(child);
    throw new Error(`${(error as Error).message}\n${output}`);
  }
  return { url, stop: async () => { await stopChild(child); } };
}
