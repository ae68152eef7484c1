/* sample.c - one simulated event: energy, position, quanta, S1 and S2
 * detection on the PMT arrays, the S1/S2 waveform summaries, reconstruction,
 * corrections and acceptance (spec §2, §4, §5), and the retry loop.
 *
 * Draw order of one attempt (stream DD_STREAM_EVENT_ER/NR, a = event index,
 * b = retry; fixed, so any event can be regenerated from (seed, class, index)):
 *   1. energy: one uniform u, E = draw_energy(ctx, u)
 *   2. position: uniforms for r^2, phi, depth
 *   3. quanta: yields.c (NEST: Nq normal + ion binomial (ER) or Ni, Nex
 *      normals (NR), then the recombination (skew-)normal; laidbax: Nq normal,
 *      [NR: detectable binomial], p_e normal, electron binomial); with the ER
 *      tail bias, the attempt's first word picks the proposal's component
 *      (when 0 < fraction < 1), the recombination normal comes from that
 *      component, and p/q goes into
 *      det_event.weight (det_bias_state, docs/detector.md §11)
 *   4. S1: detected photons binomial; per detected photon in turn:
 *      [nest2: exciton uniform], array uniform, PMT (below 96 photons:
 *      proposal word and acceptance uniform until accepted; else one
 *      uniform through the cumulative weights), one uniform for
 *      the double-PE emission and the area, hit uniform(s), then its
 *      emission time (s1_photon_time: model-specific draws)
 *      -> the attempt ends here if the S1 fails the coincidence
 *   5. S2: surviving-electron binomial, extracted binomial, transverse
 *      centroid (2 normals), per electron: diffusion normal and trapping
 *      exponential; photons per top PMT (Poisson, channel order), bottom
 *      photons (Poisson), their split over the electrons (sequential
 *      binomials); per-PMT areas (tabulated exact distribution below 8
 *      photons, else the normal aggregate) in channel order, bottom area
 *   6. reconstruction: x, y normals
 * Aggregate draws replace per-photon ones where the result has the same
 * distribution (PMT multinomials, electron photon counts); the S2 waveform is
 * the expectation over the photon delays given the electrons (see
 * docs/detector.md, "Statistical shortcuts"). */
#include "det_internal.h"

#include <math.h>
#include <string.h>

/* The record has no padding, so its bytes (hashes, files) are defined. */
_Static_assert(sizeof(det_event) ==
                   8 + 4 + 4 + 19 * 8 + 8 * 4 +
                       (2 + 2 * DET_WF_COLS + DET_MAX_PMT_BOTTOM + DET_MAX_PMT_TOP) * 4,
               "det_event has padding");

#define S1_GUIDES 128       /* guide table of the S1 PMT choice (Chen and Asau) */
#define S1_TABLE_MIN_PHD 96 /* from this many S1 photons on: weight table, else rejection */

/* NEST v2 S1 timing constants (NEST.cpp PhotonTime, arXiv:1802.06162) and
 * XENONnT SR0 optical transport at the TPC centre (XENONnT_SR0.hh OptTrans;
 * its z polynomials diverge outside the LUX-sized range they were fitted in). */
#define NEST_TAU1_NS 3.27
#define NEST_TAU1_ERR 0.66
#define NEST_TAU3_NR_NS 23.97
#define NEST_TAU3_NR_ERR 0.17
#define NEST_TAU3_ER_NS 25.89
#define NEST_TAU3_ER_ERR 0.06
#define NEST_RATIO_NR 0.269
#define NEST_RATIO_ER 0.042
#define NEST_TAUR_NR_EXCITON 0.5
#define OPT_A_DIRECT 0.048467
#define OPT_B_A 0.99373
#define OPT_TAU_A 11.15
#define OPT_TAU_B 4.5093
#define OPT_JITTER 3.84
/* pax_nest2014 ([P] _base.ini l.409-419, simulation.py l.36-43, 599-634) */
#define PAX14_TAU1 3.1
#define PAX14_TAU3 24.0
#define PAX14_NR_SINGLET (1.0 / (1.0 + 1.0 / 7.8))
#define PAX14_ER_PRIMARY_SINGLET (1.0 / (1.0 + 1.0 / 0.17))
#define PAX14_ER_SECONDARY_SINGLET (1.0 / (1.0 + 1.0 / 0.8))
#define PAX14_ER_RECOMB_FRACTION 0.9
#define PAX14_MAX_RECOMB_NS 50.0

/* Per-call scratch (on the stack: nothing is allocated per event). */
typedef struct s1_photon {
  float t_ns;
  float area_pe;
} s1_photon;

typedef struct scratch {
  double cw[2][DET_PMT_CAP];        /* S1 cumulative collection weights per array */
  uint8_t guide[2][S1_GUIDES];      /* guide[a][g]: first PMT with cw >= g total / S1_GUIDES */
  s1_photon ph[DET_MAX_S1_PHD];     /* detected S1 photons: time and area */
  s1_photon ph_tmp[DET_MAX_S1_PHD]; /* merge-sort buffer */
  float hit_t[DET_MAX_S1_PHD];      /* counted-hit times */
  uint16_t hit_ch[DET_MAX_S1_PHD];
  uint8_t stamp[DET_MAX_PMT_TOP + DET_MAX_PMT_BOTTOM];
  float s1_buf[DET_MAX_S1_BINS + 2 * DET_PULSE_BINS]; /* S1 bins with a margin each side */
  float e_t[DET_MAX_ELECTRONS];                       /* electron arrival - mean drift time, ns */
  float e_c[DET_MAX_ELECTRONS];                       /* photons of that electron */
  int act[DET_MAX_ELECTRONS];                         /* electrons active in a bisection */
  double s2w[DET_MAX_PMT_TOP];
  uint32_t n_pmt[DET_MAX_PMT_TOP]; /* photons per top PMT */
  float s1w[DET_PMT_CAP];
  double colF[DET_WF_COLS + 1], colD[DET_WF_COLS + 2];
} scratch;

