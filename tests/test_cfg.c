/* test_cfg.c - the configuration wrapper: typed getters and their errors,
 * defaults written back, --set overrides, grids, unknown keys with file:line,
 * every file in tests/data/cfg_bad/ against its "# expect:" line, and
 * configs/example.cfg documenting every key the code reads. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/stage.h"
#include "ddscan/cfg.h"
#include "ddscan/core.h"

static const char *root_dir(void) {
  const char *r = getenv("DDSCAN_ROOT");
  return r && *r ? r : ".";
}

static cfg_doc *parse_ok(const char *text) {
  cfg_doc *d = NULL;
  dd_error_clear();
  if (cfg_parse(&d, text, "t.cfg") != DD_OK) fail_msg("parse failed: %s", dd_error_chain());
  return d;
}

static void test_getters(void **state) {
  (void)state;
  cfg_doc *d = parse_ok(
      "a = {\n  x = 2.5;\n  i = 3;\n  big = 10000000000L;\n  s = \"hi\";\n  b = true;\n};\n");
  double x;
  long long i;
  int b;
  char s[16];
  assert_int_equal(cfg_get_double(d, "a.x", 0, &x), DD_OK);
  assert_true(x == 2.5);
  assert_int_equal(cfg_get_double(d, "a.i", 0, &x), DD_OK); /* int where float: fine */
  assert_true(x == 3.0);
  assert_int_equal(cfg_get_int(d, "a.big", 0, &i), DD_OK);
  assert_true(i == 10000000000LL);
  assert_int_equal(cfg_get_string(d, "a.s", "", s, sizeof s), DD_OK);
  assert_string_equal(s, "hi");
  assert_int_equal(cfg_get_bool(d, "a.b", 0, &b), DD_OK);
  assert_true(b);
  /* float where int: never */
  assert_int_equal(cfg_get_int(d, "a.x", 0, &i), DD_ERR_CONFIG);
  assert_error_contains("t.cfg:2: a.x: expected an integer, got a float (2.5)");
  assert_int_equal(cfg_get_double(d, "a.s", 0, &x), DD_ERR_CONFIG);
  assert_error_contains("t.cfg:5: a.s: expected a number, got a string");
  assert_int_equal(cfg_get_bool(d, "a.i", 0, &b), DD_ERR_CONFIG);
  assert_error_contains("a.i: expected true or false");
  assert_int_equal(cfg_get_string(d, "a.s", "", s, 2), DD_ERR_CONFIG);
  assert_error_contains("longer than 1");
  /* required keys */
  assert_int_equal(cfg_need_double(d, "a.missing", &x), DD_ERR_CONFIG);
  assert_error_contains("t.cfg:1: a.missing: missing required key");
  assert_int_equal(cfg_need_int(d, "a.i", &i), DD_OK);
  assert_int_equal(i, 3);
  cfg_free(d);
}

/* libconfig 1.5 would wrap integers without `L` to 32 bits (4294967297 -> 1):
 * the wrapper reads every literal as written, or refuses it with its key. */
