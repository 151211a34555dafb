/**
 * The node-to-node wire protocol: every frame type a link carries, and a parser that admits a decoded
 * value only if it has exactly the expected shape. Every WebSocket message on a link is a CBOR array
 * of frames (see `wire.ts`); the handshake frames come first, then the link frames.
 *
 * Handshake (HMAC challenge-response over fresh nonces, see `handshake.ts`):
 *   dialer -> hello { node, incarnation, address, nonce }
 *   acceptor -> challenge { node, incarnation, address, nonce, proof }   (proof of the acceptor)
 *   dialer -> auth { proof }                                               (proof of the dialer)
 *   acceptor -> accept | reject { code, message }
 *
 * Stream frames (envelope, watch, unwatch) carry exactly one of `seq` (at-most-once, ordered) or
 * `reliable: n`, their place in one of the pair's two at-least-once lanes (see `lanes.ts` and
 * `reliable.ts`): the bulk lane, or, with `lane: 'notice'`, the notice lane of death-watch traffic.
 * An `ack` acknowledges the bulk lane, or with `lane: 'notice'` the notice lane.
 *
 * Envelopes, the one frame sent per remote message, travel in a compact positional form instead of a
 * map (half the bytes and half the decoding time of the same fields keyed by name):
 *   [stream, position, id, path, body]            stream 0: at-most-once (position = seq),
 *   [stream, position, id, path, body, options]   stream 1: bulk lane, stream 2: notice lane (position = reliable number)
 * where `options` holds the fields only asks and replies carry { from, corr, replyTo, deadlineMs,
 * attempt, failure }. Every other frame is a map with a `type`.
 */
import { validateNodeName, validatePath, type Envelope, type InspectionEvent, type Ref } from '../../runtime/index.js';
import type { Lane } from './lanes.js';
import { FrameProblem, bytes, finite, guarded, integer, oneOf, record, refOf, text, type Parsed } from './validate.js';

export { FrameProblem } from './validate.js';

/** Version of the client protocol (the client hello); a client speaking another version is refused with PROTOCOL_VERSION. */
export const protocolVersion = 1;
/**
 * Version of the node-to-node link protocol (the handshake hello, and the label its proofs are made
 * under); a peer speaking another version is refused with PROTOCOL_VERSION. Version 2 added the notice lane.
 */
export const linkProtocolVersion = 2;
/** Length of handshake nonces and proofs (HMAC-SHA256). */
export const nonceBytes = 32;
const codeLengthMax = 64;
const messageLengthMax = 1_000;
const addressLengthMax = 1_000;
const idLengthMax = 256;

/** What a member says about itself in gossip (reachability is each observer's own judgement). */
export type DeclaredStatus = 'joining' | 'up' | 'leaving';

/** One row of a gossiped membership table. */
export interface GossipMember {
  readonly name: string;
  readonly incarnation: number;
  readonly address: string;
  readonly status: DeclaredStatus;
}

/** Handshake frames. */
export type HandshakeFrame =
  | { readonly type: 'hello'; readonly version: number; readonly node: string; readonly incarnation: number; readonly address: string; readonly nonce: Uint8Array }
  | { readonly type: 'challenge'; readonly node: string; readonly incarnation: number; readonly address: string; readonly nonce: Uint8Array; readonly proof: Uint8Array }
  | { readonly type: 'auth'; readonly proof: Uint8Array }
  | { readonly type: 'accept' }
  | { readonly type: 'reject'; readonly code: string; readonly message: string };

/** An envelope on the wire; the receiving node is implied by the link. */
export interface EnvelopeFrame {
  readonly type: 'envelope';
  readonly seq?: number;
  readonly reliable?: number;
  /** The reliable lane (`reliable` set): absent means the bulk lane. */
  readonly lane?: Lane;
  readonly id: string;
  readonly path: string;
  readonly body: unknown;
  readonly from?: Ref;
  readonly corr?: string;
  readonly replyTo?: Ref;
  readonly deadlineMs?: number;
  readonly attempt?: number;
  readonly failure?: { readonly code: string; readonly message: string };
}

/** Death watch across nodes: `target` is a path on the receiving node, `watcher` lives on the sender. */
export interface WatchFrame {
  readonly type: 'watch' | 'unwatch';
  readonly seq?: number;
  readonly reliable?: number;
  /** The reliable lane (`reliable` set): absent means the bulk lane. */
  readonly lane?: Lane;
  readonly target: string;
  readonly watcher: Ref;
}

