/**
 * The S3 operations: routing a parsed request to the store and writing S3's response. Every failure
 * is an S3Error (or becomes InternalError), answered as S3's XML error document by the listener.
 */
import type { ServerResponse } from 'node:http';
import { parseRange, type Preconditions } from './core/conditions.js';
import { encodeContinuationToken, decodeContinuationToken, parseMaxKeys } from './core/listing.js';
import type { ObjectRecord } from './core/layout.js';
import { parseChecksumAlgorithm } from './checksums.js';
import { S3Error } from './errors.js';
import { header, requestBody, smallBody, type S3Request } from './request.js';
import { contentsNode, isoTime, keyEncoder, owner, partNode, quoted, uploadNode, versionNode } from './responses.js';
import { ObjectStore, type BodySource, type ObjectFields } from './store.js';
import type { Uploads } from './uploads.js';
import { childText, childrenNamed, parseXml, xmlDocument, type XmlNode } from './xml.js';

/** What an operation works with. */
export interface OperationContext {
  readonly store: ObjectStore;
  readonly uploads: Uploads;
  readonly requestId: string;
}

/** Headers kept with an object and returned on GET/HEAD. */
const storedHeaders = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'];
/** Query parameters that override response headers on GET (presigned downloads use them). */
const responseOverrides: Record<string, string> = {
  'response-content-type': 'content-type', 'response-content-language': 'content-language', 'response-expires': 'expires',
  'response-cache-control': 'cache-control', 'response-content-disposition': 'content-disposition', 'response-content-encoding': 'content-encoding',
};
/** Bucket subresources this gateway does not implement (answered 501 NotImplemented, not mistaken for a listing). */
const unsupportedSubresources = ['policy', 'cors', 'lifecycle', 'tagging', 'website', 'logging', 'notification', 'replication', 'encryption', 'object-lock', 'retention', 'legal-hold', 'torrent', 'restore', 'select', 'accelerate', 'analytics', 'inventory', 'metrics', 'requestPayment', 'ownershipControls', 'publicAccessBlock', 'intelligent-tiering', 'attributes'];

/** Routes and runs one request. */
export async function runOperation(request: S3Request, response: ServerResponse, context: OperationContext): Promise<void> {
  const { method, bucket, key, query } = request;
  const unsupported = unsupportedSubresources.find((name) => query.has(name));
  if (unsupported !== undefined) throw new S3Error('NotImplemented', `the ${unsupported} subresource is not implemented`);
  if (bucket === undefined) {
    if (method === 'GET') return listBuckets(response, context);
    throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }
  if (key === undefined) return bucketOperation(request, response, context, bucket);
  return objectOperation(request, response, context, bucket, key);
}

async function bucketOperation(request: S3Request, response: ServerResponse, context: OperationContext, bucket: string): Promise<void> {
  const { method, query } = request;
  const { store } = context;
  switch (method) {
    case 'PUT':
      if (query.has('versioning')) {
        const document = parseXml(await smallBody(request));
        const status = childText(document, 'Status');
        if (status !== 'Enabled' && status !== 'Suspended') throw new S3Error('MalformedXML', 'Status must be Enabled or Suspended');
        await store.updateBucket(bucket, (record) => ({ ...record, versioning: status }));
        return send(response, 200);
      }
      if (query.has('acl')) {
        await smallBody(request);
        const acl = header(request, 'x-amz-acl') ?? 'private';
        await store.updateBucket(bucket, (record) => ({ ...record, publicRead: acl === 'public-read' }));
        return send(response, 200);
      }
      {
        const body = await smallBody(request);
        if (body.trim() !== '') {
          const document = parseXml(body);
          if (document.name !== 'CreateBucketConfiguration') throw new S3Error('MalformedXML', 'expected CreateBucketConfiguration');
        }
        await store.createBucket(bucket, { publicRead: header(request, 'x-amz-acl') === 'public-read' });
        return send(response, 200, { location: `/${bucket}` });
      }
    case 'HEAD':
      await store.bucket(bucket);
      return send(response, 200, { 'x-amz-bucket-region': 'us-east-1' });
    case 'DELETE':
      await store.deleteBucket(bucket);
      return send(response, 204);
    case 'POST':
      if (query.has('delete')) return deleteObjects(request, response, context, bucket);
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
    case 'GET':
      return bucketGet(request, response, context, bucket);
    default:
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }
}

