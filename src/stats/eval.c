/* eval.c - one grid point (sigma, E) of one template: expected counts with the
 * zero-background guard and the nuisance configuration, then the `paper`
 * Pearson chi^2 (arXiv:2110.12248 Eqs. 12-13; spec §3) or the asymptotic
 * discovery q0,A with its one-sided p, median Z, band and power (spec §2). */
#include "ddscan/stats.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *stats_method_name(stats_method m) {
  switch (m) {
    case STATS_METHOD_PAPER:
      return "paper";
    case STATS_METHOD_SOUND:
      return "sound";
    case STATS_METHOD_TOYS:
      return "toys";
    case STATS_METHOD_CLASSICAL:
      return "classical";
    default:
      return "unknown";
  }
}

const char *stats_flags_describe(unsigned flags, char *buf, size_t cap) {
  static const char *const names[] = {
      "floored-background", "low-count", "p-underflow",    "non-monotone", "no-root", "at-zero",
      "paper-independent",  "chi2-25",   "toy-importance", "toy-limited",  "low-mc",  "mc-ratio",
      "toy-error"};
  size_t off = 0;
  if (cap == 0) return buf;
  buf[0] = '\0';
  for (unsigned j = 0; j < sizeof names / sizeof names[0]; j++) {
    if (!(flags & (1u << j))) continue;
    int n = snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", names[j]);
    if (n < 0 || (size_t)n >= cap - off) break;
    off += (size_t)n;
  }
  return buf;
}

dd_status stats_work_init(stats_work *w, int k_max, long n_toys) {
  memset(w, 0, sizeof *w);
  if (k_max < 1 || n_toys < 0)
    return DD_FAIL(DD_ERR_ARG, "stats workspace: k_max %d, n_toys %ld", k_max, n_toys);
  w->k_max = k_max;
  w->n_toys = n_toys;
  double **bins[] = {&w->s, &w->b, &w->c, &w->n, &w->ms, &w->mb, &w->mc, &w->bh};
  for (size_t j = 0; j < sizeof bins / sizeof bins[0]; j++) {
    dd_status st = dd_calloc((void **)bins[j], (size_t)k_max, sizeof(double), "stats workspace");
    if (st != DD_OK) {
      stats_work_free(w);
      return st;
    }
  }
  dd_status st = dd_calloc((void **)&w->aux, 3 * (size_t)k_max, sizeof(double), "toy MC counts");
  if (st == DD_OK)
    st = dd_calloc((void **)&w->gen, 10 * (size_t)k_max, sizeof(double), "toy generating means");
  if (st != DD_OK) {
    stats_work_free(w);
    return st;
  }
  /* the sampler tables are built once per workspace, not once per toy */
  st = dd_calloc((void **)&w->smp, 1, sizeof *w->smp, "toy sampler tables");
  if (st != DD_OK) {
    stats_work_free(w);
    return st;
  }
  dd_sampler_init(w->smp);
  if (n_toys > 0) {
    st = dd_calloc((void **)&w->t, (size_t)n_toys, sizeof(double), "toy statistics");
    if (st == DD_OK) st = dd_calloc((void **)&w->w, (size_t)n_toys, sizeof(double), "toy weights");
    if (st == DD_OK)
      st = dd_calloc((void **)&w->pair, 2 * (size_t)n_toys, sizeof(double), "toy pairs");
    if (st != DD_OK) {
      stats_work_free(w);
      return st;
    }
  }
  return DD_OK;
}

void stats_work_free(stats_work *w) {
  if (!w) return;
  free(w->s);
  free(w->b);
  free(w->c);
  free(w->n);
  free(w->ms);
  free(w->mb);
  free(w->mc);
  free(w->aux);
  free(w->gen);
  free(w->bh);
  free(w->t);
  free(w->w);
  free(w->pair);
  free(w->smp);
  memset(w, 0, sizeof *w);
}

/* Low-count rule of §7.6 on s and b + c (c may be NULL): the signal-rich bins
 * (s_i > sb_ratio b_i) together expect fewer than bkg_min background events,
 * or the total background is below total_bkg_min.  Why summed over the
 * region and not bin by bin: the asymptotic distribution of q0 rests on the
 * signal-strength estimate being near-Gaussian, which depends on how many
 * events the signal-rich region expects in all, not on how finely it is cut.
 * A per-bin rule flagged every point of a finely binned analysis (the
 * classical KDE's 55 y bins per cS1 slice: 1008 of 1008 contour points of
 * fig8-small at up to 100 t.y) and would flag any analysis whose bins are
 * refined, at the same data. */