double det_energy_flat(void *ctx, double u) {
  const det_energy_flat_ctx *c = ctx;
  return c->lo_kev + (c->hi_kev - c->lo_kev) * u;
}

double det_energy_exponential(void *ctx, double u) {
  const det_energy_exp_ctx *c = ctx;
  double a = exp(-c->lo_kev / c->scale_kev), b = exp(-c->hi_kev / c->scale_kev);
  return -c->scale_kev * log(a - u * (a - b));
}

/* A draw from a tabulated inverse CDF (DET_AREA_Q quantiles, linear in u
 * between them, the end quantiles beyond). */
static inline double area_from_table(const float *q, double u) {
  double x = u * DET_AREA_Q - 0.5;
  if (x <= 0.0) return q[0];
  int j = (int)x;
  if (j >= DET_AREA_Q - 1) return q[DET_AREA_Q - 1];
  double f = x - j;
  return q[j] + f * (q[j + 1] - q[j]);
}

/* Area of n S2 photons (each 1 PE, plus a second with P_dpe; SPE areas
 * truncated Gaussians of unit mean): below DET_AREA_EXACT photons from the
 * tabulated distribution of that sum (one uniform), above it the normal of
 * the same mean and variance. */
static double s2_photons_area(const det_model *m, dd_rng *r, uint64_t n) {
  if (n < DET_AREA_EXACT) return area_from_table(m->photon_area_q[n], dd_rng_uniform32(r));
  double nd = (double)n;
  double a = nd * m->s2_photon_mean + sqrt(nd * m->s2_photon_var) * dd_sample_normal(&m->smp, r);
  return a > 0.0 ? a : 0.0;
}

/* Emission-to-PE time of one S1 photon (ns after the interaction). */
static double s1_photon_time(const det_model *m, int cls, int exciton, double e_kev, dd_rng *r) {
  const det_params *p = &m->p;
  double t = 0.0;
  if (p->s1_timing == DET_S1_PAX_SIMPLE) {
    t = dd_sample_exponential(&m->smp, r, p->s1_simple_decay_ns);
    return t + p->tts_ns * dd_sample_normal(&m->smp, r);
  }
  if (p->s1_timing == DET_S1_PAX_NEST2014) {
    double singlet;
    if (cls == DET_NR) {
      singlet = PAX14_NR_SINGLET;
    } else {
      /* primary excimer share (NEST 0.9.8 via pax simulation.py) */
      double rho = p->density_g_cm3;
      double ex = 0.4 - 0.11131 * rho - 0.0026651 * rho * rho;
      ex = 1.0 / (1.0 + ex);
      ex /= 1.0 - (1.0 - ex) * (1.0 - PAX14_ER_RECOMB_FRACTION);
      if (dd_rng_uniform32(r) < ex) {
        singlet = PAX14_ER_PRIMARY_SINGLET;
      } else {
        double tr = 3.5 / 0.18 * (1.0 / 20.0 + 0.41) * exp(-0.009 * p->drift_field_v_cm);
        t = fmin(tr * (1.0 / dd_rng_uniform32(r) - 1.0), PAX14_MAX_RECOMB_NS);
        singlet = PAX14_ER_SECONDARY_SINGLET;
      }
    }
    double tau = dd_rng_uniform32(r) < singlet ? PAX14_TAU1 : PAX14_TAU3;
    t += dd_sample_exponential(&m->smp, r, tau);
    return t + p->tts_ns * dd_sample_normal(&m->smp, r);
  }
  /* nest2: recombination delay, singlet or triplet decay, transport, jitter */
  double ratio, tau_r = 0.0, tau3, tau3_err;
  if (cls == DET_NR) {
    ratio = NEST_RATIO_NR;
    tau3 = NEST_TAU3_NR_NS;
    tau3_err = NEST_TAU3_NR_ERR;
    if (exciton) tau_r = NEST_TAUR_NR_EXCITON;
  } else {
    ratio = NEST_RATIO_ER;
    tau3 = NEST_TAU3_ER_NS;
    tau3_err = NEST_TAU3_ER_ERR;
    if (!exciton)
      tau_r = exp(-0.009 * p->drift_field_v_cm) * (7.3138 + 3.8431 * log10(fmin(e_kev, 1e3)));
    if (tau_r < 0.0) tau_r = 0.0;
  }
  if (tau_r > 0.0) t += tau_r * (1.0 / dd_rng_uniform32(r) - 1.0);
  double tau = dd_rng_uniform32(r) < ratio / (1.0 + ratio)
                   ? NEST_TAU1_NS + NEST_TAU1_ERR * dd_sample_normal(&m->smp, r)
                   : tau3 + tau3_err * dd_sample_normal(&m->smp, r);
  if (tau > 0.0) t += dd_sample_exponential(&m->smp, r, tau); /* NEST clips negative times */
  if (dd_rng_uniform32(r) >= OPT_A_DIRECT)
    t += dd_sample_exponential(&m->smp, r, dd_rng_uniform32(r) < OPT_B_A ? OPT_TAU_A : OPT_TAU_B);
  /* electronics jitter and PMT transit-time spread: one combined normal */
  return t + sqrt(OPT_JITTER * OPT_JITTER + p->tts_ns * p->tts_ns) * dd_sample_normal(&m->smp, r);
}

/* Sorts the photons by time: insertion sort for few, else a bottom-up merge
 * sort through the scratch buffer (stable; no comparison callbacks). */
