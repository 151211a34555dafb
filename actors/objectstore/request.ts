/**
 * One HTTP request as the gateway sees it: which bucket and key it addresses (path-style, or
 * virtual-host-style under a configured domain), who signed it, and its body as a stream of decoded
 * payload bytes (raw, or aws-chunked with signed or unsigned chunks and trailers) with the digests
 * the client declared, checked before anything is published.
 */
import type { IncomingMessage } from 'node:http';
import { AwsChunkedDecoder } from './chunked.js';
import { BodyDigests, checkContentMd5, checksumAlgorithms, parseChecksumAlgorithm } from './checksums.js';
import type { ChecksumAlgorithm } from './core/layout.js';
import { S3Error } from './errors.js';
import { isSigned, parseCredential, unsignedPayload, verifySignature, type SignatureContext, type SignedRequest } from './sigv4.js';
import type { AccessKeys } from './access-keys.js';
import { isPresignedV2, presignedV2AccessKey, verifyPresignedV2 } from './sigv2.js';
import type { BodySource, ExpectedDigests } from './store.js';
import { xmlBytesMax } from './xml.js';

/** A parsed request. */
export interface S3Request {
  readonly method: string;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly signed: SignedRequest;
  /** The verified signature; undefined for an anonymous request. */
  readonly auth: SignatureContext | undefined;
  readonly incoming: IncomingMessage;
}

/** Splits the target into bucket and key; `domains` are the virtual-host base domains. */
export function addressOf(rawPath: string, host: string | undefined, domains: readonly string[]): { bucket: string | undefined; key: string | undefined; virtualHost: boolean } {
  const hostname = (host ?? '').replace(/:\d+$/, '').toLowerCase();
  const domain = domains.find((candidate) => hostname.endsWith(`.${candidate}`));
  const decode = (text: string): string => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw new S3Error('InvalidRequest', 'the request path holds a malformed percent-encoding');
    }
  };
  if (domain !== undefined) {
    const bucket = hostname.slice(0, -domain.length - 1);
    const key = decode(rawPath.slice(1));
    return { bucket, key: key === '' ? undefined : key, virtualHost: true };
  }
  const path = rawPath.slice(1);
  const slash = path.indexOf('/');
  if (path === '') return { bucket: undefined, key: undefined, virtualHost: false };
  if (slash < 0) return { bucket: decode(path), key: undefined, virtualHost: false };
  const key = decode(path.slice(slash + 1));
  return { bucket: decode(path.slice(0, slash)), key: key === '' ? undefined : key, virtualHost: false };
}

/** Parses and authenticates a request; throws S3Error for a bad or unverifiable signature. */
export async function parseRequest(incoming: IncomingMessage, options: { domains: readonly string[]; keys: AccessKeys; nowMs: number }): Promise<S3Request> {
  const url = incoming.url ?? '/';
  const at = url.indexOf('?');
  const rawPath = at < 0 ? url : url.slice(0, at);
  const rawQuery = at < 0 ? '' : url.slice(at + 1);
  if (!rawPath.startsWith('/')) throw new S3Error('InvalidRequest', 'the request target must be a path');
  const signed: SignedRequest = { method: incoming.method ?? 'GET', rawPath, rawQuery, headers: incoming.headers };
  const { bucket, key, virtualHost } = addressOf(rawPath, incoming.headers.host, options.domains);
  let auth: SignatureContext | undefined;
  if (isPresignedV2(rawQuery)) {
    const accessKeyId = presignedV2AccessKey(rawQuery);
    const secret = await options.keys.secretOf(accessKeyId);
    if (secret === undefined) throw new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKeyId });
    auth = verifyPresignedV2(signed, secret, options.nowMs, virtualHost && bucket !== undefined ? `/${bucket}` : '');
  } else if (isSigned(signed)) {
    const credential = parseCredential(signed);
    const secret = await options.keys.secretOf(credential.accessKeyId);
    if (secret === undefined) throw new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: credential.accessKeyId });
    auth = verifySignature(signed, credential, secret, options.nowMs);
  }
  return { method: signed.method, bucket, key, query: new URLSearchParams(rawQuery), headers: incoming.headers, signed, auth, incoming };
}

