/* test_core.c - core: Philox4x32-10 known-answer vectors (Random123's
 * kat_vectors), statistical checks of every sampler with fixed seeds (the
 * Poisson and binomial ones by chi^2 against the exact pmf), stream
 * independence, the error chain, hashing and atomic file writes. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/core.h"

/* Published known answers: Salmon et al., Random123 kat_vectors,
 * "philox4x32 10 CTR[4] KEY[2] -> OUT[4]". */
static void test_philox_kat(void **state) {
  (void)state;
  static const uint32_t cases[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
       0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
       0x94fdcceb, 0x5001e420, 0x24126ea1},
  };
  for (int i = 0; i < 3; i++) {
    uint32_t out[4];
    dd_philox4x32_10(cases[i], cases[i] + 4, out);
    for (int j = 0; j < 4; j++) assert_int_equal(out[j], cases[i][6 + j]);
  }
}

/* dd_rng_for maps (seed, stream) to the key and (a, b, c, k) to the counter. */
static void test_rng_layout(void **state) {
  (void)state;
  dd_rng r = dd_rng_for(0xa4093822u, (dd_stream)0x299f31d0u, 0x243f6a88u, 0x85a308d3u, 0x13198a2eu);
  /* k = 0 first: not the KAT counter (k there is 0x03707344), so compute. */
  uint32_t ctr[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0}, key[2] = {0xa4093822u, 0x299f31d0u};
  uint32_t out[4];
  dd_philox4x32_10(ctr, key, out);
  for (int j = 0; j < 4; j++) assert_int_equal(dd_rng_u32(&r), out[j]);
  ctr[3] = 1;
  dd_philox4x32_10(ctr, key, out);
  assert_int_equal(dd_rng_u32(&r), out[0]);
}

static void test_rng_pure_function(void **state) {
  (void)state;
  dd_rng a = dd_rng_for(7, DD_STREAM_TEST, 1, 2, 3);
  dd_rng b = dd_rng_for(7, DD_STREAM_TEST, 1, 2, 3);
  for (int i = 0; i < 1000; i++) assert_true(dd_rng_uniform(&a) == dd_rng_uniform(&b));
  dd_rng c = dd_rng_for(7, DD_STREAM_TEST, 1, 2, 4);
  dd_rng d = dd_rng_for(7, DD_STREAM_EVENT_ER, 1, 2, 3);
  dd_rng e = dd_rng_for(8, DD_STREAM_TEST, 1, 2, 3);
  a = dd_rng_for(7, DD_STREAM_TEST, 1, 2, 3);
  int same_c = 0, same_d = 0, same_e = 0;
  for (int i = 0; i < 100; i++) {
    uint32_t x = dd_rng_u32(&a);
    same_c += x == dd_rng_u32(&c);
    same_d += x == dd_rng_u32(&d);
    same_e += x == dd_rng_u32(&e);
  }
  assert_true(same_c < 3 && same_d < 3 && same_e < 3);
}

/* Uniform: open interval, mean 1/2, variance 1/12, and a 20-bin chi-square. */
static void test_uniform(void **state) {
  (void)state;
  const int n = 1000000, nb = 20;
  long counts[20] = {0};
  double s = 0, s2 = 0;
  dd_rng r = dd_rng_for(12345, DD_STREAM_TEST, 0, 0, 0);
  for (int i = 0; i < n; i++) {
    double u = dd_rng_uniform(&r);
    assert_true(u > 0.0 && u < 1.0);
    s += u;
    s2 += u * u;
    counts[(int)(u * nb)]++;
  }
  double mean = s / n, var = s2 / n - mean * mean;
  /* sd of the mean = sqrt(1/12/n) = 2.9e-4: 5 sigma */
  assert_near("uniform mean", mean, 0.5, 5 * sqrt(1.0 / 12 / n), 0);
  assert_near("uniform variance", var, 1.0 / 12, 5 * sqrt(1.0 / 180 / n), 0);
  double chi2 = 0, e = (double)n / nb;
  for (int b = 0; b < nb; b++) chi2 += (counts[b] - e) * (counts[b] - e) / e;
  /* 19 dof: P(chi2 > 43.8) = 1e-3 */
  assert_true(chi2 < 43.8);
}

