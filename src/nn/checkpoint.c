/* checkpoint.c - model checkpoints (STYLE.md §6): a fixed 128-byte header,
 * the tensor table, then params, adam_m and adam_v, written through
 * name.tmp + fsync + rename (dd_write_file_atomic); loading checks every
 * field and names the file and the mismatch.  Also the export of the tensor
 * table + params as plain arrays for the results file.  The byte layout and
 * the changelog of NN_CKPT_VERSION are in docs/nn.md. */
#include "nn_internal.h"

#include <stdlib.h>
#include <string.h>

#define CKPT_HEADER_BYTES 128
#define CKPT_ENTRY_BYTES 96
#define CKPT_SUM_OFFSET 80 /* the checksum field; it covers [0, 80) + payload */

static void put32(unsigned char *p, uint32_t v) {
  memcpy(p, &v, sizeof v);
}
static void put64(unsigned char *p, uint64_t v) {
  memcpy(p, &v, sizeof v);
}
static uint32_t get32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}
static uint64_t get64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static size_t payload_bytes(const nn_model *m) {
  return (size_t)m->n_tensors * CKPT_ENTRY_BYTES + 3 * m->n_params * sizeof(float);
}

static void put_entry(unsigned char *e, const nn_tensor *t) {
  memset(e, 0, CKPT_ENTRY_BYTES);
  memcpy(e, t->name, strlen(t->name)); /* NUL-padded to NN_NAME_LEN */
  put32(e + 48, (uint32_t)t->ndim);
  for (int d = 0; d < 4; d++) put32(e + 52 + 4 * d, (uint32_t)t->shape[d]);
  put64(e + 72, (uint64_t)t->offset);
  put64(e + 80, (uint64_t)t->size);
}

static uint64_t checksum(const unsigned char *buf, size_t total) {
  uint64_t h = dd_hash_bytes(DD_HASH_INIT, buf, CKPT_SUM_OFFSET);
  return dd_hash_bytes(h, buf + CKPT_HEADER_BYTES, total - CKPT_HEADER_BYTES);
}

dd_status nn_checkpoint_save(const nn_model *m, const char *path, const nn_ckpt_info *info) {
  const size_t total = CKPT_HEADER_BYTES + payload_bytes(m);
  unsigned char *buf = calloc(1, total);
  if (!buf) return DD_FAIL(DD_ERR_NOMEM, "checkpoint buffer of %zu bytes for '%s'", total, path);
  memcpy(buf, NN_CKPT_MAGIC, 8);
  put32(buf + 8, NN_CKPT_VERSION);
  put32(buf + 12, CKPT_HEADER_BYTES);
  put64(buf + 16, m->n_params);
  put32(buf + 24, (uint32_t)m->n_tensors);
  put32(buf + 28, (uint32_t)m->arch.kind);
  put64(buf + 32, m->table_hash);
  put64(buf + 40, info ? info->config_hash : 0);
  put32(buf + 48, info ? info->seed : 0);
  put32(buf + 52, CKPT_ENTRY_BYTES);
  put64(buf + 56, m->step);
  put64(buf + 64, info ? info->epoch : 0);
  put64(buf + 72, payload_bytes(m));
  unsigned char *p = buf + CKPT_HEADER_BYTES;
  for (int i = 0; i < m->n_tensors; i++, p += CKPT_ENTRY_BYTES) put_entry(p, &m->tensors[i]);
  const size_t fb = m->n_params * sizeof(float);
  memcpy(p, m->params, fb);
  memcpy(p + fb, m->adam_m, fb);
  memcpy(p + 2 * fb, m->adam_v, fb);
  put64(buf + CKPT_SUM_OFFSET, checksum(buf, total));
  dd_status st = dd_write_file_atomic(path, buf, total);
  free(buf);
  if (st != DD_OK) return DD_CONTEXT(st, "saving checkpoint '%s'", path);
  return DD_OK;
}