static void test_int64_literals(void **state) {
  (void)state;
  cfg_doc *d = parse_ok(
      "a = {\n  max = 4294967295;\n  wrap = 4294967297;\n  neg = -2147483649;\n"
      "  hex = 0xFFFFFFFF;\n  small = 7;\n  s = \"4294967297\"; # 4294967297\n"
      "  arr = [1, 4294967297, 3];\n  f = 4294967297.0;\n  /* 99999999999999999999 */\n"
      "  l = ( 1, 8589934592 );\n};\n");
  long long v;
  assert_int_equal(cfg_get_int_range(d, "a.max", 0, 0, 4294967295LL, &v), DD_OK);
  assert_true(v == 4294967295LL);
  assert_int_equal(cfg_get_int(d, "a.wrap", 0, &v), DD_OK);
  assert_true(v == 4294967297LL);
  assert_int_equal(cfg_get_int_range(d, "a.wrap", 0, 0, 4294967295LL, &v), DD_ERR_CONFIG);
  assert_error_contains("t.cfg:3: a.wrap: must be in [0, 4294967295], got 4294967297");
  assert_int_equal(cfg_get_int(d, "a.neg", 0, &v), DD_OK);
  assert_true(v == -2147483649LL);
  assert_int_equal(cfg_get_int(d, "a.hex", 0, &v), DD_OK);
  assert_true(v == 4294967295LL);
  assert_int_equal(cfg_get_int_range(d, "a.small", 0, 0, 10, &v), DD_OK);
  assert_int_equal(v, 7);
  char s[32];
  assert_int_equal(cfg_get_string(d, "a.s", "", s, sizeof s), DD_OK);
  assert_string_equal(s, "4294967297");
  double arr[4];
  int n;
  assert_int_equal(cfg_get_double_list(d, "a.arr", NULL, 0, arr, 4, &n), DD_OK);
  assert_int_equal(n, 3);
  assert_true(arr[0] == 1.0 && arr[1] == 4294967297.0 && arr[2] == 3.0);
  double f;
  assert_int_equal(cfg_get_double(d, "a.f", 0, &f), DD_OK);
  assert_true(f == 4294967297.0);
  assert_int_equal(cfg_get_int(d, "a.l.[1]", 0, &v), DD_OK);
  assert_true(v == 8589934592LL);
  /* the missing default must itself lie in the range */
  assert_int_equal(cfg_get_int_range(d, "a.nodef", 11, 0, 10, &v), DD_ERR_INTERNAL);
  assert_int_equal(cfg_need_int_range(d, "a.absent", 0, 10, &v), DD_ERR_CONFIG);
  assert_error_contains("a.absent: missing required key");
  /* --set goes through the same promotion */
  assert_int_equal(cfg_set_override(d, "a.small=4294967297"), DD_OK);
  assert_int_equal(cfg_get_int(d, "a.small", 0, &v), DD_OK);
  assert_true(v == 4294967297LL);
  assert_int_equal(cfg_set_override(d, "a.small=99999999999999999999"), DD_ERR_CONFIG);
  assert_error_contains("does not fit in 64 bits");
  cfg_free(d);

  cfg_doc *bad = NULL;
  dd_error_clear();
  assert_int_equal(cfg_parse(&bad, "a = {\n  x = 1;\n  big = 99999999999999999999;\n};\n", "t.cfg"),
                   DD_ERR_CONFIG);
  assert_null(bad);
  assert_error_contains("t.cfg:3: a.big: integer does not fit in 64 bits");
  assert_int_equal(cfg_parse(&bad, "a = [1,\n 99999999999999999999];\n", "t.cfg"), DD_ERR_CONFIG);
  assert_error_contains("t.cfg:2: a: integer does not fit in 64 bits");
  /* a NUL byte is refused with its line (libconfig would drop the rest) */
  const char nul[] = "a = 1;\nb = 2;\0c = 3;\n";
  assert_int_equal(cfg_parse_n(&bad, nul, sizeof nul - 1, "t.cfg"), DD_ERR_CONFIG);
  assert_error_contains("t.cfg:2: the file contains a NUL byte");
  assert_int_equal(cfg_parse_n(&bad, nul, 6, "t.cfg"), DD_OK);
  cfg_free(bad);
  /* bytes that do not end in a NUL (libFuzzer: heap overflow in the
   * @include scan, tests/fuzz/): exactly len bytes are read, under ASan */
  char *raw = malloc(7);
  assert_non_null(raw);
  memcpy(raw, "a = 1;\n", 7);
  bad = NULL;
  assert_int_equal(cfg_parse_n(&bad, raw, 7, "t.cfg"), DD_OK);
  cfg_free(bad);
  bad = NULL;
  assert_int_equal(cfg_parse_n(&bad, raw, 0, "t.cfg"), DD_OK); /* empty: every default */
  cfg_free(bad);
  free(raw);
}

static void test_defaults_resolved(void **state) {
  (void)state;
  cfg_doc *d = parse_ok("a = { x = 1.0; };\n");
  double y;
  long long n;
  char s[32];
  assert_int_equal(cfg_get_double(d, "a.y", 0.25, &y), DD_OK);
  assert_true(y == 0.25);
  assert_int_equal(cfg_get_int(d, "b.c.n", 7, &n), DD_OK);
  assert_int_equal(n, 7);
  assert_int_equal(cfg_get_string(d, "b.name", "zz", s, sizeof s), DD_OK);
  int count = 0;
  const char *keys = cfg_defaulted_keys(d, &count);
  assert_int_equal(count, 3);
  assert_non_null(strstr(keys, "a.y\n"));
  assert_non_null(strstr(keys, "b.c.n\n"));
  double x;
  assert_int_equal(cfg_get_double(d, "a.x", 0, &x), DD_OK);
  assert_int_equal(cfg_check_unused(d), DD_OK);
  char *text = NULL;
  assert_int_equal(cfg_resolved_text(d, &text), DD_OK);
  assert_non_null(strstr(text, "y = 0.25"));
  assert_non_null(strstr(text, "n = 7"));
  assert_non_null(strstr(text, "name = \"zz\""));
  /* The resolved text parses again to the same values and hash. */
  cfg_doc *d2 = parse_ok(text);
  const char *paths[] = {"a", "b"};
  assert_true(cfg_hash(d, paths, 2) == cfg_hash(d2, paths, 2));
  assert_int_equal(cfg_get_double(d2, "a.y", 9, &y), DD_OK);
  assert_true(y == 0.25);
  free(text);
  cfg_free(d2);
  cfg_free(d);
}

