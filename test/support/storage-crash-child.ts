/**
 * The process the storage crash test kills. Run as
 *   node --import tsx test/support/storage-crash-child.ts <data directory> <writers>
 *
 * It starts a node with the storage actor (whose `init` recovers the directory), then runs `writers`
 * concurrent loops. Each loop increments its counter `count/<w>` (a non-idempotent command: applying it
 * twice would show), then puts `rec/<w>/<value>` with a payload derived from (w, value). After every
 * acknowledged write it prints one line on stdout, which on Linux is a synchronous pipe write:
 *   inc <w> <value> <index>      the increment was acknowledged and returned <value>
 *   put <w> <value> <index>      the record was acknowledged
 * Every 100 acknowledgements it asks for a snapshot, so kills also land during snapshots and WAL
 * prefix truncation. It never exits on its own; the test kills it with SIGKILL.
 */
import { createNode } from '../../supervisors/index.js';
import { storageBehaviour, type StorageReply } from '../../actors/storage/index.js';
import { crashPayload } from './storage-crash-payload.js';

const [directory, writersArgument] = process.argv.slice(2);
if (directory === undefined) throw new Error('usage: storage-crash-child.ts <directory> <writers>');
const writers = Number(writersArgument ?? '4');

process.stdout.write('starting\n');
const node = await createNode({ name: 'crash-child' });
const ref = await node.startChild({ id: 'storage', start: storageBehaviour({ directory }), restart: 'permanent', shutdownMs: 5_000, kind: 'worker' });
process.stdout.write('ready\n');

let acknowledged = 0;

async function ask(message: unknown): Promise<StorageReply & Record<string, unknown>> {
  const reply = await node.system.ask<StorageReply & Record<string, unknown>>(ref, message, { timeoutMs: 30_000 });
  if (!reply.ok) throw new Error(`storage refused ${JSON.stringify(message)}: ${reply.code} ${reply.message}`);
  return reply;
}

async function acknowledge(): Promise<void> {
  acknowledged += 1;
  if (acknowledged % 100 === 0) await ask({ type: 'storage.snapshot' });
}

async function writerLoop(writer: number): Promise<never> {
  for (;;) {
    const increment = await ask({ type: 'storage.increment', key: `count/${writer}`, delta: 1 });
    const value = increment.value as number;
    process.stdout.write(`inc ${writer} ${value} ${String(increment.index)}\n`);
    await acknowledge();
    const put = await ask({ type: 'storage.put', key: `rec/${writer}/${value}`, value: crashPayload(writer, value) });
    process.stdout.write(`put ${writer} ${value} ${String(put.index)}\n`);
    await acknowledge();
  }
}

await Promise.all(Array.from({ length: writers }, (_, writer) => writerLoop(writer))).catch((error: unknown) => {
  process.stderr.write(`crash child failed: ${String(error)}\n`);
  process.exit(3);
});
