/* params.c - configuration group `stats`: the TS and classical
 * binnings, the paper-mode convention flags, the nuisances of `sound`, toys
 * and the low-count thresholds, with the defaults of spec §10. */
#include "ddscan/stats.h"

#include <math.h>
#include <string.h>

static const char *const RULES[] = {"uniform", "quantile"};

static dd_status binning_load(cfg_doc *cfg, stats_binning *b) {
  int rule = 0;
  long long bins, min_mc;
  const double q_def[2] = {0.001, 0.999};
  int n = 0;
  /* issue 14: equal-background (quantile) bins with >= min_mc_per_bin
   * effective MC events in every bin, the open ends included.  The paper-style
   * "uniform" rule (50 bins between the 0.1 % and 99.9 % background quantiles
   * plus under/overflow, spec §10) stays available; its overflow bin holds a
   * fixed 0.1 % of the MC by construction */
  DD_TRY(cfg_get_choice(cfg, "stats.binning.rule", "quantile", RULES, 2, &rule), "stats");
  DD_TRY(cfg_get_int_range(cfg, "stats.binning.bins", 50, 1, 100000, &bins), "stats");
  DD_TRY(cfg_get_double_list(cfg, "stats.binning.range_quantiles", q_def, 2, b->range_q, 2, &n),
         "stats");
  DD_TRY(cfg_get_int(cfg, "stats.binning.min_mc_per_bin", 10, &min_mc), "stats");
  DD_TRY(cfg_get_bool(cfg, "stats.binning.underflow", 1, &b->underflow), "stats");
  DD_TRY(cfg_get_bool(cfg, "stats.binning.overflow", 1, &b->overflow), "stats");
  b->rule = (stats_bin_rule)rule;
  if (bins < 1 || bins > 100000)
    return cfg_error(cfg, "stats.binning.bins", "must be in [1, 100000], got %lld", bins);
  b->bins = (int)bins;
  if (n != 2 || !(b->range_q[0] >= 0.0 && b->range_q[0] < b->range_q[1] && b->range_q[1] <= 1.0))
    return cfg_error(cfg, "stats.binning.range_quantiles",
                     "must be two quantiles 0 <= lo < hi <= 1");
  if (min_mc < 1 || min_mc > 1000000000LL)
    return cfg_error(cfg, "stats.binning.min_mc_per_bin", "must be >= 1, got %lld", min_mc);
  b->min_mc = (int)min_mc;
  return DD_OK;
}

/* Detector-MC events per class for the classical templates (issue 15): enough
 * that no fig*-small contour point is MC-limited, about 1 min on 2 cores
 * (docs/statistics.md §2.5). */
#define CLASSICAL_MC_DEFAULT 500000LL

static dd_status classical_load(cfg_doc *cfg, stats_binning2d *b) {
  /* the ML analysis scores every accepted event (detector ROI 0 < cS1 <= 100 PE
   * behind the S1 coincidence), so the classical baseline sees the same range;
   * fine uniform y bins with the kernel density (docs/statistics.md §2.4) */
  const double cs1_def[2] = {0.0, 100.0}, y_def[2] = {1.0, 3.2};
  int n1 = 0, n2 = 0, rule = 0;
  long long nx, ny, min_mc;
  DD_TRY(
      cfg_get_double_list(cfg, "stats.classical.cs1_range_pe", cs1_def, 2, b->cs1_range_pe, 2, &n1),
      "stats");
  DD_TRY(cfg_get_int_range(cfg, "stats.classical.cs1_bins", 20, 1, 10000, &nx), "stats");
  DD_TRY(cfg_get_choice(cfg, "stats.classical.y_rule", "uniform", RULES, 2, &rule), "stats");
  DD_TRY(cfg_get_int_range(cfg, "stats.classical.y_bins", 55, 1, 10000, &ny), "stats");
  DD_TRY(cfg_get_double_list(cfg, "stats.classical.y_range", y_def, 2, b->y_range, 2, &n2),
         "stats");
  DD_TRY(cfg_get_int(cfg, "stats.classical.min_mc_per_bin", 10, &min_mc), "stats");
  static const char *const dens[] = {"histogram", "kde"};
  int kde = 0;
  DD_TRY(cfg_get_choice(cfg, "stats.classical.density", "kde", dens, 2, &kde), "stats");
  b->kde = kde;
  DD_TRY(cfg_get_double(cfg, "stats.classical.bandwidth", 1.0, &b->kde_scale), "stats");
  DD_TRY(cfg_get_int_range(cfg, "stats.classical.mc_events", CLASSICAL_MC_DEFAULT, 0, 1000000000LL,
                           &b->mc_events),
         "stats");
  if (!(b->kde_scale > 0.0 && b->kde_scale <= 10.0))
    return cfg_error(cfg, "stats.classical.bandwidth",
                     "must be a factor in (0, 10] on Silverman's bandwidth, got %g", b->kde_scale);
  if (n1 != 2 || !(b->cs1_range_pe[0] >= 0.0 && b->cs1_range_pe[1] > b->cs1_range_pe[0]) ||
      isinf(b->cs1_range_pe[1]))
    return cfg_error(cfg, "stats.classical.cs1_range_pe", "must be [lo, hi] with 0 <= lo < hi");
  if (nx < 1 || nx > 10000)
    return cfg_error(cfg, "stats.classical.cs1_bins", "must be in [1, 10000], got %lld", nx);
  if (ny < 1 || ny > 10000)
    return cfg_error(cfg, "stats.classical.y_bins", "must be in [1, 10000], got %lld", ny);
  if (n2 != 2 || !(b->y_range[1] > b->y_range[0]) || !isfinite(b->y_range[0]) ||
      !isfinite(b->y_range[1]))
    return cfg_error(cfg, "stats.classical.y_range", "must be [lo, hi] with lo < hi");
  if (min_mc < 1 || min_mc > 1000000000LL)
    return cfg_error(cfg, "stats.classical.min_mc_per_bin", "must be >= 1, got %lld", min_mc);
  b->cs1_bins = (int)nx;
  b->y_bins = (int)ny;
  b->y_rule = (stats_bin_rule)rule;
  b->min_mc = (int)min_mc;
  return DD_OK;
}

