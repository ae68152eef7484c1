/* render.c - event record -> 75x75x3 image, `physics` mode (spec §6.1-6.3):
 * hit-pattern panels from precomputed PMT-disc coverage (8x8 sub-samples per
 * pixel), waveform panels as filled column profiles on a relative (ch0) and a
 * fixed absolute log scale (ch1), and the scale channel (ch2).  Also the
 * `image` configuration group. */
#include "ddscan/image.h"

#include <math.h>
#include <string.h>

#include "img_internal.h"

static const char *const k_modes[] = {"physics", "paxlike"};

void img_params_default(img_params *p) {
  p->mode = IMG_MODE_PHYSICS;
  p->scale_plane = 1;
  p->s1_wref_pe = 50.0;  /* spec §6.3 */
  p->s2_wref_pe = 200.0; /* xent S2 peaks are 1-15 PE/bin, x1t up to ~60 */
  p->png_scale = 4;
}

dd_status img_params_load(cfg_doc *cfg, img_params *p) {
  img_params_default(p);
  long long scale;
  DD_TRY(cfg_get_choice(cfg, "image.mode", k_modes[p->mode], k_modes, 2, &p->mode), "image");
  DD_TRY(cfg_get_bool(cfg, "image.scale_plane", p->scale_plane, &p->scale_plane), "image");
  DD_TRY(cfg_get_double(cfg, "image.s1_wref_pe", p->s1_wref_pe, &p->s1_wref_pe), "image");
  DD_TRY(cfg_get_double(cfg, "image.s2_wref_pe", p->s2_wref_pe, &p->s2_wref_pe), "image");
  DD_TRY(cfg_get_int(cfg, "image.png_scale", p->png_scale, &scale), "image");
  if (!(p->s1_wref_pe > 0.0))
    return cfg_error(cfg, "image.s1_wref_pe", "must be > 0, got %g", p->s1_wref_pe);
  if (!(p->s2_wref_pe > 0.0))
    return cfg_error(cfg, "image.s2_wref_pe", "must be > 0, got %g", p->s2_wref_pe);
  if (scale < 1 || scale > 16)
    return cfg_error(cfg, "image.png_scale", "must be in [1, 16], got %lld", scale);
  p->png_scale = (int)scale;
  return DD_OK;
}

/* Coverage of one array's discs (radius pitch/2, live or dead) and the static
 * geometry channel. */
static dd_status panel_geom_init(img_renderer *r, img_panel_geom *g, const det_array *arr) {
  const double R = r->det->p.tpc_radius_cm, half = r->world_half_cm, d = r->pixel_cm;
  const double rad = 0.5 * arr->pitch_cm;
  enum { SS = 8 };
  int n = 0;
  g->n_pmt = arr->n;
  for (int row = 0; row < IMG_PANEL; row++)
    for (int col = 0; col < IMG_PANEL; col++) {
      int pix = row * IMG_PANEL + col;
      int cnt[DET_MAX_PMT_TOP];
      double cov = 0.0;
      /* candidate PMTs near the pixel */
      double xc = -half + (col + 0.5) * d, yc = half - (row + 0.5) * d;
      int cand[16], nc = 0;
      for (int i = 0; i < arr->n && nc < 16; i++) {
        double dx = arr->x_cm[i] - xc, dy = arr->y_cm[i] - yc;
        if (dx * dx + dy * dy <= (rad + d) * (rad + d)) cand[nc++] = i;
      }
      for (int c = 0; c < nc; c++) cnt[c] = 0;
      for (int sy = 0; sy < SS; sy++)
        for (int sx = 0; sx < SS; sx++) {
          double x = -half + (col + (sx + 0.5) / SS) * d;
          double y = half - (row + (sy + 0.5) / SS) * d;
          /* the nearest covering disc owns the sub-sample */
          int best = -1;
          double bd = rad * rad;
          for (int c = 0; c < nc; c++) {
            double dx = arr->x_cm[cand[c]] - x, dy = arr->y_cm[cand[c]] - y;
            double dd = dx * dx + dy * dy;
            if (dd <= bd) {
              bd = dd;
              best = c;
            }
          }
          if (best >= 0) cnt[best]++;
        }
      for (int c = 0; c < nc; c++)
        if (cnt[c] > 0) {
          if (n >= IMG_MAX_COVER) return DD_FAIL(DD_ERR_INTERNAL, "pixel coverage table full");
          g->pmt[n] = (uint16_t)cand[c];
          g->pix[n] = (uint16_t)pix;
          g->frac[n] = (float)cnt[c] / (SS * SS);
          if (arr->qe[cand[c]] > 0.0f) cov += g->frac[n]; /* live discs only */
          n++;
        }
      /* ch2: 0.25 x live-disc coverage; 1 on the wall circle (centre within
       * d/2 of r = R) */
      double v = 0.25 * cov, rc = sqrt(xc * xc + yc * yc);
      if (fabs(rc - R) <= 0.5 * d) v = 1.0;
      g->ch2[pix] = (float)v;
    }
  /* regroup the entries by PMT (counting sort, stable in pixel order) */
  uint16_t pix2[IMG_MAX_COVER], pmt2[IMG_MAX_COVER];
  float frac2[IMG_MAX_COVER];
  int cnt_pmt[DET_MAX_PMT_TOP + 1] = {0};
  for (int k = 0; k < n; k++) cnt_pmt[g->pmt[k] + 1]++;
  for (int i = 0; i < arr->n; i++) cnt_pmt[i + 1] += cnt_pmt[i];
  for (int i = 0; i <= arr->n; i++) g->start[i] = cnt_pmt[i];
  for (int k = 0; k < n; k++) {
    int dst = cnt_pmt[g->pmt[k]]++;
    pix2[dst] = g->pix[k];
    pmt2[dst] = g->pmt[k];
    frac2[dst] = g->frac[k];
  }
  memcpy(g->pix, pix2, sizeof(uint16_t) * (size_t)n);
  memcpy(g->pmt, pmt2, sizeof(uint16_t) * (size_t)n);
  memcpy(g->frac, frac2, sizeof(float) * (size_t)n);
  return DD_OK;
}

