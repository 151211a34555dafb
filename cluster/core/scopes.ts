/**
 * Client authorization: what a token may do once it has authenticated. Authentication (a valid token)
 * only says who the client is; a token's scopes say what it may reach, as etcd's RBAC roles or
 * Kubernetes' RBAC verbs do. A node's actors are internal unless a scope exposes them, and the
 * protocol that components speak among themselves is never accepted from a client at all.
 *
 * Scopes (`Scope`):
 *   admin             everything a client can do, including the admin API (supervisor.*, deadLetters.*,
 *                     raft.transferLeader, raft.changeMembership) and paths under /system
 *   tree:read         the supervision tree (client `tree`, HTTP /api/tree)
 *   members:read      the membership table and its events (client `members`, subscribe 'membership', /api/members)
 *   events:read       lifecycle events (subscribe 'lifecycle', /api/events)
 *   kv:read           KV reads: kv.read, kv.watch, kv.request with a transaction of ranges only, raft.status, raft.digest
 *   kv:write          KV writes: any other kv.request (puts, deletes, leases, compaction), kv.leaseKeepAlive (a failed compare answers
 *                     with its failure branch, so kv:write also reveals the values it is used on)
 *   send:<pattern>    tell and ask to actors whose path matches the pattern, on any node
 *
 * Path patterns: an absolute path of segments split on '/'. A literal segment matches itself, `*`
 * matches exactly one segment, and `**`, allowed only as the last segment, matches one or more
 * segments (everything below the prefix, not the prefix itself). Partial wildcards (`app-*`) are not
 * supported. `send:/root/app/*` matches /root/app/x but not /root/app or /root/app/x/y;
 * `send:/root/app/**` matches /root/app/x and /root/app/x/y but not /root/app. No send scope ever
 * matches a path under /system: those are reached with `admin` only.
 *
 * Token declarations (`parseTokenSpecs`): entries separated by ';', each `[name=]secret[:scope,scope...]`.
 * An entry without scopes is an admin token (what a bare `--token X` has always meant); a missing name
 * becomes `token<n>`. A secret may not contain ':', ';', '=', ',' or white space. For compatibility, a
 * value with none of ';', ':' and '=' is a comma-separated list of admin secrets.
 *
 *   TROUPE_TOKENS='ops=Yq3...:admin;app=Kf9...:kv:read,kv:write,send:/root/app/**;viewer=Zr2...:tree:read,members:read'
 *
 * Pure: no I/O, no clock. The node shell (client-server.ts, http.ts) asks these functions and answers
 * a refusal with a FORBIDDEN error.
 */
import { TroupeError } from '../../runtime/index.js';

/** A token declaration or scope that does not parse (`INVALID_TOKEN_SPEC`, `INVALID_SCOPE`). */
export class TokenSpecError extends TroupeError {
  declare readonly code: 'INVALID_TOKEN_SPEC' | 'INVALID_SCOPE';

  constructor(code: 'INVALID_TOKEN_SPEC' | 'INVALID_SCOPE', message: string, options: { context?: Record<string, unknown> } = {}) {
    super(code, message, options);
  }
}

/** A parsed scope. */
export type Scope =
  | { readonly kind: 'admin' | 'tree:read' | 'members:read' | 'events:read' | 'kv:read' | 'kv:write' }
  | { readonly kind: 'send'; readonly pattern: PathPattern };

/** A path pattern: literal segments and wildcards, `**` only last. */
export interface PathPattern {
  readonly source: string;
  readonly segments: readonly string[];
}

/** One configured client token. */
export interface TokenSpec {
  /** What logs and metrics call the token (never the secret). */
  readonly name: string;
  readonly secret: string;
  readonly scopes: readonly Scope[];
}

/** What an authenticated client may do: its token's name and scopes. */
export interface Grant {
  readonly name: string;
  readonly scopes: readonly Scope[];
}

