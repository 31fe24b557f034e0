// The properties a PROPFIND answers for a tree node, rendered as compact multistatus XML
// (RFC 4918 §9.1, §15; Win32 properties in urn:schemas-microsoft-com:). DAV: is the default
// namespace and nothing is indented: Windows shows a folder whose answer exceeds
// FileAttributesLimitInBytes (1,000,000) as empty, so a 3000-entry directory must stay near 330
// bytes per entry — allprop therefore returns the compact set Windows and rclone read, and every
// other live property only when it is asked for by name.
import type { TreeNode } from '../../fs/tree/types.js';
import { contentType } from './content-type.js';
import type { PropfindRequest, PropName } from './propfind-request.js';

export const MS_NS = 'urn:schemas-microsoft-com:';
const FILE_ATTRIBUTE_READONLY = 0x1;
const FILE_ATTRIBUTE_DIRECTORY = 0x10;

export interface Member {
  href: string;
  name: string;
  node: TreeNode;
  /** Computed only when a property needs it. */
  etag: () => string;
}

type Render = (m: Member) => string | undefined;

const httpDate = (d: Date): string => d.toUTCString();
const isoDate = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Live properties by namespace and name; undefined = the property does not exist on that node. */
const DAV_PROPS: Record<string, Render> = {
  resourcetype: (m) => (m.node.type === 'directory' ? '<resourcetype><collection/></resourcetype>' : '<resourcetype/>'),
  getcontentlength: (m) => (m.node.type === 'directory' ? undefined : `<getcontentlength>${m.node.size}</getcontentlength>`),
  getlastmodified: (m) => `<getlastmodified>${httpDate(m.node.mtime)}</getlastmodified>`,
  // The tree keeps no birth time: a node's creation date is its modification time.
  creationdate: (m) => `<creationdate>${isoDate(m.node.mtime)}</creationdate>`,
  getetag: (m) => (m.node.type === 'directory' ? undefined : `<getetag>${escapeXml(m.etag())}</getetag>`),
  getcontenttype: (m) => (m.node.type === 'directory' ? undefined : `<getcontenttype>${contentType(m.name)}</getcontenttype>`),
  displayname: (m) => `<displayname>${escapeXml(m.name)}</displayname>`,
  // No locks exist on a read-only share (class 1): both are empty, as RFC 4918 allows.
  supportedlock: () => '<supportedlock/>',
  lockdiscovery: () => '<lockdiscovery/>',
};

const MS_PROPS: Record<string, Render> = {
  Win32FileAttributes: (m) => `<z:Win32FileAttributes>${win32Attributes(m.node)}</z:Win32FileAttributes>`,
  Win32CreationTime: (m) => `<z:Win32CreationTime>${httpDate(m.node.mtime)}</z:Win32CreationTime>`,
  Win32LastModifiedTime: (m) => `<z:Win32LastModifiedTime>${httpDate(m.node.mtime)}</z:Win32LastModifiedTime>`,
  Win32LastAccessTime: (m) => `<z:Win32LastAccessTime>${httpDate(m.node.atime)}</z:Win32LastAccessTime>`,
};

/** What allprop (and a body-less PROPFIND, as Windows sends) returns. */
const ALLPROP: PropName[] = [
  { ns: 'DAV:', name: 'resourcetype' },
  { ns: 'DAV:', name: 'getcontentlength' },
  { ns: 'DAV:', name: 'getlastmodified' },
  { ns: MS_NS, name: 'Win32FileAttributes' },
];

export function win32Attributes(node: TreeNode): string {
  const bits = FILE_ATTRIBUTE_READONLY | (node.type === 'directory' ? FILE_ATTRIBUTE_DIRECTORY : 0);
  return bits.toString(16).padStart(8, '0');
}

export const MULTISTATUS_HEAD = `<?xml version="1.0" encoding="utf-8"?>\n<multistatus xmlns="DAV:" xmlns:z="${MS_NS}">`;
export const MULTISTATUS_TAIL = '</multistatus>\n';

function renderer(p: PropName): Render | undefined {
  if (p.ns === 'DAV:') return Object.hasOwn(DAV_PROPS, p.name) ? DAV_PROPS[p.name] : undefined;
  if (p.ns === MS_NS) return Object.hasOwn(MS_PROPS, p.name) ? MS_PROPS[p.name] : undefined;
  return undefined;
}

/** An element naming a property that we do not have, in its own namespace. */
function emptyElement(p: PropName): string {
  if (p.ns === 'DAV:') return `<${p.name}/>`;
  if (p.ns === MS_NS) return `<z:${p.name}/>`;
  if (p.ns === '') return `<${p.name} xmlns=""/>`;
  return `<x:${p.name} xmlns:x="${escapeXml(p.ns)}"/>`;
}

const NAMES_DAV = Object.keys(DAV_PROPS);
const NAMES_MS = Object.keys(MS_PROPS);

/** One <response> element for a member. */
export function renderResponse(m: Member, req: PropfindRequest): string {
  let found = '';
  let missing = '';
  if (req.kind === 'propname') {
    for (const n of NAMES_DAV) if (DAV_PROPS[n]!(m) !== undefined) found += `<${n}/>`;
    for (const n of NAMES_MS) found += `<z:${n}/>`;
  } else {
    const asked = req.kind === 'allprop' ? ALLPROP : req.props;
    for (const p of asked) {
      const r = renderer(p);
      const value = r?.(m);
      if (value !== undefined) found += value;
      else if (req.kind === 'prop') missing += emptyElement(p);
    }
  }
  let out = `<response><href>${escapeXml(m.href)}</href>`;
  if (found !== '' || missing === '') out += `<propstat><prop>${found}</prop><status>HTTP/1.1 200 OK</status></propstat>`;
  if (missing !== '') out += `<propstat><prop>${missing}</prop><status>HTTP/1.1 404 Not Found</status></propstat>`;
  return out + '</response>';
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}
