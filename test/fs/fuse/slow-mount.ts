// A mount server for the concurrency test, run as its own process: the tree over two raw images
// where every read past the first MiB of the one named "slow" takes DELAY_MS. Prints "ready" once mounted and
// unmounts on SIGTERM.
import { FileBlockSource } from '../../../src/block/file-source.js';
import type { BlockSource } from '../../../src/block/source.js';
import { imageCatalog, StreamTree, type StreamCatalog } from '../../../fs/tree/index.js';
import { FuseMount } from '../../../fs/fuse/index.js';

const [mountPoint, slowImage, fastImage, delayArg] = process.argv.slice(2);
const delay = Number(delayArg);
const inner = imageCatalog([slowImage, fastImage]);
const catalog: StreamCatalog = {
  ...inner,
  async list() {
    const streams = await inner.list();
    return streams.map((s, i) => ({ ...s, name: i === 0 ? 'slow' : 'fast' }));
  },
  async open(id) {
    const src = await FileBlockSource.open(id === '0' ? slowImage : fastImage);
    if (id !== '0') return src;
    const slow: BlockSource = {
      size: src.size,
      read: async (o, l) => {
        // Past the first MiB only, so listing the stream (partition table probes) stays quick.
        if (o + l > 1024 * 1024) await new Promise((r) => setTimeout(r, delay));
        return src.read(o, l);
      },
      extents: (o, l) => src.extents(o, l),
      close: () => src.close(),
    };
    return slow;
  },
};
const tree = new StreamTree(catalog);
const mount = await FuseMount.mount(tree, mountPoint, {});
process.on('SIGTERM', () => void mount.unmount());
const keepAlive = setInterval(() => {}, 1 << 30);
process.stdout.write('ready\n');
await mount.closed;
clearInterval(keepAlive);
await tree.close();
setTimeout(() => process.exit(0), 500).unref();
