// How the mount reports failures to programs: each class of DiskarcError has its errno, and only
// the unexpected ones (damage, I/O errors, bugs) are logged, as EIO.
import test from 'ava';
import Fuse from 'fuse-native';
import { errnoOf } from '../../../fs/fuse/operations.js';
import { DiskarcError, type ErrorCode } from '../../../src/errors.js';

const expected: [ErrorCode, number][] = [
  ['ENOTFOUND', Fuse.ENOENT],
  ['ENOTDIR', Fuse.ENOTDIR],
  ['EISDIR', Fuse.EISDIR],
  ['ERANGE', Fuse.EINVAL],
  ['EPERMISSION', Fuse.EACCES],
  ['ERESOURCES', Fuse.ENOMEM],
];

test('each expected failure class has its own errno and is not logged', (t) => {
  for (const [code, errno] of expected) {
    const logged: string[] = [];
    t.is(
      errnoOf(new DiskarcError(code, 'x'), 'getattr', '/p', (m) => logged.push(m)),
      errno,
      code,
    );
    t.deepEqual(logged, [], code);
  }
});

test('damage, I/O errors and bugs are EIO and logged with the operation and path', (t) => {
  for (const e of [new DiskarcError('ECORRUPT', 'slab 3 fails its checksum'), new DiskarcError('EIO', 'I/O error'), new TypeError('bug')]) {
    const logged: string[] = [];
    t.is(
      errnoOf(e, 'read', '/s/disk.img', (m) => logged.push(m)),
      Fuse.EIO,
    );
    t.deepEqual(logged, [`read /s/disk.img: ${e.message}`]);
  }
});
