/* set.c - sample sets: labelled lists of bank records that the trainer
 * renders on demand (images are never stored in bulk), with the noise key of
 * each record (event index, class in bit 31). */
#include "ddscan/train.h"

#include <stdlib.h>

uint32_t train_noise_key(const det_event *ev) {
  /* bank indices stay far below 2^31 (bank sizes are int64 in the config but
   * a class stream this long would take years to simulate) */
  return (uint32_t)(ev->index & 0x7fffffffu) | ((uint32_t)(ev->cls != 0) << 31);
}

dd_status train_set_init(train_set *s, const det_event *er, long long n_er, const det_event *nr,
                         long long n_nr) {
  s->n = 0;
  s->ev = NULL;
  s->label = NULL;
  s->key = NULL;
  if (n_er < 0 || n_nr < 0) return DD_FAIL(DD_ERR_ARG, "sample set: negative size");
  const long long n = n_er + n_nr;
  const size_t cap = (size_t)(n > 0 ? n : 1);
  DD_TRY(dd_calloc((void **)&s->ev, cap, sizeof *s->ev, "sample set"), "sample set");
  dd_status st = dd_calloc((void **)&s->label, cap, sizeof *s->label, "sample labels");
  if (st == DD_OK) st = dd_calloc((void **)&s->key, cap, sizeof *s->key, "sample keys");
  if (st != DD_OK) {
    train_set_free(s);
    return DD_CONTEXT(st, "sample set");
  }
  for (long long i = 0; i < n; i++) {
    const det_event *ev = i < n_er ? &er[i] : &nr[i - n_er];
    s->ev[i] = ev;
    s->label[i] = ev->cls != 0 ? 1.0f : 0.0f;
    s->key[i] = train_noise_key(ev);
  }
  s->n = n;
  return DD_OK;
}

void train_set_free(train_set *s) {
  free(s->ev);
  free(s->label);
  free(s->key);
  s->ev = NULL;
  s->label = NULL;
  s->key = NULL;
  s->n = 0;
}