static void sort_photons(s1_photon *ph, s1_photon *tmp, int n) {
  if (n <= 32) {
    for (int i = 1; i < n; i++) {
      s1_photon v = ph[i];
      int j = i - 1;
      while (j >= 0 && ph[j].t_ns > v.t_ns) {
        ph[j + 1] = ph[j];
        j--;
      }
      ph[j + 1] = v;
    }
    return;
  }
  s1_photon *a = ph, *b = tmp;
  for (int w = 1; w < n; w *= 2) {
    for (int lo = 0; lo < n; lo += 2 * w) {
      int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int i = lo, j = mid, k = lo;
      while (i < mid && j < hi) b[k++] = a[j].t_ns < a[i].t_ns ? a[j++] : a[i++];
      while (i < mid) b[k++] = a[i++];
      while (j < hi) b[k++] = a[j++];
    }
    s1_photon *t = a;
    a = b;
    b = t;
  }
  if (a != ph) memcpy(ph, a, sizeof *ph * (size_t)n);
}

/* Column k of an n_b-bin window holds the bins whose centres fall in
 * [k n_b/37, (k+1) n_b/37): first bin ceil(k n_b/37 - 1/2). */
static int col_first_bin(int k, int n_b) {
  return (int)ceil((double)k * n_b / DET_WF_COLS - 0.5);
}

/* w_k of a binned waveform (spec §6.3): mean of the bins in column k, or
 * the bin nearest the column centre when the column holds none. */
static void columns_from_bins(const float *bins, int n_b, float *w /* (37) */) {
  int first[DET_WF_COLS + 1];
  for (int k = 0; k <= DET_WF_COLS; k++) first[k] = col_first_bin(k, n_b);
  for (int k = 0; k < DET_WF_COLS; k++) {
    int b0 = first[k], b1 = first[k + 1];
    if (b1 > b0) {
      double s = 0.0;
      for (int j = b0; j < b1; j++) s += bins[j];
      w[k] = (float)(s / (b1 - b0));
    } else {
      int j = (int)floor((k + 0.5) * n_b / DET_WF_COLS);
      if (j >= n_b) j = n_b - 1;
      w[k] = bins[j];
    }
  }
}

/* S1 displayed window and columns from the detected photons (sorted in
 * place): the cluster starts at the first PE and ends at the first gap longer
 * than s1_max_gap_ns (pax gap clustering); window = [left - pad, right + pad]
 * in 10-ns bins; each PE adds the single-PE pulse integrated over the bins. */
static void s1_waveform(const det_model *m, scratch *s, int n, det_event *ev) {
  const det_params *p = &m->p;
  s1_photon *ph = s->ph;
  sort_photons(ph, s->ph_tmp, n);
  int last = 0;
  while (last + 1 < n && ph[last + 1].t_ns - ph[last].t_ns <= p->s1_max_gap_ns) last++;
  long left = (long)floor(ph[0].t_ns / DET_SAMPLE_NS);
  long right = (long)floor(ph[last].t_ns / DET_SAMPLE_NS);
  long n_b = right - left + 1 + 2L * p->s1_pad_bins;
  if (n_b > DET_MAX_S1_BINS) { /* a freak chain of late photons: truncate */
    n_b = DET_MAX_S1_BINS;
    right = left + n_b - 1 - 2L * p->s1_pad_bins;
  }
  /* bins[j], j in [0, n_b), with DET_PULSE_BINS of margin on both sides so
   * that a pulse never needs a bounds check (the margins are discarded) */
  float *bins = s->s1_buf + DET_PULSE_BINS;
  memset(s->s1_buf, 0, sizeof(float) * (size_t)(n_b + 2 * DET_PULSE_BINS));
  long origin = left - p->s1_pad_bins; /* absolute bin of window bin 0 */
  for (int i = 0; i <= last; i++) {
    double tb = ph[i].t_ns / DET_SAMPLE_NS;
    long b = (long)floor(tb);
    if (b > right) break;
    int phase = (int)((tb - (double)b) * DET_PULSE_PHASES);
    if (phase >= DET_PULSE_PHASES) phase = DET_PULSE_PHASES - 1;
    float *dst = bins + (b - origin - m->pulse_lead_bins), a = ph[i].area_pe;
    const float *pb = m->pulse_bins[phase];
    for (int k = 0; k < DET_PULSE_BINS; k++) dst[k] += a * pb[k];
  }
  columns_from_bins(bins, (int)n_b, ev->s1_wf);
  ev->s1_window_ns = (float)(n_b * DET_SAMPLE_NS);
}

/* Cumulative S2 kernel (with pulse or arrival-only) at x ns after an
 * electron's arrival. */
static inline double kcum(const det_model *m, const float *tab, double x) {
  double i = x - m->kernel_t0_ns;
  if (i < 0.0) return 0.0;
  if (i >= DET_KERNEL_NS - 1) return 1.0;
  return tab[(int)i];
}

/* Quantiles of the photon arrival times (relative to the mean drift time):
 * targets tq[0] < tq[1] in photon units.  The mixture CDF
 * G(x) = sum_e c_e K(x - t_e) is first evaluated on a uniform grid over
 * [lo, hi] (each electron touches only the grid points within the kernel's
 * reach), then refined by bisection to 2 ns inside the bracketing grid
 * interval using only the electrons that can change G there. */
