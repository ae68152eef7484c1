/* test_image.c - the event images of specs/detector_image.md §6 and the
 * invariants of §8.8: shape, range and gutters; identical bytes for the same
 * (seed, index); x10 S2 raises panel-B ch0 by 0.2 and leaves ch1 alone;
 * label blindness (the same observables render identically whatever the
 * class); ch2 identical for ER and NR at the same position; the channel
 * semantics on hand-made records; the paxlike mode; PNG files and previews. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/core.h"
#include "ddscan/detector.h"
#include "ddscan/image.h"

static det_model g_m;
static img_renderer g_r;
static float g_a[IMG_SIZE], g_b[IMG_SIZE];

#define PIX(img, c, row, col) ((img)[(c)*IMG_H * IMG_W + (row)*IMG_W + (col)])

static int setup(void **state) {
  (void)state;
  det_params p;
  det_params_preset(&p, DET_PRESET_XENT_SR0);
  img_params ip;
  img_params_default(&ip);
  if (det_model_init(&g_m, &p, 1) != DD_OK) return -1;
  return img_renderer_init(&g_r, &ip, &g_m) == DD_OK ? 0 : -1;
}

static void sample(int cls, uint64_t index, det_event *ev) {
  det_energy_flat_ctx c = {1.0, 30.0};
  assert_int_equal(det_event_sample(&g_m, cls, 42, index, det_energy_flat, &c, ev), DD_OK);
}

/* max over a panel's channel */
static float panel_max(const float *img, int c, int row0, int col0) {
  float m = 0.0f;
  for (int r = 0; r < IMG_PANEL; r++)
    for (int k = 0; k < IMG_PANEL; k++) m = fmaxf(m, PIX(img, c, row0 + r, col0 + k));
  return m;
}

static void test_shape_range_gutters(void **state) {
  (void)state;
  det_event ev;
  for (int i = 0; i < 60; i++) {
    sample(i & 1, (uint64_t)i, &ev);
    img_render(&g_r, &ev, g_a);
    for (int k = 0; k < IMG_SIZE; k++) assert_true(g_a[k] >= 0.0f && g_a[k] <= 1.0f);
    for (int c = 0; c < IMG_C; c++)
      for (int j = 0; j < IMG_W; j++) {
        assert_true(PIX(g_a, c, IMG_PANEL, j) == 0.0f); /* row 37 */
        assert_true(PIX(g_a, c, j, IMG_PANEL) == 0.0f); /* column 37 */
      }
    /* every panel carries something: both hit patterns, both waveforms */
    assert_true(panel_max(g_a, 0, 0, 0) > 0.0f);
    assert_true(panel_max(g_a, 0, 0, 38) > 0.0f);
    assert_true(panel_max(g_a, 0, 38, 0) > 0.0f);
    assert_true(panel_max(g_a, 0, 38, 38) > 0.0f);
  }
}

static void test_same_seed_same_bytes(void **state) {
  (void)state;
  det_event a, b;
  sample(DET_NR, 7, &a);
  sample(DET_NR, 7, &b);
  assert_memory_equal(&a, &b, sizeof a);
  img_render(&g_r, &a, g_a);
  img_render(&g_r, &b, g_b);
  assert_memory_equal(g_a, g_b, sizeof g_a);
  sample(DET_NR, 8, &b);
  img_render(&g_r, &b, g_b);
  assert_true(memcmp(g_a, g_b, sizeof g_a) != 0);
}

/* §8.8: x10 on every S2 PE raises panel-B ch0 by log10(10)/5 = 0.2 and
 * leaves the relative channel (ch1 of B, ch0 of D) unchanged */
