// What the NBD server needs from whoever decides what is served: a list of export names and a way
// to open one as a BlockSource. The server never knows where the bytes come from (archive stream,
// partition view, raw file), as an nbdkit plugin never tells the server.
import type { BlockSource } from '../../src/block/source.js';

export interface NbdExportEntry {
  /** Name a client passes to NBD_OPT_GO / EXPORT_NAME. */
  name: string;
  /** Human-readable text for NBD_REP_SERVER and NBD_INFO_DESCRIPTION. */
  description: string;
  /** Size in bytes, when known without opening (for banners; NBD gets it from the source). */
  size?: number;
}

export interface NbdExport extends NbdExportEntry {
  /**
   * Shared by every connection to this export and owned by the catalog: connections must not
   * close it. Must tolerate concurrent reads.
   */
  source: BlockSource;
}

export interface NbdExportCatalog {
  /** Every export, in the order NBD_OPT_LIST reports them. */
  list(): Promise<NbdExportEntry[]>;
  /**
   * Opens an export by any name it answers to ('' is the default export, if there is one);
   * resolves undefined for an unknown name. The result's `name` is the canonical one.
   */
  open(name: string): Promise<NbdExport | undefined>;
}
