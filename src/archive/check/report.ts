// What `check` finds, as it is reported: problems (a file, a byte range, what is wrong) and the
// streams each one affects with their damaged byte ranges. Problems are gathered here while the
// checkers run; which streams they reach is known only once every stream map has been read.

/** What is wrong at a problem's byte range (docs/durability.md lists them). */
export type ProblemKind =
  | 'missing-file'     // a file the archive needs is not there
  | 'bad-header'       // a file's header (magic, version, content type) is wrong
  | 'bad-record'       // a slab / map page record's header is damaged
  | 'truncated'        // a record or an index runs past the end of its file
  | 'checksum'         // a payload fails its CRC-32
  | 'content'          // a payload does not decompress, or a chunk fails its SHA-256 / a stream its digest
  | 'index-mismatch'   // an index entry disagrees with the file it indexes (or is missing)
  | 'numbering-shifted'// a file pair's slab count differs for readers: later slab ids are misaddressed
  | 'bad-reference'    // a map entry names a slab or chunk that does not exist
  | 'bad-map'          // a stream map is malformed (gap, overlap, wrong coverage)
  | 'bad-metadata'     // meta.json unreadable, not as written, or inconsistent
  | 'bad-config'       // diskarc.json unreadable, not as written, or invalid
  | 'derived'          // a derived file (dedup index) is damaged or stale: rebuildable, no data lost
  | 'trailing-bytes';  // bytes after the last record of a write-once file

export interface Problem {
  /** Path relative to the archive directory. */
  file: string;
  offset: number;
  length: number;
  kind: ProblemKind;
  message: string;
  /** Streams this problem makes unreadable (or misread), with their damaged ranges. */
  affects: Array<{ id: string; name?: string; ranges: Array<[offset: number, length: number]> }>;
}

export interface StreamReport {
  id: string;
  name?: string;
  size?: number;
  intact: boolean;
  damagedRanges: Array<[offset: number, length: number]>;
  /** Paths inside an NTFS partition of the stream the damage reaches (filled in by the CLI). */
  files?: string[];
  /** Why `files` could not be determined (the damage may be in the filesystem's own records). */
  filesError?: string;
}

/** A fact worth knowing that is not damage: crash debris, unreferenced slabs, a stale lock. */
export interface Note {
  file: string;
  message: string;
}

export interface CheckReport {
  archive: string;
  deep: boolean;
  clean: boolean;
  problems: Problem[];
  streams: StreamReport[];
  notes: Note[];
  slabs: { total: number; unreferenced: number; unreferencedBytes: number };
  /** Bytes the check read from the archive's files, and how long it took. */
  bytesRead: number;
  seconds: number;
}

/** Sorted, merged [offset, length] ranges. */
export function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = ranges.filter(([, l]) => l > 0).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [o, l] of sorted) {
    const last = out[out.length - 1];
    if (last && o <= last[0] + last[1]) last[1] = Math.max(last[1], o + l - last[0]);
    else out.push([o, l]);
  }
  return out;
}

/** Collects problems and, per problem, the stream ranges it reaches. */
export class ProblemLog {
  readonly problems: Problem[] = [];
  private readonly ranges = new Map<Problem, Map<string, Array<[number, number]>>>();

  add(p: Omit<Problem, 'affects'>): Problem {
    const problem = { ...p, affects: [] };
    this.problems.push(problem);
    this.ranges.set(problem, new Map());
    return problem;
  }

  /** Records that `problem` damages `[offset, offset+length)` of stream `id`. */
  affect(problem: Problem, id: string, offset: number, length: number): void {
    const byStream = this.ranges.get(problem)!;
    let list = byStream.get(id);
    if (!list) byStream.set(id, (list = []));
    const last = list[list.length - 1];
    // Map entries arrive in order: extend the last range in place instead of growing the list.
    if (last && last[0] + last[1] === offset) last[1] += length;
    else list.push([offset, length]);
  }

  /** Fills every problem's `affects` and returns each stream's merged damaged ranges. */
  finish(names: Map<string, string | undefined>): Map<string, Array<[number, number]>> {
    const perStream = new Map<string, Array<[number, number]>>();
    for (const problem of this.problems) {
      for (const [id, list] of this.ranges.get(problem)!) {
        const merged = mergeRanges(list);
        problem.affects.push({ id, ...(names.get(id) !== undefined ? { name: names.get(id) } : {}), ranges: merged });
        perStream.set(id, [...(perStream.get(id) ?? []), ...merged]);
      }
    }
    for (const [id, list] of perStream) perStream.set(id, mergeRanges(list));
    return perStream;
  }
}