async function bucketGet(request: S3Request, response: ServerResponse, context: OperationContext, bucket: string): Promise<void> {
  const { query } = request;
  const { store } = context;
  if (query.has('location')) {
    await store.bucket(bucket);
    return sendXml(response, 200, xmlDocument('LocationConstraint', []));
  }
  if (query.has('versioning')) {
    const { record } = await store.bucket(bucket);
    return sendXml(response, 200, xmlDocument('VersioningConfiguration', record.versioning ? [['Status', record.versioning]] : []));
  }
  if (query.has('acl')) {
    const { record } = await store.bucket(bucket);
    const grants: XmlNode[] = [['Grant', [['Grantee', owner], ['Permission', 'FULL_CONTROL']]]];
    if (record.publicRead) grants.push(['Grant', [['Grantee', [['URI', 'http://acs.amazonaws.com/groups/global/AllUsers']]], ['Permission', 'READ']]]);
    return sendXml(response, 200, xmlDocument('AccessControlPolicy', [['Owner', owner], ['AccessControlList', grants]]));
  }
  if (query.has('uploads')) return listUploads(request, response, context, bucket);
  if (query.has('versions')) return listVersions(request, response, context, bucket);
  return listObjects(request, response, context, bucket);
}

async function listBuckets(response: ServerResponse, context: OperationContext): Promise<void> {
  const buckets = await context.store.listBuckets();
  return sendXml(response, 200, xmlDocument('ListAllMyBucketsResult', [
    ['Owner', owner], ['Buckets', buckets.map((bucket): XmlNode => ['Bucket', [['Name', bucket.name], ['CreationDate', isoTime(bucket.createdMs)]]])],
  ]));
}

