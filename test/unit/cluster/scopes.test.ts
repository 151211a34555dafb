import { describe, expect, it } from 'vitest';
import {
  authorizeRead, authorizeSend, formatScope, isProtocolType, kvScopeOf, matchesPath, parsePathPattern, parseScope, parseTokenSpecs,
  TokenSpecError, type Grant, type TokenSpec,
} from '../../../cluster/core/scopes.js';
import { parseArgs } from '../../../cluster/args.js';
import { startBooleanFlags, startOptions, startValueFlags } from '../../../cluster/start.js';

const grantOf = (...scopes: string[]): Grant => ({ name: 't', scopes: scopes.map(parseScope) });

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(TokenSpecError);
    return (error as TokenSpecError).code;
  }
}

describe('path patterns', () => {
  it('match * as exactly one segment', () => {
    const pattern = parsePathPattern('/root/app/*');
    expect(matchesPath(pattern, '/root/app/x')).toBe(true);
    expect(matchesPath(pattern, '/root/app')).toBe(false);
    expect(matchesPath(pattern, '/root/app/x/y')).toBe(false);
    expect(matchesPath(pattern, '/root/raft')).toBe(false);
    expect(matchesPath(parsePathPattern('/root/*/worker'), '/root/pool/worker')).toBe(true);
    expect(matchesPath(parsePathPattern('/root/*/worker'), '/root/pool/other')).toBe(false);
  });

  it('match ** as one or more trailing segments, never the prefix itself', () => {
    const pattern = parsePathPattern('/root/app/**');
    expect(matchesPath(pattern, '/root/app/x')).toBe(true);
    expect(matchesPath(pattern, '/root/app/x/y/z')).toBe(true);
    expect(matchesPath(pattern, '/root/app')).toBe(false);
    expect(matchesPath(pattern, '/root/application/x')).toBe(false);
  });

  it('match literal segments exactly, not by prefix', () => {
    const pattern = parsePathPattern('/root/app');
    expect(matchesPath(pattern, '/root/app')).toBe(true);
    expect(matchesPath(pattern, '/root/app2')).toBe(false);
    expect(matchesPath(pattern, '/root/app/x')).toBe(false);
  });

  it('refuse relative paths, empty segments, partial wildcards and ** before the end with INVALID_SCOPE', () => {
    for (const source of ['root/app', '/', '/root//app', '/root/app-*', '/**/x', '/root/a b', `/${'a/'.repeat(40)}a`]) {
      expect(codeOf(() => parsePathPattern(source)), source).toBe('INVALID_SCOPE');
    }
  });
});

describe('scopes', () => {
  it('parse every documented scope and print it back as declared', () => {
    for (const text of ['admin', 'tree:read', 'members:read', 'events:read', 'kv:read', 'kv:write', 'send:/root/app/**']) {
      expect(formatScope(parseScope(text))).toBe(text);
    }
  });

  it('refuse unknown scopes with INVALID_SCOPE', () => {
    for (const text of ['root', 'kv', 'kv:admin', 'send:', 'send:root', 'tree:write', '']) expect(codeOf(() => parseScope(text)), text).toBe('INVALID_SCOPE');
  });
});

