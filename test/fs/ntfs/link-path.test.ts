// linkDestination, the rules for following a link inside its volume, on strings: what each
// kind of target leads to (the end-to-end check against ntfs-3g is test/cli/commands/cat.test.ts).
import test from 'ava';
import { linkDestination } from '../../../fs/ntfs/link-path.js';

const inside = (parts: string[]) => ({ inside: true, parts });

test('relative targets resolve from the link directory; past the root they leave the volume', (t) => {
  t.deepEqual(linkDestination(['a', 'b'], 'c.txt', 'symlink'), inside(['a', 'b', 'c.txt']));
  t.deepEqual(linkDestination(['a', 'b'], '../x/./y', 'interix'), inside(['a', 'x', 'y']));
  t.deepEqual(linkDestination(['a'], '..', 'symlink'), inside([]));
  t.like(linkDestination(['a'], '../../x', 'symlink'), { inside: false, reason: 'it leads above the volume root' });
  t.like(linkDestination([], '../x', 'junction'), { inside: false });
});

test('drive-absolute (any letter) and rooted Windows targets start at the volume root; .. stops there', (t) => {
  t.deepEqual(linkDestination(['deep', 'er'], 'C:/dir/f', 'symlink'), inside(['dir', 'f']));
  t.deepEqual(linkDestination(['x'], 'd:/f', 'junction'), inside(['f']));
  t.deepEqual(linkDestination(['x'], 'C:', 'junction'), inside([]));
  t.deepEqual(linkDestination(['x'], '/dir/../../f', 'symlink'), inside(['f']));
  t.deepEqual(linkDestination(['x'], 'C:/../f', 'symlink'), inside(['f']));
});

test('host-absolute Interix targets, UNC paths and volume GUIDs are outside the volume', (t) => {
  t.like(linkDestination(['x'], '/etc/passwd', 'interix'), { inside: false });
  t.like(linkDestination(['x'], '//server/share/f', 'symlink'), { inside: false, reason: 'it is a network (UNC) path' });
  t.like(linkDestination(['x'], 'UNC/server/share/f', 'symlink'), { inside: false });
  t.like(linkDestination(['x'], 'Volume{0b1c2d3e-aaaa-bbbb-cccc-123456789abc}/f', 'junction'), {
    inside: false,
    reason: 'it names another volume by GUID',
  });
  // A name that merely starts like one is relative.
  t.deepEqual(linkDestination(['x'], 'UNCLE/f', 'symlink'), inside(['x', 'UNCLE', 'f']));
});
