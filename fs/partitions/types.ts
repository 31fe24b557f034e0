// The partition-table model every consumer sees (CLI, NTFS auto-selection, serving pN):
// one shape for MBR and GPT, offsets and sizes in bytes, indexes numbered as Linux numbers them.

export type PartitionScheme = 'mbr' | 'gpt';

export interface Partition {
  /** 1-based number, as in `pN` and Linux's sdaN: MBR primaries 1–4 by slot, logicals 5+; GPT entry number. */
  index: number;
  /** Byte offset of the first byte on the disk. */
  start: number;
  /** Size in bytes as the table states it (a window over it is clipped to the disk). */
  size: number;
  /** MBR: type byte as "0x07"; GPT: partition type GUID (upper case). */
  type: string;
  /** Friendly name of the type ("Microsoft basic data", "Linux swap"), when known. */
  typeName?: string;
  /** GPT partition name. */
  name?: string;
  /** GPT: unique partition GUID. MBR: Linux's PARTUUID form, "<disk signature>-<index as 2 hex digits>". */
  uuid?: string;
  /** MBR: active flag (0x80). GPT: attribute bit 2, legacy BIOS bootable. */
  bootable?: boolean;
  /** GPT attribute bits as 16 hex digits ("0x8000000000000001"), present when any bit is set. */
  attributes?: string;
  /** The set attribute bits by name, as sfdisk prints them ("RequiredPartition", "GUID:60,63"). */
  attributeFlags?: string[];
  /** MBR: this is an extended partition (the container of the logical ones), holding no filesystem. */
  extended?: boolean;
  /** Filesystem found by its superblock magic ('ntfs', 'vfat', 'ext4', …), if any. */
  filesystem?: string;
  /** That filesystem's label (volume name), as blkid reports LABEL. */
  label?: string;
  /** That filesystem's UUID / serial number, as blkid reports UUID. */
  filesystemUuid?: string;
}

export interface PartitionTable {
  scheme: PartitionScheme;
  /** MBR: disk signature "0x1234abcd"; GPT: disk GUID. */
  diskId: string;
  /** Logical sector size the table was found with (512 or 4096). */
  sectorSize: number;
  /** GPT: which header was used — 'backup' when the primary was damaged. */
  header?: 'primary' | 'backup';
  /** GPT: first and last usable byte offsets (last exclusive). */
  usable?: { start: number; end: number };
  partitions: Partition[];
  /** Problems that did not stop reading the table (damaged primary GPT, disk smaller than the table…). */
  warnings: string[];
}
