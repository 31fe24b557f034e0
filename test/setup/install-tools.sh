#!/usr/bin/env bash
# Makes sure the real peers the tests (and, with `bench`, the benchmarks) run against are
# installed (Debian packages).
# As root, missing packages are installed with apt-get; otherwise it fails naming them,
# because a test that silently skips its oracle proves nothing.
set -euo pipefail
declare -A need=(
  [qemu-img]=qemu-utils [qemu-io]=qemu-utils [qemu-nbd]=qemu-utils
  [nbdinfo]=libnbd-bin [nbdcopy]=libnbd-bin [nbdsh]=python3-libnbd
  [nbdkit]=nbdkit [fio]=fio
  [mkntfs]=ntfs-3g [ntfs-3g]=ntfs-3g [ntfsls]=ntfs-3g [ntfscluster]=ntfs-3g
  [fls]=sleuthkit [icat]=sleuthkit [istat]=sleuthkit [tsk_recover]=sleuthkit [ntfsinfo]=ntfs-3g [ntfscat]=ntfs-3g [getfattr]=attr [iconv]=libc-bin
  [sgdisk]=gdisk [sfdisk]=fdisk [mkfs.vfat]=dosfstools [fsck.vfat]=dosfstools [mdir]=mtools
  [mke2fs]=e2fsprogs [debugfs]=e2fsprogs [e2fsck]=e2fsprogs
  [setfattr]=attr [fusermount3]=fuse3 [zstd]=zstd [truncate]=coreutils
  [losetup]=mount [strace]=strace [cmp]=diffutils
  [fdisk]=fdisk [blkid]=util-linux [mkswap]=util-linux [mkfs.xfs]=xfsprogs [mkfs.btrfs]=btrfs-progs
  [genisoimage]=genisoimage [mksquashfs]=squashfs-tools
  [ewfacquire]=ewf-tools [ewfmount]=ewf-tools [squashfuse]=squashfuse [mtype]=mtools
  [wimcapture]=wimtools
  [rclone]=rclone [cadaver]=cadaver [mount.davfs]=davfs2 [curl]=curl [openssl]=openssl [chromium]=chromium [nginx]=nginx
)
# `install-tools.sh bench`: also the peers `npm run bench` measures against.
if [ "${1:-}" = bench ]; then
  need+=([borg]=borgbackup [restic]=restic [squashfuse]=squashfuse [ewfmount]=ewf-tools [qemu-nbd]=qemu-utils [hyperfine]=hyperfine)
  # and what ../shared/bench/make-corpus.sh builds the real corpus with
  need+=([debootstrap]=debootstrap [fuse2fs]=fuse2fs [rsync]=rsync [openssl]=openssl)
fi
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# Files that are not commands: the nginx WebDAV module the WebDAV benchmark's peer loads.
declare -A need_files=(
  [/usr/lib/nginx/modules/ngx_http_dav_ext_module.so]=libnginx-mod-http-dav-ext
)
for f in "${!need_files[@]}"; do
  [ -e "$f" ] || missing+=("${need_files[$f]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" != 0 ]; then
  echo "test setup: missing Debian packages: $pkgs— install them (apt-get install $pkgs) or run as root" >&2
  exit 1
fi
echo "test setup: installing $pkgs" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
