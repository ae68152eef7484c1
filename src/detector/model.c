/* model.c - det_model_init: the PMT arrays with their fixed per-PMT QE and dead
 * mask (DD_STREAM_DETECTOR: a = channel, b = purpose), and the per-detector
 * tables that make per-event simulation cheap: the S2 top-array LCE over
 * rho^2, the S2 single-photon delay kernel (luminescence in the gas gap, gas
 * excimer decay, PMT transit-time spread, with and without the single-PE pulse)
 * as CDFs on a 1-ns grid, and the single-PE pulse integrated over 10-ns bins
 * for each sub-sample phase (pax `digitizer_response`). */
#include "det_internal.h"

#include <math.h>
#include <string.h>

/* XENON1T single-PE pulse, amplitude at 1-ns steps from -12 ns to 196 ns
 * around its maximum ([P] XENON1T.ini pe_pulse_ys, l.227). */
#define PULSE_T0 (-12)
#define PULSE_N 209
static const double k_pulse[PULSE_N] = {
    1.18008e-13, 2.0151e-11,  1.79966e-09, 8.48007e-08, 2.1437e-06,  3.0103e-05,  0.000252465,
    0.00142373,  0.00594659,  0.0181028,   0.0378551,   0.0548947,   0.0607148,   0.0584407,
    0.0538666,   0.0492851,   0.0450636,   0.0412024,   0.037672,    0.0344442,   0.0314929,
    0.0287945,   0.0263273,   0.0240715,   0.0220089,   0.0201231,   0.0183989,   0.0168224,
    0.015381,    0.0137867,   0.0123374,   0.00632022,  0.00594109,  0.00556196,  0.00518283,
    0.00480369,  0.00442456,  0.00404543,  0.0036663,   0.00330304,  0.00295565,  0.00289396,
    0.00283228,  0.0027706,   0.00270891,  0.00264723,  0.00258555,  0.00252386,  0.00246218,
    0.00240162,  0.00234217,  0.00230291,  0.00226365,  0.00222439,  0.00218512,  0.00214586,
    0.0021066,   0.00206734,  0.00202807,  0.00198975,  0.00195235,  0.00193178,  0.00191121,
    0.00189064,  0.00187006,  0.00184949,  0.00182892,  0.00180834,  0.00178777,  0.00176728,
    0.00174686,  0.00172786,  0.00170885,  0.00168984,  0.00167084,  0.00165183,  0.00163283,
    0.00161382,  0.00159481,  0.00157618,  0.00155793,  0.00154645,  0.00153496,  0.00152348,
    0.001512,    0.00150051,  0.00148903,  0.00147755,  0.00146606,  0.00145457,  0.00144307,
    0.00143142,  0.00141978,  0.00140813,  0.00139649,  0.00138484,  0.0013732,   0.00136155,
    0.0013499,   0.00133936,  0.00132993,  0.00134038,  0.00135084,  0.00136129,  0.00137175,
    0.00138221,  0.00139266,  0.00140312,  0.00141357,  0.00142454,  0.00143603,  0.00145681,
    0.0014776,   0.00149838,  0.00151916,  0.00153994,  0.00156072,  0.00158151,  0.00160229,
    0.00162151,  0.00163918,  0.00162885,  0.00161852,  0.00160819,  0.00159786,  0.00158753,
    0.00157719,  0.00156686,  0.00155653,  0.00154541,  0.00153349,  0.00150735,  0.0014812,
    0.00145505,  0.0014289,   0.00140275,  0.00137661,  0.00135046,  0.00132431,  0.00129885,
    0.00127406,  0.00126155,  0.00124903,  0.00123652,  0.00122401,  0.00121149,  0.00119898,
    0.00118647,  0.00117395,  0.00116216,  0.00115108,  0.00115291,  0.00115474,  0.00115656,
    0.00115839,  0.00116022,  0.00116205,  0.00116388,  0.00116571,  0.00116707,  0.00116797,
    0.00116055,  0.00115312,  0.00114569,  0.00113826,  0.00113083,  0.0011234,   0.00111597,
    0.00110855,  0.00109849,  0.00108581,  0.00102587,  0.000965934, 0.000905995, 0.000846056,
    0.000786116, 0.000726177, 0.000666238, 0.000606298, 0.000548218, 0.000491997, 0.000469243,
    0.000446489, 0.000423735, 0.000400981, 0.000378227, 0.000355473, 0.000332719, 0.000309965,
    0.000287844, 0.000266358, 0.000256281, 0.000246205, 0.000236128, 0.000226051, 0.000215974,
    0.000205898, 0.000195821, 0.000185744, 0.000176133, 0.000166987, 0.000166216, 0.000165446,
    0.000164676, 0.000163906, 0.000163135, 0.000162365, 0.000161595, 0.000160824};

