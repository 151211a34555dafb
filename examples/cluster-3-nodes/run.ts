/**
 * Three Troupe nodes as three processes on this host: starts them (n1 founds the cluster, n2 and n3
 * join through it), sends a message and an ask that cross nodes through the client SDK, prints the
 * cluster-wide supervision tree, then stops every node with SIGTERM (a graceful leave).
 *
 *   node --import tsx examples/cluster-3-nodes/run.ts
 *
 * Ports 7401-7403 by default (TROUPE_BASE_PORT to change). See README.md for the same across hosts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, renderTree } from '../../cluster/index.js';

const basePort = Number(process.env.TROUPE_BASE_PORT ?? 7401);
const secret = process.env.TROUPE_SECRET ?? 'example-cluster-secret';
const token = process.env.TROUPE_TOKEN ?? 'example-client-token';
const dataRoot = mkdtempSync(join(tmpdir(), 'troupe-example-'));

/** Starts `cluster/main.ts` (what `troupe start` runs) and resolves once it listens. */
function startNode(name: string, port: number, seeds: string[]): Promise<ChildProcess> {
  const args = ['--import', 'tsx', 'cluster/main.ts', '--name', name, '--listen', `127.0.0.1:${port}`, '--data', join(dataRoot, name), '--secret', secret, '--token', token];
  if (seeds.length > 0) args.push('--seeds', seeds.join(','));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      process.stdout.write(`[${name}] ${text}`);
      if (text.includes('"event":"listening"')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

const seed = `ws://127.0.0.1:${basePort}`;
const nodes = [await startNode('n1', basePort, [])];
nodes.push(...(await Promise.all([startNode('n2', basePort + 1, [seed]), startNode('n3', basePort + 2, [seed])])));
try {
  const client = await connect(seed, { token });
  // Wait until the three nodes see each other (membership spreads by gossip).
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const members = await client.members();
    if (members.length === 3 && members.every((member) => member.status === 'up')) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.log('members:', (await client.members()).map((member) => `${member.node}:${member.status}`).join(' '));

  // A message from the client, through n1, to the counter on n2; then an ask from n1's side to n3.
  await client.tell({ node: 'n2', path: '/root/demo/counter' }, { type: 'inc', by: 41 });
  await client.tell({ node: 'n2', path: '/root/demo/counter' }, { type: 'inc' });
  console.log('counter on n2:', await client.ask({ node: 'n2', path: '/root/demo/counter' }, { type: 'get' }));
  console.log('echo from n3:', JSON.stringify(await client.ask({ node: 'n3', path: '/root/demo/echo' }, { hello: 'from n1' })));

  console.log(renderTree(await client.tree()));
  await client.close();
} finally {
  for (const node of nodes) node.kill('SIGTERM');
  await Promise.all(nodes.map((node) => new Promise((resolve) => node.once('exit', resolve))));
  rmSync(dataRoot, { recursive: true, force: true });
}
