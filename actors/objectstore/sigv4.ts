/**
 * AWS Signature Version 4 as S3 verifies it (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html):
 * the Authorization header form, the presigned-URL form (query parameters), and the per-chunk
 * signatures of `aws-chunked` streaming uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, with or without
 * a signed trailer). Functions over request data: no socket, no clock (the time comes in).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { S3Error } from './errors.js';

export const algorithm = 'AWS4-HMAC-SHA256';
export const unsignedPayload = 'UNSIGNED-PAYLOAD';
export const emptySha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** Largest clock difference between a signed request and the gateway (S3's 15 minutes). */
export const clockSkewMsMax = 15 * 60 * 1000;
/** Longest validity of a presigned URL (7 days). */
export const presignedExpiresSecondsMax = 7 * 24 * 3600;

/** The parts of a request a signature covers. Header names are lower case. */
export interface SignedRequest {
  readonly method: string;
  /** The path as sent, percent-encoded, without the query. */
  readonly rawPath: string;
  /** The query string as sent, without '?'. */
  readonly rawQuery: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** What a verified signature establishes, and what chunk signatures chain from. */
export interface SignatureContext {
  readonly accessKeyId: string;
  /** `<date>/<region>/<service>/aws4_request` */
  readonly scope: string;
  readonly amzDate: string;
  readonly signature: string;
  readonly signingKey: Buffer;
  /** The payload hash the request declared (a hex SHA-256, UNSIGNED-PAYLOAD, or a STREAMING-* value). */
  readonly payloadHash: string;
  readonly presigned: boolean;
}

/** Parsed credentials of a request, before the secret is known. */
export interface Credential {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly amzDate: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  readonly payloadHash: string;
  readonly presigned: boolean;
  readonly expiresSeconds?: number;
}

function headerValue(request: SignedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** RFC 3986 encoding as SigV4 wants it: every byte but A-Z a-z 0-9 - _ . ~ percent-encoded. */
export function uriEncode(text: string, keepSlash = false): string {
  let encoded = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(char) || (keepSlash && char === '/')) encoded += char;
    else encoded += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error('InvalidRequest', 'the request URL holds a malformed percent-encoding');
  }
}

/** The canonical URI: each path segment decoded and encoded again (S3 signs it without normalising). */
export function canonicalUri(rawPath: string): string {
  return rawPath.split('/').map((segment) => uriEncode(safeDecode(segment))).join('/') || '/';
}

/** The canonical query string, sorted by name then value, leaving out `X-Amz-Signature` when presigned. */
export function canonicalQuery(rawQuery: string, leaveOutSignature: boolean): string {
  if (rawQuery === '') return '';
  const pairs = rawQuery.split('&').filter((pair) => pair !== '').map((pair) => {
    const at = pair.indexOf('=');
    const name = safeDecode(at < 0 ? pair : pair.slice(0, at));
    const value = at < 0 ? '' : safeDecode(pair.slice(at + 1));
    return [uriEncode(name), uriEncode(value)] as const;
  }).filter(([name]) => !(leaveOutSignature && name === 'X-Amz-Signature'));
  pairs.sort(([nameA, valueA], [nameB, valueB]) => (nameA < nameB ? -1 : nameA > nameB ? 1 : valueA < valueB ? -1 : valueA > valueB ? 1 : 0));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

/** The canonical request (the first step of signing). */
export function canonicalRequest(request: SignedRequest, signedHeaders: readonly string[], payloadHash: string, presigned: boolean): string {
  const headers = signedHeaders.map((name) => {
    const value = headerValue(request, name);
    if (value === undefined) throw new S3Error('AccessDenied', `signed header ${name} is missing from the request`);
    return `${name}:${value.trim().replace(/\s+/g, ' ')}\n`;
  }).join('');
  return [request.method, canonicalUri(request.rawPath), canonicalQuery(request.rawQuery, presigned), headers, signedHeaders.join(';'), payloadHash].join('\n');
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** The signing key of a scope. */
export function signingKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service), 'aws4_request');
}

/** The string to sign of a request. */
export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [algorithm, amzDate, scope, sha256Hex(canonical)].join('\n');
}

/** Milliseconds since the epoch of an ISO 8601 basic time (20130524T000000Z), or undefined. */
export function amzDateMs(amzDate: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number);
  return Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
}

function parseCredentialScope(value: string): Pick<Credential, 'accessKeyId' | 'date' | 'region' | 'service'> {
  const parts = value.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1]!)) throw new S3Error('AuthorizationHeaderMalformed', `the credential ${JSON.stringify(value)} is not <key>/<date>/<region>/<service>/aws4_request`);
  return { accessKeyId: parts[0]!, date: parts[1]!, region: parts[2]!, service: parts[3]! };
}

/** Whether a request carries a signature at all (header or query form). */
export function isSigned(request: SignedRequest): boolean {
  return headerValue(request, 'authorization') !== undefined || /(^|&)X-Amz-Signature=/.test(request.rawQuery) || /(^|&)X-Amz-Credential=/.test(request.rawQuery);
}

