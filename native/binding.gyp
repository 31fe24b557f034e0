{
  # zstd's decoder is compiled in from the sources zstd-napi ships (decompression only), so the
  # addon can decode slabs on libuv's thread pool; compression stays with zstd-napi.
  "variables": {
    "zstd": "../node_modules/zstd-napi/deps/zstd/lib"
  },
  "targets": [
    {
      "target_name": "diskarc_native",
      "sources": [
        "diskarc_native.c",
        "<(zstd)/common/debug.c",
        "<(zstd)/common/entropy_common.c",
        "<(zstd)/common/error_private.c",
        "<(zstd)/common/fse_decompress.c",
        "<(zstd)/common/xxhash.c",
        "<(zstd)/common/zstd_common.c",
        "<(zstd)/decompress/huf_decompress.c",
        "<(zstd)/decompress/huf_decompress_amd64.S",
        "<(zstd)/decompress/zstd_ddict.c",
        "<(zstd)/decompress/zstd_decompress.c",
        "<(zstd)/decompress/zstd_decompress_block.c"
      ],
      "include_dirs": ["<(zstd)"],
      "defines": ["ZSTD_NO_TRACE", "XXH_NAMESPACE=DISKARC_ZSTD_"],
      "cflags": ["-O3", "-Wall", "-fvisibility=hidden"]
    }
  ]
}
