/* toys.c - Poisson pseudo-experiments keyed by (seed, grid point, toy) through
 * the Philox stream DD_STREAM_TOYS, so results never depend on who ran which
 * toy; toy summaries (direct and importance-sampled null tails, discovery
 * power, median Z; spec §5.4, §7.1-7.5), importance sampling of 5-sigma tails
 * (§7.4) and the exact enumeration oracle for <= 3 bins (§7.2). */
#include "ddscan/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats_internal.h" /* uses: stats_ge */

static int cmp_double(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return (a > b) - (a < b);
}

/* Lower median of n values (sorts v in place): the smallest value whose
 * empirical CDF reaches 1/2. */
static double lower_median(double *v, long n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[(n - 1) / 2];
}

dd_status stats_toys_run(const stats_model *m, stats_toy_stat stat, double mu_gen, uint32_t seed,
                         uint32_t point, long toy0, long n, stats_work *w, double *t_out,
                         double *w_out) {
  int k = m->k;
  if (k > w->k_max) return DD_FAIL(DD_ERR_ARG, "toys: %d bins, workspace %d", k, w->k_max);
  if (toy0 < 0 || n < 0 || toy0 + n > (long)UINT32_MAX + 1)
    return DD_FAIL(DD_ERR_ARG, "toys [%ld, %ld) outside the 32-bit toy index", toy0, toy0 + n);
  if (m->s == w->n || m->b == w->n || m->c == w->n || m->as == w->aux || m->ab == w->aux)
    return DD_FAIL(DD_ERR_ARG, "toys: the model must not live in w->n or w->aux (scratch)");
  int q0 = stat != STATS_TOY_PEARSON; /* a likelihood statistic: q0 or q~mu */
  /* global observables of the constraints that are on (finite width > 0) */
  int d_er = q0 && m->sigma_er > 0.0 && !isinf(m->sigma_er);
  int d_nr = q0 && m->c && m->sigma_nr > 0.0 && !isinf(m->sigma_nr);
  int d_mc = q0 && stats_model_has_mc(m);
  const double *mm[3] = {m->ms, m->mb, m->c ? m->mc : NULL};
  stats_model mt = *m;
  if (d_mc) {
    mt.as = mm[0] ? w->aux : NULL;
    mt.ab = mm[1] ? w->aux + k : NULL;
    mt.ac = mm[2] ? w->aux + 2 * k : NULL;
  }
  for (long j = 0; j < n; j++) {
    long toy = toy0 + j;
    dd_rng rng = dd_rng_for(seed, DD_STREAM_TOYS, point, (uint32_t)toy, 0);
    /* unconditional ensemble: the auxiliary measurements fluctuate too */
    mt.g_er = d_er ? m->g_er + m->sigma_er * dd_rng_normal(&rng) : m->g_er;
    mt.g_nr = d_nr ? m->g_nr + m->sigma_nr * dd_rng_normal(&rng) : m->g_nr;
    if (d_mc) /* the MC samples themselves: a ~ Poisson(m_eff) per template and bin */
      for (int i = 0; i < k; i++)
        for (int t = 0; t < 3; t++) {
          if (!mm[t]) continue;
          double mi = mm[t][i];
          w->aux[t * k + i] =
              mi > 0.0 && !isinf(mi) ? (double)dd_sample_poisson(w->smp, &rng, mi) : mi;
        }
    double logw = 0.0;
    for (int i = 0; i < k; i++) {
      double bi = m->b[i] + (m->c ? m->c[i] : 0.0), si = mu_gen * m->s[i];
      double ni = (double)dd_sample_poisson(w->smp, &rng, si + bi);
      w->n[i] = ni;
      if (si > 0.0) logw += ni > 0.0 && !(bi > 0.0) ? -INFINITY : si - ni * log1p(si / bi);
    }
    if (w_out) w_out[j] = exp(logw);
    if (stat == STATS_TOY_QMU) {
      stats_fit fit;
      DD_TRY(stats_qmu(&mt, w->n, w->mu_test, &fit), "toy %ld of point %u (seed %u), mu %g", toy,
             point, seed, w->mu_test);
      t_out[j] = fit.qmu;
    } else if (q0) {
      stats_fit fit;
      DD_TRY(stats_q0(&mt, w->n, &fit), "toy %ld of point %u (seed %u)", toy, point, seed);
      t_out[j] = fit.q0;
    } else {
      double chi2 = 0.0;
      for (int i = 0; i < k; i++) {
        double bi = m->b[i] + (m->c ? m->c[i] : 0.0), den = bi + w->n[i];
        if (den > 0.0) chi2 += (bi - w->n[i]) * (bi - w->n[i]) / den;
      }
      t_out[j] = chi2;
    }
  }
  return DD_OK;
}

