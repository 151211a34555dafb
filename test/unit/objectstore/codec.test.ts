import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AwsChunkedDecoder, BodyDigests, S3Error, checkContentMd5, parseXml, xmlDocument } from '../../../actors/objectstore/index.js';

function code(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    if (error instanceof S3Error) return error.s3Code;
    throw error;
  }
}

describe('checksums', () => {
  it('computes the check values of CRC32 and CRC32C, and SHA-1/SHA-256 in base64, across split updates', () => {
    const digests = new BodyDigests({ sha256: true, algorithms: ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] });
    digests.update(Buffer.from('1234'));
    digests.update(Buffer.from('56789'));
    const finished = digests.finish();
    expect(Buffer.from(finished.checksums.CRC32!, 'base64').readUInt32BE()).toBe(0xcbf43926);
    expect(Buffer.from(finished.checksums.CRC32C!, 'base64').readUInt32BE()).toBe(0xe3069283);
    expect(finished.checksums.SHA1).toBe(createHash('sha1').update('123456789').digest('base64'));
    expect(finished.checksums.SHA256).toBe(createHash('sha256').update('123456789').digest('base64'));
    expect(finished.sha256Hex).toBe(createHash('sha256').update('123456789').digest('hex'));
    expect(finished.md5Hex).toBe(createHash('md5').update('123456789').digest('hex'));
  });

  it('checks Content-MD5: InvalidDigest when malformed, BadDigest when different', () => {
    const md5 = createHash('md5').update('x').digest('base64');
    expect(code(() => checkContentMd5(md5, md5))).toBeUndefined();
    expect(code(() => checkContentMd5('nope', md5))).toBe('InvalidDigest');
    expect(code(() => checkContentMd5(createHash('md5').update('y').digest('base64'), md5))).toBe('BadDigest');
  });
});

describe('aws-chunked bodies', () => {
  const decodeAll = (decoder: AwsChunkedDecoder, body: Buffer, step: number): string => {
    let text = '';
    for (let offset = 0; offset < body.length; offset += step) for (const piece of decoder.push(body.subarray(offset, offset + step))) text += Buffer.from(piece).toString();
    decoder.end();
    return text;
  };

  it('decodes the SDK encoding with an unsigned checksum trailer, split at every byte', () => {
    const body = Buffer.from('5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n');
    for (const step of [1, 2, 7, body.length]) {
      const decoder = new AwsChunkedDecoder();
      expect(decodeAll(decoder, body, step)).toBe('hello world');
      expect(decoder.trailers.get('x-amz-checksum-crc32')).toBe('DUoRhQ==');
    }
  });

  it('accepts the SDK final chunk without trailer or final CRLF', () => {
    expect(decodeAll(new AwsChunkedDecoder(), Buffer.from('3\r\nabc\r\n0\r\n'), 4)).toBe('abc');
  });

  it('refuses a truncated body, a malformed size line and data not followed by CRLF', () => {
    expect(code(() => decodeAll(new AwsChunkedDecoder(), Buffer.from('5\r\nhel'), 100))).toBe('IncompleteBody');
    expect(code(() => decodeAll(new AwsChunkedDecoder(), Buffer.from('zz\r\nhello\r\n0\r\n'), 100))).toBe('IncompleteBody');
    expect(code(() => decodeAll(new AwsChunkedDecoder(), Buffer.from('2\r\nhello\r\n0\r\n'), 100))).toBe('IncompleteBody');
    expect(code(() => decodeAll(new AwsChunkedDecoder(), Buffer.from(`${'1'.repeat(5000)}`), 100))).toBe('IncompleteBody');
  });
});

describe('XML', () => {
  it('parses a CompleteMultipartUpload body with entities, comments and a namespace prefix', () => {
    const document = parseXml('<?xml version="1.0"?><s3:CompleteMultipartUpload xmlns:s3="x"><!-- c --><Part><PartNumber>1</PartNumber><ETag>&quot;abc&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"d&#x41;&#66;"</ETag></Part></s3:CompleteMultipartUpload>');
    expect(document.name).toBe('CompleteMultipartUpload');
    expect(document.children.map((part) => part.children.map((child) => child.text))).toEqual([['1', '"abc"'], ['2', '"dAB"']]);
  });

  it('refuses a DTD, unknown entities, mismatched tags and text outside the root', () => {
    for (const text of ['<!DOCTYPE x [<!ENTITY a "b">]><x/>', '<x>&bomb;</x>', '<x><y></x></y>', 'hi<x/>', '<x>', '<x/><y/>', '<a>'.repeat(40) + '</a>'.repeat(40)]) {
      expect(code(() => parseXml(text))).toBe('MalformedXML');
    }
  });

  it('escapes what it writes', () => {
    expect(xmlDocument('R', [['Key', 'a<b>&"c\'']])).toContain('<Key>a&lt;b&gt;&amp;&quot;c&apos;</Key>');
  });
});