describe('token declarations', () => {
  it('read a bare secret and a comma list as admin tokens (what --token X has always meant)', () => {
    expect(parseTokenSpecs('s3cret')).toEqual([{ name: 'token1', secret: 's3cret', scopes: [{ kind: 'admin' }] }]);
    expect(parseTokenSpecs('a1, b2').map((spec) => [spec.name, spec.secret, spec.scopes.map(formatScope)])).toEqual([
      ['token1', 'a1', ['admin']], ['token2', 'b2', ['admin']],
    ]);
    expect(parseTokenSpecs('  ')).toEqual([]);
  });

  it('read named, scoped tokens separated by ;', () => {
    const specs = parseTokenSpecs('ops=opsSecret:admin; app=appSecret:kv:read,kv:write,send:/root/app/** ;viewer=viewSecret:tree:read;legacy');
    expect(specs.map((spec) => [spec.name, spec.secret, spec.scopes.map(formatScope)])).toEqual([
      ['ops', 'opsSecret', ['admin']],
      ['app', 'appSecret', ['kv:read', 'kv:write', 'send:/root/app/**']],
      ['viewer', 'viewSecret', ['tree:read']],
      ['token4', 'legacy', ['admin']],
    ]);
  });

  it('refuse bad names, secrets, duplicates and empty scope lists with INVALID_TOKEN_SPEC', () => {
    for (const value of ['=abc:admin', 'bad name=abc:admin', 'a=:admin', 'a=abc:', 'a=x1:admin;a=x2:admin', 'a=same:admin;b=same:kv:read', `a=${'x'.repeat(600)}`]) {
      expect(codeOf(() => parseTokenSpecs(value)), value).toBe('INVALID_TOKEN_SPEC');
    }
    expect(codeOf(() => parseTokenSpecs('a=abc:kv:delete'))).toBe('INVALID_SCOPE');
  });
});

describe('authorizeSend', () => {
  const heartbeat = { type: 'raft.heartbeat', from: 'n2', to: 'n1', term: 5, commit: 0, readContext: null };

  it('refuses peer protocol to every client, admin included', () => {
    for (const body of [heartbeat, { type: 'raft.vote' }, { type: 'mvba.echo' }, { type: 'supervisor.childCrashed' }, { type: 'cluster.gossip' }, { type: 'membership.join' }, { type: 'terminated', ref: { node: 'n1', path: '/root/x' } }]) {
      const result = authorizeSend(grantOf('admin'), '/root/raft', body);
      expect(result.ok, body.type).toBe(false);
      if (!result.ok) expect(result.code).toBe('FORBIDDEN');
    }
    expect(isProtocolType('raft.heartbeat')).toBe(true);
    expect(isProtocolType('raft.status')).toBe(false);
  });

  it('lets only admin use the admin API and /system', () => {
    const stop = { type: 'supervisor.stopChild', id: 'raft' };
    expect(authorizeSend(grantOf('admin'), '/root', stop).ok).toBe(true);
    expect(authorizeSend(grantOf('send:/**'), '/root', stop).ok).toBe(false);
    expect(authorizeSend(grantOf('admin'), '/system/deadLetters', { type: 'deadLetters.list' }).ok).toBe(true);
    expect(authorizeSend(grantOf('send:/**', 'kv:read', 'tree:read'), '/system/deadLetters', { type: 'deadLetters.list' }).ok).toBe(false);
    expect(authorizeSend(grantOf('send:/system/**'), '/system/deadLetters', { type: 'hello' }).ok).toBe(false);
    expect(authorizeSend(grantOf('send:/**'), '/root/raft', { type: 'raft.changeMembership' }).ok).toBe(false);
  });

  it('gates send by path pattern', () => {
    const grant = grantOf('send:/root/app/*');
    expect(authorizeSend(grant, '/root/app/x', { type: 'work' }).ok).toBe(true);
    expect(authorizeSend(grant, '/root/app/x', 'plain string').ok).toBe(true);
    expect(authorizeSend(grant, '/root/raft', { type: 'work' }).ok).toBe(false);
    expect(authorizeSend(grant, '/root/app/x/y', { type: 'work' }).ok).toBe(false);
    expect(authorizeSend(grantOf('tree:read', 'members:read', 'events:read'), '/root/app/x', { type: 'work' }).ok).toBe(false);
  });

  it('classifies KV requests by their ops: a transaction of ranges and a watch read; puts, deletes, leases and compaction write', () => {
    const key = new TextEncoder().encode('k');
    const txn = (...ops: Array<{ type: string }>): unknown => ({ type: 'kv.request', clientId: 'c', sequence: 1, command: { type: 'txn', txn: { compare: [], success: ops.map((op) => ({ ...op, key })), failure: [] } } });
    const request = (command: unknown): unknown => ({ type: 'kv.request', clientId: 'c', sequence: 1, command });
    const reader = grantOf('kv:read');
    const writer = grantOf('kv:write');
    for (const body of [txn({ type: 'range' }), txn({ type: 'range' }, { type: 'range' }), { type: 'kv.watch', key, fromRevision: 1 }]) {
      expect(kvScopeOf(body)).toBe('kv:read');
      expect(authorizeSend(reader, '/root/raft', body).ok).toBe(true);
      expect(authorizeSend(writer, '/root/raft', body).ok).toBe(false);
    }
    for (const body of [txn({ type: 'put' }), txn({ type: 'range' }, { type: 'deleteRange' }), request({ type: 'leaseGrant', ttlMs: 1_000 }), request({ type: 'compact', revision: 2 }), request({ type: 'anything-else' }), { type: 'kv.leaseKeepAlive', lease: 1 }]) {
      expect(kvScopeOf(body)).toBe('kv:write');
      expect(authorizeSend(reader, '/root/raft', body).ok).toBe(false);
      expect(authorizeSend(writer, '/root/raft', body).ok).toBe(true);
    }
    const put = txn({ type: 'put' });
    expect(authorizeSend(reader, '/root/raft', { type: 'kv.read', command: { type: 'get', key: 'k' } }).ok).toBe(true);
    expect(authorizeSend(reader, '/root/raft', { type: 'raft.status' }).ok).toBe(true);
    expect(authorizeSend(grantOf('send:/root/**'), '/root/raft', put).ok).toBe(false);
    expect(kvScopeOf({ type: 'kv.request', command: 'put' })).toBe('kv:write');
    expect(kvScopeOf({ type: 'other' })).toBeUndefined();
  });
});