static void test_s2_times_ten(void **state) {
  (void)state;
  det_event ev, big;
  int tested = 0;
  for (int i = 0; i < 40 && tested < 10; i++) {
    sample(DET_ER, 100 + (uint64_t)i, &ev);
    float amax = 0.0f;
    for (int j = 0; j < ev.n_pmt_top; j++) amax = fmaxf(amax, ev.s2_pmt_top_pe[j]);
    if (amax * 10.0f >= 1e4f) continue; /* would clip at the top of the scale */
    big = ev;
    for (int j = 0; j < ev.n_pmt_top; j++) big.s2_pmt_top_pe[j] *= 10.0f;
    for (int k = 0; k < DET_WF_COLS; k++) big.s2_wf[k] *= 10.0f;
    big.s2_pe *= 10.0;
    img_render(&g_r, &ev, g_a);
    img_render(&g_r, &big, g_b);
    /* each pixel rises by 0.2 x its covered fraction: fully covered ones
     * (and with them the panel maximum, when on one) by exactly 0.2 */
    float dmax = 0.0f;
    for (int r = 0; r < IMG_PANEL; r++)
      for (int k = 0; k < IMG_PANEL; k++) {
        float dv = PIX(g_b, 0, r, 38 + k) - PIX(g_a, 0, r, 38 + k);
        assert_true(dv >= -1e-6f && dv <= 0.2f + 2e-5f);
        dmax = fmaxf(dmax, dv);
      }
    assert_near("panel B ch0 + 0.2", dmax, 0.2, 2e-5, 0);
    for (int r = 0; r < IMG_PANEL; r++)
      for (int k = 0; k < IMG_PANEL; k++) {
        assert_near("panel B ch1 unchanged", PIX(g_b, 1, r, 38 + k), PIX(g_a, 1, r, 38 + k), 1e-6,
                    0);
        assert_near("panel D ch0 unchanged", PIX(g_b, 0, 38 + r, 38 + k),
                    PIX(g_a, 0, 38 + r, 38 + k), 1e-5, 0);
        /* panels A and C do not see the S2 */
        assert_true(PIX(g_b, 0, r, k) == PIX(g_a, 0, r, k));
        assert_true(PIX(g_b, 1, 38 + r, k) == PIX(g_a, 1, 38 + r, k));
      }
    /* the absolute waveform scale moves up */
    assert_true(panel_max(g_b, 1, 38, 38) >= panel_max(g_a, 1, 38, 38));
    tested++;
  }
  assert_true(tested >= 5);
}

/* label leakage guard: the class and the truth never reach the pixels */
static void test_label_blind_rendering(void **state) {
  (void)state;
  det_event ev, other;
  for (int i = 0; i < 20; i++) {
    sample(i & 1, 200 + (uint64_t)i, &ev);
    other = ev;
    other.cls = 1 - ev.cls;
    other.energy_kev = 77.0;
    other.x_cm = other.y_cm = other.depth_cm = 0.0;
    other.n_ph = other.n_e = other.n_s1_phd = other.n_e_ext = 0;
    other.index = 999999;
    other.attempts = 12;
    img_render(&g_r, &ev, g_a);
    img_render(&g_r, &other, g_b);
    assert_memory_equal(g_a, g_b, sizeof g_a);
    img_render_paxlike(&g_r, &ev, g_a);
    img_render_paxlike(&g_r, &other, g_b);
    assert_memory_equal(g_a, g_b, sizeof g_a);
  }
}

/* ch2 is geometry and scale only: ER and NR at the same reconstructed
 * position have identical hit-panel ch2, and identical ch2 everywhere when
 * their drift times and windows agree */
static void test_ch2_class_independent(void **state) {
  (void)state;
  det_event er, nr;
  sample(DET_ER, 300, &er);
  sample(DET_NR, 300, &nr);
  nr.x_rec_cm = er.x_rec_cm;
  nr.y_rec_cm = er.y_rec_cm;
  img_render(&g_r, &er, g_a);
  img_render(&g_r, &nr, g_b);
  for (int r = 0; r < IMG_PANEL; r++)
    for (int k = 0; k < IMG_W; k++) assert_true(PIX(g_a, 2, r, k) == PIX(g_b, 2, r, k));
  nr.drift_time_us = er.drift_time_us;
  nr.s1_window_ns = er.s1_window_ns;
  nr.s2_window_ns = er.s2_window_ns;
  img_render(&g_r, &nr, g_b);
  for (int r = 0; r < IMG_H; r++)
    for (int k = 0; k < IMG_W; k++) assert_true(PIX(g_a, 2, r, k) == PIX(g_b, 2, r, k));
}

