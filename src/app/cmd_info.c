/* cmd_info.c - `ddscan info RESULTS.h5`: a human summary of any results file:
 * what it is (complete, unfinished, shard), which stages it holds and how
 * they ran, the scores, the scan grid and methods, the effective NR sample
 * size per mass, the best R and the 5-sigma cross-section at a few exposures
 * per method and mass.  Every rank reads (the io calls are collective);
 * rank 0 prints. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/app.h"   /* uses: app_opts */
#include "ddscan/io.h"    /* uses: io_file_open, io_attr_read_*, io_read_all */
#include "ddscan/scan.h"  /* uses: scan_bank_group */
#include "ddscan/stage.h" /* uses: stage_find, stage_schema_check */
#include "ddscan/stats.h" /* uses: STATS_FLAG_*, stats_flags_describe */

#define OUT(...)                           \
  do {                                     \
    if (w->rank == 0) printf(__VA_ARGS__); \
  } while (0)

/* Attribute as text ("" when absent). */
static void attr_text(io_file *f, const char *obj, const char *name, char *buf, size_t cap) {
  buf[0] = '\0';
  char *v = NULL;
  if (io_attr_exists(f, obj, name) && io_attr_read_string(f, obj, name, &v) == DD_OK)
    snprintf(buf, cap, "%s", v);
  free(v);
  dd_error_clear();
}

static long long attr_int(io_file *f, const char *obj, const char *name, long long def) {
  long long v = def;
  if (!io_attr_exists(f, obj, name) || io_attr_read_int(f, obj, name, &v) != DD_OK) v = def;
  dd_error_clear();
  return v;
}

static double attr_double(io_file *f, const char *obj, const char *name, double def) {
  double v = def;
  if (!io_attr_exists(f, obj, name) || io_attr_read_double(f, obj, name, &v) != DD_OK) v = def;
  dd_error_clear();
  return v;
}

/* A 1-D float64 dataset read in full (malloc'ed; NULL with *n = 0 when absent). */
static dd_status read_1d(io_file *f, const char *path, double **v, long long *n) {
  *v = NULL;
  *n = 0;
  if (!io_exists(f, path)) return DD_OK;
  int rank;
  long long d[IO_MAX_RANK];
  DD_TRY(io_dataset_shape(f, path, &rank, d), "info");
  long long total = 1;
  for (int k = 0; k < rank; k++) total *= d[k];
  DD_TRY(dd_calloc((void **)v, (size_t)(total > 0 ? total : 1), sizeof **v, path), "info");
  dd_status st = io_read_all(f, path, IO_F64, *v);
  if (st != DD_OK) {
    free(*v);
    *v = NULL;
    return st;
  }
  *n = total;
  return DD_OK;
}

/* The first way the file departs from the schema of the stages it holds
 * ("" when none): a finished stage must match its schema; an unfinished one
 * whose work units began (its done mask exists) must too, since --resume
 * writes into those datasets. */
static void find_damage(io_file *f, char *damage, size_t cap) {
  static const struct {
    const char *stage, *done;
  } k[] = {{"simulate", NULL},
           {"train", NULL},
           {"score", "/scores/done"},
           {"signal", "/signal/done"},
           {"scan", "/scan/done"}};
  char prog[64];
  attr_text(f, "/", "stage_in_progress", prog, sizeof prog);
  if (!io_exists(f, "/config")) {
    snprintf(damage, cap, "its group /config is missing");
    return;
  }
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    char grp[64], end[64], why[512] = "";
    snprintf(grp, sizeof grp, "/provenance/%s", k[i].stage);
    if (!io_exists(f, grp)) continue;
    attr_text(f, grp, "end_time", end, sizeof end);
    const int running = strcmp(prog, k[i].stage) == 0;
    if (!end[0] && !(running && k[i].done && io_exists(f, k[i].done))) continue;
    if (!stage_schema_check(f, stage_find(k[i].stage), why, sizeof why)) {
      snprintf(damage, cap, "stage %s: %s", k[i].stage, why);
      return;
    }
  }
}

