/* template.c - binned templates of one work unit (spec §1.3-1.4): TS(R) bin
 * edges from the background (uniform between two weighted quantiles with
 * under/overflow, or equal-background quantile bins with a minimum number of
 * MC events), the classical (cS1, log10 cS2/cS1) binning, and the weighted
 * histograms beta_i, alpha_i with sums of squared weights and MC counts. */
#include "ddscan/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A background event on the sorted TS axis; idx breaks ties so that the
 * order (and hence every edge) is independent of qsort's algorithm. */
typedef struct ts_item {
  double ts;
  double w;
  long idx;
} ts_item;

static int ts_item_cmp(const void *pa, const void *pb) {
  const ts_item *a = pa, *b = pb;
  if (a->ts < b->ts) return -1;
  if (a->ts > b->ts) return 1;
  return (a->idx > b->idx) - (a->idx < b->idx);
}

void stats_template_free(stats_template *t) {
  if (!t) return;
  free(t->edges);
  free(t->y_edges);
  free(t->beta);
  free(t->beta_w2);
  free(t->beta_n);
  free(t->beta_half);
  free(t->alpha);
  free(t->alpha_w2);
  free(t->alpha_n);
  free(t->nrb);
  free(t->nrb_w2);
  memset(t, 0, sizeof *t);
}

/* Largest j with e[j] <= x among e[0..m-1] (e ascending, e[0] <= x < e[m-1]
 * assumed by the caller); duplicate edges resolve to the last one, so a
 * zero-width bin never receives events. */
