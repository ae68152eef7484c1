/* nn_test.h - helpers shared by the nn test programs (static inline, header
 * only): building architectures from config text, comparing a float result
 * with a double reference relative to the reference's largest magnitude,
 * and deterministic random fills. */
#ifndef DDSCAN_NN_TEST_H
#define DDSCAN_NN_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/cfg.h"
#include "ddscan/nn.h"
#include "testutil.h"

/* Parses `text` as file "test.cfg", loads the nn group and checks for
 * unknown keys.  Returns the status; on success *p is filled. */
static inline dd_status nn_test_load(const char *text, nn_params *p) {
  cfg_doc *d = NULL;
  dd_status st = cfg_parse(&d, text, "test.cfg");
  if (st == DD_OK) st = nn_params_load(d, p);
  if (st == DD_OK) st = cfg_check_unused(d);
  cfg_free(d);
  return st;
}

/* Error of got against ref in units of ref's largest magnitude:
 *   max_i |got_i - ref_i| / max_i |ref_i|.
 * This is the honest scale for float results: a float computation of a sum
 * has an absolute error of a few ulp of its largest terms, so elements that
 * are tiny by cancellation cannot be matched to a relative tolerance. */
static inline double nn_test_err_d(const double *got, const double *ref, size_t n) {
  double scale = 0.0, err = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    if (!(fabs(got[i] - ref[i]) <= err)) err = fabs(got[i] - ref[i]); /* NaN -> NaN */
  }
  return scale > 0.0 ? err / scale : err;
}
static inline double nn_test_err_f(const float *got, const double *ref, size_t n) {
  double scale = 0.0, err = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    double e = fabs((double)got[i] - ref[i]);
    if (!(e <= err)) err = e;
  }
  return scale > 0.0 ? err / scale : err;
}

/* Fails with a message when err > tol (err may be NaN). */
static inline void nn_test_check(const char *what, double err, double tol, const char *file,
                                 int line) {
  if (!(err <= tol)) {
    print_error("%s:%d: %s: error %.3g (in units of the largest reference magnitude) > %.3g\n",
                file, line, what, err, tol);
    _fail(file, line);
  }
}
#define NN_CHECK(what, err, tol) nn_test_check((what), (err), (tol), __FILE__, __LINE__)

/* Uniform values in (lo, hi), rounded to float so that float and double
 * paths see identical inputs. */
static inline void nn_test_fill(double *d, float *f, size_t n, double lo, double hi, uint32_t key) {
  dd_rng r = dd_rng_for(99, DD_STREAM_TEST, key, 0, 0);
  for (size_t i = 0; i < n; i++) {
    float v = (float)(lo + (hi - lo) * dd_rng_uniform(&r));
    if (d) d[i] = v;
    if (f) f[i] = v;
  }
}
static inline void nn_test_fill_normal(double *d, float *f, size_t n, uint32_t key) {
  dd_rng r = dd_rng_for(98, DD_STREAM_TEST, key, 0, 0);
  for (size_t i = 0; i < n; i++) {
    float v = (float)dd_rng_normal(&r);
    if (d) d[i] = v;
    if (f) f[i] = v;
  }
}

static inline void *nn_test_alloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  assert_non_null(p);
  return p;
}

/* Copies the model's float params into a double array (n_params). */
static inline double *nn_test_params_d(const nn_model *m) {
  double *p = nn_test_alloc(m->n_params, sizeof *p);
  for (size_t i = 0; i < m->n_params; i++) p[i] = m->params[i];
  return p;
}

#endif
