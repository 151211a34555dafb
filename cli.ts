#!/usr/bin/env node
/**
 * The `troupe` binary: the cluster's commands (start, tree, members, send, ask) plus the components'
 * commands (storage, pipeline, kv, workflow, mvba, s3). Each component command parses its own subcommand and prints plain data.
 */
import { pathToFileURL } from 'node:url';
import { inspectStorage, verifyStorage } from './actors/storage/index.js';
import { ingestionServiceId, miniLmEmbedder, pipelineReplayCommand, pipelineSearchCommand, pipelineStatusCommand, startIngestionService, type Embedder } from './actors/pipeline/index.js';
import { mvbaKeygen } from './actors/mvba/index.js';
import { KvPool, runS3Cli, s3Usage } from './actors/objectstore/index.js';
import { runKvCli } from './actors/raft/index.js';
import { runWorkflowCli, type WorkflowReply } from './actors/workflow/index.js';
import { connect, runCli, runNode, startBooleanFlags, startOptions, startValueFlags, type Command } from './cluster/index.js';

const json = (value: unknown): string => JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item instanceof Uint8Array ? Buffer.from(item).toString('base64') : item), 2);

function numberFlag(value: string | true | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value === true || !Number.isFinite(parsed)) throw Object.assign(new Error(`--${name} needs a number`), { code: 'INVALID_ARGUMENT' });
  return parsed;
}

const storageCommand: Command = {
  name: 'storage',
  summary: 'inspect or verify a storage directory (WAL segments, records, snapshots)',
  usage: 'storage inspect|verify <dir>',
  async run(args, io) {
    const [action, dir] = args.positional;
    if ((action !== 'inspect' && action !== 'verify') || dir === undefined) {
      io.err('usage: troupe storage inspect|verify <dir>');
      return 2;
    }
    if (action === 'inspect') {
      io.out(json(await inspectStorage(dir)));
      return 0;
    }
    const result = await verifyStorage(dir);
    io.out(json(result));
    return (result as { ok?: boolean }).ok === false ? 1 : 0;
  },
};

const pipelineCommand: Command = {
  name: 'pipeline',
  summary: 'run an ingestion as a service on a node, show its status, search the documents, or replay the topic from an offset',
  usage: 'pipeline ingest --topic t --name n --secret s [--group g] [--brokers a,b] [--embedder hashing|minilm --model-dir d] [troupe start flags] | pipeline status [--node n] [--path /root/ingest/consumer] | pipeline search "<query>" [--k 10] [--ef-search n] | pipeline replay --from <offset> [--topic t] [--brokers a,b]   [--database-url url] [--schema s]',
  valueFlags: ['k', 'ef-search', 'database-url', 'schema', 'from', 'topic', 'brokers', 'group', 'embedder', 'model-dir', 'url', 'node', 'path', ...startValueFlags.filter((name) => name !== 'token'), 'token'],
  booleanFlags: [...startBooleanFlags],
  async run(args, io) {
    const [action, ...rest] = args.positional;
    const databaseUrl = args.flags.get('database-url');
    const schema = args.flags.get('schema');
    const embedderFlag = args.flags.get('embedder');
    const modelDirectory = args.flags.get('model-dir');
    if (embedderFlag !== undefined && embedderFlag !== 'hashing' && (embedderFlag !== 'minilm' || typeof modelDirectory !== 'string')) {
      io.err('usage: --embedder hashing, or --embedder minilm --model-dir <directory with model.onnx and tokenizer.json>');
      return 2;
    }
    const embedder: Embedder | undefined = embedderFlag === 'minilm' ? await miniLmEmbedder({ modelDirectory: modelDirectory as string }) : undefined;
    const location = { ...(typeof databaseUrl === 'string' ? { databaseUrl } : {}), ...(typeof schema === 'string' ? { schema } : {}), ...(embedder === undefined ? {} : { embedder }) };
    if (action === 'ingest') {
      const topic = args.flags.get('topic');
      if (typeof topic !== 'string') {
        io.err('usage: troupe pipeline ingest --topic <topic> --name <node> --secret <secret>');
        return 2;
      }
      const brokers = args.flags.get('brokers');
      const group = args.flags.get('group');
      let service: Awaited<ReturnType<typeof startIngestionService>> | undefined;
      const code = await runNode(startOptions(args, () => []), io.out, async (node) => {
        service = await startIngestionService(node.node, {
          ...location, topic, ...(typeof brokers === 'string' ? { brokers: brokers.split(',') } : {}), ...(typeof group === 'string' ? { groupId: group } : {}),
        });
        io.out(JSON.stringify({ event: 'ingesting', node: node.name, topic, consumer: service.consumerRef.path }));
      });
      await service?.close().catch(() => undefined);
      return code;
    }
    if (action === 'status') {
      const url = args.flags.get('url');
      const token = args.flags.get('token') ?? process.env.TROUPE_TOKEN;
      const client = await connect(typeof url === 'string' ? url : process.env.TROUPE_URL ?? 'ws://127.0.0.1:7401', { reconnect: false, ...(typeof token === 'string' ? { token } : {}) });
      try {
        const nodeFlag = args.flags.get('node');
        const node = typeof nodeFlag === 'string' ? nodeFlag : (await client.members()).find((member) => member.status === 'up')?.node ?? 'n1';
        const pathFlag = args.flags.get('path');
        const consumer = { node, path: typeof pathFlag === 'string' ? pathFlag : `/root/${ingestionServiceId}/consumer` };
        io.out(json(await pipelineStatusCommand({ ...location, consumer, ask: (ref, message) => client.ask(ref, message, { timeoutMs: 10_000 }) })));
        return 0;
      } finally {
        await client.close();
      }
    }
    if (action === 'search' && rest.length > 0) {
      const k = numberFlag(args.flags.get('k'), 'k');
      const efSearch = numberFlag(args.flags.get('ef-search'), 'ef-search');
      const hits = await pipelineSearchCommand({ ...location, query: rest.join(' '), ...(k !== undefined ? { k } : {}), ...(efSearch !== undefined ? { efSearch } : {}) });
      io.out(json(hits));
      return 0;
    }
    if (action === 'replay') {
      const from = numberFlag(args.flags.get('from'), 'from');
      if (from === undefined) {
        io.err('usage: troupe pipeline replay --from <offset>');
        return 2;
      }
      const topic = args.flags.get('topic');
      const brokers = args.flags.get('brokers');
      const group = args.flags.get('group');
      const result = await pipelineReplayCommand({
        ...location, from,
        ...(typeof topic === 'string' ? { topic } : {}),
        ...(typeof brokers === 'string' ? { brokers: brokers.split(',') } : {}),
        ...(typeof group === 'string' ? { groupId: group } : {}),
      });
      io.out(json(result));
      return 0;
    }
    io.err(`usage: troupe ${pipelineCommand.usage}`);
    return 2;
  },
};

