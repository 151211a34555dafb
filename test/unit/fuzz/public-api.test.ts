/**
 * Fuzzing the public entry points that take untrusted input: child specs (configuration), storage and
 * KV requests (from the network), and pipeline messages (from Kafka). Each must either accept the
 * input or refuse it with its typed error or typed refusal, and never throw anything else.
 * `SEED=<n>` replays a run.
 */
import { describe, expect, it } from 'vitest';
import { parseDocument, defaultDocumentLimits } from '../../../actors/pipeline/index.js';
import { parseServiceRequest } from '../../../actors/raft/index.js';
import { kvLimits as kvDefaultLimits } from '../../../actors/storage/index.js';
import { parseRequest, storageLimits } from '../../../actors/storage/index.js';
import { behaviour, codec, createRng, seedFromEnvironment, type Rng } from '../../../runtime/index.js';
import { InvalidChildSpecError, validateChildSpec } from '../../../supervisors/index.js';

const seed = seedFromEnvironment();
const rounds = 5_000;

/** A random JSON-ish value biased towards the shapes the parsers look for. */
function randomValue(rng: Rng, depth: number, keys: readonly string[]): unknown {
  switch (rng.int(0, depth > 3 ? 6 : 9)) {
    case 0: return null;
    case 1: return undefined;
    case 2: return rng.next() < 0.5;
    case 3: return [0, -1, 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, -(2 ** 31), rng.int(0, 100_000)][rng.int(0, 8)];
    case 4: return ['', 'a', 'x'.repeat(rng.int(1, 3000)), '../etc', 'storage.put', 'kv.request', 'worker', 'permanent', '\u0000', '🙂'][rng.int(0, 9)];
    case 5: return new Uint8Array(rng.int(0, 70_000 * (rng.next() < 0.05 ? 1 : 0) + 8));
    case 6: return BigInt(rng.int(0, 9));
    case 7: return Array.from({ length: rng.int(0, 4) }, () => randomValue(rng, depth + 1, keys));
    default: {
      const object: Record<string, unknown> = {};
      for (let count = rng.int(0, 6); count > 0; count -= 1) object[keys[rng.int(0, keys.length - 1)]!] = randomValue(rng, depth + 1, keys);
      return object;
    }
  }
}

const probe = behaviour({ name: 'probe', init: () => null, receive: (state: null) => state });

