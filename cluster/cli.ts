/**
 * The `troupe` command line:
 *   troupe start --name n1 --listen 0.0.0.0:7401 --seeds ws://hostB:7401 --data ./data/n1 --secret ... --token ...
 *   troupe tree [--watch] [--json]      troupe members [--json]
 *   troupe send <node> <path> <json>    troupe ask <node> <path> <json> [--timeout ms]
 * Client commands reach a node with --url (or TROUPE_URL, default ws://127.0.0.1:7401) and --token (or
 * TROUPE_TOKEN). Components add their own commands through `runCli(argv, extraCommands)`.
 */
import { pathToFileURL } from 'node:url';
import { formatTree, type InspectionEvent } from '../runtime/index.js';
import { flag, numberFlag, parseArgs, type ParsedArgs } from './args.js';
import { connect, type TroupeClient } from './client.js';
import { ClusterError } from './errors.js';
import type { MemberView } from './core/membership.js';
import type { ClusterTree } from './inspector.js';
import { runNode, startBooleanFlags, startOptions, startValueFlags } from './start.js';
import { toJson } from './http.js';

/** Where a command writes, and how it learns it should stop (for --watch). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Aborted on SIGINT/SIGTERM (or by a test). */
  readonly signal: AbortSignal;
}

/** One `troupe` subcommand. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly valueFlags?: readonly string[];
  readonly booleanFlags?: readonly string[];
  /** Runs the command; resolves with the process exit code. */
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

const clientFlags = ['url', 'token'] as const;

/** Connects a client from --url / --token. */
export function clientFrom(args: ParsedArgs): Promise<TroupeClient> {
  const token = flag(args, 'token', 'TROUPE_TOKEN');
  return connect(flag(args, 'url', 'TROUPE_URL', 'ws://127.0.0.1:7401')!, { reconnect: false, ...(token !== undefined ? { token } : {}) });
}

const builtins: readonly Command[] = [
  {
    name: 'start', summary: 'run a cluster node until SIGTERM', usage: 'start --name <n> [--listen host:port] [--seeds ws://a:7401,...] [--data dir] --secret <s> [--token secret | name=secret:scope,...;...]',
    valueFlags: startValueFlags, booleanFlags: startBooleanFlags,
    run: (args, io) => runNode(startOptions(args), io.out),
  },
  {
    name: 'tree', summary: 'print the cluster-wide supervision tree', usage: 'tree [--watch] [--json]', valueFlags: clientFlags, booleanFlags: ['watch', 'json'],
    run: (args, io) => withClient(args, async (client) => {
      const print = async (): Promise<void> => {
        const tree = await client.tree();
        io.out(args.flags.has('json') ? toJson(tree) : renderTree(tree));
      };
      await print();
      if (!args.flags.has('watch')) return 0;
      await watch(client, io, print);
      return 0;
    }),
  },
  {
    name: 'members', summary: 'print the membership table', usage: 'members [--json]', valueFlags: clientFlags, booleanFlags: ['json'],
    run: (args, io) => withClient(args, async (client) => {
      const members = await client.members();
      io.out(args.flags.has('json') ? toJson(members) : renderMembers(members));
      return 0;
    }),
  },
  {
    name: 'send', summary: 'tell an actor a JSON message', usage: 'send <node> <path> <json>', valueFlags: clientFlags,
    run: (args, io) => withClient(args, async (client) => {
      const [node, path, body] = target(args);
      await client.tell({ node, path }, body);
      io.out('sent');
      return 0;
    }),
  },
  {
    name: 'ask', summary: 'ask an actor and print the reply', usage: 'ask <node> <path> <json> [--timeout ms]', valueFlags: [...clientFlags, 'timeout'],
    run: (args, io) => withClient(args, async (client) => {
      const [node, path, body] = target(args);
      const reply = await client.ask({ node, path }, body, { timeoutMs: numberFlag(args, 'timeout', 5_000)! });
      io.out(toJson(reply));
      return 0;
    }),
  },
];

