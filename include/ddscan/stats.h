/* stats.h - anomaly scores, TS templates, and the tests of the background-only
 * hypothesis: the paper's Pearson chi^2 (`paper`), a binned profile-likelihood
 * ratio q0 (`sound`), Poisson pseudo-experiments (`toys`) and the classical
 * (cS1, log10 cS2/cS1) baseline; tail probabilities to 1e-300; 5-sigma contours.
 * Spec: ../shared/specs/statistics.md (section numbers below refer to it). */
#ifndef DDSCAN_STATS_H
#define DDSCAN_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "ddscan/cfg.h"  /* uses: cfg_doc */
#include "ddscan/core.h" /* uses: dd_status, dd_rng, dd_sampler */

/* ======================================================================== */
/* Parameters (config group `stats`)                                          */
/* ======================================================================== */

/* Methods; a scan selects any subset (scan.methods, include/ddscan/scan.h). */
typedef enum stats_method {
  STATS_METHOD_PAPER = 0,     /* Pearson chi^2 between Asimov histograms, 1 dof (§3) */
  STATS_METHOD_SOUND = 1,     /* profile-likelihood ratio q0 on the TS histogram (§5) */
  STATS_METHOD_TOYS = 2,      /* q0 (and chi^2_P) calibrated with pseudo-experiments (§5.4) */
  STATS_METHOD_CLASSICAL = 3, /* the `sound` engine on the (cS1, log10 cS2/cS1) histogram */
  STATS_N_METHODS = 4
} stats_method;
/* "paper", "sound", "toys", "classical". */
const char *stats_method_name(stats_method m);

typedef enum stats_bin_rule {
  STATS_BIN_UNIFORM = 0, /* equal width between two background quantiles (+ under/overflow) */
  STATS_BIN_QUANTILE = 1 /* equal expected background, >= min_mc MC events per bin, open ends */
} stats_bin_rule;

/* Binning of the 1-D TS histogram (stats.binning).  Bins are [lo, hi). */
typedef struct stats_binning {
  stats_bin_rule rule;
  int bins;          /* uniform: interior bins; quantile: target number of bins */
  double range_q[2]; /* uniform: interior range = these background-TS quantiles */
  int min_mc;        /* quantile: minimum background MC events per bin (merging) */
  int underflow;     /* uniform: keep a (-inf, lo) bin (else those events are dropped) */
  int overflow;      /* uniform: keep a [hi, +inf) bin */
} stats_binning;

/* Binning of the classical 2-D histogram (stats.classical): x = cS1 [PE],
 * y = log10(cS2/cS1).  Events outside the cS1 range are outside the ROI. */
typedef struct stats_binning2d {
  double cs1_range_pe[2]; /* ROI in cS1 [PE] */
  int cs1_bins;           /* uniform bins in cS1 */
  stats_bin_rule y_rule;  /* quantile: per cS1 slice, equal background, open ends */
  int y_bins;             /* bins in y per cS1 slice */
  double y_range[2];      /* uniform rule: y range, plus under/overflow bins */
  int min_mc;             /* quantile rule: minimum background MC events per 2-D bin */
  int kde;                /* 1: y densities by a Gaussian kernel per cS1 slice (density = "kde") */
  double kde_scale;       /* bandwidth factor on Silverman's rule (stats.classical.bandwidth) */
  long long mc_events;    /* stats.classical.mc_events: detector-MC events per class for the
                             templates (scan stage); 0 = the scored events of /scores */
} stats_binning2d;

typedef enum stats_paper_bkg {
  STATS_PAPER_SHARED = 0,     /* n = b + s exactly (Asimov; §3 "shared") */
  STATS_PAPER_INDEPENDENT = 1 /* b from the even, n from the odd background events (§3) */
} stats_paper_bkg;

typedef enum stats_five_sigma {
  STATS_FIVE_P_ONE_SIDED = 0, /* chi^2_P threshold 26.33761 (p = Phibar(5) = 2.8665e-7) */
  STATS_FIVE_CHI2_25 = 1      /* chi^2_P threshold 25 (p = 5.733e-7, two-sided 5 sigma) */
} stats_five_sigma;

typedef enum stats_zero_bkg {
  STATS_ZERO_BKG_FLOOR = 0, /* b_i := mean background MC weight, one effective MC event, flagged */
  STATS_ZERO_BKG_ERROR = 1  /* DD_ERR_NUMERIC naming the bin */
} stats_zero_bkg;

/* Nuisance parameters of `sound`, `toys` and `classical` (§5.2). */
typedef struct stats_nuisances {
  int er_norm;          /* ER normalisation theta_ER with a Gaussian constraint */
  double er_norm_width; /* relative width (0.049 = 0.6/12.3) */
  int nr_bkg;           /* include the NR background template (its events must be given) */
  double nr_bkg_width;  /* relative width of theta_NR (0.23 = 0.5/2.2) */
  int mc_stat; /* full Barlow-Beeston: each template's bin constrained by its effective MC count */
} stats_nuisances;

typedef struct stats_params {
  stats_binning binning;       /* TS histogram (paper, sound, toys) */
  stats_binning2d classical;   /* classical histogram */
  stats_paper_bkg paper_bkg;   /* stats.paper_bkg */
  stats_five_sigma five_sigma; /* stats.five_sigma */
  stats_zero_bkg zero_bkg;     /* stats.zero_bkg */
  stats_nuisances nuis;        /* stats.sound */
  long toys;                   /* pseudo-experiments per hypothesis and grid point */
  int toys_importance;         /* importance sampling for small p (§7.4) */
  double toys_max_rel_err;     /* stats.toys.max_rel_err: warn above this relative p error */
  double low_bkg_min;          /* low-count warning: a bin with s/b > low_sb_ratio has b < this */
  double low_sb_ratio;
  double low_total_bkg_min; /* ... or the total background is below this */
  double r_band[2];         /* R range of the contour band (§6.5) */
  double mc_ratio_min;      /* stats.mc_ratio_min: flag points whose MC-to-data ratio is below */
  double limit_cl;          /* stats.limits.cl: confidence level of the upper limits (0.9) */
  double limit_power_min;   /* stats.limits.power_constraint: minimal power M_0(mu) of a
                               CLs+b limit (power-constrained limit, Cowan et al.
                               arXiv:1105.3166); 0 = off (default), 0.1587 = the -1 sigma rule */
} stats_params;

/* Reads group `stats` (defaults of spec §10) and validates it. */
dd_status stats_params_load(cfg_doc *cfg, stats_params *p);
/* One INFO line per setting. */
void stats_params_print(const stats_params *p);

