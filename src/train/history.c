/* history.c - the per-epoch statistics of a model and the history file that
 * sits beside its checkpoint (<dir>/<model>.hist), so that a resumed or
 * reused model still has its whole loss curve.  Written before the
 * checkpoint of the same epoch, through tmp + fsync + rename; a history one
 * epoch ahead of its checkpoint (a kill between the two writes) is cut back
 * on load.  Layout (native little-endian, 64-byte header):
 *   0 magic "DDSCHIST" | 8 version u32 | 12 record bytes u32 | 16 hash u64 |
 *   24 epochs u32 | 28 zero | 32 checksum u64 (FNV-1a of [0,32) + records) |
 *   40 zero | 64 records: train_epoch, doubles only. */
#include "ddscan/train.h"

#include <stdlib.h>
#include <string.h>

#define HIST_HEADER 64
#define HIST_SUM_OFF 32

dd_status train_history_init(train_history *h, uint64_t hash, int cap) {
  h->hash = hash;
  h->n = 0;
  h->cap = 0;
  h->e = NULL;
  if (cap < 1) return DD_FAIL(DD_ERR_ARG, "history: capacity %d", cap);
  DD_TRY(dd_calloc((void **)&h->e, (size_t)cap, sizeof *h->e, "loss history"), "history");
  h->cap = cap;
  return DD_OK;
}

void train_history_free(train_history *h) {
  free(h->e);
  h->e = NULL;
  h->n = h->cap = 0;
}

static uint64_t hist_checksum(const unsigned char *buf, size_t total) {
  uint64_t s = dd_hash_bytes(DD_HASH_INIT, buf, HIST_SUM_OFF);
  return dd_hash_bytes(s, buf + HIST_HEADER, total - HIST_HEADER);
}

dd_status train_history_save(const train_history *h, const char *path) {
  const size_t rec = sizeof(train_epoch), total = HIST_HEADER + (size_t)h->n * rec;
  unsigned char *buf = calloc(1, total);
  if (!buf) return DD_FAIL(DD_ERR_NOMEM, "history buffer for '%s'", path);
  const uint32_t ver = TRAIN_HIST_VERSION, rb = (uint32_t)rec, n = (uint32_t)h->n;
  memcpy(buf, TRAIN_HIST_MAGIC, 8);
  memcpy(buf + 8, &ver, 4);
  memcpy(buf + 12, &rb, 4);
  memcpy(buf + 16, &h->hash, 8);
  memcpy(buf + 24, &n, 4);
  if (h->n > 0) memcpy(buf + HIST_HEADER, h->e, (size_t)h->n * rec);
  const uint64_t sum = hist_checksum(buf, total);
  memcpy(buf + HIST_SUM_OFF, &sum, 8);
  dd_status st = dd_write_file_atomic(path, buf, total);
  free(buf);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "saving the loss history '%s'", path);
}

dd_status train_history_load(train_history *h, const char *path, uint64_t hash, int need) {
  if (!dd_path_exists(path))
    return DD_FAIL(DD_ERR_IO,
                   "loss history '%s' is missing (it is written beside the checkpoint every "
                   "epoch); delete the checkpoint to train from scratch",
                   path);
  char *raw = NULL;
  size_t size = 0;
  DD_TRY(dd_read_file(path, &raw, &size), "loading the loss history '%s'", path);
  const unsigned char *buf = (const unsigned char *)raw;
  dd_status st = DD_OK;
  uint32_t ver = 0, rb = 0, n = 0;
  uint64_t file_hash = 0, sum = 0;
  if (size < HIST_HEADER) {
    st = DD_FAIL(DD_ERR_IO, "loss history '%s' is truncated (%zu bytes)", path, size);
    goto done;
  }
  memcpy(&ver, buf + 8, 4);
  memcpy(&rb, buf + 12, 4);
  memcpy(&file_hash, buf + 16, 8);
  memcpy(&n, buf + 24, 4);
  memcpy(&sum, buf + HIST_SUM_OFF, 8);
  if (memcmp(buf, TRAIN_HIST_MAGIC, 8) != 0)
    st = DD_FAIL(DD_ERR_IO, "'%s' is not a ddscan loss history (bad magic)", path);
  else if (ver != TRAIN_HIST_VERSION || rb != sizeof(train_epoch))
    st = DD_FAIL(DD_ERR_IO,
                 "loss history '%s' has format version %u with %u-byte records, this ddscan "
                 "reads version %d with %zu",
                 path, ver, rb, TRAIN_HIST_VERSION, sizeof(train_epoch));
  else if (size != HIST_HEADER + (size_t)n * rb)
    st = DD_FAIL(DD_ERR_IO, "loss history '%s' is truncated: %u epochs need %zu bytes, it has %zu",
                 path, n, HIST_HEADER + (size_t)n * rb, size);
  else if (hist_checksum(buf, size) != sum)
    st = DD_FAIL(DD_ERR_IO, "loss history '%s' is corrupt: checksum mismatch", path);
  else if (file_hash != hash)
    st = DD_FAIL(DD_ERR_IO,
                 "loss history '%s' belongs to another configuration (hash %016llx, this "
                 "model %016llx)",
                 path, (unsigned long long)file_hash, (unsigned long long)hash);
  else if ((int)n < need)
    st = DD_FAIL(DD_ERR_IO, "loss history '%s' holds %u epochs, its checkpoint %d", path, n, need);
  else if (need > h->cap)
    st = DD_FAIL(DD_ERR_ARG, "loss history '%s': %d epochs do not fit %d", path, need, h->cap);
  if (st == DD_OK) {
    memcpy(h->e, buf + HIST_HEADER, (size_t)need * sizeof(train_epoch));
    h->n = need;
    h->hash = hash;
  }
done:
  free(raw);
  return st;
}
