/**
 * The client protocol (SDK, CLI) spoken on a node's `/client` WebSocket path. Clients are not members:
 * they authenticate with a bearer token, then send requests that the node carries out for them.
 * Like links, every message is a CBOR array of frames and every frame is validated here.
 *
 *   client -> hello { version, token }          node -> welcome { node, incarnation } | refused { code }
 *   client -> request { id, op, ... }           node -> response { id, ok, value | code, message }
 *                                               node -> event { topic, event }
 */
import type { Ref } from '../../runtime/index.js';
import { protocolVersion } from './frames.js';
import { FrameProblem, finite, guarded, integer, oneOf, record, refOf, text, type Parsed } from './validate.js';

/** Topics a client may subscribe to. */
export type Topic = 'lifecycle' | 'membership';
const topics = ['lifecycle', 'membership'] as const;

/** Longest token accepted. */
export const tokenLengthMax = 512;

/** A request a client may make. */
export type ClientRequest =
  | { readonly type: 'request'; readonly id: number; readonly op: 'tell'; readonly target: Ref; readonly body: unknown }
  | { readonly type: 'request'; readonly id: number; readonly op: 'ask'; readonly target: Ref; readonly body: unknown; readonly timeoutMs: number | undefined }
  | { readonly type: 'request'; readonly id: number; readonly op: 'tree' | 'members' }
  | { readonly type: 'request'; readonly id: number; readonly op: 'subscribe' | 'unsubscribe'; readonly topic: Topic };

/** Frames a client sends. */
export type ClientFrame = { readonly type: 'hello'; readonly version: number; readonly token: string | undefined } | ClientRequest;

/** Frames a node sends to a client. */
export type ServerFrame =
  | { readonly type: 'welcome'; readonly node: string; readonly incarnation: number; readonly version: number }
  | { readonly type: 'refused'; readonly code: string; readonly message: string }
  | { readonly type: 'response'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'response'; readonly id: number; readonly ok: false; readonly code: string; readonly message: string }
  | { readonly type: 'event'; readonly topic: Topic; readonly event: unknown }
  | { readonly type: 'error'; readonly code: string; readonly message: string };

/** Parses one frame from a client. */
export function parseClientFrame(value: unknown): Parsed<ClientFrame> {
  return guarded((): ClientFrame => {
    const frame = record(value, 'frame');
    if (frame.type === 'hello') {
      const token = frame.token === undefined || frame.token === null ? undefined : text(frame.token, 'token', tokenLengthMax);
      return { type: 'hello', version: integer(frame.version, 'version', 0, 1_000_000), token };
    }
    if (frame.type !== 'request') throw new FrameProblem('FRAME_UNKNOWN', 'unknown client frame type');
    const id = integer(frame.id, 'id', 0);
    const op = oneOf(frame.op, 'op', ['tell', 'ask', 'tree', 'members', 'subscribe', 'unsubscribe'] as const);
    switch (op) {
      case 'tell':
        return { type: 'request', id, op, target: refOf(frame.target, 'target'), body: frame.body };
      case 'ask': {
        const timeoutMs = frame.timeoutMs === undefined || frame.timeoutMs === null ? undefined : finite(frame.timeoutMs, 'timeoutMs');
        return { type: 'request', id, op, target: refOf(frame.target, 'target'), body: frame.body, timeoutMs };
      }
      case 'tree':
      case 'members':
        return { type: 'request', id, op };
      case 'subscribe':
      case 'unsubscribe':
        return { type: 'request', id, op, topic: oneOf(frame.topic, 'topic', topics) };
    }
  });
}

/** Parses one frame from a node (the client trusts nothing either). */
export function parseServerFrame(value: unknown): Parsed<ServerFrame> {
  return guarded((): ServerFrame => {
    const frame = record(value, 'frame');
    switch (frame.type) {
      case 'welcome':
        return { type: 'welcome', node: text(frame.node, 'node', 200), incarnation: integer(frame.incarnation, 'incarnation', 1), version: integer(frame.version, 'version', 0) };
      case 'refused':
        return { type: 'refused', code: text(frame.code, 'code', 64), message: text(frame.message, 'message', 1_000, true) };
      case 'response': {
        const id = integer(frame.id, 'id', 0);
        if (frame.ok === true) return { type: 'response', id, ok: true, value: frame.value };
        return { type: 'response', id, ok: false, code: text(frame.code, 'code', 64), message: text(frame.message, 'message', 1_000, true) };
      }
      case 'event':
        return { type: 'event', topic: oneOf(frame.topic, 'topic', topics), event: frame.event };
      case 'error':
        return { type: 'error', code: text(frame.code, 'code', 64), message: text(frame.message, 'message', 1_000, true) };
      default:
        throw new FrameProblem('FRAME_UNKNOWN', 'unknown server frame type');
    }
  });
}

/** The hello a client sends first. */
export function helloFrame(token: string | undefined): ClientFrame {
  return { type: 'hello', version: protocolVersion, token };
}
