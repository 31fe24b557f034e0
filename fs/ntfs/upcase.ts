// $UpCase collation (libfsntfs "Upcase table"): NTFS compares file names code unit by code unit
// after mapping each through the volume's own 64 Ki-entry upper-case table (MFT record 10).

export class UpcaseTable {
  private constructor(private readonly table: Uint16Array) {}

  /** From the raw $UpCase data (131072 bytes); a short or missing table falls back to Unicode upper-casing. */
  static fromData(data: Buffer | null): UpcaseTable {
    const table = new Uint16Array(65536);
    for (let c = 0; c < 65536; c++) {
      if (data && data.length >= (c + 1) * 2) table[c] = data.readUInt16LE(c * 2);
      else {
        const u = String.fromCharCode(c).toUpperCase();
        table[c] = u.length === 1 ? u.charCodeAt(0) : c;
      }
    }
    return new UpcaseTable(table);
  }

  upcase(name: string): string {
    let out = '';
    for (let i = 0; i < name.length; i++) out += String.fromCharCode(this.table[name.charCodeAt(i)]);
    return out;
  }

  /** NTFS filename collation, ignoring case: <0, 0, >0. */
  compare(a: string, b: string): number {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const d = this.table[a.charCodeAt(i)] - this.table[b.charCodeAt(i)];
      if (d !== 0) return d;
    }
    return a.length - b.length;
  }
}