dd_status img_renderer_init(img_renderer *r, const img_params *p, const det_model *det) {
  memset(r, 0, sizeof *r);
  r->p = *p;
  r->det = det;
  for (int i = 0; i <= 256; i++) r->log10_tab[i] = (float)log10(1.0 + i / 256.0);
  r->world_half_cm = 1.2 * det->p.tpc_radius_cm;
  r->pixel_cm = 2.0 * r->world_half_cm / IMG_PANEL;
  DD_TRY(panel_geom_init(r, &r->geom[0], &det->arr[DET_BOTTOM]), "panel A geometry");
  DD_TRY(panel_geom_init(r, &r->geom[1], &det->arr[DET_TOP]), "panel B geometry");
  return DD_OK;
}

void img_renderer_free(img_renderer *r) {
  (void)r;
}

/* log10 of a positive finite float from its IEEE-754 exponent and a
 * 256-entry table of log10 over the mantissa in [1, 2) with linear
 * interpolation (error < 2e-7, well below the 1/255 of an 8-bit pixel);
 * deterministic and about 10x cheaper than log10() in the render loops. */
static inline float fast_log10f(const float *tab /* (257) */, float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  int e = (int)((b >> 23) & 0xffu) - 127;
  uint32_t man = b & 0x7fffffu;
  uint32_t i = man >> 15;                               /* top 8 mantissa bits */
  float f = (float)(man & 0x7fffu) * (1.0f / 32768.0f); /* the remaining 15 */
  return (float)e * 0.30102999566f + tab[i] + f * (tab[i + 1] - tab[i]);
}

static inline float clip01(double v) {
  return v < 0.0 ? 0.0f : (v > 1.0 ? 1.0f : (float)v);
}

/* Hit-pattern panel at (row0, col0) of the image. */
static void hit_panel(const img_renderer *r, const img_panel_geom *g, const float *area,
                      double x_rec, double y_rec, float *out, int row0, int col0) {
  float amax = 0.0f;
  for (int i = 0; i < g->n_pmt; i++)
    if (area[i] > amax) amax = area[i];
  float inv_max = amax > 0.0f ? 1.0f / amax : 0.0f;
  /* each lit PMT adds its value to the pixels its disc covers (entries
   * grouped by PMT: no dependency chains, and dark PMTs cost nothing) */
  float acc0[IMG_PANEL * IMG_PANEL], acc1[IMG_PANEL * IMG_PANEL];
  memset(acc0, 0, sizeof acc0);
  memset(acc1, 0, sizeof acc1);
  for (int i = 0; i < g->n_pmt; i++) {
    if (!(area[i] > 0.0f)) continue;
    /* ch0: pax's LogNorm 0.1 - 1e4 PE; ch1: relative to the brightest PMT */
    float a0 = clip01((fast_log10f(r->log10_tab, area[i]) + 1.0f) / 5.0f), a1 = area[i] * inv_max;
    for (int k = g->start[i]; k < g->start[i + 1]; k++) {
      acc0[g->pix[k]] += g->frac[k] * a0;
      acc1[g->pix[k]] += g->frac[k] * a1;
    }
  }
  float *c0 = out, *c1 = out + IMG_H * IMG_W, *c2 = out + 2 * IMG_H * IMG_W;
  for (int row = 0; row < IMG_PANEL; row++) {
    int o = (row0 + row) * IMG_W + col0;
    memcpy(c0 + o, acc0 + row * IMG_PANEL, IMG_PANEL * sizeof(float));
    memcpy(c1 + o, acc1 + row * IMG_PANEL, IMG_PANEL * sizeof(float));
    if (r->p.scale_plane)
      memcpy(c2 + o, g->ch2 + row * IMG_PANEL, IMG_PANEL * sizeof(float));
    else
      memset(c2 + o, 0, IMG_PANEL * sizeof(float));
  }
  if (!r->p.scale_plane) return;
  /* 3-pixel "+" at the reconstructed S2 position (pax's orange cross) */
  int pc = (int)floor((x_rec + r->world_half_cm) / r->pixel_cm);
  int pr = (int)floor((r->world_half_cm - y_rec) / r->pixel_cm);
  static const int dr[5] = {0, -1, 1, 0, 0}, dc[5] = {0, 0, 0, -1, 1};
  for (int k = 0; k < 5; k++) {
    int rr = pr + dr[k], cc = pc + dc[k];
    if (rr >= 0 && rr < IMG_PANEL && cc >= 0 && cc < IMG_PANEL)
      c2[(row0 + rr) * IMG_W + col0 + cc] = 1.0f;
  }
}