/* Cross-stream correlation: neighbouring entity indices are uncorrelated. */
static void test_stream_correlation(void **state) {
  (void)state;
  const int n = 200000;
  double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < n; i++) {
    dd_rng a = dd_rng_for(1, DD_STREAM_TEST, (uint32_t)i, 0, 0);
    dd_rng b = dd_rng_for(1, DD_STREAM_TEST, (uint32_t)i + 1, 0, 0);
    double x = dd_rng_uniform(&a), y = dd_rng_uniform(&b);
    sx += x;
    sy += y;
    sxy += x * y;
    sxx += x * x;
    syy += y * y;
  }
  double cov = sxy / n - sx / n * sy / n;
  double rho = cov / sqrt((sxx / n - sx * sx / n / n) * (syy / n - sy * sy / n / n));
  assert_true(fabs(rho) < 5.0 / sqrt(n));
}

/* Normal: moments up to the fourth and tail fractions. */
static void test_normal(void **state) {
  (void)state;
  const int n = 1000000;
  double s = 0, s2 = 0, s3 = 0, s4 = 0;
  long tail2 = 0;
  dd_rng r = dd_rng_for(99, DD_STREAM_TEST, 0, 0, 0);
  for (int i = 0; i < n; i++) {
    double x = dd_rng_normal(&r);
    s += x;
    s2 += x * x;
    s3 += x * x * x;
    s4 += x * x * x * x;
    tail2 += fabs(x) > 2.0;
  }
  assert_near("normal mean", s / n, 0.0, 5 / sqrt(n), 0);
  assert_near("normal variance", s2 / n, 1.0, 5 * sqrt(2.0 / n), 0);
  assert_near("normal skewness", s3 / n, 0.0, 5 * sqrt(15.0 / n), 0);
  assert_near("normal kurtosis", s4 / n, 3.0, 5 * sqrt(96.0 / n), 0);
  double p2 = 0.04550026389635841; /* P(|x| > 2) */
  assert_near("normal P(|x|>2)", (double)tail2 / n, p2, 5 * sqrt(p2 * (1 - p2) / n), 0);
}

static void test_exponential(void **state) {
  (void)state;
  const int n = 1000000;
  double s = 0, s2 = 0;
  long over = 0;
  dd_rng r = dd_rng_for(5, DD_STREAM_TEST, 0, 0, 0);
  for (int i = 0; i < n; i++) {
    double x = dd_rng_exponential(&r, 2.5);
    assert_true(x > 0);
    s += x;
    s2 += x * x;
    over += x > 5.0;
  }
  assert_near("exponential mean", s / n, 2.5, 5 * 2.5 / sqrt(n), 0);
  assert_near("exponential variance", s2 / n - (s / n) * (s / n), 6.25, 5 * 6.25 * sqrt(8.0 / n),
              0);
  double p = exp(-2.0);
  assert_near("exponential P(x>2 mean)", (double)over / n, p, 5 * sqrt(p * (1 - p) / n), 0);
}

/* Chi-square of sampled counts against a pmf, pooling the tails into bins
 * with at least 20 expected; returns (chi2, dof). */
static void pmf_chi2(const long *counts, const double *pmf, int kmax, long n, double *chi2,
                     int *dof) {
  double c2 = 0, acc_e = 0, acc_o = 0;
  int bins = 0;
  for (int k = 0; k <= kmax; k++) {
    acc_e += pmf[k] * (double)n;
    acc_o += (double)counts[k];
    if (acc_e >= 20 || k == kmax) {
      c2 += (acc_o - acc_e) * (acc_o - acc_e) / acc_e;
      bins++;
      acc_e = acc_o = 0;
    }
  }
  *chi2 = c2;
  *dof = bins - 1;
}