/* Purposes (counter word b) of DD_STREAM_DETECTOR draws. */
enum { DETECTOR_RNG_QE = 0, DETECTOR_RNG_DEAD = 1 };

static void pmt_randomness(det_model *m) {
  const det_params *p = &m->p;
  int base = 0;
  for (int a = 0; a < 2; a++) {
    det_array *arr = &m->arr[a];
    for (int i = 0; i < arr->n; i++) {
      double q = 1.0;
      if (p->qe_spread > 0.0) {
        dd_rng r =
            dd_rng_for(m->seed, DD_STREAM_DETECTOR, (uint32_t)(base + i), DETECTOR_RNG_QE, 0);
        do q = 1.0 + p->qe_spread * dd_rng_normal(&r);
        while (q <= 0.05);
      }
      arr->qe[i] = (float)q;
    }
    /* dead PMTs: the k-th pick uses counter (k, DEAD, array); re-draws skip
     * PMTs already dead */
    int dead = p->dead_pmts < arr->n ? p->dead_pmts : arr->n - 1;
    dd_rng r = dd_rng_for(m->seed, DD_STREAM_DETECTOR, 0, DETECTOR_RNG_DEAD, (uint32_t)a);
    for (int k = 0; k < dead; k++) {
      uint32_t i;
      do i = dd_rng_below(&r, (uint32_t)arr->n);
      while (arr->qe[i] == 0.0f);
      arr->qe[i] = 0.0f;
    }
    base += arr->n;
  }
}

/* Linear interpolation of the pulse amplitude at time t (ns from its max). */
static double pulse_at(double t) {
  double x = t - PULSE_T0;
  if (x <= 0.0 || x >= PULSE_N - 1) return 0.0;
  int i = (int)x;
  double f = x - i;
  return k_pulse[i] * (1.0 - f) + k_pulse[i + 1] * f;
}

/* Pulse mass on a 1-ns grid: pm[k] = integral over [PULSE_T0 + k, +1). */
static void pulse_mass(double *pm /* (PULSE_N) */) {
  double tot = 0.0;
  for (int k = 0; k < PULSE_N; k++) {
    double s = 0.0;
    for (int j = 0; j < 10; j++) s += pulse_at(PULSE_T0 + k + (j + 0.5) / 10.0) / 10.0;
    pm[k] = s;
    tot += s;
  }
  for (int k = 0; k < PULSE_N; k++) pm[k] /= tot;
}

static void pulse_bin_tables(det_model *m, const double *pm) {
  /* A PE at t = 10 j + phase + 0.5 ns puts pm[k] into the 10-ns bin that
   * holds t + PULSE_T0 + k + 0.5; bins are counted from j - lead. */
  m->pulse_lead_bins = 2;
  memset(m->pulse_bins, 0, sizeof m->pulse_bins);
  for (int ph = 0; ph < DET_PULSE_PHASES; ph++) {
    double t = ph + 0.5;
    for (int k = 0; k < PULSE_N; k++) {
      double tk = t + PULSE_T0 + k + 0.5;
      int b = (int)floor(tk / DET_SAMPLE_NS) + m->pulse_lead_bins;
      DD_ASSERT(b >= 0 && b < DET_PULSE_BINS);
      m->pulse_bins[ph][b] += (float)pm[k];
    }
  }
}