/* Asymptotic convention of a toy statistic: half chi^2_1 for q0, chi^2_1 for
 * chi^2_P. */
static stats_convention toy_convention(stats_toy_stat stat) {
  return stat == STATS_TOY_Q0 ? STATS_CONV_Q0 : STATS_CONV_CHI2_1DOF;
}

dd_status stats_toys_eval(const stats_template *t, const stats_params *p, stats_toy_stat stat,
                          double mu, double exposure_ty, uint32_t seed, uint32_t point,
                          stats_work *w, stats_toy_result *out) {
  memset(out, 0, sizeof *out);
  if (stat == STATS_TOY_QMU)
    return DD_FAIL(DD_ERR_ARG, "toy summary of q~mu: use the limit functions (stats_limits)");
  long nt = p->toys;
  if (nt < 1 || w->n_toys < nt)
    return DD_FAIL(DD_ERR_ARG, "toys: %ld toys requested, workspace holds %ld", nt, w->n_toys);
  stats_method meth = stat == STATS_TOY_Q0 ? STATS_METHOD_TOYS : STATS_METHOD_PAPER;
  stats_model m;
  unsigned fl = 0;
  DD_TRY(stats_model_at(t, p, meth, mu, exposure_ty, w, &m, &fl), "toys at E = %g t.y",
         exposure_ty);
  int k = m.k;
  if (stat == STATS_TOY_Q0) {
    stats_fit fit;
    DD_TRY(stats_q0(&m, NULL, &fit), "toys: Asimov q0");
    out->t_obs = fit.q0;
  } else {
    double chi2 = 0.0;
    for (int i = 0; i < k; i++) {
      double bi = m.b[i] + (m.c ? m.c[i] : 0.0), si = m.s[i];
      if (bi + si > 0.0) chi2 += si * si / (2.0 * bi + si);
    }
    out->t_obs = chi2;
  }
  double thr5 = stats_threshold5(p, meth), thr3 = stats_threshold3(p, meth);
  out->n_toys = nt;
  out->p_asym = stats_signif_of(toy_convention(stat), out->t_obs).p;

  /* H0: toys 0 .. nt-1; q0 toys draw every measurement from the null fit */
  if (stat == STATS_TOY_Q0)
    DD_TRY(stats_toys_run_null(&m, 0.0, seed, point, 0, nt, w, w->t, NULL, NULL), "H0 toys");
  else
    DD_TRY(stats_toys_run(&m, stat, 0.0, seed, point, 0, nt, w, w->t, NULL), "H0 toys");
  long c_obs = 0, c5 = 0;
  for (long j = 0; j < nt; j++) {
    c_obs += stats_ge(w->t[j], out->t_obs);
    c5 += stats_ge(w->t[j], thr5);
  }
  out->p_direct = (double)c_obs / nt;
  out->p5_h0 = (double)c5 / nt;

  /* H1: toys nt .. 2nt-1, with importance weights P(n|H0)/P(n|H1) */
  DD_TRY(stats_toys_run(&m, stat, 1.0, seed, point, nt, nt, w, w->t, w->w), "H1 toys");
  double sw = 0.0, sw2 = 0.0;
  long c5_h1 = 0, c3_h1 = 0;
  for (long j = 0; j < nt; j++) {
    if (stats_ge(w->t[j], out->t_obs)) {
      sw += w->w[j];
      sw2 += w->w[j] * w->w[j];
    }
    c5_h1 += stats_ge(w->t[j], thr5);
    c3_h1 += stats_ge(w->t[j], thr3);
  }
  out->power5 = (double)c5_h1 / nt;
  out->power3 = (double)c3_h1 / nt;
  out->p_is = p->toys_importance ? sw / nt : NAN;
  out->median_h1 = lower_median(w->t, nt);
  out->z_med_h1 = stats_signif_of(toy_convention(stat), out->median_h1).z;
  if (stat == STATS_TOY_Q0 && p->toys_importance && c_obs < 25) {
    /* q0: toys 2N .. 3N-1 from the proposal that tilts every measurement
     * (the H1 toys above fix the MC counts and constraints at nominal) */
    DD_TRY(stats_toys_run_null(&m, out->t_obs, seed, point, 2 * nt, nt, w, w->t, w->w, NULL),
           "importance-sampled H0 toys");
    sw = sw2 = 0.0;
    for (long j = 0; j < nt; j++)
      if (stats_ge(w->t[j], out->t_obs)) {
        sw += w->w[j];
        sw2 += w->w[j] * w->w[j];
      }
    out->p_is = sw / nt;
  } else if (stat == STATS_TOY_Q0) {
    out->p_is = NAN; /* not needed: the direct estimate holds */
  }

  /* direct estimate while it has >= 25 counts (<= 20 % error), else IS */
  if (c_obs >= 25 || !p->toys_importance || !(sw > 0.0)) {
    out->p_h0 = out->p_direct;
    out->p_h0_err = sqrt(out->p_direct * (1.0 - out->p_direct) / nt);
    if (c_obs == 0) {
      /* p < 1/N: report the bound, flagged */
      out->p_h0 = 1.0 / nt;
      fl |= STATS_FLAG_TOY_LIMITED;
    }
  } else {
    out->p_h0 = out->p_is;
    out->p_h0_err = sqrt(fmax(sw2 / nt - out->p_is * out->p_is, 0.0) / nt);
    fl |= STATS_FLAG_TOY_IS;
  }
  stats_signif sg = stats_signif_from_p(out->p_h0);
  out->z_h0 = sg.z;
  out->log_p_h0 = sg.log_p;
  out->flags = fl;
  return DD_OK;
}

