/**
 * The replicated log's host on real stores (WAL + LevelDB in temporary directories), four parties in one
 * process over a seeded, reordering in-memory network. One party is crashed mid-run: its store closed,
 * the messages sent to it while it is down lost, then reopened from disk. It must replay its durable
 * inputs, ask for what it missed (`sync`: retransmissions and f + 1 matching decided batches), and end
 * with the same log and state as the others; every client transaction is answered alike by all four.
 * Every peer message travels sealed with its sender's ed25519 link key.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateLinkKeys, linkKeysFrom, LogHost, simulatedPartyCrypto, type SubmitReply } from '../../../actors/mvba/index.js';
import { Store } from '../../../actors/storage/index.js';
import { createRng } from '../../../runtime/rng.js';
import { removeDir, tempDir } from '../../support/cluster-harness.js';
import { waitFor } from '../../support/wait.js';

const parties = 4;
const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0)) await removeDir(directory);
});

interface Party {
  host: LogHost | null;
  store: Store | null;
  readonly directory: string;
}

describe('MVBA log host on real stores', () => {
  it('a party crashed mid-run recovers by replay and sync, and all parties apply the same batches', async () => {
    const rng = createRng(20_240_603);
    const queue: { from: number; to: number; message: unknown }[] = [];
    const links = generateLinkKeys(parties);
    const members: Party[] = [];
    for (let index = 0; index < parties; index += 1) {
      const directory = await tempDir(`mvba-log-${index}`);
      directories.push(directory);
      members.push({ host: null, store: null, directory });
    }
    const open = async (index: number): Promise<void> => {
      const member = members[index]!;
      member.store = await Store.open({ directory: member.directory });
      member.host = await LogHost.open({
        self: index, parties, crypto: simulatedPartyCrypto('log-host', parties, index), protocol: 'prioritized',
        name: 'test-log', store: member.store, send: (to, message) => queue.push({ from: index, to, message }),
        link: linkKeysFrom(index, links.secrets[index]!, links.publicKeys),
      });
    };
    for (let index = 0; index < parties; index += 1) await open(index);

    let pumping = true;
    let delivered = 0;
    const pump = (async () => {
      while (pumping) {
        if (queue.length === 0) {
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        const pick = rng.int(0, queue.length - 1);
        const [envelope] = queue.splice(pick, 1);
        const target = members[envelope!.to]!;
        // A message to a party that is down is lost, as on a real link to a dead process.
        if (target.host !== null) target.host.receive(envelope!.from, envelope!.message);
        delivered += 1;
        if (delivered % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    })();

    const answers = new Map<string, SubmitReply[]>();
    const submit = (id: string, key: string, value: string): void => {
      for (const member of members) {
        member.host?.submit({ id, op: 'put', key, value }, (reply) => answers.set(id, [...(answers.get(id) ?? []), reply]));
      }
    };
    try {
      for (let index = 0; index < 6; index += 1) submit(`first-${index}`, `k${index}`, `v${index}`);
      // Crash party 2 once the run is under way.
      await waitFor(() => (delivered > 60 ? true : undefined), { timeoutMs: 60_000, what: 'the first messages to flow' });
      const crashed = members[2]!;
      crashed.host = null;
      await crashed.store!.close();
      crashed.store = null;
      for (let index = 0; index < 4; index += 1) submit(`second-${index}`, `s${index}`, `w${index}`);
      // The three running parties decide without it (n - f = 3).
      await waitFor(() => ((answers.get('second-3') ?? []).length === parties - 1 ? true : undefined), { timeoutMs: 60_000, what: 'the others to decide without the crashed party' });
      await open(2);
      for (let index = 0; index < 3; index += 1) submit(`third-${index}`, `t${index}`, `x${index}`);
      await waitFor(() => {
        const third = answers.get('third-2') ?? [];
        return third.length === parties ? true : undefined;
      }, { timeoutMs: 90_000, what: `every party to answer the last transaction (${JSON.stringify([...answers.entries()].map(([id, list]) => [id, list.length]))})` });
      for (const id of ['third-0', 'third-1', 'third-2']) {
        const replies = answers.get(id)!;
        expect(new Set(replies.map((reply) => JSON.stringify(reply))).size, `${id}: ${JSON.stringify(replies)}`).toBe(1);
      }
      await waitFor(() => (new Set(members.map((member) => member.host!.currentInstance)).size === 1 ? true : undefined), { timeoutMs: 60_000, what: 'every party at the same instance' });
      for (const key of ['k0', 'k5', 's0', 's3', 't2']) {
        const reads = await Promise.all(members.map((member) => member.host!.read(key)));
        expect(new Set(reads.map((read) => JSON.stringify(read))).size, `${key}: ${JSON.stringify(reads)}`).toBe(1);
        expect(reads[0]!.value).not.toBeNull();
      }
      const recovered = members[2]!.host!.counters;
      console.log(`recovered party: ${JSON.stringify(recovered)}; others retransmitted ${members.map((member) => member.host!.counters.retransmitted).join(',')}`);
      expect(recovered.replayed + recovered.synced).toBeGreaterThan(0);
    } finally {
      pumping = false;
      await pump;
      for (const member of members) await member.store?.close();
    }
  }, 180_000);
});