static dd_status width_check(cfg_doc *cfg, const char *key, double v) {
  if (!(v > 0.0) || isinf(v)) return cfg_error(cfg, key, "must be a finite width > 0, got %g", v);
  return DD_OK;
}

dd_status stats_params_load(cfg_doc *cfg, stats_params *p) {
  memset(p, 0, sizeof *p);
  DD_TRY(binning_load(cfg, &p->binning), "stats");
  DD_TRY(classical_load(cfg, &p->classical), "stats");

  static const char *const bkg_ch[] = {"shared", "independent"};
  static const char *const five_ch[] = {"p_one_sided", "chi2_25"};
  static const char *const zero_ch[] = {"floor", "error"};
  int ch = 0;
  DD_TRY(cfg_get_choice(cfg, "stats.paper_bkg", "shared", bkg_ch, 2, &ch), "stats");
  p->paper_bkg = (stats_paper_bkg)ch;
  DD_TRY(cfg_get_choice(cfg, "stats.five_sigma", "p_one_sided", five_ch, 2, &ch), "stats");
  p->five_sigma = (stats_five_sigma)ch;
  DD_TRY(cfg_get_choice(cfg, "stats.zero_bkg", "floor", zero_ch, 2, &ch), "stats");
  p->zero_bkg = (stats_zero_bkg)ch;

  /* spec §10: ER normalisation (0.6/12.3 = 4.9 %) and MC stat on; the NR
   * background (issue 14: the largest background in the critical TS bin) on */
  stats_nuisances *nu = &p->nuis;
  DD_TRY(cfg_get_bool(cfg, "stats.sound.er_norm", 1, &nu->er_norm), "stats");
  DD_TRY(cfg_get_double(cfg, "stats.sound.er_norm_width", 0.049, &nu->er_norm_width), "stats");
  DD_TRY(cfg_get_bool(cfg, "stats.sound.nr_bkg", 1, &nu->nr_bkg), "stats");
  DD_TRY(cfg_get_double(cfg, "stats.sound.nr_bkg_width", 0.23, &nu->nr_bkg_width), "stats");
  DD_TRY(cfg_get_bool(cfg, "stats.sound.mc_stat", 1, &nu->mc_stat), "stats");
  DD_TRY(width_check(cfg, "stats.sound.er_norm_width", nu->er_norm_width), "stats");
  DD_TRY(width_check(cfg, "stats.sound.nr_bkg_width", nu->nr_bkg_width), "stats");

  long long toys;
  DD_TRY(cfg_get_int_range(cfg, "stats.toys.count", 10000, 1, 1000000000LL, &toys), "stats");
  DD_TRY(cfg_get_bool(cfg, "stats.toys.importance", 1, &p->toys_importance), "stats");
  DD_TRY(cfg_get_double(cfg, "stats.toys.max_rel_err", 0.2, &p->toys_max_rel_err), "stats");
  if (!(p->toys_max_rel_err > 0.0) || isinf(p->toys_max_rel_err))
    return cfg_error(cfg, "stats.toys.max_rel_err", "must be finite and > 0, got %g",
                     p->toys_max_rel_err);
  if (toys < 1 || toys > 1000000000LL)
    return cfg_error(cfg, "stats.toys.count", "must be in [1, 1e9], got %lld", toys);
  p->toys = (long)toys;

  DD_TRY(cfg_get_double(cfg, "stats.mc_ratio_min", 10.0, &p->mc_ratio_min), "stats");
  if (!(p->mc_ratio_min >= 0.0) || isinf(p->mc_ratio_min))
    return cfg_error(cfg, "stats.mc_ratio_min", "must be finite and >= 0, got %g", p->mc_ratio_min);
  DD_TRY(cfg_get_double(cfg, "stats.low_count.bkg_min", 5.0, &p->low_bkg_min), "stats");
  DD_TRY(cfg_get_double(cfg, "stats.low_count.sb_ratio", 0.1, &p->low_sb_ratio), "stats");
  DD_TRY(cfg_get_double(cfg, "stats.low_count.total_bkg_min", 10.0, &p->low_total_bkg_min),
         "stats");
  if (!(p->low_bkg_min >= 0.0) || !(p->low_sb_ratio >= 0.0) || !(p->low_total_bkg_min >= 0.0))
    return cfg_error(cfg, "stats.low_count", "thresholds must be >= 0");

  /* upper limits: 90 % CL as every sensitivity study quotes; the power
   * constraint is off by default (the ATLAS/CMS -1 sigma rule is 0.1587) */
  DD_TRY(cfg_get_double(cfg, "stats.limits.cl", 0.9, &p->limit_cl), "stats");
  if (!(p->limit_cl >= 0.5 && p->limit_cl < 1.0))
    return cfg_error(cfg, "stats.limits.cl", "must be in [0.5, 1), got %g", p->limit_cl);
  DD_TRY(cfg_get_double(cfg, "stats.limits.power_constraint", 0.0, &p->limit_power_min), "stats");
  if (!(p->limit_power_min >= 0.0 && p->limit_power_min < 0.5))
    return cfg_error(cfg, "stats.limits.power_constraint",
                     "must be a power in [0, 0.5) (0: off; 0.1587: the -1 sigma rule), got %g",
                     p->limit_power_min);

  const double band_def[2] = {100.0, 250.0};
  int nb = 0;
  DD_TRY(cfg_get_double_list(cfg, "stats.r_band", band_def, 2, p->r_band, 2, &nb), "stats");
  if (nb != 2 || !(p->r_band[0] >= 0.0 && p->r_band[1] >= p->r_band[0]))
    return cfg_error(cfg, "stats.r_band", "must be [lo, hi] with 0 <= lo <= hi");
  return DD_OK;
}

