/**
 * An unknown message never changes a behaviour's state (STYLE.md: "a receive without a default case
 * turns an unknown message into corrupted state"). For every behaviour the project defines, on a real
 * node: a message whose `type` the behaviour does not know, and messages with no `type` at all, are
 * refused (an ask gets `{ ok: false, code: 'UNKNOWN_MESSAGE' }`, a tell becomes a dead letter); the
 * state is the same object with the same contents, the actor has not restarted, and it still answers a
 * legitimate message.
 *
 * The table below names every behaviour; a scan of the source fails when a behaviour is defined that
 * the table does not list, so a new one cannot skip the check.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultChunking, defaultDocumentLimits, hashingEmbedder, initialState, partitionWorker, searchActor, type PipelineStore } from '../../../actors/pipeline/index.js';
import { mvbaLogReplica, simulatedPartyCrypto } from '../../../actors/mvba/index.js';
import { listenerBehaviour, sweeperBehaviour } from '../../../actors/objectstore/index.js';
import { raftReplica } from '../../../actors/raft/index.js';
import { gatewayLimits, routerBehaviour, routerConfig, watcherBehaviour as routerWatcherBehaviour } from '../../../actors/router/index.js';
import { storageBehaviour } from '../../../actors/storage/index.js';
import { runBehaviour, timerBehaviour, workerBehaviour, workflow, workflowEngineBehaviour, type RunSlot } from '../../../actors/workflow/index.js';
import { counterBehaviour, echoBehaviour, flakyBehaviour, producerBehaviour, sinkBehaviour, slowSinkBehaviour, watcherBehaviour } from '../../../cluster/demo.js';
import { behaviour, type ActorContext, type AnyBehaviour, type Ref, type TreeSnapshot } from '../../../runtime/index.js';
import { deadLettersBehaviour } from '../../../runtime/dead-letters.js';
import { createNode, type TroupeNode } from '../../../supervisors/index.js';
import { waitFor } from '../../support/wait.js';

const repositoryRoot = join(import.meta.dirname, '../../..');

/** A dependency the checked messages must never reach: any use fails the test loudly. */
function unavailable<T extends object>(what: string): T {
  return new Proxy({} as T, { get: (_target, property) => { throw new Error(`${what} is not available in this test (touched .${String(property)})`); } });
}

interface Started {
  readonly node: TroupeNode;
  readonly ref: Ref;
  readonly cleanup?: () => void;
}

/** One behaviour under test. */
interface Row {
  /** `<file> <behaviour name>`, as the source scan finds it. */
  readonly id: string;
  /** Builds the behaviour; `init` replaces its own only where that needs an outside service (see `why`). */
  readonly build: () => { behaviour: AnyBehaviour; init?: (ctx: ActorContext) => unknown; cleanup?: () => void };
  /** A legitimate message, and what its answer must satisfy. */
  readonly legitimate: { readonly message: unknown; readonly expect: (reply: unknown) => void };
  /** Compare a printed deep copy of the state (off for states holding a whole store or Raft node: `describe` covers those). */
  readonly fingerprint: boolean;
  /** Accepts every message by design (the echo actor): its answers are checked, not refusals. */
  readonly acceptsAnything?: true;
  /** Why `init` is replaced, when it is. */
  readonly why?: string;
}

/** Behaviours that are defined in the source but cannot be started by this test, and why. */
const notStarted: Record<string, string> = {
  'actors/pipeline/ingestion.ts pipeline.consumer':
    'not exported: only startIngestion starts it, and its init joins a Kafka consumer group; test/integration/pipeline/ingestion.test.ts sends it the same messages against the real broker',
  'actors/router/request-actor.ts router-request':
    'one per client request: its init takes the client\'s live HTTP response and starts routing at once, and it stops when the request ends; its default case is refuseUnknown, and test/integration/router/gateway.test.ts drives it through real requests',
  'examples/embed.ts counter':
    'a runnable program whose module body starts a node; its receive refuses unknown messages with refuseUnknown like the others',
};

/** The token the workflow engine's own actors share; the messages checked here do not carry it. */
const workflowToken = {};
const stoppedRunSlot: RunSlot = {
  workflowId: 'w', stopped: true,
  create: () => { throw new Error('a stopped slot creates no host'); },
  boot: () => ({ mode: 'restore' }),
  attach: () => undefined,
  detach: () => undefined,
};

