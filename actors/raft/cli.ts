/**
 * What the `troupe` CLI and the HTTP inspector need from Raft, given only a way to ask a replica:
 *
 *   troupe kv put <key> <value>
 *   troupe kv get <key> [--log]           linearizable read (ReadIndex; --log goes through the log)
 *   troupe kv delete <key>
 *   troupe kv cas <key> <expected|-> <value>   "-" expects the key to be absent
 *   troupe kv scan <start> [<end>] [--limit N]
 *   troupe kv range --prefix <p> [--limit N]     keys with their revisions and versions
 *   troupe kv watch --prefix <p> [--from-revision N] [--count N]   one JSON line per event
 *   troupe kv lease grant <ttl-ms> | revoke <id> | keepalive <id>
 *   troupe kv put <key> <value> --lease <id>
 *   troupe kv compact <revision>
 *   troupe kv status                      role, term, commit, applied and peers of every replica
 *   troupe kv member add <node>           add a learner (its replica at `peerPath` on that node)
 *   troupe kv member promote <node>       make a caught-up learner a voter
 *   troupe kv member remove <node>        remove a voter or learner
 *
 * and Raft metrics as plain data or Prometheus text.
 */
import { randomUUID } from 'node:crypto';
import type { TreeSnapshot } from '../../runtime/index.js';
import { prefixRangeEnd, type KvCommand, type KvEvent } from '../storage/index.js';
import type { MembershipChange, NodeId } from './core/types.js';
import { changeMembership, RaftKvClient, type KvTransport, type ReadMode } from './client.js';
import type { RaftMetrics } from './kv-service.js';
import type { KvTextCommand } from './kv-text.js';

/** A parsed `kv` command line. */
export type KvCliCommand =
  | { readonly ok: true; readonly kind: 'operation'; readonly command: KvTextCommand; readonly mode: ReadMode }
  | { readonly ok: true; readonly kind: 'model'; readonly command: KvCommand; readonly mode: ReadMode }
  | { readonly ok: true; readonly kind: 'keepAlive'; readonly lease: number }
  | { readonly ok: true; readonly kind: 'watch'; readonly prefix: string; readonly fromRevision?: number; readonly count?: number }
  | { readonly ok: true; readonly kind: 'status' }
  | { readonly ok: true; readonly kind: 'member'; readonly change: MembershipChange }
  | { readonly ok: false; readonly usage: string };

/** Usage text of `troupe kv`. */
export const kvUsage = [
  'usage: troupe kv put <key> <value>',
  '       troupe kv get <key> [--log]',
  '       troupe kv delete <key>',
  '       troupe kv cas <key> <expected|-> <value>',
  '       troupe kv scan <start> [<end>] [--limit N]',
  '       troupe kv range --prefix <p> [--limit N]',
  '       troupe kv watch --prefix <p> [--from-revision N] [--count N]',
  '       troupe kv lease grant <ttl-ms> | revoke <id> | keepalive <id>',
  '       troupe kv put <key> <value> --lease <id>',
  '       troupe kv compact <revision>',
  '       troupe kv status',
  '       troupe kv member add <node> | promote <node> | remove <node>',
].join('\n');

const memberVerbs: Readonly<Record<string, MembershipChange['type']>> = { add: 'addLearner', promote: 'promoteLearner', remove: 'removeNode' };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Flags of `troupe kv` that take a value. */
const valueFlags = new Set(['--limit', '--prefix', '--from-revision', '--count', '--lease']);