async function listObjects(request: S3Request, response: ServerResponse, context: OperationContext, bucket: string): Promise<void> {
  const { query } = request;
  const v2 = query.get('list-type') === '2';
  const maxKeys = parseMaxKeys(query.get('max-keys'));
  if (maxKeys === 'invalid') throw new S3Error('InvalidArgument', 'max-keys must be a non-negative integer', { ArgumentName: 'max-keys' });
  const encodingType = query.get('encoding-type');
  if (encodingType !== null && encodingType !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type' });
  const encode = keyEncoder(encodingType);
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  let after: string;
  const token = query.get('continuation-token');
  if (v2) {
    if (token !== null) {
      const decoded = decodeContinuationToken(token);
      if (decoded === undefined || token === '') throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
      after = decoded;
    } else {
      after = query.get('start-after') ?? '';
    }
  } else {
    after = query.get('marker') ?? '';
  }
  const listed = await context.store.listObjects(bucket, { prefix, delimiter, maxKeys, after });
  const common: XmlNode[] = [
    ['Name', bucket], ['Prefix', encode(prefix)], ...(delimiter !== '' ? [['Delimiter', encode(delimiter)] as XmlNode] : []), ['MaxKeys', maxKeys],
    ...(encodingType !== null ? [['EncodingType', encodingType] as XmlNode] : []), ['IsTruncated', listed.truncated],
  ];
  const contents = listed.contents.map((record) => contentsNode(record, encode, !v2 || query.get('fetch-owner') === 'true'));
  const prefixes = listed.commonPrefixes.map((commonPrefix): XmlNode => ['CommonPrefixes', [['Prefix', encode(commonPrefix)]]]);
  if (v2) {
    return sendXml(response, 200, xmlDocument('ListBucketResult', [
      ...common, ['KeyCount', contents.length + prefixes.length],
      ...(token !== null ? [['ContinuationToken', token] as XmlNode] : []),
      ...(listed.truncated && listed.nextAfter !== undefined ? [['NextContinuationToken', encodeContinuationToken(listed.nextAfter)] as XmlNode] : []),
      ...(query.has('start-after') ? [['StartAfter', encode(query.get('start-after')!)] as XmlNode] : []),
      ...contents, ...prefixes,
    ]));
  }
  return sendXml(response, 200, xmlDocument('ListBucketResult', [
    ...common, ['Marker', encode(after)],
    ...(listed.truncated && listed.nextAfter !== undefined && delimiter !== '' ? [['NextMarker', encode(listed.nextAfter)] as XmlNode] : []),
    ...contents, ...prefixes,
  ]));
}

async function listVersions(request: S3Request, response: ServerResponse, context: OperationContext, bucket: string): Promise<void> {
  const { query } = request;
  const maxKeys = parseMaxKeys(query.get('max-keys'));
  if (maxKeys === 'invalid') throw new S3Error('InvalidArgument', 'max-keys must be a non-negative integer', { ArgumentName: 'max-keys' });
  const encodingType = query.get('encoding-type');
  const encode = keyEncoder(encodingType);
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const keyMarker = query.get('key-marker') ?? '';
  const listed = await context.store.listVersions(bucket, { prefix, delimiter, maxKeys, keyMarker });
  return sendXml(response, 200, xmlDocument('ListVersionsResult', [
    ['Name', bucket], ['Prefix', encode(prefix)], ['KeyMarker', encode(keyMarker)], ['VersionIdMarker', query.get('version-id-marker') ?? ''], ['MaxKeys', maxKeys],
    ...(delimiter !== '' ? [['Delimiter', encode(delimiter)] as XmlNode] : []), ...(encodingType !== null ? [['EncodingType', encodingType] as XmlNode] : []),
    ['IsTruncated', listed.truncated], ...(listed.nextKeyMarker !== undefined ? [['NextKeyMarker', encode(listed.nextKeyMarker)] as XmlNode] : []),
    ...listed.versions.map((entry) => versionNode(entry, encode)),
    ...listed.commonPrefixes.map((commonPrefix): XmlNode => ['CommonPrefixes', [['Prefix', encode(commonPrefix)]]]),
  ]));
}

async function listUploads(request: S3Request, response: ServerResponse, context: OperationContext, bucket: string): Promise<void> {
  const { query } = request;
  const maxUploads = parseMaxKeys(query.get('max-uploads'));
  if (maxUploads === 'invalid') throw new S3Error('InvalidArgument', 'max-uploads must be a non-negative integer', { ArgumentName: 'max-uploads' });
  const encode = keyEncoder(query.get('encoding-type'));
  const prefix = query.get('prefix') ?? '';
  const keyMarker = query.get('key-marker') ?? '';
  const uploadIdMarker = query.get('upload-id-marker') ?? '';
  const listed = await context.uploads.list(bucket, { prefix, keyMarker, uploadIdMarker, maxUploads });
  const last = listed.uploads[listed.uploads.length - 1];
  return sendXml(response, 200, xmlDocument('ListMultipartUploadsResult', [
    ['Bucket', bucket], ['KeyMarker', encode(keyMarker)], ['UploadIdMarker', uploadIdMarker], ['Prefix', encode(prefix)], ['MaxUploads', maxUploads], ['IsTruncated', listed.truncated],
    ...(listed.truncated && last ? [['NextKeyMarker', encode(last.key)] as XmlNode, ['NextUploadIdMarker', last.uploadId] as XmlNode] : []),
    ...listed.uploads.map((upload) => uploadNode(upload, encode)),
  ]));
}

async function deleteObjects(request: S3Request, response: ServerResponse, context: OperationContext, bucket: string): Promise<void> {
  if (header(request, 'content-md5') === undefined && ![...Object.keys(request.headers)].some((name) => name.startsWith('x-amz-checksum-')) && header(request, 'x-amz-trailer') === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 or x-amz-checksum-*');
  }
  const document = parseXml(await smallBody(request));
  if (document.name !== 'Delete') throw new S3Error('MalformedXML', 'expected a Delete document');
  const objects = childrenNamed(document, 'Object');
  if (objects.length > 1000) throw new S3Error('MalformedXML', 'a Delete document names at most 1000 objects');
  const quiet = childText(document, 'Quiet') === 'true';
  await context.store.bucket(bucket);
  const results: XmlNode[] = [];
  for (const object of objects) {
    const key = childText(object, 'Key') ?? '';
    const versionId = childText(object, 'VersionId');
    try {
      const deleted = await context.store.deleteObject(bucket, key, versionId !== undefined ? { versionId } : {});
      if (!quiet) {
        results.push(['Deleted', [
          ['Key', key], ...(versionId !== undefined ? [['VersionId', versionId] as XmlNode] : []),
          ...(deleted.deleteMarker ? [['DeleteMarker', true] as XmlNode, ['DeleteMarkerVersionId', deleted.versionId ?? 'null'] as XmlNode] : []),
        ]]);
      }
    } catch (error) {
      if (!(error instanceof S3Error) || error.status >= 500) throw error;
      results.push(['Error', [['Key', key], ['Code', error.s3Code], ['Message', error.message]]]);
    }
  }
  return sendXml(response, 200, xmlDocument('DeleteResult', results));
}

function objectFields(request: S3Request): ObjectFields {
  const metadata: Record<string, string> = {};
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : value;
    if (name.startsWith('x-amz-meta-')) metadata[name.slice('x-amz-meta-'.length)] = text;
    else if (storedHeaders.includes(name)) headers[name] = name === 'content-encoding' ? text.split(',').map((part) => part.trim()).filter((part) => part !== 'aws-chunked').join(',') : text;
  }
  if (headers['content-encoding'] === '') delete headers['content-encoding'];
  return { contentType: header(request, 'content-type') ?? 'binary/octet-stream', metadata, headers };
}