/* Upper 1e-4 quantile of chi-square with dof degrees (Wilson-Hilferty). */
static double chi2_crit(int dof) {
  double z = 3.719, k = dof; /* Phi^-1(1 - 1e-4) */
  double t = 1 - 2 / (9 * k) + z * sqrt(2 / (9 * k));
  return k * t * t * t;
}

/* The sampler tables are read-only and the same for every test. */
static dd_sampler g_smp;

static void check_poisson(double lambda, uint32_t seed) {
  const long n = 400000;
  int kmax = (int)(lambda + 12 * sqrt(lambda) + 30);
  long *counts = calloc((size_t)kmax + 1, sizeof *counts);
  double *pmf = calloc((size_t)kmax + 1, sizeof *pmf);
  assert_non_null(counts);
  assert_non_null(pmf);
  /* the exact pmf, independent of the sampler's tables and recursions */
  for (int k = 0; k <= kmax; k++) pmf[k] = exp(k * log(lambda) - lambda - lgamma(k + 1.0));
  dd_rng r = dd_rng_for(seed, DD_STREAM_TEST, 0, 0, 0);
  double s = 0;
  for (long i = 0; i < n; i++) {
    uint64_t k = dd_sample_poisson(&g_smp, &r, lambda);
    s += (double)k;
    counts[k > (uint64_t)kmax ? (uint64_t)kmax : k]++;
  }
  double chi2;
  int dof;
  pmf_chi2(counts, pmf, kmax, n, &chi2, &dof);
  char what[64];
  snprintf(what, sizeof what, "poisson(%g) mean", lambda);
  assert_near(what, s / n, lambda, 5 * sqrt(lambda / n), 0);
  if (chi2 > chi2_crit(dof))
    fail_msg("poisson(%g): chi2 %.1f for %d dof exceeds %.1f", lambda, chi2, dof, chi2_crit(dof));
  free(counts);
  free(pmf);
}

/* every branch of dd_sample_poisson and its seams */
static void test_poisson(void **state) {
  (void)state;
  dd_rng r = dd_rng_for(1, DD_STREAM_TEST, 0, 0, 0);
  assert_int_equal(dd_sample_poisson(&g_smp, &r, 0.0), 0);
  assert_int_equal(dd_sample_poisson(&g_smp, &r, -1.0), 0);
  check_poisson(0.3, 1);    /* unit-rate arrivals */
  check_poisson(2.99, 2);   /* last arrivals value */
  check_poisson(3.0, 3);    /* first inversion value */
  check_poisson(7.0, 4);    /* inversion */
  check_poisson(9.99, 5);   /* last inversion value */
  check_poisson(10.0, 6);   /* first PTRS value */
  check_poisson(47.5, 7);   /* PTRS */
  check_poisson(2500.0, 8); /* PTRS, log k! from the table */
  check_poisson(2e4, 9);    /* PTRS, log k! from Stirling's series */
}

static void check_binomial(uint64_t nt, double p, uint32_t seed) {
  const long n = 300000;
  int kmax = (int)nt;
  long *counts = calloc((size_t)kmax + 1, sizeof *counts);
  double *pmf = calloc((size_t)kmax + 1, sizeof *pmf);
  assert_non_null(counts);
  assert_non_null(pmf);
  double nd = (double)nt;
  for (int k = 0; k <= kmax; k++)
    pmf[k] = exp(lgamma(nd + 1) - lgamma(k + 1.0) - lgamma(nd - k + 1) + k * log(p) +
                 (nd - k) * log1p(-p));
  dd_rng r = dd_rng_for(seed, DD_STREAM_TEST, 0, 0, 0);
  double s = 0;
  for (long i = 0; i < n; i++) {
    uint64_t k = dd_sample_binomial(&g_smp, &r, nt, p);
    assert_true(k <= nt);
    s += (double)k;
    counts[k]++;
  }
  double chi2;
  int dof;
  pmf_chi2(counts, pmf, kmax, n, &chi2, &dof);
  char what[64];
  snprintf(what, sizeof what, "binomial(%llu, %g) mean", (unsigned long long)nt, p);
  assert_near(what, s / n, nd * p, 5 * sqrt(nd * p * (1 - p) / n), 0);
  if (chi2 > chi2_crit(dof))
    fail_msg("binomial(%llu, %g): chi2 %.1f for %d dof exceeds %.1f", (unsigned long long)nt, p,
             chi2, dof, chi2_crit(dof));
  free(counts);
  free(pmf);
}