static void test_overrides(void **state) {
  (void)state;
  cfg_doc *d = parse_ok("a = { x = 1.0; s = \"q\"; };\n");
  assert_int_equal(cfg_set_override(d, "a.x=2"), DD_OK);
  assert_int_equal(cfg_set_override(d, "a.s=\"w\""), DD_OK);
  assert_int_equal(cfg_set_override(d, "c.list=[1.0, 2.0, 4.0]"), DD_OK);
  double x, v[8];
  int n;
  char s[8];
  assert_int_equal(cfg_get_double(d, "a.x", 0, &x), DD_OK);
  assert_true(x == 2.0);
  assert_int_equal(cfg_get_string(d, "a.s", "", s, sizeof s), DD_OK);
  assert_string_equal(s, "w");
  assert_int_equal(cfg_get_double_list(d, "c.list", NULL, 0, v, 8, &n), DD_OK);
  assert_int_equal(n, 3);
  assert_true(v[2] == 4.0);
  /* errors name the override */
  assert_int_equal(cfg_set_override(d, "a.y=\"str\""), DD_OK);
  assert_int_equal(cfg_get_double(d, "a.y", 0, &x), DD_ERR_CONFIG);
  assert_error_contains("--set a.y=\"str\": a.y: expected a number");
  cfg_mark_used(d, "a.y");
  assert_int_equal(cfg_set_override(d, "a.z=1"), DD_OK);
  assert_int_equal(cfg_check_unused(d), DD_ERR_CONFIG);
  assert_error_contains("--set a.z=1: a.z: unknown key");
  assert_int_equal(cfg_set_override(d, "noequals"), DD_ERR_CONFIG);
  assert_error_contains("expected key=value");
  assert_int_equal(cfg_set_override(d, "a.x=[1,"), DD_ERR_CONFIG);
  assert_error_contains("cannot parse value");
  assert_int_equal(cfg_set_override(d, "a.x.deeper=1"), DD_ERR_CONFIG);
  assert_error_contains("is not a group");
  cfg_free(d);
}

static void test_grids(void **state) {
  (void)state;
  cfg_doc *d = parse_ok(
      "g = {\n"
      "  arr = [10, 50, 500];\n"
      "  lin = { from = 100.0; to = 250.0; points = 16; };\n"
      "  lg = { log_from = 1e-49; log_to = 1e-44; points = 6; };\n"
      "  one = 5.5;\n"
      "  empty = [];\n"
      "  bad = { from = 1.0; to = 2.0; };\n"
      "  badlog = { log_from = -1.0; log_to = 2.0; points = 3; };\n"
      "  extra = { from = 1.0; to = 2.0; points = 2; step = 1.0; };\n"
      "  mixed = ( 1.0, \"x\" );\n"
      "  strs = [\"paper\", \"sound\"];\n"
      "};\n");
  double v[32];
  int n;
  assert_int_equal(cfg_get_double_list(d, "g.arr", NULL, 0, v, 32, &n), DD_OK);
  assert_int_equal(n, 3);
  assert_true(v[0] == 10.0 && v[2] == 500.0);
  assert_int_equal(cfg_get_double_list(d, "g.lin", NULL, 0, v, 32, &n), DD_OK);
  assert_int_equal(n, 16);
  assert_true(v[0] == 100.0 && v[15] == 250.0);
  assert_near("lin step", v[1], 110.0, 1e-12, 0);
  assert_int_equal(cfg_get_double_list(d, "g.lg", NULL, 0, v, 32, &n), DD_OK);
  assert_int_equal(n, 6);
  assert_true(v[0] == 1e-49 && v[5] == 1e-44);
  assert_near("log step", v[1], 1e-48, 0, 1e-12);
  assert_int_equal(cfg_get_double_list(d, "g.one", NULL, 0, v, 32, &n), DD_OK);
  assert_int_equal(n, 1);
  assert_int_equal(cfg_get_double_list(d, "g.empty", NULL, 0, v, 32, &n), DD_ERR_CONFIG);
  assert_error_contains("t.cfg:6: g.empty: empty list");
  assert_int_equal(cfg_get_double_list(d, "g.bad", NULL, 0, v, 32, &n), DD_ERR_CONFIG);
  assert_error_contains("g.bad: a range needs");
  assert_int_equal(cfg_get_double_list(d, "g.badlog", NULL, 0, v, 32, &n), DD_ERR_CONFIG);
  assert_error_contains("must be > 0");
  assert_int_equal(cfg_get_double_list(d, "g.extra", NULL, 0, v, 32, &n), DD_ERR_CONFIG);
  assert_error_contains("g.extra.step: unknown key in a range");
  assert_int_equal(cfg_get_double_list(d, "g.mixed", NULL, 0, v, 32, &n), DD_ERR_CONFIG);
  assert_error_contains("element 1: expected a number");
  assert_int_equal(cfg_get_double_list(d, "g.lin", NULL, 0, v, 4, &n), DD_ERR_CONFIG);
  assert_error_contains("16 points, at most 4");
  assert_int_equal(cfg_get_double_list(d, "g.nothere", NULL, 0, v, 4, &n), DD_ERR_CONFIG);
  assert_error_contains("missing required key");
  const double def[2] = {1.0, 2.0};
  assert_int_equal(cfg_get_double_list(d, "g.defaulted", def, 2, v, 4, &n), DD_OK);
  assert_int_equal(n, 2);
  char strs[4][16];
  assert_int_equal(cfg_get_string_list(d, "g.strs", NULL, 0, &strs[0][0], 16, 4, &n), DD_OK);
  assert_int_equal(n, 2);
  assert_string_equal(strs[1], "sound");
  cfg_free(d);
}