void stats_params_print(const stats_params *p) {
  dd_info(
      "stats: TS binning %s, %d bins, range quantiles [%g, %g], min %d MC/bin, under %d over %d",
      RULES[p->binning.rule], p->binning.bins, p->binning.range_q[0], p->binning.range_q[1],
      p->binning.min_mc, p->binning.underflow, p->binning.overflow);
  dd_info("stats: classical cS1 [%g, %g] PE x %d, log10(cS2/cS1) %s x %d, density %s (x%g)",
          p->classical.cs1_range_pe[0], p->classical.cs1_range_pe[1], p->classical.cs1_bins,
          RULES[p->classical.y_rule], p->classical.y_bins, p->classical.kde ? "kde" : "histogram",
          p->classical.kde_scale);
  dd_info("stats: paper bkg %s, five_sigma %s; zero-background bins: %s",
          p->paper_bkg == STATS_PAPER_SHARED ? "shared" : "independent",
          p->five_sigma == STATS_FIVE_P_ONE_SIDED ? "p_one_sided (chi2 26.3376)" : "chi2_25",
          p->zero_bkg == STATS_ZERO_BKG_FLOOR ? "floor" : "error");
  dd_info("stats: sound nuisances: ER norm %s (%g), NR bkg %s (%g), MC stat %s",
          p->nuis.er_norm ? "on" : "off", p->nuis.er_norm_width, p->nuis.nr_bkg ? "on" : "off",
          p->nuis.nr_bkg_width, p->nuis.mc_stat ? "on" : "off");
  dd_info("stats: upper limits at %g %% CL (CLs+b and CLs), power constraint %s (%g)",
          100.0 * p->limit_cl, p->limit_power_min > 0.0 ? "on" : "off", p->limit_power_min);
  dd_info("stats: %ld toys per hypothesis, importance sampling %s; R band [%g, %g]", p->toys,
          p->toys_importance ? "on" : "off", p->r_band[0], p->r_band[1]);
}