describe('authorizeRead', () => {
  it('needs tree:read, members:read, events:read per operation; admin has them all', () => {
    expect(authorizeRead(grantOf('tree:read'), 'tree').ok).toBe(true);
    expect(authorizeRead(grantOf('tree:read'), 'members').ok).toBe(false);
    expect(authorizeRead(grantOf('members:read'), 'subscribe:membership').ok).toBe(true);
    expect(authorizeRead(grantOf('members:read'), 'subscribe:lifecycle').ok).toBe(false);
    expect(authorizeRead(grantOf('events:read'), 'subscribe:lifecycle').ok).toBe(true);
    expect(authorizeRead(grantOf('kv:read', 'send:/**'), 'tree').ok).toBe(false);
    for (const operation of ['tree', 'members', 'subscribe:lifecycle', 'subscribe:membership'] as const) expect(authorizeRead(grantOf('admin'), operation).ok).toBe(true);
  });
});

describe('troupe start --token', () => {
  const options = (...argv: string[]) => startOptions(parseArgs(['--name', 'n1', '--secret', 's', ...argv], { values: startValueFlags, booleans: startBooleanFlags }));

  it('keeps a bare --token as an admin token and reads scoped declarations', () => {
    expect(options('--token', 'plain-secret').tokens).toEqual([{ name: 'token1', secret: 'plain-secret', scopes: [{ kind: 'admin' }] }]);
    const tokens = options('--token', 'ops=o1:admin;app=a1:kv:read,send:/root/app/*').tokens as readonly TokenSpec[];
    expect(tokens.map((token) => [token.name, token.scopes.map(formatScope)])).toEqual([['ops', ['admin']], ['app', ['kv:read', 'send:/root/app/*']]]);
  });

  it('refuses a malformed declaration before the node starts', () => {
    expect(() => options('--token', 'app=a1:kv:everything')).toThrow(expect.objectContaining({ code: 'INVALID_SCOPE' }));
    expect(() => options('--token', 'app=:admin')).toThrow(expect.objectContaining({ code: 'INVALID_TOKEN_SPEC' }));
  });
});