static unsigned lowcount_c(const stats_params *p, int k, const double *s, const double *b,
                           const double *c) {
  double btot = 0.0, breg = 0.0;
  int region = 0;
  for (int i = 0; i < k; i++) {
    double bi = b[i] + (c ? c[i] : 0.0);
    btot += bi;
    if (s[i] > p->low_sb_ratio * bi) {
      breg += bi;
      region = 1;
    }
  }
  unsigned fl = 0;
  if (region && breg < p->low_bkg_min) fl |= STATS_FLAG_LOW_COUNT;
  if (btot < p->low_total_bkg_min) fl |= STATS_FLAG_LOW_COUNT;
  return fl;
}

unsigned stats_lowcount(const stats_params *p, int k, const double *s, const double *b) {
  return lowcount_c(p, k, s, b, NULL);
}

dd_status stats_model_at(const stats_template *t, const stats_params *p, stats_method method,
                         double mu, double exposure_ty, stats_work *w, stats_model *m,
                         unsigned *flags) {
  if (t->k > w->k_max)
    return DD_FAIL(DD_ERR_ARG, "template has %d bins, workspace only %d", t->k, w->k_max);
  if (!(mu >= 0.0) || !(exposure_ty > 0.0) || isinf(mu) || isinf(exposure_ty))
    return DD_FAIL(DD_ERR_ARG,
                   "sigma/sigma_ref = %g and exposure %g t.y must be finite, >= 0 / > 0", mu,
                   exposure_ty);
  int paper = method == STATS_METHOD_PAPER;
  int use_nr = p->nuis.nr_bkg;
  if (use_nr && !t->nrb)
    return DD_FAIL(DD_ERR_ARG,
                   "stats.sound.nr_bkg is on but the template has no NR-background events");
  int bb = !paper && p->nuis.mc_stat;
  int k = t->k;
  unsigned fl = 0;
  double reg_w = 0.0, reg_w2 = 0.0;
  int region = 0;
  for (int i = 0; i < k; i++) {
    double ci = use_nr ? exposure_ty * t->nrb[i] : 0.0;
    w->s[i] = exposure_ty * mu * t->alpha[i];
    w->b[i] = exposure_ty * t->beta[i];
    w->c[i] = ci;
    w->bh[i] = exposure_ty * t->beta_half[i] + ci;
    /* effective MC counts (sum w)^2 / sum w^2 of each template (Barlow-Beeston) */
    w->mb[i] = t->beta_w2[i] > 0.0 ? t->beta[i] * t->beta[i] / t->beta_w2[i] : 0.0;
    w->ms[i] = t->alpha_w2[i] > 0.0 ? t->alpha[i] * t->alpha[i] / t->alpha_w2[i] : 0.0;
    w->mc[i] = use_nr && t->nrb_w2[i] > 0.0 ? t->nrb[i] * t->nrb[i] / t->nrb_w2[i] : 0.0;
    /* the signal-rich region's ER MC (sum w and sum w^2), against min_mc below */
    if (t->alpha[i] > 0.0 && w->s[i] > p->low_sb_ratio * (w->b[i] + ci)) {
      reg_w += t->beta[i];
      reg_w2 += t->beta_w2[i];
      region = 1;
    }
    if (!paper && t->alpha[i] > 0.0 && !(t->beta[i] > 0.0)) {
      /* spec §1.4: a bin with signal and no background makes q0 infinite.  The
       * ER background is present everywhere, so a bin without ER MC is floored
       * even when the NR background fills it: otherwise its expectation would be
       * the small NR background alone and the bin would look background-free. */
      if (p->zero_bkg == STATS_ZERO_BKG_ERROR) {
        if (t->ny == 1)
          return DD_FAIL(DD_ERR_NUMERIC,
                         "TS bin %d [%g, %g) at R = %g has signal (%g events/t.y at sigma_ref) "
                         "but no ER background MC: q0 would be infinite (use stats.binning.rule = "
                         "\"quantile\" or stats.zero_bkg = \"floor\")",
                         i, t->edges[i], t->edges[i + 1], t->r, t->alpha[i]);
        return DD_FAIL(DD_ERR_NUMERIC,
                       "classical bin %d (cS1 slice %d) has signal but no ER background MC: q0 "
                       "would be infinite (use stats.zero_bkg = \"floor\" or fewer bins)",
                       i, i / t->ny);
      }
      w->b[i] = exposure_ty * t->w_bkg_mean; /* one MC event's worth, 100 % uncertain */
      w->mb[i] = 1.0;
      fl |= STATS_FLAG_FLOORED;
    }
  }
  /* STATS_FLAG_LOW_MC: the ER background of the signal-rich bins (s_i >
   * sb_ratio b_i, the region of the low-count rule) rests on fewer than
   * min_mc effective MC events (sum w)^2 / sum w^2 in all.  Counted over the
   * region, not bin by bin, for the reason of the low-count rule: a bin-by-bin
   * count falls with every refinement of the binning at the same MC (the
   * classical KDE's 55 y bins per cS1 slice flagged every point even with
   * 10^6 MC events, whose sigma5 moved by < 1 % from 1.2 10^5 events).  How
   * precisely each bin that carries the significance is simulated is the
   * MC-to-data ratio's question (stats_mc_ratio, STATS_FLAG_MC_RATIO). */
  if (!paper && region && !(reg_w2 > 0.0 && reg_w * reg_w / reg_w2 >= t->min_mc * (1.0 - 1e-12)))
    fl |= STATS_FLAG_LOW_MC;
  *m = stats_model_simple(k, w->s, w->b);
  if (!paper) {
    m->c = use_nr ? w->c : NULL;
    if (bb) {
      m->ms = w->ms;
      m->mb = w->mb;
      m->mc = use_nr ? w->mc : NULL;
    }
    m->sigma_er = p->nuis.er_norm ? p->nuis.er_norm_width : 0.0;
    m->sigma_nr = use_nr ? p->nuis.nr_bkg_width : 0.0;
  } else if (use_nr) {
    m->c = w->c; /* part of the background histogram, no constraint */
  }
  if (flags) *flags |= fl;
  return DD_OK;
}