static void print_stages(const par_world *w, io_file *f) {
  static const char *const stages[] = {"simulate", "train", "score", "signal", "scan", "merge"};
  OUT("stages:\n");
  for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
    char grp[64], end[64], host[128], ver[128];
    snprintf(grp, sizeof grp, "/provenance/%s", stages[i]);
    if (!io_exists(f, grp)) continue;
    attr_text(f, grp, "end_time", end, sizeof end);
    attr_text(f, grp, "hosts", host, sizeof host);
    attr_text(f, grp, "ddscan_version", ver, sizeof ver);
    double wall = attr_double(f, grp, "wall_time_s", NAN);
    long long nr = attr_int(f, grp, "n_ranks", -1), si = attr_int(f, grp, "shard_index", -1),
              sc = attr_int(f, grp, "shard_count", -1);
    OUT("  %-9s %s, %.3g s on %lld rank(s) (%s), ddscan %s", stages[i], end[0] ? end : "unfinished",
        wall, nr, host, ver);
    if (sc > 0 && si >= 0) OUT(", shard %lld of %lld", si, sc);
    if (strcmp(stages[i], "merge") == 0) OUT(", %lld shards", attr_int(f, grp, "shard_count", -1));
    OUT("\n");
    /* what the stage wrote, against its declared schema (`ddscan schema`) */
    const stage_def *def = stage_find(stages[i]);
    char why[512] = "";
    if (def && !end[0]) continue;
    if (def && !stage_schema_check(f, def, why, sizeof why))
      OUT("            SCHEMA MISMATCH: %s (a damaged file, or one written by another ddscan)\n",
          why);
  }
  static const struct {
    const char *group, *stage;
  } groups[] = {{"/banks", "simulate"},       {"/training", "train"},
                {"/scores", "score"},         {"/scan", "scan"},
                {"/contours", "scan"},        {"/templates", "scan"},
                {"/spectra", "simulate/scan"}};
  OUT("holds:  ");
  for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
    if (io_exists(f, groups[i].group)) OUT(" %s", groups[i].group);
  OUT("\nlacks:  ");
  int none = 1;
  for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
    if (!io_exists(f, groups[i].group)) {
      OUT(" %s (%s stage)", groups[i].group, groups[i].stage);
      none = 0;
    }
  OUT("%s\n", none ? " nothing" : "");
}

static void print_scores(const par_world *w, io_file *f) {
  for (int b = 0; b <= (int)SCAN_BANK_SIGNAL; b++) {
    const char *g = scan_bank_group((scan_bank)b);
    if (!io_exists(f, g)) continue;
    long long n = -1;
    int rank;
    long long d[IO_MAX_RANK];
    char ev[IO_PATH_MAX], preset[64];
    snprintf(ev, sizeof ev, "%s/event", g);
    if (io_exists(f, ev) && io_dataset_shape(f, ev, &rank, d) == DD_OK) n = d[0];
    dd_error_clear();
    attr_text(f, g, "detector_preset", preset, sizeof preset);
    OUT("scores %s: %lld events, %lld draws, beta %g, detector %s, seed %lld\n",
        scan_bank_name((scan_bank)b), n, attr_int(f, g, "n_draws_total", -1),
        attr_double(f, g, "beta", NAN), preset[0] ? preset : "?", attr_int(f, g, "seed", -1));
  }
}

static void print_axis(const par_world *w, const char *name, const double *v, long long n,
                       const char *unit) {
  if (!v || n < 1) return;
  OUT("  %-12s %lld point(s) [%g .. %g] %s\n", name, n, v[0], v[n - 1], unit);
}

/* Up to 3 exposure indices: first, middle, last. */
static int pick_exposures(long long ne, long long *pick) {
  if (ne <= 3) {
    for (long long i = 0; i < ne; i++) pick[i] = i;
    return (int)ne;
  }
  pick[0] = 0;
  pick[1] = ne / 2;
  pick[2] = ne - 1;
  return 3;
}

/* The flag bits that question a contour point (the others record how it was
 * computed: p underflow, independent halves, chi2 = 25, importance toys). */
#define QUALITY_FLAGS                                                                        \
  (STATS_FLAG_FLOORED | STATS_FLAG_LOW_COUNT | STATS_FLAG_NONMONOTONE | STATS_FLAG_NO_ROOT | \
   STATS_FLAG_AT_ZERO | STATS_FLAG_TOY_LIMITED | STATS_FLAG_LOW_MC | STATS_FLAG_MC_RATIO |   \
   STATS_FLAG_TOY_ERR)

