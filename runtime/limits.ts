/**
 * Every bound in the runtime, in one place. A limit names its unit last and says, next to it, what
 * happens when it is reached. Components take these as defaults and accept overrides in their config.
 */
export const limits = {
  /** Largest encoded message/frame the codec accepts; larger input is refused with FRAME_TOO_LARGE. */
  frameBytesMax: 16 * 1024 * 1024,
  /** Deepest nesting of arrays/maps the codec accepts; deeper input is refused with DEPTH_EXCEEDED. */
  messageDepthMax: 64,
  /**
   * Most data items (scalars, strings, arrays, maps, keys, tags) in one decoded message, which bounds
   * the decoder's work; more are refused with ITEMS_EXCEEDED by the scan, before cbor-x builds anything.
   * Set above what a frameBytesMax-sized KV snapshot holds (about 5 items per 35-byte pair).
   */
  messageItemsMax: 4 * 1024 * 1024,
  /**
   * Largest estimated in-memory size of one decoded message (per item 16 bytes, per container 48 more,
   * per byte string 80 more plus its length, per text string two bytes per encoded byte); larger input
   * is refused with DECODED_TOO_LARGE by the scan, before any value is built.
   */
  decodedBytesMax: 128 * 1024 * 1024,
  /**
   * Longest bignum magnitude (CBOR tags 2 and 3) in bytes; longer ones are refused with BIGNUM_TOO_LARGE
   * on decode (before cbor-x's conversion, which is quadratic in the length) and on encode. Integers
   * within 64 bits never need a tag.
   */
  bignumBytesMax: 64,
  /** Default mailbox capacity; a full mailbox applies the actor's overflow policy. */
  mailboxCapacity: 10_000,
  /** Messages held for a restarting child; overflow goes to dead letters. */
  restartBufferCapacity: 1_000,
  /** Default ask deadline. */
  askTimeoutMs: 5_000,
  /** Longest ask deadline accepted. */
  askTimeoutMsMax: 10 * 60 * 1000,
  /** Dead-letter summaries kept in memory for inspection; older ones are forgotten (the counter keeps counting). */
  deadLettersKept: 1_000,
  /** Bytes the kept summaries may take; past it the oldest are forgotten. Bodies are never kept, only summaries. */
  deadLetterBytesMax: 1024 * 1024,
  /** Characters of a dead letter's preview; the rest of the message is not rendered. */
  deadLetterPreviewChars: 256,
  /** Values visited to estimate a dead letter's size; past it the size is reported as `sizeCapped`. */
  deadLetterSummaryNodesMax: 10_000,
  /** Summaries waiting for the dead-letters actor; more are counted but not kept. */
  deadLetterMailboxCapacity: 10_000,
  /** Dead-letter lifecycle events passed per interval; the rest are coalesced into one event with a count. */
  deadLetterEventsPerInterval: 10,
  deadLetterEventIntervalMs: 1_000,
  /** Path segments and names: longest accepted. */
  nameLengthMax: 200,
  /** Children per supervisor. */
  childrenPerSupervisorMax: 10_000,
  /** Default restart intensity: more than this many restarts ... */
  maxRestarts: 3,
  /** ... within this period escalates. */
  maxRestartsPeriodMs: 5_000,
  /** Default restart backoff. */
  backoffMsMin: 10,
  backoffMsMax: 10_000,
  backoffJitter: 0.2,
  /** Default time a child gets to stop before it is abandoned. */
  shutdownMs: 5_000,
} as const;

export type Limits = typeof limits;
