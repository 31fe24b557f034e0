// Our friendly type names must name GUIDs and type bytes that sfdisk itself knows (catches typos).
import test from 'ava';
import { knownGptTypes, knownMbrTypes } from '../../../fs/partitions/type-names.js';
import { run } from '../../fixtures/partitions/disks.js';

test('every GPT type GUID we name is in sfdisk --label gpt -T', async (t) => {
  const list = await run('sfdisk', ['--label', 'gpt', '-T']);
  const guids = new Set([...list.matchAll(/^([0-9A-F-]{36})\s/gm)].map((m) => m[1]));
  t.true(guids.size > 50);
  for (const [guid, name] of knownGptTypes()) t.true(guids.has(guid), `${guid} (${name})`);
});

test('every MBR type byte we name is in sfdisk --label dos -T', async (t) => {
  const list = await run('sfdisk', ['--label', 'dos', '-T']);
  const ids = new Set([...list.matchAll(/^\s*([0-9a-f]{1,2})\s{2}/gm)].map((m) => parseInt(m[1]!, 16)));
  t.true(ids.size > 50);
  for (const [id, name] of knownMbrTypes()) t.true(ids.has(id), `0x${id.toString(16)} (${name})`);
});
