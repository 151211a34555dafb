/**
 * A Byzantine-tolerant replicated log over MVBA: instance k of the agreement decides batch k, a batch of
 * client transactions proposed by one party (as HoneyBadger and Dumbo build atomic broadcast), applied
 * in order to a key-value state machine on the storage engine (WAL + LevelDB).
 *
 * Durability. Every input a party feeds its current instance's core is appended to the store (WAL,
 * group-committed fsync) before any effect of that input leaves the party, so a crashed party that
 * restarts replays its input log into a fresh core and reaches the very state it had: it never signs
 * two different echoes for one proposer (amnesia would make it Byzantine). A decided batch is written,
 * with its effects on the key-value state, its transaction markers and the log's last index, in one
 * atomic store batch, and clients are answered only after that.
 *
 * Catching up. A restarted party asks every peer to `sync` from its instance: peers send the decided
 * batches it missed (a batch is accepted once f + 1 peers sent identical bytes, so a Byzantine peer
 * cannot feed it a false log) and re-send what they sent in its current instance (messages sent to a
 * party while it was down are otherwise gone).
 *
 * Clients submit a transaction to every replica; each answers once the transaction's batch is applied,
 * and the client (client.ts) accepts an answer f + 1 replicas agree on.
 */
import { decode, encode } from 'cbor-x';
import { assert } from '../../runtime/errors.js';
import type { Store } from '../storage/index.js';
import { newMvba, step, type MvbaState } from './core/mvba.js';
import { faultsTolerated, recordOnce } from './core/quorum.js';
import type { MvbaEffect, MvbaMessage, MvbaProtocol, PartyCrypto, PartyId } from './core/types.js';
import { seal, unseal, type LinkKeys, type SealedMessage } from './link-auth.js';

/** One client transaction. */
export interface LogTransaction {
  readonly id: string;
  readonly op: 'put' | 'delete';
  readonly key: string;
  readonly value?: string;
}

/** A replica's answer to a submitted transaction. */
export type SubmitReply =
  | { readonly ok: true; readonly id: string; readonly instance: number; readonly applied: boolean }
  | { readonly ok: false; readonly code: 'INVALID' | 'BUSY'; readonly message: string };

/** Messages between replicas that are not the agreement's own. */
export type LogPeerMessage =
  | { readonly type: 'mvba.sync'; readonly instance: number }
  | { readonly type: 'mvba.entry'; readonly instance: number; readonly batch: Uint8Array };

/** Options of one replica's host. */
export interface LogHostOptions {
  readonly self: PartyId;
  readonly parties: number;
  readonly crypto: PartyCrypto;
  readonly protocol: MvbaProtocol;
  /** The log's name; instance k's session id is `<name>/<k>`. */
  readonly name: string;
  readonly store: Store;
  readonly send: (to: PartyId, message: MvbaMessage | LogPeerMessage | SealedMessage) => void;
  /** ed25519 link keys: when given, every peer message is sealed, and unsealed ones are refused. */
  readonly link?: LinkKeys | null;
  /** Transactions per batch (default 256). */
  readonly batchMax?: number;
  /** Transactions waiting at once; more are answered BUSY (default 10000). */
  readonly pendingMax?: number;
  /** Fault injection for tests: rewrites what this party sends (a Byzantine party). */
  readonly outgoing?: (to: PartyId, message: MvbaMessage) => readonly { to: PartyId; message: unknown }[];
}

const keyBytesMax = 256;
const valueBytesMax = 4_096;
const idLengthMax = 128;
const instancesAheadMax = 2;
const syncEntriesMax = 32;
const syncAnswersMax = 8;

/** Checks a transaction from a client or inside a decided batch. */
export function validTransaction(value: unknown): value is LogTransaction {
  if (typeof value !== 'object' || value === null) return false;
  const tx = value as Record<string, unknown>;
  if (typeof tx.id !== 'string' || tx.id.length === 0 || tx.id.length > idLengthMax) return false;
  if (typeof tx.key !== 'string' || tx.key.length === 0 || tx.key.length > keyBytesMax) return false;
  if (tx.op === 'put') return typeof tx.value === 'string' && tx.value.length <= valueBytesMax;
  return tx.op === 'delete' && tx.value === undefined;
}