/* Why a flag questions the point, for the legend under the table. */
static const char *flag_reason(unsigned bit) {
  switch (bit) {
    case STATS_FLAG_FLOORED:
      return "a bin with signal had no background MC; its background was floored";
    case STATS_FLAG_LOW_COUNT:
      return "the signal-rich bins expect few background events: the asymptotic p-value is "
             "doubtful";
    case STATS_FLAG_NONMONOTONE:
      return "significance not monotone in sigma; the root comes from a dense scan";
    case STATS_FLAG_NO_ROOT:
      return "5 sigma not reached in the search range (sigma5 = inf)";
    case STATS_FLAG_AT_ZERO:
      return "5 sigma exceeded already as sigma -> 0 (sigma5 = 0)";
    case STATS_FLAG_TOY_LIMITED:
      return "p beyond what the toys resolve (an upper bound)";
    case STATS_FLAG_LOW_MC:
      return "the signal-rich bins hold fewer than stats.min_mc effective background MC events in "
             "all";
    case STATS_FLAG_MC_RATIO:
      return "MC-to-data ratio below stats.mc_ratio_min (/contours/mc_ratio)";
    case STATS_FLAG_TOY_ERR:
      return "toy MC error of the contour above stats.toys.max_rel_err (/contours/sigma5_err)";
    default:
      return "";
  }
}

/* The index of R value r on the axis (nearest; -1 when NaN). */
static long long r_index(const double *r, long long nr, double v) {
  if (isnan(v) || nr < 1) return -1;
  long long best = 0;
  for (long long i = 1; i < nr; i++)
    if (fabs(r[i] - v) < fabs(r[best] - v)) best = i;
  return best;
}

/* The flag legend: per method how many points of the whole grid carry each
 * questioning flag, and what it means; returns the flags seen. */
static unsigned print_flag_summary(const par_world *w, char *const *names, int nmeth, const int *fl,
                                   long long per, long long nr) {
  unsigned seen = 0;
  for (int m = 0; m < nmeth; m++) {
    long long n_any = 0, n_bit[32] = {0}, n = 0;
    /* classical has no R: count its points once, not once per R */
    long long step = strcmp(names[m], "classical") == 0 && nr > 0 ? nr : 1;
    for (long long i = 0; i < per; i += step) {
      n++;
      unsigned v = (unsigned)fl[m * per + i] & QUALITY_FLAGS;
      n_any += v != 0;
      for (unsigned b = 0; b < 32; b++) n_bit[b] += (v >> b) & 1u;
      seen |= v;
    }
    OUT("  %-10s %lld of %lld contour points flagged", names[m], n_any, n);
    int first = 1;
    for (unsigned b = 0; b < 32; b++) {
      if (!n_bit[b]) continue;
      char word[64];
      stats_flags_describe(1u << b, word, sizeof word);
      OUT("%s%s %lld", first ? ": " : ", ", word, n_bit[b]);
      first = 0;
    }
    OUT("\n");
  }
  for (unsigned b = 0; b < 32; b++) {
    if (!(seen & (1u << b))) continue;
    char word[64];
    stats_flags_describe(1u << b, word, sizeof word);
    OUT("    %-20s %s\n", word, flag_reason(1u << b));
  }
  return seen;
}

/* The 3-sigma line and the expected limits (median [-1, +1 sigma], CLs+b) at
 * R_opt (bro; the first R when it is NaN), at up to 3 exposures. */
/* The signal axis: "cm^2" for the WIMP, events/(t*y) for another
 * signal.model (/scan attributes signal_units, signal_model). */
static void signal_units(io_file *f, char *units, size_t cap, char *model, size_t mcap) {
  attr_text(f, "/scan", "signal_units", units, cap);
  if (!units[0]) snprintf(units, cap, "cm^2");
  attr_text(f, "/scan", "signal_model", model, mcap);
  if (!model[0]) snprintf(model, mcap, "wimp");
}