/** The outcome of an authorization check. */
export type Authorization = { readonly ok: true } | { readonly ok: false; readonly code: 'FORBIDDEN'; readonly message: string };

/** Client operations that are not sends. */
export type ReadOperation = 'tree' | 'members' | 'subscribe:lifecycle' | 'subscribe:membership';

/** Bounds of a token declaration; a longer one is refused with INVALID_TOKEN_SPEC. */
export const tokenSpecLimits = {
  /** Tokens per node. */
  tokensMax: 256,
  /** Scopes per token. */
  scopesPerTokenMax: 64,
  /** Length of a token name. */
  nameLengthMax: 64,
  /** Length of a secret (as the client hello allows, client-frames.ts). */
  secretLengthMax: 512,
  /** Segments in a path pattern. */
  patternSegmentsMax: 32,
} as const;

const simpleScopes = ['admin', 'tree:read', 'members:read', 'events:read', 'kv:read', 'kv:write'] as const;
const namePattern = /^[A-Za-z0-9_.-]+$/;
const secretPattern = /^[^:;=,\s]+$/;
const segmentPattern = /^[A-Za-z0-9_.~@$+-]+$/;

/**
 * Message types components exchange among themselves. A client is refused these whatever its scopes:
 * peer protocol is accepted only from authenticated peer links (DESIGN.md section 5).
 */
const protocolPrefixes = ['raft.', 'mvba.', 'cluster.', 'membership.', 'supervisor.', 'deadLetters.'] as const;
/** Exact internal message types without a prefix: death-watch notices. */
const protocolTypes: ReadonlySet<string> = new Set(['terminated']);
/** The documented admin API among the protocol prefixes: admin tokens only. */
const adminTypes: ReadonlySet<string> = new Set([
  'supervisor.children', 'supervisor.startChild', 'supervisor.stopChild', 'deadLetters.list', 'raft.transferLeader', 'raft.changeMembership',
]);
/** Read-only operator requests to a Raft replica: kv:read suffices. */
const kvStatusTypes: ReadonlySet<string> = new Set(['raft.status', 'raft.digest']);
/** KV requests that only read: watch polls (a transaction of ranges only is checked by its ops). */
const kvReadTypes: ReadonlySet<string> = new Set(['kv.read', 'kv.watch']);

function invalidScope(message: string, context: Record<string, unknown> = {}): never {
  throw new TokenSpecError('INVALID_SCOPE', message, { context });
}

function invalidSpec(message: string): never {
  throw new TokenSpecError('INVALID_TOKEN_SPEC', message);
}

/** Parses a path pattern; throws INVALID_SCOPE. */
export function parsePathPattern(source: string): PathPattern {
  if (!source.startsWith('/') || source.length === 1) invalidScope(`path pattern ${JSON.stringify(source)} must be an absolute path below /`);
  const segments = source.slice(1).split('/');
  if (segments.length > tokenSpecLimits.patternSegmentsMax) invalidScope(`path pattern has more than ${tokenSpecLimits.patternSegmentsMax} segments`);
  segments.forEach((segment, position) => {
    if (segment === '**') {
      if (position !== segments.length - 1) invalidScope(`'**' may only be the last segment of ${JSON.stringify(source)}`);
    } else if (segment !== '*' && !segmentPattern.test(segment)) {
      invalidScope(`segment ${JSON.stringify(segment)} of ${JSON.stringify(source)} is neither a name, '*' nor '**'`);
    }
  });
  return { source, segments };
}

/** Parses one scope; throws INVALID_SCOPE naming what is wrong. */
export function parseScope(text: string): Scope {
  const trimmed = text.trim();
  if ((simpleScopes as readonly string[]).includes(trimmed)) return { kind: trimmed as (typeof simpleScopes)[number] };
  if (trimmed.startsWith('send:')) return { kind: 'send', pattern: parsePathPattern(trimmed.slice('send:'.length)) };
  return invalidScope(`unknown scope ${JSON.stringify(trimmed)} (expected one of ${simpleScopes.join(', ')} or send:<path pattern>)`, { scope: trimmed });
}

