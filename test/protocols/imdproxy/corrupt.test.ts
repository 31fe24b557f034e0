// A damaged archive through the range proxy: a READ that hits a corrupt slab is answered with a
// non-zero errorno and length 0 (the driver reads `length` bytes even after an error), the same
// session goes on reading undamaged ranges, and the server keeps serving. A long READ whose later
// piece hits the damage can no longer be answered with an error (its header went out): the
// connection is closed, and only that one.
import test from 'ava';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { packArchive } from '../nbd/fixture-disks.js';
import { tempDir, writeOddImage } from '../nbd/helpers.js';
import { ProxyClient } from './client.js';
import { serveChild, targetOf } from './fixture.js';

test('a read of a corrupt slab gets EIO with length 0; the session and other ranges carry on', async (t) => {
  const tmp = await tempDir('proxy-corrupt');
  t.teardown(() => tmp.cleanup());
  const victim = await writeOddImage(join(tmp.dir, 'victim.bin'), 12 * 1024 * 1024, 31);
  const { archive } = await packArchive(tmp.dir, [{ path: join(tmp.dir, 'victim.bin'), name: 'victim' }]);
  const dataDir = join(archive, 'data');
  const slab = join(dataDir, (await readdir(dataDir)).find((f) => f.endsWith('.slab'))!);
  const fh = await open(slab, 'r+');
  // Random data do not compress: 10 MiB into the slab file is about 10 MiB into the stream.
  await fh.write(Buffer.alloc(4096, 0x5a), 0, 4096, 10 * 1024 * 1024);
  await fh.close();

  const s = await serveChild(['-a', archive, '--proxy', '127.0.0.1:0', '-s', 'victim', '--log-level', 'error']);
  t.teardown(() => s.stop());
  const c = await ProxyClient.connect(targetOf(s.listening[0]!));
  const chunk = 256 * 1024;
  let errors = 0;
  let good = 0;
  for (let off = 0; off < victim.length; off += chunk) {
    const r = await c.read(off, chunk);
    if (r.errorno !== 0n) {
      t.is(r.errorno, 5n, 'EIO');
      t.is(r.data.length, 0, 'an error reply carries no data');
      errors++;
    } else {
      t.true(r.data.equals(victim.subarray(off, off + chunk)), `read at ${off} is either an error or correct`);
      good++;
    }
  }
  t.true(errors > 0, 'the damaged range was reported');
  t.true(good > 0, 'undamaged ranges still read');
  t.true((await c.read(0, 4096)).data.equals(victim.subarray(0, 4096)), 'the session is still usable');
  // 12 MiB in one READ: the first 8 MiB piece is sound, the damage is in the second.
  const long = await ProxyClient.connect(targetOf(s.listening[0]!));
  await t.throwsAsync(long.read(0, 12 * 1024 * 1024), { message: /connection closed/ });
  t.true(long.isClosed);
  t.true((await c.read(4096, 4096)).data.equals(victim.subarray(4096, 8192)), 'other connections are unaffected');
  await c.close();
  t.true(s.logs().some((l) => l.msg === 'read from source failed part-way through a long reply; closing connection'));
  t.true(
    s.logs().some((l) => l.msg === 'read from source failed; answered EIO'),
    'logged at error',
  );
});
