/**
 * The client SDK: connect to any node of a running cluster with a client token, list the members,
 * ask an actor on another node, print the tree, and follow lifecycle events for a while.
 *
 *   TROUPE_URL=ws://127.0.0.1:7401 TROUPE_TOKEN=example-client-token node --import tsx examples/client.ts
 */
import { connect, renderMembers, renderTree } from '../cluster/index.js';

const url = process.env.TROUPE_URL ?? 'ws://127.0.0.1:7401';
const token = process.env.TROUPE_TOKEN ?? 'example-client-token';
const followMs = Number(process.env.FOLLOW_MS ?? 5_000);

const client = await connect(url, { token });
console.log(`connected to ${client.node}`);
console.log(renderMembers(await client.members()));

const other = (await client.members()).find((member) => !member.self)?.node ?? client.node;
try {
  console.log(`echo from ${other}:`, await client.ask({ node: other, path: '/root/demo/echo' }, { hello: 'client' }, { timeoutMs: 2_000 }));
} catch (error) {
  // A typed failure: NODE_DOWN, NO_SUCH_ACTOR, ASK_TIMEOUT ...
  console.log(`ask failed: ${(error as { code?: string }).code}`);
}
console.log(renderTree(await client.tree()));

const stop = await client.subscribe('lifecycle', (event) => console.log(`lifecycle: ${event.type} ${event.node}:${event.path}`));
client.onState((state) => console.log(`connection: ${state}`));
await client.tell({ node: other, path: '/root/demo/flaky' }, { type: 'crash', reason: 'crashed on purpose by examples/client.ts' });
await new Promise((resolve) => setTimeout(resolve, followMs));
await stop();
await client.close();
