/* ceiling.c - what any classifier can reach from the corrected signals and
 * the S1 pulse (spec §7, §5.1): an independent sample of accepted (cS1, cS2,
 * S1 prompt fraction) per class from DD_STREAM_CEILING, the Bayes-optimal
 * likelihood-ratio classifier on (cS1, log10 cS2/cS1) with class densities
 * histogrammed from one half of the sample and accuracy / ROC area measured
 * on the other half, the cS1-only classifier, the same with the S1 pulse
 * shape (factorised likelihood ratio), and the band statistics of spec
 * §8.4-8.5 (median and width of log10(cS2/cS1) per cS1 bin, ER leakage below
 * the NR median). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "det_internal.h"

const double det_band_edges_pe[DET_BAND_BINS + 1] = {3.0,  5.0,  7.0,  10.0, 15.0, 20.0,
                                                     30.0, 40.0, 50.0, 70.0, 100.0};

dd_status det_ceiling_simulate(const det_model *m, int cls, uint32_t seed, uint64_t first,
                               uint64_t count, det_energy_fn draw_energy, void *ctx, float *cs1,
                               float *cs2, float *energy_kev, float *s1_shape) {
  if (cls != DET_ER && cls != DET_NR)
    return DD_FAIL(DD_ERR_ARG, "class %d is neither ER nor NR", cls);
  if (first + count > (uint64_t)UINT32_MAX + 1)
    return DD_FAIL(DD_ERR_ARG, "ceiling events beyond 2^32");
  det_event ev;
  for (uint64_t i = 0; i < count; i++) {
    uint32_t a = (uint32_t)(first + i);
    int c = 0;
    while (!det_event_simulate(m, cls, seed, DD_STREAM_CEILING, a, (uint32_t)cls, (uint32_t)c,
                               draw_energy, ctx, &ev)) {
      if (++c >= m->p.max_attempts)
        return DD_FAIL(DD_ERR_NUMERIC, "ceiling event %u (%s): no accepted draw in %d attempts", a,
                       cls == DET_ER ? "ER" : "NR", m->p.max_attempts);
    }
    cs1[i] = (float)ev.cs1_pe;
    cs2[i] = (float)(m->p.cs2_bottom ? ev.cs2_bottom_pe : ev.cs2_pe);
    if (energy_kev) energy_kev[i] = (float)ev.energy_kev;
    if (s1_shape) s1_shape[i] = (float)det_s1_prompt_fraction(&ev);
  }
  return DD_OK;
}

double det_s1_prompt_fraction(const det_event *ev) {
  const double t_win = ev->s1_window_ns, dt = t_win / DET_WF_COLS;
  if (!(t_win > 0.0)) return NAN;
  /* areas in units of dt/10 ns per PE (the common factor cancels) */
  double tot = 0.0;
  for (int k = 0; k < DET_WF_COLS; k++)
    if (ev->s1_wf[k] > 0.0f) tot += ev->s1_wf[k];
  if (!(tot > 0.0) || !isfinite(tot)) return NAN;
  const double target = DET_S1_PROMPT_START * tot;
  double c = 0.0, t_start = t_win;
  for (int k = 0; k < DET_WF_COLS; k++) {
    const double a = ev->s1_wf[k] > 0.0f ? ev->s1_wf[k] : 0.0;
    if (a > 0.0 && c + a >= target) {
      t_start = (k + (target - c) / a) * dt;
      break;
    }
    c += a;
  }
  /* area before t_start + DET_S1_PROMPT_NS: whole columns, then the covered
   * part of the one it ends in */
  const double t_end = t_start + DET_S1_PROMPT_NS;
  double prompt = 0.0;
  for (int k = 0; k < DET_WF_COLS; k++) {
    const double a = ev->s1_wf[k] > 0.0f ? ev->s1_wf[k] : 0.0, t0 = k * dt;
    if (t0 + dt <= t_end) {
      prompt += a;
    } else {
      if (t_end > t0) prompt += a * (t_end - t0) / dt;
      break;
    }
  }
  const double f = prompt / tot;
  return f < 1.0 ? f : 1.0;
}

