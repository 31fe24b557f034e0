// `diskarc partitions` run as a real process on archived streams and on images: the --json
// listing equals sfdisk --json of the image; the text table and exit codes are what the docs say.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { PartitionTable } from '../../../fs/partitions/index.js';
import { archivedFixtures, cli, type ArchivedFixtures } from '../../fixtures/partitions/archive.js';
import { assertSameAsSfdisk } from '../../fixtures/partitions/compare.js';
import { blkidIdentity, sfdiskJson } from '../../fixtures/partitions/disks.js';

const execFileP = promisify(execFile);

let af: ArchivedFixtures;
test.before(async () => {
  af = await archivedFixtures();
});
test.after.always(async () => {
  await af?.cleanup();
});

async function diskarc(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [cli, ...args], { env: { ...process.env, DISKARC_ARCHIVE: '' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

for (const [stream, image] of [
  ['mbr-disk', 'mbr'],
  ['gpt-disk', 'gpt'],
] as const) {
  test(`partitions -a DIR -s ${stream} --json equals sfdisk --json of the image, and --image agrees`, async (t) => {
    const theirs = await sfdiskJson(af.fx[image]);
    const archived = await diskarc('partitions', '-a', af.archive, '-s', stream, '--json');
    t.is(archived.code, 0, archived.stderr);
    const ours = JSON.parse(archived.stdout) as PartitionTable & { source: string; size: number };
    t.is(ours.source, stream);
    assertSameAsSfdisk(t, ours, theirs);
    const direct = await diskarc('partitions', '--image', af.fx[image], '--json');
    t.is(direct.code, 0, direct.stderr);
    const fromImage = JSON.parse(direct.stdout) as typeof ours;
    t.deepEqual({ ...fromImage, source: stream }, ours);
  });
}

test('the text listing shows every partition with type, name and filesystem', async (t) => {
  const r = await diskarc('partitions', '-a', af.archive, '-s', 'gpt-disk');
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.regex(lines[0]!, /^gpt-disk: 96\.0 MiB, GPT, disk id [0-9A-F-]{36}, 512-byte sectors$/);
  t.regex(lines[1]!, /^#\s+Boot\s+Start\s+Sectors\s+Size\s+Type\s+Name\s+Filesystem\s+Label$/);
  t.regex(r.stdout, /\np3\s+73728\s+32768\s+16\.0 MiB\s+Microsoft basic data\s+Données Windows\s+ntfs\s+NTFSVOL\n/);
  t.regex(r.stdout, /\np4\s+\*\s+106496\s+32768\s+16\.0 MiB\s+Linux filesystem\s+root ext4\s+ext4\s+ext4-vol\n/);
  t.is(lines.length, 2 + 5);
  const mbr = await diskarc('partitions', '--image', af.fx.mbr);
  t.regex(mbr.stdout, /\np4\s+67584\s+63488\s+31\.0 MiB\s+Extended \(0x05\)\s+\(extended\)\n/);
  t.regex(mbr.stdout, /\np6\s+88064\s+8192\s+4\.00 MiB\s+Linux swap \/ Solaris \(0x82\)\s+swap\s+swapvol\n/);
});

test('a stream without a partition table says so and names its filesystem', async (t) => {
  const r = await diskarc('partitions', '-a', af.archive, '-s', 'gpt-disk:p3', '--json');
  t.is(r.code, 0, r.stderr);
  const p3 = await blkidIdentity(af.fx.gpt, 73728 * 512, 32768 * 512);
  t.deepEqual(JSON.parse(r.stdout), {
    source: 'gpt-disk:p3',
    size: 16 * 1024 * 1024,
    scheme: null,
    filesystem: 'ntfs',
    label: 'NTFSVOL',
    filesystemUuid: p3.uuid,
    partitions: [],
  });
  const text = await diskarc('partitions', '-a', af.archive, '-s', 'ntfs-volume');
  const bare = await blkidIdentity(af.fx.filesystems.ntfs);
  t.is(text.stdout.trim(), `ntfs-volume: 8.00 MiB, no partition table; whole-disk filesystem: ntfs "Données ünï" (UUID ${bare.uuid})`);
});

test('exit codes: unknown partition 10, pN without a table 9, unknown stream 4, no source 2', async (t) => {
  const unknown = await diskarc('partitions', '-a', af.archive, '-s', 'mbr-disk:p9', '--json');
  t.is(unknown.code, 10);
  t.is(JSON.parse(unknown.stdout).error.code, 'ENOTFOUND');
  t.regex(unknown.stderr, /mbr-disk has no partition 9; its MBR lists p1 \(vfat, 16\.0 MiB\), .*p7 \(ext3, 16\.0 MiB\)/);
  t.is((await diskarc('partitions', '-a', af.archive, '-s', 'ntfs-volume:p1')).code, 9);
  t.is((await diskarc('partitions', '-a', af.archive, '-s', 'nosuchstream')).code, 4);
  t.is((await diskarc('partitions')).code, 2);
});
