// The browser page in Debian's headless Chromium (driven by playwright-core): clicks from the root
// to a file inside an NTFS partition, downloads it and compares its hash with the Sleuth Kit
// oracle; sees the live panel's counters move while another client (curl) reads; and browses the
// same way with JavaScript off. DISKARC_SCREENSHOT=FILE also saves a screenshot of the page.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { chromium, type BrowserContext } from 'playwright-core';
import { ntfsFixtures, type OracleEntry } from '../../fixtures/ntfs/fixtures.js';
import { packArchive } from '../../fs/fuse/helpers.js';
import { mustSh, startDavServe, type DavServe } from './helpers.js';

let dir: string;
let serve: DavServe;
let entries: OracleEntry[];

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test.before(async () => {
  const fx = await ntfsFixtures();
  const c4k = fx.images.find((i) => i.name === 'c4k')!;
  entries = c4k.oracle.entries;
  dir = await mkdtemp(join(tmpdir(), 'diskarc-webdav-browser-'));
  await mustSh(`
    set -e
    size=$(stat -c %s ${c4k.image})
    truncate -s $(( size + 2 * 1048576 )) win.img
    printf 'label: dos\\n1M,%sK,7\\n' $(( size / 1024 )) | sfdisk -q win.img
    dd if=${c4k.image} of=win.img bs=1M seek=1 conv=sparse,notrunc status=none
  `, { cwd: dir });
  const archive = await packArchive(dir, [{ path: join(dir, 'win.img'), name: 'win' }]);
  serve = await startDavServe(['-a', archive, '--nbd', '127.0.0.1:0']);
});

test.after.always(async () => {
  if (serve) await serve.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function browser(name: string, javaScriptEnabled: boolean): Promise<BrowserContext> {
  // A fresh profile per run: nothing cached or remembered between tests.
  return chromium.launchPersistentContext(join(dir, `profile-${name}`), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    acceptDownloads: true,
    javaScriptEnabled,
    viewport: { width: 1100, height: 800 },
  });
}

async function clickToFileAndDownload(ctx: BrowserContext, t: { is(a: unknown, b: unknown, m?: string): void; regex(s: string, r: RegExp): void }): Promise<void> {
  const file = entries.find((e) => e.path === 'basic/random-1MiB.bin')!;
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(serve.uri);
  t.regex(await page.locator('body').innerText(), /MBR, 1 partition/);
  await page.getByRole('link', { name: 'win/', exact: true }).click();
  await page.waitForURL(/\/win\/$/);
  const partitions = await page.locator('table').first().innerText();
  t.regex(partitions, /p1\.img\s+64\.0 MiB\s+ntfs/);
  await page.getByRole('link', { name: 'p1/', exact: true }).click();
  await page.waitForURL(/\/win\/p1\/$/);
  await page.getByRole('link', { name: 'basic/', exact: true }).click();
  await page.waitForURL(/\/win\/p1\/basic\/$/);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: file.name, exact: true }).click()]);
  const saved = join(dir, `download-${Date.now()}`);
  await download.saveAs(saved);
  t.is(download.suggestedFilename(), file.name);
  t.is(createHash('sha256').update(await readFile(saved)).digest('hex'), file.sha256, 'downloaded bytes equal the oracle');
}

test.serial('Chromium clicks from the root to a file in the NTFS partition and downloads it intact', async (t) => {
  const ctx = await browser('js', true);
  try {
    await clickToFileAndDownload(ctx, t);
  } finally {
    await ctx.close();
  }
});

test.serial('the live panel shows connections per protocol and its byte counters move while another client reads', async (t) => {
  const ctx = await browser('live', true);
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(serve.uri);
    const panel = page.locator('#live-body');
    await panel.locator('table').first().waitFor({ timeout: 10_000 });
    const text = await panel.innerText();
    t.regex(text, /nbd/);
    t.regex(text, /webdav/);
    t.regex(text, /slab cache/);
    const bytesBefore = Number(await panel.getAttribute('data-bytes'));
    // Another client reads the whole disk image at a bounded rate (about 3 s) while we watch.
    const reader = spawn('curl', ['-s', '-o', '/dev/null', '--limit-rate', '20M', `${serve.uri}win/disk.img`], { stdio: 'ignore' });
    const done = new Promise<number | null>((resolve) => reader.on('exit', resolve));
    let throughputSeen = false;
    for (let i = 0; i < 50 && !throughputSeen; i++) {
      await page.waitForTimeout(200);
      // A client row whose throughput is not 0 B/s.
      throughputSeen = /127\.0\.0\.1\s+webdav\s+\d+\s+[\d.]+ \w+\s+[1-9][\d.]* (B|KiB|MiB)\/s/.test(await panel.innerText());
    }
    t.true(throughputSeen, `no throughput shown: ${await panel.innerText()}`);
    t.is(await done, 0);
    await page.waitForFunction((before) => Number(document.getElementById('live-body')!.getAttribute('data-bytes')) >= before + 69_206_016, bytesBefore, { timeout: 10_000 });
    if (process.env.DISKARC_SCREENSHOT) await page.screenshot({ path: process.env.DISKARC_SCREENSHOT, fullPage: true });
  } finally {
    await ctx.close();
  }
});

test.serial('with JavaScript off the page still browses and downloads; the panel says it needs JavaScript', async (t) => {
  const ctx = await browser('nojs', false);
  try {
    await clickToFileAndDownload(ctx, t);
    const page = ctx.pages()[0]!;
    await page.goto(serve.uri);
    t.regex(await page.locator('#live').innerText(), /needs JavaScript/);
  } finally {
    await ctx.close();
  }
});
