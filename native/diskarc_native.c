/* diskarc's N-API addon: the Linux syscalls Node's fs does not expose (SEEK_DATA/SEEK_HOLE,
 * BLKGETSIZE64, BLKDISCARD, hole punching, glibc's mmap threshold), the content-defined
 * chunker's hot loops, and slab reads and decompression on libuv's thread pool. Each function is a thin
 * wrapper; policy lives in TypeScript. */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <openssl/evp.h>
#include <malloc.h>
#include <stdlib.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zlib.h> /* Node's own zlib (its headers and exported symbols), for crc32_z */

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value m, e, c;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &c);
  napi_set_named_property(env, e, "errno", c);
  napi_throw(env, e);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    napi_throw_type_error(env, NULL, "not enough arguments");
    return 0;
  }
  return 1;
}

static int64_t arg_i64(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return (int64_t)d;
}

static napi_value num(napi_env env, double d) {
  napi_value r;
  napi_create_double(env, d, &r);
  return r;
}

/* lseek(fd, offset, whence) for SEEK_DATA / SEEK_HOLE; returns -1 for ENXIO (no more data). */
static napi_value do_seek(napi_env env, napi_callback_info info, int whence) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int fd = (int)arg_i64(env, argv[0]);
  off_t off = (off_t)arg_i64(env, argv[1]);
  off_t r = lseek(fd, off, whence);
  if (r < 0) {
    if (errno == ENXIO) return num(env, -1);
    return throw_errno(env, whence == SEEK_DATA ? "lseek(SEEK_DATA)" : "lseek(SEEK_HOLE)", errno);
  }
  return num(env, (double)r);
}
static napi_value seek_data(napi_env env, napi_callback_info info) { return do_seek(env, info, SEEK_DATA); }
static napi_value seek_hole(napi_env env, napi_callback_info info) { return do_seek(env, info, SEEK_HOLE); }

static napi_value block_device_size(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int fd = (int)arg_i64(env, argv[0]);
  uint64_t size = 0;
  if (ioctl(fd, BLKGETSIZE64, &size) < 0) return throw_errno(env, "ioctl(BLKGETSIZE64)", errno);
  return num(env, (double)size);
}

static napi_value block_discard(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int fd = (int)arg_i64(env, argv[0]);
  uint64_t range[2] = {(uint64_t)arg_i64(env, argv[1]), (uint64_t)arg_i64(env, argv[2])};
  if (ioctl(fd, BLKDISCARD, range) < 0) return throw_errno(env, "ioctl(BLKDISCARD)", errno);
  return NULL;
}

static napi_value punch_hole(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int fd = (int)arg_i64(env, argv[0]);
  off_t off = (off_t)arg_i64(env, argv[1]);
  off_t len = (off_t)arg_i64(env, argv[2]);
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0)
    return throw_errno(env, "fallocate(PUNCH_HOLE)", errno);
  return NULL;
}

/* Gear-hash cut points (FastCDC normalised chunking).
 * findCuts(buf, gearTable Uint32Array(256), min, avg, max, maskS, maskL, out Uint32Array) -> count.
 * Writes the end offset of each complete chunk into out; the tail after the last cut is not a chunk
 * (the caller carries it into the next buffer). */