/* ---------------------------------------------------------------------- */
/* Toys from the null fit; importance sampling that tilts every measurement */
/* ---------------------------------------------------------------------- */

/* Shares of the defensive mixture (Hesterberg, Technometrics 37 (1995) 185;
 * Owen & Zhou, JASA 95 (2000) 135): the null itself (every weight is then at
 * most 1/share), the main-count tilt (the known-background proposal of
 * §7.4, nuisance measurements at the null) and the tilt of every
 * measurement.  The estimator's variance is at most that of each component
 * alone divided by its share (Owen & Zhou, Theorem 1), so neither tilt has to
 * cover the whole tail. */
#define TOY_NULL_SHARE 0.1
#define TOY_COUNT_SHARE 0.3

/* The generating distribution of q0 toys: every measurement of the model is
 * an independent Poisson or Gaussian variable, so a distribution is the
 * list of their means.  Null: the model at the conditional (mu = 0) fit of
 * the Asimov data set, the nuisances profiled (theta_ER,0, theta_NR,0 and
 * the Barlow-Beeston MC means A0 of every template and bin).  Proposal: a
 * signal strength mu_p with every measurement tilted to where H0 most
 * probably looks like that signal (gen_tilt). */
typedef struct toy_gen {
  int k;
  double *nu0, *a0;      /* null: main-bin means (k), MC means (3k; NAN: not drawn) */
  double *lam, *a1, *u;  /* proposal: main means, MC means, u_i = ln(lam_i / nu0_i) */
  double *lam_c;         /* the main-count proposal: nu0_i + mu_c s_i */
  double th0[2], th1[2]; /* centres of the drawn global observables (ER, NR) */
  double sig[2];         /* their widths; 0 when not drawn */
  double mu_p;           /* the proposal's signal strength (0: the null) */
} toy_gen;

/* Effective MC count of template j in bin i when its auxiliary count is a
 * drawn measurement, else 0. */
static double drawn_mc(const stats_model *m, int j, int i) {
  const double *mm[3] = {m->ms, m->mb, m->c ? m->mc : NULL};
  double mi = mm[j] ? mm[j][i] : 0.0;
  return mi > 0.0 && !isinf(mi) ? mi : 0.0;
}

