/**
 * A cluster node process hosting one MVBA replicated-log replica at `/root/mvba`, for multi-process tests:
 *
 *   node --import tsx test/support/mvba-node.ts --name n1 --port 7401 --data /tmp/n1 --secret s --token t \
 *        --parties n1,n2,n3,n4 --key-file /tmp/keys/party-0.json [--seeds ws://...] [--byzantine liar]
 *
 * `--byzantine liar` makes this replica Byzantine: every share and proof it sends is corrupted, every
 * vote is sent twice and both ways, and it answers clients with forged results. Prints one JSON line
 * `{"event":"listening",...}` once the node is on the network.
 */
import * as path from 'node:path';
import { mvbaLogReplica } from '../../actors/mvba/index.js';
import type { MvbaMessage } from '../../actors/mvba/index.js';
import { createClusterNode } from '../../cluster/index.js';
import { childArgs } from './child-args.js';

const args = childArgs();
const required = (name: string): string => args.required(name);
const name = required('name');
const dataDir = required('data');
const byzantine = args.get('byzantine') === 'liar';

function corrupt(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy[copy.length - 1]! ^= 0x55;
  return copy;
}

/** The Byzantine replica's rewrite of what it sends. */
function lie(to: number, message: MvbaMessage): { to: number; message: unknown }[] {
  switch (message.type) {
    case 'mvba.echo':
    case 'mvba.coin':
      return [{ to, message: { ...message, share: corrupt(message.share) } }];
    case 'mvba.propose':
    case 'mvba.recommend':
    case 'mvba.found':
      return [{ to, message: { ...message, signature: corrupt(message.signature) } }];
    case 'mvba.bval':
    case 'mvba.aux':
      return [{ to, message }, { to, message }, { to, message: { ...message, value: 1 - message.value } }];
    default:
      return [{ to, message }];
  }
}

const node = await createClusterNode({
  name,
  listen: `127.0.0.1:${required('port')}`,
  seeds: (args.get('seeds') ?? '').split(',').filter((seed) => seed !== ''),
  dataDir,
  secret: required('secret'),
  tokens: [required('token')],
  settings: { heartbeatIntervalMs: 250, linkIdleMs: 4_000, detector: { acceptablePauseMs: 1_000, downPhi: 8, suspectPhi: 3 } },
  supervision: { maxRestarts: 100, periodMs: 10_000 },
  children: [{
    id: 'mvba',
    start: mvbaLogReplica({
      parties: required('parties').split(','), protocol: args.get('protocol') === 'ckps01' ? 'ckps01' : 'prioritized', keyFile: required('key-file'), directory: path.join(dataDir, 'mvba'),
      ...(byzantine ? { outgoing: lie, answer: (reply: unknown) => ({ ...(reply as object), instance: 999, value: 'forged', applied: true }) } : {}),
    }),
    restart: 'permanent',
    shutdownMs: 5_000,
    kind: 'worker',
  }],
});
process.stdout.write(`${JSON.stringify({ event: 'listening', node: node.name, port: node.port, pid: process.pid })}\n`);
process.stdin.resume();
process.stdin.once('close', () => process.exit(0));
process.once('SIGTERM', () => {
  void node.leave().finally(() => process.exit(0));
});
void node.terminated.then((termination) => process.exit(termination.exitCode));
