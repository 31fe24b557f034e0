// `diskarc serve --proxy` options as a user gives them: which -s each listener exports (by
// position), id prefixes, windows checked against the disk, and the usage errors with their exit codes.
import test from 'ava';
import { tempDir } from '../nbd/helpers.js';
import { diskarc } from '../nbd/fixture-disks.js';
import { groupProxyOptions } from '../../../server/config.js';
import { ProxyClient } from './client.js';
import { packProxyFixture, serveChild, targetOf, type ProxyDisk } from './fixture.js';

let archive: string;
let disk: ProxyDisk;
let diskId: string;
let cleanup: () => Promise<void>;

test.before(async () => {
  const t = await tempDir('proxy-options');
  cleanup = t.cleanup;
  ({ archive, disk } = await packProxyFixture(t.dir));
  const list = await diskarc(['list', '-a', archive, '--json']);
  const streams = JSON.parse(list.stdout) as Array<{ id: string; name: string }> | { streams: Array<{ id: string; name: string }> };
  diskId = (Array.isArray(streams) ? streams : streams.streams).find((s) => s.name === 'disk')!.id;
});

test.after.always(async () => cleanup?.());

const tcp = (port: number) => ({ kind: 'listener' as const, endpoint: { kind: 'tcp' as const, host: '127.0.0.1', port } });

test(
  'listeners take the -s after them; consecutive listeners share it; a group without -s takes the one ' + 'before the first listener',
  (t) => {
    t.deepEqual(
      groupProxyOptions([
        tcp(1),
        { kind: 'listener', endpoint: { kind: 'unix', path: '/s' } },
        { kind: 'stream', ref: 'a:p2' },
        tcp(2),
        { kind: 'stream', ref: 'b' },
        { kind: 'offset', value: 512 },
      ]).map((l) => l.export),
      [
        { stream: 'a', partition: 2 },
        { stream: 'a', partition: 2 },
        { stream: 'b', offset: 512 },
      ],
    );
    t.deepEqual(
      groupProxyOptions([{ kind: 'stream', ref: 'a' }, { kind: 'length', value: 4096 }, tcp(1)]).map((l) => l.export),
      [{ stream: 'a', length: 4096 }],
    );
    t.deepEqual(
      groupProxyOptions([tcp(1)]).map((l) => l.export),
      [{}],
    );
    t.deepEqual(
      groupProxyOptions([
        { kind: 'stream', ref: 'a' },
        { kind: 'stream', ref: 'b' },
      ]),
      [],
      'no listener, nothing for the proxy',
    );
    t.throws(() => groupProxyOptions([{ kind: 'stream', ref: 'a' }, { kind: 'stream', ref: 'b' }, tcp(1)]), { message: /Several -s/ });
    t.throws(() => groupProxyOptions([tcp(1), { kind: 'stream', ref: 'a' }, { kind: 'stream', ref: 'b' }]), { message: /several -s/ });
    t.throws(() => groupProxyOptions([{ kind: 'offset', value: 1 }]), { message: /--offset and --length/ });
  },
);

test('an id prefix and the -s-before form work; the exported bytes are the chosen disk', async (t) => {
  const s = await serveChild([
    '-a',
    archive,
    '--proxy',
    '127.0.0.1:0',
    '-s',
    diskId.slice(0, 6),
    '--proxy',
    '127.0.0.1:0',
    '-s',
    'disk:p1',
    '--offset',
    '1MiB',
    '--length',
    '64k',
  ]);
  try {
    const [whole, window] = s.listening.map(targetOf);
    const a = await ProxyClient.connect(whole!);
    t.is((await a.info()).size, BigInt(disk.data.length));
    await a.close();
    const p1 = disk.partitions[0]!;
    const b = await ProxyClient.connect(window!);
    t.is((await b.info()).size, 65536n);
    t.true((await b.read(0, 65536)).data.equals(disk.data.subarray(p1.start + 1024 * 1024, p1.start + 1024 * 1024 + 65536)));
    await b.close();
  } finally {
    await s.stop();
  }
  const before = await serveChild(['-a', archive, '-s', 'other', '--proxy', '127.0.0.1:0']);
  try {
    const c = await ProxyClient.connect(targetOf(before.listening[0]!));
    t.is((await c.info()).size, 300_001n);
    await c.close();
  } finally {
    await before.stop();
  }
});

test('usage errors: a window outside the disk, ambiguous -s, no such partition or stream, a remote address', async (t) => {
  const cases: Array<[string[], number, RegExp]> = [
    [['--proxy', '127.0.0.1:0', '-s', 'disk', '--offset', '30MiB'], 2, /outside "disk"/],
    [['--proxy', '127.0.0.1:0', '-s', 'disk', '--offset', '0', '--length', '0'], 2, /outside/],
    [['-s', 'disk', '-s', 'other', '--proxy', '127.0.0.1:0'], 2, /which disk/],
    [['--proxy', '127.0.0.1:0', '-s', 'disk:p7'], 4, /no partition 7/],
    [['--proxy', '127.0.0.1:0', '-s', 'nosuch'], 4, /nosuch/],
    [['--proxy', '127.0.0.1:0'], 4, /which disk to export/],
    [['--proxy', '0.0.0.0:0', '-s', 'disk'], 2, /--allow-remote/],
    [['--proxy', '127.0.0.1:0', '-s', 'disk', '--length', 'lots'], 2, /--length/],
  ];
  for (const [args, code, message] of cases) {
    const r = await diskarc(['serve', '-a', archive, ...args], 30000);
    t.is(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message, args.join(' '));
  }
});