/** Parses the words after `troupe kv`. */
export function parseKvArgs(args: readonly string[]): KvCliCommand {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  let log = false;
  for (let position = 0; position < args.length; position += 1) {
    const word = args[position]!;
    if (word === '--log') log = true;
    else if (valueFlags.has(word)) {
      flags.set(word, args[position + 1] ?? '');
      position += 1;
    } else positional.push(word);
  }
  const limit = flags.has('--limit') ? Number(flags.get('--limit')) : 100;
  const [verb, first, second, third] = positional;
  const usage = { ok: false as const, usage: kvUsage };
  const mode: ReadMode = log ? 'log' : 'readIndex';
  switch (verb) {
    case 'put': {
      if (first === undefined || second === undefined) return usage;
      if (!flags.has('--lease')) return operation({ type: 'put', key: first, value: second });
      const lease = positiveInteger(flags.get('--lease'));
      return lease === undefined ? usage : model({ type: 'txn', txn: { compare: [], success: [{ type: 'put', key: encoder.encode(first), value: encoder.encode(second), lease }], failure: [] } }, 'log');
    }
    case 'get': return first !== undefined ? operation({ type: 'get', key: first }, mode) : usage;
    case 'delete': return first !== undefined ? operation({ type: 'delete', key: first }) : usage;
    case 'cas':
      return first !== undefined && second !== undefined && third !== undefined ? operation({ type: 'cas', key: first, expected: second === '-' ? null : second, value: third }) : usage;
    case 'scan':
      if (first === undefined || !Number.isSafeInteger(limit) || limit < 1) return usage;
      return operation({ type: 'scan', start: first, end: second ?? null, limit }, mode);
    case 'range': {
      const prefix = flags.get('--prefix');
      if (prefix === undefined || prefix === '' || !Number.isSafeInteger(limit) || limit < 1) return usage;
      const key = encoder.encode(prefix);
      return model({ type: 'txn', txn: { compare: [], success: [{ type: 'range', key, rangeEnd: prefixRangeEnd(key), limit }], failure: [] } }, mode);
    }
    case 'watch': {
      const prefix = flags.get('--prefix');
      const fromRevision = flags.has('--from-revision') ? positiveInteger(flags.get('--from-revision')) : undefined;
      const count = flags.has('--count') ? positiveInteger(flags.get('--count')) : undefined;
      if (prefix === undefined || prefix === '' || (flags.has('--from-revision') && fromRevision === undefined) || (flags.has('--count') && count === undefined)) return usage;
      return { ok: true, kind: 'watch', prefix, ...(fromRevision === undefined ? {} : { fromRevision }), ...(count === undefined ? {} : { count }) };
    }
    case 'lease': return parseLease(first, second);
    case 'compact': {
      const revision = positiveInteger(first);
      return revision === undefined ? usage : model({ type: 'compact', revision }, 'log');
    }
    case 'status': return { ok: true, kind: 'status' };
    case 'member': {
      const type = first === undefined ? undefined : memberVerbs[first];
      if (type === undefined || second === undefined || second === '' || third !== undefined) return usage;
      return { ok: true, kind: 'member', change: { type, node: second } };
    }
    default: return usage;
  }
}

function parseLease(verb: string | undefined, argument: string | undefined): KvCliCommand {
  const value = positiveInteger(argument);
  if (value === undefined) return { ok: false, usage: kvUsage };
  switch (verb) {
    case 'grant': return model({ type: 'leaseGrant', ttlMs: value }, 'log');
    case 'revoke': return model({ type: 'leaseRevoke', lease: value }, 'log');
    case 'keepalive': return { ok: true, kind: 'keepAlive', lease: value };
    default: return { ok: false, usage: kvUsage };
  }
}