/* every branch of dd_sample_binomial */
static void test_binomial(void **state) {
  (void)state;
  dd_rng r = dd_rng_for(1, DD_STREAM_TEST, 0, 0, 0);
  assert_int_equal(dd_sample_binomial(&g_smp, &r, 0, 0.5), 0);
  assert_int_equal(dd_sample_binomial(&g_smp, &r, 10, 0.0), 0);
  assert_int_equal(dd_sample_binomial(&g_smp, &r, 10, 1.0), 10);
  check_binomial(20, 0.1, 11);     /* inversion */
  check_binomial(30, 0.9, 12);     /* inversion after flip */
  check_binomial(99, 0.1, 13);     /* last inversion n p */
  check_binomial(100, 0.3, 14);    /* BTRS */
  check_binomial(5000, 0.125, 15); /* BTRS, p = 1/8: log(p/q) from the table */
  check_binomial(4000, 0.97, 16);  /* BTRS after flip: electron survival */
  check_binomial(200, 0.75, 17);   /* BTRS after flip to p = 1/4 (table) */
  check_binomial(20000, 0.45, 18); /* BTRS, log k! from Stirling's series */
}

/* ziggurat normal and exponential: moments and the tails beyond the base
 * layer (exact values: Phibar(3.5) = 2.326e-4, P(E > 8) = e^-8) */
static void test_ziggurat(void **state) {
  (void)state;
  dd_rng r = dd_rng_for(11, DD_STREAM_TEST, 1, 0, 0);
  enum { N = 400000 };
  double s = 0, s2 = 0, tail = 0, e1 = 0, e2 = 0, etail = 0;
  for (int i = 0; i < N; i++) {
    double x = dd_sample_normal(&g_smp, &r), y = dd_sample_exponential(&g_smp, &r, 2.0);
    s += x;
    s2 += x * x;
    tail += x > 3.5;
    e1 += y;
    e2 += y * y;
    etail += y > 16.0;
  }
  assert_near("normal mean", s / N, 0.0, 0.008, 0);
  assert_near("normal var", s2 / N, 1.0, 0.008, 0);
  assert_near("normal tail P(>3.5)", tail / N, 2.326e-4, 1e-4, 0);
  assert_near("exponential mean", e1 / N, 2.0, 0.015, 0);
  assert_near("exponential var", e2 / N - (e1 / N) * (e1 / N), 4.0, 0.15, 0);
  assert_near("exponential tail P(>8 means)", etail / N, exp(-8.0), 1.2e-4, 0);
  /* log k!: the table and Stirling's series against lgamma at the seam */
  assert_near("log 1023!", dd_sample_logfact(&g_smp, 1023), lgamma(1024.0), 1e-9, 0);
  assert_near("log 8191!", dd_sample_logfact(&g_smp, 8191), lgamma(8192.0), 1e-9, 0);
  assert_near("log 8192!", dd_sample_logfact(&g_smp, 8192), lgamma(8193.0), 1e-9, 0);
  assert_near("log 50000!", dd_sample_logfact(&g_smp, 50000), lgamma(50001.0), 1e-8, 0);
}

/* dd_rng_next32 (inline) walks the out-of-line block function word by word */
static void test_next32_blocks(void **state) {
  (void)state;
  dd_rng r = dd_rng_for(1, DD_STREAM_TEST, 3, 0, 0);
  for (int i = 0; i < 2000; i++) {
    dd_rng a = dd_rng_for(dd_rng_u32(&r), DD_STREAM_TEST, dd_rng_u32(&r), dd_rng_u32(&r), 7);
    uint32_t ctr[4] = {a.ctr[0], a.ctr[1], a.ctr[2], 0}, out[4];
    for (int blk = 0; blk < 3; blk++) {
      ctr[3] = (uint32_t)blk;
      dd_philox4x32_10(ctr, a.key, out);
      for (int k = 0; k < 4; k++) assert_true(dd_rng_next32(&a) == out[k]);
    }
  }
}