static napi_value find_cuts(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (!get_args(env, info, 8, argv)) return NULL;
  uint8_t *buf; size_t len;
  napi_typedarray_type t; size_t tl; void *tdata; napi_value ab; size_t bo;
  napi_get_typedarray_info(env, argv[0], &t, &len, (void **)&buf, &ab, &bo);
  napi_get_typedarray_info(env, argv[1], &t, &tl, &tdata, &ab, &bo);
  const uint32_t *gear = (const uint32_t *)tdata;
  uint32_t min = (uint32_t)arg_i64(env, argv[2]);
  uint32_t avg = (uint32_t)arg_i64(env, argv[3]);
  uint32_t max = (uint32_t)arg_i64(env, argv[4]);
  uint32_t mask_s = (uint32_t)arg_i64(env, argv[5]);
  uint32_t mask_l = (uint32_t)arg_i64(env, argv[6]);
  size_t outcap; void *odata;
  napi_get_typedarray_info(env, argv[7], &t, &outcap, &odata, &ab, &bo);
  uint32_t *out = (uint32_t *)odata;
  size_t n = 0, start = 0;
  while (start < len && n < outcap) {
    size_t remain = len - start;
    if (remain <= min) break;
    size_t limit = remain < max ? remain : max;
    size_t normal = limit < avg ? limit : avg;
    uint32_t h = 0;
    size_t i = min;
    size_t cut = 0;
    for (; i < normal; i++) {
      h = (h << 1) + gear[buf[start + i]];
      if (!(h & mask_s)) { cut = i + 1; break; }
    }
    if (!cut) {
      for (; i < limit; i++) {
        h = (h << 1) + gear[buf[start + i]];
        if (!(h & mask_l)) { cut = i + 1; break; }
      }
    }
    if (!cut) {
      if (limit < max) break; /* ran out of buffer before a boundary: leave the tail */
      cut = max;
    }
    start += cut;
    out[n++] = (uint32_t)start;
  }
  napi_value r;
  napi_create_uint32(env, (uint32_t)n, &r);
  return r;
}

/* SHA-256 of consecutive chunks of buf: chunk i spans [ends[i-1] (or start), ends[i]).
 * hashChunks(buf, start, ends Uint32Array, count, out Buffer(32 * count)). One call per buffer
 * instead of one crypto.hash per chunk removes ~3 us of JS overhead per 4 KiB chunk.
 * OpenSSL comes from Node itself, which exports its symbols to addons. */
static napi_value hash_chunks(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  uint8_t *buf; size_t len;
  napi_typedarray_type t; napi_value ab; size_t bo;
  napi_get_typedarray_info(env, argv[0], &t, &len, (void **)&buf, &ab, &bo);
  size_t start = (size_t)arg_i64(env, argv[1]);
  size_t nends; void *edata;
  napi_get_typedarray_info(env, argv[2], &t, &nends, &edata, &ab, &bo);
  const uint32_t *ends = (const uint32_t *)edata;
  size_t count = (size_t)arg_i64(env, argv[3]);
  uint8_t *out; size_t outlen;
  napi_get_typedarray_info(env, argv[4], &t, &outlen, (void **)&out, &ab, &bo);
  if (count > nends || outlen < count * 32) {
    napi_throw_range_error(env, NULL, "hashChunks: output too small");
    return NULL;
  }
  const EVP_MD *md = EVP_sha256();
  size_t prev = start;
  for (size_t i = 0; i < count; i++) {
    size_t end = ends[i];
    if (end < prev || end > len) {
      napi_throw_range_error(env, NULL, "hashChunks: chunk ends out of order or past the buffer");
      return NULL;
    }
    unsigned int mdlen = 32;
    EVP_Digest(buf + prev, end - prev, out + i * 32, &mdlen, md, NULL);
    prev = end;
  }
  return NULL;
}

/* mallocTuning(mmapThreshold): fixes glibc's mmap threshold so buffers at least that large are
 * mmapped and returned to the kernel when freed (the dynamic threshold otherwise rises to 32 MiB
 * after the first such free, and freed slab buffers stay in malloc's arenas as RSS). */
static napi_value malloc_tuning(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int64_t threshold = arg_i64(env, argv[0]);
  napi_value ok;
  napi_get_boolean(env, mallopt(M_MMAP_THRESHOLD, (int)threshold) == 1, &ok);
  return ok;
}

/* setSendBuffer(fd, bytes) → the socket's send buffer size afterwards. Asks for SO_SNDBUF
 * (the kernel caps it at net.core.wmem_max); Node has no API for it. */