#define QGRID 64           /* most grid intervals */
#define QGRID_MIN_NS 250.0 /* and none narrower: an electron touches few points */
static void s2_quantiles(const det_model *m, scratch *s, int n_e, double lo, double hi,
                         const double *tq, double *xq) {
  double G[QGRID + 1], D[QGRID + 2];
  int ng = (int)ceil((hi - lo) / QGRID_MIN_NS);
  if (ng > QGRID) ng = QGRID;
  if (ng < 1) ng = 1;
  double dx = (hi - lo) / ng, t0 = m->kernel_t0_ns, reach = m->kernel_reach_ns;
  for (int k = 0; k <= ng; k++) G[k] = 0.0;
  for (int k = 0; k <= ng + 1; k++) D[k] = 0.0;
  for (int e = 0; e < n_e; e++) {
    double c = s->e_c[e], te = s->e_t[e];
    if (c == 0.0) continue;
    int k = (int)ceil((te + t0 - lo) / dx);
    if (k < 0) k = 0;
    for (; k <= ng && lo + k * dx < te + reach; k++)
      G[k] += c * kcum(m, m->kernel_arr, lo + k * dx - te);
    if (k <= ng) D[k] += c;
  }
  double run = 0.0;
  for (int k = 0; k <= ng; k++) {
    run += D[k];
    G[k] += run;
  }
  for (int i = 0; i < 2; i++) {
    int k = 0;
    while (k < ng && G[k + 1] < tq[i]) k++;
    double a = lo + k * dx, b = a + dx;
    /* electrons fully before the interval count as constants */
    double base = 0.0;
    int n_act = 0;
    for (int e = 0; e < n_e; e++) {
      double c = s->e_c[e], te = s->e_t[e];
      if (c == 0.0 || te + t0 >= b) continue;
      if (te + reach <= a)
        base += c;
      else
        s->act[n_act++] = e;
    }
    while (b - a > 2.0) {
      double mid = 0.5 * (a + b), g = base;
      for (int j = 0; j < n_act; j++) {
        int e = s->act[j];
        g += s->e_c[e] * kcum(m, m->kernel_arr, mid - s->e_t[e]);
      }
      if (g < tq[i])
        a = mid;
      else
        b = mid;
    }
    xq[i] = 0.5 * (a + b);
  }
}

/* Photon-weighted waveform summed over the 37 columns of a window starting
 * at relative time x0 (ns) with n_b bins: col[k] = expected photons in column
 * k.  Only boundaries within the kernel's reach of an electron need a table
 * lookup; later ones take its full weight through a difference array. */
static void s2_column_sums(const det_model *m, scratch *s, int n_e, double x0, int n_b,
                           double *col /* (37) */) {
  double bnd[DET_WF_COLS + 1];
  for (int k = 0; k <= DET_WF_COLS; k++) bnd[k] = x0 + DET_SAMPLE_NS * col_first_bin(k, n_b);
  double *F = s->colF, *D = s->colD;
  memset(F, 0, sizeof(double) * (DET_WF_COLS + 1));
  memset(D, 0, sizeof(double) * (DET_WF_COLS + 2));
  double reach = m->kernel_reach_ns, colw = DET_SAMPLE_NS * n_b / DET_WF_COLS;
  for (int e = 0; e < n_e; e++) {
    double te = s->e_t[e], c = s->e_c[e];
    if (c == 0.0) continue;
    double lo = te + m->kernel_t0_ns, hi = te + reach;
    /* first boundary above lo: the boundaries are nearly uniform, so guess
     * arithmetically and correct */
    int k = (int)((lo - x0) / colw);
    if (k < 0) k = 0;
    if (k > DET_WF_COLS + 1) k = DET_WF_COLS + 1;
    while (k > 0 && bnd[k - 1] > lo) k--;
    while (k <= DET_WF_COLS && bnd[k] <= lo) k++;
    for (; k <= DET_WF_COLS && bnd[k] < hi; k++) F[k] += c * kcum(m, m->kernel_pulse, bnd[k] - te);
    D[k] += c;
  }
  double run = 0.0;
  for (int k = 0; k <= DET_WF_COLS; k++) {
    run += D[k];
    F[k] += run;
  }
  for (int k = 0; k < DET_WF_COLS; k++) col[k] = F[k + 1] - F[k];
}

/* S1 stage.  Returns 0 if the attempt is rejected here (no light, too much
 * light, or fewer than s1_coincidence PMTs); fills the S1 observables. */
