/**
 * `troupe workflow ...` against a real node process started as `npm start` starts one
 * (examples/start-node.ts, which hosts a workflow engine with the demo workflows): start (with
 * --wait), show, signal, result, history (a timeline with the retried attempt, the timer and the
 * signal), list, cancel, and retry of a failed run as run 2. Then the node is killed with SIGKILL
 * while a run waits for a signal, started again over the same data directory, and the CLI finishes
 * that run: its history was replayed by its new run actor.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childExited, runCli, spawnChild, stopAllChildren, stopChild, type CommandResult } from '../../support/children.js';
import { waitFor } from '../../support/wait.js';

afterAll(stopAllChildren);

const token = 'workflow-cli-token';

async function startNode(dataDir: string): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawnChild(process.execPath, ['--import', 'tsx', 'examples/start-node.ts'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TROUPE_LISTEN: '127.0.0.1:0', TROUPE_DATA: dataDir, TROUPE_TOKEN: token },
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  await waitFor(() => output.includes('(Ctrl-C to stop)') || child.exitCode !== null, { timeoutMs: 90_000, what: 'the node to start' });
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
  expect(port, output).toBeGreaterThan(0);
  return { child, port, output: () => output };
}

function json(result: CommandResult): unknown {
  expect(result.code, `${result.stderr}\n${result.stdout}`).toBe(0);
  return JSON.parse(result.stdout) as unknown;
}

describe('troupe workflow against a node process', () => {
  it('starts, shows, signals, cancels and retries runs, prints histories, and finishes a run after kill -9 of the node', { timeout: 300_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'troupe-workflow-cli-'));
    let node = await startNode(dataDir);
    try {
      expect(node.output()).toMatch(/workflows {2}\[supervisor workflow-engine-supervisor\] running/);
      const troupe = (...words: string[]): Promise<CommandResult> => runCli(['workflow', ...words], { env: { ...process.env, TROUPE_URL: `ws://127.0.0.1:${node.port}`, TROUPE_TOKEN: token } });

      expect(json(await troupe('start', 'greet', 'g1', '--input', '{"name":"ada"}', '--wait'))).toMatchObject({ ok: true, workflowId: 'g1', result: expect.stringContaining('hello, ada') });
      expect(json(await troupe('start', 'greet', 'g1', '--input', '{"name":"ada"}'))).toEqual({ ok: true, workflowId: 'g1', existing: true });
      const conflict = await troupe('start', 'greet', 'g1', '--input', '{"name":"bob"}');
      expect(conflict.code).toBe(1);
      expect(JSON.parse(conflict.stdout)).toMatchObject({ ok: false, code: 'WORKFLOW_ID_CONFLICT' });

      expect(json(await troupe('start', 'order', 'o1', '--input', '{"item":"lamp","coolOffMs":50}'))).toEqual({ ok: true, workflowId: 'o1', existing: false });
      await waitFor(async () => (json(await troupe('show', 'o1')) as { steps: unknown[]; timers: Array<{ fired: boolean }> }).timers.some((timer) => timer.fired), { timeoutMs: 60_000, what: 'o1 past its cool-off timer' });
      expect(json(await troupe('signal', 'o1', 'approve', '--payload', '"grace"'))).toEqual({ ok: true });
      expect(json(await troupe('result', 'o1'))).toEqual({ ok: true, result: expect.stringContaining('approved by grace; shipped') });
      const history = await troupe('history', 'o1');
      expect(history.code).toBe(0);
      expect(history.stdout).toMatch(/step charge scheduled, attempt 1/);
      expect(history.stdout).toMatch(/step charge attempt 1 failed: UNAVAILABLE: payment service busy \(retry at \+\d+ms\)/);
      expect(history.stdout).toMatch(/step charge scheduled, attempt 2/);
      expect(history.stdout).toMatch(/timer cool-off set, due at \+\d+ms/);
      expect(history.stdout).toMatch(/timer cool-off fired/);
      expect(history.stdout).toMatch(/signal approve received: "grace"/);
      expect(history.stdout).toMatch(/completed:/);
      const events = (json(await troupe('history', 'o1', '--json')) as { events: Array<{ type: string }> }).events;
      expect(events[0]).toMatchObject({ type: 'started', workflowType: 'order' });

      expect(json(await troupe('start', 'order', 'o2', '--input', '{"item":"pen","coolOffMs":60000}'))).toMatchObject({ ok: true });
      expect(json(await troupe('cancel', 'o2'))).toEqual({ ok: true });
      await waitFor(async () => (json(await troupe('show', 'o2')) as { status: string }).status === 'cancelled', { timeoutMs: 60_000, what: 'o2 cancelled' });
      const again = await troupe('cancel', 'o2');
      expect(JSON.parse(again.stdout)).toMatchObject({ ok: false, code: 'WORKFLOW_NOT_RUNNING' });

      expect(json(await troupe('start', 'payment', 'p1', '--input', '{"cents":1999}'))).toMatchObject({ ok: true });
      await waitFor(async () => (json(await troupe('show', 'p1')) as { status: string }).status === 'failed', { timeoutMs: 60_000, what: 'p1 failed' });
      expect(json(await troupe('retry', 'p1'))).toEqual({ ok: true, workflowId: 'p1', run: 2 });
      expect(json(await troupe('result', 'p1'))).toEqual({ ok: true, result: 'charged 1999 cents under p1#2/charge/1' });
      expect((await troupe('history', 'p1')).stdout).toMatch(/^\(1 earlier run of this id, replaced by retry\)/);

      const runs = json(await troupe('list')) as Array<{ workflowId: string; status: string; run: number }>;
      expect(runs.map((run) => [run.workflowId, run.status, run.run]).sort()).toEqual([['g1', 'completed', 1], ['o1', 'completed', 1], ['o2', 'cancelled', 1], ['p1', 'completed', 2]]);
      expect((await troupe('show', 'nobody')).code).toBe(1);
      expect((await troupe('frobnicate')).code).toBe(2);

      // kill -9 with o3 waiting for its signal; a new node over the same data replays it.
      expect(json(await troupe('start', 'order', 'o3', '--input', '{"item":"cup","coolOffMs":10}'))).toMatchObject({ ok: true });
      await waitFor(async () => (json(await troupe('history', 'o3', '--json')) as { events: Array<{ type: string }> }).events.some((event) => event.type === 'signalAwaited'), { timeoutMs: 60_000, what: 'o3 waiting for approval' });
      await stopChild(node.child, { signal: 'SIGKILL' });
      node = await startNode(dataDir);
      expect(json(await troupe('signal', 'o3', 'approve', '--payload', '"ada"'))).toEqual({ ok: true });
      expect(json(await troupe('result', 'o3'))).toEqual({ ok: true, result: expect.stringContaining('approved by ada; shipped') });
      expect((json(await troupe('list')) as unknown[]).length).toBe(5);
      node.child.kill('SIGINT');
      expect((await childExited(node.child)).code).toBe(0);
    } finally {
      await stopChild(node.child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
