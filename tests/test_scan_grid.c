/* test_scan_grid.c - the scan grid from group `scan`: lists and ranges give
 * the expected axes, defaults fill in the paper's benchmarks, methods keep
 * their order, work units decode to (mass, R); the error cases live in
 * tests/data/cfg_bad/scan_*.cfg (checked by test_cfg). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/cfg.h"
#include "ddscan/scan.h"

static cfg_doc *parse_ok(const char *text) {
  cfg_doc *d = NULL;
  dd_error_clear();
  if (cfg_parse(&d, text, "grid.cfg") != DD_OK) fail_msg("parse failed: %s", dd_error_chain());
  return d;
}

static void test_lists_and_ranges(void **state) {
  (void)state;
  cfg_doc *d = parse_ok(
      "scan = {\n"
      "  mass_gev = [10, 50, 1000];\n"
      "  sigma_cm2 = { log_from = 1e-48; log_to = 1e-44; points = 5; };\n"
      "  exposure_ty = 5.0;\n"
      "  r = { from = 100.0; to = 250.0; points = 16; };\n"
      "  methods = [\"classical\", \"paper\"];\n"
      "  min_effective_events = 50;\n"
      "};\n");
  scan_params *p = calloc(1, sizeof *p);
  assert_non_null(p);
  if (scan_params_load(d, p) != DD_OK) fail_msg("%s", dd_error_chain());
  assert_int_equal(cfg_check_unused(d), DD_OK);
  assert_int_equal(p->n_mass, 3);
  assert_true(p->mass_gev[0] == 10.0 && p->mass_gev[2] == 1000.0);
  assert_int_equal(p->n_sigma, 5);
  for (int i = 0; i < 5; i++) assert_near("sigma", p->sigma_cm2[i], pow(10.0, -48.0 + i), 0, 1e-12);
  assert_int_equal(p->n_exposure, 1);
  assert_true(p->exposure_ty[0] == 5.0);
  assert_int_equal(p->n_r, 16);
  assert_true(p->r[0] == 100.0 && p->r[15] == 250.0);
  assert_near("r step", p->r[7], 170.0, 1e-12, 0);
  assert_int_equal(p->n_methods, 2);
  assert_true(p->min_effective_events == 50.0);
  assert_int_equal(p->methods[0], STATS_METHOD_CLASSICAL);
  assert_int_equal(p->methods[1], STATS_METHOD_PAPER);
  assert_string_equal(stats_method_name(p->methods[0]), "classical");
  /* units: (mass, R), R fastest */
  assert_int_equal(scan_n_units(p), 3 * 16);
  int im, ir;
  scan_unit_decode(p, 17, &im, &ir);
  assert_int_equal(im, 1);
  assert_int_equal(ir, 1);
  scan_unit_decode(p, 47, &im, &ir);
  assert_int_equal(im, 2);
  assert_int_equal(ir, 15);
  free(p);
  cfg_free(d);
}

static void test_defaults(void **state) {
  (void)state;
  cfg_doc *d = parse_ok("run = { seed = 1; };\n");
  cfg_mark_used(d, "run");
  scan_params *p = calloc(1, sizeof *p);
  assert_non_null(p);
  assert_int_equal(scan_params_load(d, p), DD_OK);
  assert_int_equal(p->n_mass, 4);
  assert_true(p->mass_gev[1] == 50.0);
  assert_int_equal(p->n_sigma, 41);
  assert_near("sigma lo", p->sigma_cm2[0], 1e-49, 0, 1e-12);
  assert_near("sigma hi", p->sigma_cm2[40], 1e-44, 0, 1e-12);
  assert_int_equal(p->n_exposure, 31);
  assert_near("exposure hi", p->exposure_ty[30], 100.0, 0, 1e-12);
  assert_int_equal(p->n_r, 31);
  assert_true(p->r[17] == 170.0);
  assert_int_equal(p->n_methods, 3);
  assert_int_equal(p->methods[0], STATS_METHOD_PAPER);
  assert_int_equal(p->methods[2], STATS_METHOD_CLASSICAL);
  assert_true(p->min_effective_events == 500.0);
  /* the defaults are written back into the resolved configuration */
  int count = 0;
  const char *keys = cfg_defaulted_keys(d, &count);
  assert_int_equal(count, 10); /* 6 scan keys and the 4 of group signal */
  assert_non_null(strstr(keys, "scan.sigma_cm2\n"));
  assert_non_null(strstr(keys, "signal.model\n"));
  assert_int_equal(cfg_check_unused(d), DD_OK);
  free(p);
  cfg_free(d);
}

