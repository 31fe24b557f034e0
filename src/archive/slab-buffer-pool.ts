// Reusable buffers for slabs that are decoded for one streaming reader and not cached (see
// SlabCache.borrow). Fresh memory per slab costs a page fault per 4 KiB, the kernel zeroing it,
// and V8 collections triggered by external-memory growth; a buffer handed back is reused instead.
// Buffers come in 64 KiB size classes; the pool keeps a bounded number of bytes idle.

const CLASS_BYTES = 64 * 1024;

export class SlabBufferPool {
  private readonly idle = new Map<number, Buffer[]>();
  private idleBytes = 0;

  /** @param keepBytes idle bytes kept for reuse; buffers given back beyond it are left to the GC. */
  constructor(readonly keepBytes: number) {}

  /** A buffer of exactly `length` bytes (a view of a pooled one), contents undefined. */
  take(length: number): Buffer {
    const capacity = Math.max(CLASS_BYTES, Math.ceil(length / CLASS_BYTES) * CLASS_BYTES);
    const free = this.idle.get(capacity);
    const buf = free?.pop();
    if (buf) {
      this.idleBytes -= capacity;
      return buf.subarray(0, length);
    }
    // Its own memory (never a slice of Node's shared pool): it is handed out again and again.
    return Buffer.allocUnsafeSlow(capacity).subarray(0, length);
  }

  /** Hands back a buffer from take(); the caller must hold no view of it any more. */
  give(buf: Buffer): void {
    const capacity = buf.buffer.byteLength;
    if (buf.byteOffset !== 0 || capacity % CLASS_BYTES !== 0 || this.idleBytes + capacity > this.keepBytes) return;
    const whole = Buffer.from(buf.buffer as ArrayBuffer);
    let free = this.idle.get(capacity);
    if (!free) this.idle.set(capacity, (free = []));
    free.push(whole);
    this.idleBytes += capacity;
  }

  get bytesIdle(): number {
    return this.idleBytes;
  }
}