int stats_is_homogeneous(const stats_params *p, stats_method method) {
  if (method == STATS_METHOD_PAPER) return 1;
  if (method == STATS_METHOD_TOYS) return 0;
  return !p->nuis.er_norm && !p->nuis.nr_bkg && !p->nuis.mc_stat;
}

dd_status stats_eval(const stats_template *t, const stats_params *p, stats_method method, double mu,
                     double exposure_ty, stats_work *w, stats_result *out) {
  memset(out, 0, sizeof *out);
  out->method = method;
  out->mu = mu;
  out->exposure_ty = exposure_ty;
  out->theta_er_0 = out->theta_nr_0 = 1.0;
  stats_model m;
  unsigned fl = 0;
  DD_TRY(stats_model_at(t, p, method, mu, exposure_ty, w, &m, &fl), "evaluating %s at E = %g t.y",
         stats_method_name(method), exposure_ty);
  int k = t->k;
  for (int i = 0; i < k; i++) {
    out->s_tot += m.s[i];
    out->b_tot += m.b[i] + (m.c ? m.c[i] : 0.0);
  }
  if (method == STATS_METHOD_PAPER) {
    double chi2 = 0.0;
    if (p->paper_bkg == STATS_PAPER_INDEPENDENT) {
      fl |= STATS_FLAG_INDEPENDENT;
      for (int i = 0; i < k; i++) {
        double bi = w->bh[i];
        double ni = exposure_ty * t->beta_half[k + i] + (m.c ? m.c[i] : 0.0) + m.s[i];
        double den = bi + ni;
        if (den > 0.0) chi2 += (bi - ni) * (bi - ni) / den;
      }
    } else {
      for (int i = 0; i < k; i++) {
        double bi = m.b[i] + (m.c ? m.c[i] : 0.0), si = m.s[i];
        /* n = b + s exactly: (b - n)^2/(b + n) = s^2/(2b + s), no cancellation */
        if (bi + si > 0.0) chi2 += si * si / (2.0 * bi + si);
      }
    }
    if (p->five_sigma == STATS_FIVE_CHI2_25) fl |= STATS_FLAG_CHI2_25;
    out->stat = chi2;
    out->sqrt_stat = sqrt(chi2);
    stats_signif sg = stats_signif_of(STATS_CONV_CHI2_1DOF, chi2);
    out->p = sg.p;
    out->log_p = sg.log_p;
    out->z = sg.z; /* one-sided label of a two-sided p */
    for (int j = 0; j < 4; j++) out->z_band[j] = NAN;
    out->power3 = out->power5 = NAN;
  } else {
    stats_fit fit;
    DD_TRY(stats_q0(&m, NULL, &fit), "q0,A of %s at E = %g t.y, sigma/sigma_ref = %g",
           stats_method_name(method), exposure_ty, mu);
    stats_signif sg = stats_signif_of(STATS_CONV_Q0, fit.q0);
    double z = sg.z; /* sqrt(q0,A): the median Z */
    out->stat = fit.q0;
    out->sqrt_stat = z;
    out->z = z;
    out->p = sg.p;
    out->log_p = sg.log_p;
    const double shift[4] = {-2.0, -1.0, 1.0, 2.0};
    for (int j = 0; j < 4; j++) out->z_band[j] = fmax(0.0, z + shift[j]);
    out->power3 = stats_power(z, STATS_Z_EVIDENCE);
    out->power5 = stats_power(z, STATS_Z_DISCOVERY);
    out->theta_er_0 = fit.theta_er_0;
    out->theta_nr_0 = fit.theta_nr_0;
  }
  if (out->p < DBL_MIN) fl |= STATS_FLAG_P_UNDERFLOW;
  fl |= lowcount_c(p, k, m.s, m.b, m.c);
  out->flags = fl;
  return DD_OK;
}