static void test_choice(void **state) {
  (void)state;
  cfg_doc *d = parse_ok("m = \"sound\";\nbad = \"sonud\";\n");
  const char *choices[] = {"paper", "sound", "toys"};
  int idx = -1;
  assert_int_equal(cfg_get_choice(d, "m", "paper", choices, 3, &idx), DD_OK);
  assert_int_equal(idx, 1);
  assert_int_equal(cfg_get_choice(d, "bad", "paper", choices, 3, &idx), DD_ERR_CONFIG);
  assert_error_contains("t.cfg:2: bad: \"sonud\" is not one of \"paper\", \"sound\", \"toys\"");
  cfg_free(d);
}

static void test_cfg_error_fn(void **state) {
  (void)state;
  cfg_doc *d = parse_ok("\ndetector = {\n  g1 = 1.5;\n};\n");
  assert_int_equal(cfg_error(d, "detector.g1", "must be in (0, 1], got %g", 1.5), DD_ERR_CONFIG);
  assert_error_contains("t.cfg:3: detector.g1: must be in (0, 1], got 1.5");
  /* a missing key is located at its closest existing parent */
  assert_int_equal(cfg_error(d, "detector.g2", "x"), DD_ERR_CONFIG);
  assert_error_contains("t.cfg:2: detector.g2: x");
  cfg_free(d);
}

/* Every tests/data/cfg_bad/NAME.cfg starts with "# expect: TEXT"; loading it
 * the way every command does must fail with a message containing TEXT. */
static void test_bad_files(void **state) {
  (void)state;
  char dirpath[1024];
  snprintf(dirpath, sizeof dirpath, "%s/tests/data/cfg_bad", root_dir());
  DIR *dir = opendir(dirpath);
  assert_non_null(dir);
  int checked = 0, mismatches = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".cfg") != 0) continue;
    char path[1400], *text = NULL;
    size_t text_len = 0;
    snprintf(path, sizeof path, "%s/%s", dirpath, e->d_name);
    assert_int_equal(dd_read_file(path, &text, &text_len), DD_OK);
    const char *ex = strstr(text, "# expect: ");
    if (!ex) fail_msg("%s has no '# expect:' line", path);
    char expect[512];
    size_t n = strcspn(ex + 10, "\n");
    memcpy(expect, ex + 10, n);
    expect[n] = '\0';
    dd_error_clear();
    cfg_doc *d = NULL;
    dd_status st = cfg_parse_n(&d, text, text_len, e->d_name);
    if (st == DD_OK) {
      stage_params p;
      st = stage_params_load(d, &p);
    }
    if (st == DD_OK && strstr(expect, "needs an estimated")) {
      /* the resource estimate against this node (tests/e2e/cfg_corpus.sh) */
      cfg_free(d);
      free(text);
      continue;
    }
    if (st == DD_OK) fail_msg("%s: loaded without error, expected '%s'", e->d_name, expect);
    if (!strstr(dd_error_chain(), expect)) {
      fprintf(stderr, "MISMATCH %s\n  want: %s\n  got:  %s\n", e->d_name, expect, dd_error_chain());
      mismatches++;
    }
    cfg_free(d);
    free(text);
    checked++;
  }
  closedir(dir);
  if (mismatches) fail_msg("%d of %d files gave another message", mismatches, checked);
  assert_true(checked >= 100);
}

