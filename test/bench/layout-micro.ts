// Micro-benchmark of the binary layouts on their hot paths: decode (and encode where the domain
// writes) of one representative structure per layout family — NBD requests and replies, archive
// slab headers, map entries and hash records, NTFS records, GPT entries. Goes through each
// domain's own call-site API, so the same script measures any version of the codec under it.
// Not part of `npm run bench` (no peer to compare with): run `node dist/test/bench/layout-micro.js`.
import { ExtendedRequest, Request, SimpleReply } from '../../protocols/nbd/wire.js';
import { hashRecord, mapEntry, slabHeader } from '../../src/archive/layout.js';
import { decode as ntfsDecode } from '../../fs/ntfs/layout.js';
import { FileNameLayout } from '../../fs/ntfs/file-name.js';
import { AttributeHeaderLayout, NonResidentLayout } from '../../fs/ntfs/attribute.js';
import { MftRecordLayout } from '../../fs/ntfs/mft-record.js';
import { decode as partitionDecode } from '../../fs/partitions/fields.js';
import { gptEntryLayout, gptHeaderLayout } from '../../fs/partitions/gpt.js';

const ITERATIONS = Number(process.env.ITERATIONS ?? 1_000_000);
let sink = 0;

/** Best of three runs, in nanoseconds per call; `fn` returns something to keep the work alive. */
function measure(name: string, fn: (i: number) => unknown): void {
  for (let i = 0; i < 20_000; i++) fn(i);
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) if (fn(i) !== undefined) sink++;
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / ITERATIONS);
  }
  console.log(`${name.padEnd(44)} ${best.toFixed(1).padStart(7)} ns/op`);
}

const random = (n: number): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + 7) & 0xff;
  return b;
};

// NBD: a 28-byte request, a 32-byte extended request, a 16-byte simple reply built per read.
const req = Request.write({ magic: 0x25609513, flags: 0, type: 0, cookie: 42n, offset: 1n << 40n, length: 4096 });
const ext = ExtendedRequest.write({ magic: 0x21e41c71, flags: 0, type: 0, cookie: 42n, offset: 1n << 40n, length: 4096n });
measure('nbd Request decode', () => Request.read(req));
measure('nbd ExtendedRequest decode', () => ExtendedRequest.read(ext));
measure('nbd SimpleReply encode', (i) => SimpleReply.write({ magic: 0x67446698, error: 0, cookie: BigInt(i) }));

// Archive: slab header (every slab read), map entry (every map page), hash record (dedup lookups).
const sh = slabHeader.encode({ magic: 0x42414c53, flags: 1, storedLength: 1000, length: 4096, payloadCrc: 123456, headerCrc: 654321 });
const me = mapEntry.encode({ offset: 2 ** 40, length: 65536, type: 1, fillByte: 0, slab: 7, slabOffset: 1024, chunk: 3 });
const hashes = random(40 * 1024);
const scratch = Buffer.alloc(mapEntry.size);
measure('archive slabHeader decode', () => slabHeader.decode(sh));
measure('archive slabHeader encode', (i) =>
  slabHeader.encode({ magic: 0x42414c53, flags: 1, storedLength: i, length: 4096, payloadCrc: 1, headerCrc: 0 }),
);
measure('archive mapEntry decode', () => mapEntry.decode(me));
measure('archive mapEntry encode (into a page)', (i) =>
  mapEntry.encode({ offset: i * 4096, length: 4096, type: 1, fillByte: 0, slab: 7, slabOffset: i & 0xffff, chunk: 3 }, scratch, 0),
);
measure(
  'archive hashRecord get offset+length',
  (i) => hashRecord.get(hashes, (i & 1023) * 40, 'offset') + hashRecord.get(hashes, (i & 1023) * 40, 'length'),
);

// NTFS: a $FILE_NAME value, an MFT record header, an attribute header, a non-resident header.
const fileName = random(90);
fileName.fill(0, 40, 56); // sizes: small, safe
fileName.fill(0, 14, 16);
fileName.fill(0, 22, 24);
fileName.fill(0, 30, 32);
fileName.fill(0, 38, 40);
const record = random(1024);
const nonResident = random(72);
nonResident.fill(0, 16, 64);
measure('ntfs FileName decode', () => ntfsDecode(fileName, FileNameLayout, 0, 'file name'));
measure('ntfs MftRecord decode', () => ntfsDecode(record, MftRecordLayout, 0, 'MFT record'));
measure('ntfs AttributeHeader decode', () => ntfsDecode(record, AttributeHeaderLayout, 56, 'attribute'));
measure('ntfs NonResident decode', () => ntfsDecode(nonResident, NonResidentLayout, 0, 'attribute'));

// Partitions: a GPT entry (128 per table) and the GPT header.
const gptEntry = random(128);
const gptHeader = random(512);
gptHeader.write('EFI PART', 0, 'latin1');
measure('partitions GPT entry decode', () => partitionDecode(gptEntry, gptEntryLayout, 0, 'GPT entry'));
measure('partitions GPT header decode', () => partitionDecode(gptHeader, gptHeaderLayout, 0, 'GPT header'));

// Encoders the filesystem tables gained with the shared codec (absent from earlier versions).
const encoder = (table: object) => ('encode' in table ? (table as { encode(v: unknown): Buffer }) : undefined);
const fileNameValues = ntfsDecode(fileName, FileNameLayout, 0, 'file name');
const gptEntryValues = partitionDecode(gptEntry, gptEntryLayout, 0, 'GPT entry');
const fnEncoder = encoder(FileNameLayout);
const gptEncoder = encoder(gptEntryLayout);
if (fnEncoder) measure('ntfs FileName encode', () => fnEncoder.encode(fileNameValues));
if (gptEncoder) measure('partitions GPT entry encode', () => gptEncoder.encode(gptEntryValues));

if (sink < 0) console.log(sink);