/* Model independence (issue 16 item 5): for the first likelihood method
 * (sound, else toys, else paper) the 5-sigma value and the median expected
 * limit at the first R of the grid (the CVAE alone when it is R = 0), at the
 * best R on the grid (smallest 5-sigma value), at the largest R (the most
 * CNN-weighted), and the classical baseline, per mass at up to 3 exposures
 * (the same as the tables above). */
static dd_status print_models(const par_world *w, io_file *f, char **names, int nmeth,
                              const double *mass, long long nm, const double *expo, long long ne,
                              const double *r, long long nr) {
  if (!io_exists(f, "/contours/sigma5") || !io_exists(f, "/contours/limit_clsb") || nr < 1)
    return DD_OK;
  int mt = -1, mc = -1;
  static const char *const prefer[] = {"sound", "toys", "paper"};
  for (int k = 0; k < 3 && mt < 0; k++)
    for (int m = 0; m < nmeth; m++)
      if (strcmp(names[m], prefer[k]) == 0) mt = m;
  for (int m = 0; m < nmeth; m++)
    if (strcmp(names[m], "classical") == 0) mc = m;
  if (mt < 0) return DD_OK;
  size_t n5 = (size_t)(nmeth * nm * ne * nr), nl = n5 * STATS_N_BAND;
  double *s5 = calloc(n5, sizeof *s5), *lim = calloc(nl, sizeof *lim);
  dd_status st = s5 && lim ? DD_OK : DD_FAIL(DD_ERR_NOMEM, "model summary");
  if (st == DD_OK) st = io_read_all(f, "/contours/sigma5", IO_F64, s5);
  if (st == DD_OK) st = io_read_all(f, "/contours/limit_clsb", IO_F64, lim);
  char units[32], model[32];
  signal_units(f, units, sizeof units, model, sizeof model);
  if (st == DD_OK) {
    OUT("model independence (signal.model = %s; %s; 5 sigma / median %g %% CL limit [%s]):\n",
        model, names[mt], 100.0 * attr_double(f, "/contours", "limit_cl", NAN), units);
    /* the first R of the grid is the CVAE alone only when it is 0 */
    char r0[40], rm[40];
    if (r[0] == 0.0)
      snprintf(r0, sizeof r0, "R=0 (CVAE only)");
    else
      snprintf(r0, sizeof r0, "R=%g (smallest; no R=0)", r[0]);
    snprintf(rm, sizeof rm, "R=%g (largest)", r[nr - 1]);
    OUT("  %9s %9s  %-22s %-28s %-22s %-22s\n", "mass_GeV", "E_t*y", r0, "best R", rm, "classical");
    long long pick[3];
    int np = pick_exposures(ne, pick);
    for (long long im = 0; im < nm; im++)
      for (int ip = 0; ip < np; ip++) {
        long long ie = pick[ip];
        long long o = ((mt * nm + im) * ne + ie) * nr, best = 0;
        for (long long ir = 1; ir < nr; ir++)
          if (s5[o + ir] < s5[o + best] || (isnan(s5[o + best]) && !isnan(s5[o + ir]))) best = ir;
        char c0[48], cb[48], cm[48], cc[48] = "-";
        snprintf(c0, sizeof c0, "%.3g / %.3g", s5[o], lim[o * STATS_N_BAND + 2]);
        snprintf(cb, sizeof cb, "%.3g / %.3g (R=%g)", s5[o + best],
                 lim[(o + best) * STATS_N_BAND + 2], r[best]);
        snprintf(cm, sizeof cm, "%.3g / %.3g", s5[o + nr - 1],
                 lim[(o + nr - 1) * STATS_N_BAND + 2]);
        if (mc >= 0) {
          long long oc = ((mc * nm + im) * ne + ie) * nr;
          snprintf(cc, sizeof cc, "%.3g / %.3g", s5[oc], lim[oc * STATS_N_BAND + 2]);
        }
        OUT("  %9g %9g  %-22s %-28s %-22s %-22s\n", mass[im], expo[ie], c0, cb, cm, cc);
      }
  }
  free(s5);
  free(lim);
  return st;
}

