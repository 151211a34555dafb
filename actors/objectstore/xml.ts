/**
 * The XML of S3 requests and responses. Responses are written with escaping; request bodies (a
 * CompleteMultipartUpload list, a Delete batch, a bucket configuration) are parsed by a small bounded
 * parser: elements, text and entities only (no DTD, no processing beyond the XML declaration), at
 * most `xmlBytesMax` bytes and `xmlDepthMax` levels, so a hostile body costs bounded work.
 */
import { S3Error } from './errors.js';

/** Largest request body parsed as XML (S3 caps a Delete batch of 1000 keys near this). */
export const xmlBytesMax = 2 * 1024 * 1024;
const xmlDepthMax = 16;
const xmlElementsMax = 50_000;

/** An element of a parsed document. */
export interface XmlElement {
  readonly name: string;
  readonly children: XmlElement[];
  text: string;
}

/** Escapes text for element content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[char]!);
}

/** A value written into the response tree: text, a nested element list, or a repeated element. */
export type XmlValue = string | number | boolean | XmlNode[] | undefined;
/** One element of a response: [name, value]. Undefined values are left out. */
export type XmlNode = readonly [string, XmlValue];

/** Writes a response document with the S3 namespace on the root element. */
export function xmlDocument(root: string, children: readonly XmlNode[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${children.map(writeNode).join('')}</${root}>`;
}

function writeNode([name, value]: XmlNode): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return `<${name}>${value.map(writeNode).join('')}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    const value = entities[entity];
    if (value === undefined) throw new S3Error('MalformedXML', `unknown entity ${whole}`);
    return value;
  });
}

/** Parses a request body; throws S3Error MalformedXML on anything it does not accept. */
export function parseXml(text: string): XmlElement {
  if (text.length > xmlBytesMax) throw new S3Error('MalformedXML', 'the XML body is too large');
  const malformed = (why: string): S3Error => new S3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema (${why})`);
  let position = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;
  const tag = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/y;
  while (position < text.length) {
    const open = text.indexOf('<', position);
    const content = text.slice(position, open < 0 ? text.length : open);
    if (stack.length > 0) stack[stack.length - 1]!.text += decodeEntities(content);
    else if (content.trim() !== '') throw malformed('text outside the root element');
    if (open < 0) break;
    if (text.startsWith('<?', open)) {
      const end = text.indexOf('?>', open);
      if (end < 0 || root !== undefined || stack.length > 0) throw malformed('bad declaration');
      position = end + 2;
      continue;
    }
    if (text.startsWith('<!--', open)) {
      const end = text.indexOf('-->', open);
      if (end < 0) throw malformed('unterminated comment');
      position = end + 3;
      continue;
    }
    if (text.startsWith('<![CDATA[', open)) {
      const end = text.indexOf(']]>', open);
      if (end < 0 || stack.length === 0) throw malformed('bad CDATA');
      stack[stack.length - 1]!.text += text.slice(open + 9, end);
      position = end + 3;
      continue;
    }
    tag.lastIndex = open;
    const match = tag.exec(text);
    if (match === null) throw malformed('bad tag');
    const [, closing, name, , selfClosing] = match;
    position = tag.lastIndex;
    const local = name!.includes(':') ? name!.slice(name!.indexOf(':') + 1) : name!;
    if (closing === '/') {
      const top = stack.pop();
      if (top === undefined || top.name !== local) throw malformed(`unexpected </${name}>`);
      continue;
    }
    elements += 1;
    if (elements > xmlElementsMax || stack.length >= xmlDepthMax) throw malformed('too many or too deeply nested elements');
    const element: XmlElement = { name: local, children: [], text: '' };
    if (stack.length > 0) stack[stack.length - 1]!.children.push(element);
    else if (root === undefined) root = element;
    else throw malformed('two root elements');
    if (selfClosing !== '/') stack.push(element);
  }
  if (root === undefined || stack.length > 0) throw malformed('unterminated document');
  return root;
}

/** The children of `element` named `name`. */
export function childrenNamed(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((child) => child.name === name);
}

/** The text of the first child named `name`, or undefined. */
export function childText(element: XmlElement, name: string): string | undefined {
  return element.children.find((child) => child.name === name)?.text;
}
