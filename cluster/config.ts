/**
 * Every tunable of the cluster layer in one validated record, with its default and what happens at the
 * bound. `resolveSettings` merges overrides and refuses nonsense (INVALID_ARGUMENT) before anything
 * starts, so no component has to re-check its numbers.
 */
import { ClusterError } from './errors.js';

/** Failure-detector thresholds (phi accrual, Hayashibara et al. 2004). */
export interface DetectorSettings {
  /** phi at which a member becomes `suspect`. */
  readonly suspectPhi: number;
  /** phi at which a member is declared `down`. */
  readonly downPhi: number;
  /** Heartbeat intervals remembered for the estimate; older ones are forgotten. */
  readonly windowSize: number;
  /** Floor of the interval standard deviation, so a very regular peer is not judged too harshly. */
  readonly stdDevMsMin: number;
  /** Extra pause tolerated on top of the observed mean (GC pauses, scheduling). */
  readonly acceptablePauseMs: number;
}

/** All settings of a cluster node's transport, membership and delivery. */
export interface ClusterSettings {
  /** How often each link sends a heartbeat. */
  readonly heartbeatIntervalMs: number;
  readonly detector: DetectorSettings;
  /** How often membership is gossiped to every peer (changes are also pushed at once). */
  readonly gossipIntervalMs: number;
  /** A member down this long is removed and no longer dialled. */
  readonly removeAfterDownMs: number;
  /** A connection that has not authenticated by then is closed with HANDSHAKE_TIMEOUT. */
  readonly handshakeTimeoutMs: number;
  /** Largest WebSocket message before authentication; larger ones close the connection. */
  readonly handshakeBytesMax: number;
  /** Largest WebSocket message on a link (the `ws` maxPayload); larger ones close it with 1009. */
  readonly frameBytesMax: number;
  /** Frames in one WebSocket message; more is a protocol error. */
  readonly framesPerMessageMax: number;
  /** A batch is cut at this many bytes ... */
  readonly batchBytesMax: number;
  /** ... or this many frames. */
  readonly batchFramesMax: number;
  /** Bulk frames are held back while the socket has this many bytes buffered (backpressure). */
  readonly bufferedBytesHighWater: number;
  /** Frames waiting per peer; when full, new at-most-once messages are dropped (SEND_QUEUE_FULL). */
  readonly sendQueueFramesMax: number;
  /** Bytes waiting per peer; same overflow policy as `sendQueueFramesMax`. */
  readonly sendQueueBytesMax: number;
  /** Reconnect backoff: first delay, ceiling, and jitter fraction. */
  readonly reconnectMsMin: number;
  readonly reconnectMsMax: number;
  readonly reconnectJitter: number;
  /** A link with no inbound frame for this long is closed and redialled (half-open sockets). */
  readonly linkIdleMs: number;
  /** At-least-once: first redelivery delay and its ceiling (doubling in between). */
  readonly redeliverMsMin: number;
  readonly redeliverMsMax: number;
  /** At-least-once: unacknowledged messages kept per peer on the bulk lane; more are refused with OUTBOX_FULL. */
  readonly outboxMax: number;
  /**
   * Unacknowledged death-watch notices (watch, unwatch, terminated) kept per peer on the notice lane
   * (core/lanes.ts), apart from bulk data; more are refused with OUTBOX_FULL, and a refused watch
   * tells its watcher at once that the target is unreachable.
   */
  readonly noticeOutboxMax: number;
  /**
   * At-least-once, receiving side: reliable frames whose target mailbox is full are parked (and
   * acknowledged) so the stream to other actors goes on; at most this many per sending node ...
   */
  readonly parkedMax: number;
  /** ... and this many bytes. A frame finding the lot full is dead-lettered with MAILBOX_FULL and the sender is told. */
  readonly parkedBytesMax: number;
  /** Parked frames are retried after this delay, doubling per refusal up to `parkRetryMsMax`. */
  readonly parkRetryMsMin: number;
  readonly parkRetryMsMax: number;
  /** Watches one peer may hold on this node's actors; more are refused (TOO_MANY_WATCHES, logged, the peer told). */
  readonly watchesPerPeerMax: number;
  /** At-least-once: envelope ids remembered per sending node for deduplication. */
  readonly dedupeWindow: number;
  /** Acks are coalesced for this long (or until `ackEvery` deliveries) before they are sent. */
  readonly ackDelayMs: number;
  readonly ackEvery: number;
  /** Inbound WebSocket messages per second per connection (token bucket, burst = one second). */
  readonly inboundMessagesPerSecond: number;
  /** Inbound bytes per second per connection. */
  readonly inboundBytesPerSecond: number;
  /** Bad frames tolerated per connection within `errorWindowMs` before it is closed. */
  readonly errorsMax: number;
  readonly errorWindowMs: number;
  /** Client requests per second per client connection; excess gets RATE_LIMITED replies. */
  readonly clientRequestsPerSecond: number;
  /** Client asks in flight per connection; excess gets TOO_MANY_REQUESTS. */
  readonly clientAsksInFlightMax: number;
  /** Authenticated client connections per node; one more is refused with TOO_MANY_CLIENTS at its hello. */
  readonly clientsMax: number;
  /**
   * Sockets (node and client paths) not yet authenticated, in total; past it an upgrade is refused
   * with HTTP 503 (TOO_MANY_HANDSHAKES) and logged. Authenticated clients do not count here.
   */
  readonly unauthenticatedMax: number;
  /** Unauthenticated sockets per remote address; same refusal at the bound. */
  readonly unauthenticatedPerAddressMax: number;
  /** HTTP: a request not fully received by then is dropped (node's `requestTimeout`). */
  readonly httpRequestTimeoutMs: number;
  /** TCP connections the port holds at once (HTTP, links, clients); more are closed on accept. */
  readonly connectionsMax: number;
  /** Lifecycle events queued for one subscriber (client or event stream) before it is dropped (SLOW_SUBSCRIBER) ... */
  readonly subscriberEventsMax: number;
  /** ... or bytes queued for it (its socket's buffer). The subscriber gets a final notice and a counter counts it. */
  readonly subscriberBytesMax: number;
  /** Members in a gossip frame (and in the table). */
  readonly membersMax: number;
  /** Deadline for a peer's tree when a cluster-wide tree is assembled. */
  readonly treeTimeoutMs: number;
  /** Graceful leave: longest wait for queues and outboxes to drain before stopping. */
  readonly drainMs: number;
  /**
   * An idle keep-alive HTTP connection is closed after this long. Clients pool sockets and close them
   * a little before the server's advertised timeout (`Keep-Alive: timeout=`); the node's default of
   * 5 s left a busy client too little margin, and its next request met a socket the server had just closed.
   */
  readonly httpKeepAliveMs: number;
  /** A request whose headers have not all arrived by then gets 408 and its connection is closed (slow senders); must exceed `httpKeepAliveMs`. */
  readonly httpHeadersTimeoutMs: number;
}

