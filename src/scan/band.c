/* band.c - what needs every unit of a scan: the R band of the 5-sigma
 * contours with the best R (spec §6.5, stats_rband), computed from the file
 * itself so that the end of a scan and the merge of its shards write the
 * same bytes; and `ddscan merge` (io_shards_merge + the band). */
#include "ddscan/scan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dd_status shape_of(io_file *f, const char *path, int want_rank, long long *dims) {
  int rank = 0;
  DD_TRY(io_dataset_shape(f, path, &rank, dims), "R band");
  if (rank != want_rank)
    return DD_FAIL(DD_ERR_IO, "'%s': %s has %d dimensions, expected %d", io_file_disk_path(f), path,
                   rank, want_rank);
  return DD_OK;
}

dd_status scan_rband_write(io_file *f) {
  const par_world *w = io_file_world(f);
  long long d[IO_MAX_RANK], dr[IO_MAX_RANK];
  DD_TRY(shape_of(f, "/contours/sigma5", 4, d), "R band");
  DD_TRY(shape_of(f, "/axes/r", 1, dr), "R band");
  long long nm = d[0], nmass = d[1], ne = d[2], nr = d[3];
  if (dr[0] != nr) return DD_FAIL(DD_ERR_IO, "/axes/r does not match /contours/sigma5");
  double band[2];
  DD_TRY(io_attr_read_double(f, "/contours", "r_band_lo", &band[0]), "R band");
  DD_TRY(io_attr_read_double(f, "/contours", "r_band_hi", &band[1]), "R band");
  int root = w->rank == 0;
  /* rank 0 reads and computes; the others take part in the collectives */
  long long n_all = nm * nmass * ne * nr, n3 = nm * nmass * ne, n2 = nm * nmass;
  double *sig = NULL, *r = NULL, *mu = NULL, *lo = NULL, *hi = NULL, *best = NULL, *bo = NULL,
         *at = NULL;
  int *bi = NULL;
  dd_status st = DD_OK;
  if (root) {
    double **arrs[] = {&sig, &r, &mu, &lo, &hi, &best, &bo, &at};
    long long lens[] = {n_all, nr, nr * ne, n3, n3, n3, n2, n3};
    for (size_t k = 0; k < sizeof arrs / sizeof arrs[0] && st == DD_OK; k++)
      st = dd_calloc((void **)arrs[k], (size_t)(lens[k] > 0 ? lens[k] : 1), sizeof(double),
                     "R band");
    if (st == DD_OK) st = dd_calloc((void **)&bi, (size_t)(ne > 0 ? ne : 1), sizeof *bi, "R band");
  }
  st = par_agree(w, st);
  long long zero[4] = {0, 0, 0, 0}, box4[4] = {root ? nm : 0, nmass, ne, nr}, box1 = root ? nr : 0;
  if (st == DD_OK) st = io_read_slab(f, "/contours/sigma5", IO_F64, zero, box4, sig);
  if (st == DD_OK) st = io_read_slab(f, "/axes/r", IO_F64, zero, &box1, r);
  if (st == DD_OK && root) {
    for (long long m = 0; m < nm; m++)
      for (long long im = 0; im < nmass; im++) {
        const double *s = sig + (m * nmass + im) * ne * nr; /* [ie][ir] */
        for (long long ir = 0; ir < nr; ir++)
          for (long long ie = 0; ie < ne; ie++) mu[ir * ne + ie] = s[ie * nr + ir];
        size_t o = (size_t)((m * nmass + im) * ne);
        int overall = -1;
        stats_rband(r, (int)nr, mu, (int)ne, band, lo + o, hi + o, bi, &overall);
        bo[m * nmass + im] = overall >= 0 ? r[overall] : NAN;
        for (long long ie = 0; ie < ne; ie++) {
          best[o + ie] = bi[ie] >= 0 ? r[bi[ie]] : NAN;
          at[o + ie] = overall >= 0 ? mu[overall * ne + ie] : NAN;
        }
      }
  }
  if (st == DD_OK) st = io_write_root(f, "/contours/band_lo", IO_F64, lo);
  if (st == DD_OK) st = io_write_root(f, "/contours/band_hi", IO_F64, hi);
  if (st == DD_OK) st = io_write_root(f, "/contours/best_r", IO_F64, best);
  if (st == DD_OK) st = io_write_root(f, "/contours/best_r_overall", IO_F64, bo);
  if (st == DD_OK) st = io_write_root(f, "/contours/sigma5_best_r", IO_F64, at);
  free(sig);
  free(r);
  free(mu);
  free(lo);
  free(hi);
  free(best);
  free(bo);
  free(at);
  free(bi);
  if (st != DD_OK) return DD_CONTEXT(st, "R band of '%s'", io_file_disk_path(f));
  return DD_OK;
}