/* ======================================================================== */
/* Special functions: tails and quantiles down to p = 1e-300                   */
/* ======================================================================== */

/* Standard normal survival Phibar(z) = 1 - Phi(z), accurate in relative terms
 * for all z (0 below ~ -38.5 only through underflow of exp). */
double stats_norm_sf(double z);
/* log Phibar(z), finite for every finite z (asymptotic series beyond z = 30). */
double stats_norm_logsf(double z);
/* Inverse survival: z with Phibar(z) = p, p in (0, 1).  This is the one-sided
 * conversion Z = Phi^-1(1 - p) computed as -Phi^-1(p) (no 1 - p cancellation).
 * Acklam's rational approximation + one Halley step; log-space Newton below
 * p = 1e-300.  p <= 0 gives +inf, p >= 1 gives -inf. */
double stats_norm_isf(double p);
/* The same from log p (logp <= 0); use when p underflows. */
double stats_norm_isf_log(double logp);

/* chi^2 with k dof (k >= 1): survival Q(k/2, x/2), its log, and the inverse
 * survival (x with sf = p).  k = 1 goes through erfc, k = 2 is exp(-x/2), other
 * k use the regularised incomplete gamma (series / Lentz continued fraction).
 * Relative accuracy ~1e-13 down to 1e-300; logsf stays finite beyond. */
double stats_chi2_sf(double x, int k);
double stats_chi2_logsf(double x, int k);
double stats_chi2_isf(double p, int k);
double stats_chi2_isf_log(double logp, int k);

/* log1p(x) - x without cancellation (series for |x| < 1e-2). */
double stats_log1pmx(double x);
/* The q0,A bin term of spec §2.2: (s + b) ln(1 + s/b) - s, as
 * b [(1 + x) log1p(x) - x] with x = s/b and a series for x < 1e-2.
 * b > 0, s >= 0 (b == 0 with s > 0 gives +inf: callers guard). */
double stats_qa_term(double s, double b);

/* ======================================================================== */
/* Significance: statistic -> (p, log p, Z), thresholds, power (significance.c) */
/* ======================================================================== */

/* The significances the thresholds are quoted at: discovery and evidence. */
#define STATS_Z_DISCOVERY 5.0
#define STATS_Z_EVIDENCE 3.0

/* Asymptotic null distribution of a statistic. */
typedef enum stats_convention {
  STATS_CONV_CHI2_1DOF = 0, /* paper's chi^2_P: chi^2 with 1 dof, a two-sided p (Eq. 13);
                               Z = Phibar^-1(p) is its one-sided label (§3) */
  STATS_CONV_Q0 = 1         /* q0: half chi^2_1, one-sided; Z = sqrt(q0), p = Phibar(Z) (§2.1) */
} stats_convention;
/* PAPER: chi^2_1dof; SOUND, TOYS, CLASSICAL: q0. */
stats_convention stats_method_convention(stats_method method);

/* A p-value with its log (finite when p underflows) and significance Z. */
typedef struct stats_signif {
  double p;
  double log_p;
  double z;
} stats_signif;

/* p, log p and Z of a statistic value t >= 0 under convention conv.
 * chi^2_1dof: p = Q(1/2, t/2) = erfc(sqrt(t/2)), Z from log p.
 * q0: Z = sqrt(t), p = Phibar(Z), log p = log Phibar(Z). */
stats_signif stats_signif_of(stats_convention conv, double t);
/* The same from a p-value (toys): log p = log(p), Z = Phibar^-1(p). */
stats_signif stats_signif_from_p(double p);

/* One-sided p <-> Z (spec §2.1): p = Phibar(Z), Z = Phibar^-1(p). */
static inline double stats_p_from_z(double z) {
  return stats_norm_sf(z);
}
static inline double stats_z_from_p(double p) {
  return stats_norm_isf(p);
}

/* The statistic value whose asymptotic p is the one-sided Phibar(z): z^2 for
 * q0, chi2_isf(Phibar(z), 1) for chi^2_1dof (26.33761216 at z = 5). */
double stats_stat_at_z(stats_convention conv, double z);
/* The method's 5-sigma threshold: 25 for q0; for chi^2_P 26.33761216
 * (stats.five_sigma = "p_one_sided") or 25 ("chi2_25"). */
double stats_threshold5(const stats_params *p, stats_method method);
/* The method's 3-sigma threshold: 9 for q0, 10.27301807 for chi^2_P (the
 * one-sided p; stats.five_sigma only selects the 5-sigma rule). */
double stats_threshold3(const stats_params *p, stats_method method);

/* Discovery power at median significance z_a (§2.4): P(Z >= z_thr) =
 * Phi(z_a - z_thr), e.g. z_thr = STATS_Z_DISCOVERY. */
double stats_power(double z_a, double z_thr);

/* ======================================================================== */
/* Per-event anomaly scores (spec §1.1-1.2, paper Eqs. 8, 10, 11)               */
/* ======================================================================== */

/* H_B = -log(1 - p_CNN) from the CNN logit z: softplus(z) = log1p(exp(z)),
 * z + log1p(exp(-z)) for z > 30.  Finite for every finite z. */
double stats_hb_from_logit(double z);
/* H_B from probabilities when only p is available: -log1p(-p) with p clamped
 * to <= 1 - 2^-24 (p_is_float32) or 1 - 2^-53.  hb[i] for i < n; the number
 * of clamped events goes to *n_clamped.  p outside [0, 1] or NaN is DD_ERR_ARG
 * naming the index.  p and hb: (n); hb may alias p. */
dd_status stats_hb_from_prob(const double *p, long n, int p_is_float32, double *hb,
                             long *n_clamped);
/* L_rec = MSE + beta * KL (Eq. 8; the paper's beta is 0.5). */
static inline double stats_lrec(double mse, double kl, double beta) {
  return mse + beta * kl;
}
/* TS(R) = L_rec + R * H_B (Eq. 10). */
static inline double stats_ts(double l_rec, double h_b, double r) {
  return l_rec + r * h_b;
}

/* ======================================================================== */
/* Templates: binned expected counts per t.y                                    */
/* ======================================================================== */

/* One bank of scored events (all borrowed; n entries each).  Weights are the
 * expected events per t.y that each simulated event stands for (spec §1.3):
 * background w = rate x efficiency / N_sim; signal w = alpha_tot(m, sigma_ref)/N_sim. */
typedef struct stats_events {
  long n;
  const double *l_rec;  /* (n) MSE + beta KL */
  const double *h_b;    /* (n) -log(1 - p_CNN) */
  const double *weight; /* (n) events/(t.y), >= 0 */
} stats_events;