/** Parses a token declaration (see the file comment); throws INVALID_TOKEN_SPEC or INVALID_SCOPE. */
export function parseTokenSpecs(value: string): TokenSpec[] {
  const trimmed = value.trim();
  if (trimmed === '') return [];
  const entries = /[;:=]/.test(trimmed) ? trimmed.split(';') : trimmed.split(',');
  const specs = entries.map((entry) => entry.trim()).filter((entry) => entry !== '').map((entry, position) => parseTokenEntry(entry, position + 1));
  if (specs.length > tokenSpecLimits.tokensMax) invalidSpec(`more than ${tokenSpecLimits.tokensMax} tokens`);
  return checkTokenSpecs(specs);
}

function parseTokenEntry(entry: string, position: number): TokenSpec {
  const equals = entry.indexOf('=');
  const name = equals < 0 ? `token${position}` : entry.slice(0, equals).trim();
  const rest = equals < 0 ? entry : entry.slice(equals + 1);
  const colon = rest.indexOf(':');
  const secret = (colon < 0 ? rest : rest.slice(0, colon)).trim();
  const scopeList = colon < 0 ? 'admin' : rest.slice(colon + 1);
  if (name === '' || name.length > tokenSpecLimits.nameLengthMax || !namePattern.test(name)) {
    invalidSpec(`token entry ${position}: name must be 1-${tokenSpecLimits.nameLengthMax} of A-Z a-z 0-9 _ . -`);
  }
  if (secret === '' || secret.length > tokenSpecLimits.secretLengthMax || !secretPattern.test(secret)) {
    invalidSpec(`token ${name}: secret must be 1-${tokenSpecLimits.secretLengthMax} characters without ':', ';', '=', ',' or white space`);
  }
  const texts = scopeList.split(',').map((scope) => scope.trim()).filter((scope) => scope !== '');
  if (texts.length === 0) invalidSpec(`token ${name}: no scopes after ':'`);
  if (texts.length > tokenSpecLimits.scopesPerTokenMax) invalidSpec(`token ${name}: more than ${tokenSpecLimits.scopesPerTokenMax} scopes`);
  return { name, secret, scopes: texts.map(parseScope) };
}

/** Checks a list of tokens given as data (names and secrets unique, scopes well formed); returns it. */
export function checkTokenSpecs(specs: readonly TokenSpec[]): TokenSpec[] {
  const names = new Set<string>();
  const secrets = new Set<string>();
  for (const spec of specs) {
    if (names.has(spec.name)) invalidSpec(`token name ${spec.name} is declared twice`);
    if (secrets.has(spec.secret)) invalidSpec(`token ${spec.name} reuses the secret of another token`);
    if (spec.secret === '' || spec.secret.length > tokenSpecLimits.secretLengthMax) invalidSpec(`token ${spec.name}: secret must be 1-${tokenSpecLimits.secretLengthMax} characters`);
    names.add(spec.name);
    secrets.add(spec.secret);
  }
  return [...specs];
}

/** An admin token named `name` (a bare secret, as `--token X` and `tokens: ['X']` declare). */
export function adminToken(name: string, secret: string): TokenSpec {
  return { name, secret, scopes: [{ kind: 'admin' }] };
}

/** True when `path` (an actor path) matches `pattern`. */
export function matchesPath(pattern: PathPattern, path: string): boolean {
  if (!path.startsWith('/')) return false;
  const segments = path.slice(1).split('/');
  const wanted = pattern.segments;
  const last = wanted[wanted.length - 1];
  if (last === '**') {
    if (segments.length < wanted.length) return false;
  } else if (segments.length !== wanted.length) {
    return false;
  }
  for (let position = 0; position < wanted.length; position += 1) {
    const segment = wanted[position]!;
    if (segment === '**') return true;
    if (segment !== '*' && segment !== segments[position]) return false;
  }
  return true;
}