const temporaries: string[] = [];
function temporary(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  temporaries.push(directory);
  return directory;
}

const rows: Row[] = [
  {
    id: 'runtime/dead-letters.ts deadLetters',
    build: () => ({ behaviour: deadLettersBehaviour }),
    legitimate: { message: { type: 'deadLetters.list' }, expect: (reply) => expect(reply).toMatchObject({ received: 0, recent: [] }) },
    fingerprint: true,
  },
  {
    id: 'cluster/demo.ts echo',
    build: () => ({ behaviour: echoBehaviour }),
    legitimate: { message: [1, 'two'], expect: (reply) => expect(reply).toEqual({ type: 'echo', body: [1, 'two'] }) },
    fingerprint: true,
    acceptsAnything: true,
  },
  {
    id: 'cluster/demo.ts counter',
    build: () => ({ behaviour: counterBehaviour }),
    legitimate: { message: { type: 'get' }, expect: (reply) => expect(reply).toBe(0) },
    fingerprint: true,
  },
  {
    id: 'cluster/demo.ts flaky',
    build: () => ({ behaviour: flakyBehaviour }),
    legitimate: { message: { type: 'ping' }, expect: (reply) => expect(reply).toBe('pong') },
    fingerprint: true,
  },
  {
    id: 'cluster/demo.ts sink',
    build: () => ({ behaviour: sinkBehaviour }),
    legitimate: { message: { type: 'count' }, expect: (reply) => expect(reply).toBe(0) },
    fingerprint: true,
  },
  {
    id: 'cluster/demo.ts slowSink',
    build: () => ({ behaviour: slowSinkBehaviour }),
    legitimate: { message: { type: 'count' }, expect: (reply) => expect(reply).toBe(0) },
    fingerprint: true,
  },
  {
    id: 'cluster/demo.ts producer',
    build: () => ({ behaviour: producerBehaviour(() => { throw new Error('the producer must not send for an unknown message'); }) }),
    legitimate: { message: { type: 'status', stream: 's' }, expect: (reply) => expect(reply).toEqual({ sent: 0, refused: 0, done: false }) },
    fingerprint: true,
  },
  {
    id: 'cluster/demo.ts watcher',
    build: () => ({ behaviour: watcherBehaviour }),
    legitimate: { message: { type: 'report' }, expect: (reply) => expect(reply).toEqual([]) },
    fingerprint: true,
  },
  {
    id: 'actors/pipeline/search.ts pipeline.search',
    build: () => ({ behaviour: searchActor(unavailable<PipelineStore>('Postgres'), hashingEmbedder()) }),
    legitimate: { message: { type: 'pipeline.search', query: ' ', k: 3 }, expect: (reply) => expect(reply).toMatchObject({ ok: false, code: 'INVALID_QUERY' }) },
    fingerprint: true,
  },
  {
    id: 'actors/pipeline/worker.ts pipeline.partition',
    build: () => ({
      behaviour: partitionWorker({
        group: 'g', topic: 't', partition: 3, store: unavailable<PipelineStore>('Postgres'), embedder: hashingEmbedder(),
        plan: { chunking: defaultChunking, limits: defaultDocumentLimits },
        embedAttempts: 1, deadLetters: undefined,
      }),
      // What the worker's init returns for a partition whose durable offset is 7.
      init: () => ({ core: initialState('t', 3, 7), batches: 0 }),
    }),
    legitimate: { message: { type: 'pipeline.position' }, expect: (reply) => expect(reply).toEqual({ nextOffset: 7 }) },
    fingerprint: true,
    why: 'its init reads the partition\'s durable offset from Postgres and republishes the dead-letter outbox to Kafka',
  },
  {
    id: 'actors/storage/actor.ts storage',
    build: () => {
      const directory = temporary('troupe-unknown-storage-');
      return { behaviour: storageBehaviour({ directory }) };
    },
    legitimate: { message: { type: 'storage.get', key: 'k' }, expect: (reply) => expect(reply).toEqual({ ok: true, value: null }) },
    fingerprint: false,
  },
  {
    id: 'actors/workflow/actor.ts workflow-engine',
    build: () => {
      const dataDir = temporary('troupe-unknown-workflow-');
      return { behaviour: workflowEngineBehaviour({ dataDir, workflows: [workflow('noop', async () => null)] }) };
    },
    legitimate: { message: { type: 'workflow.list' }, expect: (reply) => expect(reply).toEqual({ ok: true, runs: [] }) },
    fingerprint: false,
  },
  {
    id: 'actors/workflow/worker-actor.ts workflow-worker',
    build: () => ({ behaviour: workerBehaviour({ taskQueue: 'default', concurrency: 1, depthMax: 10, token: workflowToken, hooks: {} }) }),
    legitimate: {
      message: {
        type: 'workflow.worker.submit', token: workflowToken,
        attempt: { workflowId: 'w', stepName: 's', attempt: 1, signal: new AbortController().signal, run: async () => ({ ok: true, result: 1 }), report: () => undefined },
      },
      expect: (reply) => expect(reply).toEqual({ ok: true }),
    },
    fingerprint: false,
  },
  {
    id: 'actors/workflow/worker-actor.ts workflow-timers',
    build: () => ({ behaviour: timerBehaviour({ token: workflowToken }) }),
    legitimate: { message: { type: 'workflow.timers.arm', key: 'w', atMs: undefined, fire: () => undefined, token: workflowToken }, expect: (reply) => expect(reply).toEqual({ ok: true }) },
    fingerprint: false,
  },
  {
    id: 'actors/workflow/run-actor.ts workflow-run',
    // A slot of an engine that has stopped: the run actor comes up without a host and answers inputs without acting.
    build: () => ({ behaviour: runBehaviour(stoppedRunSlot, workflowToken) }),
    legitimate: { message: { type: 'workflow.run.input', message: { kind: 'tick' }, token: workflowToken }, expect: (reply) => expect(reply).toEqual({ ok: true }) },
    fingerprint: false,
  },
  {
    id: 'actors/router/router-actor.ts router',
    build: () => ({ behaviour: routerBehaviour({ config: routerConfig(), backends: [{ id: 'b', url: 'http://127.0.0.1:9', capacityTokens: 1_024 }], limits: gatewayLimits }) }),
    legitimate: { message: { type: 'router.state' }, expect: (reply) => expect(reply).toMatchObject({ policy: 'cache-aware', backends: [{ id: 'b', status: 'pending' }] }) },
    fingerprint: false,
  },
  {
    id: 'actors/router/watcher-actor.ts router-watcher',
    // Probes only on a long period (not at start); its reports would go to an actor that does not exist.
    build: () => ({ behaviour: routerWatcherBehaviour({ id: 'b', url: 'http://127.0.0.1:9', capacityTokens: 1_024 }, { node: 'local', path: '/root/nowhere' }, { intervalMs: 600_000, timeoutMs: 100, probeAtStart: false }) }),
    legitimate: { message: { type: 'router.watcher.status' }, expect: (reply) => expect(reply).toMatchObject({ ok: true, backend: 'b' }) },
    fingerprint: false,
  },
  {
    id: 'actors/mvba/actor.ts mvba-log-replica',
    build: () => {
      const directory = temporary('troupe-unknown-mvba-');
      const parties = ['unknown-messages', 'p2', 'p3', 'p4'];
      return { behaviour: mvbaLogReplica({ parties, directory, crypto: { self: 0, keys: simulatedPartyCrypto('unknown-messages', 4, 0) } }) };
    },
    legitimate: { message: { type: 'bftlog.status' }, expect: (reply) => expect(reply).toMatchObject({ ok: true, party: 0, instance: 0 }) },
    fingerprint: false,
  },
  {
    id: 'actors/raft/actor.ts raft-replica',
    build: () => {
      const directory = temporary('troupe-unknown-raft-');
      return { behaviour: raftReplica({ id: 'unknown-messages', directory, peers: { 'unknown-messages': { node: 'unknown-messages', path: '/root/subject' } }, tickMs: 10 }) };
    },
    legitimate: { message: { type: 'raft.status' }, expect: (reply) => expect(reply).toMatchObject({ id: 'unknown-messages', role: 'leader' }) },
    fingerprint: false,
  },
  {
    id: 'actors/objectstore/actor.ts objectstore-listener',
    // The listener serves HTTP on a free port; the KV replicas it names are never asked by these messages.
    build: () => ({ behaviour: listenerBehaviour({ replicas: ['nowhere'], listen: '127.0.0.1:0' }) }),
    legitimate: { message: { type: 'objectstore.status' }, expect: (reply) => expect(reply).toMatchObject({ ok: true, active: 0 }) },
    fingerprint: false,
  },
  {
    id: 'actors/objectstore/actor.ts objectstore-sweeper',
    build: () => ({ behaviour: sweeperBehaviour({ replicas: ['nowhere'], listen: '127.0.0.1:0', sweep: { intervalMs: 3_600_000 } }) }),
    legitimate: { message: { type: 'objectstore.sweeperStatus' }, expect: (reply) => expect(reply).toMatchObject({ ok: true, sweeps: 0 }) },
    fingerprint: false,
  },
];

