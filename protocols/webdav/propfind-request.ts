// The body of a PROPFIND (RFC 4918 §14.20): allprop, propname, or a list of properties by
// namespace and local name. A small namespace-aware tag scanner is enough for this one element
// tree (no DTDs, entities or CDATA are needed, and any are refused as malformed).

export interface PropName {
  ns: string;
  name: string;
}

export type PropfindRequest = { kind: 'allprop' } | { kind: 'propname' } | { kind: 'prop'; props: PropName[] };

/** Bodies larger than this are refused (413): a real client's request is a few hundred bytes. */
export const MAX_PROPFIND_BODY = 64 * 1024;
const MAX_PROPS = 256;

export class MalformedBody extends Error {}

/** An empty body means allprop (RFC 4918 §9.1). */
export function parsePropfind(body: string): PropfindRequest {
  if (body.trim() === '') return { kind: 'allprop' };
  if (/<!|<\?(?!xml[\s?])/i.test(body.replace(/^\uFEFF/, ''))) throw new MalformedBody('DTDs, comments and processing instructions are not accepted');
  const stack: Array<{ ns: Map<string, string>; el: PropName }> = [];
  const path: string[] = [];
  let result: PropfindRequest | undefined;
  const props: PropName[] = [];
  const tag = /<(\/?)([^\s/>]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  const text = body.replace(/<\?xml[^>]*\?>/i, '');
  let last = 0;
  for (let m = tag.exec(text); m; m = tag.exec(text)) {
    if (/[<>]/.test(text.slice(last, m.index))) throw new MalformedBody('malformed XML');
    last = tag.lastIndex;
    const [, close, qname, attrs, selfClose] = m as unknown as [string, string, string, string, string];
    if (close) {
      const top = stack.pop();
      if (!top || path.pop() !== qname) throw new MalformedBody('mismatched XML end tag');
      continue;
    }
    const ns = new Map(stack.length ? stack[stack.length - 1]!.ns : []);
    for (const a of attrs.matchAll(/([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      const [, an, v1, v2] = a;
      const value = v1 ?? v2 ?? '';
      if (an === 'xmlns') ns.set('', value);
      else if (an!.startsWith('xmlns:')) ns.set(an!.slice(6), value);
    }
    const colon = qname.indexOf(':');
    const prefix = colon >= 0 ? qname.slice(0, colon) : '';
    const local = colon >= 0 ? qname.slice(colon + 1) : qname;
    const uri = ns.get(prefix);
    if (uri === undefined && prefix !== '') throw new MalformedBody(`undeclared XML namespace prefix "${prefix}"`);
    const el = { ns: uri ?? '', name: local };
    const parent = stack.length ? stack[stack.length - 1]!.el : undefined;
    const depth = stack.length;
    if (depth === 0 && !(el.ns === 'DAV:' && el.name === 'propfind')) throw new MalformedBody('the body is not a DAV:propfind');
    if (depth === 1 && el.ns === 'DAV:') {
      if (el.name === 'allprop') result ??= { kind: 'allprop' };
      else if (el.name === 'propname') result ??= { kind: 'propname' };
      else if (el.name === 'prop') result ??= { kind: 'prop', props };
    }
    if (depth === 2 && parent?.ns === 'DAV:' && parent.name === 'prop') {
      if (props.length >= MAX_PROPS) throw new MalformedBody('too many properties asked for');
      props.push(el);
    }
    if (!selfClose) {
      stack.push({ ns, el });
      path.push(qname);
    }
  }
  if (stack.length > 0 || /[<>]/.test(text.slice(last))) throw new MalformedBody('unterminated XML');
  if (!result) throw new MalformedBody('a propfind names allprop, propname or prop');
  return result;
}
