// directReadHandler's own guarantees, which a real mount cannot provoke on purpose: the 64-bit
// offset is rebuilt from fuse-native's two halves, libfuse's thread is woken exactly once per
// request (a second wake would answer its next request with a stale result), and a read that
// throws is answered with EIO and logged. Real reads through it run in every mount test.
import test from 'ava';
import { directReadHandler } from '../../../fs/fuse/direct-read.js';

function recordingBinding() {
  const signals: Array<{ handler: unknown; result: number; buffer: ArrayBufferLike }> = [];
  return {
    signals,
    binding: {
      op_read: 23,
      fuse_native_signal_read: (handler: unknown, result: number, _unused: number, buffer: ArrayBufferLike) =>
        void signals.push({ handler, result, buffer }),
    },
  };
}

test('offsets above 4 GiB are rebuilt from both halves, and the reply carries the read buffer', (t) => {
  const { signals, binding } = recordingBinding();
  const seen: number[] = [];
  const handler = directReadHandler(
    (_p, _fh, _buf, len, pos, cb) => {
      seen.push(pos);
      cb(len);
    },
    t.log,
    binding,
  );
  const buf = Buffer.alloc(4096);
  handler('h1', 23, '/x', 7, buf, 4096, 0x1234, 5);
  t.deepEqual(seen, [5 * 2 ** 32 + 0x1234]);
  t.deepEqual(signals, [{ handler: 'h1', result: 4096, buffer: buf.buffer }]);
});

test('a second callback is ignored; a throwing read is answered with EIO and logged', async (t) => {
  const { signals, binding } = recordingBinding();
  const logged: string[] = [];
  const twice = directReadHandler(
    (_p, _fh, _buf, _len, _pos, cb) => {
      cb(10);
      setImmediate(() => cb(-5));
    },
    (m) => logged.push(m),
    binding,
  );
  twice('a', 23, '/f', 1, Buffer.alloc(16), 16, 0, 0);
  await new Promise((r) => setImmediate(r));
  t.deepEqual(
    signals.map((s) => s.result),
    [10],
  );

  const throwing = directReadHandler(
    () => {
      throw new Error('boom');
    },
    (m) => logged.push(m),
    binding,
  );
  throwing('b', 23, '/g', 2, Buffer.alloc(16), 16, 0, 0);
  t.deepEqual(
    signals.map((s) => [s.handler, s.result]),
    [
      ['a', 10],
      ['b', -5],
    ],
  );
  t.deepEqual(logged, ['read /g: boom']);
});