int det_s1_shape_informative(const det_params *p) {
  return p->s1_timing != DET_S1_PAX_SIMPLE;
}

typedef struct wval {
  double y, w;
} wval;

static int cmp_wval(const void *a, const void *b) {
  double x = ((const wval *)a)->y, y = ((const wval *)b)->y;
  return (x > y) - (x < y);
}

/* log10(cS2/cS1), or NaN for an unusable pair */
static double band_y(float s1, float s2) {
  return s1 > 0.0f && s2 > 0.0f ? log10((double)s2 / (double)s1) : NAN;
}

static int band_bin(const double *edges, int nb, double x) {
  if (!(x >= edges[0]) || !(x < edges[nb])) return -1;
  int b = 0;
  while (b + 1 < nb && x >= edges[b + 1]) b++;
  return b;
}

/* weighted median of v sorted by y (n > 0, total weight > 0): the value
 * where the cumulative weight reaches half (midpoint on an exact tie) */
static double median_sorted(const wval *v, size_t n) {
  double tot = 0.0, c = 0.0;
  for (size_t i = 0; i < n; i++) tot += v[i].w;
  for (size_t i = 0; i < n; i++) {
    c += v[i].w;
    if (c > 0.5 * tot) return v[i].y;
    if (c == 0.5 * tot && i + 1 < n) return 0.5 * (v[i].y + v[i + 1].y);
  }
  return v[n - 1].y;
}

void det_band_stats(const float *cs1, const float *cs2, const double *w, size_t n,
                    const double *edges, int nb, double *median, double *sigma, uint64_t *count) {
  size_t *cnt = calloc((size_t)nb + 1, sizeof *cnt);
  wval *v = malloc((n ? n : 1) * sizeof *v);
  size_t *pos = calloc((size_t)nb + 1, sizeof *pos);
  if (!cnt || !v || !pos) DD_PANIC(DD_ERR_NOMEM, "band statistics of %zu events", n);
  for (size_t i = 0; i < n; i++) {
    int b = band_bin(edges, nb, cs1[i]);
    if (b >= 0 && !isnan(band_y(cs1[i], cs2[i])) && (!w || w[i] > 0.0)) cnt[b + 1]++;
  }
  for (int b = 0; b < nb; b++) cnt[b + 1] += cnt[b];
  memcpy(pos, cnt, ((size_t)nb + 1) * sizeof *pos);
  for (size_t i = 0; i < n; i++) {
    int b = band_bin(edges, nb, cs1[i]);
    double y = band_y(cs1[i], cs2[i]);
    if (b < 0 || isnan(y) || (w && !(w[i] > 0.0))) continue;
    v[pos[b]].y = y;
    v[pos[b]++].w = w ? w[i] : 1.0;
  }
  for (int b = 0; b < nb; b++) {
    size_t lo = cnt[b], k = cnt[b + 1] - cnt[b];
    if (count) count[b] = k;
    if (k == 0) {
      median[b] = sigma[b] = NAN;
      continue;
    }
    qsort(v + lo, k, sizeof *v, cmp_wval);
    median[b] = median_sorted(v + lo, k);
    double sw = 0.0, sw2 = 0.0, mean = 0.0, var = 0.0;
    for (size_t j = 0; j < k; j++) {
      sw += v[lo + j].w;
      sw2 += v[lo + j].w * v[lo + j].w;
      mean += v[lo + j].w * v[lo + j].y;
    }
    mean /= sw;
    for (size_t j = 0; j < k; j++) var += v[lo + j].w * (v[lo + j].y - mean) * (v[lo + j].y - mean);
    /* unbiased for weights (reliability weights): divide by sw - sw2/sw */
    double den = sw - sw2 / sw;
    sigma[b] = den > 0.0 ? sqrt(var / den) : NAN;
  }
  free(cnt);
  free(v);
  free(pos);
}

/* Histogram geometry of the classifier. */
#define CX 48 /* cS1 bins */
#define CY 48 /* log10(cS2/cS1) bins */

typedef struct ceil_grid {
  double x0, dx, y0, dy;
} ceil_grid;