function writeConditions(request: S3Request): Pick<Preconditions, 'ifMatch' | 'ifNoneMatch'> | undefined {
  const ifMatch = header(request, 'if-match');
  const ifNoneMatch = header(request, 'if-none-match');
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') throw new S3Error('NotImplemented', 'If-None-Match on writes accepts only *');
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  return { ...(ifMatch !== undefined ? { ifMatch } : {}), ...(ifNoneMatch !== undefined ? { ifNoneMatch } : {}) };
}

function readConditions(request: S3Request, prefix = 'if-'): Preconditions {
  const get = (name: string): string | undefined => header(request, `${prefix}${name}`);
  const conditions: Record<string, string> = {};
  for (const [field, name] of [['ifMatch', 'match'], ['ifNoneMatch', 'none-match'], ['ifModifiedSince', 'modified-since'], ['ifUnmodifiedSince', 'unmodified-since']] as const) {
    const value = get(name);
    if (value !== undefined) conditions[field] = value;
  }
  return conditions;
}

async function objectOperation(request: S3Request, response: ServerResponse, context: OperationContext, bucket: string, key: string): Promise<void> {
  const { method, query } = request;
  const { store, uploads } = context;
  const uploadId = query.get('uploadId');
  switch (method) {
    case 'PUT': {
      if (query.has('acl') || query.has('tagging')) throw new S3Error('NotImplemented', 'object ACLs and tags are not implemented');
      if (uploadId !== null) return uploadPart(request, response, context, bucket, key, uploadId);
      if (header(request, 'x-amz-copy-source') !== undefined) return copyObject(request, response, context, bucket, key);
      const body = requestBody(request);
      const record = await store.putObject(bucket, key, body.source, objectFields(request), body.expected, writeConditions(request));
      return send(response, 200, { etag: quoted(record.etag), ...versionHeader(record), ...checksumHeaders(record) });
    }
    case 'GET':
    case 'HEAD': {
      if (uploadId !== null && method === 'GET') return listParts(request, response, context, bucket, key, uploadId);
      return getObject(request, response, context, bucket, key, method === 'HEAD');
    }
    case 'DELETE': {
      if (uploadId !== null) {
        await uploads.abort(bucket, key, uploadId);
        return send(response, 204);
      }
      const versionId = query.get('versionId') ?? undefined;
      const ifMatch = header(request, 'if-match');
      const deleted = await store.deleteObject(bucket, key, { ...(versionId !== undefined ? { versionId } : {}), ...(ifMatch !== undefined ? { ifMatch } : {}) });
      return send(response, 204, { ...(deleted.versionId !== undefined && deleted.versionId !== 'null' ? { 'x-amz-version-id': deleted.versionId } : {}), ...(deleted.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}) });
    }
    case 'POST': {
      if (query.has('uploads')) {
        const algorithmHeader = header(request, 'x-amz-checksum-algorithm');
        const upload = await uploads.create(bucket, key, objectFields(request), algorithmHeader !== undefined ? parseChecksumAlgorithm(algorithmHeader) : undefined);
        return sendXml(response, 200, xmlDocument('InitiateMultipartUploadResult', [['Bucket', bucket], ['Key', key], ['UploadId', upload.uploadId]]), algorithmHeader ? { 'x-amz-checksum-algorithm': algorithmHeader } : {});
      }
      if (uploadId !== null) return completeUpload(request, response, context, bucket, key, uploadId);
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
    default:
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }
}

function versionHeader(record: ObjectRecord): Record<string, string> {
  return record.versionId !== 'null' ? { 'x-amz-version-id': record.versionId } : {};
}

function checksumHeaders(record: Pick<ObjectRecord, 'checksums'>): Record<string, string> {
  return Object.fromEntries(Object.entries(record.checksums ?? {}).map(([algorithm, value]) => [`x-amz-checksum-${algorithm.toLowerCase()}`, value]));
}

