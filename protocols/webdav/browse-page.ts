// The browser page: GET of a collection renders it as plain HTML — streams with size, pack time
// and partition table at the root, partitions with filesystem and label in a stream, folders and
// files (download links) everywhere — usable with JavaScript off. A small script, served from
// this origin, adds the live panel fed over a WebSocket.
import type { DirEntry, VirtualTree } from '../../fs/tree/types.js';
import { formatBytes } from '../../src/format-bytes.js';
import { encodeHref } from './paths.js';

/** GET /?diskarc-panel.js serves the panel script (a query, so no stream name can collide with it). */
export const PANEL_SCRIPT_QUERY = '?diskarc-panel.js';
/** Streams whose info.json is read for the root page; beyond, names and sizes only. */
const DETAILED_STREAMS = 100;

export interface PageOptions {
  /** The query the live panel's WebSocket connects to (e.g. "?live"); no panel when undefined. */
  livePanelQuery?: string;
}

interface StreamInfoJson {
  stream?: { packTime?: string; size?: number; sourcePath?: string };
  partitionTable?: { scheme: string; partitions: Array<{ index: number; size: number; typeName?: string; type: string; filesystem?: string; label?: string; name?: string; extended?: boolean }> } | null;
  filesystem?: string | null;
}

const esc = (s: string): string => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);

async function readInfo(tree: VirtualTree, stream: string): Promise<StreamInfoJson | undefined> {
  try {
    const src = await tree.open(`/${stream}/info.json`);
    try {
      return JSON.parse((await src.read(0, src.size)).toString('utf8')) as StreamInfoJson;
    } finally {
      await src.close();
    }
  } catch {
    return undefined; // a stream whose table cannot be read still lists by name
  }
}

function tableSummary(info: StreamInfoJson | undefined): string {
  const t = info?.partitionTable;
  if (!t) return info?.filesystem ? `no table, ${esc(info.filesystem)}` : 'no partition table';
  const parts = t.partitions.filter((p) => !p.extended);
  return `${esc(t.scheme.toUpperCase())}, ${parts.length} partition${parts.length === 1 ? '' : 's'}`;
}

