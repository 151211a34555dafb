/**
 * Small, fast checks for untrusted decoded values. Each returns the value narrowed or throws a
 * `FrameProblem`, which the frame parsers turn into a typed `{ ok: false, code }` result; nothing here
 * is ever thrown past a parser.
 */
import { isRef, type Ref } from '../../runtime/index.js';

/** A frame that failed validation: FRAME_INVALID (bad field) or FRAME_UNKNOWN (unknown type). */
export class FrameProblem {
  constructor(readonly code: 'FRAME_INVALID' | 'FRAME_UNKNOWN', readonly message: string) {}
}

/** The result of parsing one untrusted frame. */
export type Parsed<Frame> = { readonly ok: true; readonly frame: Frame } | { readonly ok: false; readonly code: 'FRAME_INVALID' | 'FRAME_UNKNOWN'; readonly message: string };

/** Runs `parse`, turning a FrameProblem into a typed failure. Other exceptions are bugs and propagate. */
export function guarded<Frame>(parse: () => Frame): Parsed<Frame> {
  try {
    return { ok: true, frame: parse() };
  } catch (problem) {
    if (problem instanceof FrameProblem) return { ok: false, code: problem.code, message: problem.message };
    throw problem;
  }
}

/** The value as a string-keyed record. */
export function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new FrameProblem('FRAME_INVALID', `${what} must be a map`);
  }
  return value as Record<string, unknown>;
}

/** A string of at most `lengthMax` characters (and at least one unless `emptyAllowed`). */
export function text(value: unknown, what: string, lengthMax: number, emptyAllowed = false): string {
  if (typeof value !== 'string' || value.length > lengthMax || (!emptyAllowed && value.length === 0)) {
    throw new FrameProblem('FRAME_INVALID', `${what} must be a string of ${emptyAllowed ? 0 : 1}-${lengthMax} characters`);
  }
  return value;
}

/** A safe integer in [minimum, maximum]. */
export function integer(value: unknown, what: string, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum || value > maximum) {
    throw new FrameProblem('FRAME_INVALID', `${what} must be an integer in [${minimum}, ${maximum}]`);
  }
  return value;
}

/** A finite number. */
export function finite(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new FrameProblem('FRAME_INVALID', `${what} must be a finite number`);
  return value;
}

/** A byte string of exactly `length` bytes. */
export function bytes(value: unknown, what: string, length: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) throw new FrameProblem('FRAME_INVALID', `${what} must be ${length} bytes`);
  return value;
}

/** A valid Ref. */
export function refOf(value: unknown, what: string): Ref {
  if (!isRef(value)) throw new FrameProblem('FRAME_INVALID', `${what} must be a ref { node, path }`);
  return { node: value.node, path: value.path };
}

/** One of the allowed string literals. */
export function oneOf<const Choice extends string>(value: unknown, what: string, choices: readonly Choice[]): Choice {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new FrameProblem('FRAME_INVALID', `${what} must be one of ${choices.join(', ')}`);
  }
  return value as Choice;
}