static dd_status print_limits(const par_world *w, io_file *f, char **names, int nmeth,
                              const double *mass, long long nm, const double *expo, long long ne,
                              const double *r, long long nr, const double *bro) {
  if (!io_exists(f, "/contours/limit_clsb") || !io_exists(f, "/contours/sigma3")) return DD_OK;
  size_t n3 = (size_t)(nmeth * nm * ne * nr), nl = n3 * STATS_N_BAND;
  double *s3 = calloc(n3, sizeof *s3), *lim = calloc(nl, sizeof *lim);
  dd_status st = s3 && lim ? DD_OK : DD_FAIL(DD_ERR_NOMEM, "limits");
  if (st == DD_OK) st = io_read_all(f, "/contours/sigma3", IO_F64, s3);
  if (st == DD_OK) st = io_read_all(f, "/contours/limit_clsb", IO_F64, lim);
  if (st == DD_OK) {
    long long pick[3];
    int np = pick_exposures(ne, pick);
    char units[32], model[32];
    signal_units(f, units, sizeof units, model, sizeof model);
    OUT("3-sigma line and expected %g %% CL CLs+b limit, median [-1, +1 sigma] [%s] at R_opt:\n",
        100.0 * attr_double(f, "/contours", "limit_cl", NAN), units);
    for (int m = 0; m < nmeth; m++)
      for (long long im = 0; im < nm; im++) {
        long long ir = 0;
        for (long long k = 0; k < nr; k++)
          if (r[k] == bro[m * nm + im]) ir = k;
        OUT("  %-10s %9g", names[m], mass[im]);
        for (int k = 0; k < np; k++) {
          long long o = ((m * nm + im) * ne + pick[k]) * nr + ir;
          const double *l = lim + o * STATS_N_BAND;
          char cell[80];
          if (isnan(l[2])) /* paper: chi^2_P has no likelihood to invert */
            snprintf(cell, sizeof cell, "E=%g: 3s %.3g, no limit", expo[pick[k]], s3[o]);
          else
            snprintf(cell, sizeof cell, "E=%g: 3s %.3g, %.3g [%.3g, %.3g]", expo[pick[k]], s3[o],
                     l[2], l[1], l[3]);
          OUT("  %-46s", cell);
        }
        OUT("\n");
      }
  }
  free(s3);
  free(lim);
  return st;
}

/* MC-to-data ratio of the contours per method (issue 14): the smallest
 * ratio and how many points fall below stats.mc_ratio_min (flag mc-ratio). */
static dd_status print_mc_ratio(const par_world *w, io_file *f, char *const *names, int nmeth) {
  double *ratio = NULL, *flags = NULL;
  long long n = 0, nf = 0;
  dd_status st = read_1d(f, "/contours/mc_ratio", &ratio, &n);
  if (st == DD_OK) st = read_1d(f, "/contours/flags", &flags, &nf);
  if (st == DD_OK && n > 0 && nf == n && nmeth > 0 && n % nmeth == 0) {
    long long per = n / nmeth;
    OUT("MC-to-data ratio on the contours (limit %g; /contours/mc_ratio):\n",
        attr_double(f, "/scan", "mc_ratio_min", NAN));
    for (int m = 0; m < nmeth; m++) {
      double lo = INFINITY;
      long long bad = 0;
      for (long long i = m * per; i < (m + 1) * per; i++) {
        if (ratio[i] >= 0.0) lo = fmin(lo, ratio[i]);
        bad += ((unsigned)flags[i] & STATS_FLAG_MC_RATIO) != 0;
      }
      OUT("  %-10s min %-10.3g %lld of %lld points flagged\n", names[m], isinf(lo) ? NAN : lo, bad,
          per);
    }
  }
  free(ratio);
  free(flags);
  return st;
}

