/**
 * The replicated-log replica actor: a thin nact shell over `LogHost` (log-host.ts), which does the work.
 * The shell opens the store and the host in `init` (recovery is replay: the decided log's position and
 * the current instance's durable inputs), turns the sender ref the receiving node stamped from the
 * authenticated link into a party index (never a field of the body: a message whose sender is not one
 * of the configured parties' nodes is refused), and crashes when the host reports a store failure, so
 * its supervisor restarts it and it recovers from disk. Client requests are `bftlog.submit`,
 * `bftlog.read` and `bftlog.status`; the cluster accepts `mvba.*` (the protocol) only from peer links.
 * On each of n nodes:
 *
 * With link keys in the key file (keygen writes them), every peer message is sealed with the sender
 * party's ed25519 key and checked against the key of the party the link names (link-auth.ts).
 *
 *   await node.startChild({ id: 'mvba', start: mvbaLogReplica({ parties: ['n1', 'n2', 'n3', 'n4'],
 *     keyFile: '/etc/troupe/party-0.json', directory: '/var/lib/troupe/mvba' }), restart: 'permanent', ... });
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, TroupeError, behaviour, refuseUnknown, type ActorContext, type Behaviour } from '../../runtime/index.js';
import { Store } from '../storage/index.js';
import type { MvbaMessage, MvbaProtocol, PartyCrypto, PartyId } from './core/types.js';
import { linkKeysFromKeyFile, partyCryptoFromKeyFile, type PartyKeyFile } from './keys.js';
import type { LinkKeys } from './link-auth.js';
import { LogHost, type LogHostOptions } from './log-host.js';

/** Options of one replica. */
export interface MvbaLogReplicaOptions {
  /** The node names of the parties, in party-index order; this node's index comes from the key file. */
  readonly parties: readonly string[];
  /** A key file written by `troupe mvba keygen`, or the keys themselves. */
  readonly keyFile?: string;
  readonly crypto?: { readonly self: PartyId; readonly keys: PartyCrypto };
  readonly directory: string;
  /** Default 'prioritized'. */
  readonly protocol?: MvbaProtocol;
  /** The log's name (default 'log'): part of every session id. */
  readonly name?: string;
  /** Fault injection for tests (a Byzantine replica); see LogHostOptions. */
  readonly outgoing?: LogHostOptions['outgoing'];
  /** Fault injection for tests: rewrites this replica's answers to clients (a lying replica). */
  readonly answer?: (reply: unknown) => unknown;
}

/** The replica's state: its host and store, one per incarnation. */
export interface MvbaLogReplicaState {
  readonly host: LogHost;
  readonly store: Store;
  readonly self: PartyId;
}

const peerTypes = new Set([
  'mvba.send', 'mvba.echo', 'mvba.propose', 'mvba.recommend', 'mvba.coin', 'mvba.vote', 'mvba.bval', 'mvba.aux', 'mvba.conf',
  'mvba.term', 'mvba.fetch', 'mvba.found', 'mvba.sync', 'mvba.entry', 'mvba.sealed',
]);

/** The replica behaviour; run it under a supervisor (`restart: 'permanent'`). */
export function mvbaLogReplica(options: MvbaLogReplicaOptions): Behaviour<MvbaLogReplicaState, unknown> {
  if (options.parties.length < 4 || new Set(options.parties).size !== options.parties.length) {
    throw new InvalidArgumentError('an MVBA log needs at least 4 distinct parties', { parties: options.parties });
  }
  return behaviour<MvbaLogReplicaState, unknown>({
    name: 'mvba-log-replica',
    init: (ctx) => start(options, ctx),
    receive: (state, message, ctx) => {
      receive(state, message, ctx, options);
      return state;
    },
    onStop: async (state) => {
      if (state !== undefined) await state.store.close();
    },
    describe: (state) => ({ mvba: { instance: state.host.currentInstance, ...state.host.counters } }),
  });
}

async function loadKeys(options: MvbaLogReplicaOptions): Promise<{ self: PartyId; keys: PartyCrypto; link: LinkKeys | null }> {
  if (options.crypto !== undefined) return { ...options.crypto, link: null };
  if (options.keyFile === undefined) throw new InvalidArgumentError('an MVBA replica needs keyFile or crypto');
  const file = JSON.parse(await readFile(options.keyFile, 'utf8')) as PartyKeyFile;
  return { self: file.self, keys: partyCryptoFromKeyFile(file), link: linkKeysFromKeyFile(file) };
}

async function start(options: MvbaLogReplicaOptions, ctx: ActorContext<unknown>): Promise<MvbaLogReplicaState> {
  const { self, keys, link } = await loadKeys(options);
  if (options.parties[self] !== ctx.self.node) {
    throw new InvalidArgumentError(`party ${self} is node ${options.parties[self]}, not this node ${ctx.self.node}`);
  }
  const store = await Store.open({ directory: options.directory });
  const path = ctx.self.path;
  const host = await LogHost.open({
    self, parties: options.parties.length, crypto: keys, link, protocol: options.protocol ?? 'prioritized', name: options.name ?? 'log', store,
    send: (to, message) => ctx.tell({ node: options.parties[to]!, path }, message),
    ...(options.outgoing !== undefined ? { outgoing: options.outgoing } : {}),
  });
  return { host, store, self };
}

function receive(state: MvbaLogReplicaState, message: unknown, ctx: ActorContext<unknown>, options: MvbaLogReplicaOptions): void {
  const failure = state.host.failed;
  if (failure !== null) throw new TroupeError('MVBA_STORE_FAILED', 'the replica store failed; restarting to recover from disk', { cause: failure });
  const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
  const answer = (reply: unknown): void => {
    ctx.reply(options.answer === undefined ? reply : options.answer(reply));
  };
  if (typeof type === 'string' && peerTypes.has(type)) {
    const party = ctx.sender === undefined ? -1 : options.parties.indexOf(ctx.sender.node);
    if (party < 0 || ctx.sender!.path !== ctx.self.path) {
      ctx.deadLetter(message, 'MVBA_UNKNOWN_SENDER: protocol messages are taken only from the parties\' replicas');
      return;
    }
    state.host.receive(party, message as MvbaMessage);
    return;
  }
  switch (type) {
    case 'bftlog.submit': {
      const reply = ctx.replier();
      state.host.submit((message as { tx?: unknown }).tx, (outcome) => reply(options.answer === undefined ? outcome : options.answer(outcome)));
      return;
    }
    case 'bftlog.read': {
      const key = (message as { key?: unknown }).key;
      if (typeof key !== 'string' || key.length === 0 || key.length > 256) return answer({ ok: false, code: 'INVALID', message: 'read needs a key' });
      const reply = ctx.replier();
      void state.host.read(key).then((read) => reply(options.answer === undefined ? { ok: true, ...read } : options.answer({ ok: true, ...read })));
      return;
    }
    case 'bftlog.status':
      return answer({ ok: true, party: state.self, instance: state.host.currentInstance, ...state.host.counters });
    default:
      refuseUnknown(ctx, message, 'mvba-log-replica');
  }
}