function has(grant: Grant, kind: Scope['kind']): boolean {
  return grant.scopes.some((scope) => scope.kind === kind || scope.kind === 'admin');
}

function forbidden(grant: Grant, message: string): Authorization {
  return { ok: false, code: 'FORBIDDEN', message: `token ${grant.name}: ${message}` };
}

/** True for a path at or under /system (the kernel's own actors). */
export function isSystemPath(path: string): boolean {
  return path === '/system' || path.startsWith('/system/');
}

/** The message's `type` when it is an object with a string one. */
function typeOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const type = (body as { type?: unknown }).type;
  return typeof type === 'string' ? type : undefined;
}

/** True for a message type components exchange among themselves (never from a client). */
export function isProtocolType(type: string): boolean {
  if (adminTypes.has(type) || kvStatusTypes.has(type)) return false;
  return protocolTypes.has(type) || protocolPrefixes.some((prefix) => type.startsWith(prefix));
}

/** The scope a KV request needs, by its op; undefined for a message that is not a KV request. */
export function kvScopeOf(body: unknown): 'kv:read' | 'kv:write' | undefined {
  const type = typeOf(body);
  if (type !== undefined && (kvReadTypes.has(type) || kvStatusTypes.has(type))) return 'kv:read';
  if (type === 'kv.leaseKeepAlive') return 'kv:write';
  if (type !== 'kv.request') return undefined;
  // Through the log, only a transaction whose ops are all ranges is a read; anything else may write.
  const command = (body as { command?: unknown }).command as { type?: unknown; txn?: { success?: unknown; failure?: unknown } } | null | undefined;
  if (typeof command !== 'object' || command === null || command.type !== 'txn' || typeof command.txn !== 'object' || command.txn === null) return 'kv:write';
  const ops = [command.txn.success ?? [], command.txn.failure ?? []];
  const readOnly = ops.every((list) => Array.isArray(list) && list.every((op: unknown) => typeof op === 'object' && op !== null && (op as { type?: unknown }).type === 'range'));
  return readOnly ? 'kv:read' : 'kv:write';
}

/**
 * May `grant` tell or ask `body` to the actor at `path`? In order: protocol messages are refused to
 * every client; /system and the admin API need `admin`; KV requests need kv:read or kv:write by their
 * op; anything else needs a send scope whose pattern matches the path.
 */
export function authorizeSend(grant: Grant, path: string, body: unknown): Authorization {
  const type = typeOf(body);
  if (type !== undefined && isProtocolType(type)) return forbidden(grant, `${type} is internal protocol, accepted only from peer links`);
  const admin = has(grant, 'admin');
  if (isSystemPath(path) && !admin) return forbidden(grant, `${path} is internal (admin only)`);
  if (type !== undefined && adminTypes.has(type) && !admin) return forbidden(grant, `${type} needs the admin scope`);
  if (admin) return { ok: true };
  const kvScope = kvScopeOf(body);
  if (kvScope !== undefined) return has(grant, kvScope) ? { ok: true } : forbidden(grant, `${type} needs the ${kvScope} scope`);
  const allowed = grant.scopes.some((scope) => scope.kind === 'send' && matchesPath(scope.pattern, path));
  return allowed ? { ok: true } : forbidden(grant, `no send scope matches ${path}`);
}

/** May `grant` read the tree, the members, or subscribe to a topic? */
export function authorizeRead(grant: Grant, operation: ReadOperation): Authorization {
  const needed = operation === 'tree' ? 'tree:read' : operation === 'subscribe:lifecycle' ? 'events:read' : 'members:read';
  return has(grant, needed) ? { ok: true } : forbidden(grant, `${operation} needs the ${needed} scope`);
}

/** A scope as text, as it was declared. */
export function formatScope(scope: Scope): string {
  return scope.kind === 'send' ? `send:${scope.pattern.source}` : scope.kind;
}