/* configs/example.cfg documents every key: loading it consumes every key it
 * holds (no unknown keys) and fills in no default (nothing undocumented). */
static void test_example_documents_every_key(void **state) {
  (void)state;
  char path[1024], *text = NULL;
  snprintf(path, sizeof path, "%s/configs/example.cfg", root_dir());
  assert_int_equal(dd_read_file(path, &text, NULL), DD_OK);
  cfg_doc *d = NULL;
  dd_error_clear();
  assert_int_equal(cfg_parse(&d, text, "example.cfg"), DD_OK);
  stage_params p;
  if (stage_params_load(d, &p) != DD_OK) fail_msg("example.cfg: %s", dd_error_chain());
  int count = 0;
  const char *keys = cfg_defaulted_keys(d, &count);
  if (count != 0) fail_msg("keys read by the code but not documented in example.cfg:\n%s", keys);
  cfg_free(d);
  free(text);
}

/* Group `score` belongs to the score stage: defaults, values, a bad batch. */
static void test_score_params(void **state) {
  (void)state;
  static const char *const texts[4] = {"", "score = { noise = \"mean\"; batch_size = 9; };\n",
                                       "score = {\n batch_size = 0;\n};\n",
                                       "score = { noise = \"random\"; };\n"};
  for (int i = 0; i < 4; i++) {
    cfg_doc *d = NULL;
    dd_error_clear();
    assert_int_equal(cfg_parse(&d, texts[i], "s.cfg"), DD_OK);
    stage_params *p = calloc(1, sizeof *p);
    assert_non_null(p);
    dd_status st = stage_params_load(d, p);
    if (i == 0) {
      assert_int_equal(st, DD_OK);
      assert_int_equal(p->score.noise, STAGE_SCORE_SAMPLE);
      assert_int_equal(p->score.batch_size, 100);
    } else if (i == 1) {
      assert_int_equal(st, DD_OK);
      assert_int_equal(p->score.noise, STAGE_SCORE_MEAN);
      assert_int_equal(p->score.batch_size, 9);
    } else {
      assert_int_equal(st, DD_ERR_CONFIG);
      assert_non_null(strstr(dd_error_chain(), i == 2 ? "s.cfg:2: score.batch_size: must be in [1,"
                                                      : "s.cfg:1: score.noise"));
    }
    free(p);
    cfg_free(d);
  }
}

/* Every shipped configuration loads. */
static void test_shipped_configs(void **state) {
  (void)state;
  char dirpath[1024];
  snprintf(dirpath, sizeof dirpath, "%s/configs", root_dir());
  DIR *dir = opendir(dirpath);
  assert_non_null(dir);
  struct dirent *e;
  int n = 0;
  while ((e = readdir(dir)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".cfg") != 0) continue;
    char path[1400], *text = NULL;
    snprintf(path, sizeof path, "%s/%s", dirpath, e->d_name);
    assert_int_equal(dd_read_file(path, &text, NULL), DD_OK);
    cfg_doc *d = NULL;
    dd_error_clear();
    stage_params p;
    if (cfg_parse(&d, text, e->d_name) != DD_OK || stage_params_load(d, &p) != DD_OK)
      fail_msg("%s: %s", e->d_name, dd_error_chain());
    cfg_free(d);
    free(text);
    n++;
  }
  closedir(dir);
  assert_true(n >= 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_score_params),    cmocka_unit_test(test_getters),
      cmocka_unit_test(test_int64_literals),  cmocka_unit_test(test_defaults_resolved),
      cmocka_unit_test(test_overrides),       cmocka_unit_test(test_grids),
      cmocka_unit_test(test_choice),          cmocka_unit_test(test_cfg_error_fn),
      cmocka_unit_test(test_bad_files),       cmocka_unit_test(test_example_documents_every_key),
      cmocka_unit_test(test_shipped_configs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