export function header(request: Pick<S3Request, 'headers'>, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The payload bytes of a request and what they must hash to. */
export interface RequestBody {
  readonly source: BodySource;
  readonly expected: ExpectedDigests;
}

/**
 * The decoded body of a request that carries data (PutObject, UploadPart). Requires a length: S3
 * refuses a PUT without Content-Length (411), and aws-chunked bodies declare their decoded length.
 */
export function requestBody(request: S3Request): RequestBody {
  const payloadHash = request.auth?.payloadHash ?? header(request, 'x-amz-content-sha256') ?? unsignedPayload;
  const encoding = header(request, 'content-encoding') ?? '';
  const streaming = payloadHash.startsWith('STREAMING-');
  const chunked = streaming || encoding.split(',').map((part) => part.trim()).includes('aws-chunked');
  const lengthText = chunked ? header(request, 'x-amz-decoded-content-length') : header(request, 'content-length');
  const transferChunked = header(request, 'transfer-encoding') !== undefined;
  if (lengthText === undefined && !transferChunked) throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
  const length = lengthText === undefined ? undefined : Number(lengthText);
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) throw new S3Error('InvalidArgument', 'the content length is not a non-negative integer');
  if (streaming && !['STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'].includes(payloadHash)) {
    throw new S3Error('InvalidArgument', `x-amz-content-sha256 ${payloadHash} is not supported`);
  }
  if (payloadHash.startsWith('STREAMING-AWS4') && request.auth === undefined) throw new S3Error('AccessDenied', 'a signed stream needs a signed request');
  const checksums = declaredChecksums(request);
  const decoder = chunked ? new AwsChunkedDecoder(payloadHash.startsWith('STREAMING-AWS4') ? request.auth : undefined) : undefined;
  const contentMd5 = header(request, 'content-md5');
  const sha256Hex = /^[0-9a-f]{64}$/.test(payloadHash) ? payloadHash : undefined;
  const expected: ExpectedDigests = {
    ...(contentMd5 !== undefined ? { contentMd5 } : {}), ...(sha256Hex !== undefined ? { sha256Hex } : {}), ...(checksums.size > 0 ? { checksums } : {}),
    ...(length !== undefined ? { length } : {}), ...(decoder ? { trailers: () => decoder.trailers } : {}),
  };
  return { source: decoded(request.incoming, decoder), expected };
}

/** The checksums a request declares: values in headers, or names in `x-amz-trailer` (values arrive at the end). */
function declaredChecksums(request: S3Request): Map<ChecksumAlgorithm, string | undefined> {
  const declared = new Map<ChecksumAlgorithm, string | undefined>();
  for (const algorithm of checksumAlgorithms) {
    const value = header(request, `x-amz-checksum-${algorithm.toLowerCase()}`);
    if (value !== undefined) declared.set(algorithm, value);
  }
  const trailer = header(request, 'x-amz-trailer');
  if (trailer !== undefined) {
    for (const name of trailer.split(',').map((part) => part.trim().toLowerCase())) {
      if (!name.startsWith('x-amz-checksum-')) throw new S3Error('InvalidRequest', `trailer ${name} is not supported`);
      declared.set(parseChecksumAlgorithm(name.slice('x-amz-checksum-'.length)), undefined);
    }
  }
  if (declared.size > 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  return declared;
}

async function* decoded(incoming: IncomingMessage, decoder: AwsChunkedDecoder | undefined): AsyncGenerator<Uint8Array, void, void> {
  for await (const piece of incoming as AsyncIterable<Buffer>) {
    if (decoder === undefined) yield piece;
    else for (const part of decoder.push(piece)) yield part;
  }
  decoder?.end();
}

/**
 * Reads a small request body whole (XML documents), bounded by `xmlBytesMax`, and checks its declared
 * digests (payload SHA-256, Content-MD5, checksum headers).
 */
export async function smallBody(request: S3Request): Promise<string> {
  const body = requestBody(request);
  const pieces: Buffer[] = [];
  let bytes = 0;
  const algorithms = [...(body.expected.checksums?.keys() ?? [])];
  const digests = new BodyDigests({ sha256: body.expected.sha256Hex !== undefined, algorithms });
  for await (const piece of body.source) {
    bytes += piece.length;
    if (bytes > xmlBytesMax) throw new S3Error('MalformedXML', 'the request body is too large');
    digests.update(piece);
    pieces.push(Buffer.from(piece));
  }
  const finished = digests.finish();
  if (body.expected.contentMd5 !== undefined) checkContentMd5(body.expected.contentMd5, finished.md5Base64);
  if (body.expected.sha256Hex !== undefined && body.expected.sha256Hex !== finished.sha256Hex) throw new S3Error('XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
  const trailers = body.expected.trailers?.();
  for (const [algorithm, sent] of body.expected.checksums ?? []) {
    const value = sent ?? trailers?.get(`x-amz-checksum-${algorithm.toLowerCase()}`);
    if (value === undefined || value.trim() !== finished.checksums[algorithm]) throw new S3Error('BadDigest', `The ${algorithm} you specified did not match the calculated checksum.`);
  }
  return Buffer.concat(pieces).toString('utf8');
}