dd_status scan_flags_report(io_file *f) {
  const par_world *w = io_file_world(f);
  long long d[IO_MAX_RANK];
  DD_TRY(shape_of(f, "/contours/flags", 4, d), "flag report");
  long long n = d[0] * d[1] * d[2] * d[3], per = d[1] * d[2] * d[3];
  char *methods = NULL;
  DD_TRY(io_attr_read_string(f, "/scan", "methods", &methods), "flag report");
  int32_t *fl = NULL;
  double *ratio = NULL; /* /contours/mc_ratio, NULL when the file has none */
  dd_status st = dd_calloc((void **)&fl, (size_t)(n > 0 ? n : 1), sizeof *fl, "flags");
  if (st == DD_OK) st = io_read_all(f, "/contours/flags", IO_I32, fl);
  /* what clears the MC-ratio flags: the ratio grows in proportion to the
   * analysis sample, so the sample times limit / worst ratio does */
  long long n_er = 0;
  double ratio_min = NAN;
  if (st == DD_OK && io_exists(f, "/contours/mc_ratio") &&
      io_attr_exists(f, "/scan", "n_er_events") && io_attr_exists(f, "/scan", "mc_ratio_min")) {
    st = dd_calloc((void **)&ratio, (size_t)(n > 0 ? n : 1), sizeof *ratio, "MC ratios");
    if (st == DD_OK) st = io_read_all(f, "/contours/mc_ratio", IO_F64, ratio);
    if (st == DD_OK) st = io_attr_read_int(f, "/scan", "n_er_events", &n_er);
    if (st == DD_OK) st = io_attr_read_double(f, "/scan", "mc_ratio_min", &ratio_min);
  }
  char *name = methods;
  for (long long m = 0; st == DD_OK && m < d[0]; m++) {
    char *next = strstr(name, ", ");
    if (next) *next = '\0';
    unsigned any = 0;
    long long n_low = 0, n_none = 0, n_mcr = 0;
    double worst = INFINITY;
    for (long long i = 0; i < per; i++) {
      unsigned v = (unsigned)fl[m * per + i];
      any |= v;
      n_low += (v & (STATS_FLAG_LOW_COUNT | STATS_FLAG_LOW_MC | STATS_FLAG_FLOORED)) != 0;
      n_none += (v & STATS_FLAG_NO_ROOT) != 0;
      n_mcr += (v & STATS_FLAG_MC_RATIO) != 0;
      if ((v & STATS_FLAG_MC_RATIO) && ratio && ratio[m * per + i] >= 0.0)
        worst = fmin(worst, ratio[m * per + i]);
    }
    if (n_mcr > 0 && w->rank == 0)
      dd_warn(
          "%s: %lld of %lld contour points rest on too little background MC (MC-to-data ratio "
          "below stats.mc_ratio_min, /contours/mc_ratio): scale score.er_events by the limit over "
          "the smallest ratio there to clear them",
          name, n_mcr, per);
    if (n_mcr > 0 && w->rank == 0 && ratio && n_er > 0) {
      if (worst > 0.0 && isfinite(worst))
        dd_warn(
            "%s: about %.0f ER analysis events (score.er_events or detector.bank.er_analysis; "
            "now %lld, worst MC ratio %.3g < %g) would clear them; scale score.nr_events alike "
            "when the NR background is on",
            name, ceil((double)n_er * ratio_min / worst), n_er, worst, ratio_min);
      else
        dd_warn(
            "%s: some flagged points have no background MC in the bins that carry their "
            "significance: no sample size can be read off; raise score.er_events several-fold "
            "(now %lld) or use fewer TS bins",
            name, n_er);
    }
    if (any && w->rank == 0) {
      char words[256];
      stats_flags_describe(any, words, sizeof words);
      dd_warn(
          "%s: %lld of %lld contour points flagged low count, low MC or floored "
          "background, %lld without a 5-sigma root (flags: %s; see /contours/flags)",
          name, n_low, per, n_none, words);
    }
    name = next ? next + 2 : name + strlen(name);
  }
  free(fl);
  free(ratio);
  free(methods);
  return st;
}

static dd_status merge_finish(io_file *out, void *ctx) {
  (void)ctx;
  DD_TRY(scan_rband_write(out), "merge");
  return scan_flags_report(out);
}

dd_status scan_merge(const par_world *w, const char *output_path, const char *const *shards,
                     int n_shards, int argc, char *const *argv) {
  dd_info("merge: %d shard file(s) -> '%s'", n_shards, output_path);
  DD_TRY(io_shards_merge(w, output_path, shards, n_shards, "/scan/done", argc, argv, merge_finish,
                         NULL),
         "merge");
  dd_info("merge: wrote '%s' (R band computed over all units)", output_path);
  return DD_OK;
}