static dd_status check(const unsigned char *buf, size_t size, const nn_model *m, const char *path,
                       const nn_ckpt_info *expect) {
  if (size < CKPT_HEADER_BYTES)
    return DD_FAIL(DD_ERR_IO, "checkpoint '%s' is truncated: %zu bytes, the header alone is %d",
                   path, size, CKPT_HEADER_BYTES);
  if (memcmp(buf, NN_CKPT_MAGIC, 8) != 0)
    return DD_FAIL(DD_ERR_IO, "'%s' is not a ddscan nn checkpoint (bad magic)", path);
  uint32_t ver = get32(buf + 8);
  if (ver != NN_CKPT_VERSION)
    return DD_FAIL(DD_ERR_IO, "checkpoint '%s' has format version %u, this ddscan reads %d", path,
                   ver, NN_CKPT_VERSION);
  if (get32(buf + 12) != CKPT_HEADER_BYTES || get32(buf + 52) != CKPT_ENTRY_BYTES)
    return DD_FAIL(DD_ERR_IO, "checkpoint '%s' is corrupt: header or entry size mismatch", path);
  uint64_t payload = get64(buf + 72);
  if (payload != size - CKPT_HEADER_BYTES)
    return DD_FAIL(DD_ERR_IO,
                   "checkpoint '%s' is truncated or padded: header says %llu payload bytes, "
                   "the file has %zu",
                   path, (unsigned long long)payload, size - CKPT_HEADER_BYTES);
  if (checksum(buf, size) != get64(buf + CKPT_SUM_OFFSET))
    return DD_FAIL(DD_ERR_IO, "checkpoint '%s' is corrupt: checksum mismatch", path);
  /* A valid file: now compare it with the model. */
  if (get32(buf + 28) != (uint32_t)m->arch.kind)
    return DD_FAIL(DD_ERR_ARG, "checkpoint '%s' holds a %s, the model is a %s", path,
                   get32(buf + 28) == NN_MODEL_CVAE ? "CVAE" : "CNN",
                   m->arch.kind == NN_MODEL_CVAE ? "CVAE" : "CNN");
  if (get64(buf + 16) != m->n_params || get32(buf + 24) != (uint32_t)m->n_tensors)
    return DD_FAIL(DD_ERR_ARG,
                   "checkpoint '%s' does not match the architecture: %llu parameters in %u "
                   "tensors, the model has %zu in %d",
                   path, (unsigned long long)get64(buf + 16), get32(buf + 24), m->n_params,
                   m->n_tensors);
  const unsigned char *e = buf + CKPT_HEADER_BYTES;
  for (int i = 0; i < m->n_tensors; i++, e += CKPT_ENTRY_BYTES) {
    unsigned char want[CKPT_ENTRY_BYTES];
    put_entry(want, &m->tensors[i]);
    if (memcmp(want, e, CKPT_ENTRY_BYTES) != 0) {
      char name[NN_NAME_LEN + 1];
      memcpy(name, e, NN_NAME_LEN);
      name[NN_NAME_LEN] = '\0';
      return DD_FAIL(DD_ERR_ARG,
                     "checkpoint '%s' does not match the architecture: tensor %d is '%s' "
                     "(%u-d %ux%ux%ux%u), the model has '%s' (%d-d %dx%dx%dx%d)",
                     path, i, name, get32(e + 48), get32(e + 52), get32(e + 56), get32(e + 60),
                     get32(e + 64), m->tensors[i].name, m->tensors[i].ndim, m->tensors[i].shape[0],
                     m->tensors[i].shape[1], m->tensors[i].shape[2], m->tensors[i].shape[3]);
    }
  }
  if (get64(buf + 32) != m->table_hash)
    return DD_FAIL(DD_ERR_ARG, "checkpoint '%s': tensor-table hash mismatch", path);
  if (expect && get64(buf + 40) != expect->config_hash)
    return DD_FAIL(DD_ERR_ARG,
                   "checkpoint '%s' was written with another configuration (config hash "
                   "%016llx, this run %016llx)",
                   path, (unsigned long long)get64(buf + 40),
                   (unsigned long long)expect->config_hash);
  if (expect && get32(buf + 48) != expect->seed)
    return DD_FAIL(DD_ERR_ARG, "checkpoint '%s' was written with seed %u, this run uses %u", path,
                   get32(buf + 48), expect->seed);
  return DD_OK;
}

dd_status nn_checkpoint_load(nn_model *m, const char *path, const nn_ckpt_info *expect,
                             nn_ckpt_info *got) {
  char *raw = NULL;
  size_t size = 0;
  DD_TRY(dd_read_file(path, &raw, &size), "loading checkpoint '%s'", path);
  const unsigned char *buf = (const unsigned char *)raw;
  dd_status st = check(buf, size, m, path, expect);
  if (st == DD_OK) {
    const unsigned char *p = buf + CKPT_HEADER_BYTES + (size_t)m->n_tensors * CKPT_ENTRY_BYTES;
    const size_t fb = m->n_params * sizeof(float);
    memcpy(m->params, p, fb);
    /* an inference model (nn_model_init_inference) has no Adam moments */
    if (m->adam_m) memcpy(m->adam_m, p + fb, fb);
    if (m->adam_v) memcpy(m->adam_v, p + 2 * fb, fb);
    m->step = get64(buf + 56);
    if (got) {
      got->config_hash = get64(buf + 40);
      got->seed = get32(buf + 48);
      got->step = m->step;
      got->epoch = get64(buf + 64);
    }
  }
  free(raw);
  if (st != DD_OK) return DD_CONTEXT(st, "loading checkpoint");
  return DD_OK;
}

int nn_model_export(const nn_model *m, nn_export_tensor *out, int cap) {
  DD_ASSERT(cap >= m->n_tensors);
  for (int i = 0; i < m->n_tensors; i++) {
    const nn_tensor *t = &m->tensors[i];
    out[i].name = t->name;
    out[i].ndim = t->ndim;
    for (int d = 0; d < 4; d++) out[i].shape[d] = d < t->ndim ? t->shape[d] : 0;
    out[i].data = m->params + t->offset;
    out[i].count = t->size;
  }
  return m->n_tensors;
}
