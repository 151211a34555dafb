/**
 * Parsing and validating one Kafka message into a document. Pure: the same bytes always give the same
 * document or the same poison reason, which is what makes a replayed log give the same database.
 *
 * A document message is UTF-8 JSON:
 *   { "id": string, "version"?: positive integer (default 1), "title"?: string, "body": string,
 *     "metadata"?: { [key]: string | number | boolean } }
 * Unknown top-level fields are refused (SCHEMA) rather than silently dropped.
 */
import { sha256Hex } from './sha256.js';

/** Why a message was dead-lettered instead of ingested. */
export type PoisonReason =
  | 'EMPTY' // no bytes, or a document whose body is blank
  | 'OVERSIZED' // more bytes than `messageBytesMax`
  | 'NOT_UTF8' // the bytes are not valid UTF-8
  | 'NOT_JSON' // the text does not parse as JSON
  | 'SCHEMA' // JSON, but not a document (missing or mistyped field, too many metadata keys ...)
  | 'VERSION_CONFLICT' // the same (id, version) arrived earlier with different content
  | 'EMBED_REJECTED'; // the embedder refused the text every time the retry policy allowed

/** A validated document. */
export interface PipelineDocument {
  readonly sourceId: string;
  readonly version: number;
  readonly title: string;
  readonly body: string;
  /** Keys in sorted order, so equal metadata serialises equally. */
  readonly metadata: Readonly<Record<string, string | number | boolean>>;
  /** SHA-256 (hex) of the canonical form: equal documents have equal hashes. */
  readonly contentHash: string;
}

/** Limits on one message. */
export interface DocumentLimits {
  /** Larger messages are dead-lettered as OVERSIZED without being decoded. */
  readonly messageBytesMax: number;
  readonly sourceIdLengthMax: number;
  readonly titleLengthMax: number;
  readonly metadataKeysMax: number;
  readonly metadataValueLengthMax: number;
}

/** Defaults for `DocumentLimits`. */
export const defaultDocumentLimits: DocumentLimits = {
  messageBytesMax: 256 * 1024,
  sourceIdLengthMax: 200,
  titleLengthMax: 1000,
  metadataKeysMax: 32,
  metadataValueLengthMax: 1000,
};

/** The outcome of parsing one message. */
export type ParseResult =
  | { readonly ok: true; readonly document: PipelineDocument }
  | { readonly ok: false; readonly reason: PoisonReason; readonly detail: string };

const allowedFields = new Set(['id', 'version', 'title', 'body', 'metadata']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

function refuse(reason: PoisonReason, detail: string): ParseResult {
  return { ok: false, reason, detail };
}

/** Parses and validates one message value. */
export function parseDocument(value: Uint8Array | null, limits: DocumentLimits = defaultDocumentLimits): ParseResult {
  if (value === null || value.length === 0) return refuse('EMPTY', 'message has no value');
  if (value.length > limits.messageBytesMax) return refuse('OVERSIZED', `message is ${value.length} bytes, limit ${limits.messageBytesMax}`);
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return refuse('NOT_UTF8', 'message value is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return refuse('NOT_JSON', `not JSON: ${(error as Error).message.slice(0, 200)}`);
  }
  return validateDocument(parsed, limits);
}

function validateDocument(parsed: unknown, limits: DocumentLimits): ParseResult {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return refuse('SCHEMA', 'document must be a JSON object');
  const candidate = parsed as Record<string, unknown>;
  const unknownField = Object.keys(candidate).find((key) => !allowedFields.has(key));
  if (unknownField !== undefined) return refuse('SCHEMA', `unknown field ${JSON.stringify(unknownField.slice(0, 100))}`);
  const { id, version = 1, title = '', body, metadata = {} } = candidate;
  if (typeof id !== 'string' || id.length === 0 || id.length > limits.sourceIdLengthMax) return refuse('SCHEMA', `id must be a string of 1-${limits.sourceIdLengthMax} characters`);
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) return refuse('SCHEMA', 'version must be a positive integer');
  if (typeof title !== 'string' || title.length > limits.titleLengthMax) return refuse('SCHEMA', `title must be a string of at most ${limits.titleLengthMax} characters`);
  if (typeof body !== 'string') return refuse('SCHEMA', 'body must be a string');
  if (body.trim().length === 0) return refuse('EMPTY', 'body is blank');
  const checked = validateMetadata(metadata, limits);
  if (typeof checked === 'string') return refuse('SCHEMA', checked);
  const document = { sourceId: id, version, title, body, metadata: checked };
  return { ok: true, document: { ...document, contentHash: contentHash(document) } };
}

function validateMetadata(metadata: unknown, limits: DocumentLimits): Record<string, string | number | boolean> | string {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return 'metadata must be an object';
  const keys = Object.keys(metadata).sort();
  if (keys.length > limits.metadataKeysMax) return `metadata has ${keys.length} keys, limit ${limits.metadataKeysMax}`;
  const sorted: Record<string, string | number | boolean> = {};
  for (const key of keys) {
    const value = (metadata as Record<string, unknown>)[key];
    if (key.length === 0 || key.length > 100 || key === '__proto__') return 'metadata keys must be 1-100 characters';
    if (typeof value === 'string' && value.length <= limits.metadataValueLengthMax) sorted[key] = value;
    else if (typeof value === 'number' && Number.isFinite(value)) sorted[key] = value;
    else if (typeof value === 'boolean') sorted[key] = value;
    else return `metadata.${key.slice(0, 100)} must be a string (at most ${limits.metadataValueLengthMax} characters), a finite number or a boolean`;
  }
  return sorted;
}

/** SHA-256 of the canonical JSON of a document (fields in fixed order, metadata keys sorted). */
export function contentHash(document: Omit<PipelineDocument, 'contentHash'>): string {
  const canonical = JSON.stringify([document.sourceId, document.version, document.title, document.body, document.metadata]);
  return sha256Hex(canonical);
}
