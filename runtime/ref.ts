/**
 * Refs and envelopes: plain data, CBOR-encodable, location-transparent (DESIGN.md section 2).
 */
import { InvalidArgumentError } from './errors.js';
import { limits } from './limits.js';

/** The address of an actor: the node it lives on and its path in that node's tree. */
export interface Ref {
  readonly node: string;
  readonly path: string;
}

/**
 * What travels between nodes. `id` is unique per sender and is what dedupe and idempotency build on.
 * `corr` correlates a reply with its ask; `replyTo` is where the reply goes.
 */
export interface Envelope {
  readonly id: string;
  readonly from?: Ref;
  readonly to: Ref;
  readonly body: unknown;
  readonly corr?: string;
  readonly replyTo?: Ref;
  readonly deadlineMs?: number;
  readonly attempt?: number;
  /** Set on a reply envelope when the ask failed (the body is then absent). */
  readonly failure?: { readonly code: string; readonly message: string };
}

const pathPattern = /^(\/[A-Za-z0-9._~:@$+=-]+)+$/;
const namePattern = /^[A-Za-z0-9._~:@$+=-]+$/;

/** Builds a ref, validating the node name and path. */
export function ref(node: string, path: string): Ref {
  validateNodeName(node);
  validatePath(path);
  return { node, path };
}

/** True when `value` has the shape of a Ref (used on untrusted input). */
export function isRef(value: unknown): value is Ref {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.node === 'string' && typeof candidate.path === 'string' &&
    namePattern.test(candidate.node) && pathPattern.test(candidate.path) && candidate.path.length <= limits.nameLengthMax * 8;
}

/** Throws INVALID_ARGUMENT unless `name` is a valid single path segment. */
export function validateName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > limits.nameLengthMax || !namePattern.test(name)) {
    throw new InvalidArgumentError(`invalid actor name ${JSON.stringify(name)}: use 1-${limits.nameLengthMax} of [A-Za-z0-9._~:@$+=-]`, { name });
  }
}

/** Throws INVALID_ARGUMENT unless `node` is a valid node name. */
export function validateNodeName(node: string): void {
  if (typeof node !== 'string' || node.length === 0 || node.length > limits.nameLengthMax || !namePattern.test(node)) {
    throw new InvalidArgumentError(`invalid node name ${JSON.stringify(node)}`, { node });
  }
}

/** Throws INVALID_ARGUMENT unless `path` is an absolute path of valid segments. */
export function validatePath(path: string): void {
  if (typeof path !== 'string' || path.length > limits.nameLengthMax * 8 || !pathPattern.test(path)) {
    throw new InvalidArgumentError(`invalid actor path ${JSON.stringify(path)}`, { path });
  }
}

/** The path of a child named `name` under `parentPath`. */
export function childPath(parentPath: string, name: string): string {
  validateName(name);
  return `${parentPath}/${name}`;
}

/** The parent path of `path`, or undefined for a top-level path. */
export function parentPathOf(path: string): string | undefined {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? undefined : path.slice(0, cut);
}

/** Two refs name the same actor. */
export function sameRef(a: Ref, b: Ref): boolean {
  return a.node === b.node && a.path === b.path;
}