/* The null distribution of model m (buffers in w->gen). */
static dd_status gen_null(const stats_model *m, stats_work *w, toy_gen *g) {
  int k = m->k;
  g->k = k;
  g->nu0 = w->gen;
  g->a0 = w->gen + k;
  g->lam = w->gen + 4 * k;
  g->a1 = w->gen + 5 * k;
  g->u = w->gen + 8 * k;
  g->lam_c = w->gen + 9 * k;
  stats_fit fit;
  DD_TRY(stats_q0(m, NULL, &fit), "toys: the null fit of the Asimov data");
  g->th0[0] = fit.theta_er_0;
  g->th0[1] = fit.theta_nr_0;
  DD_TRY(stats_bb_means(m, NULL, 0.0, g->th0[0], g->th0[1], g->a0, g->nu0),
         "toys: MC means of the null fit");
  for (int j = 0; j < 3; j++)
    for (int i = 0; i < k; i++) {
      double mi = drawn_mc(m, j, i), *a = &g->a0[j * k + i];
      if (!(mi > 0.0))
        *a = NAN;
      else if (isnan(*a)) /* no expectation in this bin: its count as measured */
        *a = mi;
    }
  g->sig[0] = m->sigma_er > 0.0 && !isinf(m->sigma_er) ? m->sigma_er : 0.0;
  g->sig[1] = m->c && m->sigma_nr > 0.0 && !isinf(m->sigma_nr) ? m->sigma_nr : 0.0;
  memcpy(g->lam, g->nu0, (size_t)k * sizeof(double));
  memcpy(g->lam_c, g->nu0, (size_t)k * sizeof(double));
  memcpy(g->a1, g->a0, 3 * (size_t)k * sizeof(double));
  memset(g->u, 0, (size_t)k * sizeof(double));
  g->th1[0] = g->th0[0];
  g->th1[1] = g->th0[1];
  g->mu_p = 0.0;
  return DD_OK;
}

/* Proposal at signal strength mu_p: the dominating point of {q0 >= x} under
 * the null (Bucklew, "Introduction to Rare Event Simulation", Springer 2004,
 * ch. 5; Sadowsky & Bucklew, IEEE Trans. Inf. Theory 36 (1990) 579).  With
 * D the Kullback-Leibler divergence, q0(d) = 2 [min_H0 D(d||.) - min_H1
 * D(d||.)] and D(d||null) >= min_H0 D(d||.), so the cheapest data set with
 * q0 = x is one whose H0 fit IS the null: main counts nu0_i + mu_p s_i, and
 * auxiliary measurements that keep the null's profile scores at zero,
 *   d/dA_j:     (1 - r_i) P0_j + (1 - a_j / A0_j) = 0
 *               -> a_j = A0_j (1 - P0_j (r_i - 1)),   P0_j = theta0_j x_j / m_j
 *   d/dtheta_e: sum_i (r_i - 1) dnu_i/dtheta_e - (theta0_e - g_e) / sigma_e^2 = 0
 *               -> g_e = theta0_e - sigma_e^2 sum_i (r_i - 1) dnu_i/dtheta_e
 * with r_i = lam_i / nu0_i: where the data rise, the MC counts of the
 * background and its normalisation's global observable fall.  The proposal
 * draws every measurement around that data set (the signal's own MC counts
 * stay at the null). */
static void gen_tilt(const stats_model *m, toy_gen *g, double mu_p) {
  int k = g->k;
  const double *xs[3] = {m->s, m->b, m->c};
  double dth[2] = {0.0, 0.0};
  for (int i = 0; i < k; i++) {
    double nu0 = g->nu0[i], lam = nu0 + mu_p * m->s[i];
    double r = nu0 > 0.0 ? lam / nu0 : 1.0;
    g->lam[i] = lam;
    g->u[i] = nu0 > 0.0 ? log(r) : 0.0;
    for (int j = 1; j < 3; j++) {
      double x = xs[j] ? xs[j][i] : 0.0, mi = drawn_mc(m, j, i), th0 = g->th0[j - 1];
      if (mi > 0.0 && x > 0.0) {
        double a0 = g->a0[j * k + i];
        g->a1[j * k + i] = a0 * fmax(1.0 - th0 * x / mi * (r - 1.0), 1e-3);
        dth[j - 1] += (r - 1.0) * x / mi * a0;
      } else {
        dth[j - 1] += (r - 1.0) * x;
      }
    }
  }
  for (int e = 0; e < 2; e++)
    g->th1[e] = g->sig[e] > 0.0 ? fmax(g->th0[e] - g->sig[e] * g->sig[e] * dth[e], 1e-3 * g->th0[e])
                                : g->th0[e];
  g->mu_p = mu_p;
}