function decodeBatch(bytes: Uint8Array): LogTransaction[] | null {
  try {
    const value: unknown = decode(bytes);
    return Array.isArray(value) && value.every(validTransaction) ? (value as LogTransaction[]) : null;
  } catch {
    // Bytes that do not decode are an invalid batch: `validate` refuses them, nothing more.
    return null;
  }
}

const pad = (value: number): string => value.toString().padStart(12, '0');

/** The host of one party of the replicated log. Not an actor: actor.ts runs it in a mailbox. */
export class LogHost {
  readonly faults: number;
  private readonly options: LogHostOptions;
  private instance = 0;
  private core: MvbaState | null = null;
  private previous: MvbaState | null = null;
  private inputs = 0;
  private readonly pending = new Map<string, LogTransaction>();
  private readonly waiters = new Map<string, ((reply: SubmitReply) => void)[]>();
  private readonly buffered = new Map<number, { from: PartyId; message: MvbaMessage }[]>();
  private readonly sent = new Map<number, { to: PartyId; message: MvbaMessage }[]>();
  private readonly entries = new Map<number, Map<string, PartyId[]>>();
  private readonly entryVoters = new Map<number, PartyId[]>();
  private readonly syncRequested = new Set<number>();
  private readonly syncsAnswered = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  /** Effects waiting for their inputs to be durable, in input order. */
  private outbox: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  /** Counters for status and tests. */
  readonly counters = { decided: 0, applied: 0, duplicates: 0, refused: 0, retransmitted: 0, replayed: 0, synced: 0, sent: 0 };

  private constructor(options: LogHostOptions) {
    this.options = options;
    this.faults = faultsTolerated(options.parties);
  }

  /** Opens the host on its store: replays the decided log's position and the current instance's inputs. */
  static async open(options: LogHostOptions): Promise<LogHost> {
    const host = new LogHost(options);
    const last = await options.store.get('meta/last');
    host.instance = last === undefined ? 0 : Number(new TextDecoder().decode(last)) + 1;
    if (host.instance > 0) {
      // The previous instance's core is rebuilt too: it answers parties still deciding that instance,
      // and what it sends again in the replay is what they may have missed while this party was down.
      host.previous = host.newCore(host.instance - 1);
      await host.replay(host.instance - 1, host.previous);
    }
    host.core = host.newCore(host.instance);
    host.inputs = await host.replay(host.instance, host.core);
    // A crash between deciding and applying: the replayed core has decided again; apply it now.
    if (host.core.decision !== null) await host.apply(host.instance, host.core.decision.value);
    for (let party = 0; party < options.parties; party += 1) if (party !== options.self) host.transmit(party, { type: 'mvba.sync', instance: host.instance });
    return host;
  }

  /** Feeds instance `instance`'s durable inputs to `core`, re-sending what it sends; returns how many. */
  private async replay(instance: number, core: MvbaState): Promise<number> {
    const recorded = await this.options.store.scan({ prefix: `in/${pad(instance)}/`, limit: 1_000_000 });
    for (const entry of recorded.entries) {
      const input = decode(entry.value) as { from: PartyId; message: unknown } | { start: Uint8Array };
      const { effects } = 'start' in input ? step(core, { type: 'start', value: input.start }) : step(core, { type: 'message', from: input.from, message: input.message });
      // Replayed effects are sent again: receivers ignore what they already had.
      this.execute(instance, effects);
    }
    this.counters.replayed += recorded.entries.length;
    return recorded.entries.length;
  }

  /** The instance this party is working on (every earlier one is decided and applied here). */
  get currentInstance(): number {
    return this.instance;
  }

  /** A failure of the store, if one happened: the actor crashes on it and recovers by replay. */
  get failed(): unknown {
    return this.failure;
  }

