/**
 * Prometheus metrics of one node (prom-client, a registry per node so several nodes can share a
 * process in tests). Values are read from the kernel and the link layer at scrape time, so the hot
 * paths only bump plain counters.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { ActorSystem, TreeSnapshot } from '../runtime/index.js';
import type { Counters } from './counters.js';
import type { MemberView } from './core/membership.js';
import type { Peer } from './peer.js';

/** Where the metrics come from. */
export interface MetricsSource {
  readonly system: ActorSystem;
  peers(): Iterable<Peer>;
  members(): readonly MemberView[];
  readonly problems: Counters;
  readonly dropped: Counters;
  clients(): number;
  /** The budget of unauthenticated sockets. */
  readonly handshakes: { readonly held: number; readonly peakPerAddress: number };
}

/** Mailbox-depth series kept per scrape (the deepest ones), to bound label cardinality. */
const mailboxSeriesMax = 200;
/** Component status series (from behaviours' `describe`) kept per scrape, to bound label cardinality. */
const detailSeriesMax = 500;
const statuses = ['joining', 'up', 'suspect', 'down', 'leaving', 'removed'] as const;

/** Builds the registry for one node. */
export function createMetrics(source: MetricsSource): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ node: source.system.node });
  const registers = [registry];
  const total = (name: string, help: string, read: () => number): void => {
    new Counter({ name, help, registers, collect() { this.reset(); this.inc(read()); } });
  };
  total('troupe_messages_in_total', 'Messages enqueued to local actors.', () => source.system.stats().messagesIn);
  total('troupe_messages_out_total', 'Messages sent to other nodes.', () => source.system.stats().messagesOut);
  total('troupe_dead_letters_total', 'Messages that could not be delivered.', () => source.system.stats().deadLetters);
  total('troupe_restarts_total', 'Actor restarts.', () => source.system.stats().restarts);
  new Gauge({ name: 'troupe_actors', help: 'Live actors.', registers, collect() { this.set(source.system.stats().actors); } });
  new Gauge({
    name: 'troupe_mailbox_depth', help: 'Messages waiting per actor (the deepest mailboxes).', labelNames: ['path'], registers,
    collect() {
      this.reset();
      const depths = [...source.system.stats().mailboxDepths].sort((a, b) => b.depth - a.depth).slice(0, mailboxSeriesMax);
      for (const { path, depth } of depths) this.set({ path }, depth);
    },
  });
  new Gauge({
    name: 'troupe_actor_status', help: 'Numeric component status from an actor\'s describe() (e.g. raft.term, raft.commit, raft.applied).', labelNames: ['path', 'key'], registers,
    collect() {
      this.reset();
      for (const { path, key, value } of actorDetails(source.system.tree()).numbers.slice(0, detailSeriesMax)) this.set({ path, key }, value);
    },
  });
  new Gauge({
    name: 'troupe_actor_status_info', help: 'Textual component status from an actor\'s describe() (e.g. raft.role), as a label with value 1.', labelNames: ['path', 'key', 'value'], registers,
    collect() {
      this.reset();
      for (const { path, key, value } of actorDetails(source.system.tree()).texts.slice(0, detailSeriesMax)) this.set({ path, key, value }, 1);
    },
  });
  new Gauge({ name: 'troupe_unauthenticated_sockets', help: 'Sockets on the node and client paths not yet authenticated.', registers, collect() { this.set(source.handshakes.held); } });
  new Gauge({
    name: 'troupe_unauthenticated_sockets_peak_per_address', help: 'The most unauthenticated sockets one remote address has held at once.', registers,
    collect() { this.set(source.handshakes.peakPerAddress); },
  });
  new Gauge({ name: 'troupe_clients_connected', help: 'Client connections.', registers, collect() { this.set(source.clients()); } });
  new Gauge({
    name: 'troupe_member_status', help: 'Members by status (1 for the current status).', labelNames: ['member', 'status'], registers,
    collect() {
      this.reset();
      for (const member of source.members()) for (const status of statuses) this.set({ member: member.node, status }, member.status === status ? 1 : 0);
    },
  });
  const perPeer = (name: string, help: string, kind: 'gauge' | 'counter', read: (peer: Peer) => number): void => {
    const collect = function (this: Gauge<'peer'> | Counter<'peer'>): void {
      this.reset();
      for (const peer of source.peers()) {
        if (this instanceof Gauge) this.set({ peer: peer.node }, read(peer));
        else this.inc({ peer: peer.node }, read(peer));
      }
    };
    if (kind === 'gauge') new Gauge({ name, help, labelNames: ['peer'], registers, collect });
    else new Counter({ name, help, labelNames: ['peer'], registers, collect });
  };
  perPeer('troupe_link_up', 'Whether the link to a peer is up (1) or not (0).', 'gauge', (peer) => (peer.link === undefined ? 0 : 1));
  perPeer('troupe_link_send_queue_frames', 'Frames waiting to be written to a peer.', 'gauge', (peer) => peer.queuedFrames);
  perPeer('troupe_reliable_unacked', 'At-least-once messages not yet acknowledged by a peer.', 'gauge', (peer) => peer.unacknowledged);
  perPeer('troupe_link_frames_sent_total', 'Frames written to a peer.', 'counter', (peer) => peer.counters.framesOut);
  perPeer('troupe_link_frames_received_total', 'Valid frames received from a peer.', 'counter', (peer) => peer.counters.framesIn);
  perPeer('troupe_link_batches_sent_total', 'WebSocket messages (batches) written to a peer.', 'counter', (peer) => peer.counters.batchesOut);
  perPeer('troupe_reliable_redelivered_total', 'At-least-once messages sent again.', 'counter', (peer) => peer.counters.redelivered);
  perPeer('troupe_reliable_duplicates_total', 'Duplicate at-least-once messages dropped on receipt.', 'counter', (peer) => peer.counters.duplicates);
  perPeer('troupe_reliable_gaps_total', 'At-least-once frames dropped because an earlier one was missing (resent by the sender).', 'counter', (peer) => peer.counters.gaps);
  perPeer('troupe_reliable_parked', 'At-least-once messages from a peer parked for a full mailbox, awaiting another attempt.', 'gauge', (peer) => peer.parked);
  perPeer('troupe_reliable_parked_total', 'At-least-once messages from a peer parked for a full mailbox.', 'counter', (peer) => peer.counters.parked);
  perPeer('troupe_reliable_rejected_total', 'At-least-once messages from a peer refused with MAILBOX_FULL because the parking lot was full.', 'counter', (peer) => peer.counters.rejected);
  perPeer('troupe_stream_out_of_order_total', 'At-most-once messages dropped because they arrived out of order.', 'counter', (peer) => peer.counters.outOfOrder);
  const byCode = (name: string, help: string, counters: Counters): void => {
    new Counter({ name, help, labelNames: ['code'], registers, collect() { this.reset(); for (const [code, count] of counters.entries()) this.inc({ code }, count); } });
  };
  byCode('troupe_frames_rejected_total', 'Inbound frames, connections and handshakes refused, by error code.', source.problems);
  byCode('troupe_messages_dropped_total', 'Messages the cluster layer gave up on, by error code.', source.dropped);
  return registry;
}

interface DetailSeries {
  readonly numbers: Array<{ path: string; key: string; value: number }>;
  readonly texts: Array<{ path: string; key: string; value: string }>;
}

/** Flattens every actor's `details` (two levels deep: `raft.term`) into numeric and short textual series. */
function actorDetails(tree: TreeSnapshot): DetailSeries {
  const series: DetailSeries = { numbers: [], texts: [] };
  const add = (path: string, key: string, value: unknown, depth: number): void => {
    if (typeof value === 'number' && Number.isFinite(value)) series.numbers.push({ path, key, value });
    else if (typeof value === 'boolean') series.numbers.push({ path, key, value: value ? 1 : 0 });
    else if (typeof value === 'string' && value.length <= 64) series.texts.push({ path, key, value });
    else if (depth < 2 && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [inner, item] of Object.entries(value)) add(path, `${key}.${inner}`, item, depth + 1);
    }
  };
  const visit = (node: TreeSnapshot): void => {
    for (const [key, value] of Object.entries(node.details ?? {})) add(node.path, key, value, 1);
    for (const child of node.children) visit(child);
  };
  visit(tree);
  return series;
}

