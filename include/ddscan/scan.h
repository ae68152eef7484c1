/* scan.h - the sensitivity scan over (WIMP mass, cross-section, exposure, R):
 * the grid and methods read from the configuration (group `scan`), and the
 * work units (mass, R) that rank 0 hands out.  The scan driver (per-point
 * pipeline, results, contours) grows in this module. */
#ifndef DDSCAN_SCAN_H
#define DDSCAN_SCAN_H

#include "ddscan/cfg.h"  /* uses: cfg_doc */
#include "ddscan/core.h" /* uses: dd_status */

/* Most points per grid axis. */
#define SCAN_MAX_AXIS 1024

/* Statistical methods a scan can run (specs/statistics.md). */
typedef enum scan_method {
  SCAN_METHOD_PAPER = 0,     /* Pearson chi^2 on TS histograms, as in arXiv:2110.12248 */
  SCAN_METHOD_SOUND = 1,     /* binned profile likelihood on TS templates */
  SCAN_METHOD_CLASSICAL = 2, /* binned Poisson likelihood on (cS1, cS2), no network */
  SCAN_N_METHODS = 3
} scan_method;

/* Configuration name of a method ("paper", "sound", "classical"). */
const char *scan_method_name(scan_method m);

/* The grid (group `scan`).  Every axis is strictly increasing and positive
 * (r may be 0).  The scan's results are indexed [mass][sigma][exposure][r]. */
typedef struct scan_params {
  int n_mass;
  double mass_gev[SCAN_MAX_AXIS]; /* WIMP masses, GeV/c^2 */
  int n_sigma;
  double sigma_cm2[SCAN_MAX_AXIS]; /* SI WIMP-nucleon cross-sections, cm^2 */
  int n_exposure;
  double exposure_ty[SCAN_MAX_AXIS]; /* exposures, tonne-years */
  int n_r;
  double r[SCAN_MAX_AXIS]; /* supervision weight R of TS = L_CVAE + R*H_B (dimensionless) */
  int n_methods;
  scan_method methods[SCAN_N_METHODS]; /* in configuration order, no repeats */
} scan_params;

/* Reads and validates group `scan` (defaults in grid.c and configs/example.cfg).
 * Errors name file:line and the key: a value <= 0 (r < 0), an empty list, a
 * repeated value, a list not in increasing order, an unknown or repeated
 * method. */
dd_status scan_params_load(cfg_doc *cfg, scan_params *p);
/* Prints the grid on rank 0 (dd_info). */
void scan_params_print(const scan_params *p);

/* Work units are the (mass, R) pairs: unit = i_mass * n_r + i_r. */
long long scan_n_units(const scan_params *p);
void scan_unit_decode(const scan_params *p, long long unit, int *i_mass, int *i_r);

#endif /* DDSCAN_SCAN_H */