  private newCore(instance: number): MvbaState {
    const { self, parties, crypto, protocol, name } = this.options;
    return newMvba({ instance: `${name}/${instance}`, protocol, parties, self, crypto, validate: (value) => decodeBatch(value) !== null });
  }

  /** A client transaction: answered once it is decided and applied (or at once when refused). */
  submit(tx: unknown, reply: (answer: SubmitReply) => void): void {
    if (!validTransaction(tx)) return reply({ ok: false, code: 'INVALID', message: 'a transaction is { id, op: put|delete, key, value? } within bounds' });
    if (this.pending.size >= (this.options.pendingMax ?? 10_000)) return reply({ ok: false, code: 'BUSY', message: 'too many transactions waiting' });
    const list = this.waiters.get(tx.id) ?? [];
    list.push(reply);
    this.waiters.set(tx.id, list);
    void this.serially(async () => {
      const done = await this.options.store.get(`tx/${tx.id}`);
      if (done !== undefined) return this.answer(tx.id, Number(new TextDecoder().decode(done)), false);
      this.pending.set(tx.id, tx);
      await this.propose();
    });
  }

  /** A message from party `from` (the identity the link authenticated). */
  receive(from: PartyId, sealed: unknown): void {
    if (from < 0 || from >= this.options.parties || from === this.options.self) {
      this.counters.refused += 1;
      return;
    }
    const link = this.options.link ?? null;
    const message = link === null ? sealed : unseal(link, this.options.name, from, sealed);
    if (typeof message !== 'object' || message === null) {
      this.counters.refused += 1;
      return;
    }
    const typed = message as { type?: unknown; instance?: unknown };
    if (typed.type === 'mvba.sync' && typeof typed.instance === 'number') return void this.serially(() => this.answerSync(from, typed.instance as number));
    if (typed.type === 'mvba.entry') return void this.serially(() => this.receiveEntry(from, message as LogPeerMessage));
    if (typeof typed.instance !== 'string' || !typed.instance.startsWith(`${this.options.name}/`)) {
      this.counters.refused += 1;
      return;
    }
    const instance = Number(typed.instance.slice(this.options.name.length + 1));
    if (!Number.isSafeInteger(instance)) {
      this.counters.refused += 1;
      return;
    }
    void this.serially(() => this.route(from, instance, message as MvbaMessage));
  }

