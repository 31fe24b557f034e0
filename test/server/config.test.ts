import test from 'ava';
import { checkExposure, isLoopback, parseTcpAddress } from '../../server/config.js';
import { isDiskarcError } from '../../src/errors.js';

test('parseTcpAddress accepts host:port, [v6]:port, a bare port or host, and defaults to loopback', (t) => {
  t.deepEqual(parseTcpAddress('127.0.0.1:10809', 1), { host: '127.0.0.1', port: 10809 });
  t.deepEqual(parseTcpAddress('[::1]:9000', 1), { host: '::1', port: 9000 });
  t.deepEqual(parseTcpAddress('[::1]', 10809), { host: '::1', port: 10809 });
  t.deepEqual(parseTcpAddress('9000', 1), { host: '127.0.0.1', port: 9000 });
  t.deepEqual(parseTcpAddress(':0', 1), { host: '127.0.0.1', port: 0 });
  t.deepEqual(parseTcpAddress('', 10809), { host: '127.0.0.1', port: 10809 });
  t.deepEqual(parseTcpAddress('localhost', 10809), { host: 'localhost', port: 10809 });
  t.deepEqual(parseTcpAddress('::1', 10809), { host: '::1', port: 10809 });
  for (const bad of ['127.0.0.1:70000', 'host:port', '127.0.0.1:-1', '[::1]:x']) {
    t.true(
      isDiskarcError(
        (() => {
          try {
            parseTcpAddress(bad, 1);
          } catch (e) {
            return e;
          }
        })(),
        'EUSAGE',
      ),
      bad,
    );
  }
});

test('only loopback addresses are served without --allow-remote', (t) => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) t.true(isLoopback(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) t.false(isLoopback(h), h);
  t.notThrows(() =>
    checkExposure(
      [
        { kind: 'tcp', host: '127.0.0.1', port: 1 },
        { kind: 'unix', path: '/tmp/x' },
      ],
      false,
    ),
  );
  const e = t.throws(() => checkExposure([{ kind: 'tcp', host: '0.0.0.0', port: 1 }], false));
  t.true(isDiskarcError(e, 'EUSAGE'));
  t.notThrows(() => checkExposure([{ kind: 'tcp', host: '0.0.0.0', port: 1 }], true));
});