/* Events for the classical analysis (all borrowed; n entries each). */
typedef struct stats_events2d {
  long n;
  const double *cs1;    /* (n) corrected S1 [PE] */
  const double *cs2;    /* (n) corrected S2 [PE] */
  const double *weight; /* (n) events/(t.y), >= 0 */
} stats_events2d;

/* Binned templates of one work unit: background beta_i and signal alpha_i in
 * events per t.y (signal at sigma_ref), sums of squared weights and MC counts.
 * Exposure E and cross-section sigma enter later: b_i = E beta_i,
 * s_i = E (sigma/sigma_ref) alpha_i.  Build with stats_template_build(_2d),
 * free with stats_template_free (accepts a zeroed struct). */
typedef struct stats_template {
  int k;                /* number of bins (all kept bins, incl. under/overflow) */
  int nx, ny;           /* 1-D: nx = k, ny = 1.  2-D: k = nx * ny, bin = ix * ny + iy */
  double r;             /* TS weight R of a 1-D template; NAN for 2-D */
  double sigma_ref_cm2; /* cross-section at which alpha is given */
  double *edges;        /* owned; 1-D: (k+1) TS edges (+-INFINITY at open ends);
                           2-D: (nx+1) cS1 edges [PE] */
  double *y_edges;      /* owned; 2-D: (nx, ny+1) log10(cS2/cS1) edges per slice; else NULL */
  double *beta;         /* owned (k): background events/(t.y) */
  double *beta_w2;      /* owned (k): sum of squared background weights */
  long *beta_n;         /* owned (k): background MC events */
  double *beta_half;    /* owned (2, k): background from even / odd events, each x2 */
  double *alpha;        /* owned (k): signal events/(t.y) at sigma_ref */
  double *alpha_w2;     /* owned (k) */
  long *alpha_n;        /* owned (k) */
  double *nrb;          /* owned (k) NR-background events/(t.y), NULL when not given */
  double *nrb_w2;       /* owned (k) or NULL */
  double beta_tot, alpha_tot, nrb_tot; /* totals inside the kept bins */
  double w_bkg_mean;                   /* mean background MC weight (the zero-background floor) */
  long n_bkg, n_sig;                   /* events given */
  long n_bkg_out, n_sig_out;           /* events outside every kept bin (dropped) */
  double kde_scale;                    /* 2-D kernel fill: bandwidth factor (0: histogram) */
  int merged_bins;                     /* quantile rule: bins merged to reach min_mc */
  int min_mc;                          /* the binning's min_mc (LOW_MC flag threshold) */
} stats_template;

/* 1-D TS templates at weight R: bin edges from the background by `bin`, then
 * background, signal and (optional, may be NULL) NR-background histograms.
 * Errors (DD_ERR_ARG, naming the bank and index): no background or signal
 * events, a negative or non-finite weight, a non-finite TS, zero total
 * background weight, a degenerate range (all background TS equal).
 * Allocates O(n_bkg) scratch for sorting once per call. */
dd_status stats_template_build(stats_template *t, const stats_binning *bin, const stats_events *bkg,
                               const stats_events *sig, const stats_events *nrbkg, double r,
                               double sigma_ref_cm2);
/* Refills alpha (signal) of an existing template with another signal bank
 * (another WIMP mass), keeping the edges and the background. */
dd_status stats_template_set_signal(stats_template *t, const stats_events *sig,
                                    double sigma_ref_cm2);
/* Classical 2-D templates in (cS1, log10 cS2/cS1); events with cS1 or cS2 <= 0
 * or cS1 outside the ROI are dropped (counted in n_*_out).  bin->kde: every
 * bank's y density in each cS1 slice is a variance-preserving Gaussian kernel
 * estimate (Silverman bandwidth x kde_scale, events shrunk towards the slice
 * mean by 1/sqrt(1 + h^2/sd^2), Jones 1991) integrated over the y bins, so
 * sparse tails get smooth contents; *_w2 is then sum (w P_ib)^2 (the
 * estimate's variance) and *_n the effective MC events per bin. */
dd_status stats_template_build_2d(stats_template *t, const stats_binning2d *bin,
                                  const stats_events2d *bkg, const stats_events2d *sig,
                                  const stats_events2d *nrbkg, double sigma_ref_cm2);
dd_status stats_template_set_signal_2d(stats_template *t, const stats_events2d *sig,
                                       double sigma_ref_cm2);
void stats_template_free(stats_template *t);
/* Bin of a TS value in a 1-D template, or -1 when it falls in no kept bin. */
int stats_template_bin(const stats_template *t, double ts);
/* Bin of an event (cS1, cS2 in PE) in a 2-D classical template, or -1
 * outside the ROI (the rule the template was filled with). */
int stats_template_bin_2d(const stats_template *t, double cs1, double cs2);

/* ======================================================================== */
/* The binned Poisson likelihood engine (spec §2, §5)                           */
/* ======================================================================== */

/* A binned model at one (sigma, E), in expected events:
 *   nu_i = mu S_i + theta_ER B_i + theta_NR C_i
 * with Gaussian constraints (theta_ER - g_er)^2 / (2 sigma_er^2), the same for
 * theta_NR (a width of 0 fixes the parameter at its centre; INFINITY leaves
 * it free: shape-only), and MC statistics as full Barlow-Beeston (Barlow &
 * Beeston, CPC 77 (1993) 219; Conway, arXiv:1103.0354): a template with an
 * effective MC count m_i > 0 in bin i has S_i = s_i A_i / m_i with its true MC
 * mean A_i constrained by the auxiliary count a_i ~ Poisson(A_i) (a_i = m_i
 * unless given; toys draw them), profiled per bin.  m = (sum w)^2 / sum w^2
 * for weighted MC.  A NULL array, or m_i = 0 or INFINITY, is an exact
 * template.  Pointers are borrowed.  b_i > 0 is required wherever s_i > 0
 * (templates guard it). */
typedef struct stats_model {
  int k;
  const double *s;            /* (k) signal at mu = 1 */
  const double *b;            /* (k) ER background */
  const double *c;            /* (k) NR background, or NULL */
  const double *ms, *mb, *mc; /* (k) effective MC counts of s, b, c, or NULL (exact) */
  const double *as, *ab, *ac; /* (k) auxiliary MC counts, or NULL (= ms, mb, mc) */
  double sigma_er;            /* theta_ER constraint width (0 fixed, INFINITY free) */
  double sigma_nr;            /* theta_NR constraint width (ignored when c == NULL) */
  double g_er, g_nr;          /* constraint centres (1; toys draw them) */
} stats_model;