async function getObject(request: S3Request, response: ServerResponse, context: OperationContext, bucket: string, key: string, head: boolean): Promise<void> {
  const { query } = request;
  const versionId = query.get('versionId') ?? undefined;
  let record: ObjectRecord;
  try {
    record = await context.store.objectForRead(bucket, key, versionId);
  } catch (error) {
    const marker = (error as { deleteMarker?: string }).deleteMarker;
    if (marker !== undefined) response.setHeader('x-amz-delete-marker', 'true');
    if (marker !== undefined && marker !== 'null') response.setHeader('x-amz-version-id', marker);
    throw error;
  }
  const decision = ObjectStore.checkRead(record, readConditions(request));
  const headers: Record<string, string> = {
    etag: quoted(record.etag), 'last-modified': new Date(record.lastModifiedMs).toUTCString(), 'accept-ranges': 'bytes', ...versionHeader(record),
  };
  if (decision === 'notModified') return send(response, 304, headers);
  for (const [name, value] of Object.entries(record.metadata)) headers[`x-amz-meta-${name}`] = value;
  Object.assign(headers, record.headers, { 'content-type': record.contentType });
  if (record.partsCount !== undefined) headers['x-amz-mp-parts-count'] = String(record.partsCount);
  for (const [parameter, name] of Object.entries(responseOverrides)) {
    const value = query.get(parameter);
    if (value !== null) headers[name] = value;
  }
  const range = parseRange(header(request, 'range'), record.size);
  if (range === 'unsatisfiable') {
    throw new S3Error('InvalidRange', 'The requested range is not satisfiable', { RangeRequested: header(request, 'range') ?? '', ActualObjectSize: String(record.size) });
  }
  const served = range ?? { first: 0, last: record.size - 1 };
  const length = record.size === 0 ? 0 : served.last - served.first + 1;
  headers['content-length'] = String(length);
  if (range !== undefined) headers['content-range'] = `bytes ${range.first}-${range.last}/${record.size}`;
  else if (header(request, 'x-amz-checksum-mode') === 'ENABLED') Object.assign(headers, checksumHeaders(record));
  response.writeHead(range !== undefined ? 206 : 200, headers);
  if (head || length === 0) {
    response.end();
    return;
  }
  await pipeOut(context.store.readData(record, served), response);
}

/** Writes a stream to the response, waiting for 'drain' when the socket is full (bounded memory). */
async function pipeOut(source: AsyncIterable<Uint8Array>, response: ServerResponse): Promise<void> {
  for await (const piece of source) {
    if (response.destroyed) return;
    if (!response.write(piece)) await new Promise<void>((resolve) => { response.once('drain', resolve); response.once('close', resolve); });
  }
  response.end();
}

/** Parses x-amz-copy-source: `/bucket/key` or `bucket/key`, URL-encoded, with an optional `?versionId=`. */
function copySource(request: S3Request): { bucket: string; key: string; versionId?: string } {
  const raw = header(request, 'x-amz-copy-source')!;
  const at = raw.indexOf('?');
  const path = (at < 0 ? raw : raw.slice(0, at)).replace(/^\//, '');
  const versionId = at < 0 ? undefined : new URLSearchParams(raw.slice(at + 1)).get('versionId') ?? undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw new S3Error('InvalidArgument', 'x-amz-copy-source is not URL-encoded correctly', { ArgumentName: 'x-amz-copy-source' });
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source' });
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), ...(versionId !== undefined ? { versionId } : {}) };
}

async function sourceRecord(request: S3Request, context: OperationContext): Promise<{ record: ObjectRecord; source: ReturnType<typeof copySource> }> {
  const source = copySource(request);
  const record = await context.store.objectForRead(source.bucket, source.key, source.versionId);
  const decision = ObjectStore.checkRead(record, readConditions(request, 'x-amz-copy-source-if-'));
  if (decision === 'notModified') throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  return { record, source };
}