static napi_value set_send_buffer(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int fd = (int)arg_i64(env, argv[0]);
  int want = (int)arg_i64(env, argv[1]);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want) != 0) return throw_errno(env, "setsockopt(SO_SNDBUF)", errno);
  int got = 0;
  socklen_t len = sizeof got;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &len) != 0) return throw_errno(env, "getsockopt(SO_SNDBUF)", errno);
  napi_value r;
  napi_create_int32(env, got, &r);
  return r;
}

/* What every slab job on libuv's pool carries (embedded first in each job): its work item, its
 * promise, and references keeping the two buffers it reads and writes alive until it is done. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffers[2];
} pool_job;

/* The bytes of a Uint8Array argument; 0 when it is not one. */
static int uint8_array_arg(napi_env env, napi_value v, void **data, size_t *len) {
  napi_typedarray_type t;
  napi_value ab;
  size_t offset;
  return napi_get_typedarray_info(env, v, &t, len, data, &ab, &offset) == napi_ok && t == napi_uint8_array;
}

/* Queues `job` (calloc'ed, filled in) on the pool, holding buffers a and b; returns its promise. */
static napi_value queue_pool_job(napi_env env, pool_job *job, napi_value a, napi_value b, const char *name,
                                 napi_async_execute_callback execute, napi_async_complete_callback complete) {
  napi_value promise, resource_name;
  napi_create_reference(env, a, 1, &job->buffers[0]);
  napi_create_reference(env, b, 1, &job->buffers[1]);
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  napi_create_async_work(env, NULL, resource_name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

/* Releases what queue_pool_job took, once the job's promise is settled. */
static void end_pool_job(napi_env env, pool_job *job) {
  napi_delete_reference(env, job->buffers[0]);
  napi_delete_reference(env, job->buffers[1]);
  napi_delete_async_work(env, job->work);
  free(job);
}

/* zstdDecompressInto(src, dst, crc) → Promise<dst>: checks src against its CRC-32 (the slab
 * header's; -1 skips the check), then decompresses it — one zstd frame, which must fill dst
 * exactly — on libuv's thread pool. Servers use it for slabs instead of worker threads: no isolate
 * per worker, no message copies, and every slab buffer comes from the JS thread's allocator
 * (allocated there without zero-filling; its pages are first touched here, off the JS thread). */
typedef struct {
  pool_job base; /* buffers: src, dst */
  const uint8_t *src;
  size_t src_len;
  uint8_t *dst;
  size_t dst_len;
  int64_t crc; /* expected CRC-32 of src, or -1 */
  int crc_failed;
  size_t result;
} zstd_job;

/* setDecodeNice(n): the nice value pool threads take before their next slab job (each thread
 * applies it itself: Linux sets a thread's priority by its own id, and libuv's threads are not
 * ours to list). A server lowers it so the threads answering requests — the event loop,
 * libfuse's — get a core as soon as they wake instead of waiting behind a decode. */
static int decode_nice_wanted = 0;
static __thread int decode_nice_applied = 0;

static void apply_decode_nice(void) {
  int want = __atomic_load_n(&decode_nice_wanted, __ATOMIC_RELAXED);
  if (want == decode_nice_applied) return;
  /* Best effort: raising priority again needs CAP_SYS_NICE; a thread that cannot keeps its value. */
  setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), want);
  decode_nice_applied = want;
}

static napi_value set_decode_nice(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int64_t n = arg_i64(env, argv[0]);
  if (n < 0 || n > 19) {
    napi_throw_range_error(env, NULL, "setDecodeNice: nice must be 0..19");
    return NULL;
  }
  __atomic_store_n(&decode_nice_wanted, (int)n, __ATOMIC_RELAXED);
  return NULL;
}

/* One decompression context per pool thread, reused for every frame it decodes. */
static __thread ZSTD_DCtx *thread_dctx;

static void zstd_execute(napi_env env, void *data) {
  (void)env;
  zstd_job *job = data;
  apply_decode_nice();
  if (job->crc >= 0 && crc32_z(0, job->src, job->src_len) != (uLong)job->crc) {
    job->crc_failed = 1;
    return;
  }
  if (!thread_dctx) thread_dctx = ZSTD_createDCtx();
  job->result = thread_dctx ? ZSTD_decompressDCtx(thread_dctx, job->dst, job->dst_len, job->src, job->src_len)
                            : (size_t)-ZSTD_error_memory_allocation;
}