/* q0 of the proposal's own Asimov data set (every measurement at its mean). */
static dd_status gen_q0(const stats_model *m, const toy_gen *g, double *q) {
  int k = g->k;
  stats_model mt = *m;
  if (m->ms) mt.as = g->a1;
  if (m->mb) mt.ab = g->a1 + k;
  if (m->c && m->mc) mt.ac = g->a1 + 2 * k;
  if (g->sig[0] > 0.0) mt.g_er = g->th1[0];
  if (g->sig[1] > 0.0) mt.g_nr = g->th1[1];
  stats_fit fit;
  DD_TRY(stats_q0(&mt, g->lam, &fit), "q0 of the importance proposal at mu_p = %g", g->mu_p);
  *q = fit.q0;
  return DD_OK;
}

/* The proposal whose Asimov q0 is x: doubling, then bisection in ln mu_p. */
static dd_status gen_for_q0(const stats_model *m, toy_gen *g, double x) {
  double lo = 0.0, hi = 1.0, q = 0.0;
  int it = 0;
  for (; it < 200; it++) {
    gen_tilt(m, g, hi);
    DD_TRY(gen_q0(m, g, &q), "proposal search");
    if (q >= x) break;
    lo = hi;
    hi *= 2.0;
  }
  if (!(q >= x))
    return DD_FAIL(DD_ERR_NUMERIC, "importance proposal: q0 %g at mu_p = %g never reaches %g", q,
                   hi, x);
  if (lo == 0.0) {
    for (it = 0; it < 200; it++) { /* halving towards small mu_p */
      gen_tilt(m, g, 0.5 * hi);
      DD_TRY(gen_q0(m, g, &q), "proposal search");
      if (q < x) break;
      hi *= 0.5;
    }
    lo = 0.5 * hi;
  }
  for (it = 0; it < 60 && hi - lo > 1e-6 * hi; it++) {
    double mid = sqrt(lo * hi);
    gen_tilt(m, g, mid);
    DD_TRY(gen_q0(m, g, &q), "proposal search");
    if (q >= x)
      hi = mid;
    else
      lo = mid;
  }
  gen_tilt(m, g, hi);
  /* main-count tilt: the mu_c whose known-background q0,A (background nu0)
   * is x */
  int k = g->k;
  lo = 0.0;
  double hc = 1.0;
  for (it = 0; it < 400; it++) {
    q = 0.0;
    for (int i = 0; i < k; i++) q += 2.0 * stats_qa_term(hc * m->s[i], g->nu0[i]);
    if (q >= x) break;
    lo = hc;
    hc *= 2.0;
  }
  for (it = 0; it < 200 && hc - lo > 1e-12 * hc; it++) {
    double mid = 0.5 * (lo + hc);
    q = 0.0;
    for (int i = 0; i < k; i++) q += 2.0 * stats_qa_term(mid * m->s[i], g->nu0[i]);
    if (q >= x)
      hc = mid;
    else
      lo = mid;
  }
  for (int i = 0; i < k; i++) g->lam_c[i] = g->nu0[i] + hc * m->s[i];
  return DD_OK;
}

/* q0 toys toy0 .. toy0+n-1 from g: the null (alpha = 1, weights 1) or the
 * defensive mixture alpha null + c main-count tilt + (1 - alpha - c) full
 * tilt with weights P0 / (alpha P0 + c Pc + (1 - alpha - c) P1), the exact
 * ratio of the full likelihoods (main bins x auxiliary MC counts x global
 * observables). */