/* S2 photon delay kernels on a 1-ns grid starting at kernel_t0_ns. */
static void s2_kernels(det_model *m, const double *pm) {
  const det_params *p = &m->p;
  enum { N = DET_KERNEL_NS };
  double a[N], b[N];                                 /* scratch, init time only */
  double t0 = -(double)(int)(5.0 * p->tts_ns + 2.0); /* TTS tail before zero */
  m->kernel_t0_ns = t0;
  int z = (int)(-t0); /* grid index of t = 0 */
  /* luminescence: uniform over [0, tau_gap) */
  memset(a, 0, sizeof a);
  double g = p->gas_gap_time_ns;
  for (int k = 0; k < N - z; k++) {
    double lo = k, hi = k + 1.0;
    if (lo >= g) break;
    a[z + k] = (fmin(hi, g) - lo) / g;
  }
  /* gas excimer: singlet/triplet exponentials, exact 1-ns bin masses */
  double e[N];
  for (int k = 0; k < N; k++) {
    double fs = p->gas_singlet_fraction;
    e[k] = fs * (exp(-k / p->gas_singlet_ns) - exp(-(k + 1.0) / p->gas_singlet_ns)) +
           (1.0 - fs) * (exp(-k / p->gas_triplet_ns) - exp(-(k + 1.0) / p->gas_triplet_ns));
  }
  memset(b, 0, sizeof b);
  for (int i = 0; i < N; i++)
    if (a[i] > 0.0)
      for (int k = 0; i + k < N; k++) b[i + k] += a[i] * e[k];
  /* transit-time spread: Gaussian masses over +-5 sigma */
  memset(a, 0, sizeof a);
  int w = (int)(5.0 * p->tts_ns) + 1;
  double gm[2 * 200 + 1];
  if (w > 200) w = 200;
  double gsum = 0.0;
  for (int k = -w; k <= w; k++) {
    gm[k + w] = p->tts_ns > 0.0 ? exp(-0.5 * (k * k) / (p->tts_ns * p->tts_ns)) : (k == 0);
    gsum += gm[k + w];
  }
  for (int i = 0; i < N; i++)
    if (b[i] > 0.0)
      for (int k = -w; k <= w; k++)
        if (i + k >= 0 && i + k < N) a[i + k] += b[i] * gm[k + w] / gsum;
  double c = 0.0;
  for (int i = 0; i < N; i++) {
    c += a[i];
    m->kernel_arr[i] = (float)c;
  }
  /* with the single-PE pulse (mass pm[k] at offset PULSE_T0 + k) */
  memset(b, 0, sizeof b);
  for (int i = 0; i < N; i++)
    if (a[i] > 0.0)
      for (int k = 0; k < PULSE_N; k++) {
        int j = i + PULSE_T0 + k;
        if (j >= 0 && j < N) b[j] += a[i] * pm[k];
      }
  c = 0.0;
  for (int i = 0; i < N; i++) {
    c += b[i];
    m->kernel_pulse[i] = (float)c;
  }
  /* the tails beyond the grid are < 1e-5: close the CDFs at 1 */
  for (int i = 0; i < N; i++) {
    m->kernel_arr[i] /= (float)m->kernel_arr[N - 1];
    m->kernel_pulse[i] /= (float)m->kernel_pulse[N - 1];
  }
  int last = N - 1;
  while (last > 0 && m->kernel_arr[last - 1] >= 1.0f - 1e-6f &&
         m->kernel_pulse[last - 1] >= 1.0f - 1e-6f)
    last--;
  m->kernel_reach_ns = t0 + last + 1.0;
  double fs = p->gas_singlet_fraction;
  double mex = fs * p->gas_singlet_ns + (1.0 - fs) * p->gas_triplet_ns;
  double m2ex = 2.0 * (fs * p->gas_singlet_ns * p->gas_singlet_ns +
                       (1.0 - fs) * p->gas_triplet_ns * p->gas_triplet_ns);
  m->kernel_mean_ns = g / 2.0 + mex;
  m->kernel_var_ns2 = g * g / 12.0 + (m2ex - mex * mex) + p->tts_ns * p->tts_ns;
}

/* Inverse CDF of masses at grid points i h (mass i spread evenly over
 * [(i - 1/2) h, (i + 1/2) h)) at the DET_AREA_Q quantiles u_j = (j + 1/2)/Q. */
static void invert_masses(const double *mass, int n, double h, float *q) {
  double tot = 0.0;
  for (int i = 0; i < n; i++) tot += mass[i];
  double c = 0.0;
  int i = 0;
  for (int j = 0; j < DET_AREA_Q; j++) {
    double u = (j + 0.5) / DET_AREA_Q * tot;
    while (i < n - 1 && c + mass[i] < u) c += mass[i++];
    double f = mass[i] > 0.0 ? (u - c) / mass[i] : 0.5;
    double x = (i - 0.5 + f) * h;
    q[j] = (float)(x > 0.0 ? x : 0.0);
  }
}

/* acc (*) y -> out, masses at grid points; y non-zero below ny */
static void convolve(const double *acc, const double *y, int ny, double *out, int n) {
  memset(out, 0, sizeof(double) * (size_t)n);
  for (int i = 0; i < n; i++)
    if (acc[i] > 0.0)
      for (int j = 0; j < ny && i + j < n; j++) out[i + j] += acc[i] * y[j];
}

/* Area distributions of one and two PEs (truncated Gaussian SPE scaled to
 * unit mean) and of n = 1..7 S2 photons (each one PE, a second with P_dpe),
 * by repeated convolution of masses on a fine grid. */
