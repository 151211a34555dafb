/**
 * S3 errors as S3 sends them: a stable code (S3's own), the HTTP status that goes with it, and an
 * XML body `<Error><Code/><Message/><Resource/><RequestId/></Error>`.
 */
import { TroupeError } from '../../runtime/index.js';

/** The S3 error codes this gateway answers with, and their HTTP statuses. */
export const s3ErrorStatus = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  BadDigest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidStorageClass: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  NotImplemented: 501,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  SlowDown: 503,
  XAmzContentSHA256Mismatch: 400,
  ConditionalRequestConflict: 409,
  ExpiredToken: 400,
} as const;

/** An S3 error code. */
export type S3ErrorCode = keyof typeof s3ErrorStatus;

/** A request refused the way S3 refuses it. */
export class S3Error extends TroupeError {
  readonly status: number;
  readonly s3Code: S3ErrorCode;
  /** Extra elements of the XML body (e.g. BucketName, Key). */
  readonly fields: Readonly<Record<string, string>>;

  constructor(code: S3ErrorCode, message: string, fields: Record<string, string> = {}) {
    super(code, message, { context: fields });
    this.status = s3ErrorStatus[code];
    this.s3Code = code;
    this.fields = fields;
  }
}

/** True for S3Error. */
export function isS3Error(error: unknown): error is S3Error {
  return error instanceof S3Error;
}