static int simulate_s1(const det_model *m, int cls, const det_quanta *q, double u, dd_rng *r,
                       det_bias_state *bs, scratch *s, det_event *ev, double *t_s1_start) {
  const det_params *p = &m->p;
  double p_det = fmin(1.0, m->g1_phd * det_ly_rel(p, u));
  /* The ER tail bias (docs/detector.md §11) may tilt the detected photons
   * too: the tilted model draws them from Bin(n, p') with p' = p + k sd/n
   * (k = s1_tilt, sd = sqrt(n p (1 - p)); p' capped at (1 + p)/2), more
   * light for the same quanta and so a lower cS2/cS1; the binomial pmf ratio
   * of the drawn count enters the attempt's log ratio whichever component
   * drew it.  With s1_tilt = 0 the draw is the unbiased one. */
  uint64_t n_phd;
  if (bs && bs->b->s1_tilt > 0.0 && q->n_ph > 0 && p_det > 0.0 && p_det < 1.0) {
    double n = (double)q->n_ph;
    double pt = fmin(p_det + bs->b->s1_tilt * sqrt(p_det * (1.0 - p_det) / n), 0.5 * (1.0 + p_det));
    n_phd = dd_sample_binomial(&m->smp, r, (uint64_t)q->n_ph, bs->biased ? pt : p_det);
    double k = (double)n_phd;
    bs->log_ratio += k * log(pt / p_det) + (n - k) * log((1.0 - pt) / (1.0 - p_det));
  } else {
    n_phd = dd_sample_binomial(&m->smp, r, (uint64_t)q->n_ph, p_det);
  }
  ev->n_s1_phd = (int32_t)n_phd;
  if (n_phd == 0 || n_phd > DET_MAX_S1_PHD) return 0;
  /* collection weights w_i = (1 - beta)(1 + rho_i^2/h^2)^(-3/2) + beta of both
   * arrays for this point (spec §4.3).  Since w_i <= 1, a PMT is drawn exactly
   * by proposing a uniform one and accepting it with probability w_i (about
   * 1/mean(w) <= 3.3 tries); for many photons, cumulative weights with a
   * guide table are cheaper per photon. */
  double depth = ev->depth_cm;
  double inv_h2[2], b1[2], b0[2];
  int use_table = n_phd >= S1_TABLE_MIN_PHD;
  for (int a = 0; a < 2; a++) {
    const det_array *arr = &m->arr[a];
    double h = a == DET_BOTTOM ? p->drift_length_cm - depth + p->bottom_pmt_offset_cm
                               : depth + p->top_pmt_offset_cm;
    double beta = a == DET_BOTTOM ? p->s1_diffuse_bottom : p->s1_diffuse_top;
    inv_h2[a] = 1.0 / (h * h);
    b1[a] = 1.0 - beta;
    b0[a] = beta;
    if (!use_table) continue;
    float ih = (float)inv_h2[a], xe = (float)ev->x_cm, ye = (float)ev->y_cm;
    float f1 = (float)b1[a], f0 = (float)b0[a];
    float *w = s->s1w;
    for (int i = 0; i < DET_PMT_CAP; i++) {
      float dx = arr->x_cm[i] - xe, dy = arr->y_cm[i] - ye;
      float sq = 1.0f + (dx * dx + dy * dy) * ih;
      w[i] = f1 / (sq * sqrtf(sq)) + f0;
    }
    double c = 0.0;
    for (int i = 0; i < arr->n; i++) {
      c += w[i];
      s->cw[a][i] = c;
    }
    for (int i = arr->n; i < DET_PMT_CAP; i++) s->cw[a][i] = 2.0 * c + 1.0; /* never chosen */
    /* guide table: a draw starts at the guide of its target and walks up a
     * few entries (inversion with a guide table, Chen and Asau 1974) */
    int i = 0;
    double step = c / S1_GUIDES, tg = 0.0;
    for (int g = 0; g < S1_GUIDES; g++, tg += step) {
      while (i < arr->n - 1 && s->cw[a][i] < tg) i++;
      s->guide[a][g] = (uint8_t)i;
    }
  }
  double aft = det_s1_aft(p, u);
  int n_top = m->arr[DET_TOP].n;
  int rem_ex = q->n_ex, rem_all = q->n_ph;
  int n_hits = 0;
  double s1_top = 0.0, s1_all = 0.0;
  for (uint64_t k = 0; k < n_phd; k++) {
    int exciton = 0;
    if (p->s1_timing == DET_S1_NEST2) { /* detected photons: a random subset */
      exciton = dd_rng_uniform32(r) * rem_all < rem_ex;
      rem_ex -= exciton;
      rem_all--;
    }
    int a = dd_rng_uniform32(r) < aft ? DET_TOP : DET_BOTTOM;
    const det_array *arr = &m->arr[a];
    int lo;
    if (use_table) {
      const double *cw = s->cw[a];
      double ut = dd_rng_uniform32(r), target = ut * cw[arr->n - 1];
      lo = s->guide[a][(int)(ut * S1_GUIDES)]; /* first PMT with cw >= target */
      while (cw[lo] < target) lo++;
    } else {
      for (;;) {
        lo = (int)(((uint64_t)dd_rng_next32(r) * (uint64_t)arr->n) >> 32);
        double dx = arr->x_cm[lo] - ev->x_cm, dy = arr->y_cm[lo] - ev->y_cm;
        double sq = 1.0 + (dx * dx + dy * dy) * inv_h2[a];
        if (dd_rng_uniform32(r) < b1[a] / (sq * sqrt(sq)) + b0[a]) break;
      }
    }
    /* one uniform decides the double-PE emission and, rescaled within its
     * branch, draws the area of the one or two PEs */
    double ud = dd_rng_uniform32(r);
    int dpe = ud < p->p_dpe;
    double ua = dpe ? ud / p->p_dpe : (ud - p->p_dpe) / (1.0 - p->p_dpe);
    double area = area_from_table(m->pe_area_q[dpe ? 2 : 1], ua);
    /* a photon is a counted hit if one of its PEs passes the acceptance
     * (NEST sPEeff); the area is kept: g1 is the calibrated area gain */
    int counted = dd_rng_uniform32(r) < p->hit_eff;
    if (dpe && !counted) counted = dd_rng_uniform32(r) < p->hit_eff;
    double t = s1_photon_time(m, cls, exciton, ev->energy_kev, r);
    area *= arr->qe[lo];
    if (arr->qe[lo] == 0.0f) counted = 0; /* dead PMT */
    s->ph[k].t_ns = (float)t;
    s->ph[k].area_pe = (float)area;
    s1_all += area;
    if (a == DET_TOP)
      s1_top += area;
    else
      ev->s1_pmt_bottom_pe[lo] += (float)area;
    if (counted) {
      s->hit_t[n_hits] = (float)t;
      s->hit_ch[n_hits] = (uint16_t)(a == DET_TOP ? lo : n_top + lo);
      n_hits++;
    }
  }
  /* coincidence: distinct PMTs with a counted hit within the window from the
   * first counted hit */
  int n_pmts = 0;
  if (n_hits > 0) {
    float t0 = s->hit_t[0];
    for (int i = 1; i < n_hits; i++)
      if (s->hit_t[i] < t0) t0 = s->hit_t[i];
    memset(s->stamp, 0, sizeof s->stamp);
    for (int i = 0; i < n_hits; i++)
      if (s->hit_t[i] <= t0 + p->coincidence_window_ns && !s->stamp[s->hit_ch[i]]) {
        s->stamp[s->hit_ch[i]] = 1;
        n_pmts++;
      }
  }
  ev->n_pmts_hit = n_pmts;
  ev->s1_pe = s1_all;
  ev->s1_aft = s1_all > 0.0 ? s1_top / s1_all : 0.0;
  if (n_pmts < p->s1_coincidence || !(s1_all > 0.0)) return 0;
  s1_waveform(m, s, (int)n_phd, ev); /* sorts the photons */
  *t_s1_start = s->ph[0].t_ns;
  return 1;
}

