/**
 * Access keys: the gateway's own (from its options, e.g. the one `npm start` prints) and those kept in
 * the replicated KV under `s3/k/<id>` (managed with `troupe s3 keys ...`). Lookups of KV keys are
 * cached for `cacheMs`, so a revoked key stops working within that time.
 */
import { accessKeyKey, accessKeysPrefix, decodeRecord, encodeRecord, prefixRange, rangeOf, utf8, type AccessKeyRecord } from './core/layout.js';
import type { ObjectKv } from './kv.js';

/** A key pair. */
export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

const cacheEntriesMax = 10_000;

/** Finds the secret of an access key id. */
export class AccessKeys {
  readonly #static: Map<string, string>;
  readonly #kv: ObjectKv;
  readonly #cacheMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { secret: string | undefined; atMs: number }>();

  constructor(options: { kv: ObjectKv; credentials?: readonly S3Credentials[]; cacheMs?: number; nowMs: () => number }) {
    this.#static = new Map((options.credentials ?? []).map((credential) => [credential.accessKeyId, credential.secretAccessKey]));
    this.#kv = options.kv;
    this.#cacheMs = options.cacheMs ?? 5_000;
    this.#now = options.nowMs;
  }

  async secretOf(accessKeyId: string): Promise<string | undefined> {
    const known = this.#static.get(accessKeyId);
    if (known !== undefined) return known;
    if (!/^[A-Z0-9]{16,128}$/.test(accessKeyId)) return undefined;
    const cached = this.#cache.get(accessKeyId);
    if (cached !== undefined && this.#now() - cached.atMs < this.#cacheMs) return cached.secret;
    const [answer] = await this.#kv.read([rangeOf(accessKeyKey(accessKeyId))]);
    const kv = answer!.kvs[0];
    const secret = kv === undefined ? undefined : decodeRecord<AccessKeyRecord>(kv.value).secretAccessKey;
    if (this.#cache.size >= cacheEntriesMax) this.#cache.clear();
    this.#cache.set(accessKeyId, { secret, atMs: this.#now() });
    return secret;
  }
}

/** Stores a new access key in the KV. */
export async function createAccessKey(kv: ObjectKv, record: AccessKeyRecord): Promise<void> {
  await kv.txn({ compare: [], success: [{ type: 'put', key: utf8(accessKeyKey(record.accessKeyId)), value: encodeRecord(record) }], failure: [] });
}

/** Deletes an access key; true when it existed. */
export async function deleteAccessKey(kv: ObjectKv, accessKeyId: string): Promise<boolean> {
  const outcome = await kv.txn({ compare: [], success: [{ type: 'deleteRange', key: utf8(accessKeyKey(accessKeyId)) }], failure: [] });
  const response = outcome.responses[0];
  return response?.type === 'deleteRange' && response.deleted > 0;
}

/** Lists the access key ids in the KV (secrets left out). */
export async function listAccessKeys(kv: ObjectKv): Promise<Array<{ accessKeyId: string; createdMs: number }>> {
  const [answer] = await kv.read([prefixRange(accessKeysPrefix, { limit: 10_000 })]);
  return answer!.kvs.map((entry) => {
    const record = decodeRecord<AccessKeyRecord>(entry.value);
    return { accessKeyId: record.accessKeyId, createdMs: record.createdMs };
  });
}