/* 1 when any template of m carries MC statistics (ms, mb or mc set). */
int stats_model_has_mc(const stats_model *m);
/* Profiled (Barlow-Beeston) expectation nu (k) of every bin for data n
 * (NULL: Asimov s + b + c) at (mu, theta_ER, theta_NR): the MC means that
 * maximise the likelihood at these strengths.  Never negative.  DD_ERR_NUMERIC
 * when a bin has data but nothing can be expected. */
dd_status stats_bb_expect(const stats_model *m, const double *n, double mu, double theta_er,
                          double theta_nr, double *nu);
/* The same profile with its Barlow-Beeston MC means: a_hat (3k, template j
 * of bin i at a_hat[j k + i]; j = signal, ER, NR) gets the fitted true MC
 * mean A_j of every template that carries MC statistics and has an
 * expectation there, NAN elsewhere; nu (k) the expectation. */
dd_status stats_bb_means(const stats_model *m, const double *n, double mu, double theta_er,
                         double theta_nr, double *a_hat, double *nu);

/* Fit summary: q0 and the maximum-likelihood estimates. */
typedef struct stats_fit {
  double q0;      /* -2 ln lambda(0), 0 when mu_hat = 0 (one-sided, §2.1); NAN from stats_qmu */
  double qmu;     /* stats_qmu: q~mu at mu_test (Cowan et al. 2011 eq. 16); NAN from stats_q0 */
  double mu_hat;  /* unconditional, mu >= 0 */
  double mu_test; /* stats_qmu: the tested signal strength */
  double theta_er_hat, theta_nr_hat;
  double theta_er_0, theta_nr_0;   /* conditional fit at mu = 0 */
  double theta_er_mu, theta_nr_mu; /* stats_qmu: conditional fit at mu = mu_test */
  int iterations;                  /* Newton iterations of all fits (0 for closed forms) */
} stats_fit;

/* A model with every nuisance off and centres at 1. */
stats_model stats_model_simple(int k, const double *s, const double *b);

/* q0 for observed counts n (k; non-negative, integer or not), or for the
 * Asimov data set n_i = s_i + b_i + c_i (mu' = 1, nuisances nominal) when
 * n == NULL.  Closed forms where they exist (known background: §2.2 and the
 * monotone 1-D score equation; ER normalisation only: §2.6), otherwise a
 * bounded Newton/Levenberg-Marquardt fit over (mu, theta_ER, theta_NR) with
 * the Barlow-Beeston MC means of every bin profiled exactly (a monotone 1-D
 * root per bin).  DD_ERR_NUMERIC when a bin
 * has n_i > 0 but no background (q0 infinite) or a fit does not converge. */
dd_status stats_q0(const stats_model *m, const double *n, stats_fit *fit);
/* The test of a signal strength (upper limits): q~mu of Cowan, Cranmer,
 * Gross, Vitells, EPJC 71 (2011) 1554, eq. 16, for data n (k, required:
 * callers build Asimov arrays themselves):
 *   q~mu = -2 ln[L(mu_test, theta hat-hat(mu_test)) / L(mu_hat, theta_hat)]
 * with mu_hat clipped to [0, mu_test]: 0 when mu_hat > mu_test, and L(0,
 * theta hat-hat(0)) in the denominator when the maximum lies at mu < 0.  The
 * same nuisance model and profiling as stats_q0 (the conditional fit is
 * stats_q0's mu = 0 fit at mu_test; no closed-form shortcut).  Fills qmu,
 * mu_hat, mu_test, theta_*_hat, theta_*_0 and theta_*_mu.  DD_ERR_ARG when
 * n is NULL or mu_test is negative or not finite; DD_ERR_NUMERIC when a bin
 * has data but nothing expected at mu_test, or a fit does not converge. */
dd_status stats_qmu(const stats_model *m, const double *n, double mu_test, stats_fit *fit);
/* Asimov q0,A of the known-background model: 2 sum qa_term(s_i, b_i). */
double stats_q0_asimov_simple(int k, const double *s, const double *b);
/* Closed form of §2.6 on Asimov data (nuisance theta_ER only, width
 * sigma_theta, INFINITY = shape-only); *theta0 gets the conditional theta. */
double stats_q0_asimov_norm(int k, const double *s, const double *b, double sigma_theta,
                            double *theta0);
/* Pearson chi^2_P = sum_{b_i + n_i > 0} (b_i - n_i)^2 / (b_i + n_i) (§3). */
double stats_pearson(int k, const double *b, const double *n);
/* Discovery Z of one counting bin with background uncertainty sigma_b (§2.5,
 * Cowan 2012); sigma_b = 0 gives eq. 97. */
double stats_z_count_syst(double s, double b, double sigma_b);

/* Low-count check (§7.6): STATS_FLAG_LOW_COUNT when the bins with s_i/b_i >
 * p->low_sb_ratio expect fewer than p->low_bkg_min background events in all,
 * or sum b < p->low_total_bkg_min. */
unsigned stats_lowcount(const stats_params *p, int k, const double *s, const double *b);

/* ======================================================================== */
/* Evaluation at one grid point                                               */
/* ======================================================================== */

/* Result flags (bit mask). */
enum {
  STATS_FLAG_FLOORED = 1u << 0,     /* a bin with signal had no background MC (floored) */
  STATS_FLAG_LOW_COUNT = 1u << 1,   /* §7.6: asymptotics doubtful */
  STATS_FLAG_P_UNDERFLOW = 1u << 2, /* p < DBL_MIN: use log_p */
  STATS_FLAG_NONMONOTONE = 1u << 3, /* contour: monotonicity failed, dense-scan fallback */
  STATS_FLAG_NO_ROOT = 1u << 4,     /* contour: threshold not reached in the search range */
  STATS_FLAG_AT_ZERO = 1u << 5,     /* contour: threshold already exceeded at sigma -> 0 */
  STATS_FLAG_INDEPENDENT = 1u << 6, /* paper: independent background halves */
  STATS_FLAG_CHI2_25 = 1u << 7,     /* paper: 5-sigma threshold chi^2 = 25 */
  STATS_FLAG_TOY_IS = 1u << 8,      /* toys: p from importance sampling */
  STATS_FLAG_TOY_LIMITED = 1u << 9, /* toys: p beyond what the toys resolve (upper bound) */
  STATS_FLAG_LOW_MC = 1u << 10,     /* the signal-rich bins hold < min_mc effective ER MC in all */
  STATS_FLAG_MC_RATIO = 1u << 11,   /* MC-to-data ratio below stats.mc_ratio_min (mcratio.c) */
  STATS_FLAG_TOY_ERR = 1u << 12     /* toys: contour MC error above stats.toys.max_rel_err */
};