/* S2 stage.  Returns 0 if rejected (no electron, or beyond the electron
 * cap); fills the S2 observables and the drift time.  (xs, ys) gets the S2
 * light source position (after transverse diffusion). */
static int simulate_s2(const det_model *m, const det_quanta *q, dd_rng *r, scratch *s,
                       det_event *ev, double t_s1_start, double *xs, double *ys) {
  const det_params *p = &m->p;
  double td_us = ev->depth_cm / p->drift_velocity_cm_us + p->gate_time_us;
  uint64_t n_surv =
      dd_sample_binomial(&m->smp, r, (uint64_t)q->n_e, exp(-td_us / p->electron_lifetime_us));
  uint64_t n_ext = dd_sample_binomial(&m->smp, r, n_surv, p->extraction_eff);
  ev->n_e_ext = (int32_t)(n_ext > INT32_MAX ? INT32_MAX : n_ext);
  if (n_ext == 0 || n_ext > DET_MAX_ELECTRONS) return 0;
  int n_e = (int)n_ext;
  /* transverse diffusion moves the light source by the electrons' mean shift */
  double sig_t = sqrt(2.0 * p->diffusion_trans_cm2_s * td_us * 1e-6) / sqrt((double)n_e);
  *xs = ev->x_cm + sig_t * dd_sample_normal(&m->smp, r);
  *ys = ev->y_cm + sig_t * dd_sample_normal(&m->smp, r);
  double rs = sqrt(*xs * *xs + *ys * *ys);
  double lam = m->se_photons * det_s2_rel(p, rs);
  double sig_l_ns =
      sqrt(2.0 * p->diffusion_long_cm2_s * td_us * 1e-6) / p->drift_velocity_cm_us * 1e3;
  for (int e = 0; e < n_e; e++) {
    double t = sig_l_ns * dd_sample_normal(&m->smp, r);
    if (p->trapping_time_ns > 0.0) t += dd_sample_exponential(&m->smp, r, p->trapping_time_ns);
    s->e_t[e] = (float)t;
  }
  /* Photon counts.  Every electron emits Poisson(lam) photons and every
   * photon lands on a top PMT or the bottom array independently, so the
   * counts per destination are independent Poissons; given their total, the
   * split over electrons is multinomial with equal probabilities (exact). */
  const det_array *top = &m->arr[DET_TOP];
  double wsum = 0.0;
  for (int i = 0; i < top->n; i++) {
    double dx = top->x_cm[i] - *xs, dy = top->y_cm[i] - *ys;
    double f = (dx * dx + dy * dy) / m->lce_step_cm2;
    int j = (int)f;
    double w;
    if (j >= DET_LCE_TABLE) {
      w = m->lce_tab[DET_LCE_TABLE];
    } else {
      double fr = f - j;
      w = m->lce_tab[j] * (1.0 - fr) + m->lce_tab[j + 1] * fr;
    }
    s->s2w[i] = w;
    wsum += w;
  }
  double mu_top = n_e * lam * p->s2_aft / wsum;
  uint64_t n_top = 0;
  for (int i = 0; i < top->n; i++) {
    s->n_pmt[i] = (uint32_t)dd_sample_poisson(&m->smp, r, mu_top * s->s2w[i]);
    n_top += s->n_pmt[i];
  }
  uint64_t n_bot = dd_sample_poisson(&m->smp, r, n_e * lam * (1.0 - p->s2_aft));
  uint64_t n_ph = n_top + n_bot;
  if (n_ph == 0) return 0;
  uint64_t rem = n_ph;
  double t_min = 1e300, t_max = -1e300;
  for (int e = 0; e < n_e; e++) {
    uint64_t c = e == n_e - 1 ? rem : dd_sample_binomial(&m->smp, r, rem, 1.0 / (n_e - e));
    rem -= c;
    s->e_c[e] = (float)c;
    if (c > 0) {
      if (s->e_t[e] < t_min) t_min = s->e_t[e];
      if (s->e_t[e] > t_max) t_max = s->e_t[e];
    }
  }
  double s2_top = 0.0;
  for (int i = 0; i < top->n; i++) {
    double a = s->n_pmt[i] ? s2_photons_area(m, r, s->n_pmt[i]) * top->qe[i] : 0.0;
    ev->s2_pmt_top_pe[i] = (float)a;
    s2_top += a;
  }
  double s2_bot = s2_photons_area(m, r, n_bot);
  double s2 = s2_top + s2_bot;
  ev->s2_top_pe = s2_top;
  ev->s2_bottom_pe = s2_bot;
  ev->s2_pe = s2;
  ev->s2_aft = s2 > 0.0 ? s2_top / s2 : 0.0;
  /* timing: photon-weighted centre and RMS of the arrival times */
  double sum_t = 0.0, sum_t2 = 0.0, nphd = (double)n_ph;
  for (int e = 0; e < n_e; e++) sum_t += s->e_c[e] * s->e_t[e];
  double tbar = sum_t / nphd;
  for (int e = 0; e < n_e; e++) {
    double d = s->e_t[e] - tbar;
    sum_t2 += s->e_c[e] * d * d;
  }
  double td_ns = td_us * 1e3;
  double t_centre = td_ns + tbar + m->kernel_mean_ns;
  ev->s2_width_us = sqrt(sum_t2 / nphd + m->kernel_var_ns2) * 1e-3;
  ev->drift_time_us = (t_centre - t_s1_start) * 1e-3;
  /* window edges: expected first/last PE, or the 0.1 %/99.9 % quantiles */
  double n_pe = nphd * m->s2_photon_mean;
  double qf = n_pe > p->s2_quantile_min_pe ? 1e-3 : 1.0 / (n_pe + 1.0);
  double lo = t_min + m->kernel_t0_ns, hi = t_max + m->kernel_reach_ns;
  double tq[2] = {qf * nphd, (1.0 - qf) * nphd}, xq[2];
  s2_quantiles(m, s, n_e, lo, hi, tq, xq);
  double x_lo = xq[0], x_hi = xq[1];
  long left = (long)floor((td_ns + x_lo) / DET_SAMPLE_NS);
  long right = (long)floor((td_ns + x_hi) / DET_SAMPLE_NS);
  double area_per_photon = s2 / nphd;
  /* The pad follows the peak height (pax: the highest 10-ns sample), here
   * the largest column mean of the window with the small pad: the expected
   * waveform hardly changes within a column.  A high peak re-bins with the
   * large pad. */
  int n_core = (int)(right - left + 1), pad = p->s2_pad_small_bins;
  double col[DET_WF_COLS];
  int n_b = n_core + 2 * pad;
  s2_column_sums(m, s, n_e, (left - pad) * DET_SAMPLE_NS - td_ns, n_b, col);
  double peak = 0.0;
  for (int k = 0; k < DET_WF_COLS; k++) {
    int nb = col_first_bin(k + 1, n_b) - col_first_bin(k, n_b);
    if (nb > 0 && col[k] / nb * area_per_photon > peak) peak = col[k] / nb * area_per_photon;
  }
  if (peak > p->s2_pad_threshold_pe && p->s2_pad_large_bins != pad) {
    pad = p->s2_pad_large_bins;
    n_b = n_core + 2 * pad;
    s2_column_sums(m, s, n_e, (left - pad) * DET_SAMPLE_NS - td_ns, n_b, col);
  }
  for (int k = 0; k < DET_WF_COLS; k++) {
    int nb = col_first_bin(k + 1, n_b) - col_first_bin(k, n_b);
    ev->s2_wf[k] = nb > 0 ? (float)(col[k] / nb * area_per_photon) : 0.0f;
  }
  ev->s2_window_ns = (float)(n_b * DET_SAMPLE_NS);
  return 1;
}