static void area_tables(det_model *m) {
  enum { NG = 4096 };
  const double h = 2.0 * DET_AREA_EXACT * 3.0 / NG; /* to 48 PE: 7 photons, 2 PE, 3 x the mean */
  double one[NG], two[NG], y[NG], acc[NG], tmp[NG];
  double s = m->p.spe_res, tot = 0.0;
  memset(one, 0, sizeof one);
  if (s > 0.0) {
    for (int i = 1; i < NG; i++) { /* SPE x spe_norm has density pdf(x / spe_norm) */
      double x = i * h / m->spe_norm;
      one[i] = exp(-0.5 * (x - 1.0) * (x - 1.0) / (s * s));
      tot += one[i];
    }
    for (int i = 0; i < NG; i++) one[i] /= tot;
  } else {
    one[(int)(1.0 / h + 0.5)] = 1.0;
  }
  int n1 = NG;
  while (n1 > 1 && one[n1 - 1] < 1e-18) n1--;
  convolve(one, one, n1, two, NG);
  invert_masses(one, NG, h, m->pe_area_q[1]);
  invert_masses(two, NG, h, m->pe_area_q[2]);
  memcpy(m->pe_area_q[0], m->pe_area_q[1], sizeof m->pe_area_q[0]); /* slot 0 unused */
  for (int i = 0; i < NG; i++) y[i] = (1.0 - m->p.p_dpe) * one[i] + m->p.p_dpe * two[i];
  int ny = NG;
  while (ny > 1 && y[ny - 1] < 1e-18) ny--;
  memcpy(acc, y, sizeof acc);
  invert_masses(acc, NG, h, m->photon_area_q[1]);
  for (int n = 2; n < DET_AREA_EXACT; n++) {
    convolve(acc, y, ny, tmp, NG);
    memcpy(acc, tmp, sizeof acc);
    invert_masses(acc, NG, h, m->photon_area_q[n]);
  }
  memcpy(m->photon_area_q[0], m->photon_area_q[1], sizeof m->photon_area_q[0]); /* unused */
}

dd_status det_model_init(det_model *m, const det_params *p, uint32_t seed) {
  memset(m, 0, sizeof *m);
  DD_TRY(det_params_validate(p, NULL), "detector model");
  m->p = *p;
  m->seed = seed;
  dd_sampler_init(&m->smp);
  det_layout_fill(p->layout, &m->arr[DET_TOP], &m->arr[DET_BOTTOM]);
  pmt_randomness(m);
  m->g1_phd = p->g1_pe / (1.0 + p->p_dpe);
  m->se_photons = p->se_gain_pe / (1.0 + p->p_dpe);
  m->td_max_us = p->drift_length_cm / p->drift_velocity_cm_us + p->gate_time_us;
  m->w_ev = p->yield_model == DET_YIELD_NEST2 ? det_nest_w_ev(p->density_g_cm3) : 1000.0 / 73.0;
  /* SPE area: Gauss(1, s) truncated at 0, rescaled to unit mean (as NEST's
   * FindNewMean); spe_sigma_eff is the std of the rescaled area. */
  if (p->spe_res > 0.0) {
    double al = -1.0 / p->spe_res;
    double phi = exp(-0.5 * al * al) / sqrt(2.0 * DET_PI);
    double tail = 0.5 * erfc(al / sqrt(2.0)); /* 1 - Phi(alpha) */
    double lam = phi / tail;
    double mean = 1.0 + p->spe_res * lam;
    double var = p->spe_res * p->spe_res * (1.0 + al * lam - lam * lam);
    m->spe_norm = 1.0 / mean;
    m->spe_sigma_eff = sqrt(var) / mean;
  } else {
    m->spe_norm = 1.0;
    m->spe_sigma_eff = 0.0;
  }
  m->s2_photon_mean = 1.0 + p->p_dpe;
  area_tables(m);
  m->s2_photon_var =
      (1.0 + p->p_dpe) * m->spe_sigma_eff * m->spe_sigma_eff + p->p_dpe * (1.0 - p->p_dpe);
  /* S2 top LCE over rho^2 in [0, (2.2 R)^2] */
  double rho2_max = 4.84 * p->tpc_radius_cm * p->tpc_radius_cm;
  m->lce_step_cm2 = rho2_max / DET_LCE_TABLE;
  for (int i = 0; i <= DET_LCE_TABLE; i++) {
    double r2 = i * m->lce_step_cm2;
    m->lce_tab[i] = (float)((1.0 - p->s2_lce_b) *
                                pow(1.0 + r2 / (p->s2_lce_d_cm * p->s2_lce_d_cm), -p->s2_lce_p) +
                            p->s2_lce_a_per_cm * sqrt(r2) + p->s2_lce_b);
  }
  double pm[PULSE_N];
  pulse_mass(pm);
  pulse_bin_tables(m, pm);
  s2_kernels(m, pm);
  return DD_OK;
}

void det_model_free(det_model *m) {
  (void)m;
}