static void test_below(void **state) {
  (void)state;
  long counts[7] = {0};
  dd_rng r = dd_rng_for(3, DD_STREAM_TEST, 0, 0, 0);
  for (int i = 0; i < 70000; i++) counts[dd_rng_below(&r, 7)]++;
  for (int k = 0; k < 7; k++) assert_true(labs(counts[k] - 10000) < 500);
}

static dd_status inner(void) {
  return DD_FAIL(DD_ERR_IO, "cannot open '%s'", "x.h5");
}
static dd_status middle(void) {
  DD_TRY(inner(), "writing results");
  return DD_OK;
}
static void test_error_chain(void **state) {
  (void)state;
  dd_error_clear();
  assert_int_equal(dd_error_status(), DD_OK);
  assert_int_equal(middle(), DD_ERR_IO);
  assert_int_equal(dd_error_status(), DD_ERR_IO);
  assert_string_equal(dd_error_message(), "cannot open 'x.h5'");
  assert_error_contains("DD_ERR_IO tests/test_core.c:");
  assert_error_contains("inner: cannot open 'x.h5' <- writing results");
  dd_error_clear();
  assert_string_equal(dd_error_chain(), "");
}

static void test_hash(void **state) {
  (void)state;
  /* FNV-1a 64 of "a" (without our NUL) is 0xaf63dc4c8601ec8c. */
  assert_true(dd_hash_bytes(DD_HASH_INIT, "a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
  assert_true(dd_hash_str(dd_hash_str(DD_HASH_INIT, "ab"), "c") !=
              dd_hash_str(dd_hash_str(DD_HASH_INIT, "a"), "bc"));
}

static void test_files(void **state) {
  (void)state;
  char dir[600], path[700];
  snprintf(dir, sizeof dir, "%s/a/b", test_tmpdir());
  assert_int_equal(dd_mkdir_p(dir), DD_OK);
  assert_int_equal(dd_mkdir_p(dir), DD_OK);
  snprintf(path, sizeof path, "%s/f.txt", dir);
  assert_int_equal(dd_write_file_atomic(path, "hello", 5), DD_OK);
  char tmp[720];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  assert_false(dd_path_exists(tmp));
  char *text = NULL;
  size_t n = 0;
  assert_int_equal(dd_read_file(path, &text, &n), DD_OK);
  assert_int_equal(n, 5);
  assert_string_equal(text, "hello");
  free(text);
  assert_int_equal(dd_read_file("/nonexistent/ddscan", &text, &n), DD_ERR_IO);
  assert_error_contains("/nonexistent/ddscan");
  dd_error_clear();
}

static void test_provenance(void **state) {
  (void)state;
  dd_provenance p;
  dd_provenance_get(&p);
  assert_non_null(p.version);
  assert_non_null(p.blas_corename);
  assert_true(strlen(p.blas_corename) > 0);
  assert_non_null(strstr(dd_version_string(), "ddscan"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_philox_kat),
      cmocka_unit_test(test_rng_layout),
      cmocka_unit_test(test_rng_pure_function),
      cmocka_unit_test(test_uniform),
      cmocka_unit_test(test_stream_correlation),
      cmocka_unit_test(test_normal),
      cmocka_unit_test(test_exponential),
      cmocka_unit_test(test_poisson),
      cmocka_unit_test(test_binomial),
      cmocka_unit_test(test_ziggurat),
      cmocka_unit_test(test_next32_blocks),
      cmocka_unit_test(test_below),
      cmocka_unit_test(test_error_chain),
      cmocka_unit_test(test_hash),
      cmocka_unit_test(test_files),
      cmocka_unit_test(test_provenance),
  };
  dd_sampler_init(&g_smp);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