/** Defaults for a LAN cluster. */
export const defaultSettings: ClusterSettings = {
  heartbeatIntervalMs: 500,
  detector: { suspectPhi: 5, downPhi: 10, windowSize: 100, stdDevMsMin: 100, acceptablePauseMs: 500 },
  gossipIntervalMs: 2_000,
  removeAfterDownMs: 5 * 60_000,
  handshakeTimeoutMs: 3_000,
  handshakeBytesMax: 4_096,
  frameBytesMax: 8 * 1024 * 1024,
  framesPerMessageMax: 100_000,
  batchBytesMax: 256 * 1024,
  batchFramesMax: 8_192,
  bufferedBytesHighWater: 1024 * 1024,
  sendQueueFramesMax: 200_000,
  sendQueueBytesMax: 64 * 1024 * 1024,
  reconnectMsMin: 100,
  reconnectMsMax: 5_000,
  reconnectJitter: 0.2,
  linkIdleMs: 5_000,
  redeliverMsMin: 300,
  redeliverMsMax: 5_000,
  outboxMax: 100_000,
  noticeOutboxMax: 65_536,
  parkedMax: 10_000,
  parkedBytesMax: 32 * 1024 * 1024,
  parkRetryMsMin: 20,
  parkRetryMsMax: 2_000,
  watchesPerPeerMax: 100_000,
  dedupeWindow: 65_536,
  ackDelayMs: 10,
  ackEvery: 512,
  inboundMessagesPerSecond: 50_000,
  inboundBytesPerSecond: 512 * 1024 * 1024,
  errorsMax: 20,
  errorWindowMs: 10_000,
  clientRequestsPerSecond: 5_000,
  clientAsksInFlightMax: 1_000,
  clientsMax: 1_000,
  unauthenticatedMax: 512,
  unauthenticatedPerAddressMax: 64,
  httpRequestTimeoutMs: 300_000,
  connectionsMax: 4_096,
  subscriberEventsMax: 1_000,
  subscriberBytesMax: 1024 * 1024,
  membersMax: 1_000,
  treeTimeoutMs: 2_000,
  drainMs: 5_000,
  httpKeepAliveMs: 30_000,
  httpHeadersTimeoutMs: 40_000,
};