static int edge_search(const double *e, int m, double x) {
  int lo = 0, hi = m - 1; /* invariant: e[lo] <= x < e[hi] */
  while (hi - lo > 1) {
    int mid = lo + (hi - lo) / 2;
    if (e[mid] <= x)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

int stats_template_bin(const stats_template *t, double ts) {
  if (t->ny != 1 || !t->edges || !(ts == ts)) return -1;
  if (ts < t->edges[0] || ts >= t->edges[t->k]) {
    /* +inf belongs to an open overflow bin */
    if (ts == INFINITY && t->edges[t->k] == INFINITY) return t->k - 1;
    return -1;
  }
  return edge_search(t->edges, t->k + 1, ts);
}

/* ------------------------------------------------------------ validation */

static dd_status check_weights(const char *bank, long n, const double *w) {
  for (long i = 0; i < n; i++)
    if (!(w[i] >= 0.0) || isinf(w[i]))
      return DD_FAIL(DD_ERR_ARG,
                     "%s bank: weight[%ld] = %g (weights are expected events per t.y and must be "
                     "finite and >= 0)",
                     bank, i, w[i]);
  return DD_OK;
}

static dd_status check_events(const char *bank, const stats_events *ev, double r) {
  if (!ev || ev->n <= 0)
    return DD_FAIL(DD_ERR_ARG, "%s bank is empty: a template needs events", bank);
  if (!ev->l_rec || !ev->h_b || !ev->weight)
    return DD_FAIL(DD_ERR_ARG, "%s bank: missing l_rec, h_b or weight array", bank);
  for (long i = 0; i < ev->n; i++) {
    double ts = stats_ts(ev->l_rec[i], ev->h_b[i], r);
    if (!isfinite(ts))
      return DD_FAIL(DD_ERR_ARG, "%s bank: TS of event %ld is %g (l_rec %g, h_b %g, R %g)", bank, i,
                     ts, ev->l_rec[i], ev->h_b[i], r);
  }
  return check_weights(bank, ev->n, ev->weight);
}

static dd_status alloc_hist(stats_template *t, int k, int with_nrb) {
  dd_status st = DD_OK;
  if (st == DD_OK) st = dd_calloc((void **)&t->beta, (size_t)k, sizeof(double), "beta");
  if (st == DD_OK) st = dd_calloc((void **)&t->beta_w2, (size_t)k, sizeof(double), "beta_w2");
  if (st == DD_OK) st = dd_calloc((void **)&t->beta_n, (size_t)k, sizeof(long), "beta_n");
  if (st == DD_OK)
    st = dd_calloc((void **)&t->beta_half, 2 * (size_t)k, sizeof(double), "beta_half");
  if (st == DD_OK) st = dd_calloc((void **)&t->alpha, (size_t)k, sizeof(double), "alpha");
  if (st == DD_OK) st = dd_calloc((void **)&t->alpha_w2, (size_t)k, sizeof(double), "alpha_w2");
  if (st == DD_OK) st = dd_calloc((void **)&t->alpha_n, (size_t)k, sizeof(long), "alpha_n");
  if (st == DD_OK && with_nrb) st = dd_calloc((void **)&t->nrb, (size_t)k, sizeof(double), "nrb");
  if (st == DD_OK && with_nrb)
    st = dd_calloc((void **)&t->nrb_w2, (size_t)k, sizeof(double), "nrb_w2");
  return st;
}

static double sum_bins(const double *x, int k) {
  double s = 0.0;
  for (int i = 0; i < k; i++) s += x[i];
  return s;
}

/* ------------------------------------------------------------- 1-D edges */

/* Weighted quantile of sorted items: the first TS whose cumulative weight
 * reaches q * W. */
static double weighted_quantile(const ts_item *it, long n, double wtot, double q) {
  double target = q * wtot, cum = 0.0;
  for (long i = 0; i < n; i++) {
    cum += it[i].w;
    if (cum >= target && it[i].w > 0.0) return it[i].ts;
  }
  return it[n - 1].ts;
}

/* Effective MC events (sum w)^2 / sum w^2 of sorted items [a, b): the raw
 * count for equal weights, fewer where weights vary (an importance-biased
 * tail, detector.er_bias), which is what the MC error of the bin follows. */
static double range_neff(const ts_item *it, long a, long b) {
  double sw = 0.0, sw2 = 0.0;
  for (long i = a; i < b; i++) {
    sw += it[i].w;
    sw2 += it[i].w * it[i].w;
  }
  return sw2 > 0.0 ? sw * sw / sw2 : 0.0;
}

/* Equal-background edges with >= min_mc effective MC events per bin (the
 * under- and overflow ends included: no bin holds a fixed fraction); the open ends make
 * every background event (and every signal event) fall in a bin, so b_i > 0
 * wherever the bin holds background MC.  edges: (bins + 1) capacity.
 *
 * Why this shape: the significance of a TS template comes from its highest
 * bins, where the signal sits and the background MC is thinnest, so those
 * bins decide whether a number can be trusted.  Equal expected background
 * per bin spreads the MC evenly; a bin that still holds fewer than min_mc
 * events (heavy weights, ties) is merged into its lower neighbour, starting
 * from the top so that the critical bins are the ones made sound first, and
 * the lowest bin last.  Edges sit half-way between two distinct TS values,
 * never inside a run of equal values, so an event's bin does not depend on
 * the order in which tied events were sorted. */
static int quantile_edges(const ts_item *it, long n, double wtot, int bins, int min_mc,
                          double *edges, int *merged) {
  /* pos[j] = number of sorted events below edge j */
  long *pos = malloc(((size_t)bins + 1) * sizeof *pos);
  if (!pos) return -1;
  int k = 0;
  pos[0] = 0;
  edges[0] = -INFINITY;
  double cum = 0.0;
  int j = 1;
  for (long i = 0; i < n - 1 && j < bins; i++) {
    cum += it[i].w;
    if (cum < wtot * j / bins) continue;
    /* never split tied TS values: the edge goes where the value changes */
    if (it[i + 1].ts == it[i].ts) continue;
    k++;
    pos[k] = i + 1;
    edges[k] = it[i].ts + 0.5 * (it[i + 1].ts - it[i].ts);
    while (j < bins && cum >= wtot * j / bins) j++;
  }
  k++;
  pos[k] = n;
  edges[k] = INFINITY;
  /* merge from the top (the critical high-TS bins) down, then the bottom up */
  int m = 0;
  for (int b = k - 1; b >= 1; b--) {
    if (range_neff(it, pos[b], pos[b + 1]) >= min_mc * (1.0 - 1e-12)) continue;
    /* remove edge b: bin b joins bin b-1 */
    for (int e = b; e < k; e++) {
      edges[e] = edges[e + 1];
      pos[e] = pos[e + 1];
    }
    k--;
    m++;
  }
  if (k > 1 && range_neff(it, pos[0], pos[1]) < min_mc * (1.0 - 1e-12)) {
    for (int e = 1; e < k; e++) {
      edges[e] = edges[e + 1];
      pos[e] = pos[e + 1];
    }
    k--;
    m++;
  }
  free(pos);
  *merged = m;
  return k;
}

static void fill_1d(const stats_template *t, const stats_events *ev, double r, double *sum,
                    double *sum_w2, long *count, double *half, long *n_out) {
  long out = 0;
  for (long i = 0; i < ev->n; i++) {
    int bin = stats_template_bin(t, stats_ts(ev->l_rec[i], ev->h_b[i], r));
    if (bin < 0) {
      out++;
      continue;
    }
    double w = ev->weight[i];
    sum[bin] += w;
    if (sum_w2) sum_w2[bin] += w * w;
    if (count) count[bin]++;
    /* the two statistically independent halves of paper-independent mode */
    if (half) half[(i & 1) * t->k + bin] += 2.0 * w;
  }
  if (n_out) *n_out = out;
}

dd_status stats_template_build(stats_template *t, const stats_binning *bin, const stats_events *bkg,
                               const stats_events *sig, const stats_events *nrbkg, double r,
                               double sigma_ref_cm2) {
  memset(t, 0, sizeof *t);
  if (!isfinite(r) || r < 0.0) return DD_FAIL(DD_ERR_ARG, "R = %g must be finite and >= 0", r);
  if (!(sigma_ref_cm2 > 0.0))
    return DD_FAIL(DD_ERR_ARG, "sigma_ref = %g cm^2 must be > 0", sigma_ref_cm2);
  if (bin->bins < 1) return DD_FAIL(DD_ERR_ARG, "binning needs >= 1 bin, got %d", bin->bins);
  DD_TRY(check_events("background", bkg, r), "TS template at R = %g", r);
  DD_TRY(check_events("signal", sig, r), "TS template at R = %g", r);
  if (nrbkg) DD_TRY(check_events("NR-background", nrbkg, r), "TS template at R = %g", r);

  ts_item *it = malloc((size_t)bkg->n * sizeof *it);
  if (!it) return DD_FAIL(DD_ERR_NOMEM, "sorting %ld background TS values", bkg->n);
  double wtot = 0.0;
  for (long i = 0; i < bkg->n; i++) {
    it[i].ts = stats_ts(bkg->l_rec[i], bkg->h_b[i], r);
    it[i].w = bkg->weight[i];
    it[i].idx = i;
    wtot += bkg->weight[i];
  }
  if (!(wtot > 0.0)) {
    free(it);
    return DD_FAIL(DD_ERR_ARG, "background bank: total weight is 0 (empty background histogram)");
  }
  qsort(it, (size_t)bkg->n, sizeof *it, ts_item_cmp);

  int cap = bin->bins + 2;
  dd_status st = dd_calloc((void **)&t->edges, (size_t)cap + 1, sizeof(double), "TS edges");
  if (st != DD_OK) {
    free(it);
    return st;
  }
  int k = 0;
  if (bin->rule == STATS_BIN_QUANTILE) {
    k = quantile_edges(it, bkg->n, wtot, bin->bins, bin->min_mc, t->edges, &t->merged_bins);
    if (k < 0) st = DD_FAIL(DD_ERR_NOMEM, "quantile edges");
  } else {
    /* the paper-style rule: uniform bins between two background quantiles,
     * with open under/overflow bins so that no event is lost; the overflow
     * bin holds by construction a fixed share of the background MC */
    double lo = weighted_quantile(it, bkg->n, wtot, bin->range_q[0]);
    double hi = weighted_quantile(it, bkg->n, wtot, bin->range_q[1]);
    if (!(hi > lo)) {
      st = DD_FAIL(DD_ERR_ARG,
                   "background TS quantiles %g and %g at R = %g coincide (%g): the uniform "
                   "range is empty",
                   bin->range_q[0], bin->range_q[1], r, lo);
    } else {
      if (bin->underflow) t->edges[k++] = -INFINITY;
      for (int j = 0; j <= bin->bins; j++)
        t->edges[k++] = j == bin->bins ? hi : lo + (hi - lo) * j / bin->bins;
      if (bin->overflow) t->edges[k++] = INFINITY;
      k--; /* k edges written -> k - 1 bins */
    }
  }
  free(it);
  if (st != DD_OK) {
    stats_template_free(t);
    return st;
  }
  t->k = k;
  t->nx = k;
  t->ny = 1;
  t->r = r;
  t->min_mc = bin->min_mc;
  t->n_bkg = bkg->n;
  t->w_bkg_mean = wtot / bkg->n;
  st = alloc_hist(t, k, nrbkg != NULL);
  if (st != DD_OK) {
    stats_template_free(t);
    return DD_CONTEXT(st, "TS template at R = %g", r);
  }
  fill_1d(t, bkg, r, t->beta, t->beta_w2, t->beta_n, t->beta_half, &t->n_bkg_out);
  t->beta_tot = sum_bins(t->beta, k);
  if (!(t->beta_tot > 0.0)) {
    stats_template_free(t);
    return DD_FAIL(DD_ERR_ARG, "no background weight inside the TS bins at R = %g", r);
  }
  if (nrbkg) {
    fill_1d(t, nrbkg, r, t->nrb, t->nrb_w2, NULL, NULL, NULL);
    t->nrb_tot = sum_bins(t->nrb, k);
  }
  return stats_template_set_signal(t, sig, sigma_ref_cm2);
}

dd_status stats_template_set_signal(stats_template *t, const stats_events *sig,
                                    double sigma_ref_cm2) {
  if (t->ny != 1 || !t->alpha) return DD_FAIL(DD_ERR_ARG, "not a built 1-D template");
  if (!(sigma_ref_cm2 > 0.0))
    return DD_FAIL(DD_ERR_ARG, "sigma_ref = %g cm^2 must be > 0", sigma_ref_cm2);
  DD_TRY(check_events("signal", sig, t->r), "TS template at R = %g", t->r);
  memset(t->alpha, 0, (size_t)t->k * sizeof(double));
  memset(t->alpha_w2, 0, (size_t)t->k * sizeof(double));
  memset(t->alpha_n, 0, (size_t)t->k * sizeof(long));
  fill_1d(t, sig, t->r, t->alpha, t->alpha_w2, t->alpha_n, NULL, &t->n_sig_out);
  t->n_sig = sig->n;
  t->alpha_tot = sum_bins(t->alpha, t->k);
  t->sigma_ref_cm2 = sigma_ref_cm2;
  return DD_OK;
}

/* ------------------------------------------------------------------- 2-D */

static dd_status check_events2d(const char *bank, const stats_events2d *ev) {
  if (!ev || ev->n <= 0)
    return DD_FAIL(DD_ERR_ARG, "%s bank (cS1, cS2) is empty: a template needs events", bank);
  if (!ev->cs1 || !ev->cs2 || !ev->weight)
    return DD_FAIL(DD_ERR_ARG, "%s bank: missing cs1, cs2 or weight array", bank);
  for (long i = 0; i < ev->n; i++)
    if (!isfinite(ev->cs1[i]) || !isfinite(ev->cs2[i]))
      return DD_FAIL(DD_ERR_ARG, "%s bank: event %ld has cS1 = %g, cS2 = %g", bank, i, ev->cs1[i],
                     ev->cs2[i]);
  return check_weights(bank, ev->n, ev->weight);
}

/* 2-D bin of an event, or -1 outside the ROI. */
static int bin_2d(const stats_template *t, double cs1, double cs2) {
  if (!(cs1 > 0.0) || !(cs2 > 0.0)) return -1;
  if (cs1 < t->edges[0] || cs1 >= t->edges[t->nx]) return -1;
  int ix = edge_search(t->edges, t->nx + 1, cs1);
  const double *ye = t->y_edges + (size_t)ix * (t->ny + 1);
  double y = log10(cs2 / cs1);
  if (y < ye[0] || y >= ye[t->ny]) return -1;
  return ix * t->ny + edge_search(ye, t->ny + 1, y);
}

int stats_template_bin_2d(const stats_template *t, double cs1, double cs2) {
  if (t->ny < 1 || !t->edges || !t->y_edges) return -1;
  return bin_2d(t, cs1, cs2);
}

static void fill_2d(const stats_template *t, const stats_events2d *ev, double *sum, double *sum_w2,
                    long *count, double *half, long *n_out) {
  long out = 0;
  for (long i = 0; i < ev->n; i++) {
    int b = bin_2d(t, ev->cs1[i], ev->cs2[i]);
    if (b < 0) {
      out++;
      continue;
    }
    double w = ev->weight[i];
    sum[b] += w;
    if (sum_w2) sum_w2[b] += w * w;
    if (count) count[b]++;
    if (half) half[(i & 1) * t->k + b] += 2.0 * w;
  }
  if (n_out) *n_out = out;
}

/* Kernel fill (bin->kde): per cS1 slice, the weighted y = log10(cS2/cS1) of
 * the bank's events spread by a Gaussian kernel of width h = scale x 0.9
 * min(sd, IQR/1.349) n_eff^(-1/5) (Silverman) after shrinking every y
 * towards the slice mean by a = 1/sqrt(1 + h^2/sd^2), which keeps the
 * slice's variance (Jones 1991) so the tails are not widened by h.  Event j
 * adds w_j P_jb to bin b, P_jb its kernel mass in the bin (the open end
 * bins keep the total); w2 gets (w_j P_jb)^2, count the effective events
 * (sum w P)^2 / sum (w P)^2.  A slice with fewer than 2 events or no spread
 * is histogrammed. */
#define KDE_FLOOR 1e-9
#define KDE_N0 20.0

static dd_status fill_2d_kde(const stats_template *t, double scale, const stats_events2d *ev,
                             double *sum, double *sum_w2, long *count, double *half, long *n_out) {
  ts_item *it = malloc((size_t)ev->n * sizeof *it);
  double *w2 = calloc((size_t)t->k, sizeof *w2), *ws = calloc((size_t)t->k, sizeof *ws);
  double *kde_tmp = calloc((size_t)t->ny, sizeof *kde_tmp);
  if (!it || !w2 || !ws || !kde_tmp) {
    free(it);
    free(w2);
    free(ws);
    free(kde_tmp);
    return DD_FAIL(DD_ERR_NOMEM, "kernel density of %ld events", ev->n);
  }
  long out = 0;
  for (long i = 0; i < ev->n; i++) out += bin_2d(t, ev->cs1[i], ev->cs2[i]) < 0;
  for (int ix = 0; ix < t->nx; ix++) {
    long m = 0;
    double sw = 0.0, swy = 0.0, sww = 0.0;
    for (long i = 0; i < ev->n; i++) {
      double cs1 = ev->cs1[i], cs2 = ev->cs2[i];
      if (!(cs1 > 0.0) || !(cs2 > 0.0) || cs1 < t->edges[0] || cs1 >= t->edges[t->nx]) continue;
      if (edge_search(t->edges, t->nx + 1, cs1) != ix) continue;
      it[m].ts = log10(cs2 / cs1);
      it[m].w = ev->weight[i];
      it[m].idx = i;
      sw += it[m].w;
      swy += it[m].w * it[m].ts;
      sww += it[m].w * it[m].w;
      m++;
    }
    if (m == 0 || !(sw > 0.0)) continue;
    double mean = swy / sw, var = 0.0;
    for (long j = 0; j < m; j++) var += it[j].w * (it[j].ts - mean) * (it[j].ts - mean);
    double sd = sqrt(var / sw), h = 0.0;
    if (m >= 2 && sd > 0.0) {
      qsort(it, (size_t)m, sizeof *it, ts_item_cmp);
      double iqr = weighted_quantile(it, m, sw, 0.75) - weighted_quantile(it, m, sw, 0.25);
      double spread = iqr > 0.0 ? fmin(sd, iqr / 1.349) : sd;
      h = scale * 0.9 * spread * pow(sw * sw / sww, -0.2);
    }
    const double *ye = t->y_edges + (size_t)ix * (t->ny + 1);
    double a = h > 0.0 ? 1.0 / sqrt(1.0 + h * h / (sd * sd)) : 1.0;
    for (long j = 0; j < m; j++) {
      double y = mean + a * (it[j].ts - mean), w = it[j].w;
      long ev_i = it[j].idx;
      if (!(h > 0.0)) {
        if (y < ye[0] || y >= ye[t->ny]) continue;
        int b = ix * t->ny + edge_search(ye, t->ny + 1, y);
        sum[b] += w;
        w2[b] += w * w;
        ws[b] += w;
        if (half) half[(ev_i & 1) * t->k + b] += 2.0 * w;
        continue;
      }
      /* bins within +-9 h carry the kernel's mass to 2e-19 */
      double lo_y = y - 9.0 * h, hi_y = y + 9.0 * h;
      int b0 = lo_y <= ye[0] ? 0 : edge_search(ye, t->ny + 1, fmin(lo_y, ye[t->ny - 1]));
      int b1 = hi_y >= ye[t->ny] ? t->ny - 1 : edge_search(ye, t->ny + 1, fmax(hi_y, ye[0]));
      for (int yb = b0; yb <= b1; yb++) {
        double pm = stats_norm_sf((ye[yb] - y) / h) - stats_norm_sf((ye[yb + 1] - y) / h);
        if (!(pm > 0.0)) continue;
        int b = ix * t->ny + yb;
        sum[b] += w * pm;
        w2[b] += w * w * pm * pm;
        ws[b] += w * pm;
        if (half) half[(ev_i & 1) * t->k + b] += 2.0 * w * pm;
      }
    }
    /* background (half != NULL): beyond its last events a fixed-bandwidth
     * kernel falls like exp(-d^2/2h^2), far faster than any band, so the
     * estimate would invent background-free tails (and overstate q0).  Each
     * bin is the blend lam KDE + (1 - lam) G of the kernel estimate and the
     * slice's Gaussian band G (its weighted mean and sd) with lam = n_eff /
     * (n_eff + KDE_N0), n_eff the bin's effective MC events, then the slice
     * is rescaled to its total: the kernel decides where the events are, the
     * Gaussian where they are too few;
     * plus a floor of KDE_FLOOR x the slice's total so b_i / s_i never falls
     * below double precision (the likelihood needs nu / n >> 1e-16). */
    if (half && h > 0.0) {
      double tot = 0.0;
      for (int yb = 0; yb < t->ny; yb++) {
        int b = ix * t->ny + yb;
        double g =
            sw * (stats_norm_sf((ye[yb] - mean) / sd) - stats_norm_sf((ye[yb + 1] - mean) / sd));
        double neff = w2[b] > 0.0 ? ws[b] * ws[b] / w2[b] : 0.0, lam = neff / (neff + KDE_N0);
        double v = fmax(lam * sum[b] + (1.0 - lam) * g, KDE_FLOOR * sw);
        tot += v;
        kde_tmp[yb] = v;
      }
      for (int yb = 0; yb < t->ny; yb++) {
        int b = ix * t->ny + yb;
        double v = kde_tmp[yb] * sw / tot, f = sum[b] > 0.0 ? v / sum[b] : 0.0;
        if (sum[b] > 0.0) {
          half[b] *= f;
          half[t->k + b] *= f;
          w2[b] *= f * f;
        } else {
          half[b] = half[t->k + b] = v;
        }
        sum[b] = v;
      }
    }
  }
  for (int b = 0; b < t->k; b++) {
    if (sum_w2) sum_w2[b] += w2[b];
    if (count) count[b] += w2[b] > 0.0 ? (long)floor(ws[b] * ws[b] / w2[b] + 0.5) : 0;
  }
  if (n_out) *n_out = out;
  free(it);
  free(w2);
  free(ws);
  free(kde_tmp);
  return DD_OK;
}

/* Per-slice equal-background y edges; slices with fewer background events
 * than bins take the edges of the whole ROI. */
static dd_status y_quantile_edges(stats_template *t, const stats_events2d *bkg, int ny) {
  ts_item *it = malloc((size_t)bkg->n * sizeof *it);
  if (!it) return DD_FAIL(DD_ERR_NOMEM, "sorting %ld background (cS1, cS2) events", bkg->n);
  /* slice -1 collects the whole ROI (fallback) */
  for (int ix = -1; ix < t->nx; ix++) {
    long m = 0;
    double wtot = 0.0;
    for (long i = 0; i < bkg->n; i++) {
      double cs1 = bkg->cs1[i], cs2 = bkg->cs2[i];
      if (!(cs1 > 0.0) || !(cs2 > 0.0) || cs1 < t->edges[0] || cs1 >= t->edges[t->nx]) continue;
      if (ix >= 0 && edge_search(t->edges, t->nx + 1, cs1) != ix) continue;
      it[m].ts = log10(cs2 / cs1);
      it[m].w = bkg->weight[i];
      it[m].idx = i;
      wtot += it[m].w;
      m++;
    }
    double *ye = t->y_edges + (size_t)(ix < 0 ? t->nx : ix) * (ny + 1);
    if (ix >= 0 && (m < ny || !(wtot > 0.0))) {
      memcpy(ye, t->y_edges + (size_t)t->nx * (ny + 1), (size_t)(ny + 1) * sizeof(double));
      continue;
    }
    if (m == 0 || !(wtot > 0.0)) {
      free(it);
      return DD_FAIL(DD_ERR_ARG, "no background events with weight inside the cS1 ROI");
    }
    qsort(it, (size_t)m, sizeof *it, ts_item_cmp);
    ye[0] = -INFINITY;
    ye[ny] = INFINITY;
    for (int j = 1; j < ny; j++) {
      /* first event reaching the j-th fraction; edge halfway to the next value */
      double target = wtot * j / ny, cum = 0.0;
      long i = 0;
      while (i < m - 1 && (cum += it[i].w) < target) i++;
      double e = i + 1 < m ? it[i].ts + 0.5 * (it[i + 1].ts - it[i].ts) : it[i].ts;
      ye[j] = fmax(e, ye[j - 1]);
    }
  }
  free(it);
  return DD_OK;
}

dd_status stats_template_build_2d(stats_template *t, const stats_binning2d *bin,
                                  const stats_events2d *bkg, const stats_events2d *sig,
                                  const stats_events2d *nrbkg, double sigma_ref_cm2) {
  memset(t, 0, sizeof *t);
  if (!(bin->cs1_range_pe[1] > bin->cs1_range_pe[0]) || bin->cs1_bins < 1 || bin->y_bins < 1)
    return DD_FAIL(DD_ERR_ARG, "classical binning: cS1 range [%g, %g] with %d x %d bins",
                   bin->cs1_range_pe[0], bin->cs1_range_pe[1], bin->cs1_bins, bin->y_bins);
  if (!(sigma_ref_cm2 > 0.0))
    return DD_FAIL(DD_ERR_ARG, "sigma_ref = %g cm^2 must be > 0", sigma_ref_cm2);
  DD_TRY(check_events2d("background", bkg), "classical template");
  DD_TRY(check_events2d("signal", sig), "classical template");
  if (nrbkg) DD_TRY(check_events2d("NR-background", nrbkg), "classical template");
  int nx = bin->cs1_bins;
  int ny = bin->y_rule == STATS_BIN_QUANTILE ? bin->y_bins : bin->y_bins + 2;
  t->nx = nx;
  t->ny = ny;
  t->k = nx * ny;
  t->r = NAN;
  t->min_mc = bin->min_mc;
  dd_status st = dd_calloc((void **)&t->edges, (size_t)nx + 1, sizeof(double), "cS1 edges");
  /* one extra row holds the whole-ROI edges used as fallback */
  if (st == DD_OK)
    st = dd_calloc((void **)&t->y_edges, ((size_t)nx + 1) * ((size_t)ny + 1), sizeof(double),
                   "y edges");
  if (st != DD_OK) {
    stats_template_free(t);
    return st;
  }
  for (int j = 0; j <= nx; j++)
    t->edges[j] =
        j == nx ? bin->cs1_range_pe[1]
                : bin->cs1_range_pe[0] + (bin->cs1_range_pe[1] - bin->cs1_range_pe[0]) * j / nx;
  if (bin->y_rule == STATS_BIN_QUANTILE) {
    st = y_quantile_edges(t, bkg, ny);
  } else if (!(bin->y_range[1] > bin->y_range[0])) {
    st = DD_FAIL(DD_ERR_ARG, "classical y range [%g, %g] is empty", bin->y_range[0],
                 bin->y_range[1]);
  } else {
    for (int ix = 0; ix < nx; ix++) {
      double *ye = t->y_edges + (size_t)ix * (ny + 1);
      ye[0] = -INFINITY;
      ye[ny] = INFINITY;
      for (int j = 0; j <= bin->y_bins; j++)
        ye[j + 1] = j == bin->y_bins
                        ? bin->y_range[1]
                        : bin->y_range[0] + (bin->y_range[1] - bin->y_range[0]) * j / bin->y_bins;
    }
  }
  if (st == DD_OK) st = alloc_hist(t, t->k, nrbkg != NULL);
  if (st != DD_OK) {
    stats_template_free(t);
    return DD_CONTEXT(st, "classical template");
  }
  double wtot = 0.0;
  for (long i = 0; i < bkg->n; i++) wtot += bkg->weight[i];
  t->n_bkg = bkg->n;
  t->w_bkg_mean = wtot / bkg->n;
  t->kde_scale = bin->kde ? bin->kde_scale : 0.0;
  if (bin->kde)
    st = fill_2d_kde(t, t->kde_scale, bkg, t->beta, t->beta_w2, t->beta_n, t->beta_half,
                     &t->n_bkg_out);
  else
    fill_2d(t, bkg, t->beta, t->beta_w2, t->beta_n, t->beta_half, &t->n_bkg_out);
  if (st != DD_OK) {
    stats_template_free(t);
    return DD_CONTEXT(st, "classical template");
  }
  t->beta_tot = sum_bins(t->beta, t->k);
  if (!(t->beta_tot > 0.0)) {
    stats_template_free(t);
    return DD_FAIL(DD_ERR_ARG, "no background weight inside the classical cS1 ROI");
  }
  if (nrbkg) {
    if (t->kde_scale > 0.0)
      st = fill_2d_kde(t, t->kde_scale, nrbkg, t->nrb, t->nrb_w2, NULL, NULL, NULL);
    else
      fill_2d(t, nrbkg, t->nrb, t->nrb_w2, NULL, NULL, NULL);
    if (st != DD_OK) {
      stats_template_free(t);
      return DD_CONTEXT(st, "classical template");
    }
    t->nrb_tot = sum_bins(t->nrb, t->k);
  }
  return stats_template_set_signal_2d(t, sig, sigma_ref_cm2);
}

dd_status stats_template_set_signal_2d(stats_template *t, const stats_events2d *sig,
                                       double sigma_ref_cm2) {
  if (!t->y_edges || !t->alpha) return DD_FAIL(DD_ERR_ARG, "not a built 2-D template");
  if (!(sigma_ref_cm2 > 0.0))
    return DD_FAIL(DD_ERR_ARG, "sigma_ref = %g cm^2 must be > 0", sigma_ref_cm2);
  DD_TRY(check_events2d("signal", sig), "classical template");
  memset(t->alpha, 0, (size_t)t->k * sizeof(double));
  memset(t->alpha_w2, 0, (size_t)t->k * sizeof(double));
  memset(t->alpha_n, 0, (size_t)t->k * sizeof(long));
  if (t->kde_scale > 0.0)
    DD_TRY(
        fill_2d_kde(t, t->kde_scale, sig, t->alpha, t->alpha_w2, t->alpha_n, NULL, &t->n_sig_out),
        "classical signal template");
  else
    fill_2d(t, sig, t->alpha, t->alpha_w2, t->alpha_n, NULL, &t->n_sig_out);
  t->n_sig = sig->n;
  t->alpha_tot = sum_bins(t->alpha, t->k);
  t->sigma_ref_cm2 = sigma_ref_cm2;
  return DD_OK;
}
