import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childExited, runCli, spawnChild, stopAllChildren, stopChild } from '../../support/children.js';
import { httpGet } from '../../support/http.js';
import { waitFor } from '../../support/wait.js';

afterAll(stopAllChildren);

describe('npm start', () => {
  it('starts a node that prints its supervision tree and serves HTTP, and stops cleanly with exit 0 on SIGINT', { timeout: 180_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'troupe-start-'));
    const child = spawnChild(process.execPath, ['--import', 'tsx', 'examples/start-node.ts'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TROUPE_LISTEN: '127.0.0.1:0', TROUPE_DATA: dataDir, TROUPE_TOKEN: 'start-test-token' },
    });
    try {
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      await waitFor(() => output.includes('(Ctrl-C to stop)') || child.exitCode !== null, { timeoutMs: 90_000, what: 'the node to start' });
      expect(output).toMatch(/root {2}\[supervisor root\] running/);
      expect(output).toMatch(/storage {2}\[worker storage\] running restarts=0/);
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
      expect(port).toBeGreaterThan(0);
      const health = await httpGet(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const tree = await httpGet(`http://127.0.0.1:${port}/api/tree`, { headers: { authorization: 'Bearer start-test-token' } });
      expect(JSON.stringify(await tree.json())).toContain('/root/storage');
      const environment = { ...process.env, TROUPE_URL: `ws://127.0.0.1:${port}`, TROUPE_TOKEN: 'start-test-token' };
      const troupe = (...words: string[]) => runCli(words, { env: environment });
      const put = await troupe('kv', 'put', 'greeting', 'hello');
      expect(put.code, put.stderr + put.stdout).toBe(0);
      const get = await troupe('kv', 'get', 'greeting');
      expect(get.code, get.stderr).toBe(0);
      expect(JSON.parse(get.stdout)).toEqual({ ok: true, type: 'get', value: 'hello' });
      const cas = await troupe('kv', 'cas', 'greeting', 'wrong', 'bye');
      expect(JSON.parse(cas.stdout)).toEqual({ ok: true, type: 'cas', swapped: false, current: 'hello' });
      const metrics = await (await httpGet(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/troupe_actor_status\{[^}]*path="\/root\/raft"[^}]*key="raft\.commit"[^}]*\} [1-9]/);
      expect(metrics).toMatch(/troupe_actor_status_info\{[^}]*key="raft\.role"[^}]*value="leader"[^}]*\} 1/);
      child.kill('SIGINT');
      expect((await childExited(child)).code).toBe(0);
      expect(output).toContain('node n1 stopped (exit 0)');
    } finally {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
