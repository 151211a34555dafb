/**
 * The node's structured log: one JSON line per event through `pino`, each with a stable `event` name
 * (`actor.crashed`, `supervisor.escalated`, `cluster.refused`, ...) and its fields.
 *
 * Rate-limited per event name, so a crash loop or a hostile client cannot flood the disk: each event
 * name has a token bucket (`perEventBurst` lines, refilled at `perEventPerSecond`); lines over the
 * budget are counted, not written, and the next line written for that event carries `suppressed`,
 * the number dropped since the last one. The bucket's time comes from the injected `Clock`.
 *
 * Embedded systems log nothing unless given a logger (`silentLogger`); node entry points
 * (`troupe start`, `npm start`) write to stderr at the level in `TROUPE_LOG_LEVEL` (default `info`).
 */
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';
import type { Clock } from './clock.js';

/** Severity of a log line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** Fields of one log line; `event` names what happened. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The structured log every component writes to. */
export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  fatal(event: string, fields?: LogFields): void;
  /** A logger whose lines also carry `bindings` (e.g. `{ node: 'n1' }`); it shares this one's rate limit. */
  child(bindings: LogFields): Logger;
}

/** Options for `createLogger`. */
export interface LoggerOptions {
  /** Lowest level written; `silent` writes nothing. Defaults to `TROUPE_LOG_LEVEL` or `info`. */
  readonly level?: LogLevel | 'silent';
  /** Where lines go; defaults to stderr. */
  readonly destination?: DestinationStream;
  /** Lines one event name may write in a burst before it is rate-limited. */
  readonly perEventBurst?: number;
  /** Sustained lines per second per event name. */
  readonly perEventPerSecond?: number;
  /** Time source of the rate limiter; defaults to `Date.now`. */
  readonly clock?: Pick<Clock, 'now'>;
  /** Fields on every line (e.g. `{ node: 'n1' }`). */
  readonly bindings?: LogFields;
}

/** Bounds of the per-event rate limit. */
export const logLimits = {
  /** Lines per event name in a burst; more are counted as `suppressed`. */
  perEventBurst: 20,
  /** Refill rate of the burst, lines per second per event name. */
  perEventPerSecond: 5,
  /** Distinct event names tracked by the limiter; past it the oldest bucket is forgotten. */
  eventNamesMax: 1_000,
} as const;

interface Bucket {
  tokens: number;
  refilledAtMs: number;
  suppressed: number;
}

/** Token buckets per event name, shared by a logger and its children. */
class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  constructor(
    readonly burst: number,
    readonly perSecond: number,
    readonly now: () => number,
  ) {}

  /** Returns the number suppressed before this line if it may be written, or -1 if it is over budget. */
  admit(event: string): number {
    const nowMs = this.now();
    let bucket = this.#buckets.get(event);
    if (bucket === undefined) {
      if (this.#buckets.size >= logLimits.eventNamesMax) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
      bucket = { tokens: this.burst, refilledAtMs: nowMs, suppressed: 0 };
      this.#buckets.set(event, bucket);
    }
    const elapsedMs = Math.max(0, nowMs - bucket.refilledAtMs);
    bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsedMs / 1000) * this.perSecond);
    bucket.refilledAtMs = nowMs;
    if (bucket.tokens < 1) {
      bucket.suppressed += 1;
      return -1;
    }
    bucket.tokens -= 1;
    const suppressed = bucket.suppressed;
    bucket.suppressed = 0;
    return suppressed;
  }
}

class PinoBackedLogger implements Logger {
  constructor(
    readonly pinoLogger: PinoLogger,
    readonly limiter: RateLimiter,
  ) {}

  #write(level: LogLevel, event: string, fields: LogFields | undefined): void {
    if (!this.pinoLogger.isLevelEnabled(level)) return;
    const suppressed = this.limiter.admit(event);
    if (suppressed < 0) return;
    const line = suppressed > 0 ? { event, ...fields, suppressed } : { event, ...fields };
    this.pinoLogger[level](line);
  }

  debug(event: string, fields?: LogFields): void { this.#write('debug', event, fields); }
  info(event: string, fields?: LogFields): void { this.#write('info', event, fields); }
  warn(event: string, fields?: LogFields): void { this.#write('warn', event, fields); }
  error(event: string, fields?: LogFields): void { this.#write('error', event, fields); }
  fatal(event: string, fields?: LogFields): void { this.#write('fatal', event, fields); }

  child(bindings: LogFields): Logger {
    return new PinoBackedLogger(this.pinoLogger.child(bindings), this.limiter);
  }
}

/** Creates a rate-limited structured logger writing JSON lines (stderr by default). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? parseLevel(process.env.TROUPE_LOG_LEVEL) ?? 'info';
  const base = options.bindings ?? {};
  const pinoLogger = pino({ level, base: { ...base }, timestamp: pino.stdTimeFunctions.isoTime }, options.destination ?? pino.destination(2));
  const clock = options.clock;
  const now = clock === undefined ? () => Date.now() : () => clock.now();
  const limiter = new RateLimiter(options.perEventBurst ?? logLimits.perEventBurst, options.perEventPerSecond ?? logLimits.perEventPerSecond, now);
  return new PinoBackedLogger(pinoLogger, limiter);
}

/** A logger that writes nothing: the default of an embedded actor system. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  fatal: () => undefined,
  child: () => silentLogger,
};

function parseLevel(value: string | undefined): LogLevel | 'silent' | undefined {
  if (value === undefined || value === '') return undefined;
  const levels = ['debug', 'info', 'warn', 'error', 'fatal', 'silent'];
  return levels.includes(value) ? (value as LogLevel | 'silent') : undefined;
}
