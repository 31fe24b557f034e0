// A session's own bounds, on a ProxyServer in this process with small limits: a request stalled
// half-way is closed after the request timeout while an idle session stays open, and the
// connection limit turns further clients away without disturbing the ones served.
import test from 'ava';
import { join } from 'node:path';
import { FileBlockSource } from '../../../src/block/file-source.js';
import { ProxyServer } from '../../../protocols/imdproxy/server.js';
import { quietLog, tempDir, writeOddImage } from '../nbd/helpers.js';
import { ProxyClient, REQ, u64s } from './client.js';

test('a request stalled half-way closes its connection after the request timeout; an idle one stays open', async (t) => {
  const { dir, cleanup } = await tempDir('proxy-session');
  const data = await writeOddImage(join(dir, 'd.img'), 100_000, 3);
  const source = await FileBlockSource.open(join(dir, 'd.img'));
  const server = new ProxyServer(quietLog(), { requestTimeoutMs: 300, maxConnections: 3 });
  t.teardown(async () => {
    await server.close();
    await source.close();
    await cleanup();
  });
  const l = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 }, { name: 'd', source });
  const port = l.bound.kind === 'tcp' ? l.bound.port : 0;
  const idle = await ProxyClient.connect({ port });
  const stalled = await ProxyClient.connect({ port });
  stalled.send(u64s(REQ.READ, 0)); // the length never comes
  const slowWrite = await ProxyClient.connect({ port });
  slowWrite.send(u64s(REQ.WRITE, 0, 1000), Buffer.alloc(10));
  await new Promise((r) => setTimeout(r, 1000));
  t.true(stalled.isClosed, 'a half-sent header is cut');
  t.true(slowWrite.isClosed, 'a half-sent payload is cut');
  t.false(idle.isClosed, 'an idle session is not');
  t.true((await idle.read(5, 50)).data.equals(data.subarray(5, 55)));
  // maxConnections 3: with three open, a fourth is turned away at once.
  const b = await ProxyClient.connect({ port });
  const c = await ProxyClient.connect({ port });
  const refused = await ProxyClient.connect({ port });
  await Promise.race([refused.closed, new Promise((r) => setTimeout(r, 2000))]);
  t.true(refused.isClosed, 'over the connection limit');
  t.true((await b.read(0, 10)).data.equals(data.subarray(0, 10)));
  for (const x of [idle, b, c]) await x.close();
});