  /** Runs `work` after everything before it, so inputs reach the store and the cores in arrival order. */
  private serially(work: () => Promise<void> | void): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (this.failure === null) await work();
    }).catch((error: unknown) => {
      this.failure = error;
    });
    return this.chain;
  }

  private async route(from: PartyId, instance: number, message: MvbaMessage): Promise<void> {
    if (instance === this.instance) return this.feed(from, message);
    if (instance === this.instance - 1 && this.previous !== null) {
      // The previous instance is decided here; its core still answers laggers (fetches, echoes) but its
      // inputs no longer need to be durable: its outcome is.
      this.execute(instance, step(this.previous, { type: 'message', from, message }).effects.filter((effect) => effect.type === 'send'));
      return;
    }
    if (instance > this.instance && instance <= this.instance + instancesAheadMax) {
      const list = this.buffered.get(instance) ?? [];
      if (list.length < 64 * this.options.parties * this.options.parties) list.push({ from, message });
      this.buffered.set(instance, list);
    }
    if (instance > this.instance + 1 && !this.syncRequested.has(this.instance)) {
      // Someone is two or more instances ahead: this party missed decisions; ask everyone for them.
      this.syncRequested.add(this.instance);
      for (let party = 0; party < this.options.parties; party += 1) if (party !== this.options.self) this.transmit(party, { type: 'mvba.sync', instance: this.instance });
    }
  }

  /**
   * Steps the core with one input at once, but lets the input's effects leave only after the input is
   * durable. Appends are not awaited one by one: the store's group commit makes a run of inputs durable
   * with one fsync, and effects are released in input order (the store acknowledges in index order).
   */
  private async feed(from: PartyId, message: unknown): Promise<void> {
    const durable = this.options.store.put(`in/${pad(this.instance)}/${pad(this.inputs)}`, encode({ from, message }));
    this.inputs += 1;
    const instance = this.instance;
    await this.afterStep(durable, step(this.core!, { type: 'message', from, message }).effects);
    // Others have started this instance: take part, with an empty batch if there is nothing to propose.
    if (this.instance === instance) await this.propose(true);
  }

  /** Proposes this party's batch for the current instance, once there is work or others have started. */
  private async propose(othersStarted = false): Promise<void> {
    const core = this.core!;
    if (core.input !== null) return;
    if (this.pending.size === 0 && !othersStarted) return;
    const batch = [...this.pending.values()].slice(0, this.options.batchMax ?? 256);
    const value = encode(batch);
    const durable = this.options.store.put(`in/${pad(this.instance)}/${pad(this.inputs)}`, encode({ start: value }));
    this.inputs += 1;
    await this.afterStep(durable, step(core, { type: 'start', value }).effects);
  }

  private async afterStep(durable: Promise<unknown>, effects: MvbaEffect[]): Promise<void> {
    const instance = this.instance;
    this.outbox = this.outbox.then(() => durable).then(() => {
      if (this.failure === null) this.execute(instance, effects);
    }, (error: unknown) => {
      // A failed append: nothing after it may leave; the actor crashes on its next message and recovers.
      this.failure ??= error;
    });
    const decided = effects.find((effect) => effect.type === 'decide');
    if (decided !== undefined && decided.type === 'decide') {
      // Applying waits for every input before it (and their sends) to be durable and out.
      await this.outbox;
      if (this.failure !== null) throw this.failure;
      await this.apply(this.instance, decided.decision.value);
    }
  }

  private execute(instance: number, effects: readonly MvbaEffect[]): void {
    const record = this.sent.get(instance) ?? [];
    this.sent.set(instance, record);
    for (const effect of effects) {
      if (effect.type !== 'send') continue;
      if (record.length < 256 * this.options.parties * this.options.parties) record.push({ to: effect.to, message: effect.message });
      this.sendOut(effect.to, effect.message);
    }
  }

  /** Sends one peer message, sealed with this party's link key when link keys are configured. */
  private transmit(to: PartyId, message: unknown): void {
    const link = this.options.link ?? null;
    this.options.send(to, (link === null ? message : seal(link, this.options.name, to, message)) as MvbaMessage);
  }

  private sendOut(to: PartyId, message: MvbaMessage): void {
    this.counters.sent += 1;
    if (this.options.outgoing === undefined) return this.transmit(to, message);
    for (const out of this.options.outgoing(to, message)) this.transmit(out.to, out.message as MvbaMessage);
  }

  /** Applies batch `instance` durably (one atomic store batch), answers its clients, moves on. */
  private async apply(instance: number, value: Uint8Array): Promise<void> {
    assert(instance === this.instance, 'batches apply in instance order');
    const batch = decodeBatch(value);
    assert(batch !== null, 'a decided batch passed validate');
    // One list, in transaction order: a put and a delete of one key in one batch keep their order.
    const ops: ({ type: 'put'; key: string; value: Uint8Array } | { type: 'delete'; key: string })[] = [];
    const outcomes: { id: string; applied: boolean }[] = [];
    const seen = new Set<string>();
    for (const tx of batch) {
      const duplicate = seen.has(tx.id) || (await this.options.store.get(`tx/${tx.id}`)) !== undefined;
      seen.add(tx.id);
      outcomes.push({ id: tx.id, applied: !duplicate });
      if (duplicate) continue;
      if (tx.op === 'put') ops.push({ type: 'put', key: `kv/${tx.key}`, value: new TextEncoder().encode(tx.value!) });
      else ops.push({ type: 'delete', key: `kv/${tx.key}` });
      ops.push({ type: 'put', key: `tx/${tx.id}`, value: new TextEncoder().encode(String(instance)) });
    }
    // Inputs of instance - 1 stay (its core is rebuilt on restart); older ones go in the same batch.
    const stale = instance >= 2 ? (await this.options.store.scan({ prefix: `in/${pad(instance - 2)}/`, limit: 1_000_000 })).entries : [];
    await this.options.store.batch([
      ...ops, ...stale.map((entry) => ({ type: 'delete' as const, key: entry.key })),
      { type: 'put', key: `log/${pad(instance)}`, value },
      { type: 'put', key: 'meta/last', value: new TextEncoder().encode(String(instance)) },
    ]);
    this.counters.decided += 1;
    for (const outcome of outcomes) {
      if (outcome.applied) this.counters.applied += 1;
      else this.counters.duplicates += 1;
      this.pending.delete(outcome.id);
      this.answer(outcome.id, instance, outcome.applied);
    }
    this.previous = this.core;
    this.sent.delete(instance - 2);
    this.instance = instance + 1;
    this.inputs = 0;
    this.core = this.newCore(this.instance);
    const early = this.buffered.get(this.instance) ?? [];
    this.buffered.delete(this.instance);
    for (const { from, message } of early) await this.feed(from, message);
    await this.propose();
  }

  private answer(id: string, instance: number, applied: boolean): void {
    for (const reply of this.waiters.get(id) ?? []) reply({ ok: true, id, instance, applied });
    this.waiters.delete(id);
  }

  private async answerSync(from: PartyId, instance: number): Promise<void> {
    if (!Number.isSafeInteger(instance) || instance < 0) return;
    // A few answers per peer and instance (a peer restarting again asks again), never without bound.
    const key = `${from}/${instance}`;
    const answered = this.syncsAnswered.get(key) ?? 0;
    if (answered >= syncAnswersMax) return;
    if (this.syncsAnswered.size >= 4_096) this.syncsAnswered.clear();
    this.syncsAnswered.set(key, answered + 1);
    for (let next = instance; next < Math.min(this.instance, instance + syncEntriesMax); next += 1) {
      const batch = await this.options.store.get(`log/${pad(next)}`);
      if (batch !== undefined) this.transmit(from, { type: 'mvba.entry', instance: next, batch });
    }
    for (const { to, message } of this.sent.get(instance) ?? []) {
      if (to !== from) continue;
      this.counters.retransmitted += 1;
      this.sendOut(to, message);
    }
  }

  /** A decided batch from a peer: applied once f + 1 peers sent the same bytes for the current instance. */
  private async receiveEntry(from: PartyId, message: LogPeerMessage): Promise<void> {
    if (message.type !== 'mvba.entry' || !Number.isSafeInteger(message.instance) || !(message.batch instanceof Uint8Array)) return;
    if (message.instance < this.instance || message.instance > this.instance + syncEntriesMax) return;
    const voted = this.entryVoters.get(message.instance) ?? [];
    this.entryVoters.set(message.instance, voted);
    // One entry per peer per instance: a Byzantine peer cannot grow the tally without bound.
    if (!recordOnce(voted, from)) return;
    const votes = this.entries.get(message.instance) ?? new Map<string, PartyId[]>();
    this.entries.set(message.instance, votes);
    const key = Buffer.from(message.batch).toString('base64');
    const voters = votes.get(key) ?? [];
    votes.set(key, voters);
    recordOnce(voters, from);
    for (;;) {
      const current = this.entries.get(this.instance);
      const agreed = current === undefined ? undefined : [...current.entries()].find(([, parties]) => parties.length >= this.faults + 1);
      if (agreed === undefined || decodeBatch(Buffer.from(agreed[0], 'base64')) === null) return;
      this.entries.delete(this.instance);
      this.entryVoters.delete(this.instance);
      this.counters.synced += 1;
      await this.apply(this.instance, new Uint8Array(Buffer.from(agreed[0], 'base64')));
    }
  }

  /** The value of `key` in the applied state, or null. */
  async read(key: string): Promise<{ instance: number; value: string | null }> {
    let result: { instance: number; value: string | null } = { instance: -1, value: null };
    await this.serially(async () => {
      const value = await this.options.store.get(`kv/${key}`);
      result = { instance: this.instance - 1, value: value === undefined ? null : new TextDecoder().decode(value) };
    });
    return result;
  }
}