static int grid_cell(const ceil_grid *g, double x, double y, int use_y) {
  int ix = (int)floor((x - g->x0) / g->dx);
  if (ix < 0) ix = 0;
  if (ix >= CX) ix = CX - 1;
  if (!use_y) return ix;
  int iy = (int)floor((y - g->y0) / g->dy);
  if (iy < 0) iy = 0;
  if (iy >= CY) iy = CY - 1;
  return iy * CX + ix;
}

/* Smooths a CX x ny histogram with the 3x3 binomial kernel (1 2 1), edges
 * renormalised, so that sparse cells borrow from their neighbours. */
static void smooth(const double *h, double *out, int ny) {
  for (int iy = 0; iy < ny; iy++)
    for (int ix = 0; ix < CX; ix++) {
      double s = 0.0, w = 0.0;
      for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
          int jx = ix + dx, jy = iy + dy;
          if (jx < 0 || jx >= CX || jy < 0 || jy >= ny) continue;
          double k = (dx ? 1.0 : 2.0) * (dy ? 1.0 : 2.0);
          s += k * h[jy * CX + jx];
          w += k;
        }
      out[iy * CX + ix] = s / w;
    }
}

typedef struct score_cell {
  double score;
  double n_er, n_nr; /* test events in the cell */
} score_cell;

static int cmp_cell(const void *a, const void *b) {
  double x = ((const score_cell *)a)->score, y = ((const score_cell *)b)->score;
  return (x > y) - (x < y);
}

/* Per-cell log likelihood ratio log(d_NR/d_ER) of the (cS1[, y]) grid from
 * the even events: smoothed histograms with a small floor. */
static void cell_log_ratio(const ceil_grid *g, int use_y, const float *const s1[2],
                           const float *const s2[2], const double *const wt[2], const size_t n[2],
                           double lo, double hi, double *score /* (CX*CY) */) {
  int ny = use_y ? CY : 1, nc = CX * ny;
  double h[2][CX * CY], d[2][CX * CY], tot[2] = {0.0, 0.0};
  memset(h, 0, sizeof h);
  for (int c = 0; c < 2; c++)
    for (size_t i = 0; i < n[c]; i += 2) {
      double x = s1[c][i], y = band_y(s1[c][i], s2[c][i]), wi = wt[c] ? wt[c][i] : 1.0;
      if (!(x >= lo && x <= hi) || isnan(y)) continue;
      h[c][grid_cell(g, x, y, use_y)] += wi;
      tot[c] += wi;
    }
  for (int c = 0; c < 2; c++) {
    smooth(h[c], d[c], ny);
    /* a small floor (1e-3 of an average-event weight per cell) keeps empty
     * cells finite */
    double fl = 1e-3 * tot[c] / (double)(n[c] / 2 + 1);
    for (int k = 0; k < nc; k++) d[c][k] = (d[c][k] + fl) / (tot[c] + fl * nc);
  }
  for (int k = 0; k < nc; k++) score[k] = log(d[1][k] / d[0][k]);
}

/* Accuracy and AUC of the binned likelihood-ratio classifier: densities from
 * the even events, evaluated on the odd ones (classes weighted equally). */