/* Comma-separated names of the set flags ("floored, low-count"), "" for
 * none, written into buf (cap bytes, truncated); returns buf.  For warnings
 * and summaries: every flag is a documented condition, never silent. */
const char *stats_flags_describe(unsigned flags, char *buf, size_t cap);

/* Workspace for evaluations, toys and contours of templates with up to k_max
 * bins and up to n_toys toys per hypothesis.  One per worker; reuse it. */
typedef struct stats_work {
  int k_max;
  long n_toys;
  double *s, *b, *c, *n; /* owned (k_max) each */
  double *ms, *mb, *mc;  /* owned (k_max) each: effective MC counts */
  double *aux;           /* owned (3 k_max): toys' auxiliary MC counts */
  double *gen;           /* owned (10 k_max): toys' generating means (null, proposals) */
  double *bh;            /* owned (k_max): paper-independent background */
  double *t, *w;         /* owned (n_toys): toy statistics and IS weights */
  double *pair;          /* owned (2 n_toys): (statistic, weight) pairs */
  dd_sampler *smp;       /* owned: tables of the toys' Poisson sampler */
  double mu_test;        /* the mu tested by STATS_TOY_QMU toys */
} stats_work;
dd_status stats_work_init(stats_work *w, int k_max, long n_toys);
/* Share of the Asimov q0 whose bins decide the MC-to-data ratio. */
#define STATS_MC_RATIO_SHARE 0.9
/* MC-to-data ratio of template t at sigma = mu sigma_ref and exposure E
 * (src/stats/mcratio.c): among the fewest bins holding STATS_MC_RATIO_SHARE
 * of the known-background Asimov q0, the smallest effective background MC
 * events per expected background event, n_eff_i / b_i = bkg_i / (E w2_i)
 * (the NR background included when stats.sound.nr_bkg).  NaN when nothing
 * carries significance.  *n_bins (may be NULL): the bins it looked at.
 * Uses w->n as scratch. */
double stats_mc_ratio(const stats_template *t, const stats_params *p, double mu, double exposure_ty,
                      stats_work *w, int *n_bins);
void stats_work_free(stats_work *w);

/* Expected counts of template t at sigma = mu * sigma_ref and exposure E
 * (t.y), with the nuisance configuration of p for `method` (paper: none):
 * fills w->s, w->b, w->c, w->ms, w->mb, w->mc and *m.  Applies p->zero_bkg to bins with
 * signal and no background (flags |= STATS_FLAG_FLOORED, or DD_ERR_NUMERIC).
 * For paper + independent, w->bh is the background half (b of Eq. 12) and
 * w->b + w->c the other half. */
dd_status stats_model_at(const stats_template *t, const stats_params *p, stats_method method,
                         double mu, double exposure_ty, stats_work *w, stats_model *m,
                         unsigned *flags);

/* Asimov result of one method at one (sigma, E). */
typedef struct stats_result {
  int method; /* stats_method */
  double mu;  /* sigma / sigma_ref */
  double exposure_ty;
  double stat;           /* paper: chi^2_P; sound/classical/toys: q0,A */
  double p;              /* paper: erfc(sqrt(chi^2_P/2)) (1 dof, Eq. 13); else Phibar(sqrt q0) */
  double log_p;          /* ln p, finite when p underflows */
  double z;              /* paper: Phibar^-1(p), the one-sided label; else sqrt(q0,A) = med Z */
  double sqrt_stat;      /* sqrt(stat) */
  double z_band[4];      /* median Z -2, -1, +1, +2 sigma (clipped at 0; §2.3); paper: NAN */
  double power3, power5; /* P(Z >= 3), P(Z >= 5) = Phi(Z_A - 3), Phi(Z_A - 5) (§2.4) */
  double s_tot, b_tot;   /* expected signal and background events */
  double theta_er_0, theta_nr_0; /* conditional (mu = 0) nuisance fit; 1 when fixed */
  unsigned flags;
} stats_result;

/* Evaluates `method` (PAPER, SOUND or CLASSICAL; TOYS gives its Asimov q0,A)
 * at sigma = mu * sigma_ref, exposure E. */
dd_status stats_eval(const stats_template *t, const stats_params *p, stats_method method, double mu,
                     double exposure_ty, stats_work *w, stats_result *out);

/* ======================================================================== */
/* Pseudo-experiments (spec §5.4, §7)                                          */
/* ======================================================================== */

/* Statistic evaluated on each toy. */
typedef enum stats_toy_stat {
  STATS_TOY_Q0 = 0,      /* profile-likelihood q0 of the model */
  STATS_TOY_PEARSON = 1, /* chi^2_P between the toy and the background expectation */
  STATS_TOY_QMU = 2      /* q~mu (stats_qmu) at mu_test = w->mu_test */
} stats_toy_stat;

/* Toys [toy0, toy0 + n) drawn with mu_gen (0: H0, 1: H1): toy j uses
 * dd_rng_for(seed, DD_STREAM_TOYS, point, j, 0) for, in order, the global
 * observables of the enabled constraints (theta_ER, theta_NR, then per bin
 * the auxiliary MC counts a ~ Poisson(m) of its s, b, c templates that carry
 * MC statistics) and then n_i ~ Poisson(mu_gen s_i + b_i + c_i), i = 0..k-1 (core's
 * dd_sample_poisson with the tables w->smp).  Writes the
 * statistic of every toy to t_out (n) and, when w_out is not NULL, the
 * importance weight P(n | H0)/P(n | mu_gen) (n).  Results depend only on
 * (seed, point, j): any split of the toys over workers gives the same values.
 * w->n and w->aux are used as scratch. */
dd_status stats_toys_run(const stats_model *m, stats_toy_stat stat, double mu_gen, uint32_t seed,
                         uint32_t point, long toy0, long n, stats_work *w, double *t_out,
                         double *w_out);

