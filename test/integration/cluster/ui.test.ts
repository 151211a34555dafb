/**
 * The web page in a real headless Chromium: it draws the live cluster-wide tree (both nodes, served
 * by n1) and shows an actor's crash and its restart on another node, with the error, within a
 * deadline, without a reload.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type TroupeClient } from '../../../cluster/index.js';
import { freePort, removeDir, startNodeProcess, stopAll, tempDir, type NodeProcess } from '../../support/cluster-harness.js';
import { waitFor } from '../../support/wait.js';

const secret = 'ui-test-secret';
const token = 'ui-test-token';
const chromiumPath = '/usr/bin/chromium';

describe('the cluster web page', () => {
  const dirs: string[] = [];
  let n1: NodeProcess;
  let client: TroupeClient;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install -y chromium`);
    dirs.push(await tempDir('ui-n1'), await tempDir('ui-n2'));
    n1 = await startNodeProcess({ name: 'n1', port: await freePort(), dataDir: dirs[0]!, secret, token });
    await startNodeProcess({ name: 'n2', port: await freePort(), dataDir: dirs[1]!, secret, token, seeds: [n1.url] });
    client = await connect(n1.url, { token });
    await waitFor(async () => (await client.members()).every((member) => member.status === 'up') && (await client.members()).length === 2, { timeoutMs: 30_000, what: 'two members up' });
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  }, 120_000);

  afterAll(async () => {
    try {
      await browser?.close();
      await client?.close();
    } finally {
      await stopAll();
      for (const dir of dirs) await removeDir(dir);
    }
  });

  it('shows a crash on another node and the restart, live', async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${n1.port}/ui#token=${token}`);
    const flaky = page.locator('.actor[data-node="n2"][data-path="/root/demo/flaky"]');
    await flaky.waitFor({ timeout: 20_000 });
    expect(await page.locator('section.node').count()).toBe(2);
    expect(await flaky.getAttribute('data-restarts')).toBe('0');
    expect(await flaky.getAttribute('data-status')).toBe('running');

    await client.tell({ node: 'n2', path: '/root/demo/flaky' }, { type: 'crash', reason: 'boom from the ui test' });

    // The page updates by itself (event stream, then refetch): the row shows the restart and the error.
    // Evaluated in the page (a string, since the test is compiled without the DOM types).
    await page.waitForFunction(
      `(() => { const row = document.querySelector('.actor[data-node="n2"][data-path="/root/demo/flaky"]');
        return row !== null && row.dataset.restarts === '1' && row.dataset.status === 'running'; })()`,
      undefined, { timeout: 20_000 },
    );
    expect(await flaky.locator('[data-role="last-error"]').textContent()).toContain('boom from the ui test');
    await page.locator('#events div', { hasText: 'crashed n2:/root/demo/flaky' }).first().waitFor({ timeout: 20_000 });
    await page.close();
  });

  it('asks for a token and shows nothing without a valid one', async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${n1.port}/ui#token=wrong`);
    await page.locator('#login').waitFor({ state: 'visible', timeout: 20_000 });
    expect(await page.locator('.actor').count()).toBe(0);
    await page.close();
  });
});