/** Frames of an authenticated link. */
export type LinkFrame =
  | { readonly type: 'heartbeat'; readonly sentMs: number }
  | EnvelopeFrame
  | WatchFrame
  | { readonly type: 'ack'; readonly upTo: number; readonly lane?: Lane }
  | { readonly type: 'gossip'; readonly members: readonly GossipMember[] }
  | { readonly type: 'control'; readonly id: number; readonly op: 'tree' }
  | { readonly type: 'controlReply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'controlReply'; readonly id: number; readonly ok: false; readonly code: string; readonly message: string }
  | { readonly type: 'subscribe'; readonly topic: 'lifecycle'; readonly on: boolean }
  | { readonly type: 'event'; readonly topic: 'lifecycle'; readonly event: InspectionEvent }
  | { readonly type: 'error'; readonly code: string; readonly message: string };

/** Frames that belong to an ordered stream (at-most-once by `seq`, or at-least-once by `reliable`). */
export type StreamFrame = EnvelopeFrame | WatchFrame;

/** The reliable lane of a reliable stream frame or an ack. */
export function laneOf(frame: { readonly lane?: Lane }): Lane {
  return frame.lane ?? 'bulk';
}

/** Parses one handshake frame. */
export function parseHandshakeFrame(value: unknown): Parsed<HandshakeFrame> {
  return guarded(() => {
    const frame = record(value, 'frame');
    switch (frame.type) {
      case 'hello':
        return {
          type: 'hello', version: integer(frame.version, 'version', 0, 1_000_000), node: nodeName(frame.node, 'node'),
          incarnation: integer(frame.incarnation, 'incarnation', 1), address: text(frame.address, 'address', addressLengthMax, true),
          nonce: bytes(frame.nonce, 'nonce', nonceBytes),
        };
      case 'challenge':
        return {
          type: 'challenge', node: nodeName(frame.node, 'node'), incarnation: integer(frame.incarnation, 'incarnation', 1),
          address: text(frame.address, 'address', addressLengthMax, true), nonce: bytes(frame.nonce, 'nonce', nonceBytes),
          proof: bytes(frame.proof, 'proof', nonceBytes),
        };
      case 'auth':
        return { type: 'auth', proof: bytes(frame.proof, 'proof', nonceBytes) };
      case 'accept':
        return { type: 'accept' };
      case 'reject':
        return { type: 'reject', code: text(frame.code, 'code', codeLengthMax), message: text(frame.message, 'message', messageLengthMax, true) };
      default:
        throw new FrameProblem('FRAME_UNKNOWN', `unknown handshake frame type ${describeType(frame.type)}`);
    }
  });
}

/**
 * Parses one frame of an authenticated link, returning the frame or the problem (returned, not
 * thrown, and without a wrapper object: this runs once per inbound message).
 */
export function parseLinkFrame(value: unknown, membersMax: number): LinkFrame | FrameProblem {
  try {
    return linkFrame(value, membersMax);
  } catch (problem) {
    if (problem instanceof FrameProblem) return problem;
    throw problem;
  }
}

function linkFrame(value: unknown, membersMax: number): LinkFrame {
  if (Array.isArray(value)) return envelopeFrame(value);
  {
    const frame = record(value, 'frame');
    switch (frame.type) {
      case 'heartbeat':
        return { type: 'heartbeat', sentMs: finite(frame.sentMs, 'sentMs') };
      case 'watch':
      case 'unwatch':
        return {
          type: frame.type, ...streamPosition(frame), target: actorPath(frame.target, 'target'),
          watcher: refOf(frame.watcher, 'watcher'),
        };
      case 'ack': {
        const upTo = integer(frame.upTo, 'upTo', 0);
        return frame.lane === undefined || frame.lane === null ? { type: 'ack', upTo } : { type: 'ack', upTo, lane: oneOf(frame.lane, 'lane', ['bulk', 'notice'] as const) };
      }
      case 'gossip':
        return { type: 'gossip', members: gossipMembers(frame.members, membersMax) };
      case 'control':
        return { type: 'control', id: integer(frame.id, 'id', 0), op: oneOf(frame.op, 'op', ['tree'] as const) };
      case 'controlReply':
        return controlReply(frame);
      case 'subscribe':
        return { type: 'subscribe', topic: oneOf(frame.topic, 'topic', ['lifecycle'] as const), on: frame.on === true };
      case 'event':
        return { type: 'event', topic: oneOf(frame.topic, 'topic', ['lifecycle'] as const), event: inspectionEvent(frame.event) };
      case 'error':
        return { type: 'error', code: text(frame.code, 'code', codeLengthMax), message: text(frame.message, 'message', messageLengthMax, true) };
      default:
        throw new FrameProblem('FRAME_UNKNOWN', `unknown frame type ${describeType(frame.type)}`);
    }
  }
}

/** The kernel envelope an envelope frame stands for, addressed to `node` (the receiving node). */
export function envelopeOf(frame: EnvelopeFrame, node: string): Envelope {
  const envelope: { -readonly [Key in keyof Envelope]?: Envelope[Key] } = { id: frame.id, to: { node, path: frame.path }, body: frame.body };
  if (frame.from !== undefined) envelope.from = frame.from;
  if (frame.corr !== undefined) envelope.corr = frame.corr;
  if (frame.replyTo !== undefined) envelope.replyTo = frame.replyTo;
  if (frame.deadlineMs !== undefined) envelope.deadlineMs = frame.deadlineMs;
  if (frame.attempt !== undefined) envelope.attempt = frame.attempt;
  if (frame.failure !== undefined) envelope.failure = frame.failure;
  return envelope as Envelope;
}

/** What a peer sends on a stream: an envelope, or a death-watch registration. */
export type StreamMessage =
  | { readonly type: 'envelope'; readonly envelope: Envelope }
  | { readonly type: 'watch' | 'unwatch'; readonly target: string; readonly watcher: Ref };

/** Where a stream message goes: its at-most-once seq, or its number in a reliable lane. */
export type StreamPosition = { readonly seq: number } | { readonly reliable: number; readonly lane: Lane };

/** The wire form of a stream message at its stream position (see the positional envelope form above). */
export function streamWire(message: StreamMessage, position: StreamPosition): unknown {
  const reliable = 'reliable' in position;
  const number = reliable ? position.reliable : position.seq;
  const notice = reliable && position.lane === 'notice';
  if (message.type !== 'envelope') {
    const frame: Record<string, unknown> = { type: message.type, [reliable ? 'reliable' : 'seq']: number, target: message.target, watcher: message.watcher };
    if (notice) frame.lane = 'notice';
    return frame;
  }
  const envelope = message.envelope;
  const wire: unknown[] = [notice ? 2 : reliable ? 1 : 0, number, envelope.id, envelope.to.path, envelope.body];
  if (envelope.from === undefined && envelope.corr === undefined && envelope.replyTo === undefined && envelope.deadlineMs === undefined
    && envelope.attempt === undefined && envelope.failure === undefined) return wire;
  const options: Record<string, unknown> = {};
  if (envelope.from !== undefined) options.from = { node: envelope.from.node, path: envelope.from.path };
  if (envelope.corr !== undefined) options.corr = envelope.corr;
  if (envelope.replyTo !== undefined) options.replyTo = { node: envelope.replyTo.node, path: envelope.replyTo.path };
  if (envelope.deadlineMs !== undefined) options.deadlineMs = envelope.deadlineMs;
  if (envelope.attempt !== undefined) options.attempt = envelope.attempt;
  if (envelope.failure !== undefined) options.failure = { code: envelope.failure.code, message: envelope.failure.message };
  wire.push(options);
  return wire;
}

/** Parses the positional envelope form into an envelope frame. No spreads: this runs once per inbound remote message. */
function envelopeFrame(wire: readonly unknown[]): EnvelopeFrame {
  if (wire.length !== 5 && wire.length !== 6) throw new FrameProblem('FRAME_INVALID', 'an envelope has 5 or 6 elements');
  const stream = wire[0];
  if (stream !== 0 && stream !== 1 && stream !== 2) throw new FrameProblem('FRAME_INVALID', 'envelope stream must be 0, 1 or 2');
  const position = integer(wire[1], stream === 0 ? 'seq' : 'reliable', 1);
  const frame: { -readonly [Key in keyof EnvelopeFrame]?: EnvelopeFrame[Key] } = {
    type: 'envelope', id: text(wire[2], 'id', idLengthMax), path: actorPath(wire[3], 'path'), body: wire[4],
  };
  if (stream === 0) frame.seq = position;
  else frame.reliable = position;
  if (stream === 2) frame.lane = 'notice';
  if (wire.length === 6) envelopeOptions(record(wire[5], 'options'), frame);
  return frame as EnvelopeFrame;
}

function envelopeOptions(options: Record<string, unknown>, frame: { -readonly [Key in keyof EnvelopeFrame]?: EnvelopeFrame[Key] }): void {
  if (options.from !== undefined && options.from !== null) frame.from = refOf(options.from, 'from');
  if (options.corr !== undefined && options.corr !== null) frame.corr = text(options.corr, 'corr', idLengthMax);
  if (options.replyTo !== undefined && options.replyTo !== null) frame.replyTo = refOf(options.replyTo, 'replyTo');
  if (options.failure !== undefined && options.failure !== null) {
    const fields = record(options.failure, 'failure');
    frame.failure = { code: text(fields.code, 'failure.code', codeLengthMax), message: text(fields.message, 'failure.message', messageLengthMax, true) };
  }
  if ((frame.corr === undefined) !== (frame.replyTo === undefined) && frame.failure === undefined && !isReplyPath(frame.path)) {
    throw new FrameProblem('FRAME_INVALID', 'an ask carries both corr and replyTo');
  }
  if (options.deadlineMs !== undefined && options.deadlineMs !== null) frame.deadlineMs = finite(options.deadlineMs, 'deadlineMs');
  if (options.attempt !== undefined && options.attempt !== null) frame.attempt = integer(options.attempt, 'attempt', 0, 1_000_000);
}

function isReplyPath(path: unknown): boolean {
  return typeof path === 'string' && path.startsWith('/temp/');
}

/** Exactly one of `seq` (at-most-once) and `reliable` (at-least-once, with its lane; a lane only with `reliable`). */
function streamPosition(frame: Record<string, unknown>): { seq: number } | { reliable: number; lane?: Lane } {
  const seq = frame.seq === undefined || frame.seq === null ? undefined : integer(frame.seq, 'seq', 1);
  const reliable = frame.reliable === undefined || frame.reliable === null ? undefined : integer(frame.reliable, 'reliable', 1);
  if ((seq === undefined) === (reliable === undefined)) throw new FrameProblem('FRAME_INVALID', 'a stream frame carries exactly one of seq and reliable');
  const lane = frame.lane === undefined || frame.lane === null ? undefined : oneOf(frame.lane, 'lane', ['bulk', 'notice'] as const);
  if (seq !== undefined) {
    if (lane !== undefined) throw new FrameProblem('FRAME_INVALID', 'an at-most-once frame has no lane');
    return { seq };
  }
  return lane === 'notice' ? { reliable: reliable!, lane } : { reliable: reliable! };
}

function controlReply(frame: Record<string, unknown>): LinkFrame {
  const id = integer(frame.id, 'id', 0);
  if (frame.ok === true) return { type: 'controlReply', id, ok: true, value: frame.value };
  return { type: 'controlReply', id, ok: false, code: text(frame.code, 'code', codeLengthMax), message: text(frame.message, 'message', messageLengthMax, true) };
}

function gossipMembers(value: unknown, membersMax: number): GossipMember[] {
  if (!Array.isArray(value) || value.length > membersMax) throw new FrameProblem('FRAME_INVALID', `members must be a list of at most ${membersMax}`);
  return value.map((entry, index) => {
    const member = record(entry, `members[${index}]`);
    return {
      name: nodeName(member.name, `members[${index}].name`), incarnation: integer(member.incarnation, `members[${index}].incarnation`, 1),
      address: text(member.address, `members[${index}].address`, addressLengthMax, true),
      status: oneOf(member.status, `members[${index}].status`, ['joining', 'up', 'leaving'] as const),
    };
  });
}

const eventTypes = ['started', 'crashed', 'restarting', 'restarted', 'stopped', 'escalated', 'deadLetter'] as const;

/** A lifecycle event forwarded by a peer: the common fields are checked, the rest kept as given. */
export function inspectionEvent(value: unknown): InspectionEvent {
  const event = record(value, 'event');
  oneOf(event.type, 'event.type', eventTypes);
  nodeName(event.node, 'event.node');
  text(event.path, 'event.path', 2_000);
  finite(event.at, 'event.at');
  return event as unknown as InspectionEvent;
}

/** A node name as the kernel accepts it. */
export function nodeName(value: unknown, what: string): string {
  try {
    validateNodeName(value as string);
  } catch {
    throw new FrameProblem('FRAME_INVALID', `${what} must be a valid node name`);
  }
  return value as string;
}

/** An absolute actor path as the kernel accepts it. */
export function actorPath(value: unknown, what: string): string {
  try {
    validatePath(value as string);
  } catch {
    throw new FrameProblem('FRAME_INVALID', `${what} must be a valid actor path`);
  }
  return value as string;
}

function describeType(type: unknown): string {
  return typeof type === 'string' ? JSON.stringify(type.slice(0, 40)) : `of kind ${typeof type}`;
}