/* Toy summary at one grid point. */
typedef struct stats_toy_result {
  long n_toys;           /* per hypothesis */
  double t_obs;          /* Asimov statistic (q0,A or chi^2_P) */
  double p_h0;           /* P(T >= t_obs | H0): direct, or IS when direct counts < 25 */
  double p_h0_err;       /* its binomial / IS standard error */
  double p_direct;       /* direct-toy estimate (may be 0) */
  double p_is;           /* IS estimate (NAN when IS is off; q0: also when direct counts >= 25) */
  double z_h0;           /* Phibar^-1(p_h0) */
  double log_p_h0;       /* ln p_h0 */
  double p_asym;         /* asymptotic p of t_obs (half chi^2_1 for q0; chi^2_1 for chi^2_P) */
  double p5_h0;          /* P(T >= threshold5 | H0), direct (§4.1 for chi^2_P) */
  double median_h1;      /* lower median of T under H1 */
  double z_med_h1;       /* sqrt(median) for q0; Phibar^-1(p_asym(median)) for chi^2_P */
  double power3, power5; /* P(T >= asymptotic 3/5-sigma threshold | H1) */
  unsigned flags;
} stats_toy_result;

/* Runs p->toys toys under H0 (toys 0..N-1; q0: stats_toys_run_null) and
 * under H1 (toys N..2N-1) at (mu, E) and summarises them; stat picks q0
 * (sound/toys) or chi^2_P.  q0 with importance sampling on and fewer than 25
 * direct H0 toys above t_obs: N more toys (2N..3N-1) of the tilted proposal.
 * w must have n_toys >= p->toys. */
dd_status stats_toys_eval(const stats_template *t, const stats_params *p, stats_toy_stat stat,
                          double mu, double exposure_ty, uint32_t seed, uint32_t point,
                          stats_work *w, stats_toy_result *out);

/* q0 toys toy0 .. toy0+n-1 of (seed, point) under the null of the full
 * nuisance model: every measurement is drawn (main-bin counts, the
 * auxiliary MC counts of every template that carries MC statistics, in its
 * effective-count form, and the global observables of the Gaussian
 * constraints) from the model at the conditional mu = 0 fit of the Asimov
 * data set (nuisances profiled).  x <= 0: plain null toys, weights 1.
 * x > 0: importance sampling for P(q0 >= x | H0) from a defensive mixture
 * of 10 % null, 30 % the main counts tilted to mu_c (known-background q0,A of
 * x, other measurements at the null) and 60 % the dominating point of
 * {q0 >= x}: main counts nu0 + mu_p s, MC counts and global observables
 * where the null's profile scores vanish, mu_p chosen so that its own q0 is
 * x (docs/statistics.md, toys); w_out gets the exact ratio of the full
 * likelihoods P0 / (0.1 P0 + 0.3 Pc + 0.6 P1) (<= 10).  *mu_p (may be
 * NULL) gets mu_p (0 for x <= 0).  w->n, w->aux and w->gen are scratch. */
dd_status stats_toys_run_null(const stats_model *m, double x, uint32_t seed, uint32_t point,
                              long toy0, long n, stats_work *w, double *t_out, double *w_out,
                              double *mu_p);

/* Importance-sampled tail P(q0 >= x | H0) (§7.4) from n_toys toys of
 * stats_toys_run_null(m, x, ...) (toys 0..n-1).  *err is the standard error. */
dd_status stats_toys_is_tail(const stats_model *m, double x, uint32_t seed, uint32_t point,
                             long n_toys, stats_work *w, double *p, double *err);

/* Toy-calibrated threshold (§7.4): the q0 value t with P(q0 >= t | H0) =
 * Phibar(z), from n_toys importance-sampled toys of stats_toys_run_null(m,
 * z^2, ...) (toys 0..n-1 of (seed, point)).  DD_ERR_NUMERIC when the
 * toys do not reach that tail. */
dd_status stats_toys_is_threshold(const stats_model *m, double z, uint32_t seed, uint32_t point,
                                  long n_toys, stats_work *w, double *t_crit);

/* Exact enumeration of P(q0 >= x_j | mu') for a known-background model with
 * k <= 3 bins (§7.2): every n_i in 0..ceil(lambda_i + 12 sqrt(lambda_i) + 30),
 * threshold tolerance 1e-12.  Also the lower median of q0 (smallest q with
 * P(q0 <= q) >= 1/2).  prob: (nx) out.  Allocates the q0 table once. */
dd_status stats_enumerate_q0(int k, const double *s, const double *b, double mu_true,
                             const double *x, int nx, double *prob, double *median_q0);

/* ======================================================================== */
/* Exposure dependence and contours (spec §6)                                  */
/* ======================================================================== */

/* Statistic T(mu, E) as a callback (mu = sigma/sigma_ref, E in t.y). */
typedef dd_status (*stats_stat_fn)(void *ctx, double mu, double exposure_ty, double *t);

/* Root finder of §6.3-6.4: for every E_j, the mu with T(mu, E_j) = t_thr.
 * homogeneous: T(mu, E) = E g(mu) (g = T at E = 1 t.y) is assumed and only g
 * is evaluated.  Otherwise T is evaluated at each E.  Bracket by x2 / /2 in
 * mu from mu = 1 within [1e-20, 1e20], then Brent's method in ln mu to
 * |d ln mu| < tol_ln.  Monotonicity is checked on every evaluation made; on a
 * violation a 241-point log grid over the bracket finds the first crossing
 * (STATS_FLAG_NONMONOTONE).  No root: +INFINITY and STATS_FLAG_NO_ROOT;
 * already above at the lower end: 0 and STATS_FLAG_AT_ZERO.
 * exposure_ty, mu5, flags: (n_e). */
dd_status stats_contour_solve(stats_stat_fn fn, void *ctx, int homogeneous, double t_thr,
                              double tol_ln, const double *exposure_ty, int n_e, double *mu5,
                              unsigned *flags);

/* The contour at any significance z (stats_contour is z = 5): the
 * threshold is the method's statistic at z (q0 = z^2; chi^2_P: the 3- and
 * 5-sigma rules of stats_threshold3/5, else stats_stat_at_z); toys calibrate
 * it by importance sampling at z.  Evidence contours use z = 3. */
dd_status stats_contour_z(const stats_template *t, const stats_params *p, stats_method method,
                          double z, const double *exposure_ty, int n_e, uint32_t seed,
                          uint32_t point, stats_work *w, double *mu_z, unsigned *flags);
/* The same with the MC error of every toy contour point in err (n_e; may be
 * NULL; NAN for Asimov methods and where no root was found): the spread of
 * the toy median at the solution, (q[(N + sqrt N)/2] - q[(N - sqrt N)/2])/2
 * (its 68 % order-statistic interval), over the slope d median/d ln mu from
 * the medians at mu x 1.1 and mu / 1.1, times mu.  The toy-calibrated
 * threshold's own error is not included.  Points with err > mu x
 * p->toys_max_rel_err get STATS_FLAG_TOY_ERR.  Costs 3 x p->toys fits per E. */