int det_event_accepted(const det_model *m, const det_event *ev) {
  const det_params *p = &m->p;
  double cs2 = p->cs2_bottom ? ev->cs2_bottom_pe : ev->cs2_pe;
  return ev->n_pmts_hit >= p->s1_coincidence && ev->s1_pe > 0.0 && ev->s2_pe > p->s2_threshold_pe &&
         ev->cs1_pe > p->roi_cs1_min_pe && ev->cs1_pe <= p->roi_cs1_max_pe &&
         cs2 >= p->roi_cs2_min_pe && cs2 <= p->roi_cs2_max_pe;
}

/* One attempt from an initialised stream; b (NULL: unbiased) biases the ER
 * recombination normal (det_bias_state). */
static int simulate_attempt(const det_model *m, int cls, dd_rng *r, const det_bias *b,
                            det_energy_fn draw_energy, void *ctx, scratch *s, det_event *ev) {
  const det_params *p = &m->p;
  memset(ev, 0, sizeof *ev);
  ev->cls = cls;
  ev->weight = 1.0;
  det_bias_state bst = {b, 0, 0.0}, *bs = cls == DET_ER && b ? &bst : NULL;
  if (bs)
    bst.biased = b->fraction >= 1.0 || (b->fraction > 0.0 && dd_rng_uniform32(r) < b->fraction);
  ev->n_pmt_top = m->arr[DET_TOP].n;
  ev->n_pmt_bottom = m->arr[DET_BOTTOM].n;
  /* 1. energy */
  double e = draw_energy(ctx, dd_rng_uniform(r)); /* 53-bit */
  DD_ASSERT(isfinite(e));
  ev->energy_kev = e;
  /* 2. position, uniform in the fiducial cylinder */
  double rad = p->fv_radius_cm * sqrt(dd_rng_uniform(r)); /* 53-bit */
  double phi = 2.0 * DET_PI * dd_rng_uniform32(r);
  ev->x_cm = rad * cos(phi);
  ev->y_cm = rad * sin(phi);
  ev->depth_cm =
      p->fv_depth_min_cm + (p->fv_depth_max_cm - p->fv_depth_min_cm) * dd_rng_uniform32(r);
  double u = ev->depth_cm / p->drift_length_cm;
  /* 3. quanta */
  det_quanta q = det_quanta_draw(m, cls, e, bs, r);
  ev->n_ph = q.n_ph;
  ev->n_e = q.n_e;
  /* 4. S1, 5. S2 */
  double t_s1 = 0.0, xs = ev->x_cm, ys = ev->y_cm;
  if (!simulate_s1(m, cls, &q, u, r, bs, s, ev, &t_s1)) return 0;
  /* the biased draws are behind us: p/q of this attempt (det_bias_state) */
  if (bs) ev->weight = 1.0 / ((1.0 - b->fraction) + b->fraction * exp(bst.log_ratio));
  /* An S1 that puts cS1 far outside the window cannot come back once the
   * depth is reconstructed (|u_rec - u| ~ 1e-3 moves LY_rel by < 0.1 %):
   * reject before the costly S2 with a 20 % margin. */
  double cs1_true = ev->s1_pe / det_ly_rel(p, u);
  if (cs1_true > 1.2 * p->roi_cs1_max_pe || cs1_true * 1.2 <= p->roi_cs1_min_pe) return 0;
  if (!simulate_s2(m, &q, r, s, ev, t_s1, &xs, &ys)) return 0;
  /* 6. reconstruction and corrections (spec §2.6) */
  ev->x_rec_cm = xs + p->pos_res_cm * dd_sample_normal(&m->smp, r);
  ev->y_rec_cm = ys + p->pos_res_cm * dd_sample_normal(&m->smp, r);
  ev->depth_rec_cm = (ev->drift_time_us - p->gate_time_us) * p->drift_velocity_cm_us;
  double u_rec = fmin(1.0, fmax(0.0, ev->depth_rec_cm / p->drift_length_cm));
  double r_rec =
      fmin(p->tpc_radius_cm, sqrt(ev->x_rec_cm * ev->x_rec_cm + ev->y_rec_cm * ev->y_rec_cm));
  double life = exp(-fmax(0.0, ev->drift_time_us) / p->electron_lifetime_us);
  double s2corr = 1.0 / (det_s2_rel(p, r_rec) * life);
  ev->cs1_pe = ev->s1_pe / det_ly_rel(p, u_rec);
  ev->cs2_pe = ev->s2_pe * s2corr;
  ev->cs2_bottom_pe = ev->s2_bottom_pe * s2corr;
  return det_event_accepted(m, ev);
}

