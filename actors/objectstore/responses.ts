/**
 * The XML documents of S3 responses, built from the store's records.
 */
import type { ObjectRecord, PartRecord, UploadRecord } from './core/layout.js';
import { urlEncodeKey } from './core/listing.js';
import type { S3Error } from './errors.js';
import type { VersionEntry } from './store.js';
import { xmlDocument, type XmlNode } from './xml.js';

/** The single owner of every bucket (access keys share one account). */
export const owner: XmlNode[] = [['ID', 'troupe'], ['DisplayName', 'troupe']];

export const isoTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '.000Z');
export const quoted = (etag: string): string => `"${etag}"`;

/** The error document. */
export function errorDocument(error: S3Error, resource: string, requestId: string): string {
  const fields = Object.entries(error.fields).map(([name, value]): XmlNode => [name, value]);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${xmlDocument('Error', [['Code', error.s3Code], ['Message', error.message], ...fields, ['Resource', resource], ['RequestId', requestId]]).split('\n')[1]!.replace(' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"', '')}`;
}

/** `encoding-type=url` applies to keys and prefixes in listings. */
export function keyEncoder(encodingType: string | null): (key: string) => string {
  return encodingType === 'url' ? urlEncodeKey : (key) => key;
}

export function contentsNode(record: ObjectRecord, encode: (key: string) => string, withOwner: boolean): XmlNode {
  return ['Contents', [
    ['Key', encode(record.key)], ['LastModified', isoTime(record.lastModifiedMs)], ['ETag', quoted(record.etag)], ['Size', record.size],
    ...(withOwner ? [['Owner', owner] as XmlNode] : []), ['StorageClass', 'STANDARD'],
  ]];
}

export function versionNode(entry: VersionEntry, encode: (key: string) => string): XmlNode {
  const { record, isLatest } = entry;
  if (record.deleteMarker) {
    return ['DeleteMarker', [['Key', encode(record.key)], ['VersionId', record.versionId], ['IsLatest', isLatest], ['LastModified', isoTime(record.lastModifiedMs)], ['Owner', owner]]];
  }
  return ['Version', [
    ['Key', encode(record.key)], ['VersionId', record.versionId], ['IsLatest', isLatest], ['LastModified', isoTime(record.lastModifiedMs)],
    ['ETag', quoted(record.etag)], ['Size', record.size], ['StorageClass', 'STANDARD'], ['Owner', owner],
  ]];
}

export function partNode(part: PartRecord): XmlNode {
  return ['Part', [
    ['PartNumber', part.partNumber], ['LastModified', isoTime(part.lastModifiedMs)], ['ETag', quoted(part.etag)], ['Size', part.size],
    ...Object.entries(part.checksums ?? {}).map(([algorithm, value]): XmlNode => [`Checksum${algorithm}`, value]),
  ]];
}

export function uploadNode(upload: UploadRecord, encode: (key: string) => string): XmlNode {
  return ['Upload', [['Key', encode(upload.key)], ['UploadId', upload.uploadId], ['Initiator', owner], ['Owner', owner], ['StorageClass', 'STANDARD'], ['Initiated', isoTime(upload.initiatedMs)]]];
}