static void classify(const ceil_grid *g, int use_y, const float *cs1_er, const float *cs2_er,
                     const double *w_er, size_t n_er, const float *cs1_nr, const float *cs2_nr,
                     const double *w_nr, size_t n_nr, double lo, double hi, double *accuracy,
                     double *auc) {
  int ny = use_y ? CY : 1, nc = CX * ny;
  score_cell cells[CX * CY];
  double score[CX * CY];
  memset(cells, 0, sizeof cells);
  const float *const s1[2] = {cs1_er, cs1_nr}, *const s2[2] = {cs2_er, cs2_nr};
  const double *const wt[2] = {w_er, w_nr};
  const size_t n[2] = {n_er, n_nr};
  cell_log_ratio(g, use_y, s1, s2, wt, n, lo, hi, score);
  for (int k = 0; k < nc; k++) cells[k].score = score[k];
  double test[2] = {0.0, 0.0};
  for (int c = 0; c < 2; c++)
    for (size_t i = 1; i < n[c]; i += 2) {
      double x = s1[c][i], y = band_y(s1[c][i], s2[c][i]), wi = wt[c] ? wt[c][i] : 1.0;
      if (!(x >= lo && x <= hi) || isnan(y)) continue;
      score_cell *cell = &cells[grid_cell(g, x, y, use_y)];
      if (c == DET_ER)
        cell->n_er += wi;
      else
        cell->n_nr += wi;
      test[c] += wi;
    }
  /* accuracy with equal priors: NR where the likelihood ratio exceeds 1 */
  double ok_er = 0.0, ok_nr = 0.0;
  for (int k = 0; k < nc; k++) {
    double sc = cells[k].score;
    ok_er += sc < 0.0 ? cells[k].n_er : (sc == 0.0 ? 0.5 * cells[k].n_er : 0.0);
    ok_nr += sc > 0.0 ? cells[k].n_nr : (sc == 0.0 ? 0.5 * cells[k].n_nr : 0.0);
  }
  *accuracy = test[0] > 0.0 && test[1] > 0.0 ? 0.5 * (ok_er / test[0] + ok_nr / test[1]) : NAN;
  /* AUC: P(score_NR > score_ER) + P(tie)/2, cells sorted by score */
  qsort(cells, (size_t)nc, sizeof *cells, cmp_cell);
  double below_er = 0.0, a = 0.0;
  for (int k = 0; k < nc;) {
    int j = k;
    double er = 0.0, nr = 0.0;
    while (j < nc && cells[j].score == cells[k].score) {
      er += cells[j].n_er;
      nr += cells[j].n_nr;
      j++;
    }
    a += nr * (below_er + 0.5 * er);
    below_er += er;
    k = j;
  }
  *auc = test[0] > 0.0 && test[1] > 0.0 ? a / (test[0] * test[1]) : NAN;
}

/* ---- the ceiling with the S1 pulse shape --------------------------------- */

#define CF 24 /* bins of the S1 prompt fraction */

typedef struct shape_grid {
  double f0, df;
} shape_grid;

static int shape_bin(const shape_grid *s, double f) {
  int j = (int)floor((f - s->f0) / s->df);
  return j < 0 ? 0 : (j >= CF ? CF - 1 : j);
}

/* log p(f | cS1, NR) - log p(f | cS1, ER) per (cS1 bin, f bin), index
 * jf * CX + ix: smoothed histograms of the even events, each cS1 column
 * normalised to one (with the floor of cell_log_ratio, so an empty column
 * gives 0). */
static void shape_log_ratio(const ceil_grid *g, const shape_grid *sg, const float *const s1[2],
                            const float *const s2[2], const float *const fs[2],
                            const double *const wt[2], const size_t n[2], double lo, double hi,
                            double *score /* (CX*CF) */) {
  double h[2][CX * CF], d[2][CX * CF], tot[2] = {0.0, 0.0};
  memset(h, 0, sizeof h);
  for (int c = 0; c < 2; c++)
    for (size_t i = 0; i < n[c]; i += 2) {
      double x = s1[c][i], f = fs[c][i], wi = wt[c] ? wt[c][i] : 1.0;
      if (!(x >= lo && x <= hi) || isnan(band_y(s1[c][i], s2[c][i])) || !isfinite(f)) continue;
      h[c][shape_bin(sg, f) * CX + grid_cell(g, x, 0.0, 0)] += wi;
      tot[c] += wi;
    }
  for (int c = 0; c < 2; c++) {
    smooth(h[c], d[c], CF);
    double fl = 1e-3 * tot[c] / (double)(n[c] / 2 + 1);
    for (int ix = 0; ix < CX; ix++) {
      double col = 0.0;
      for (int j = 0; j < CF; j++) col += d[c][j * CX + ix];
      for (int j = 0; j < CF; j++) d[c][j * CX + ix] = (d[c][j * CX + ix] + fl) / (col + fl * CF);
    }
  }
  for (int k = 0; k < CX * CF; k++) score[k] = log(d[1][k] / d[0][k]);
}

typedef struct scored {
  double s, w;
  int cls;
} scored;

static int cmp_scored(const void *a, const void *b) {
  double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
  return (x > y) - (x < y);
}

/* Balanced accuracy (NR where s > 0, ties half) and ROC area of scored
 * events (sorts v). */