int det_event_simulate(const det_model *m, int cls, uint32_t seed, dd_stream stream, uint32_t a,
                       uint32_t b, uint32_t c, det_energy_fn draw_energy, void *ctx,
                       det_event *out) {
  scratch s;
  dd_rng r = dd_rng_for(seed, stream, a, b, c);
  int ok = simulate_attempt(m, cls, &r, NULL, draw_energy, ctx, &s, out);
  out->index = a;
  out->attempts = 1;
  return ok;
}

/* The rejection loop of event (stream, index, c) under bias b. */
static dd_status sample_loop(const det_model *m, int cls, uint32_t seed, dd_stream stream,
                             uint64_t index, uint32_t c, const det_bias *bias,
                             det_energy_fn draw_energy, void *ctx, det_event *out) {
  if (cls != DET_ER && cls != DET_NR)
    return DD_FAIL(DD_ERR_ARG, "class %d is neither ER nor NR", cls);
  if (index > UINT32_MAX)
    return DD_FAIL(DD_ERR_ARG, "event index %llu beyond 2^32", (unsigned long long)index);
  scratch s;
  /* Rejection and the bias.  Every attempt is an independent draw x ~ q (the
   * tilted model) and is kept when A(x) holds (det_event_accepted: observables
   * only).  The kept event's weight is p(x)/q(x) of its own draw; the rejected
   * draws carry no weight but are counted in `attempts`.  For any region B,
   * E_q[1{A, B} p/q] = P_p(A and B), so sum_{kept} weight 1{B} / n_draws
   * (n_draws = sum of attempts, the bank attribute) estimates the true
   * accepted rate in B exactly as count/n_draws does without bias; the
   * acceptance under q (kept/n_draws) differs from the true one, which is
   * sum_{kept} weight / n_draws.  A per-index retry loop does not change this:
   * the attempts of all indices form one sequence of independent draws. */
  for (int b = 0; b < m->p.max_attempts; b++) {
    dd_rng r = dd_rng_for(seed, stream, (uint32_t)index, (uint32_t)b, c);
    if (simulate_attempt(m, cls, &r, bias, draw_energy, ctx, &s, out)) {
      out->index = index;
      out->attempts = (uint32_t)b + 1;
      return DD_OK;
    }
  }
  return DD_FAIL(DD_ERR_NUMERIC,
                 "%s event %llu: no accepted draw in %d attempts (acceptance too low: check the "
                 "energy spectrum and detector.roi_*)",
                 cls == DET_ER ? "ER" : "NR", (unsigned long long)index, m->p.max_attempts);
}

dd_status det_event_sample(const det_model *m, int cls, uint32_t seed, uint64_t index,
                           det_energy_fn draw_energy, void *ctx, det_event *out) {
  dd_stream stream = cls == DET_ER ? DD_STREAM_EVENT_ER : DD_STREAM_EVENT_NR;
  return sample_loop(m, cls, seed, stream, index, 0, det_event_bias(&m->p, cls, index), draw_energy,
                     ctx, out);
}

dd_status det_event_sample_mc(const det_model *m, int cls, uint32_t seed, uint64_t index,
                              det_energy_fn draw_energy, void *ctx, det_event *out) {
  /* the analysis split's bias: UINT64_MAX lies beyond every split */
  return sample_loop(m, cls, seed, DD_STREAM_CLASSICAL_MC, index, (uint32_t)cls,
                     det_event_bias(&m->p, cls, UINT64_MAX), draw_energy, ctx, out);
}

dd_status det_events_simulate(const det_model *m, int cls, uint32_t seed, uint64_t first,
                              uint64_t count, det_energy_fn draw_energy, void *ctx, det_event *out,
                              uint64_t *draws_out) {
  uint64_t draws = 0;
  for (uint64_t i = 0; i < count; i++) {
    DD_TRY(det_event_sample(m, cls, seed, first + i, draw_energy, ctx, &out[i]),
           "simulating events");
    draws += out[i].attempts;
  }
  if (draws_out) *draws_out = draws;
  return DD_OK;
}
