/* test_train.c - the pure parts of the train module, in one process: the
 * classifier metrics against brute-force oracles (the weighted ROC area as
 * the double sum over all pairs), the loss-history file (round trip, cut back
 * to its checkpoint's epoch, and every way it can be wrong naming the file),
 * the train/score config groups, and the sample sets' noise keys. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/cfg.h"
#include "ddscan/core.h"
#include "ddscan/train.h"

/* The pairwise definition: P(s_nr > s_er) + 1/2 P(s_nr == s_er), weighted. */
static double auc_bruteforce(const double *se, const double *we, int ne, const double *sn,
                             const double *wn, int nn) {
  double num = 0.0, den = 0.0;
  for (int i = 0; i < nn; i++)
    for (int j = 0; j < ne; j++) {
      const double w = wn[i] * we[j];
      den += w;
      num += w * (sn[i] > se[j] ? 1.0 : sn[i] == se[j] ? 0.5 : 0.0);
    }
  return num / den;
}

static void test_auc_vs_pairs(void **state) {
  (void)state;
  enum { NE = 301, NN = 257 };
  static double se[NE], sn[NN], we[NE], wn[NN];
  for (int trial = 0; trial < 4; trial++) {
    dd_rng r = dd_rng_for(5, DD_STREAM_TEST, 100 + trial, 0, 0);
    for (int i = 0; i < NE; i++) {
      /* trial 1 and 3: scores on a coarse grid, so ties are common */
      double x = dd_rng_normal(&r);
      se[i] = trial % 2 ? floor(4.0 * x) / 4.0 : x;
      we[i] = trial >= 2 ? dd_rng_exponential(&r, 1.0) : 1.0;
    }
    for (int i = 0; i < NN; i++) {
      double x = 0.8 + dd_rng_normal(&r);
      sn[i] = trial % 2 ? floor(4.0 * x) / 4.0 : x;
      wn[i] = trial >= 2 ? (i % 7 == 0 ? 0.0 : dd_rng_exponential(&r, 3.0)) : 1.0;
    }
    double want = auc_bruteforce(se, we, NE, sn, wn, NN);
    double got = train_weighted_auc(se, trial >= 2 ? we : NULL, NE, sn, trial >= 2 ? wn : NULL, NN);
    print_message("  trial %d: AUC %.12f (pairwise %.12f)\n", trial, got, want);
    assert_near("weighted AUC", got, want, 1e-12, 1e-12);
    assert_true(got > 0.6 && got < 0.8); /* a 0.8-sigma shift: Phi(0.8/sqrt2) = 0.71 */
  }
  /* perfect, inverted and degenerate cases */
  double a[3] = {0, 1, 2}, b[3] = {3, 4, 5};
  assert_near("separated", train_weighted_auc(a, NULL, 3, b, NULL, 3), 1.0, 0, 0);
  assert_near("inverted", train_weighted_auc(b, NULL, 3, a, NULL, 3), 0.0, 0, 0);
  assert_near("all tied", train_weighted_auc(a, NULL, 1, a, NULL, 1), 0.5, 0, 0);
  assert_true(isnan(train_weighted_auc(a, NULL, 0, b, NULL, 3)));
  double zero[3] = {0, 0, 0};
  assert_true(isnan(train_weighted_auc(a, zero, 3, b, NULL, 3)));
  double nanv[1] = {NAN};
  assert_true(isnan(train_weighted_auc(nanv, NULL, 1, b, NULL, 3)));
}

static void test_balanced_accuracy(void **state) {
  (void)state;
  /* ER: 3 of 4 at or below 0; NR: 1 of 2 above 0 -> (0.75 + 0.5) / 2 */
  double se[4] = {-1, 0, -2, 3}, sn[2] = {2, -1};
  assert_near("unweighted", train_balanced_accuracy(se, NULL, 4, sn, NULL, 2, 0.0), 0.625, 1e-15,
              0);
  /* weights: ER correct weight 1+1+2 of 5; NR correct 3 of 4 */
  double we[4] = {1, 1, 2, 1}, wn[2] = {3, 1};
  assert_near("weighted", train_balanced_accuracy(se, we, 4, sn, wn, 2, 0.0),
              0.5 * (4.0 / 5.0 + 3.0 / 4.0), 1e-15, 0);
  /* the threshold moves the decision */
  assert_near("threshold", train_balanced_accuracy(se, NULL, 4, sn, NULL, 2, 2.5), 0.5 * (0.75 + 0),
              1e-15, 0);
  assert_true(isnan(train_balanced_accuracy(se, NULL, 4, sn, NULL, 0, 0.0)));
}

static void fill_epochs(train_history *h, int n) {
  for (int i = 0; i < n; i++) {
    train_epoch *e = &h->e[i];
    double *d = (double *)e;
    for (size_t k = 0; k < sizeof *e / sizeof(double); k++) d[k] = 1000.0 * i + (double)k + 0.25;
  }
  h->n = n;
}

