/* schema.c - the declarative table of every N-D dataset the scan stage owns
 * (/scan, /contours, /templates, /spectra).  One row per dataset, indexed by
 * scan_ud (scan_internal.h) with designated initialisers, so the enum and
 * the table cannot drift apart: the layout creates the datasets from it, the
 * work units write their slices by the same index, io_units gets its list of
 * per-unit paths from it, a resumed file is checked against it and
 * docs/format.md's tables are printed from it (`ddscan schema`). */
#include "scan_internal.h"

#include <stdio.h>
#include <string.h>

/* Axis paths (written by the layout before any dataset). */
#define A "/axes/analysis"
#define MS "/axes/mass_gev"
#define SG "/axes/sigma_cm2"
#define EX "/axes/exposure_ty"
#define RR "/axes/r"
#define BD "/axes/band"
#define TB "/templates/ts/bin"
#define TE "/templates/ts/edge"
#define CX "/templates/classical/cs1_edge"
#define CB "/templates/classical/cs1_bin"
#define CY "/templates/classical/y_edge"
#define CYB "/templates/classical/y_bin"
#define SM "/spectra/mass_gev"
#define SE "/spectra/e_kev"
#define PER_T_Y "events/(t*y)"
#define PER_T_Y_2 "(events/(t*y))^2"
#define CL SCAN_NEED_CLASSICAL
#define NRB SCAN_NEED_NR_BKG