static void score_metrics(scored *v, size_t n, double *accuracy, double *auc) {
  double all[2] = {0.0, 0.0}, ok[2] = {0.0, 0.0};
  for (size_t i = 0; i < n; i++) {
    const int c = v[i].cls;
    all[c] += v[i].w;
    if (v[i].s == 0.0)
      ok[c] += 0.5 * v[i].w;
    else if ((v[i].s > 0.0) == (c == DET_NR))
      ok[c] += v[i].w;
  }
  if (!(all[0] > 0.0) || !(all[1] > 0.0)) {
    *accuracy = *auc = NAN;
    return;
  }
  *accuracy = 0.5 * (ok[0] / all[0] + ok[1] / all[1]);
  qsort(v, n, sizeof *v, cmp_scored);
  double below_er = 0.0, a = 0.0;
  for (size_t k = 0; k < n;) {
    size_t j = k;
    double er = 0.0, nr = 0.0;
    while (j < n && v[j].s == v[k].s) {
      if (v[j].cls == DET_NR)
        nr += v[j].w;
      else
        er += v[j].w;
      j++;
    }
    a += nr * (below_er + 0.5 * er);
    below_er += er;
    k = j;
  }
  *auc = a / (all[0] * all[1]);
}

/* The factorised likelihood ratio LR(cS1, y) p(f|cS1,NR)/p(f|cS1,ER), and
 * LR(cS1) times the same shape term, on the odd events. */
static dd_status classify_shape(const ceil_grid *g, const float *const s1[2],
                                const float *const s2[2], const float *const fs[2],
                                const double *const wt[2], const size_t n[2], double lo, double hi,
                                det_ceiling *out) {
  /* f range from the training halves of both classes */
  double fmin = INFINITY, fmax = -INFINITY;
  for (int c = 0; c < 2; c++)
    for (size_t i = 0; i < n[c]; i += 2) {
      double x = s1[c][i], f = fs[c][i];
      if (!(x >= lo && x <= hi) || isnan(band_y(s1[c][i], s2[c][i])) || !isfinite(f)) continue;
      if (f < fmin) fmin = f;
      if (f > fmax) fmax = f;
    }
  shape_grid sg = {isfinite(fmin) ? fmin : 0.0,
                   fmax > fmin ? (fmax - fmin) / CF * (1.0 + 1e-9) : 1.0};
  double *s2d = malloc(sizeof(double) * (CX * CY + CX + CX * CF));
  scored *v[2] = {malloc(sizeof(scored) * (n[0] / 2 + n[1] / 2 + 1)),
                  malloc(sizeof(scored) * (n[0] / 2 + n[1] / 2 + 1))};
  if (!s2d || !v[0] || !v[1]) {
    free(s2d);
    free(v[0]);
    free(v[1]);
    return DD_FAIL(DD_ERR_NOMEM, "ceiling with the S1 shape: %zu + %zu events", n[0], n[1]);
  }
  double *s1d = s2d + CX * CY, *sf = s1d + CX;
  cell_log_ratio(g, 1, s1, s2, wt, n, lo, hi, s2d);
  cell_log_ratio(g, 0, s1, s2, wt, n, lo, hi, s1d);
  shape_log_ratio(g, &sg, s1, s2, fs, wt, n, lo, hi, sf);
  size_t m = 0;
  for (int c = 0; c < 2; c++)
    for (size_t i = 1; i < n[c]; i += 2) {
      double x = s1[c][i], y = band_y(s1[c][i], s2[c][i]), f = fs[c][i];
      if (!(x >= lo && x <= hi) || isnan(y)) continue;
      int ix = grid_cell(g, x, 0.0, 0);
      double t = isfinite(f) ? sf[shape_bin(&sg, f) * CX + ix] : 0.0;
      double wi = wt[c] ? wt[c][i] : 1.0;
      v[0][m] = (scored){s2d[grid_cell(g, x, y, 1)] + t, wi, c};
      v[1][m] = (scored){s1d[ix] + t, wi, c};
      m++;
    }
  score_metrics(v[0], m, &out->accuracy_shape, &out->auc_shape);
  score_metrics(v[1], m, &out->accuracy_cs1_shape, &out->auc_cs1_shape);
  free(s2d);
  free(v[0]);
  free(v[1]);
  return DD_OK;
}