/** Runs `troupe <command> ...`; resolves with the exit code (0 ok, 1 failure, 2 usage). */
export async function runCli(argv: readonly string[], extraCommands: readonly Command[] = [], io: CliIo = processIo()): Promise<number> {
  const commands = [...builtins, ...extraCommands];
  const [name, ...rest] = argv;
  const command = commands.find((candidate) => candidate.name === name);
  if (command === undefined) {
    io.err(usage(commands, name));
    return name === undefined || name === 'help' || name === '--help' ? 0 : 2;
  }
  let args: ParsedArgs;
  try {
    args = parseArgs(rest, { values: command.valueFlags ?? [], booleans: command.booleanFlags ?? [] });
  } catch (error) {
    io.err(`troupe ${command.name}: ${(error as Error).message}\nusage: troupe ${command.usage}`);
    return 2;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    const code = error instanceof ClusterError || (error as { code?: unknown }).code !== undefined ? `${String((error as { code: unknown }).code)}: ` : '';
    io.err(`troupe ${command.name}: ${code}${(error as Error).message}`);
    return code.startsWith('INVALID_ARGUMENT') ? 2 : 1;
  }
}

/** The help text. */
function usage(commands: readonly Command[], unknown: string | undefined): string {
  const lines = commands.map((command) => `  ${command.name.padEnd(10)} ${command.summary}\n             troupe ${command.usage}`);
  const prefix = unknown === undefined || unknown === 'help' || unknown === '--help' ? '' : `unknown command ${JSON.stringify(unknown)}\n`;
  return `${prefix}usage: troupe <command> [options]\n${lines.join('\n')}\nclient commands take --url (TROUPE_URL) and --token (TROUPE_TOKEN)`;
}

async function withClient(args: ParsedArgs, body: (client: TroupeClient) => Promise<number>): Promise<number> {
  const client = await clientFrom(args);
  try {
    return await body(client);
  } finally {
    await client.close();
  }
}

function target(args: ParsedArgs): [string, string, unknown] {
  const [node, path, json] = args.positional;
  if (node === undefined || path === undefined || json === undefined) throw new ClusterError('INVALID_ARGUMENT', 'expected <node> <path> <json>');
  try {
    return [node, path, JSON.parse(json)];
  } catch {
    throw new ClusterError('INVALID_ARGUMENT', `message is not valid JSON: ${json}`);
  }
}

async function watch(client: TroupeClient, io: CliIo, print: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const refresh = (): void => {
    timer ??= setTimeout(() => {
      timer = undefined;
      print().catch((error: unknown) => io.err(String(error)));
    }, 200);
  };
  const stops = [
    await client.subscribe('lifecycle', (event: InspectionEvent) => { if (event.type !== 'deadLetter') refresh(); }),
    await client.subscribe('membership', () => refresh()),
  ];
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    io.signal.addEventListener('abort', () => resolve(), { once: true });
    client.onState((state) => { if (state === 'closed') resolve(); });
  });
  if (timer !== undefined) clearTimeout(timer);
  // The connection may already be gone (the watch ended because it closed); then there is nothing to undo.
  if (client.state === 'connected') for (const stop of stops) await stop();
}

/** Text rendering of a cluster tree. */
export function renderTree(cluster: ClusterTree): string {
  const lines: string[] = [];
  for (const node of cluster.nodes) {
    lines.push(`${node.node} (${node.status}, incarnation ${node.incarnation}, ${node.address})`);
    if (node.tree === undefined) lines.push(`  unavailable: ${node.error?.code ?? 'unknown'} ${node.error?.message ?? ''}`);
    else for (const child of node.tree.children) lines.push(formatTree(child, '  '));
  }
  return lines.join('\n');
}

/** Text rendering of the membership table. */
export function renderMembers(members: readonly MemberView[]): string {
  return members.map((member) => `${member.node.padEnd(16)} ${member.status.padEnd(8)} ${String(member.incarnation).padEnd(15)} ${member.address}${member.self ? '  (this node)' : ''}`).join('\n');
}

function processIo(): CliIo {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  return { out: (text) => process.stdout.write(`${text}\n`), err: (text) => process.stderr.write(`${text}\n`), signal: controller.signal };
}

// Run as a program when this module is the entry point (the package's `troupe` bin).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runCli(process.argv.slice(2));
}