const io_spec scan_datasets[SD_N] = {
    /* per work unit (mass, R): every row carries both unit axes */
    [UD_P] = {"/scan/p_value",
              IO_F64,
              {A, MS, SG, EX, RR},
              "1",
              "discovery p-value of the background-only hypothesis (conventions per method: "
              "/scan attribute conventions)",
              0},
    [UD_Z] = {"/scan/z",
              IO_F64,
              {A, MS, SG, EX, RR},
              "1",
              "significance Z: sound/classical the median sqrt(q0,A); paper and toys "
              "Phibar^-1(p) (one-sided)",
              0},
    [UD_LOGP] = {"/scan/log_p",
                 IO_F64,
                 {A, MS, SG, EX, RR},
                 "1",
                 "natural log of p_value, finite where p underflows",
                 0},
    [UD_P_ERR] = {"/scan/p_value_err",
                  IO_F64,
                  {A, MS, SG, EX, RR},
                  "1",
                  "MC standard error of a toy p-value (binomial for the direct count, the "
                  "importance-sampling estimator's own otherwise); NaN for Asimov methods; points "
                  "above stats.toys.max_rel_err x p are counted in a warning",
                  0},
    [UD_SIG5] = {"/contours/sigma5",
                 IO_F64,
                 {A, MS, EX, RR},
                 "cm^2",
                 "cross-section at which the method reaches its 5-sigma threshold (+inf: not "
                 "within 1e20 sigma_ref; 0: above it as sigma -> 0)",
                 0},
    [UD_FLAGS] = {"/contours/flags",
                  IO_I32,
                  {A, MS, EX, RR},
                  "1",
                  "stats flag bits of the contour point (1 floored background, 2 low count, 8 "
                  "non-monotone, 16 no root, 32 at zero, 1024 low MC, 2048 MC-to-data ratio "
                  "below stats.mc_ratio_min, 4096 toy MC error above stats.toys.max_rel_err; "
                  "include/ddscan/stats.h)",
                  0},
    [UD_MC_RATIO] = {"/contours/mc_ratio",
                     IO_F64,
                     {A, MS, EX, RR},
                     "1",
                     "MC-to-data ratio at the contour point: among the bins holding 90 % of the "
                     "Asimov q0, the smallest effective background MC events per expected "
                     "background event (NaN without a finite contour; flag 2048 below "
                     "stats.mc_ratio_min)",
                     0},
    [UD_SIG5_ERR] =
        {"/contours/sigma5_err",
         IO_F64,
         {A, MS, EX, RR},
         "cm^2",
         "MC error of a toy-calibrated sigma5 (spread of the toy median over its slope "
         "in ln sigma; the threshold's own error not included); NaN for Asimov methods; "
         "flag 4096 above stats.toys.max_rel_err x sigma5",
         0},
    [UD_SIG3] = {"/contours/sigma3",
                 IO_F64,
                 {A, MS, EX, RR},
                 "cm^2",
                 "cross-section at which the method reaches its 3-sigma evidence threshold (q0,A "
                 "= 9; paper chi^2_P = 10.273; toys: the toy-calibrated threshold), as sigma5",
                 0},
    [UD_FLAGS3] = {"/contours/sigma3_flags",
                   IO_I32,
                   {A, MS, EX, RR},
                   "1",
                   "stats flag bits of the 3-sigma contour point (as /contours/flags)",
                   0},
    [UD_LIM_CLSB] = {"/contours/limit_clsb",
                     IO_F64,
                     {A, MS, EX, RR, BD},
                     "cm^2",
                     "expected upper limit at CL = /contours attribute limit_cl with CLs+b from "
                     "q~mu (Cowan et al. 2011 eq. 16): median and +-1/2 sigma bands of the "
                     "background-only distribution; sound/classical asymptotic (Asimov, eqs. "
                     "89-90), toys toy-calibrated, paper NaN (no likelihood); the -2 sigma band "
                     "may be < 0 (spurious exclusion) unless the power constraint is on",
                     0},
    [UD_LIM_CLS] = {"/contours/limit_cls",
                    IO_F64,
                    {A, MS, EX, RR, BD},
                    "cm^2",
                    "expected upper limit with CLs = p_mu/(1 - p_b) at the same CL, asymptotic "
                    "for every likelihood method (toys too); paper NaN",
                    0},
    [UD_LIM_ERR] = {"/contours/limit_clsb_err",
                    IO_F64,
                    {A, MS, EX, RR, BD},
                    "cm^2",
                    "MC error of the toy-calibrated limit_clsb (binomial error of the toy power "
                    "over its slope); NaN for asymptotic limits",
                    0},
    [UD_LIM_FLAGS] = {"/contours/limit_flags",
                      IO_I32,
                      {A, MS, EX, RR},
                      "1",
                      "limit flag bits: 1 a CLs+b band <= 0, 2 raised by the power constraint, 4 "
                      "no root (+inf), 8 toys: band below the toy grid (0), 16 toys: median MC "
                      "error > 10 %, 32 non-monotone (include/ddscan/stats.h STATS_LIMIT_*)",
                      0},
    [UD_TS_EDGES] = {"/templates/ts/edges",
                     IO_F64,
                     {MS, RR, TE},
                     "1",
                     "TS bin edges at this R (+-inf at open ends; NaN beyond n_bins + 1; the "
                     "same for every mass)",
                     0},
    [UD_TS_NBINS] =
        {"/templates/ts/n_bins", IO_I32, {MS, RR}, "1", "number of TS bins of the unit", 0},
    [UD_TS_BKG] = {"/templates/ts/background",
                   IO_F64,
                   {MS, RR, TB},
                   PER_T_Y,
                   "ER background per TS bin (beta_i; NaN beyond n_bins)",
                   0},
    [UD_TS_BKG_W2] = {"/templates/ts/background_w2",
                      IO_F64,
                      {MS, RR, TB},
                      PER_T_Y_2,
                      "sum of squared ER weights per TS bin (MC statistics)",
                      0},
    [UD_TS_BKG_MC] = {"/templates/ts/background_mc",
                      IO_I64,
                      {MS, RR, TB},
                      "1",
                      "ER Monte-Carlo events per TS bin (0 beyond n_bins)",
                      0},
    [UD_TS_SIG] = {"/templates/ts/signal",
                   IO_F64,
                   {MS, RR, TB},
                   PER_T_Y,
                   "WIMP signal per TS bin at sigma_ref (alpha_i; scale by sigma/sigma_ref)",
                   0},
    [UD_TS_SIG_W2] = {"/templates/ts/signal_w2",
                      IO_F64,
                      {MS, RR, TB},
                      PER_T_Y_2,
                      "sum of squared signal weights per TS bin at sigma_ref",
                      0},
    [UD_TS_NRB] = {"/templates/ts/nr_background",
                   IO_F64,
                   {MS, RR, TB},
                   PER_T_Y,
                   "NR background per TS bin",
                   NRB},
    [UD_TS_NRB_W2] = {"/templates/ts/nr_background_w2",
                      IO_F64,
                      {MS, RR, TB},
                      PER_T_Y_2,
                      "sum of squared NR-background weights per TS bin",
                      NRB},
    [UD_CL_X] = {"/templates/classical/cs1_edges",
                 IO_F64,
                 {MS, RR, CX},
                 "PE",
                 "cS1 bin edges of the classical histogram",
                 CL},
    [UD_CL_Y] = {"/templates/classical/y_edges",
                 IO_F64,
                 {MS, RR, CB, CY},
                 "1",
                 "log10(cS2/cS1) bin edges per cS1 slice (+-inf at open ends)",
                 CL},
    [UD_CL_BKG] = {"/templates/classical/background",
                   IO_F64,
                   {MS, RR, CB, CYB},
                   PER_T_Y,
                   "ER background per (cS1, log10 cS2/cS1) bin",
                   CL},
    [UD_CL_BKG_W2] = {"/templates/classical/background_w2",
                      IO_F64,
                      {MS, RR, CB, CYB},
                      PER_T_Y_2,
                      "sum of squared ER weights per classical bin",
                      CL},
    [UD_CL_BKG_MC] = {"/templates/classical/background_mc",
                      IO_I64,
                      {MS, RR, CB, CYB},
                      "1",
                      "ER Monte-Carlo events per classical bin",
                      CL},
    [UD_CL_SIG] = {"/templates/classical/signal",
                   IO_F64,
                   {MS, RR, CB, CYB},
                   PER_T_Y,
                   "WIMP signal per classical bin at sigma_ref",
                   CL},
    [UD_CL_SIG_W2] = {"/templates/classical/signal_w2",
                      IO_F64,
                      {MS, RR, CB, CYB},
                      PER_T_Y_2,
                      "sum of squared signal weights per classical bin at sigma_ref",
                      CL},
    [UD_CL_NRB] = {"/templates/classical/nr_background",
                   IO_F64,
                   {MS, RR, CB, CYB},
                   PER_T_Y,
                   "NR background per classical bin",
                   CL | NRB},
    [UD_CL_NRB_W2] = {"/templates/classical/nr_background_w2",
                      IO_F64,
                      {MS, RR, CB, CYB},
                      PER_T_Y_2,
                      "sum of squared NR-background weights per classical bin",
                      CL | NRB},
    /* derived from every unit at the end (band.c): not per unit */
    [SD_BAND_LO] = {"/contours/band_lo",
                    IO_F64,
                    {A, MS, EX},
                    "cm^2",
                    "lower edge of the R band: min over R in [r_band_lo, r_band_hi] of sigma5 "
                    "(NaN in a shard file until merged)",
                    0},
    [SD_BAND_HI] = {"/contours/band_hi",
                    IO_F64,
                    {A, MS, EX},
                    "cm^2",
                    "upper edge of the R band: max over R in [r_band_lo, r_band_hi] of sigma5",
                    0},
    [SD_BEST_R] = {"/contours/best_r",
                   IO_F64,
                   {A, MS, EX},
                   "1",
                   "R with the smallest sigma5 at this exposure (lowest R on ties; NaN when no "
                   "R has a finite sigma5)",
                   0},
    [SD_BEST_R_OVERALL] = {"/contours/best_r_overall",
                           IO_F64,
                           {A, MS},
                           "1",
                           "R minimising sum over exposures of ln sigma5 (the R_opt line)",
                           0},
    [SD_SIGMA5_BEST_R] =
        {"/contours/sigma5_best_r", IO_F64, {A, MS, EX}, "cm^2", "sigma5 at best_r_overall", 0},
    /* per mass, written up front (run.c) */
    [SD_EFFECTIVE_EVENTS] = {"/scan/effective_events",
                             IO_F64,
                             {MS},
                             "1",
                             "effective sample size (sum w)^2/sum w^2 of the NR events "
                             "reweighted to this mass",
                             0},
    [SD_SIGNAL_RATE] = {"/scan/signal_rate",
                        IO_F64,
                        {MS},
                        PER_T_Y,
                        "expected accepted WIMP events per t*y at sigma_ref (sum of the NR "
                        "weights)",
                        0},
    [SD_SPECTRA_DRDE] = {"/spectra/dRdE",
                         IO_F64,
                         {SM, SE},
                         "events/(t*y*keV)",
                         "SI WIMP recoil spectrum at sigma_ref (standard halo, Helm)",
                         0},
    [SD_SPECTRA_ENDPOINT] = {"/spectra/endpoint_kev",
                             IO_F64,
                             {SM},
                             "keV",
                             "kinematic endpoint of the recoil spectrum (keVnr)",
                             0},
    [SD_SPECTRA_COUNTS] = {"/spectra/counts_window",
                           IO_F64,
                           {SM},
                           PER_T_Y,
                           "expected WIMP events per t*y in the analysis window at sigma_ref",
                           0},
    [SD_SPECTRA_ER] = {"/spectra/er_dRdE",
                       IO_F64,
                       {SE},
                       "events/(t*y*keV)",
                       "ER background density (per keVee)",
                       0},
    [SD_SPECTRA_NR_BG] = {"/spectra/nr_bg_dRdE",
                          IO_F64,
                          {SE},
                          "events/(t*y*keV)",
                          "enabled NR backgrounds (per keVnr)",
                          0},
};

