{
  "targets": [
    {
      "target_name": "diskarc_native",
      "sources": ["diskarc_native.c"],
      "cflags": ["-O3", "-Wall"]
    }
  ]
}
