// A server-wide budget of reply bytes being produced at once (read from the source but not yet
// handed to a socket), shared by every connection: with many clients, memory stays bounded by
// the budget rather than by connections × per-connection limit. Waiters are served in order.

export class ByteBudget {
  private used = 0;
  private readonly waiters: Array<{ bytes: number; grant: () => void }> = [];

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Resolves once `bytes` (clamped to the capacity, so one huge request cannot wait forever) are reserved. */
  acquire(bytes: number): Promise<number> {
    const n = Math.min(bytes, this.capacity);
    if (this.waiters.length === 0 && this.used + n <= this.capacity) {
      this.used += n;
      return Promise.resolve(n);
    }
    return new Promise((resolve) => this.waiters.push({ bytes: n, grant: () => resolve(n) }));
  }

  release(bytes: number): void {
    this.used -= bytes;
    while (this.waiters.length > 0 && this.used + this.waiters[0]!.bytes <= this.capacity) {
      const w = this.waiters.shift()!;
      this.used += w.bytes;
      w.grant();
    }
  }
}
