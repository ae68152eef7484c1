/* testutil.c - shared assertions for the cmocka test programs. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddscan/core.h"

static void report_and_fail(const char *name, size_t n, size_t nbad, size_t first, double maxabs,
                            double maxrel, const char *file, int line) {
  print_error(
      "%s:%d: %s: %zu of %zu elements differ (first at %zu); max abs diff %.3e, max rel "
      "diff %.3e\n",
      file, line, name, nbad, n, first, maxabs, maxrel);
  _fail(file, line);
}

#define ARRAY_NEAR_BODY                                                                     \
  size_t nbad = 0, first = 0;                                                               \
  double maxabs = 0, maxrel = 0;                                                            \
  for (size_t i = 0; i < n; i++) {                                                          \
    double g = (double)got[i], r = (double)ref[i], d = fabs(g - r);                         \
    int bad = !(d <= atol + rtol * fabs(r)) && !(isnan(g) && isnan(r)) && !(g == r);        \
    if (d > maxabs || isnan(d)) maxabs = d;                                                 \
    if (r != 0 && d / fabs(r) > maxrel) maxrel = d / fabs(r);                               \
    if (bad) {                                                                              \
      if (nbad < 5)                                                                         \
        print_error("  %s[%zu]: got %.10g expected %.10g (diff %.3e)\n", name, i, g, r, d); \
      if (nbad == 0) first = i;                                                             \
      nbad++;                                                                               \
    }                                                                                       \
  }                                                                                         \
  if (nbad) report_and_fail(name, n, nbad, first, maxabs, maxrel, file, line);

void assert_array_near_impl(const char *name, const double *got, const double *ref, size_t n,
                            double atol, double rtol, const char *file, int line) {
  ARRAY_NEAR_BODY
}

void assert_farray_near_impl(const char *name, const float *got, const float *ref, size_t n,
                             double atol, double rtol, const char *file, int line) {
  ARRAY_NEAR_BODY
}

void assert_near_impl(const char *what, double got, double ref, double atol, double rtol,
                      const char *file, int line) {
  double d = fabs(got - ref);
  if (!(d <= atol + rtol * fabs(ref))) {
    print_error("%s:%d: %s: got %.12g expected %.12g (diff %.3e, allowed %.3e)\n", file, line, what,
                got, ref, d, atol + rtol * fabs(ref));
    _fail(file, line);
  }
}

void assert_error_contains_impl(const char *needle, const char *file, int line) {
  const char *chain = dd_error_chain();
  if (!strstr(chain, needle)) {
    print_error("%s:%d: error message does not contain \"%s\"; it is: %s\n", file, line, needle,
                chain);
    _fail(file, line);
  }
}

const char *test_tmpdir(void) {
  static char dir[512];
  if (dir[0]) return dir;
  const char *base = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/ddscan-test-%ld", base && *base ? base : "/tmp", (long)getpid());
  if (dd_mkdir_p(dir) != DD_OK) {
    print_error("cannot create %s\n", dir);
    abort();
  }
  return dir;
}