async function copyObject(request: S3Request, response: ServerResponse, context: OperationContext, bucket: string, key: string): Promise<void> {
  const { record, source } = await sourceRecord(request, context);
  const directive = header(request, 'x-amz-metadata-directive') ?? 'COPY';
  if (directive !== 'COPY' && directive !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive' });
  if (source.bucket === bucket && source.key === key && source.versionId === undefined && directive === 'COPY') {
    throw new S3Error('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
  }
  const fields = directive === 'REPLACE' ? objectFields(request) : { contentType: record.contentType, metadata: record.metadata, headers: record.headers };
  const body: BodySource = record.size === 0 ? emptyBody() : context.store.readData(record, { first: 0, last: record.size - 1 });
  const written = await context.store.putObject(bucket, key, body, fields, { length: record.size }, writeConditions(request));
  return sendXml(response, 200, xmlDocument('CopyObjectResult', [['LastModified', isoTime(written.lastModifiedMs)], ['ETag', quoted(written.etag)]]), {
    ...versionHeader(written), ...(record.versionId !== 'null' ? { 'x-amz-copy-source-version-id': record.versionId } : {}),
  });
}

async function* emptyBody(): AsyncGenerator<Uint8Array, void, void> {
  // An empty object has no chunks to copy.
}

async function uploadPart(request: S3Request, response: ServerResponse, context: OperationContext, bucket: string, key: string, uploadId: string): Promise<void> {
  const partNumber = Number(request.query.get('partNumber'));
  if (header(request, 'x-amz-copy-source') !== undefined) {
    const { record } = await sourceRecord(request, context);
    const rangeHeader = header(request, 'x-amz-copy-source-range');
    let range = { first: 0, last: record.size - 1 };
    if (rangeHeader !== undefined) {
      const match = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader.trim());
      if (match === null || Number(match[2]) < Number(match[1]) || Number(match[2]) >= record.size) {
        throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', { ArgumentName: 'x-amz-copy-source-range' });
      }
      range = { first: Number(match[1]), last: Number(match[2]) };
    }
    const body = record.size === 0 ? emptyBody() : context.store.readData(record, range);
    const part = await context.uploads.uploadPart(bucket, key, uploadId, partNumber, body, { length: Math.max(0, range.last - range.first + 1) });
    return sendXml(response, 200, xmlDocument('CopyPartResult', [['LastModified', isoTime(part.lastModifiedMs)], ['ETag', quoted(part.etag)]]));
  }
  const body = requestBody(request);
  const part = await context.uploads.uploadPart(bucket, key, uploadId, partNumber, body.source, body.expected);
  return send(response, 200, { etag: quoted(part.etag), ...checksumHeaders(part) });
}

async function completeUpload(request: S3Request, response: ServerResponse, context: OperationContext, bucket: string, key: string, uploadId: string): Promise<void> {
  const document = parseXml(await smallBody(request));
  if (document.name !== 'CompleteMultipartUpload') throw new S3Error('MalformedXML', 'expected a CompleteMultipartUpload document');
  const requested = childrenNamed(document, 'Part').map((part) => ({ partNumber: Number(childText(part, 'PartNumber')), etag: childText(part, 'ETag') ?? '' }));
  const record = await context.uploads.complete(bucket, key, uploadId, requested, writeConditions(request));
  return sendXml(response, 200, xmlDocument('CompleteMultipartUploadResult', [['Location', `/${bucket}/${key}`], ['Bucket', bucket], ['Key', key], ['ETag', quoted(record.etag)]]), versionHeader(record));
}

async function listParts(request: S3Request, response: ServerResponse, context: OperationContext, bucket: string, key: string, uploadId: string): Promise<void> {
  const { query } = request;
  await context.uploads.upload(bucket, key, uploadId);
  const maxParts = parseMaxKeys(query.get('max-parts'));
  if (maxParts === 'invalid') throw new S3Error('InvalidArgument', 'max-parts must be a non-negative integer', { ArgumentName: 'max-parts' });
  const marker = Number(query.get('part-number-marker') ?? '0');
  const parts = (await context.uploads.parts(uploadId)).filter((part) => part.partNumber > marker);
  const page = parts.slice(0, maxParts);
  const truncated = parts.length > maxParts;
  return sendXml(response, 200, xmlDocument('ListPartsResult', [
    ['Bucket', bucket], ['Key', key], ['UploadId', uploadId], ['Initiator', owner], ['Owner', owner], ['StorageClass', 'STANDARD'],
    ['PartNumberMarker', marker], ...(page.length > 0 ? [['NextPartNumberMarker', page[page.length - 1]!.partNumber] as XmlNode] : []), ['MaxParts', maxParts], ['IsTruncated', truncated],
    ...page.map(partNode),
  ]));
}

function send(response: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  response.writeHead(status, { ...headers, 'content-length': '0' });
  response.end();
}

function sendXml(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(body, 'utf8');
  response.writeHead(status, { ...headers, 'content-type': 'application/xml', 'content-length': String(bytes.length) });
  response.end(bytes);
}
