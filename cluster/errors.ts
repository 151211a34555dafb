/**
 * Typed errors of the cluster layer. Every refusal a peer or client can see carries one of these
 * stable codes, on the wire (a `reject`/`error` frame or a WebSocket close reason) and in exceptions.
 */
import { TroupeError } from '../runtime/index.js';

/** Stable codes of the cluster layer. */
export type ClusterErrorCode =
  | 'AUTH_FAILED'
  | 'HANDSHAKE_TIMEOUT'
  | 'HANDSHAKE_INVALID'
  | 'PROTOCOL_VERSION'
  | 'DUPLICATE_LINK'
  | 'STALE_INCARNATION'
  | 'SELF_CONNECT'
  | 'FRAME_INVALID'
  | 'FRAME_UNKNOWN'
  | 'FRAME_TOO_LARGE'
  | 'DECODE_FAILED'
  | 'RATE_LIMITED'
  | 'TOO_MANY_ERRORS'
  | 'TOO_MANY_REQUESTS'
  | 'LINK_IDLE'
  | 'SEND_QUEUE_FULL'
  | 'OUTBOX_FULL'
  | 'UNKNOWN_NODE'
  | 'NODE_DOWN'
  | 'CLIENT_UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'INVALID_SCOPE'
  | 'INVALID_TOKEN_SPEC'
  | 'CONNECTION_LOST'
  | 'CONNECTION_FAILED'
  | 'REQUEST_TIMEOUT'
  | 'SHUTTING_DOWN'
  | 'INTERNAL_ERROR'
  | 'TOO_MANY_CLIENTS'
  | 'ENCODE_FAILED'
  | 'INVALID_ARGUMENT';

/** A failure of the cluster layer with a stable `code`. */
export class ClusterError extends TroupeError {
  declare readonly code: ClusterErrorCode | string;

  constructor(code: ClusterErrorCode | string, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
  }
}

/**
 * WebSocket close codes (4000-4999 is the range RFC 6455 leaves to applications). The close reason
 * carries the stable error code as text so that a peer without our frame decoder still learns why.
 */
export const closeCodes = {
  /** Authentication failed (wrong cluster secret or client token). */
  unauthorized: 4001,
  /** The peer sent too many bad frames. */
  tooManyErrors: 4002,
  /** Handshake frames were malformed or out of order. */
  handshakeInvalid: 4003,
  /** A link for this pair already exists and wins the tie-break. */
  duplicate: 4004,
  /** The link was replaced by a newer connection (or a newer incarnation of the peer). */
  replaced: 4005,
  /** The node is leaving or stopping. */
  goingAway: 4006,
  /** No frame arrived for too long. */
  idle: 4007,
  /** The handshake did not finish before its deadline. */
  handshakeTimeout: 4008,
  /** Handling the peer's input failed inside this node (a bug); the connection is dropped, the node lives on. */
  internalError: 4011,
  /** The peer sent faster than its rate limit allows, repeatedly. */
  rateLimited: 4029,
} as const;