/** Parses the credential of a signed request (header form or presigned). */
export function parseCredential(request: SignedRequest): Credential {
  const authorization = headerValue(request, 'authorization');
  if (authorization !== undefined) {
    if (!authorization.startsWith(`${algorithm} `)) {
      if (authorization.startsWith('AWS ')) throw new S3Error('InvalidRequest', 'signature version 2 is not supported; use AWS4-HMAC-SHA256');
      throw new S3Error('AuthorizationHeaderMalformed', 'the authorization header does not use AWS4-HMAC-SHA256');
    }
    const fields = new Map<string, string>();
    for (const part of authorization.slice(algorithm.length + 1).split(',')) {
      const at = part.indexOf('=');
      if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
    }
    const credential = fields.get('Credential');
    const signedHeaders = fields.get('SignedHeaders');
    const signature = fields.get('Signature');
    if (credential === undefined || signedHeaders === undefined || signature === undefined) throw new S3Error('AuthorizationHeaderMalformed', 'the authorization header lacks Credential, SignedHeaders or Signature');
    const amzDate = headerValue(request, 'x-amz-date') ?? '';
    const payloadHash = headerValue(request, 'x-amz-content-sha256');
    if (payloadHash === undefined) throw new S3Error('InvalidRequest', 'missing required header for this request: x-amz-content-sha256');
    return { ...parseCredentialScope(credential), amzDate, signedHeaders: signedHeaders.split(';'), signature, payloadHash, presigned: false };
  }
  const query = new URLSearchParams(request.rawQuery);
  if (query.get('X-Amz-Algorithm') !== algorithm) throw new S3Error('AuthorizationHeaderMalformed', 'X-Amz-Algorithm must be AWS4-HMAC-SHA256');
  const credential = query.get('X-Amz-Credential');
  const signedHeaders = query.get('X-Amz-SignedHeaders');
  const signature = query.get('X-Amz-Signature');
  const amzDate = query.get('X-Amz-Date');
  const expires = query.get('X-Amz-Expires');
  if (credential === null || signedHeaders === null || signature === null || amzDate === null || expires === null) throw new S3Error('AuthorizationHeaderMalformed', 'the presigned URL lacks one of X-Amz-Credential, X-Amz-SignedHeaders, X-Amz-Signature, X-Amz-Date, X-Amz-Expires');
  const expiresSeconds = Number(expires);
  if (!Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > presignedExpiresSecondsMax) throw new S3Error('AuthorizationHeaderMalformed', `X-Amz-Expires must be 1 to ${presignedExpiresSecondsMax}`);
  const payloadHash = query.get('X-Amz-Content-Sha256') ?? unsignedPayload;
  return { ...parseCredentialScope(credential), amzDate, signedHeaders: signedHeaders.split(';'), signature, payloadHash, presigned: true, expiresSeconds };
}

function equalHex(left: string, right: string): boolean {
  const a = Buffer.from(left, 'utf8');
  const b = Buffer.from(right, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Verifies the signature of a request against the secret of its access key, at `nowMs`. Throws
 * S3Error: SignatureDoesNotMatch, RequestTimeTooSkewed, AccessDenied (an expired presigned URL),
 * AuthorizationHeaderMalformed.
 */
export function verifySignature(request: SignedRequest, credential: Credential, secretAccessKey: string, nowMs: number): SignatureContext {
  const signedAtMs = amzDateMs(credential.amzDate);
  if (signedAtMs === undefined) throw new S3Error('AccessDenied', 'the request lacks a valid x-amz-date');
  if (credential.amzDate.slice(0, 8) !== credential.date) throw new S3Error('AuthorizationHeaderMalformed', 'the credential date does not match x-amz-date');
  if (credential.presigned) {
    if (nowMs > signedAtMs + credential.expiresSeconds! * 1000) throw new S3Error('AccessDenied', 'Request has expired');
    if (signedAtMs - nowMs > clockSkewMsMax) throw new S3Error('RequestTimeTooSkewed', 'the difference between the request time and the server time is too large');
  } else if (Math.abs(nowMs - signedAtMs) > clockSkewMsMax) {
    throw new S3Error('RequestTimeTooSkewed', 'the difference between the request time and the server time is too large');
  }
  if (!credential.signedHeaders.includes('host')) throw new S3Error('AccessDenied', 'the host header must be signed');
  const scope = `${credential.date}/${credential.region}/${credential.service}/aws4_request`;
  const canonical = canonicalRequest(request, credential.signedHeaders, credential.payloadHash, credential.presigned);
  const key = signingKey(secretAccessKey, credential.date, credential.region, credential.service);
  const expected = createHmac('sha256', key).update(stringToSign(credential.amzDate, scope, canonical)).digest('hex');
  if (!equalHex(expected, credential.signature)) throw new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
  return { accessKeyId: credential.accessKeyId, scope, amzDate: credential.amzDate, signature: credential.signature, signingKey: key, payloadHash: credential.payloadHash, presigned: credential.presigned };
}

/** The signature of one chunk of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body, chained from `previousSignature`. */
export function chunkSignature(context: Pick<SignatureContext, 'amzDate' | 'scope' | 'signingKey'>, previousSignature: string, chunkSha256Hex: string): string {
  const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', context.amzDate, context.scope, previousSignature, emptySha256, chunkSha256Hex].join('\n');
  return createHmac('sha256', context.signingKey).update(toSign).digest('hex');
}

/** The signature of the trailer of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER body. */
export function trailerSignature(context: Pick<SignatureContext, 'amzDate' | 'scope' | 'signingKey'>, previousSignature: string, trailerText: string): string {
  const toSign = ['AWS4-HMAC-SHA256-TRAILER', context.amzDate, context.scope, previousSignature, sha256Hex(trailerText)].join('\n');
  return createHmac('sha256', context.signingKey).update(toSign).digest('hex');
}

/** True when two hex signatures are equal (constant time). */
export function signaturesEqual(left: string, right: string): boolean {
  return equalHex(left, right);
}
