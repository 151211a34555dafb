/**
 * Query-string authentication of signature version 2 (presigned URLs: `AWSAccessKeyId`, `Expires`,
 * `Signature`), which S3 still accepts and boto3 generates by default for `generate_presigned_url`:
 * HMAC-SHA1 over the verb, Content-MD5, Content-Type, the expiry, the x-amz headers and the
 * canonicalized resource (docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html).
 * Only the presigned form is accepted; the header form of version 2 is refused.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { S3Error } from './errors.js';
import type { SignatureContext, SignedRequest } from './sigv4.js';
import { unsignedPayload } from './sigv4.js';

/** Query parameters that are part of the canonicalized resource. */
const subresources = new Set([
  'acl', 'delete', 'lifecycle', 'location', 'logging', 'notification', 'partNumber', 'policy', 'requestPayment', 'tagging', 'torrent', 'uploadId', 'uploads',
  'versionId', 'versioning', 'versions', 'website', 'response-cache-control', 'response-content-disposition', 'response-content-encoding',
  'response-content-language', 'response-content-type', 'response-expires',
]);

/** True when the query carries a version 2 presigned signature. */
export function isPresignedV2(rawQuery: string): boolean {
  const query = new URLSearchParams(rawQuery);
  return query.has('AWSAccessKeyId') && query.has('Signature') && query.has('Expires');
}

/** The access key id of a version 2 presigned URL. */
export function presignedV2AccessKey(rawQuery: string): string {
  return new URLSearchParams(rawQuery).get('AWSAccessKeyId') ?? '';
}

function headerValue(request: SignedRequest, name: string): string {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value ?? '';
}

/** The string a version 2 presigned URL signs. `bucketPrefix` is `/<bucket>` for virtual-host-style requests. */
export function stringToSignV2(request: SignedRequest, bucketPrefix: string): string {
  const query = new URLSearchParams(request.rawQuery);
  const resources = [...query.entries()].filter(([name]) => subresources.has(name)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const resource = `${bucketPrefix}${request.rawPath}${resources.length > 0 ? `?${resources.map(([name, value]) => (value === '' ? name : `${name}=${value}`)).join('&')}` : ''}`;
  const amzHeaders = Object.keys(request.headers).filter((name) => name.startsWith('x-amz-')).sort().map((name) => `${name}:${headerValue(request, name).trim()}\n`).join('');
  return `${request.method}\n${headerValue(request, 'content-md5')}\n${headerValue(request, 'content-type')}\n${query.get('Expires') ?? ''}\n${amzHeaders}${resource}`;
}

/** Verifies a version 2 presigned URL at `nowMs`: SignatureDoesNotMatch, or AccessDenied once expired. */
export function verifyPresignedV2(request: SignedRequest, secretAccessKey: string, nowMs: number, bucketPrefix: string): SignatureContext {
  const query = new URLSearchParams(request.rawQuery);
  const expires = Number(query.get('Expires'));
  if (!Number.isInteger(expires)) throw new S3Error('AccessDenied', 'Expires is not a number of seconds');
  if (nowMs > expires * 1000) throw new S3Error('AccessDenied', 'Request has expired');
  const expected = createHmac('sha1', secretAccessKey).update(stringToSignV2(request, bucketPrefix), 'utf8').digest('base64');
  const sent = query.get('Signature') ?? '';
  const a = Buffer.from(expected);
  const b = Buffer.from(sent);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
  return { accessKeyId: query.get('AWSAccessKeyId') ?? '', scope: '', amzDate: '', signature: sent, signingKey: Buffer.alloc(0), payloadHash: unsignedPayload, presigned: true };
}