static dd_status print_scan(const par_world *w, io_file *f) {
  double *mass = NULL, *sigma = NULL, *expo = NULL, *r = NULL, *ess = NULL, *rate = NULL,
         *lo = NULL, *hi = NULL, *bro = NULL, *atb = NULL;
  long long nm = 0, ns = 0, ne = 0, nr = 0, n_ess = 0, n_rate = 0, n_lo = 0, n_hi = 0, n_bro = 0,
            n_atb = 0;
  dd_status st = read_1d(f, "/axes/mass_gev", &mass, &nm);
  if (st == DD_OK) st = read_1d(f, "/axes/sigma_cm2", &sigma, &ns);
  if (st == DD_OK) st = read_1d(f, "/axes/exposure_ty", &expo, &ne);
  if (st == DD_OK) st = read_1d(f, "/axes/r", &r, &nr);
  if (st == DD_OK) st = read_1d(f, "/scan/effective_events", &ess, &n_ess);
  if (st == DD_OK) st = read_1d(f, "/scan/signal_rate", &rate, &n_rate);
  if (st == DD_OK) st = read_1d(f, "/contours/band_lo", &lo, &n_lo);
  if (st == DD_OK) st = read_1d(f, "/contours/band_hi", &hi, &n_hi);
  if (st == DD_OK) st = read_1d(f, "/contours/best_r_overall", &bro, &n_bro);
  if (st == DD_OK) st = read_1d(f, "/contours/sigma5_best_r", &atb, &n_atb);
  char methods[128], list[128];
  attr_text(f, "/scan", "methods", methods, sizeof methods);
  snprintf(list, sizeof list, "%s", methods);
  int nmeth = 0;
  char *names[STATS_N_METHODS];
  for (char *t = methods; nmeth < STATS_N_METHODS && t && *t;) {
    names[nmeth++] = t;
    t = strstr(t, ", ");
    if (t) {
      *t = '\0';
      t += 2;
    }
  }
  char units[32], model[32];
  signal_units(f, units, sizeof units, model, sizeof model);
  const int wimp = strcmp(model, "wimp") == 0;
  if (st == DD_OK && nm > 0) {
    OUT("scan grid:\n");
    if (!wimp)
      OUT("  signal       signal.model = %s: the signal axis is a rate before selection, the "
          "mass axis a single point\n",
          model);
    print_axis(w, "mass", mass, nm, "GeV/c^2");
    print_axis(w, wimp ? "sigma" : "rate", sigma, ns, units);
    print_axis(w, "exposure", expo, ne, "t*y");
    print_axis(w, "R", r, nr, "");
    OUT("  methods      %s (conventions: h5dump -a /scan/conventions)\n", list);
    if (io_exists(f, "/scan/done")) {
      unsigned char *done = calloc((size_t)(nm * nr > 0 ? nm * nr : 1), 1);
      if (!done) st = DD_FAIL(DD_ERR_NOMEM, "done mask");
      if (st == DD_OK) st = io_read_all(f, "/scan/done", IO_U8, done);
      long long nd = 0;
      for (long long u = 0; st == DD_OK && u < nm * nr; u++) nd += done[u] == 1;
      free(done);
      OUT("  units        %lld of %lld (mass, R) done\n", nd, nm * nr);
    }
    if (!wimp && n_ess == nm && n_rate == nm) {
      OUT("signal acceptance (%s sample, %lld events, effective sample size %.0f): %.4g\n", model,
          attr_int(f, "/scan", "n_signal_events", -1), ess[0], rate[0]);
    } else if (n_ess == nm && n_rate == nm) {
      OUT("signal per mass (NR bank reweighted; sigma_ref %g cm^2):\n",
          attr_double(f, "/scan", "sigma_ref_cm2", NAN));
      for (long long i = 0; i < nm; i++)
        OUT("  %8g GeV  %10.4g events/(t*y)  effective sample size %.0f\n", mass[i], rate[i],
            ess[i]);
    }
  }
  int bands = st == DD_OK && nm > 0 && ne > 0 && n_lo == nmeth * nm * ne && n_hi == n_lo &&
              n_bro == nmeth * nm && n_atb == n_lo;
  /* the flags of every contour point, [method][mass][exposure][r] */
  int *fl = NULL;
  long long per = nm * ne * nr;
  if (bands && nr > 0 && io_exists(f, "/contours/flags")) {
    int rank;
    long long d[IO_MAX_RANK];
    st = io_dataset_shape(f, "/contours/flags", &rank, d);
    if (st == DD_OK && rank == 4 && d[0] == nmeth && d[1] * d[2] * d[3] == per) {
      st = dd_calloc((void **)&fl, (size_t)(nmeth * per > 0 ? nmeth * per : 1), sizeof *fl,
                     "/contours/flags");
      if (st == DD_OK) st = io_read_all(f, "/contours/flags", IO_I32, fl);
    }
    if (st != DD_OK) bands = 0;
  }
  if (bands) {
    long long pick[3];
    int np = pick_exposures(ne, pick);
    int merged = 0;
    for (long long i = 0; i < n_lo; i++) merged |= !isnan(lo[i]) || !isnan(atb[i]);
    OUT("5-sigma %s [%s] at R_opt (band over R in [%g, %g]):\n",
        wimp ? "cross-section" : "signal rate", units,
        attr_double(f, "/contours", "r_band_lo", NAN),
        attr_double(f, "/contours", "r_band_hi", NAN));
    if (!merged) OUT("  (not computed: a shard file; `ddscan merge` the shards first)\n");
    OUT("  %-10s %9s %9s", "method", "mass_GeV", "R_opt");
    for (int k = 0; k < np; k++) {
      char head[48];
      snprintf(head, sizeof head, "E=%g t*y", expo[pick[k]]);
      OUT("  %-32s", head);
    }
    OUT("\n");
    int n_edge = 0, n_marked = 0, has_classical = 0;
    for (int m = 0; merged && m < nmeth; m++) {
      /* classical has no R: its contour is the same at every R */
      int no_r = strcmp(names[m], "classical") == 0;
      has_classical |= no_r;
      for (long long im = 0; im < nm; im++) {
        double ro = bro[m * nm + im];
        long long ir = r_index(r, nr, ro);
        int edge = !no_r && nr > 1 && (ir == 0 || ir == nr - 1);
        char rcol[32];
        if (no_r)
          snprintf(rcol, sizeof rcol, "-");
        else if (isnan(ro))
          snprintf(rcol, sizeof rcol, "none");
        else
          snprintf(rcol, sizeof rcol, "%g%s", ro, edge ? " edge" : "");
        n_edge += edge;
        OUT("  %-10s %9g %9s", names[m], mass[im], rcol);
        for (int k = 0; k < np; k++) {
          long long o = (m * nm + im) * ne + pick[k];
          unsigned v = fl && ir >= 0 ? (unsigned)fl[m * per + (im * ne + pick[k]) * nr + ir] : 0;
          v &= QUALITY_FLAGS;
          char cell[64];
          snprintf(cell, sizeof cell, "%.3g [%.3g, %.3g]%s", atb[o], lo[o], hi[o], v ? " !" : "");
          n_marked += v != 0;
          OUT("  %-32s", cell);
        }
        OUT("\n");
      }
    }
    if (merged && has_classical)
      OUT("  (classical has no R: its cross-section is the same at every R)\n");
    for (int m = 0; merged && n_edge && m < nmeth; m++) {
      if (strcmp(names[m], "classical") == 0) continue;
      for (long long im = 0; im < nm; im++) {
        double ro = bro[m * nm + im];
        long long ir = r_index(r, nr, ro);
        if (nr > 1 && (ir == 0 || ir == nr - 1))
          OUT("  %s at %g GeV: R_opt at the grid edge (R=%g), not an optimum: extend scan.r "
              "%s\n",
              names[m], mass[im], ro, ir == 0 ? "below it" : "beyond it");
      }
    }
    if (merged && fl) {
      OUT("contour quality (/contours/flags; ! above: the point at R_opt is flagged, %d shown):\n",
          n_marked);
      print_flag_summary(w, names, nmeth, fl, per, nr);
      for (int m = 0; n_marked && m < nmeth; m++)
        for (long long im = 0; im < nm; im++) {
          long long ir = r_index(r, nr, bro[m * nm + im]);
          for (int k = 0; ir >= 0 && k < np; k++) {
            unsigned v = (unsigned)fl[m * per + (im * ne + pick[k]) * nr + ir] & QUALITY_FLAGS;
            if (!v) continue;
            char words[256];
            stats_flags_describe(v, words, sizeof words);
            char rtext[32] = "";
            if (strcmp(names[m], "classical") != 0) snprintf(rtext, sizeof rtext, ", R=%g", r[ir]);
            OUT("  ! %s at %g GeV, E=%g t*y%s: %s\n", names[m], mass[im], expo[pick[k]], rtext,
                words);
          }
        }
    }
    if (merged) st = print_limits(w, f, names, nmeth, mass, nm, expo, ne, r, nr, bro);
    if (merged && st == DD_OK) st = print_models(w, f, names, nmeth, mass, nm, expo, ne, r, nr);
  }
  if (st == DD_OK && nm > 0) st = print_mc_ratio(w, f, names, nmeth);
  free(fl);
  double *arrs[] = {mass, sigma, expo, r, ess, rate, lo, hi, bro, atb};
  for (size_t k = 0; k < sizeof arrs / sizeof arrs[0]; k++) free(arrs[k]);
  return st;
}