function partitionsTable(info: StreamInfoJson | undefined, segments: string[]): string {
  const parts = info?.partitionTable?.partitions.filter((p) => !p.extended) ?? [];
  if (parts.length === 0) return '';
  const rows = parts.map((p) => {
    const img = encodeHref([...segments, `p${p.index}.img`], false);
    return `<tr><td><a href="${img}" download>p${p.index}.img</a></td><td class="n">${esc(formatBytes(p.size))}</td><td>${esc(p.filesystem ?? '')}</td><td>${esc(p.label ?? '')}</td><td>${esc(p.typeName ?? p.type)}${p.name ? ` (${esc(p.name)})` : ''}</td></tr>`;
  });
  return `<h2>Partitions (${esc(info!.partitionTable!.scheme.toUpperCase())})</h2><table><thead><tr><th>image</th><th>size</th><th>filesystem</th><th>label</th><th>type</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function crumbs(segments: string[]): string {
  const out = ['<a href="/">archive</a>'];
  segments.forEach((s, i) => out.push(`<a href="${encodeHref(segments.slice(0, i + 1), true)}">${esc(s)}</a>`));
  return out.join(' / ');
}

export async function renderBrowsePage(tree: VirtualTree, segments: string[], entries: DirEntry[], opts: PageOptions = {}): Promise<string> {
  let body = `<nav>${crumbs(segments)}</nav>`;
  if (segments.length === 0) {
    const rows = await Promise.all(entries.map(async (e, i) => {
      const info = i < DETAILED_STREAMS ? await readInfo(tree, e.name) : undefined;
      const size = info?.stream?.size;
      return `<tr><td><a href="${encodeHref([e.name], true)}">${esc(e.name)}/</a></td><td class="n">${size !== undefined ? esc(formatBytes(size)) : ''}</td><td>${esc(e.node.mtime.toISOString().replace('.000Z', 'Z'))}</td><td>${info ? tableSummary(info) : ''}</td></tr>`;
    }));
    body += `<h1>Archived disks</h1><table><thead><tr><th>stream</th><th>size</th><th>packed</th><th>partition table</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  } else {
    if (segments.length === 1) body += partitionsTable(await readInfo(tree, segments[0]!), segments);
    body += `<h1>${esc(segments[segments.length - 1]!)}</h1>`;
    const rows = entries.map((e) => {
      const dir = e.node.type === 'directory';
      const href = encodeHref([...segments, e.name], dir);
      const link = dir ? `<a href="${href}">${esc(e.name)}/</a>` : `<a href="${href}" download>${esc(e.name)}</a>`;
      return `<tr><td>${link}</td><td class="n">${dir ? '' : esc(formatBytes(e.node.size))}</td><td>${esc(e.node.mtime.toISOString().replace('.000Z', 'Z'))}</td></tr>`;
    });
    const up = `<tr><td><a href="${encodeHref(segments.slice(0, -1), true)}">../</a></td><td></td><td></td></tr>`;
    body += `<table><thead><tr><th>name</th><th>size</th><th>modified</th></tr></thead><tbody>${up}${rows.join('')}</tbody></table>`;
  }
  const panel = opts.livePanelQuery
    ? `<section id="live" data-query="${esc(opts.livePanelQuery)}"><h2>Live</h2><noscript>The live panel needs JavaScript; everything else works without it.</noscript><div id="live-body">connecting…</div></section><script src="/${PANEL_SCRIPT_QUERY}"></script>`
    : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>diskarc${segments.length ? ' – ' + esc(segments.join('/')) : ''}</title><style>${STYLE}</style></head><body>${body}${panel}<footer>diskarc read-only share · WebDAV clients can map this address</footer></body></html>\n`;
}

const STYLE = 'body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}a{color:#0645ad;text-decoration:none}a:hover{text-decoration:underline}nav{margin-bottom:1em}h1{font-size:1.3em}h2{font-size:1.1em}#live{border:1px solid #ccc;padding:.5em 1em;max-width:60em}footer{color:#777;margin-top:2em;font-size:12px}';

/** The live panel: connects back to this origin, renders each stats message (numbers only, textContent). */
export const PANEL_SCRIPT = `'use strict';
(function () {
  var root = document.getElementById('live');
  if (!root) return;
  var body = document.getElementById('live-body');
  var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/' + root.getAttribute('data-query');
  function fmt(n) { var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; var i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return (i ? n.toFixed(1) : String(n)) + ' ' + u[i]; }
  function row(t, cells) { var tr = document.createElement('tr'); cells.forEach(function (c) { var td = document.createElement('td'); td.textContent = String(c); tr.appendChild(td); }); t.appendChild(tr); }
  function render(s) {
    var t = document.createElement('table');
    row(t, ['protocol', 'connections', 'bytes served']);
    (s.protocols || []).forEach(function (p) { row(t, [p.protocol, p.connections, fmt(p.bytes)]); });
    var c = document.createElement('table');
    row(c, ['slab cache', 'hits', 'misses', 'in cache', 'budget']);
    if (s.cache) row(c, ['', s.cache.hits, s.cache.misses, fmt(s.cache.bytes), fmt(s.cache.budget)]);
    var k = document.createElement('table');
    row(k, ['client', 'protocol', 'connections', 'bytes', 'throughput']);
    (s.clients || []).forEach(function (x) { row(k, [x.peer, x.protocol, x.connections, fmt(x.bytes), fmt(x.bytesPerSecond) + '/s']); });
    body.replaceChildren(t, c, k);
    body.setAttribute('data-bytes', String((s.protocols || []).reduce(function (n, p) { return n + p.bytes; }, 0)));
  }
  function connect() {
    var ws = new WebSocket(url);
    ws.onmessage = function (m) { try { render(JSON.parse(m.data)); } catch (e) { body.textContent = 'bad message'; } };
    ws.onclose = function () { body.textContent = 'disconnected; retrying…'; setTimeout(connect, 2000); };
  }
  connect();
})();
`;