static dd_status gen_run(const stats_model *m, const toy_gen *g, double alpha, uint32_t seed,
                         uint32_t point, long toy0, long n, stats_work *w, double *t_out,
                         double *w_out) {
  int k = g->k;
  int d_mc = stats_model_has_mc(m);
  const double *mm[3] = {m->ms, m->mb, m->c ? m->mc : NULL};
  stats_model mt = *m;
  if (d_mc) {
    mt.as = mm[0] ? w->aux : NULL;
    mt.ab = mm[1] ? w->aux + k : NULL;
    mt.ac = mm[2] ? w->aux + 2 * k : NULL;
  }
  for (long j = 0; j < n; j++) {
    long toy = toy0 + j;
    dd_rng rng = dd_rng_for(seed, DD_STREAM_TOYS, point, (uint32_t)toy, 0);
    int prop = 0, cnt = 0;
    if (alpha < 1.0) {
      double v = dd_rng_uniform(&rng);
      cnt = v >= alpha && v < alpha + TOY_COUNT_SHARE;
      prop = v >= alpha + TOY_COUNT_SHARE;
    }
    double lr = 0.0, lc = 0.0; /* ln P1 / P0 of the full and the main-count tilt */
    for (int e = 0; e < 2; e++) {
      if (!(g->sig[e] > 0.0)) continue;
      double c = prop ? g->th1[e] : g->th0[e], go = c + g->sig[e] * dd_rng_normal(&rng);
      double d0 = go - g->th0[e], d1 = go - g->th1[e];
      lr += (d0 * d0 - d1 * d1) / (2.0 * g->sig[e] * g->sig[e]);
      if (e == 0)
        mt.g_er = go;
      else
        mt.g_nr = go;
    }
    if (d_mc)
      for (int i = 0; i < k; i++)
        for (int t = 0; t < 3; t++) {
          if (!mm[t]) continue;
          double mi = mm[t][i];
          if (!(mi > 0.0) || isinf(mi)) {
            w->aux[t * k + i] = mi;
            continue;
          }
          double a0 = g->a0[t * k + i], a1 = g->a1[t * k + i];
          double a = (double)dd_sample_poisson(w->smp, &rng, prop ? a1 : a0);
          w->aux[t * k + i] = a;
          if (a1 != a0) lr += (a > 0.0 ? a * log(a1 / a0) : 0.0) - (a1 - a0);
        }
    for (int i = 0; i < k; i++) {
      double nu0 = g->nu0[i], lam = g->lam[i], lc_i = g->lam_c[i];
      double ni = (double)dd_sample_poisson(w->smp, &rng, prop ? lam : cnt ? lc_i : nu0);
      w->n[i] = ni;
      if (nu0 > 0.0) {
        lr += ni * g->u[i] - (lam - nu0);
        lc += (ni > 0.0 ? ni * log(lc_i / nu0) : 0.0) - (lc_i - nu0);
      } else {
        lr = ni > 0.0 ? INFINITY : lr - lam;
        lc = ni > 0.0 ? INFINITY : lc - lc_i;
      }
    }
    if (w_out)
      w_out[j] = alpha >= 1.0 ? 1.0
                              : 1.0 / (alpha + TOY_COUNT_SHARE * exp(lc) +
                                       (1.0 - alpha - TOY_COUNT_SHARE) * exp(lr));
    stats_fit fit;
    DD_TRY(stats_q0(&mt, w->n, &fit), "toy %ld of point %u (seed %u)", toy, point, seed);
    t_out[j] = fit.q0;
  }
  return DD_OK;
}

dd_status stats_toys_run_null(const stats_model *m, double x, uint32_t seed, uint32_t point,
                              long toy0, long n, stats_work *w, double *t_out, double *w_out,
                              double *mu_p) {
  if (m->k > w->k_max) return DD_FAIL(DD_ERR_ARG, "toys: %d bins, workspace %d", m->k, w->k_max);
  if (toy0 < 0 || n < 0 || toy0 + n > (long)UINT32_MAX + 1)
    return DD_FAIL(DD_ERR_ARG, "toys [%ld, %ld) outside the 32-bit toy index", toy0, toy0 + n);
  if (m->s == w->n || m->b == w->n || m->c == w->n || m->as == w->aux || m->ab == w->aux)
    return DD_FAIL(DD_ERR_ARG, "toys: the model must not live in w->n or w->aux (scratch)");
  toy_gen g;
  DD_TRY(gen_null(m, w, &g), "null toys");
  double alpha = 1.0;
  if (x > 0.0) {
    DD_TRY(gen_for_q0(m, &g, x), "importance proposal for P(q0 >= %g)", x);
    alpha = TOY_NULL_SHARE;
  }
  if (mu_p) *mu_p = g.mu_p;
  return gen_run(m, &g, alpha, seed, point, toy0, n, w, t_out, w_out);
}

