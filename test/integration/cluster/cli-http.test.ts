/**
 * The CLI commands and the HTTP routes against in-process nodes: `tree`, `members`, `send`, `ask`
 * (with their failures and exit codes), `tree --watch` redrawing on a crash, and `/healthz`,
 * `/metrics`, `/api/*` with and without a token, the event stream and the page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterNode, defaultSettings, demoChildren, runCli, type CliIo, type ClusterNode } from '../../../cluster/index.js';
import { httpGet } from '../../support/http.js';
import { waitFor } from '../../support/wait.js';

const secret = 'cli-test-secret';
const token = 'cli-test-token';

function captureIo(signal = new AbortController().signal): CliIo & { outText(): string; errText(): string } {
  const out: string[] = [];
  const err: string[] = [];
  return { out: (text) => out.push(text), err: (text) => err.push(text), signal, outText: () => out.join('\n'), errText: () => err.join('\n') };
}

describe('the CLI and HTTP routes', () => {
  let n1: ClusterNode;
  let n2: ClusterNode;
  let url: string;
  const cli = async (...argv: string[]) => {
    const io = captureIo();
    const code = await runCli(argv, [], io);
    return { code, out: io.outText(), err: io.errText() };
  };

  beforeAll(async () => {
    n1 = await createClusterNode({ name: 'n1', listen: '127.0.0.1:0', secret, tokens: [token], children: (node) => demoChildren(node) });
    n2 = await createClusterNode({ name: 'n2', listen: '127.0.0.1:0', secret, tokens: [token], seeds: [n1.address], children: (node) => demoChildren(node) });
    await waitFor(() => n1.member('n2')?.status === 'up' && n2.member('n2')?.status === 'up', { timeoutMs: 20_000, what: 'n2 up' });
    url = `ws://127.0.0.1:${n1.port}`;
  }, 60_000);

  afterAll(async () => {
    await n2?.stop();
    await n1?.stop();
  });

  it('prints members and the cluster tree', async () => {
    const members = await cli('members', '--url', url, '--token', token);
    expect(members.code).toBe(0);
    expect(members.out).toMatch(/^n1\s+up\s/m);
    expect(members.out).toMatch(/^n2\s+up\s/m);
    const tree = await cli('tree', '--url', url, '--token', token);
    expect(tree.code).toBe(0);
    expect(tree.out).toContain('n2 (up');
    expect(tree.out).toMatch(/flaky {2}\[worker flaky\] running restarts=0/);
    const json = JSON.parse((await cli('tree', '--json', '--url', url, '--token', token)).out) as { nodes: unknown[] };
    expect(json.nodes).toHaveLength(2);
  });

  it('sends and asks across nodes', async () => {
    expect((await cli('send', 'n2', '/root/demo/counter', '{"type":"inc","by":4}', '--url', url, '--token', token)).code).toBe(0);
    await waitFor(async () => (await cli('ask', 'n2', '/root/demo/counter', '{"type":"get"}', '--url', url, '--token', token)).out === '4', { what: 'the count to show' });
    const echo = await cli('ask', 'n2', '/root/demo/echo', '[1,"two"]', '--url', url, '--token', token);
    expect(JSON.parse(echo.out)).toEqual({ type: 'echo', body: [1, 'two'] });
  });

  it('fails with typed errors and exit codes', async () => {
    expect(await cli('members', '--url', url)).toMatchObject({ code: 1, err: expect.stringContaining('CLIENT_UNAUTHORIZED') });
    expect(await cli('ask', 'n2', '/nobody', '1', '--url', url, '--token', token)).toMatchObject({ code: 1, err: expect.stringContaining('NO_SUCH_ACTOR') });
    expect(await cli('send', 'n2', '/root/demo/echo', '{not json', '--url', url, '--token', token)).toMatchObject({ code: 2, err: expect.stringContaining('INVALID_ARGUMENT') });
    expect((await cli('tree', '--bogus')).code).toBe(2);
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('help')).code).toBe(0);
  });

  it('accepts extra commands from components', async () => {
    const io = captureIo();
    const code = await runCli(['hello', 'world'], [{ name: 'hello', summary: 'greets', usage: 'hello <name>', run: async (args, commandIo) => { commandIo.out(`hello ${args.positional[0]}`); return 0; } }], io);
    expect(code).toBe(0);
    expect(io.outText()).toBe('hello world');
  });

  it('redraws the tree with --watch when an actor crashes', async () => {
    const controller = new AbortController();
    const io = captureIo(controller.signal);
    const watching = runCli(['tree', '--watch', '--url', url, '--token', token], [], io);
    await waitFor(() => io.outText().includes('flaky  [worker flaky]'), { what: 'the first drawing' });
    await n2.system.ask({ node: 'n2', path: '/root/demo/echo' }, 'warm');
    n1.system.tell({ node: 'n2', path: '/root/demo/flaky' }, { type: 'crash', reason: 'watch me' });
    await waitFor(() => /flaky {2}\[worker flaky\] running restarts=1 .*watch me/.test(io.outText()), { timeoutMs: 20_000, what: 'the redrawn tree' });
    controller.abort();
    expect(await watching).toBe(0);
  });

  it('serves health, metrics, the API with a token, the event stream and the page', async () => {
    const base = `http://127.0.0.1:${n1.port}`;
    const health = await httpGet(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', node: 'n1', incarnation: n1.incarnation });
    const metrics = await (await httpGet(`${base}/metrics`)).text();
    for (const name of ['troupe_messages_in_total', 'troupe_messages_out_total', 'troupe_dead_letters_total', 'troupe_restarts_total', 'troupe_mailbox_depth', 'troupe_link_up', 'troupe_member_status']) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/troupe_link_up\{peer="n2",node="n1"\} 1/);
    expect((await httpGet(`${base}/api/members`)).status).toBe(401);
    const members = await (await httpGet(`${base}/api/members`, { headers: { authorization: `Bearer ${token}` } })).json() as { members: Array<{ node: string }> };
    expect(members.members.map((member) => member.node).sort()).toEqual(['n1', 'n2']);
    expect((await httpGet(`${base}/nowhere`)).status).toBe(404);
    expect(await (await httpGet(`${base}/ui`)).text()).toContain('<title>Troupe cluster');

    const controller = new AbortController();
    const stream = await httpGet(`${base}/api/events?token=${token}`, { signal: controller.signal });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const reader = stream.body!.getReader();
    let text = '';
    n1.system.tell({ node: 'n2', path: '/root/demo/flaky' }, { type: 'crash', reason: 'sse' });
    await waitFor(async () => {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      return text.includes('event: lifecycle') && text.includes('"type":"restarted"');
    }, { timeoutMs: 20_000, what: 'a lifecycle event on the stream' });
    controller.abort();
  });

  it('advertises an idle keep-alive timeout longer than pooling clients keep sockets, and headersTimeout beyond it', async () => {
    // A pooled client closes its socket a little before the advertised timeout; at Node's default of
    // 5 s a client paused for a few seconds reused a socket the server had just closed.
    const response = await fetch(`http://127.0.0.1:${n1.port}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('keep-alive')).toBe(`timeout=${defaultSettings.httpKeepAliveMs / 1000}`);
    expect(defaultSettings.httpKeepAliveMs).toBeGreaterThan(5_000);
    expect(defaultSettings.httpHeadersTimeoutMs).toBeGreaterThan(defaultSettings.httpKeepAliveMs);
  });
});
