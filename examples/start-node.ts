/**
 * `npm start`: a node with the embedded defaults. Prints its supervision tree and stops cleanly on
 * Ctrl-C (SIGINT) or SIGTERM.
 */
import { behaviour, createNode, formatTree } from '../index.js';

const heartbeat = behaviour<number, { type: 'beat' }>({
  name: 'heartbeat',
  init(ctx) {
    ctx.timers.startPeriodic('beat', { type: 'beat' }, 1000);
    return 0;
  },
  receive: (beats) => beats + 1,
});

const node = await createNode({
  name: process.env.TROUPE_NODE ?? 'n1',
  children: [{ id: 'heartbeat', start: heartbeat, restart: 'permanent', shutdownMs: 1000, kind: 'worker' }],
});
console.log(`troupe node ${node.name} started\n${formatTree(node.tree())}\n(Ctrl-C to stop)`);
let stopping = false;
const shutdown = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping node ${node.name}`);
  void node.stop();
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
const termination = await node.terminated;
console.log(`node ${node.name} stopped (exit ${termination.exitCode})`);
process.exit(termination.exitCode);