const kvCommand: Command = {
  name: 'kv',
  summary: 'the replicated key-value store (Raft): put, get, delete, cas, scan, status, member',
  usage: 'kv put <key> <value> [--lease id] | get <key> [--log] | delete <key> | cas <key> <expected|-> <value> | scan <start> [<end>] [--limit N] | range --prefix p | watch --prefix p [--from-revision n] [--count n] | lease grant ttl-ms|revoke id|keepalive id | compact rev | status | member add|promote|remove <node>   [--replicas n1,n2,n3] [--path /root/raft]',
  valueFlags: ['url', 'token', 'replicas', 'path', 'limit', 'prefix', 'from-revision', 'count', 'lease'],
  booleanFlags: ['log'],
  async run(args, io) {
    const url = args.flags.get('url');
    const token = args.flags.get('token') ?? process.env.TROUPE_TOKEN;
    const client = await connect(typeof url === 'string' ? url : process.env.TROUPE_URL ?? 'ws://127.0.0.1:7401', { reconnect: false, ...(typeof token === 'string' ? { token } : {}) });
    try {
      const listed = args.flags.get('replicas');
      const replicas = typeof listed === 'string'
        ? listed.split(',').filter((replica) => replica !== '')
        : (await client.members()).filter((member) => member.status === 'up').map((member) => member.node);
      const pathFlag = args.flags.get('path');
      const path = typeof pathFlag === 'string' ? pathFlag : '/root/raft';
      const passed = ['limit', 'prefix', 'from-revision', 'count', 'lease'].flatMap((name) => {
        const value = args.flags.get(name);
        return typeof value === 'string' ? [`--${name}`, value] : [];
      });
      const words = [...args.positional, ...(args.flags.has('log') ? ['--log'] : []), ...passed];
      const result = await runKvCli(words, {
        replicas, peerPath: path, write: (line) => io.out(line),
        transport: { ask: (replica, message, timeoutMs) => client.ask({ node: replica, path }, message, { timeoutMs }) },
      });
      if (result.exitCode === 2) io.err(result.output);
      else io.out(result.output);
      return result.exitCode;
    } finally {
      await client.close();
    }
  },
};

