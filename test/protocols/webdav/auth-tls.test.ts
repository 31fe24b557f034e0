// Basic authentication from a password file (refused without, with a wrong user or password, also
// on OPTIONS and PROPFIND; accepted for curl and rclone), HTTPS with a certificate made here by
// openssl, and start-up errors for unusable option combinations.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { writeSampleDisk } from '../../../src/sample-disk.js';
import { packArchive } from '../../fs/fuse/helpers.js';
import { CLI, mustSh, sh, startDavServe, type DavServe } from './helpers.js';

let dir: string;
let archive: string;
let serve: DavServe;
const PASSWORD = 'correct horse:battery é';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskarc-webdav-auth-'));
  await writeSampleDisk(join(dir, 'sample.img'), 8);
  archive = await packArchive(dir, [{ path: join(dir, 'sample.img'), name: 'sample' }]);
  await writeFile(join(dir, 'pw'), PASSWORD + '\n');
  await mustSh(`openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null`, { cwd: dir });
  serve = await startDavServe(['-a', archive, '--webdav-user', 'alice', '--webdav-password-file', join(dir, 'pw'), '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')]);
});

test.after.always(async () => {
  if (serve) await serve.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const curl = (args: string): Promise<string> => mustSh(`curl -s --cacert ${join(dir, 'cert.pem')} -o /dev/null -w '%{http_code}' ${args}`);

test('HTTPS with Basic auth: 401 without or with wrong credentials (every method), 200/207 with the right ones', async (t) => {
  t.regex(serve.uri, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  const url = `${serve.uri}sample/info.json`;
  t.is(await curl(`'${url}'`), '401');
  t.is(await curl(`-X OPTIONS '${serve.uri}'`), '401');
  t.is(await curl(`-X PROPFIND -H 'Depth: 1' '${serve.uri}'`), '401');
  t.is(await curl(`-u 'alice:wrong' '${url}'`), '401');
  t.is(await curl(`-u 'bob:${PASSWORD}' '${url}'`), '401');
  t.is(await curl(`-u 'alice:${PASSWORD}x' '${url}'`), '401');
  t.is(await curl(`-u 'alice:${PASSWORD}' '${url}'`), '200');
  t.is(await curl(`-u 'alice:${PASSWORD}' -X PROPFIND -H 'Depth: 1' '${serve.uri}'`), '207');
  const challenge = await mustSh(`curl -s --cacert ${join(dir, 'cert.pem')} -D - -o /dev/null '${url}'`);
  t.regex(challenge, /^WWW-Authenticate: Basic realm="diskarc", charset="UTF-8"\r?$/m);
  t.notRegex(challenge, /Access-Control-Allow-Origin/i);
  // Without the certificate the client refuses the server (it is really TLS, not plain HTTP).
  t.not((await sh(`curl -s -o /dev/null '${url}'`)).code, 0);
});

test('rclone lists the HTTPS share with the user and password', async (t) => {
  const obscured = (await mustSh(`rclone obscure '${PASSWORD}'`)).trim();
  const out = await mustSh(`rclone --config /dev/null --ca-cert ${join(dir, 'cert.pem')} --webdav-url '${serve.uri}' --webdav-user alice --webdav-pass '${obscured}' lsf :webdav:sample`);
  const names = out.trim().split('\n');
  t.true(names.includes('disk.img') && names.includes('info.json') && names.includes('p1.img'), out);
});

test('unusable options fail at start-up with a usage error naming the fix', async (t) => {
  const run = (args: string) => sh(`node ${CLI} serve -a ${archive} ${args}`, { timeoutMs: 30_000 });
  const half = await run(`--webdav 127.0.0.1:0 --webdav-user alice`);
  t.is(half.code, 2);
  t.regex(half.stderr, /--webdav-user and --webdav-password-file go together/);
  const noDav = await run(`--tls-cert ${join(dir, 'cert.pem')} --tls-key ${join(dir, 'key.pem')}`);
  t.is(noDav.code, 2);
  t.regex(noDav.stderr, /need --webdav/);
  const remote = await run(`--webdav 0.0.0.0:0`);
  t.is(remote.code, 2);
  t.regex(remote.stderr, /--allow-remote/);
  const missing = await run(`--webdav 127.0.0.1:0 --webdav-user alice --webdav-password-file ${join(dir, 'nope')}`);
  t.not(missing.code, 0);
  t.regex(missing.stderr, /password file/);
});

test('a client that connects to the HTTPS port and never handshakes does not hold up shutdown', async (t) => {
  const own = await startDavServe(['-a', archive, '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')]);
  const silent = connect(own.port, '127.0.0.1');
  await new Promise<void>((resolve) => silent.on('connect', () => resolve()));
  silent.on('error', () => {});
  const t0 = Date.now();
  t.is(await own.stop(), 0);
  silent.destroy();
  t.true(Date.now() - t0 < 9000, `stopped after ${Date.now() - t0} ms`);
});