/**
 * Runs `inner` inside a wrapper that records, for every message, whether `receive` returned the same
 * state object and (where `fingerprint`) whether the state printed the same before and after.
 */
function observed(inner: AnyBehaviour, init: ((ctx: ActorContext) => unknown) | undefined, fingerprint: boolean, log: Array<{ message: unknown; same: boolean; unchanged: boolean }>): AnyBehaviour {
  const print = (state: unknown): string => (fingerprint ? inspect(state, { depth: 8, maxArrayLength: 2_000, showHidden: false }) : '');
  return behaviour<{ inner: unknown }, unknown>({
    name: inner.name,
    async init(ctx) {
      return { inner: await (init !== undefined ? init(ctx) : inner.init(ctx as ActorContext<never>)) };
    },
    async receive(state, message, ctx) {
      const before = print(state.inner);
      const next: unknown = await inner.receive(state.inner, message, ctx as ActorContext<never>);
      log.push({ message, same: next === state.inner, unchanged: print(next) === before });
      return { inner: next };
    },
    ...(inner.describe === undefined ? {} : { describe: (state: { inner: unknown }) => inner.describe!(state.inner) }),
    ...(inner.onStop === undefined || init !== undefined ? {} : { onStop: (state: { inner: unknown } | undefined, ctx: ActorContext, reason) => inner.onStop!(state?.inner, ctx as ActorContext<never>, reason) }),
  });
}

