/**
 * Connection budgets against a real `npm start` node: strangers holding unauthenticated sockets open
 * take places from their own small budget (per address, and in total), never the slots of
 * authenticated clients; each is dropped at the handshake deadline; strangers spread over many
 * addresses cannot hold the whole total either (the heaviest address gives up its oldest socket to an
 * address holding fewer); a slow HTTP request is cut off by the header deadline. Refusals are logged with their code and the remote address. After each attack
 * the node answers a legitimate client, keeps the KV value acknowledged before it, and its memory
 * stays bounded.
 */
import { connect as connectTcp } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type TroupeClient } from '../../../cluster/index.js';
import { waitFor } from '../../support/wait.js';
import { kvPut, RawClient, rssMb, startNpmNode, stillServes, stopStartedNodes, type StartedNode } from './support.js';

const secret = 'limits-connections-secret';
const token = 'limits-connections-token';
const kv = { key: 'before-attack', value: 'acknowledged' };
/** The default budget of unauthenticated sockets per remote address (cluster settings) ... */
const perAddressMax = 64;
/** ... and in total. */
const totalMax = 512;
/** The node's resident memory stays under this through the attacks (it starts near 150-250 MB). */
const rssMbMax = 500;

/** Structured log lines (JSON) the node wrote. */
function logLines(output: string): Array<Record<string, unknown>> {
  return output.split('\n').filter((line) => line.startsWith('{"level"')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A counter of the node's /metrics with the given `code` label (0 when absent). */
async function counter(node: StartedNode, name: string, code: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{[^}]*code="${code}"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

/** A gauge from the node's /metrics. */
async function gauge(node: StartedNode, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
}

describe('connection budgets of an npm start node', () => {
  let node: StartedNode;

  beforeAll(async () => {
    node = await startNpmNode({ secret, token });
    const client = await connect(node.url, { token });
    try {
      await kvPut(client, 'n1', kv.key, kv.value);
    } finally {
      await client.close();
    }
  }, 180_000);

  afterAll(async () => {
    await stopStartedNodes();
  });

  it('1,200 unauthenticated /client sockets from one address get at most its budget; real clients still connect and are served', async () => {
    const attackers: RawClient[] = [];
    try {
      for (let index = 0; index < 1_200; index += 1) attackers.push(new RawClient(node.url, { localAddress: '127.0.0.2' }));
      const opened = await Promise.all(attackers.map((attacker) => attacker.opened));
      const admitted = attackers.filter((_, index) => opened[index]);
      // Places come back as admitted strangers time out, so over the whole attack more than the budget
      // may get in; at no moment did that address hold more than its budget.
      expect(admitted.length).toBeGreaterThan(0);
      expect(admitted.length).toBeLessThan(attackers.length);
      expect(await gauge(node, 'troupe_unauthenticated_sockets_peak_per_address')).toBeLessThanOrEqual(perAddressMax);
      // While strangers hold every place their address may have, a real client connects and is served.
      await stillServes(node, token, kv);
      await waitFor(() => logLines(node.output()).some((line) => line.event === 'cluster.refused' && line.code === 'TOO_MANY_HANDSHAKES' && line.remote === '127.0.0.2'),
        { what: 'the refusal in the log' });
      // Each admitted stranger is dropped at the handshake deadline.
      const closed = await Promise.all(admitted.map((attacker) => attacker.closed));
      expect(closed.every((close) => close.reason === 'HANDSHAKE_TIMEOUT')).toBe(true);
      await waitFor(() => logLines(node.output()).some((line) => line.event === 'cluster.refused' && line.code === 'HANDSHAKE_TIMEOUT' && line.remote === '127.0.0.2'),
        { what: 'the handshake timeouts in the log' });
    } finally {
      for (const attacker of attackers) attacker.terminate();
    }
    await stillServes(node, token, kv);
    expect(rssMb(node.pid)).toBeLessThan(rssMbMax);
  }, 120_000);

  it('authenticated clients keep their slots while strangers come and go', async () => {
    const attackers = Array.from({ length: 200 }, () => new RawClient(node.url, { localAddress: '127.0.0.3' }));
    const clients: TroupeClient[] = [];
    try {
      // Real clients connect while strangers hold their address's places (ten at a time: one address
      // may have only its budget of handshakes under way at once).
      for (let batch = 0; batch < 5; batch += 1) clients.push(...(await Promise.all(Array.from({ length: 10 }, () => connect(node.url, { token })))));
      await Promise.all(attackers.map((attacker) => attacker.opened));
      const answers = await Promise.all(clients.map((client, index) => client.ask({ node: 'n1', path: '/root/demo/echo' }, index)));
      expect(answers).toEqual(clients.map((_, index) => ({ type: 'echo', body: index })));
    } finally {
      for (const attacker of attackers) attacker.terminate();
      await Promise.all(clients.map((client) => client.close()));
    }
    await stillServes(node, token, kv);
    expect(rssMb(node.pid)).toBeLessThan(rssMbMax);
  }, 120_000);

  it('strangers on nine addresses cannot hold the whole budget: a real client still gets a place, and an eviction is logged', async () => {
    const addresses = Array.from({ length: 9 }, (_, index) => `127.0.0.${11 + index}`);
    expect(addresses.length * perAddressMax).toBeGreaterThan(totalMax);
    const attackers: RawClient[] = [];
    try {
      for (const address of addresses) for (let index = 0; index < perAddressMax; index += 1) attackers.push(new RawClient(node.url, { localAddress: address }));
      await Promise.all(attackers.map((attacker) => attacker.opened));
      // The strangers filled the total between them, and the later addresses took places from the heavier ones.
      await waitFor(async () => (await counter(node, 'troupe_frames_rejected_total', 'handshake:HANDSHAKE_EVICTED')) > 0, { what: 'an eviction counted' });
      // A real client (from 127.0.0.1, which holds nothing) is admitted while the strangers hold the budget, and served.
      await stillServes(node, token, kv);
      await waitFor(() => logLines(node.output()).some((line) => line.event === 'cluster.refused' && line.code === 'HANDSHAKE_EVICTED' && addresses.includes(line.remote as string)),
        { what: 'the eviction in the log' });
      expect(await gauge(node, 'troupe_unauthenticated_sockets_peak_per_address')).toBeLessThanOrEqual(perAddressMax);
    } finally {
      for (const attacker of attackers) attacker.terminate();
    }
    await stillServes(node, token, kv);
    expect(rssMb(node.pid)).toBeLessThan(rssMbMax);
  }, 120_000);

  it('cuts off an HTTP request whose headers never finish (header deadline)', async () => {
    const socket = connectTcp(node.port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString(); });
    socket.on('error', () => {});
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('GET /client HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\n');
    await ended;
    expect(answer).toContain('408 Request Timeout');
    await waitFor(() => logLines(node.output()).some((line) => line.event === 'cluster.refused' && line.code === 'HTTP_TIMEOUT' && line.remote === '127.0.0.1'), { what: 'the timeout in the log' });
    await stillServes(node, token, kv);
    expect(rssMb(node.pid)).toBeLessThan(rssMbMax);
  }, 120_000);
});