static void zstd_complete(napi_env env, napi_status status, void *data) {
  zstd_job *job = data;
  napi_value dst, err, msg;
  napi_get_reference_value(env, job->base.buffers[1], &dst);
  const char *problem = NULL;
  char text[160];
  if (status != napi_ok) problem = "decompression was cancelled";
  else if (job->crc_failed) problem = "checksum mismatch";
  else if (ZSTD_isError(job->result)) problem = ZSTD_getErrorName(job->result);
  else if (job->result != job->dst_len) {
    snprintf(text, sizeof text, "frame holds %zu bytes, expected %zu", job->result, job->dst_len);
    problem = text;
  }
  if (problem) {
    napi_create_string_utf8(env, problem, NAPI_AUTO_LENGTH, &msg);
    napi_value code;
    napi_create_string_utf8(env, job->crc_failed ? "ECHECKSUM" : "EFRAME", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &err);
    napi_reject_deferred(env, job->base.deferred, err);
  } else {
    napi_resolve_deferred(env, job->base.deferred, dst);
  }
  end_pool_job(env, &job->base);
}

static napi_value zstd_decompress_into(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  size_t src_len, dst_len; void *src, *dst;
  if (!uint8_array_arg(env, argv[0], &src, &src_len) || !uint8_array_arg(env, argv[1], &dst, &dst_len)) {
    napi_throw_type_error(env, NULL, "zstdDecompressInto: source and destination must be Uint8Arrays");
    return NULL;
  }
  zstd_job *job = calloc(1, sizeof *job);
  if (!job) return throw_errno(env, "zstdDecompressInto", ENOMEM);
  job->src = src;
  job->src_len = src_len;
  job->dst = dst;
  job->dst_len = dst_len;
  job->crc = arg_i64(env, argv[2]);
  return queue_pool_job(env, &job->base, argv[0], argv[1], "diskarc:zstdDecompressInto", zstd_execute, zstd_complete);
}

/* readRecordDecoding(fd, position, length, scratch, payloadOffset, dst) → Promise<[bytesRead,
 * payloadCrc, decoded]>: one trip through libuv's pool for a slab load — pread `length` bytes at
 * `position` into scratch, the CRC-32 of scratch[payloadOffset, bytesRead), and, when that payload
 * is one zstd frame whose content size fits dst, its decompression into dst. `decoded` is the
 * frame's size, or -1 (payload is not a zstd frame), -2 (content size unknown or larger than
 * dst), -3 (the frame does not decode). The record's header is not read here: the caller decodes
 * and checks it (its layout lives in TypeScript) and decides what the results mean. */
typedef struct {
  pool_job base; /* buffers: scratch, dst */
  int fd;
  int64_t position;
  uint8_t *scratch;
  size_t length, payload_offset;
  uint8_t *dst;
  size_t dst_len;
  int err; /* errno of a failed pread */
  size_t got;
  uint32_t crc;
  int64_t decoded;
} record_job;