function positiveInteger(text: string | undefined): number | undefined {
  if (text === undefined || !/^[0-9]+$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function model(command: KvCommand, mode: ReadMode): KvCliCommand {
  return { ok: true, kind: 'model', command, mode };
}

function operation(command: KvTextCommand, mode: ReadMode = 'readIndex'): KvCliCommand {
  return { ok: true, kind: 'operation', command, mode };
}

/** Options of `runKvCli`. */
export interface KvCliOptions {
  readonly replicas: readonly NodeId[];
  readonly transport: KvTransport;
  readonly clientId?: string;
  readonly giveUpMs?: number;
  /** Where replicas live on their nodes, for `member add` (default '/root/raft'). */
  readonly peerPath?: string;
  /** Where `watch` writes its lines as events arrive (default: collected into the output). */
  readonly write?: (line: string) => void;
  /** Ends a `watch` without `--count`. */
  readonly signal?: AbortSignal;
}

/**
 * Runs `troupe kv ...`: prints the outcome as JSON (status as a table) and returns the exit code:
 * 0 for a definite result, 1 for a refusal, 2 for usage, 3 when the outcome is unknown (TIMEOUT).
 */
export async function runKvCli(args: readonly string[], options: KvCliOptions): Promise<{ exitCode: number; output: string }> {
  const parsed = parseKvArgs(args);
  if (!parsed.ok) return { exitCode: 2, output: parsed.usage };
  if (parsed.kind === 'status') return { exitCode: 0, output: formatRaftMetrics(await collectRaftMetrics(options.replicas, options.transport)) };
  if (parsed.kind === 'member') {
    const { change } = parsed;
    const reply = await changeMembership(change, {
      replicas: options.replicas, transport: options.transport, giveUpMs: options.giveUpMs ?? 10_000,
      ...(change.type === 'addLearner' && options.peerPath !== undefined ? { peerRef: { node: change.node, path: options.peerPath } } : {}),
    });
    return { exitCode: reply.ok ? 0 : reply.code === 'TIMEOUT' ? 3 : 1, output: JSON.stringify(reply) };
  }
  const client = new RaftKvClient({
    clientId: options.clientId ?? `cli-${randomUUID()}`, replicas: options.replicas, transport: options.transport, giveUpMs: options.giveUpMs ?? 10_000,
  });
  if (parsed.kind === 'watch') return runWatch(client, parsed, options);
  const outcome = parsed.kind === 'operation'
    ? await client.execute(parsed.command, parsed.mode)
    : parsed.kind === 'keepAlive' ? await client.keepAlive(parsed.lease) : await client.request(parsed.command, parsed.mode);
  const exitCode = outcome.ok ? 0 : outcome.code === 'TIMEOUT' ? 3 : 1;
  return { exitCode, output: JSON.stringify(outcome, jsonBytes) };
}

/** Streams a watch as JSON lines until `--count` events or the signal; COMPACTED ends it with exit code 1. */
async function runWatch(client: RaftKvClient, parsed: Extract<KvCliCommand, { kind: 'watch' }>, options: KvCliOptions): Promise<{ exitCode: number; output: string }> {
  const lines: string[] = [];
  const write = options.write ?? ((line: string) => lines.push(line));
  let seen = 0;
  try {
    const events = client.watch({ prefix: encoder.encode(parsed.prefix), ...(parsed.fromRevision === undefined ? {} : { fromRevision: parsed.fromRevision }), ...(options.signal ? { signal: options.signal } : {}) });
    for await (const event of events) {
      write(JSON.stringify(eventLine(event)));
      seen += 1;
      if (parsed.count !== undefined && seen >= parsed.count) break;
    }
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'COMPACTED') throw error;
    write(JSON.stringify({ ok: false, code: 'COMPACTED', message: (error as Error).message }));
    return { exitCode: 1, output: lines.join('\n') };
  }
  return { exitCode: 0, output: lines.join('\n') };
}

/** An event as one JSON line: key and value as UTF-8 text, the event's revision. */
function eventLine(event: KvEvent): Record<string, unknown> {
  return { type: event.type, key: decoder.decode(event.kv.key), ...(event.type === 'put' ? { value: decoder.decode(event.kv.value), version: event.kv.version } : {}), revision: event.kv.modRevision };
}

/** JSON of results holding bytes: keys and values as UTF-8 text. */
function jsonBytes(_name: string, value: unknown): unknown {
  return value instanceof Uint8Array ? decoder.decode(value) : value;
}

/** Asks every replica for its status; a replica that does not answer is left out. */
export async function collectRaftMetrics(replicas: readonly NodeId[], transport: KvTransport, timeoutMs = 2_000): Promise<RaftMetrics[]> {
  const answers = await Promise.allSettled(replicas.map((replica) => transport.ask(replica, { type: 'raft.status' }, timeoutMs)));
  return answers.flatMap((answer) => (answer.status === 'fulfilled' && isMetrics(answer.value) ? [answer.value] : []));
}

function isMetrics(value: unknown): value is RaftMetrics {
  return typeof value === 'object' && value !== null && typeof (value as RaftMetrics).role === 'string' && typeof (value as RaftMetrics).term === 'number';
}

/** A table of replicas: id, role, term, leader, commit, applied, and (on the leader) each peer's match index. */
export function formatRaftMetrics(metrics: readonly RaftMetrics[]): string {
  const rows = [['replica', 'role', 'term', 'leader', 'commit', 'applied', 'peers (match)']];
  for (const replica of metrics) {
    const peers = Object.entries(replica.peers).map(([id, peer]) => `${id}=${peer.match}`).join(' ');
    rows.push([replica.id, replica.role, String(replica.term), replica.leader ?? '-', String(replica.commit), String(replica.applied), peers || '-']);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

/** Every replica's status found in a tree snapshot (its `details.raft`, from the replica's `describe`). */
export function raftMetricsFromTree(tree: TreeSnapshot): RaftMetrics[] {
  const found: RaftMetrics[] = [];
  const visit = (node: TreeSnapshot): void => {
    const raft = node.details?.raft;
    if (isMetrics(raft)) found.push(raft);
    for (const child of node.children) visit(child);
  };
  visit(tree);
  return found;
}

const roles = ['follower', 'preCandidate', 'candidate', 'leader'] as const;

/** Prometheus exposition lines for replicas' status (one series per replica, and per peer for match). */
export function raftMetricsText(metrics: readonly RaftMetrics[]): string {
  const lines = [
    '# HELP troupe_raft_term Current Raft term.', '# TYPE troupe_raft_term gauge',
    '# HELP troupe_raft_commit_index Highest log index known committed.', '# TYPE troupe_raft_commit_index gauge',
    '# HELP troupe_raft_applied_index Highest log index applied to the state machine.', '# TYPE troupe_raft_applied_index gauge',
    '# HELP troupe_raft_role 1 for the replica\'s current role.', '# TYPE troupe_raft_role gauge',
    '# HELP troupe_raft_peer_match_index A follower\'s match index, as its leader sees it.', '# TYPE troupe_raft_peer_match_index gauge',
  ];
  for (const replica of metrics) {
    const label = `replica="${escapeLabel(replica.id)}"`;
    lines.push(`troupe_raft_term{${label}} ${replica.term}`, `troupe_raft_commit_index{${label}} ${replica.commit}`, `troupe_raft_applied_index{${label}} ${replica.applied}`);
    for (const role of roles) lines.push(`troupe_raft_role{${label},role="${role}"} ${replica.role === role ? 1 : 0}`);
    for (const [peer, progress] of Object.entries(replica.peers)) lines.push(`troupe_raft_peer_match_index{${label},peer="${escapeLabel(peer)}"} ${progress.match}`);
  }
  return `${lines.join('\n')}\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
