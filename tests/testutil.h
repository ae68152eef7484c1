/* testutil.h - helpers shared by the cmocka test programs. */
#ifndef DDSCAN_TESTUTIL_H
#define DDSCAN_TESTUTIL_H

#include <setjmp.h> /* cmocka needs these three before cmocka.h */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Fails the current test, printing the first few differing elements and the
 * max absolute/relative difference, when |got - ref| > atol + rtol*|ref| for
 * any element.  name labels the output. */
void assert_array_near_impl(const char *name, const double *got, const double *ref, size_t n,
                            double atol, double rtol, const char *file, int line);
#define assert_array_near(name, got, ref, n, atol, rtol) \
  assert_array_near_impl((name), (got), (ref), (n), (atol), (rtol), __FILE__, __LINE__)

/* float version */
void assert_farray_near_impl(const char *name, const float *got, const float *ref, size_t n,
                             double atol, double rtol, const char *file, int line);
#define assert_farray_near(name, got, ref, n, atol, rtol) \
  assert_farray_near_impl((name), (got), (ref), (n), (atol), (rtol), __FILE__, __LINE__)

/* |got - ref| <= atol + rtol*|ref| with a readable message. */
void assert_near_impl(const char *what, double got, double ref, double atol, double rtol,
                      const char *file, int line);
#define assert_near(what, got, ref, atol, rtol) \
  assert_near_impl((what), (got), (ref), (atol), (rtol), __FILE__, __LINE__)

/* Asserts that the recorded error message contains `needle`. */
void assert_error_contains_impl(const char *needle, const char *file, int line);
#define assert_error_contains(needle) assert_error_contains_impl((needle), __FILE__, __LINE__)

/* Directory for scratch files of this test program (created; under
 * $TMPDIR or /tmp), e.g. "/tmp/ddscan-test_cfg-1234". */
const char *test_tmpdir(void);

#endif