dd_status stats_contour_z_err(const stats_template *t, const stats_params *p, stats_method method,
                              double z, const double *exposure_ty, int n_e, uint32_t seed,
                              uint32_t point, stats_work *w, double *mu_z, double *err,
                              unsigned *flags);

/* 5-sigma contour of one template and method: sigma_5sigma(E_j)/sigma_ref in
 * mu5 (n_e).  Asimov methods use the homogeneity fast path when no
 * constrained nuisance is active (§6.1) and the root finder at each E
 * otherwise; TOYS finds where the lower median of q0 under H1 (p->toys toys,
 * common random numbers keyed by (seed, point)) reaches the 5-sigma
 * threshold: importance-sampled per E when p->toys_importance, else 25
 * (bracket + Brent to |d ln mu| < 1e-6; the toy median is a noisy step
 * function, so it gets no monotonicity check).  Cost: ~40 x p->toys fits
 * per E.  flags (n_e) gets the low-count check at the solution and the
 * root-finder flags. */
dd_status stats_contour(const stats_template *t, const stats_params *p, stats_method method,
                        const double *exposure_ty, int n_e, uint32_t seed, uint32_t point,
                        stats_work *w, double *mu5, unsigned *flags);

/* Fig. 8 (§6.2): p and Z versus exposure at fixed sigma = mu sigma_ref.
 * p_out, z_out, log_p_out (may be NULL): (n_e).  Uses T = E g when
 * homogeneous (exact), a full evaluation per E otherwise. */
dd_status stats_p_vs_exposure(const stats_template *t, const stats_params *p, stats_method method,
                              double mu, const double *exposure_ty, int n_e, stats_work *w,
                              double *p_out, double *z_out, double *log_p_out);

/* 1 when T(mu, E) = E g(mu) holds exactly for this method and configuration
 * (Asimov, no constrained nuisance: §6.1, §6.4). */
int stats_is_homogeneous(const stats_params *p, stats_method method);

/* R band (§6.5): mu5 is (n_r, n_e) row-major over R.  For each E, lo/hi = the
 * min/max of mu5 over the R with r_band[0] <= R <= r_band[1] (NAN when none
 * is finite), best[j] = the R index with the smallest mu5 (lowest index on
 * ties; -1 when none finite).  *best_overall = the R index minimising
 * sum_j ln mu5 over E (finite rows only).  lo, hi, best: (n_e). */
void stats_rband(const double *r, int n_r, const double *mu5, int n_e, const double r_band[2],
                 double *lo, double *hi, int *best, int *best_overall);

/* ======================================================================== */
/* Upper limits: the expected exclusion sensitivity (src/stats/limit.c)         */
/* ======================================================================== */

/* Bands of an expected limit: -2, -1, 0 (median), +1, +2 standard deviations
 * of the background-only distribution of the limit. */
#define STATS_N_BAND 5
/* Limit flags (their own mask, /contours/limit_flags). */
enum {
  STATS_LIMIT_NEGATIVE = 1u << 0,   /* a CLs+b band is <= 0 (Cowan eq. 89: spurious exclusion) */
  STATS_LIMIT_PCL = 1u << 1,        /* a CLs+b band was raised to the power constraint */
  STATS_LIMIT_NO_ROOT = 1u << 2,    /* a band was not found in the search range (+inf) */
  STATS_LIMIT_TOY_ZERO = 1u << 3,   /* toys: a band quantile lies below the toy grid (0) */
  STATS_LIMIT_TOY_ERR = 1u << 4,    /* toys: relative MC error of the median above 10 % */
  STATS_LIMIT_NONMONOTONE = 1u << 5 /* the root finder fell back to its dense grid */
};

typedef enum stats_limit_rule {
  STATS_LIMIT_CLSB = 0, /* reject mu when p_mu = P(q~mu >= q~mu,obs | mu) <= 1 - CL */
  STATS_LIMIT_CLS = 1   /* reject mu when CLs = p_mu / (1 - p_b) <= 1 - CL (Read 2002) */
} stats_limit_rule;

/* The Asimov value sqrt(q~mu,A) at which band n_sigma (-2..2) of the expected
 * limit sits (Cowan et al. 2011, arXiv:1007.1727, eqs. 89-90 with sigma^2 =
 * mu^2/q~mu,A, eq. 32): CLs+b: Phi^-1(CL) + N; CLs: Phi^-1(1 - (1 - CL)
 * Phi(N)) + N (the asymptotic CLs band).  The CLs+b value is <= 0 for
 * N <= -Phi^-1(CL) (the -2 sigma band at 90 % CL). */
double stats_limit_z(stats_limit_rule rule, double cl, int n_sigma);

/* q~mu,A: stats_qmu on the background-only Asimov data n_i = b_i + c_i
 * (nuisances nominal) of model m (s at mu = 1) at mu_test = mu.  n: (k)
 * scratch, must not alias the model. */
dd_status stats_qmu_asimov(const stats_model *m, double mu, double *n, double *q);

/* Asymptotic expected limits of one model (s at mu = 1), in units of mu:
 * clsb and cls (STATS_N_BAND each, bands -2..+2).  Band N with z_N > 0 is the
 * root of sqrt(q~mu,A(mu)) = z_N (sigma evaluated at the tested mu, Cowan
 * eq. 31); z_N <= 0 (CLs+b only) gives z_N sigma(mu_med) with sigma(mu_med) =
 * mu_med / z_0 (eq. 89; a negative limit, STATS_LIMIT_NEGATIVE).  With
 * power_min > 0 every CLs+b band below the mu whose power M_0(mu) =
 * Phi(mu/sigma - Phi^-1(CL)) is power_min (z = Phi^-1(CL) + Phi^-1(power_min))
 * is raised to it (STATS_LIMIT_PCL).  *flags gets STATS_LIMIT_* bits.  Uses
 * w->n as scratch. */
dd_status stats_limit_asimov_model(const stats_model *m, double cl, double power_min, stats_work *w,
                                   double clsb[STATS_N_BAND], double cls[STATS_N_BAND],
                                   unsigned *flags);

/* Toy critical values of q~mu on a grid of signal strengths: for every
 * mu_grid[g], qcrit[g] = the CL quantile of q~mu under mu (toys generated at
 * mu with stats_toys_run: n_toys toys n_toys .. 2 n_toys - 1 of (seed, point),
 * the same keys at every mu) and, when power is not NULL, power[g] = the
 * fraction of n_toys background-only toys (toys 0 .. n_toys - 1) with q~mu >=
 * qcrit[g], i.e. the probability M_0(mu) that background-only data exclude mu
 * (CLs+b).  w must hold n_toys toys. */
