/**
 * Child specs: validated plain data describing how a supervisor starts, restarts and stops a child
 * (OTP's child_spec). A spec is checked once, when it is given to a supervisor; a bad spec is refused
 * with INVALID_CHILD_SPEC naming the field.
 */
import { TroupeError, limits, validateName, type AnyBehaviour, type MailboxOptions } from '../runtime/index.js';

/** `permanent`: always restarted. `transient`: restarted only after a crash. `temporary`: never restarted. */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/** Redelivery of the message that crashed the child to its next incarnation. */
export interface RetryPolicy {
  /** How many times the crashing message is redelivered before it goes to dead letters as poison. */
  readonly maxAttempts: number;
}

/** How a supervisor runs one child. */
export interface ChildSpec {
  /** Unique among its siblings; the child's path is `<supervisor path>/<id>`. */
  readonly id: string;
  /** The child's behaviour (for `kind: 'supervisor'`, a behaviour made by `supervisor(...)`). */
  readonly start: AnyBehaviour;
  readonly restart: RestartType;
  /** Time the child gets to run `onStop` before it is abandoned. */
  readonly shutdownMs: number;
  readonly kind: 'worker' | 'supervisor';
  readonly retry?: RetryPolicy;
  readonly mailbox?: MailboxOptions;
}

/** A child spec that failed validation. */
export class InvalidChildSpecError extends TroupeError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('INVALID_CHILD_SPEC', message, { context });
  }
}

const restartTypes: ReadonlySet<string> = new Set(['permanent', 'transient', 'temporary']);
const kinds: ReadonlySet<string> = new Set(['worker', 'supervisor']);

/** Validates a child spec (it may come from untrusted configuration); returns it unchanged when valid. */
export function validateChildSpec(spec: unknown): ChildSpec {
  if (typeof spec !== 'object' || spec === null) throw new InvalidChildSpecError('child spec must be an object');
  const candidate = spec as Record<string, unknown>;
  const id = candidate.id;
  if (typeof id !== 'string') throw new InvalidChildSpecError('child spec id must be a string', { id });
  try {
    validateName(id);
  } catch {
    throw new InvalidChildSpecError(`child spec id ${JSON.stringify(id)} is not a valid actor name`, { id });
  }
  const start = candidate.start as Partial<AnyBehaviour> | undefined;
  if (typeof start !== 'object' || start === null || typeof start.init !== 'function' || typeof start.receive !== 'function' || typeof start.name !== 'string') {
    throw new InvalidChildSpecError(`child ${id}: start must be a behaviour { name, init, receive }`, { id });
  }
  if (typeof candidate.restart !== 'string' || !restartTypes.has(candidate.restart)) {
    throw new InvalidChildSpecError(`child ${id}: restart must be permanent, transient or temporary`, { id, restart: candidate.restart });
  }
  if (typeof candidate.kind !== 'string' || !kinds.has(candidate.kind)) {
    throw new InvalidChildSpecError(`child ${id}: kind must be worker or supervisor`, { id, kind: candidate.kind });
  }
  const shutdownMs = candidate.shutdownMs;
  if (typeof shutdownMs !== 'number' || !Number.isInteger(shutdownMs) || shutdownMs < 0 || shutdownMs > limits.askTimeoutMsMax) {
    throw new InvalidChildSpecError(`child ${id}: shutdownMs must be an integer in [0, ${limits.askTimeoutMsMax}]`, { id, shutdownMs });
  }
  if (candidate.retry !== undefined) {
    const retry = candidate.retry as Partial<RetryPolicy> | null;
    if (typeof retry !== 'object' || retry === null || typeof retry.maxAttempts !== 'number' || !Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 0 || retry.maxAttempts > 1000) {
      throw new InvalidChildSpecError(`child ${id}: retry.maxAttempts must be an integer in [0, 1000]`, { id });
    }
  }
  if (candidate.mailbox !== undefined) {
    const mailbox = candidate.mailbox as Partial<MailboxOptions> | null;
    if (typeof mailbox !== 'object' || mailbox === null || typeof mailbox.capacity !== 'number' || !Number.isInteger(mailbox.capacity) || mailbox.capacity < 1 || mailbox.overflow !== 'reject') {
      throw new InvalidChildSpecError(`child ${id}: mailbox must be { capacity: positive integer, overflow: 'reject' }`, { id });
    }
  }
  return spec as ChildSpec;
}