dd_status stats_toys_is_tail(const stats_model *m, double x, uint32_t seed, uint32_t point,
                             long n_toys, stats_work *w, double *p, double *err) {
  if (n_toys < 1 || n_toys > w->n_toys)
    return DD_FAIL(DD_ERR_ARG, "IS tail: %ld toys, workspace holds %ld", n_toys, w->n_toys);
  if (!(x > 0.0)) return DD_FAIL(DD_ERR_ARG, "IS tail: threshold %g must be > 0", x);
  DD_TRY(stats_toys_run_null(m, x, seed, point, 0, n_toys, w, w->t, w->w, NULL),
         "importance-sampled tail P(q0 >= %g)", x);
  double sw = 0.0, sw2 = 0.0;
  for (long j = 0; j < n_toys; j++)
    if (stats_ge(w->t[j], x)) {
      sw += w->w[j];
      sw2 += w->w[j] * w->w[j];
    }
  *p = sw / n_toys;
  *err = sqrt(fmax(sw2 / n_toys - (*p) * (*p), 0.0) / n_toys);
  return DD_OK;
}

typedef struct q_item {
  double q;
  double pr;
} q_item;

static int cmp_q_item(const void *pa, const void *pb) {
  const q_item *a = pa, *b = pb;
  if (a->q != b->q) return (a->q > b->q) - (a->q < b->q);
  return (a->pr > b->pr) - (a->pr < b->pr);
}

dd_status stats_toys_is_threshold(const stats_model *m, double z, uint32_t seed, uint32_t point,
                                  long n_toys, stats_work *w, double *t_crit) {
  if (n_toys < 1 || n_toys > w->n_toys)
    return DD_FAIL(DD_ERR_ARG, "IS threshold: %ld toys, workspace holds %ld", n_toys, w->n_toys);
  if (!(z > 0.0)) return DD_FAIL(DD_ERR_ARG, "IS threshold: Z = %g must be > 0", z);
  double p_target = stats_p_from_z(z), mu_p;
  DD_TRY(stats_toys_run_null(m, z * z, seed, point, 0, n_toys, w, w->t, w->w, &mu_p),
         "importance-sampled toys for the %g-sigma threshold", z);
  q_item *pr = (q_item *)w->pair;
  for (long j = 0; j < n_toys; j++) {
    pr[j].q = w->t[j];
    pr[j].pr = w->w[j];
  }
  if (dd_log_get_level() >= DD_LOG_DEBUG) {
    /* the asymptotic threshold's tail and its MC error, for the log */
    double x = z * z, sw = 0.0, sw2 = 0.0;
    long hits = 0;
    for (long j = 0; j < n_toys; j++)
      if (stats_ge(pr[j].q, x)) {
        sw += pr[j].pr;
        sw2 += pr[j].pr * pr[j].pr;
        hits++;
      }
    double pt = sw / n_toys, et = sqrt(fmax(sw2 / n_toys - pt * pt, 0.0) / n_toys);
    dd_debug("toys: IS at mu_p %g: P0(q0 >= %g) = %.4g +- %.2g (%ld of %ld toys, asymptotic %.4g)",
             mu_p, x, pt, et, hits, n_toys, p_target);
    /* direct cross-check (-v only): 5 n_toys plain null toys (keys n_toys
     * .. 6 n_toys - 1; w->t is free once the pairs are copied) */
    long c9 = 0, c16 = 0, cx = 0, nd = 5 * n_toys;
    for (long j0 = 0; j0 < nd; j0 += n_toys) {
      DD_TRY(stats_toys_run_null(m, 0.0, seed, point, n_toys + j0, n_toys, w, w->t, NULL, NULL),
             "direct null toys (debug cross-check)");
      for (long j = 0; j < n_toys; j++) {
        c9 += stats_ge(w->t[j], 9.0);
        c16 += stats_ge(w->t[j], 16.0);
        cx += stats_ge(w->t[j], x);
      }
    }
    dd_debug(
        "toys: direct null toys: P0(q0 >= 9) = %ld/%ld (asymptotic %.4g), P0(q0 >= 16) = "
        "%ld/%ld (asymptotic %.4g), P0(q0 >= %g) = %ld/%ld",
        c9, nd, stats_p_from_z(3.0), c16, nd, stats_p_from_z(4.0), x, cx, nd);
  }
  qsort(pr, (size_t)n_toys, sizeof *pr, cmp_q_item);
  /* weighted survival from the top: P0(q0 >= q_j) = sum_{l >= j} w_l / N */
  double cum = 0.0;
  *t_crit = pr[0].q;
  for (long j = n_toys - 1; j >= 0; j--) {
    cum += pr[j].pr / n_toys;
    if (cum >= p_target) {
      *t_crit = pr[j].q;
      dd_debug("toys: %g-sigma threshold q0 = %.4g (asymptotic %.4g)", z, *t_crit, z * z);
      return DD_OK;
    }
  }
  return DD_FAIL(DD_ERR_NUMERIC,
                 "IS threshold: the %ld toys at mu_p = %g hold only P0 = %g < %g; use more toys",
                 n_toys, mu_p, cum, p_target);
}