dd_status stats_limit_toy_grid(const stats_model *m, double cl, const double *mu_grid, int n_grid,
                               uint32_t seed, uint32_t point, long n_toys, stats_work *w,
                               double *qcrit, double *power);

/* The toy-calibrated CLs+b limit of data n: the smallest mu on the grid's
 * range where q~mu(n) >= qcrit(mu), qcrit interpolated linearly in ln mu
 * between grid points (the crossing refined by bisection to 1e-6 in ln mu).
 * 0 when mu_grid[0] is already excluded, +inf when no grid mu is. */
dd_status stats_limit_toy_data(const stats_model *m, const double *n, const double *mu_grid,
                               const double *qcrit, int n_grid, double *mu_up);

/* Toy-calibrated expected CLs+b limits of one model (s at mu = 1): the
 * Phi(N) quantiles of the background-only distribution of the limit, found
 * where the toy power M_0(mu) (stats_limit_toy_grid on a log grid of 25
 * points over [0.02, 5] x mu_ref, mu_ref > 0 the asymptotic median) crosses
 * Phi(N), linear in ln mu; err gets each band's MC error (binomial error of
 * the power over its slope; NAN when not found); power_min as in
 * stats_limit_asimov_model.  Flags: STATS_LIMIT_TOY_ZERO (band 0),
 * STATS_LIMIT_NO_ROOT (+inf), STATS_LIMIT_TOY_ERR (median error > 10 %). */
dd_status stats_limit_toys_model(const stats_model *m, double cl, double power_min, double mu_ref,
                                 uint32_t seed, uint32_t point, long n_toys, stats_work *w,
                                 double clsb[STATS_N_BAND], double err[STATS_N_BAND],
                                 unsigned *flags);

/* Expected limits of a template at every exposure, in units of sigma_ref:
 * clsb, cls, err (n_e, STATS_N_BAND) row-major, flags (n_e).  sound and
 * classical: asymptotic (err NAN).  toys: clsb toy-calibrated (p->toys toys
 * per hypothesis and grid mu, stream (seed, point)), cls asymptotic.  paper:
 * no likelihood, every value NAN (docs/statistics.md §2.5). */
dd_status stats_limits(const stats_template *t, const stats_params *p, stats_method method,
                       const double *exposure_ty, int n_e, uint32_t seed, uint32_t point,
                       stats_work *w, double *clsb, double *cls, double *err, unsigned *flags);

/* ======================================================================== */
/* An observed histogram (observed.c): `ddscan analyse`, calibration tests   */
/* ======================================================================== */

/* The tests of one observed histogram against one template. */
typedef struct stats_observed {
  double p;       /* background-only p: sound/classical Phibar(sqrt q0); toys P(q0 >= obs | H0)
                     = (toys_gt + toys_eq)/n_toys; paper erfc(sqrt(chi2_P/2)) */
  double z;       /* Phibar^-1(p) (sqrt q0 for sound/classical) */
  double p_toys;  /* toy-calibrated p (sound, classical, toys; NAN without t_toys or paper) */
  double z_toys;  /* Phibar^-1(p_toys) */
  double stat;    /* q0, or chi^2_P for paper */
  double mu_hat;  /* best-fit sigma/sigma_ref (>= 0); NAN for paper */
  double mu_up;   /* 90 % CL upper limit on sigma/sigma_ref (q~mu = 1.6424); NAN for paper */
  double n_obs;   /* observed events in the template's bins */
  double b_exp;   /* expected background in them (floors included) */
  double s_exp;   /* expected signal at sigma_ref */
  int floored;    /* bins with data but no background MC, floored at w_bkg_mean */
  long n_toys;    /* toys: pseudo-experiments run */
  long toys_gt;   /* toys with q0 above the observed (beyond 1e-9 relative) */
  long toys_eq;   /* toys tied with it (for a randomised p: (gt + U eq)/n) */
  unsigned flags; /* stats_model_at's flags */
} stats_observed;

/* Evaluates `method` on the observed counts n (t->k bins) at exposure E:
 * the model of stats_model_at at sigma_ref (nuisances of p), bins with data
 * but no background floored at one mean MC weight, then q0 (stats_q0), the
 * toys (p->toys of them, keyed by (seed, point), into t_toys (may be NULL
 * except for TOYS): p_toys for every likelihood method) and the upper limit
 * by bisection of stats_qmu.  w must hold k bins
 * and p->toys toys. */
dd_status stats_observed_eval(const stats_template *t, const stats_params *p, stats_method method,
                              const double *n, double exposure_ty, uint32_t seed, uint32_t point,
                              stats_work *w, double *t_toys, stats_observed *out);

/* Model-independent goodness of fit of an observed histogram to the
 * background-only expectation nu (the template's nominal background at
 * exposure E, NR background included when stats.sound.nr_bkg, bins with data
 * and no background MC floored as in stats_observed_eval), on the bins
 * merged in index order until each holds STATS_GOF_MIN_MC background MC
 * events (sparse MC tails would otherwise decide the test): the Poisson
 * deviance D = 2 sum [nu - n + n ln(n/nu)] (saturated-model likelihood
 * ratio, Baker & Cousins 1984), p = P(D >= D_obs) from n_toys
 * pseudo-experiments drawn from DD_STREAM_TOYS (a = point, b = toy, c = 1):
 * per bin a true mean nu Gamma(m, 1)/m (m the effective MC events of the
 * template: the MC's own scatter), then n ~ Poisson(that mean).  No signal
 * model enters: any excess or deficit anywhere in the histogram counts.
 * Normalisation nuisances are held at their nominal values.
 * Uses w->n, w->aux, w->ms and w->mb as scratch; n_toys <= w->n_toys. */
#define STATS_GOF_MIN_MC 20 /* background MC events per merged goodness-of-fit bin */
typedef struct stats_gof {
  int n_groups; /* merged bins the deviance runs over */
  double stat;  /* D_obs */
  double p, z;  /* (gt + eq)/n_toys and Phibar^-1(p) */
  long n_toys, toys_gt, toys_eq;
} stats_gof;
dd_status stats_gof_eval(const stats_template *t, const stats_params *p, const double *n,
                         double exposure_ty, uint32_t seed, uint32_t point, long n_toys,
                         stats_work *w, stats_gof *out);

#endif /* DDSCAN_STATS_H */
