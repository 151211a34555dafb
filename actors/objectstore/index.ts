/**
 * The object store's public surface: an S3-compatible gateway over the replicated KV (actors/raft),
 * as a supervised actor tree (`objectStoreGateway`) or a plain server over any `ObjectKv`
 * (`S3Gateway`), its data layout and rules as pure modules, SigV4 verification, and the access-key
 * helpers the CLI uses.
 */
export { objectStoreGateway, listenerBehaviour, sweeperBehaviour, type ObjectStoreGatewayOptions } from './actor.js';
export { S3Gateway, newId, type GatewayStats, type S3GatewayOptions } from './gateway.js';
export { KvPool, type KvPoolOptions, type ObjectKv, type RangeAnswer, type TxnOutcome } from './kv.js';
export { ObjectStore, storeLimits, type StoreLimits } from './store.js';
export { Uploads } from './uploads.js';
export { sweepOnce, sweepDefaults, type SweepOptions, type SweepResult } from './sweeper.js';
export { AccessKeys, createAccessKey, deleteAccessKey, listAccessKeys, type S3Credentials } from './access-keys.js';
export { S3Error, s3ErrorStatus, type S3ErrorCode } from './errors.js';
export {
  canonicalQuery, canonicalRequest, canonicalUri, chunkSignature, parseCredential, signingKey, trailerSignature, uriEncode, verifySignature,
  type Credential, type SignatureContext, type SignedRequest,
} from './sigv4.js';
export { AwsChunkedDecoder } from './chunked.js';
export { BodyDigests, checkContentMd5 } from './checksums.js';
export { parseXml, xmlDocument, escapeXml } from './xml.js';
export {
  chunkSlices, invalidBucketName, invalidObjectKey, prefixEnd, publishTransaction, utf8, objectKey, bucketKey, chunkKey, garbageKey,
  type BucketRecord, type ObjectRecord, type PartRecord, type UploadRecord, type GarbageRecord, type Segment, type ChecksumAlgorithm,
} from './core/layout.js';
export { decideRead, parseRange, tagsMatch, writeAllowed, type ByteRange, type Preconditions } from './core/conditions.js';
export { placeKey, encodeContinuationToken, decodeContinuationToken, urlEncodeKey, parseMaxKeys } from './core/listing.js';
export { checkCompletion, multipartEtag, multipartLimits, type MultipartLimits } from './core/multipart.js';
export { runS3Cli, parseS3Url, generateCredentials, s3Usage, type S3CliOptions } from './cli.js';