const io_spec *scan_schema(int *n) {
  *n = SD_N;
  return scan_datasets;
}

int scan_dataset_enabled(const io_spec *d, int has_classical, int nr_bkg) {
  if ((d->need & SCAN_NEED_CLASSICAL) && !has_classical) return 0;
  if ((d->need & SCAN_NEED_NR_BKG) && !nr_bkg) return 0;
  return 1;
}

void scan_schema_describe(FILE *fp) {
  io_spec_describe(fp, scan_datasets, SD_N);
}

/* Length of one axis of scan_datasets for grid g and binning s (the same
 * lengths write_layout gives the axes). */
static double axis_length(const char *axis, const scan_params *g, const stats_params *s,
                          const phys_params *ph) {
  const double ts = (double)s->binning.bins + 2;
  const double ny =
      s->classical.y_rule == STATS_BIN_QUANTILE ? s->classical.y_bins : s->classical.y_bins + 2;
  static const char *const names[] = {A, MS, SG, EX, RR, TB, TE, CX, CB, CY, CYB, SM, SE};
  const double len[] = {g->n_methods,
                        g->n_mass,
                        g->n_sigma,
                        g->n_exposure,
                        g->n_r,
                        ts,
                        ts + 1,
                        s->classical.cs1_bins + 1.0,
                        s->classical.cs1_bins,
                        ny + 1,
                        ny,
                        g->n_mass,
                        ph->n_spectra};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(axis, names[i]) == 0) return len[i];
  return 1.0;
}

double scan_results_bytes(const scan_params *g, const stats_params *s, const phys_params *ph) {
  int has_classical = 0;
  for (int i = 0; i < g->n_methods; i++) has_classical |= g->methods[i] == STATS_METHOD_CLASSICAL;
  double total = 0.0;
  for (int k = 0; k < SD_N; k++) {
    const io_spec *d = &scan_datasets[k];
    if (!scan_dataset_enabled(d, has_classical, s->nuis.nr_bkg)) continue;
    double n = (double)io_type_size(d->type);
    for (int a = 0; a < IO_MAX_RANK && d->axes[a]; a++) n *= axis_length(d->axes[a], g, s, ph);
    total += n;
  }
  return total;
}