/* channel semantics on a hand-made record */
static void test_channel_semantics(void **state) {
  (void)state;
  det_event ev;
  memset(&ev, 0, sizeof ev);
  ev.n_pmt_top = g_m.arr[DET_TOP].n;
  ev.n_pmt_bottom = g_m.arr[DET_BOTTOM].n;
  /* the central PMTs (closest to the origin) lit with 100 PE (S1) and 1000
   * PE (S2); the reconstructed position far away */
  int cb = 0, ct = 0;
  for (int i = 0; i < ev.n_pmt_bottom; i++)
    if (hypot(g_m.arr[1].x_cm[i], g_m.arr[1].y_cm[i]) <
        hypot(g_m.arr[1].x_cm[cb], g_m.arr[1].y_cm[cb]))
      cb = i;
  for (int i = 0; i < ev.n_pmt_top; i++)
    if (hypot(g_m.arr[0].x_cm[i], g_m.arr[0].y_cm[i]) <
        hypot(g_m.arr[0].x_cm[ct], g_m.arr[0].y_cm[ct]))
      ct = i;
  ev.s1_pmt_bottom_pe[cb] = 100.0f;
  ev.s2_pmt_top_pe[ct] = 1000.0f;
  ev.x_rec_cm = 40.0;
  ev.y_rec_cm = -40.0;
  ev.s1_window_ns = 1000.0f;  /* log10(10)/2 = 0.5 */
  ev.s2_window_ns = 10000.0f; /* log10(10)/2 = 0.5 */
  ev.drift_time_us = 0.25 * g_m.td_max_us;
  for (int k = 0; k < DET_WF_COLS; k++) {
    ev.s1_wf[k] = k == 10 ? 50.0f : 0.0f; /* = W_ref of S1: full height in ch1 */
    ev.s2_wf[k] = k == 20 ? 10.0f : (k == 21 ? 5.0f : 0.0f);
  }
  img_render(&g_r, &ev, g_a);
  /* the centre pixel (18, 18) lies inside the central disc */
  assert_near("A ch0 = (log10 100 + 1)/5", PIX(g_a, 0, 18, 18), 0.6, 1e-6, 0);
  assert_near("A ch1 = 1", PIX(g_a, 1, 18, 18), 1.0, 1e-6, 0);
  assert_near("B ch0 = (log10 1000 + 1)/5", PIX(g_a, 0, 18, 38 + 18), 0.8, 1e-6, 0);
  assert_true(PIX(g_a, 0, 2, 2) == 0.0f); /* outside the TPC */
  /* ch2: 0.25 on a live disc, 1 on the wall and on the "+" */
  assert_near("A ch2 disc", PIX(g_a, 2, 18, 18), 0.25, 1e-6, 0);
  int wall = 0;
  for (int k = 0; k < IMG_PANEL; k++) wall += PIX(g_a, 2, 18, k) == 1.0f;
  assert_true(wall >= 2);
  double half = 1.2 * g_m.p.tpc_radius_cm, d = 2.0 * half / IMG_PANEL;
  int pc = (int)floor((40.0 + half) / d), pr = (int)floor((half + 40.0) / d);
  assert_true(PIX(g_a, 2, pr, pc) == 1.0f && PIX(g_a, 2, pr - 1, pc) == 1.0f);
  assert_true(PIX(g_a, 2, pr, 38 + pc + 1) == 1.0f);
  /* waveforms: ch0 relative, filled from the bottom; column 10 of C is the
   * maximum: height 37/1.1 = 33.64 px */
  assert_true(PIX(g_a, 0, 74, 10) == 1.0f && PIX(g_a, 0, 74 - 32, 10) == 1.0f);
  assert_near("partial pixel", PIX(g_a, 0, 74 - 33, 10), 37.0 / 1.1 - 33.0, 1e-5, 0);
  assert_true(PIX(g_a, 0, 74 - 34, 10) == 0.0f);
  assert_true(PIX(g_a, 0, 74, 11) == 0.0f);
  /* ch1 absolute: W_ref fills the column */
  assert_true(PIX(g_a, 1, 38, 10) == 1.0f);
  /* D: column 21 is half of column 20 in ch0 */
  double h20 = 37.0 / 1.1, h21 = h20 / 2.0;
  assert_near("D ch0 col 21", PIX(g_a, 0, 74 - (int)h21, 38 + 21), h21 - (int)h21, 1e-5, 0);
  /* ch1 of D: log10(11)/log10(201) of the height */
  double h1 = 37.0 * log10(11.0) / log10(201.0);
  assert_near("D ch1 col 20", PIX(g_a, 1, 74 - (int)h1, 38 + 20), h1 - (int)h1, 1e-4, 0);
  /* ch2 of C and D */
  assert_near("C ch2", PIX(g_a, 2, 50, 5), 0.5, 1e-6, 0);
  assert_near("D ch2 drift", PIX(g_a, 2, 40, 50), 0.25, 1e-6, 0);
  assert_true(PIX(g_a, 2, 56, 50) == 0.0f);
  assert_near("D ch2 window", PIX(g_a, 2, 70, 50), 0.5, 1e-6, 0);
  /* without the scale plane, ch2 is zero everywhere */
  img_renderer *r2 = malloc(sizeof *r2);
  assert_non_null(r2);
  img_params ip = g_r.p;
  ip.scale_plane = 0;
  assert_int_equal(img_renderer_init(r2, &ip, &g_m), DD_OK);
  img_render(r2, &ev, g_b);
  for (int k = 0; k < IMG_H * IMG_W; k++) assert_true(g_b[2 * IMG_H * IMG_W + k] == 0.0f);
  assert_memory_equal(g_a, g_b, 2 * IMG_H * IMG_W * sizeof(float));
  free(r2);
}