const workflowCommand: Command = {
  name: 'workflow',
  summary: 'durable workflows: start, list, show, history, signal, cancel, retry, result',
  usage: 'workflow start <type> <id> [--input json] [--wait] | list | show <id> | history <id> [--json] | signal <id> <name> [--payload json] | cancel <id> | retry <id> | result <id> [--timeout-ms n]   [--node n1] [--path /root/workflows/engine]',
  valueFlags: ['url', 'token', 'node', 'path', 'input', 'payload', 'timeout-ms'],
  booleanFlags: ['wait', 'json'],
  async run(args, io) {
    const url = args.flags.get('url');
    const token = args.flags.get('token') ?? process.env.TROUPE_TOKEN;
    const client = await connect(typeof url === 'string' ? url : process.env.TROUPE_URL ?? 'ws://127.0.0.1:7401', { reconnect: false, ...(typeof token === 'string' ? { token } : {}) });
    try {
      const nodeFlag = args.flags.get('node');
      const node = typeof nodeFlag === 'string' ? nodeFlag : (await client.members()).find((member) => member.status === 'up')?.node ?? 'n1';
      const pathFlag = args.flags.get('path');
      const engine = { node, path: typeof pathFlag === 'string' ? pathFlag : '/root/workflows/engine' };
      const result = await runWorkflowCli(args, { ask: (request, timeoutMs) => client.ask<WorkflowReply>(engine, request, { timeoutMs }) });
      if (result.exitCode === 2) io.err(result.output);
      else io.out(result.output);
      return result.exitCode;
    } finally {
      await client.close();
    }
  },
};

const mvbaCommand: Command = {
  name: 'mvba',
  summary: 'asynchronous Byzantine agreement: deal the threshold keys for n parties',
  usage: 'mvba keygen --n <parties> --out <dir>',
  valueFlags: ['n', 'out'],
  async run(args, io) {
    const [action] = args.positional;
    const parties = numberFlag(args.flags.get('n'), 'n');
    const out = args.flags.get('out');
    if (action !== 'keygen' || parties === undefined || typeof out !== 'string') {
      io.err(`usage: troupe ${mvbaCommand.usage}`);
      return 2;
    }
    const files = await mvbaKeygen({ parties, directory: out });
    io.out(json({ parties, files }));
    return 0;
  },
};

const s3Command: Command = {
  name: 's3',
  summary: 'the S3 object store: mb, ls, cp, rm, rb through the gateway, and its access keys',
  usage: s3Usage,
  valueFlags: ['url', 'token', 'replicas', 'path', 'endpoint', 'access-key', 'secret-key'],
  async run(args, io) {
    const endpoint = args.flags.get('endpoint');
    const accessKeyId = args.flags.get('access-key') ?? process.env.TROUPE_S3_ACCESS_KEY;
    const secretAccessKey = args.flags.get('secret-key') ?? process.env.TROUPE_S3_SECRET_KEY;
    let close = async (): Promise<void> => undefined;
    try {
      return await runS3Cli(args.positional, {
        endpoint: typeof endpoint === 'string' ? endpoint : process.env.TROUPE_S3_ENDPOINT ?? 'http://127.0.0.1:9000',
        ...(typeof accessKeyId === 'string' && typeof secretAccessKey === 'string' ? { credentials: { accessKeyId, secretAccessKey } } : {}),
        write: (line) => io.out(line),
        kv: async () => {
          // Access keys live in the replicated KV: reach it through the cluster's client connection.
          const url = args.flags.get('url');
          const token = args.flags.get('token') ?? process.env.TROUPE_TOKEN;
          const client = await connect(typeof url === 'string' ? url : process.env.TROUPE_URL ?? 'ws://127.0.0.1:7401', { reconnect: false, ...(typeof token === 'string' ? { token } : {}) });
          close = () => client.close();
          const listed = args.flags.get('replicas');
          const replicas = typeof listed === 'string' ? listed.split(',').filter((replica) => replica !== '') : (await client.members()).filter((member) => member.status === 'up').map((member) => member.node);
          const pathFlag = args.flags.get('path');
          const path = typeof pathFlag === 'string' ? pathFlag : '/root/raft';
          return new KvPool({ clientIdPrefix: `s3-cli-${process.pid}-${Date.now()}`, replicas, size: 1, transport: { ask: (replica, message, timeoutMs) => client.ask({ node: replica, path }, message, { timeoutMs }) } });
        },
      });
    } finally {
      await close();
    }
  },
};

/** Every component command, for embedding the CLI elsewhere. */
export const componentCommands: readonly Command[] = [storageCommand, pipelineCommand, kvCommand, workflowCommand, mvbaCommand, s3Command];

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runCli(process.argv.slice(2), componentCommands);
}
