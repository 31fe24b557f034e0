// A damaged archive never takes the server down: reads that hit a corrupt slab get EIO on that
// request only, an export whose stream map is broken is refused (or fails its reads) with the
// reason, and every other export and connection keeps being served.
import test from 'ava';
import { open, readdir, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { openArchiveDisks } from '../../../server/archive-disks.js';
import { CMD, OPT, RawNbd, REP } from './raw-client.js';
import { packArchive } from './fixture-disks.js';
import { run, startServer, tempDir, writeOddImage } from './helpers.js';

test('corrupt slab data gives EIO for the affected reads only; a broken stream map is refused with its reason', async (t) => {
  const tmp = await tempDir('nbd-corrupt');
  const victim = await writeOddImage(join(tmp.dir, 'victim.bin'), 3 * 1024 * 1024, 31);
  const healthy = await writeOddImage(join(tmp.dir, 'healthy.bin'), 1024 * 1024 + 77, 32);
  await writeOddImage(join(tmp.dir, 'map.bin'), 512 * 1024, 33);
  const { archive, ids } = await packArchive(tmp.dir, [
    { path: join(tmp.dir, 'victim.bin'), name: 'victim' },
    { path: join(tmp.dir, 'healthy.bin'), name: 'healthy' },
    { path: join(tmp.dir, 'map.bin'), name: 'brokenmap' },
  ]);
  // Damage the middle of the victim's compressed data (the first bytes of the data slab file).
  const dataDir = join(archive, 'data');
  const slab = join(dataDir, (await readdir(dataDir)).find((f) => f.endsWith('.slab'))!);
  const fh = await open(slab, 'r+');
  await fh.write(Buffer.alloc(4096, 0x5a), 0, 4096, 1024 * 1024);
  await fh.close();
  // Cut the third stream's map short.
  const mapFile = join(archive, 'streams', ids[2]!, 'map');
  await truncate(mapFile, Math.floor((await stat(mapFile)).size / 3));

  const server = await startServer(tmp.dir, { archive, openArchive: openArchiveDisks });
  try {
    const c = await RawNbd.connect({ path: server.socket });
    await c.open('victim');
    const chunk = 256 * 1024;
    let errors = 0;
    let good = 0;
    for (let off = 0, cookie = 1n; off < victim.length; off += chunk, cookie++) {
      c.request(CMD.READ, off, chunk, cookie);
      const replies = await c.structuredReply(cookie);
      const err = replies.find((r) => r.type >= 0x8000);
      if (err) {
        t.is(err.payload.readUInt32BE(0), 5, 'EIO');
        errors++;
        continue;
      }
      const buf = Buffer.alloc(chunk);
      for (const r of replies) if (r.type === 1) r.payload.copy(buf, Number(r.payload.readBigUInt64BE(0)) - off, 8);
      t.true(buf.equals(victim.subarray(off, off + chunk)), `read at ${off} is either an error or correct`);
      good++;
    }
    t.true(errors > 0, 'the damaged range was reported');
    t.true(good > 0, 'undamaged ranges still read');
    c.request(CMD.FLUSH, 0, 0, 999n);
    const f = await c.reply();
    t.true(f.kind === 'simple' && f.error === 0, 'the connection is still usable');
    c.destroy();

    const copy = await run('nbdcopy', [server.unixUri('healthy'), join(tmp.dir, 'healthy.out')]);
    t.is(copy.code, 0, copy.stderr);
    t.true((await readFile(join(tmp.dir, 'healthy.out'))).equals(healthy));

    // The broken map: either refused at INFO with a reason, or its reads fail; never a crash.
    const m = await RawNbd.connect({ path: server.socket });
    await m.greet();
    const info = await m.option(OPT.INFO, RawNbd.infoData('brokenmap'));
    const last = info[info.length - 1]!;
    if (last.type === REP.ACK) {
      t.is((await m.option(OPT.STRUCTURED_REPLY))[0]!.type, REP.ACK);
      t.is((await m.option(OPT.GO, RawNbd.infoData('brokenmap'))).pop()!.type, REP.ACK);
      m.request(CMD.READ, 0, 512 * 1024, 1n);
      const replies = await m.structuredReply(1n);
      t.true(
        replies.some((r) => r.type >= 0x8000),
        'reading a truncated map fails with an error chunk',
      );
    } else {
      t.is(last.type, REP.ERR_UNKNOWN);
      t.regex(last.data.toString(), /cannot open export "brokenmap"/);
      t.is((await m.option(OPT.LIST)).pop()!.type, REP.ACK, 'the connection stays usable');
    }
    m.destroy();
    const after = await run('nbdinfo', ['--size', server.unixUri('healthy')]);
    t.is(after.stdout.trim(), String(healthy.length));
  } finally {
    await server.stop();
    await tmp.cleanup();
  }
});