dd_status stats_enumerate_q0(int k, const double *s, const double *b, double mu_true,
                             const double *x, int nx, double *prob, double *median_q0) {
  if (k < 1 || k > 3) return DD_FAIL(DD_ERR_ARG, "enumeration supports 1-3 bins, got %d", k);
  long nmax[3] = {0, 0, 0}, total = 1;
  for (int i = 0; i < k; i++) {
    double lam = mu_true * s[i] + b[i];
    if (!(lam >= 0.0) || !(b[i] > 0.0))
      return DD_FAIL(DD_ERR_ARG, "enumeration: bin %d has b = %g, lambda = %g", i, b[i], lam);
    nmax[i] = (long)ceil(lam + 12.0 * sqrt(lam) + 30.0);
    total *= nmax[i] + 1;
    if (total > 50000000L) return DD_FAIL(DD_ERR_ARG, "enumeration grid too large (> 5e7 points)");
  }
  q_item *tab = malloc((size_t)total * sizeof *tab);
  double *lp = malloc((size_t)(nmax[0] + nmax[1] + nmax[2] + 3) * sizeof *lp);
  if (!tab || !lp) {
    free(tab);
    free(lp);
    return DD_FAIL(DD_ERR_NOMEM, "enumeration table of %ld points", total);
  }
  /* log Poisson pmf per bin, lp[off[i] + n] */
  long off[3] = {0, nmax[0] + 1, nmax[0] + nmax[1] + 2};
  for (int i = 0; i < k; i++) {
    double lam = mu_true * s[i] + b[i];
    for (long n = 0; n <= nmax[i]; n++)
      lp[off[i] + n] = (n == 0 ? -lam : n * log(lam) - lam - lgamma(n + 1.0));
  }
  for (int j = 0; j < nx; j++) prob[j] = 0.0;
  stats_model m = stats_model_simple(k, s, b);
  long idx[3] = {0, 0, 0};
  dd_status st = DD_OK;
  for (long e = 0; e < total; e++) {
    double n[3], lpr = 0.0;
    for (int i = 0; i < k; i++) {
      n[i] = (double)idx[i];
      lpr += lp[off[i] + idx[i]];
    }
    stats_fit fit;
    st = stats_q0(&m, n, &fit);
    if (st != DD_OK) break;
    tab[e].q = fit.q0;
    tab[e].pr = exp(lpr);
    for (int j = 0; j < nx; j++)
      if (stats_ge(fit.q0, x[j])) prob[j] += tab[e].pr;
    for (int i = k - 1; i >= 0; i--) { /* odometer, last bin fastest */
      if (++idx[i] <= nmax[i]) break;
      idx[i] = 0;
    }
  }
  if (st == DD_OK && median_q0) {
    qsort(tab, (size_t)total, sizeof *tab, cmp_q_item);
    double cum = 0.0;
    *median_q0 = tab[total - 1].q;
    for (long e = 0; e < total; e++) {
      cum += tab[e].pr;
      if (cum >= 0.5) {
        *median_q0 = tab[e].q;
        break;
      }
    }
  }
  free(tab);
  free(lp);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "enumeration");
}