describe(`public API fuzz (seed ${seed})`, () => {
  it('validateChildSpec accepts a valid spec or throws InvalidChildSpecError', () => {
    const rng = createRng(seed);
    const keys = ['id', 'start', 'restart', 'shutdownMs', 'kind', 'retry', 'mailbox', 'maxAttempts', 'capacity', 'overflow'];
    let accepted = 0;
    for (let round = 0; round < rounds; round += 1) {
      const candidate = randomValue(rng, 0, keys) as Record<string, unknown> | null;
      if (candidate !== null && typeof candidate === 'object' && !Array.isArray(candidate) && rng.next() < 0.5) {
        Object.assign(candidate, { id: `c${round}`, start: probe, restart: 'permanent', shutdownMs: 10, kind: 'worker' });
      }
      try {
        validateChildSpec(candidate);
        accepted += 1;
      } catch (error) {
        if (!(error instanceof InvalidChildSpecError)) throw new Error(`seed ${seed} round ${round}: ${String(error)}`);
      }
    }
    expect(accepted).toBeGreaterThan(0);
  });

  it('storage parseRequest returns a parsed request or a typed failure for any input', () => {
    const rng = createRng(seed + 1);
    const keys = ['type', 'key', 'value', 'expected', 'ops', 'delta', 'prefix', 'start', 'end', 'limit'];
    const types = ['storage.put', 'storage.get', 'storage.delete', 'storage.batch', 'storage.cas', 'storage.scan', 'storage.increment', 'storage.snapshot', 'bogus'];
    for (let round = 0; round < rounds; round += 1) {
      const candidate = randomValue(rng, 0, keys);
      if (candidate !== null && typeof candidate === 'object' && !Array.isArray(candidate) && rng.next() < 0.7) (candidate as Record<string, unknown>).type = types[rng.int(0, types.length - 1)];
      let parsed: ReturnType<typeof parseRequest>;
      try {
        parsed = parseRequest(candidate, storageLimits);
      } catch (error) {
        throw new Error(`seed ${seed} round ${round}: parseRequest threw ${String(error)}`);
      }
      expect(['write', 'read', undefined]).toContain((parsed as { kind?: string }).kind);
      if ((parsed as { kind?: string }).kind === undefined) expect(typeof (parsed as { code?: unknown }).code).toBe('string');
    }
  });

  it('the KV service parser returns a request, a reason, or null for any input', () => {
    const rng = createRng(seed + 2);
    const keys = ['type', 'clientId', 'sequence', 'command', 'txn', 'compare', 'success', 'failure', 'key', 'rangeEnd', 'value', 'target', 'operator', 'lease', 'ttlMs', 'fromRevision', 'limit', 'timeoutMs'];
    const types = ['kv.request', 'kv.read', 'kv.watch', 'kv.leaseKeepAlive', 'raft.status', 'raft.digest', 'raft.transferLeader', 'txn', 'put', 'range', 'deleteRange', 'leaseGrant', 'compact'];
    for (let round = 0; round < rounds; round += 1) {
      const candidate = randomValue(rng, 0, keys);
      if (candidate !== null && typeof candidate === 'object' && !Array.isArray(candidate) && rng.next() < 0.7) (candidate as Record<string, unknown>).type = types[rng.int(0, types.length - 1)];
      let parsed: ReturnType<typeof parseServiceRequest>;
      try {
        parsed = parseServiceRequest(candidate, kvDefaultLimits);
      } catch (error) {
        throw new Error(`seed ${seed} round ${round}: parseServiceRequest threw ${String(error)}`);
      }
      if (parsed !== null && !parsed.ok) expect(typeof parsed.reason).toBe('string');
    }
  });

  it('parseDocument accepts a document or refuses it with a reason, for random and mutated message bytes', () => {
    const rng = createRng(seed + 3);
    const good = new TextEncoder().encode(JSON.stringify({ id: 'doc-1', version: 1, title: 'T', body: 'some words here', metadata: { lang: 'en' } }));
    let accepted = 0;
    for (let round = 0; round < rounds; round += 1) {
      let bytes: Uint8Array | null;
      const shape = rng.int(0, 3);
      if (shape === 0) bytes = null;
      else if (shape === 1) bytes = Uint8Array.from({ length: rng.int(0, 200) }, () => rng.int(0, 255));
      else if (shape === 2) {
        const value = randomValue(rng, 0, ['id', 'version', 'title', 'body', 'metadata', 'extra']) ?? null;
        bytes = new TextEncoder().encode(JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? Number(item) : item instanceof Uint8Array ? Array.from(item.subarray(0, 8)) : item)));
      }
      else {
        bytes = Uint8Array.from(good);
        for (let flips = rng.int(0, 3); flips > 0; flips -= 1) bytes[rng.int(0, bytes.length - 1)] = rng.int(0, 255);
      }
      let result: ReturnType<typeof parseDocument>;
      try {
        result = parseDocument(bytes, defaultDocumentLimits);
      } catch (error) {
        throw new Error(`seed ${seed} round ${round}: parseDocument threw ${String(error)}`);
      }
      if (result.ok) accepted += 1;
      else expect(typeof result.reason).toBe('string');
    }
    expect(accepted).toBeGreaterThan(0);
  });

  it('values that the codec refuses are refused with its typed errors, never encoded half way', () => {
    const rng = createRng(seed + 4);
    for (let round = 0; round < 2_000; round += 1) {
      const value = randomValue(rng, 0, ['type', 'a', 'b']);
      try {
        const bytes = codec.encode(value);
        expect(bytes.length).toBeGreaterThan(0);
      } catch (error) {
        expect(['ENCODE_FAILED', 'FRAME_TOO_LARGE', 'DEPTH_EXCEEDED'], `seed ${seed} round ${round}`).toContain((error as { code?: string }).code);
      }
    }
  });
});