/** Settings overrides; the detector may be overridden field by field. */
export type SettingsOverrides = Partial<Omit<ClusterSettings, 'detector'>> & { readonly detector?: Partial<DetectorSettings> };

/** Merges `overrides` into the defaults and validates the result. */
export function resolveSettings(overrides: SettingsOverrides = {}): ClusterSettings {
  const settings: ClusterSettings = {
    ...defaultSettings,
    ...overrides,
    detector: { ...defaultSettings.detector, ...overrides.detector },
  };
  for (const [key, value] of Object.entries(settings)) {
    if (key === 'detector' || key === 'reconnectJitter') continue;
    requirePositive(key, value);
  }
  for (const [key, value] of Object.entries(settings.detector)) {
    if (key === 'acceptablePauseMs') requireNonNegative(`detector.${key}`, value);
    else requirePositive(`detector.${key}`, value);
  }
  if (settings.detector.downPhi < settings.detector.suspectPhi) invalid('detector.downPhi must be at least detector.suspectPhi');
  if (!(settings.reconnectJitter >= 0 && settings.reconnectJitter < 1)) invalid('reconnectJitter must be in [0, 1)');
  if (settings.reconnectMsMax < settings.reconnectMsMin) invalid('reconnectMsMax must be at least reconnectMsMin');
  if (settings.redeliverMsMax < settings.redeliverMsMin) invalid('redeliverMsMax must be at least redeliverMsMin');
  if (settings.parkRetryMsMax < settings.parkRetryMsMin) invalid('parkRetryMsMax must be at least parkRetryMsMin');
  if (settings.batchBytesMax > settings.frameBytesMax / 2) invalid('batchBytesMax must be at most half of frameBytesMax');
  if (settings.httpRequestTimeoutMs < settings.httpHeadersTimeoutMs) invalid('httpRequestTimeoutMs must be at least httpHeadersTimeoutMs');
  if (settings.linkIdleMs <= settings.heartbeatIntervalMs * 2) invalid('linkIdleMs must exceed two heartbeat intervals');
  if (settings.httpHeadersTimeoutMs <= settings.httpKeepAliveMs) invalid('httpHeadersTimeoutMs must exceed httpKeepAliveMs');
  return settings;
}

function requirePositive(key: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) invalid(`${key} must be a positive number`, { key, value });
}

function requireNonNegative(key: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) invalid(`${key} must be a non-negative number`, { key, value });
}

function invalid(message: string, context: Record<string, unknown> = {}): never {
  throw new ClusterError('INVALID_ARGUMENT', message, { context });
}