static void record_execute(napi_env env, void *data) {
  (void)env;
  record_job *job = data;
  apply_decode_nice();
  while (job->got < job->length) {
    ssize_t n = pread(job->fd, job->scratch + job->got, job->length - job->got, (off_t)(job->position + (int64_t)job->got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { job->err = errno; return; }
    if (n == 0) break;
    job->got += (size_t)n;
  }
  if (job->got < job->payload_offset) { job->decoded = -1; return; }
  const uint8_t *payload = job->scratch + job->payload_offset;
  size_t payload_len = job->got - job->payload_offset;
  job->crc = (uint32_t)crc32_z(0, payload, payload_len);
  if (payload_len < 4 || payload[0] != 0x28 || payload[1] != 0xB5 || payload[2] != 0x2F || payload[3] != 0xFD) { job->decoded = -1; return; }
  unsigned long long size = ZSTD_getFrameContentSize(payload, payload_len);
  if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR || size > job->dst_len) { job->decoded = -2; return; }
  if (!thread_dctx) thread_dctx = ZSTD_createDCtx();
  size_t r = thread_dctx ? ZSTD_decompressDCtx(thread_dctx, job->dst, (size_t)size, payload, payload_len) : (size_t)-ZSTD_error_memory_allocation;
  job->decoded = ZSTD_isError(r) || r != size ? -3 : (int64_t)r;
}

static void record_complete(napi_env env, napi_status status, void *data) {
  record_job *job = data;
  if (status != napi_ok || job->err) {
    napi_value msg, err, code;
    char text[160];
    snprintf(text, sizeof text, "pread: %s", status != napi_ok ? "cancelled" : strerror(job->err));
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, "EIO", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &err);
    if (job->err) {
      napi_value e;
      napi_create_int32(env, job->err, &e);
      napi_set_named_property(env, err, "errno", e);
    }
    napi_reject_deferred(env, job->base.deferred, err);
  } else {
    napi_value result;
    napi_create_array_with_length(env, 3, &result);
    napi_set_element(env, result, 0, num(env, (double)job->got));
    napi_set_element(env, result, 1, num(env, (double)job->crc));
    napi_set_element(env, result, 2, num(env, (double)job->decoded));
    napi_resolve_deferred(env, job->base.deferred, result);
  }
  end_pool_job(env, &job->base);
}

static napi_value read_record_decoding(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv)) return NULL;
  size_t scratch_len, dst_len; void *scratch, *dst;
  if (!uint8_array_arg(env, argv[3], &scratch, &scratch_len) || !uint8_array_arg(env, argv[5], &dst, &dst_len)) {
    napi_throw_type_error(env, NULL, "readRecordDecoding: scratch and destination must be Uint8Arrays");
    return NULL;
  }
  int64_t length = arg_i64(env, argv[2]), payload_offset = arg_i64(env, argv[4]), position = arg_i64(env, argv[1]);
  if (length < 0 || (size_t)length > scratch_len || payload_offset < 0 || position < 0) {
    napi_throw_range_error(env, NULL, "readRecordDecoding: length must fit the scratch buffer");
    return NULL;
  }
  record_job *job = calloc(1, sizeof *job);
  if (!job) return throw_errno(env, "readRecordDecoding", ENOMEM);
  job->fd = (int)arg_i64(env, argv[0]);
  job->position = position;
  job->length = (size_t)length;
  job->payload_offset = (size_t)payload_offset;
  job->scratch = scratch;
  job->dst = dst;
  job->dst_len = dst_len;
  return queue_pool_job(env, &job->base, argv[3], argv[5], "diskarc:readRecordDecoding", record_execute, record_complete);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"seekData", 0, seek_data, 0, 0, 0, napi_default, 0},
    {"seekHole", 0, seek_hole, 0, 0, 0, napi_default, 0},
    {"blockDeviceSize", 0, block_device_size, 0, 0, 0, napi_default, 0},
    {"blockDiscard", 0, block_discard, 0, 0, 0, napi_default, 0},
    {"punchHole", 0, punch_hole, 0, 0, 0, napi_default, 0},
    {"findCuts", 0, find_cuts, 0, 0, 0, napi_default, 0},
    {"hashChunks", 0, hash_chunks, 0, 0, 0, napi_default, 0},
    {"mallocTuning", 0, malloc_tuning, 0, 0, 0, napi_default, 0},
    {"setSendBuffer", 0, set_send_buffer, 0, 0, 0, napi_default, 0},
    {"zstdDecompressInto", 0, zstd_decompress_into, 0, 0, 0, napi_default, 0},
    {"readRecordDecoding", 0, read_record_decoding, 0, 0, 0, napi_default, 0},
    {"setDecodeNice", 0, set_decode_nice, 0, 0, 0, napi_default, 0},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