static void test_history_roundtrip(void **state) {
  (void)state;
  char path[512];
  snprintf(path, sizeof path, "%s/model.hist", test_tmpdir());
  train_history h, g;
  assert_int_equal(train_history_init(&h, 0x1234, 5), DD_OK);
  assert_int_equal(train_history_init(&g, 0, 5), DD_OK);
  fill_epochs(&h, 3);
  assert_int_equal(train_history_save(&h, path), DD_OK);
  assert_false(dd_path_exists(strcat(strcpy((char[600]){0}, path), ".tmp")));
  assert_int_equal(train_history_load(&g, path, 0x1234, 3), DD_OK);
  assert_int_equal(g.n, 3);
  assert_memory_equal(g.e, h.e, 3 * sizeof(train_epoch));
  /* one epoch ahead of its checkpoint: cut back */
  assert_int_equal(train_history_load(&g, path, 0x1234, 2), DD_OK);
  assert_int_equal(g.n, 2);
  assert_memory_equal(g.e, h.e, 2 * sizeof(train_epoch));
  /* too few epochs, another configuration */
  dd_error_clear();
  assert_int_equal(train_history_load(&g, path, 0x1234, 4), DD_ERR_IO);
  assert_error_contains("holds 3 epochs, its checkpoint 4");
  assert_error_contains(path);
  assert_int_equal(train_history_load(&g, path, 0x9999, 3), DD_ERR_IO);
  assert_error_contains("belongs to another configuration");
  train_history_free(&h);
  train_history_free(&g);
}

/* Writes `n` bytes of `data` to path. */
static void put_file(const char *path, const void *data, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, n, fp), n);
  fclose(fp);
}

static void test_history_damaged(void **state) {
  (void)state;
  char path[512], bad[540];
  snprintf(path, sizeof path, "%s/ok.hist", test_tmpdir());
  snprintf(bad, sizeof bad, "%s/bad.hist", test_tmpdir());
  train_history h, g;
  assert_int_equal(train_history_init(&h, 77, 4), DD_OK);
  assert_int_equal(train_history_init(&g, 0, 4), DD_OK);
  fill_epochs(&h, 4);
  assert_int_equal(train_history_save(&h, path), DD_OK);
  char *raw = NULL;
  size_t n = 0;
  assert_int_equal(dd_read_file(path, &raw, &n), DD_OK);
  struct {
    const char *what, *needle;
  } cases[] = {
      {"missing", "is missing"},     {"short", "truncated"}, {"magic", "bad magic"},
      {"version", "format version"}, {"cut", "truncated"},   {"flip", "checksum mismatch"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char *copy = malloc(n);
    memcpy(copy, raw, n);
    size_t len = n;
    remove(bad);
    if (c == 1) len = 20;
    if (c == 2) copy[0] = 'X';
    if (c == 3) copy[8] = 9;
    if (c == 4) len = n - 8;
    if (c == 5) copy[n - 3] ^= 0x10;
    if (c > 0) put_file(bad, copy, len);
    free(copy);
    dd_error_clear();
    assert_int_equal(train_history_load(&g, bad, 77, 4), DD_ERR_IO);
    print_message("  %s: %s\n", cases[c].what, dd_error_message());
    assert_error_contains(cases[c].needle);
    assert_error_contains(bad);
  }
  free(raw);
  train_history_free(&h);
  train_history_free(&g);
}

static dd_status load_params(const char *text, train_params *p) {
  cfg_doc *d = NULL;
  dd_error_clear();
  dd_status st = cfg_parse(&d, text, "t.cfg");
  if (st == DD_OK) st = train_params_load(d, p);
  cfg_free(d);
  return st;
}

static void test_params(void **state) {
  (void)state;
  train_params p;
  assert_int_equal(load_params("", &p), DD_OK);
  /* the paper: minibatch 100, 200 CVAE epochs */
  assert_int_equal(p.cvae.epochs, 200);
  assert_int_equal(p.cvae.batch_size, 100);
  assert_int_equal(p.cnn.batch_size, 100);
  assert_int_equal(p.eval_batch_size, 100);
  assert_string_equal(p.checkpoint_dir, "");
  assert_int_equal(
      load_params("train = { cvae = { epochs = 3; batch_size = 7; }; examples = 2; };\n", &p),
      DD_OK);
  assert_int_equal(p.cvae.epochs, 3);
  assert_int_equal(p.cvae.batch_size, 7);
  assert_int_equal(p.examples, 2);
  assert_int_equal(load_params("train = {\n cnn = { epochs = 0; };\n};\n", &p), DD_ERR_CONFIG);
  assert_error_contains("t.cfg:2: train.cnn.epochs: must be in [1,");
  assert_int_equal(load_params("train = { cvae = { batch_size = 2.5; }; };\n", &p), DD_ERR_CONFIG);
  assert_error_contains("train.cvae.batch_size: expected an integer");
}

static void test_set_keys(void **state) {
  (void)state;
  det_event er[3], nr[2];
  memset(er, 0, sizeof er);
  memset(nr, 0, sizeof nr);
  for (int i = 0; i < 3; i++) er[i].index = (uint64_t)(10 + i);
  for (int i = 0; i < 2; i++) {
    nr[i].index = (uint64_t)(10 + i);
    nr[i].cls = 1;
  }
  train_set s;
  assert_int_equal(train_set_init(&s, er, 3, nr, 2), DD_OK);
  assert_int_equal(s.n, 5);
  /* ER first, then NR; same event index, different class -> different key */
  assert_true(s.ev[3] == &nr[0]);
  assert_true(s.label[2] == 0.0f && s.label[3] == 1.0f);
  assert_int_equal(s.key[0], 10);
  assert_int_equal(s.key[3], 10u | 0x80000000u);
  for (int i = 0; i < 5; i++)
    for (int j = i + 1; j < 5; j++) assert_true(s.key[i] != s.key[j]);
  train_set_free(&s);
  assert_null(s.ev);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_auc_vs_pairs),
      cmocka_unit_test(test_balanced_accuracy),
      cmocka_unit_test(test_history_roundtrip),
      cmocka_unit_test(test_history_damaged),
      cmocka_unit_test(test_params),
      cmocka_unit_test(test_set_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