/* Per band bin and class: the weighted correlation of y and f (the
 * factorisation check) and, from the NR median of f, the ER fraction above
 * it (the pulse-shape discrimination alone at 50 % NR acceptance). */
static dd_status shape_bins(const float *const s1[2], const float *const s2[2],
                            const float *const fs[2], const double *const wt[2], const size_t n[2],
                            double lo, double hi, det_ceiling *out) {
  out->shape_corr_max = 0.0;
  double nr_med[DET_BAND_BINS];
  size_t nmax = n[0] > n[1] ? n[0] : n[1];
  wval *v = malloc((nmax ? nmax : 1) * sizeof *v);
  if (!v) return DD_FAIL(DD_ERR_NOMEM, "S1 shape statistics of %zu events", nmax);
  for (int c = 1; c >= 0; c--)
    for (int b = 0; b < DET_BAND_BINS; b++) {
      double sw = 0.0, sw2 = 0.0, my = 0.0, mf = 0.0;
      size_t k = 0;
      for (size_t i = 0; i < n[c]; i++) {
        double x = s1[c][i], y = band_y(s1[c][i], s2[c][i]), f = fs[c][i];
        double wi = wt[c] ? wt[c][i] : 1.0;
        if (band_bin(det_band_edges_pe, DET_BAND_BINS, x) != b || !(x >= lo && x <= hi) ||
            isnan(y) || !isfinite(f) || !(wi > 0.0))
          continue;
        sw += wi;
        sw2 += wi * wi;
        my += wi * y;
        mf += wi * f;
        v[k].y = f;
        v[k++].w = wi;
      }
      double *corr = c == DET_ER ? out->shape_corr_er : out->shape_corr_nr;
      corr[b] = NAN;
      if (c == DET_NR) nr_med[b] = NAN;
      if (c == DET_ER) out->psd_leak_bin[b] = NAN;
      if (k < 100) continue;
      my /= sw;
      mf /= sw;
      double cyy = 0.0, cff = 0.0, cyf = 0.0, above = 0.0;
      for (size_t i = 0; i < n[c]; i++) {
        double x = s1[c][i], y = band_y(s1[c][i], s2[c][i]), f = fs[c][i];
        double wi = wt[c] ? wt[c][i] : 1.0;
        if (band_bin(det_band_edges_pe, DET_BAND_BINS, x) != b || !(x >= lo && x <= hi) ||
            isnan(y) || !isfinite(f) || !(wi > 0.0))
          continue;
        cyy += wi * (y - my) * (y - my);
        cff += wi * (f - mf) * (f - mf);
        cyf += wi * (y - my) * (f - mf);
        if (c == DET_ER && f > nr_med[b]) above += wi;
      }
      corr[b] = cyy > 0.0 && cff > 0.0 ? cyf / sqrt(cyy * cff) : NAN;
      if (sw * sw / sw2 >= 1000.0 && fabs(corr[b]) > out->shape_corr_max)
        out->shape_corr_max = fabs(corr[b]);
      if (c == DET_NR) {
        qsort(v, k, sizeof *v, cmp_wval);
        nr_med[b] = median_sorted(v, k);
      } else if (!isnan(nr_med[b])) {
        out->psd_leak_bin[b] = above / sw;
      }
    }
  free(v);
  return DD_OK;
}