dd_status app_cmd_info(const par_world *w, const app_opts *o) {
  if (o->n_args != 1) return DD_FAIL(DD_ERR_ARG, "info needs exactly one RESULTS.h5");
  const char *path = o->args[0];
  int exists = w->rank == 0 ? dd_path_exists(path) : 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, w->comm);
  if (!exists) return DD_FAIL(DD_ERR_IO, "info: '%s' does not exist", path);
  const size_t plen = strlen(path);
  const int is_tmp = plen > 4 && strcmp(path + plen - 4, ".tmp") == 0;
  static const char *const todo_tmp =
      "delete it, or run the stage again without --resume (which discards it)";
  const char *todo =
      is_tmp ? todo_tmp : "rerun the stage that writes it, or restore the file from a copy";
  io_file *f = NULL;
  if (io_file_open(w, path, IO_READ, &f) != DD_OK) {
    /* the open's own message names no remedy: this one is what the user reads */
    dd_error_clear();
    return DD_FAIL(DD_ERR_HDF5, "info: '%s' is not an HDF5 file, or is truncated or damaged: %s",
                   path, todo);
  }
  /* Every ddscan file carries format_version at its root (io_file_create),
   * and /config; without them it is another program's file, or damaged. */
  if (!io_attr_exists(f, "/", "format_version")) {
    io_file_close(&f);
    return DD_FAIL(DD_ERR_IO,
                   "info: '%s' is not a ddscan results file (an HDF5 file without the root "
                   "attribute format_version: written by another program, or damaged)",
                   path);
  }
  char damage[600] = "";
  find_damage(f, damage, sizeof damage);
  if (io_attr_exists(f, "/", "stage_in_progress")) todo = todo_tmp; /* an unfinished file */
  char ver[128], git[64], created[64], hash[32], prog[64];
  attr_text(f, "/", "ddscan_version", ver, sizeof ver);
  attr_text(f, "/", "git_rev", git, sizeof git);
  attr_text(f, "/", "created", created, sizeof created);
  attr_text(f, "/", "config_hash", hash, sizeof hash);
  attr_text(f, "/", "stage_in_progress", prog, sizeof prog);
  OUT("file:    %s\n", path);
  OUT("format:  %lld, written by ddscan %s (git %s), created %s, last stage on %lld rank(s)\n",
      attr_int(f, "/", "format_version", -1), ver, git, created, attr_int(f, "/", "n_ranks", -1));
  OUT("config:  hash %s (stored text: h5dump -a /config/text)\n", hash[0] ? hash : "?");
  long long si = attr_int(f, "/", "shard_index", -1), sc = attr_int(f, "/", "shard_count", -1);
  if (damage[0])
    OUT("status:  DAMAGED: %s\n", damage);
  else if (prog[0])
    OUT("status:  UNFINISHED: stage '%s' was interrupted (continue it with --resume)\n", prog);
  else if (sc > 0)
    OUT("status:  complete shard %lld of %lld (combine the shards with `ddscan merge`)\n", si, sc);
  else
    OUT("status:  complete\n");
  print_stages(w, f);
  print_scores(w, f);
  dd_status st = io_exists(f, "/axes/mass_gev") ? print_scan(w, f) : DD_OK;
  if (w->rank == 0) fflush(stdout);
  dd_status st2 = io_file_close(&f);
  if (st != DD_OK) {
    char why[512];
    snprintf(why, sizeof why, "%s", dd_error_user_message());
    dd_error_clear();
    return DD_FAIL(DD_ERR_HDF5, "info: '%s' is damaged (a dataset cannot be read: %s): %s", path,
                   why, todo);
  }
  if (damage[0]) return DD_FAIL(DD_ERR_IO, "info: '%s' is damaged (%s): %s", path, damage, todo);
  return st2;
}
