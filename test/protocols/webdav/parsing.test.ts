// The pure parts of the WebDAV server on their own: request paths (no escape whatever the
// encoding), Range headers (RFC 9110 §14 cases), PROPFIND bodies (namespaces, refusals).
import test from 'ava';
import { decodeRequestPath, encodeHref } from '../../../protocols/webdav/paths.js';
import { parseRange } from '../../../protocols/webdav/ranges.js';
import { MalformedBody, parsePropfind } from '../../../protocols/webdav/propfind-request.js';

test('paths: encoded slashes and backslashes stay inside one name; dot segments, NUL, bad UTF-8 and long names are refused', (t) => {
  t.deepEqual(decodeRequestPath('/a/b%20c/?x=1'), { ok: true, segments: ['a', 'b c'], slash: true });
  t.deepEqual(decodeRequestPath('/a%5C..%5Cb'), { ok: true, segments: ['a\\..\\b'], slash: false });
  t.deepEqual(decodeRequestPath('http://host:1/s/p1/x'), { ok: true, segments: ['s', 'p1', 'x'], slash: false });
  for (const bad of ['/a/../b', '/%2e%2e/x', '/a/%2E', '/a%00', '/%zz', '/%c0%ae', '/%ff']) t.false(decodeRequestPath(bad).ok, bad);
  const slash = decodeRequestPath('/a%2fb');
  t.true(!slash.ok && slash.status === 404);
  const long = decodeRequestPath('/' + 'é'.repeat(128));
  t.true(!long.ok && long.status === 404);
  const url = decodeRequestPath('/' + 'x'.repeat(9000));
  t.true(!url.ok && url.status === 414);
  // Every name survives the round trip through an href, including '%', '#', '?', ':' and quotes.
  for (const name of ['a%2Fb', 'x#y?z', "it's (1)!", 'report.docx:Zone.Identifier', 'Ünïcødé 日本', '100%']) {
    const back = decodeRequestPath(encodeHref(['s', name], false));
    t.deepEqual(back, { ok: true, segments: ['s', name], slash: false }, name);
  }
});

test('ranges: single, suffix, open-ended, multiple (merged), unsatisfiable and ignored headers', (t) => {
  t.deepEqual(parseRange('bytes=0-9', 100), { kind: 'ranges', ranges: [{ start: 0, end: 9 }] });
  t.deepEqual(parseRange('bytes=-10', 100), { kind: 'ranges', ranges: [{ start: 90, end: 99 }] });
  t.deepEqual(parseRange('bytes=-1000', 100), { kind: 'ranges', ranges: [{ start: 0, end: 99 }] });
  t.deepEqual(parseRange('bytes=95-', 100), { kind: 'ranges', ranges: [{ start: 95, end: 99 }] });
  t.deepEqual(parseRange('bytes=90-200', 100), { kind: 'ranges', ranges: [{ start: 90, end: 99 }] });
  t.deepEqual(parseRange('bytes=50-59, 0-9,5-20', 100), { kind: 'ranges', ranges: [{ start: 0, end: 20 }, { start: 50, end: 59 }] });
  t.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
  t.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
  t.deepEqual(parseRange('bytes=100-200,300-', 100), { kind: 'unsatisfiable' });
  t.deepEqual(parseRange('bytes=200-,0-0', 100), { kind: 'ranges', ranges: [{ start: 0, end: 0 }] });
  for (const ignored of [undefined, 'lines=1-2', 'bytes=5-1', 'bytes=--', 'bytes=a-b', 'bytes=', 'bytes=99999999999999999999-']) {
    t.deepEqual(parseRange(ignored, 100), { kind: 'whole' }, String(ignored));
  }
  const many = 'bytes=' + Array.from({ length: 100 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',');
  t.deepEqual(parseRange(many, 10_000), { kind: 'whole' });
});

test('PROPFIND bodies: allprop, propname, prop lists by namespace; DTDs and junk are malformed', (t) => {
  t.deepEqual(parsePropfind(''), { kind: 'allprop' });
  t.deepEqual(parsePropfind('<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>'), { kind: 'allprop' });
  t.deepEqual(parsePropfind('<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>'), { kind: 'propname' });
  t.deepEqual(parsePropfind('<a:propfind xmlns:a="DAV:" xmlns:z="urn:schemas-microsoft-com:"><a:prop><a:getetag/><z:Win32FileAttributes/><x xmlns="urn:other"/></a:prop></a:propfind>'), {
    kind: 'prop',
    props: [{ ns: 'DAV:', name: 'getetag' }, { ns: 'urn:schemas-microsoft-com:', name: 'Win32FileAttributes' }, { ns: 'urn:other', name: 'x' }],
  });
  for (const bad of ['<!DOCTYPE x [<!ENTITY a "b">]><propfind xmlns="DAV:"/>', '<propfind><prop/></propfind>', '<D:propfind xmlns:D="DAV:"><D:prop>', '<<<', '<q:propfind xmlns:D="DAV:"/>']) {
    t.throws(() => parsePropfind(bad), { instanceOf: MalformedBody }, bad);
  }
});