dd_status det_ceiling_compute(const float *cs1_er, const float *cs2_er, const float *shape_er,
                              const double *w_er, size_t n_er, const float *cs1_nr,
                              const float *cs2_nr, const float *shape_nr, const double *w_nr,
                              size_t n_nr, double cs1_min, double cs1_max, det_ceiling *out) {
  memset(out, 0, sizeof *out);
  out->accuracy_shape = out->auc_shape = NAN;
  out->accuracy_cs1_shape = out->auc_cs1_shape = out->shape_corr_max = NAN;
  for (int b = 0; b < DET_BAND_BINS; b++)
    out->psd_leak_bin[b] = out->shape_corr_er[b] = out->shape_corr_nr[b] = NAN;
  if (!(cs1_max > cs1_min))
    return DD_FAIL(DD_ERR_ARG, "empty cS1 window [%g, %g]", cs1_min, cs1_max);
  if (!shape_er != !shape_nr)
    return DD_FAIL(DD_ERR_ARG, "S1 shapes given for %s only", shape_er ? "ER" : "NR");
  /* y range from the training halves of both classes */
  double ymin = INFINITY, ymax = -INFINITY;
  const float *s1[2] = {cs1_er, cs1_nr}, *s2[2] = {cs2_er, cs2_nr};
  const double *wt[2] = {w_er, w_nr};
  size_t n[2] = {n_er, n_nr};
  uint64_t inside[2] = {0, 0};
  double sw = 0.0, sw2 = 0.0;
  for (int c = 0; c < 2; c++)
    for (size_t i = 0; i < n[c]; i++) {
      double x = s1[c][i], y = band_y(s1[c][i], s2[c][i]), wi = wt[c] ? wt[c][i] : 1.0;
      if (!(x >= cs1_min && x <= cs1_max) || isnan(y) || !(wi > 0.0)) continue;
      inside[c]++;
      if (c == DET_NR) {
        sw += wi;
        sw2 += wi * wi;
      }
      if (i % 2 == 0) {
        if (y < ymin) ymin = y;
        if (y > ymax) ymax = y;
      }
    }
  out->n_er = inside[0];
  out->n_nr = inside[1];
  out->ess_nr = sw2 > 0.0 ? sw * sw / sw2 : 0.0;
  if (inside[0] < 100 || inside[1] < 100)
    return DD_FAIL(DD_ERR_NUMERIC, "ceiling: too few events in the cS1 window (%llu ER, %llu NR)",
                   (unsigned long long)inside[0], (unsigned long long)inside[1]);
  ceil_grid g = {cs1_min, (cs1_max - cs1_min) / CX, ymin, (ymax - ymin) / CY * (1.0 + 1e-9)};
  classify(&g, 1, cs1_er, cs2_er, w_er, n_er, cs1_nr, cs2_nr, w_nr, n_nr, cs1_min, cs1_max,
           &out->accuracy, &out->auc);
  double auc1;
  classify(&g, 0, cs1_er, cs2_er, w_er, n_er, cs1_nr, cs2_nr, w_nr, n_nr, cs1_min, cs1_max,
           &out->accuracy_cs1_only, &auc1);
  if (shape_er) {
    const float *const fs[2] = {shape_er, shape_nr};
    DD_TRY(classify_shape(&g, s1, s2, fs, wt, n, cs1_min, cs1_max, out), "ceiling");
    DD_TRY(shape_bins(s1, s2, fs, wt, n, cs1_min, cs1_max, out), "ceiling");
  }
  /* bands and leakage (all events) */
  det_band_stats(cs1_er, cs2_er, w_er, n_er, det_band_edges_pe, DET_BAND_BINS, out->er_median,
                 out->er_sigma, NULL);
  det_band_stats(cs1_nr, cs2_nr, w_nr, n_nr, det_band_edges_pe, DET_BAND_BINS, out->nr_median,
                 out->nr_sigma, NULL);
  double below[DET_BAND_BINS] = {0}, all[DET_BAND_BINS] = {0}, tb = 0.0, ta = 0.0;
  for (size_t i = 0; i < n_er; i++) {
    double x = cs1_er[i], y = band_y(cs1_er[i], cs2_er[i]), wi = w_er ? w_er[i] : 1.0;
    int b = band_bin(det_band_edges_pe, DET_BAND_BINS, x);
    if (b < 0 || isnan(y) || isnan(out->nr_median[b]) || !(x >= cs1_min && x <= cs1_max)) continue;
    all[b] += wi;
    if (y < out->nr_median[b]) below[b] += wi;
  }
  for (int b = 0; b < DET_BAND_BINS; b++) {
    out->leak_bin[b] = all[b] > 0.0 ? below[b] / all[b] : NAN;
    tb += below[b];
    ta += all[b];
  }
  out->leakage = ta > 0.0 ? tb / ta : NAN;
  return DD_OK;
}
