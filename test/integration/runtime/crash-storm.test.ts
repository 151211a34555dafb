/**
 * A real node process (`troupe start`) under a crash storm: a client crashes `/root/demo/flaky` past
 * the demo supervisor's restart intensity. The storm escalates to `/root/demo`, which the root
 * restarts; the node keeps serving, and its stderr carries the crash reports. With a root that allows
 * no restart, the same storm stops the node with exit 1 and says which child and error began it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type TroupeClient } from '../../../cluster/index.js';
import { demoSupervision } from '../../../cluster/demo.js';
import { freePort, removeDir, startNodeProcess, stopAll, tempDir } from '../../support/cluster-harness.js';
import { waitFor } from '../../support/wait.js';

const secret = 'crash-storm-secret';
const token = 'crash-storm-token';
const flaky = (node: string) => ({ node, path: '/root/demo/flaky' });

/** The JSON log lines in a process's output with `event` set to `name`. */
function logLines(output: string, name: string): Array<Record<string, unknown>> {
  return output.split('\n').filter((line) => line.startsWith('{') && line.includes(`"event":"${name}"`)).map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('a crash storm in a demo actor', () => {
  const dirs: string[] = [];
  const clients: TroupeClient[] = [];
  afterAll(async () => {
    for (const client of clients) await client.close();
    await stopAll();
    for (const dir of dirs) await removeDir(dir);
  });

  it('escalates to /root/demo, not to the root: the node keeps serving and logs the crashes, restarts and escalation', async () => {
    dirs.push(await tempDir('crash-storm-n1'));
    const node = await startNodeProcess({ name: 'n1', port: await freePort(), dataDir: dirs[0]!, secret, token });
    const client = await connect(node.url, { token });
    clients.push(client);
    const crashes = demoSupervision.maxRestarts + 1;
    for (let crash = 1; crash <= crashes; crash += 1) {
      await client.tell(flaky('n1'), { type: 'crash', reason: `storm ${crash}` });
      if (crash < crashes) await waitFor(() => logLines(node.output(), 'actor.crashed').length === crash, { timeoutMs: 20_000, what: `crash ${crash} logged` });
    }
    const escalated = await waitFor(() => logLines(node.output(), 'supervisor.escalated')[0], { timeoutMs: 20_000, what: 'the demo supervisor to escalate' });
    expect(escalated).toMatchObject({ node: 'n1', path: '/root/demo', chain: ['/root/demo'], child: '/root/demo/flaky', error: `storm ${crashes}` });
    await waitFor(async () => (await client.ask(flaky('n1'), { type: 'ping' }, { timeoutMs: 2_000 }).catch(() => undefined)) === 'pong', { timeoutMs: 30_000, what: 'flaky back under a restarted /root/demo' });
    expect(await client.ask({ node: 'n1', path: '/root/demo/echo' }, 'still here')).toEqual({ type: 'echo', body: 'still here' });
    expect(node.child.exitCode).toBeNull();
    const tree = await client.tree();
    const root = tree.nodes[0]!.tree!.children.find((child) => child.path === '/root')!;
    expect(root.children.find((child) => child.path === '/root/demo')).toMatchObject({ restarts: 1, status: 'running' });
    const crashed = logLines(node.output(), 'actor.crashed');
    expect(crashed[0]).toMatchObject({ path: '/root/demo/flaky', error: 'storm 1' });
    expect(String(crashed[0]!.stack)).toContain('demo.ts');
    expect(logLines(node.output(), 'supervisor.restarting')[0]).toMatchObject({ path: '/root/demo', child: '/root/demo/flaky' });
    expect(typeof logLines(node.output(), 'supervisor.restarting')[0]!.delayMs).toBe('number');
  });

  it('stops the node with exit 1 when storms exceed the root\'s own intensity, naming the child, its error and the chain', async () => {
    dirs.push(await tempDir('crash-storm-n2'));
    // The root allows one restart per 10 s: the first storm costs it that one, the second stops the node.
    const node = await startNodeProcess({ name: 'n2', port: await freePort(), dataDir: dirs[1]!, secret, token, extraArgs: ['--max-restarts', '1'] });
    const client = await connect(node.url, { token });
    clients.push(client);
    const crashes = demoSupervision.maxRestarts + 1;
    for (let storm = 1; storm <= 2; storm += 1) {
      await waitFor(async () => (await client.ask(flaky('n2'), { type: 'ping' }, { timeoutMs: 2_000 }).catch(() => undefined)) === 'pong', { timeoutMs: 30_000, what: `flaky running before storm ${storm}` });
      for (let crash = 1; crash <= crashes; crash += 1) {
        const logged = logLines(node.output(), 'actor.crashed').length;
        await client.tell(flaky('n2'), { type: 'crash', reason: `storm ${storm} crash ${crash}` });
        if (crash < crashes) await waitFor(() => logLines(node.output(), 'actor.crashed').length > logged, { timeoutMs: 20_000, what: `storm ${storm} crash ${crash} logged` });
      }
      if (storm === 1) await waitFor(() => logLines(node.output(), 'supervisor.escalated').length === 1, { timeoutMs: 20_000, what: 'the first escalation' });
    }
    const exit = await node.exited;
    expect(exit.code).toBe(1);
    const fatal = logLines(node.output(), 'fatal')[0];
    expect(fatal).toMatchObject({ node: 'n2', chain: ['/root/demo', '/root'], child: '/root/demo/flaky' });
    expect(String(fatal?.error)).toContain(`storm 2 crash ${crashes}`);
    expect(logLines(node.output(), 'node.stopping')[0]).toMatchObject({ chain: ['/root/demo', '/root'], child: '/root/demo/flaky' });
  });
});