/* Waveform panel: filled column profiles; a pixel holds the covered
 * fraction of its height below the profile (spec §6.3). */
/* One filled column: rows below height h (pixels, from the panel bottom)
 * are 1, the row the edge falls in holds the covered fraction; the panel was
 * zeroed before. */
static inline void fill_column(float *col_top, double h) {
  if (!(h > 0.0)) return;
  if (h > IMG_PANEL) h = IMG_PANEL;
  int full = (int)h;
  for (int j = 0; j < full; j++) col_top[(IMG_PANEL - 1 - j) * IMG_W] = 1.0f;
  if (full < IMG_PANEL) col_top[(IMG_PANEL - 1 - full) * IMG_W] = (float)(h - full);
}

static void wave_panel(const img_renderer *r, const float *w, double wref, float *out, int row0,
                       int col0) {
  double wmax = 0.0;
  for (int k = 0; k < DET_WF_COLS; k++)
    if (w[k] > wmax) wmax = w[k];
  double lref = log10(1.0 + wref);
  float *c0 = out + row0 * IMG_W + col0, *c1 = c0 + IMG_H * IMG_W;
  for (int row = 0; row < IMG_PANEL; row++) {
    memset(c0 + row * IMG_W, 0, IMG_PANEL * sizeof(float));
    memset(c1 + row * IMG_W, 0, IMG_PANEL * sizeof(float));
  }
  for (int k = 0; k < DET_WF_COLS; k++) {
    double wk = w[k] > 0.0f ? w[k] : 0.0;
    if (wmax > 0.0) fill_column(c0 + k, IMG_PANEL * wk / (1.1 * wmax));
    fill_column(c1 + k, IMG_PANEL * clip01(fast_log10f(r->log10_tab, (float)(1.0 + wk)) / lref));
  }
}

void img_render_physics(const img_renderer *r, const det_event *ev, float *out) {
  float *c2 = out + 2 * IMG_H * IMG_W;
  /* gutters: row 37 and column 37 of every channel */
  for (int c = 0; c < IMG_C; c++) {
    float *ch = out + c * IMG_H * IMG_W;
    for (int j = 0; j < IMG_W; j++) ch[IMG_PANEL * IMG_W + j] = 0.0f;
    for (int i = 0; i < IMG_H; i++) ch[i * IMG_W + IMG_PANEL] = 0.0f;
  }
  const int off = IMG_PANEL + 1; /* 38: second panel row/column */
  hit_panel(r, &r->geom[0], ev->s1_pmt_bottom_pe, ev->x_rec_cm, ev->y_rec_cm, out, 0, 0);
  hit_panel(r, &r->geom[1], ev->s2_pmt_top_pe, ev->x_rec_cm, ev->y_rec_cm, out, 0, off);
  wave_panel(r, ev->s1_wf, r->p.s1_wref_pe, out, off, 0);
  wave_panel(r, ev->s2_wf, r->p.s2_wref_pe, out, off, off);
  /* ch2 of the waveform panels: window lengths and drift time */
  float vc = 0.0f, vd_td = 0.0f, vd_win = 0.0f;
  if (r->p.scale_plane) {
    vc = clip01(log10(ev->s1_window_ns / 100.0) / 2.0);
    vd_td = clip01(ev->drift_time_us / r->det->td_max_us);
    vd_win = clip01(log10(ev->s2_window_ns / 1000.0) / 2.0);
  }
  for (int row = 0; row < IMG_PANEL; row++) {
    float *pc = c2 + (off + row) * IMG_W, *pd = pc + off;
    float vd = row < 18 ? vd_td : (row == 18 ? 0.0f : vd_win);
    for (int k = 0; k < IMG_PANEL; k++) {
      pc[k] = vc;
      pd[k] = vd;
    }
  }
}

void img_render(const img_renderer *r, const det_event *ev, float *out) {
  if (r->p.mode == IMG_MODE_PAXLIKE)
    img_render_paxlike(r, ev, out);
  else
    img_render_physics(r, ev, out);
}
