import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCommand, stopAllChildren } from '../../support/children.js';

const script = resolve('scripts/check-imports.mjs');
const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

afterAll(stopAllChildren);

async function lint(files: Record<string, string>): Promise<{ status: number | null; output: string }> {
  const root = mkdtempSync(join(tmpdir(), 'troupe-lint-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const result = await runCommand(process.execPath, [script], { cwd: root, timeoutMs: 50_000 });
  return { status: result.code, output: result.stdout + result.stderr };
}

describe('the import-boundary lint', () => {
  it('accepts imports that point down the layers and through a component\'s index.ts', async () => {
    const result = await lint({
      'runtime/a.ts': "import nact from 'nact';\nimport { b } from './b.js';\n",
      'runtime/b.ts': 'export const b = 1;\n',
      'supervisors/s.ts': "import { b } from '../runtime/b.js';\n",
      'actors/one/index.ts': "export { two } from '../two/index.js';\n",
      'actors/two/index.ts': 'export const two = 2;\n',
      'actors/two/core.ts': "import { sha256 } from '@noble/hashes/sha2.js';\nimport type { X } from './actor.js';\nexport const pure = 1;\n",
    });
    expect(result.output).toContain('ok');
    expect(result.status).toBe(0);
  });

  it('refuses upward imports, reaching into another component, packages in runtime, and impure cores', async () => {
    const result = await lint({
      'runtime/a.ts': "import { c } from '../cluster/c.js';\nimport { WebSocket } from 'ws';\n",
      'cluster/c.ts': "import { x } from '../actors/one/index.js';\nexport const c = 1;\n",
      'actors/one/index.ts': "import { y } from '../two/store.js';\n",
      'actors/two/store.ts': 'export const y = 1;\n',
      'actors/two/core.ts': "import { readFileSync } from 'node:fs';\nexport const now = () => Date.now();\nexport async function f() { await 1; }\n",
    });
    expect(result.status).toBe(1);
    for (const expected of [
      'runtime/a.ts: runtime may not import cluster/c.js',
      'runtime/a.ts: runtime may not import ws',
      'cluster/c.ts: cluster may not import actors/one/index.js',
      'actors/one/index.ts: import another component only through its index.ts, not actors/two/store.js',
      'actors/two/core.ts: a pure core may not import node:fs',
      'actors/two/core.ts: a pure core may not use Date.now()',
      'actors/two/core.ts: a pure core may not use await',
    ]) expect(result.output).toContain(expected);
  });

  it('lints supervisors/core.ts as a pure core: runtime, its own pure modules and type-only imports only, no clock, timers or await', async () => {
    const pure = await lint({
      'runtime/errors.ts': 'export const assert = 1;\n',
      'supervisors/restart-policy.ts': 'export const backoff = 1;\n',
      'supervisors/child-spec.ts': 'export const spec = 1;\n',
      'supervisors/core.ts': "import { assert } from '../runtime/errors.js';\nimport type { ChildSpec } from './child-spec.js';\nimport { backoff } from './restart-policy.js';\n",
    });
    expect(pure.output).toContain('ok');
    expect(pure.status).toBe(0);
    const impure = await lint({
      'supervisors/supervisor.ts': 'export const shell = 1;\n',
      'supervisors/core.ts': "import { shell } from './supervisor.js';\nimport { readFileSync } from 'node:fs';\nexport const now = () => Date.now();\nexport const jitter = () => Math.random();\nexport function later() { setTimeout(() => {}, 1); }\nexport async function f() { await 1; }\n",
    });
    expect(impure.status).toBe(1);
    for (const expected of [
      'supervisors/core.ts: a pure core may import only runtime and its own core, not supervisors/supervisor.js',
      'supervisors/core.ts: a pure core may not import node:fs',
      'supervisors/core.ts: a pure core may not use Date.now()',
      'supervisors/core.ts: a pure core may not use Math.random()',
      'supervisors/core.ts: a pure core may not use timers',
      'supervisors/core.ts: a pure core may not use await',
    ]) expect(impure.output).toContain(expected);
  });
});
