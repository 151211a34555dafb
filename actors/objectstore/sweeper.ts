/**
 * Garbage collection: data of replaced and deleted objects, abandoned parts, and intents of uploads
 * that never published (a gateway that crashed mid-PUT) are recorded under `s3/g/`; one sweep reads a
 * page of those records and, for each whose grace period has passed, deletes its chunks and the record
 * in one transaction compared on the record's revision. An intent's grace is long (an upload in
 * progress keeps writing chunks); a replaced object's grace lets reads that started before the
 * replacement finish.
 */
import { dataPrefix, decodeRecord, encodeRecord, garbagePrefix, prefixEnd, prefixRange, utf8, type GarbageRecord } from './core/layout.js';
import type { KvOp } from '../storage/index.js';
import type { ObjectKv } from './kv.js';

/** Timing of the sweeper. */
export interface SweepOptions {
  /** How long an intent may stay before its data is collected (an upload slower than this fails). */
  readonly pendingGraceMs: number;
  /** How long replaced data stays readable for reads already streaming it. */
  readonly garbageGraceMs: number;
  /** Records examined per sweep. */
  readonly recordsPerSweepMax: number;
  /** Data ids deleted per transaction. */
  readonly dataIdsPerTxnMax: number;
}

export const sweepDefaults: SweepOptions = { pendingGraceMs: 60 * 60 * 1000, garbageGraceMs: 5 * 60 * 1000, recordsPerSweepMax: 100, dataIdsPerTxnMax: 32 };

/** What one sweep did. */
export interface SweepResult {
  readonly examined: number;
  readonly collected: number;
  readonly more: boolean;
}

/** Runs one sweep at `nowMs`. */
export async function sweepOnce(kv: ObjectKv, nowMs: number, options: SweepOptions = sweepDefaults): Promise<SweepResult> {
  const [answer] = await kv.read([prefixRange(garbagePrefix, { limit: options.recordsPerSweepMax })]);
  let collected = 0;
  for (const entry of answer!.kvs) {
    const record = decodeRecord<GarbageRecord>(entry.value);
    const graceMs = record.pending ? options.pendingGraceMs : options.garbageGraceMs;
    if (nowMs - record.sinceMs < graceMs) continue;
    const now = record.dataIds.slice(0, options.dataIdsPerTxnMax);
    const rest = record.dataIds.slice(options.dataIdsPerTxnMax);
    const ops: KvOp[] = now.map((dataId) => ({ type: 'deleteRange', key: utf8(dataPrefix(dataId)), rangeEnd: prefixEnd(utf8(dataPrefix(dataId))) }));
    ops.push(rest.length > 0 ? { type: 'put', key: entry.key, value: encodeRecord({ ...record, dataIds: rest }) } : { type: 'deleteRange', key: entry.key });
    const outcome = await kv.txn({ compare: [{ key: entry.key, target: 'modRevision', operator: '=', value: entry.modRevision }], success: ops, failure: [] });
    if (outcome.succeeded) collected += now.length;
  }
  return { examined: answer!.kvs.length, collected, more: answer!.more };
}
