/**
 * The workflows page in a real headless Chromium, against a node process started as `npm start`
 * starts one: the cluster page links to it; it lists the runs and draws a run's history as a
 * timeline (a bar per step attempt, the failed first attempt of `charge` and its retry, the durable
 * timer from set to fired, the signal), lists every event with its error, shows a retried run's
 * earlier run, and follows a cancellation without a reload. Its API routes refuse a missing token
 * (401) and a token that may not read the tree (403).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type TroupeClient } from '../../../cluster/index.js';
import type { WorkflowReply } from '../../../actors/workflow/index.js';
import { spawnChild, stopAllChildren, stopChild } from '../../support/children.js';
import { httpGet } from '../../support/http.js';
import { waitFor } from '../../support/wait.js';

const token = 'workflow-ui-token';
const chromiumPath = '/usr/bin/chromium';
const engine = { node: 'n1', path: '/root/workflows/engine' };

describe('the workflows page', () => {
  let dataDir: string;
  let child: ChildProcess;
  let port: number;
  let client: TroupeClient;
  let browser: Browser;
  const ask = async (request: unknown): Promise<Extract<WorkflowReply, { ok: true }>> => {
    const reply = await client.ask<WorkflowReply>(engine, request, { timeoutMs: 30_000 });
    if (!reply.ok) throw new Error(`${reply.code}: ${reply.message}`);
    return reply;
  };

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install -y chromium`);
    dataDir = mkdtempSync(join(tmpdir(), 'troupe-workflow-ui-'));
    child = spawnChild(process.execPath, ['--import', 'tsx', 'examples/start-node.ts'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TROUPE_LISTEN: '127.0.0.1:0', TROUPE_DATA: dataDir, TROUPE_TOKEN: token, TROUPE_TOKENS: 'kvonly=kv-only-secret:kv:read' },
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    await waitFor(() => output.includes('(Ctrl-C to stop)') || child.exitCode !== null, { timeoutMs: 90_000, what: 'the node to start' });
    port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
    client = await connect(`ws://127.0.0.1:${port}`, { token });
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  }, 120_000);

  afterAll(async () => {
    try {
      await browser?.close();
      await client?.close();
      if (child !== undefined) await stopChild(child);
    } finally {
      await stopAllChildren();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('lists runs and draws a run\'s history as a timeline, with attempts, errors, timers and signals', { timeout: 120_000 }, async () => {
    await ask({ type: 'workflow.start', workflowType: 'order', workflowId: 'o1', input: { item: 'lamp', coolOffMs: 30 } });
    await waitFor(async () => (await ask({ type: 'workflow.history', workflowId: 'o1' })).events?.some((event) => event.type === 'signalAwaited'), { timeoutMs: 60_000, what: 'o1 waiting for approval' });
    await ask({ type: 'workflow.signal', workflowId: 'o1', name: 'approve', payload: 'ada' });
    await ask({ type: 'workflow.result', workflowId: 'o1' });
    await ask({ type: 'workflow.start', workflowType: 'payment', workflowId: 'p1', input: { cents: 5 } });
    await waitFor(async () => ((await ask({ type: 'workflow.describe', workflowId: 'p1' })).value as { status: string }).status === 'failed', { timeoutMs: 60_000, what: 'p1 failed' });
    await ask({ type: 'workflow.retry', workflowId: 'p1' });
    await ask({ type: 'workflow.result', workflowId: 'p1' });

    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/ui#token=${token}`);
    const link = page.locator('a.page-link', { hasText: 'Workflows' });
    await link.waitFor({ timeout: 20_000 });
    expect(await link.getAttribute('href')).toBe(`/ui/workflows#token=${token}`);

    await page.goto(`http://127.0.0.1:${port}/ui/workflows#token=${token}&run=o1`);
    await page.locator('tr.run[data-workflow-id="o1"][data-status="completed"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('header h1').textContent()).toBe('Workflows on n1');
    await page.locator('#summary[data-status="completed"]').waitFor({ timeout: 20_000 });
    const charge = page.locator('.lane[data-lane="step charge"] .bar');
    expect(await charge.count()).toBe(2);
    expect(await charge.nth(0).getAttribute('data-state')).toBe('failed');
    expect(await charge.nth(0).getAttribute('data-attempt')).toBe('1');
    expect(await charge.nth(1).getAttribute('data-state')).toBe('completed');
    expect(await charge.nth(1).getAttribute('data-attempt')).toBe('2');
    expect(await page.locator('.lane[data-lane="timer cool-off"] .bar[data-state="fired"]').count()).toBe(1);
    expect(await page.locator('.lane[data-lane="signals"] .mark').count()).toBe(1);
    expect(await page.locator('.event[data-kind="error"]').first().textContent()).toContain('step charge attempt 1 failed: UNAVAILABLE: payment service busy');
    expect(await page.locator('.event[data-type="signalReceived"]').textContent()).toContain('signal approve received: "ada"');
    expect(await page.locator('.event[data-type="completed"]').count()).toBe(1);

    await page.locator('tr.run[data-workflow-id="p1"]').click();
    await page.locator('#summary', { hasText: '1 earlier run(s) replaced by retry' }).waitFor({ timeout: 20_000 });
    expect(await page.locator('.event[data-type="started"]').textContent()).toContain('(run 2)');

    // A run that changes while the page is open: running, then cancelled, without a reload.
    await ask({ type: 'workflow.start', workflowType: 'order', workflowId: 'o2', input: { item: 'pen', coolOffMs: 600_000 } });
    await page.locator('tr.run[data-workflow-id="o2"][data-status="running"]').waitFor({ timeout: 20_000 });
    await page.locator('tr.run[data-workflow-id="o2"]').click();
    await page.locator('.lane[data-lane="timer cool-off"] .bar[data-state="waiting"]').waitFor({ timeout: 20_000 });
    await ask({ type: 'workflow.cancel', workflowId: 'o2' });
    await page.locator('tr.run[data-workflow-id="o2"][data-status="cancelled"]').waitFor({ timeout: 20_000 });
    await page.locator('.event[data-type="cancelRequested"]').waitFor({ timeout: 20_000 });
    await page.close();
  });

  it('refuses its API without a token or without the tree scope, and the page asks for a token', { timeout: 60_000 }, async () => {
    expect((await httpGet(`http://127.0.0.1:${port}/api/workflows`)).status).toBe(401);
    expect((await httpGet(`http://127.0.0.1:${port}/api/workflows`, { headers: { authorization: 'Bearer kv-only-secret' } })).status).toBe(403);
    const missing = await httpGet(`http://127.0.0.1:${port}/api/workflows/history?id=nobody`, { headers: { authorization: `Bearer ${token}` } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'WORKFLOW_NOT_FOUND' });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/ui/workflows#token=wrong`);
    await page.locator('#login').waitFor({ state: 'visible', timeout: 20_000 });
    expect(await page.locator('tr.run').count()).toBe(0);
    await page.close();
  });
});