static void test_paxlike(void **state) {
  (void)state;
  det_event ev;
  sample(DET_ER, 5, &ev);
  img_render_paxlike(&g_r, &ev, g_a);
  for (int k = 0; k < IMG_SIZE; k++) assert_true(g_a[k] >= 0.0f && g_a[k] <= 1.0f);
  /* the blank top strip (12 % of the figure) is white */
  for (int c = 0; c < 3; c++)
    for (int r = 0; r < 8; r++)
      for (int k = 0; k < IMG_W; k++) assert_true(PIX(g_a, c, r, k) == 1.0f);
  /* somewhere in the S2 panel a coloured (not grey) pixel */
  int coloured = 0;
  for (int r = 10; r < 40; r++)
    for (int k = 38; k < 75; k++) coloured += fabsf(PIX(g_a, 0, r, k) - PIX(g_a, 1, r, k)) > 0.05f;
  assert_true(coloured > 0);
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_png_and_preview(void **state) {
  (void)state;
  det_event ev;
  sample(DET_ER, 1, &ev);
  img_render(&g_r, &ev, g_a);
  char path[1200];
  snprintf(path, sizeof path, "%s/one.png", test_tmpdir());
  assert_int_equal(img_png_write(path, g_a, IMG_H, IMG_W, 3), DD_OK);
  char *data = NULL;
  size_t n = 0;
  assert_int_equal(dd_read_file(path, &data, &n), DD_OK);
  assert_true(n > 33);
  assert_memory_equal(data, "\x89PNG\r\n\x1a\n", 8);
  assert_int_equal(be32((unsigned char *)data + 16), 225); /* IHDR width */
  assert_int_equal(be32((unsigned char *)data + 20), 225);
  free(data);
  /* previews: files per class and the two sheets */
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/preview", test_tmpdir());
  det_energy_flat_ctx er = {0.0, 15.0};
  det_energy_exp_ctx nr = {1.0, 100.0, 20.0};
  assert_int_equal(
      img_preview_write(&g_r, 3, 2, det_energy_flat, &er, det_energy_exponential, &nr, dir), DD_OK);
  static const char *const files[] = {"er_00.png",     "er_01.png", "nr_00.png",
                                      "nr_01_pax.png", "sheet.png", "sheet_pax.png"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    assert_true(dd_path_exists(path));
  }
  snprintf(path, sizeof path, "%s/sheet.png", dir);
  assert_int_equal(dd_read_file(path, &data, &n), DD_OK);
  int scale = g_r.p.png_scale;
  assert_int_equal(be32((unsigned char *)data + 16), 2 * 75 * scale + 3 * 4);
  assert_int_equal(be32((unsigned char *)data + 20), 2 * 75 * scale + 3 * 4);
  free(data);
  /* an unwritable place is an I/O error naming it */
  dd_error_clear();
  assert_int_equal(img_png_write("/nonexistent-dir/x.png", g_a, IMG_H, IMG_W, 1), DD_ERR_IO);
  assert_error_contains("/nonexistent-dir/x.png");
  dd_error_clear();
}

static void test_image_params(void **state) {
  (void)state;
  cfg_doc *d = NULL;
  img_params p;
  assert_int_equal(cfg_parse(&d, "image = { mode = \"paxlike\"; s2_wref_pe = 80.0; };\n", "t.cfg"),
                   DD_OK);
  assert_int_equal(img_params_load(d, &p), DD_OK);
  assert_int_equal(p.mode, IMG_MODE_PAXLIKE);
  assert_true(p.s2_wref_pe == 80.0 && p.s1_wref_pe == 50.0 && p.scale_plane == 1);
  cfg_free(d);
  dd_error_clear();
  assert_int_equal(cfg_parse(&d, "image = {\n  s1_wref_pe = 0.0;\n};\n", "t.cfg"), DD_OK);
  assert_int_equal(img_params_load(d, &p), DD_ERR_CONFIG);
  assert_error_contains("t.cfg:2: image.s1_wref_pe: must be > 0");
  cfg_free(d);
  dd_error_clear();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape_range_gutters),
      cmocka_unit_test(test_same_seed_same_bytes),
      cmocka_unit_test(test_s2_times_ten),
      cmocka_unit_test(test_label_blind_rendering),
      cmocka_unit_test(test_ch2_class_independent),
      cmocka_unit_test(test_channel_semantics),
      cmocka_unit_test(test_paxlike),
      cmocka_unit_test(test_png_and_preview),
      cmocka_unit_test(test_image_params),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