function findPath(tree: TreeSnapshot, path: string): TreeSnapshot | undefined {
  if (tree.path === path) return tree;
  for (const child of tree.children) {
    const found = findPath(child, path);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The messages every behaviour must refuse: an unknown type, and three shapes with no type. */
const unknownMessages: readonly unknown[] = [{ type: 'no.such.message' }, { notType: 'no.such.message' }, { type: 42 }, 'no.such.message'];

let started: Started | undefined;
afterEach(async () => {
  await started?.node.stop();
  started = undefined;
  for (const directory of temporaries.splice(0)) rmSync(directory, { recursive: true, force: true });
});

describe('unknown messages never change a behaviour\'s state', () => {
  for (const row of rows) {
    it(`${row.id}${row.why === undefined ? '' : ` (init replaced: ${row.why})`}`, { timeout: 60_000 }, async () => {
      const { behaviour: inner, init } = row.build();
      const log: Array<{ message: unknown; same: boolean; unchanged: boolean }> = [];
      const node = await createNode({ name: 'unknown-messages' });
      started = { node, ref: { node: 'unknown-messages', path: '/root/subject' } };
      const ref = await node.startChild({ id: 'subject', start: observed(inner, init, row.fingerprint, log), restart: 'permanent', shutdownMs: 5_000, kind: 'worker' });
      const ask = (message: unknown): Promise<unknown> => node.system.ask(ref, message, { timeoutMs: 10_000 });
      if (row.id.endsWith('raft-replica')) {
        // A single-member group elects itself and commits its first entry; wait until nothing moves.
        await waitFor(async () => {
          const status = await ask({ type: 'raft.status' }) as { role: string; commit: number; applied: number; lastIndex: number };
          return status.role === 'leader' && status.commit === status.lastIndex && status.applied === status.commit;
        }, { timeoutMs: 30_000, what: 'the replica to lead with everything applied' });
      }
      const details = (): unknown => findPath(node.system.tree(), ref.path)?.details;
      const detailsBefore = details();
      const deadLettersBefore = node.system.deadLetters().count;
      log.length = 0;

      for (const message of unknownMessages) node.system.tell(ref, message);
      const replies: unknown[] = [];
      for (const message of unknownMessages) replies.push(await ask(message));

      if (row.acceptsAnything === true) {
        expect(replies).toEqual(unknownMessages.map((body) => ({ type: 'echo', body })));
      } else {
        for (const reply of replies) expect(reply).toMatchObject({ ok: false, code: 'UNKNOWN_MESSAGE', message: expect.any(String) });
        // Every refused tell is a dead letter, not a silent drop.
        expect(node.system.deadLetters().count - deadLettersBefore).toBe(unknownMessages.length);
      }
      // Only the checked messages: a replica's own timer signals pass through the wrapper too. The last
      // reply can arrive before its receive has returned, so wait for the wrapper to record it.
      const isChecked = (entry: { message: unknown }): boolean => unknownMessages.some((message) => JSON.stringify(message) === JSON.stringify(entry.message));
      await waitFor(() => log.filter(isChecked).length >= unknownMessages.length * 2, { timeoutMs: 10_000, what: 'every checked message to be handled' });
      const checked = log.filter(isChecked);
      expect(checked.map((entry) => entry.message)).toEqual([...unknownMessages, ...unknownMessages]);
      for (const entry of checked) {
        expect(entry.same, `receive returned a new state for ${JSON.stringify(entry.message)}`).toBe(true);
        expect(entry.unchanged, `the state changed on ${JSON.stringify(entry.message)}`).toBe(true);
      }
      expect(details()).toEqual(detailsBefore);
      const snapshot = findPath(node.system.tree(), ref.path);
      expect(snapshot).toMatchObject({ status: 'running', restarts: 0 });
      row.legitimate.expect(await ask(row.legitimate.message));
    });
  }
});

/** Every behaviour definition in the source: an object with a `receive` member, named by its `name:`. */
function behaviourDefinitions(): string[] {
  const found: string[] = [];
  const visit = (directory: string): void => {
    for (const entry of readdirSync(directory)) {
      const path = join(directory, entry);
      if (statSync(path).isDirectory()) visit(path);
      else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) scanFile(path, found);
    }
  };
  for (const folder of ['runtime', 'cluster', 'actors', 'examples']) visit(join(repositoryRoot, folder));
  return found.sort();
}

function scanFile(path: string, found: string[]): void {
  const file = relative(repositoryRoot, path);
  // The interface itself, not a behaviour.
  if (file === join('runtime', 'behaviour.ts')) return;
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, index) => {
    // A member definition (`receive(...) {`, `async receive(...) {`, `receive: ...`), not a call.
    if (!/^\s*(async\s+)?receive\s*(\([^)]*\)\s*\{|:)/.test(line)) return;
    const nameLine = lines.slice(Math.max(0, index - 60), index).reverse().find((candidate) => /^\s*name:/.test(candidate));
    const names = nameLine === undefined ? [] : [...nameLine.matchAll(/'([^']+)'/g)].map((match) => match[1]);
    found.push(`${file} ${names.at(-1) ?? `<unnamed behaviour at line ${index + 1}>`}`);
  });
}

describe('the table of behaviours', () => {
  it('lists every behaviour defined in runtime/, cluster/, actors/ and examples/ (started above, or not started with a reason)', () => {
    const listed = [...rows.map((row) => row.id), ...Object.keys(notStarted)].sort();
    expect(behaviourDefinitions()).toEqual(listed);
  });

  it('finds a behaviour by its receive member, so an unlisted one would fail the check above', () => {
    const found: string[] = [];
    scanFile(join(repositoryRoot, 'cluster', 'demo.ts'), found);
    expect(found.sort()).toEqual(['counter', 'echo', 'flaky', 'producer', 'sink', 'slowSink', 'watcher'].map((name) => `cluster/demo.ts ${name}`));
  });
});