static void test_errors_name_the_key(void **state) {
  (void)state;
  struct {
    const char *text, *want;
  } cases[] = {
      {"scan = { exposure_ty = [0.5, 0.0]; };",
       "grid.cfg:1: scan.exposure_ty: element 1 must be > 0"},
      {"scan = { sigma_cm2 = [1e-45, 1e-45]; };", "value 1e-45 appears twice (elements 0 and 1)"},
      {"scan = { r = { from = -10.0; to = 10.0; points = 3; }; };",
       "scan.r: element 0 must be >= 0"},
      {"scan = { mass_gev = [500.0, 50.0]; };", "must be in increasing order"},
      {"scan = { methods = [\"sound\", \"sound\"]; };", "\"sound\" appears twice"},
      {"scan = { methods = []; };", "scan.methods: empty list"},
      {"scan = { methods = [\"toys\", \"chi2\"]; };", "element 1: \"chi2\" is not one of"},
      {"scan = { min_effective_events = -1.0; };", "scan.min_effective_events: must be"},
      {"scan = { r = { from = 0.0; to = 1.0; points = 2000; }; };", "at most 1024"},
      {"signal = { model = \"axion\"; };", "grid.cfg:1: signal.model"},
      {"signal = { model = \"er_line\"; energy_kev = 0.0; };",
       "grid.cfg:1: signal.energy_kev: the er_line energy must be in (0, 200] keVee, got 0"},
      {"signal = { rate_ty = [10.0, 1.0]; };", "signal.rate_ty: must be in increasing order"},
      {"signal = { rate_ty = [-1.0]; };", "signal.rate_ty: element 0 must be > 0 events/(t*y)"},
      {"signal = { events = 10; };", "signal.events"},
  };
  scan_params *p = calloc(1, sizeof *p);
  assert_non_null(p);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cfg_doc *d = parse_ok(cases[i].text);
    assert_int_equal(scan_params_load(d, p), DD_ERR_CONFIG);
    if (!strstr(dd_error_chain(), cases[i].want))
      fail_msg("case %zu: expected '%s' in %s", i, cases[i].want, dd_error_chain());
    cfg_free(d);
  }
  free(p);
}

/* signal.model: the default is the WIMP on the configured grid; another
 * model runs on one mass point with the rates as its signal axis. */
static void test_signal_model(void **state) {
  (void)state;
  scan_params *p = calloc(2, sizeof *p);
  assert_non_null(p);
  cfg_doc *d = parse_ok("scan = { mass_gev = [10.0, 50.0]; };\n");
  assert_int_equal(scan_params_load(d, p), DD_OK);
  assert_int_equal(p->signal_model, SCAN_SIGNAL_WIMP);
  scan_signal_grid(&p[0], &p[1]);
  assert_int_equal(p[1].n_mass, 2);
  assert_true(p[1].sigma_cm2[0] == p[0].sigma_cm2[0]);
  cfg_free(d);
  d = parse_ok(
      "scan = { mass_gev = [10.0, 50.0]; };\n"
      "signal = { model = \"tritium\"; rate_ty = [1.0, 10.0, 100.0]; events = 500; };\n");
  if (scan_params_load(d, p) != DD_OK) fail_msg("%s", dd_error_chain());
  assert_int_equal(cfg_check_unused(d), DD_OK);
  assert_int_equal(p->signal_model, SCAN_SIGNAL_TRITIUM);
  assert_string_equal(scan_signal_name(p->signal_model), "tritium");
  assert_int_equal(p->signal_events, 500);
  scan_signal_grid(&p[0], &p[1]);
  assert_int_equal(p[1].n_mass, 1);
  assert_int_equal(p[1].n_sigma, 3);
  assert_true(p[1].sigma_cm2[2] == 100.0);
  assert_int_equal(scan_n_units(&p[1]), p[1].n_r);
  cfg_free(d);
  free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lists_and_ranges),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_errors_name_the_key),
      cmocka_unit_test(test_signal_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
