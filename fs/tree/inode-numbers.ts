// Inode numbers for the tree: unique, stable while mounted, and below 2^32 (what fuse-native
// passes to libfuse). An NTFS volume gets one range, so a record's number is range + record
// number and every hard link of a file shows the same inode; other nodes get one number by key.

/** The tree's root. */
export const ROOT_INO = 1;
const LIMIT = 2 ** 32;

export class InodeNumbers {
  private next = ROOT_INO + 1;
  private readonly byKey = new Map<string, number>();

  /** The number of the node named `key` (a stream's file, an alternate data stream…). */
  of(key: string): number {
    let ino = this.byKey.get(key);
    if (ino === undefined) {
      ino = this.take(1) ?? this.fallback(key);
      this.byKey.set(key, ino);
    }
    return ino;
  }

  /**
   * The first of `count` consecutive numbers (a volume's MFT records), or undefined when they
   * no longer fit below 2^32 — then the caller numbers by key instead.
   */
  range(count: number): number | undefined {
    return this.take(count);
  }

  private take(count: number): number | undefined {
    if (!Number.isSafeInteger(count) || count < 1 || this.next + count > LIMIT) return undefined;
    const first = this.next;
    this.next += count;
    return first;
  }

  /** Past 4 G numbers (never seen in practice) the rest share a hashed number: unique no longer. */
  private fallback(key: string): number {
    let h = 2166136261;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
    return h >>> 0 || ROOT_INO + 1;
  }
}
