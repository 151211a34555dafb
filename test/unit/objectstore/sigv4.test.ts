import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { AwsChunkedDecoder, S3Error, parseCredential, verifySignature, type SignedRequest } from '../../../actors/objectstore/index.js';

function bytes(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}

/** The hash constructor the smithy signer takes, over node:crypto. */
class NodeSha256 {
  readonly #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const signer = new SignatureV4({ credentials, region: 'us-east-1', service: 's3', sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
const signingDate = new Date('2026-03-01T12:00:00Z');
const nowMs = signingDate.getTime() + 1_000;

interface Signed { method: string; path: string; query: Record<string, string>; headers: Record<string, string> }

/** The smithy request turned into what the gateway sees on the wire. */
function wire(signed: Signed): SignedRequest {
  const rawQuery = Object.entries(signed.query).map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('&');
  const headers = Object.fromEntries(Object.entries(signed.headers).map(([name, value]) => [name.toLowerCase(), value]));
  return { method: signed.method, rawPath: signed.path, rawQuery, headers };
}

async function signHeaders(request: { method: string; path: string; query?: Record<string, string>; headers?: Record<string, string>; payloadHash: string }): Promise<SignedRequest> {
  const signed = await signer.sign({
    method: request.method, protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: request.path, query: request.query ?? {},
    headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': request.payloadHash, ...request.headers },
  }, { signingDate });
  return wire(signed as unknown as Signed);
}

function verify(request: SignedRequest, secret = credentials.secretAccessKey, at = nowMs) {
  return verifySignature(request, parseCredential(request), secret, at);
}

function code(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    if (error instanceof S3Error) return error.s3Code;
    throw error;
  }
}

describe('SigV4 verification against requests signed by the AWS SDK signer', () => {
  it('accepts a header-signed GET with a query and an encoded key, and names its access key', async () => {
    const request = await signHeaders({ method: 'GET', path: '/bucket-one/a%20key/%E2%9C%93.txt', query: { 'list-type': '2', prefix: 'a b/', 'max-keys': '10' }, payloadHash: 'UNSIGNED-PAYLOAD' });
    expect(verify(request).accessKeyId).toBe(credentials.accessKeyId);
  });

  it('accepts a payload hash and a signed range header', async () => {
    const payloadHash = createHash('sha256').update('hello').digest('hex');
    const request = await signHeaders({ method: 'PUT', path: '/bucket-one/k', headers: { 'content-type': 'text/plain', 'x-amz-meta-color': '  blue   sky ' }, payloadHash });
    expect(verify(request).payloadHash).toBe(payloadHash);
  });

  it('refuses a wrong secret, a changed path, a changed query value and a changed signed header with SignatureDoesNotMatch', async () => {
    const request = await signHeaders({ method: 'GET', path: '/bucket-one/key', query: { versionId: 'v1' }, headers: { range: 'bytes=0-9' }, payloadHash: 'UNSIGNED-PAYLOAD' });
    expect(code(() => verify(request, 'another-secret'))).toBe('SignatureDoesNotMatch');
    expect(code(() => verify({ ...request, rawPath: '/bucket-one/other' }))).toBe('SignatureDoesNotMatch');
    expect(code(() => verify({ ...request, rawQuery: 'versionId=v2' }))).toBe('SignatureDoesNotMatch');
    expect(code(() => verify({ ...request, headers: { ...request.headers, range: 'bytes=0-10' } }))).toBe('SignatureDoesNotMatch');
    expect(code(() => verify({ ...request, method: 'DELETE' }))).toBe('SignatureDoesNotMatch');
  });

  it('refuses a request signed more than 15 minutes away from the gateway clock', async () => {
    const request = await signHeaders({ method: 'GET', path: '/bucket-one', payloadHash: 'UNSIGNED-PAYLOAD' });
    expect(code(() => verify(request, credentials.secretAccessKey, nowMs + 16 * 60_000))).toBe('RequestTimeTooSkewed');
    expect(code(() => verify(request, credentials.secretAccessKey, nowMs - 16 * 60_000))).toBe('RequestTimeTooSkewed');
  });

  it('accepts a presigned URL until it expires, and refuses it after', async () => {
    // As @aws-sdk/s3-request-presigner does: the payload is UNSIGNED-PAYLOAD, a header neither
    // hoisted into the query nor signed, and not sent.
    const sha = new Set(['x-amz-content-sha256']);
    const presigned = await signer.presign({
      method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: '/bucket-one/photo.jpg', query: { 'response-content-type': 'image/jpeg' },
      headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    }, { signingDate, expiresIn: 600, unhoistableHeaders: sha, unsignableHeaders: sha });
    const { 'x-amz-content-sha256': _unsent, ...headers } = presigned.headers;
    const request = wire({ ...(presigned as unknown as Signed), headers });
    expect(verify(request).presigned).toBe(true);
    expect(code(() => verify(request, credentials.secretAccessKey, signingDate.getTime() + 601_000))).toBe('AccessDenied');
    const tampered = { ...request, rawQuery: request.rawQuery.replace('image%2Fjpeg', 'text%2Fhtml') };
    expect(code(() => verify(tampered))).toBe('SignatureDoesNotMatch');
  });
});

describe('streaming signed payloads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, the example of the S3 API reference)', () => {
  // docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html: a 66560-byte object of 'a' sent
  // in a 65536-byte chunk, a 1024-byte chunk and the final empty chunk, signed on 2013-05-24.
  const request: SignedRequest = {
    method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '',
    headers: {
      host: 's3.amazonaws.com', 'x-amz-date': '20130524T000000Z', 'x-amz-storage-class': 'REDUCED_REDUNDANCY', 'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560', 'content-length': '66824', 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      authorization: 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
    },
  };
  const at = Date.UTC(2013, 4, 24, 0, 1);
  const body = Buffer.concat([
    Buffer.from('10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n'), Buffer.alloc(65536, 'a'), Buffer.from('\r\n'),
    Buffer.from('400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n'), Buffer.alloc(1024, 'a'), Buffer.from('\r\n'),
    Buffer.from('0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n'),
  ]);

  it('verifies the seed signature and every chunk signature, fed in odd-sized pieces', () => {
    const context = verify(request, credentials.secretAccessKey, at);
    const decoder = new AwsChunkedDecoder(context);
    let decoded = 0;
    for (let offset = 0; offset < body.length; offset += 977) for (const piece of decoder.push(body.subarray(offset, offset + 977))) decoded += piece.length;
    decoder.end();
    expect(decoded).toBe(66560);
  });

  it('refuses a body whose data was changed, before passing on that chunk', () => {
    const context = verify(request, credentials.secretAccessKey, at);
    const changed = Buffer.from(body);
    changed[200] = 'b'.charCodeAt(0);
    const decoder = new AwsChunkedDecoder(context);
    let passed = 0;
    expect(code(() => { for (const piece of decoder.push(changed)) passed += piece.length; })).toBe('SignatureDoesNotMatch');
    expect(passed).toBe(0);
  });
});
