/* scan.h - the sensitivity scan over (WIMP mass, cross-section, exposure, R):
 * the grid and methods (config group `scan`), the /scores schema that the
 * score stage writes and the scan reads, the scan stage itself (work units
 * (mass, R) handed out by rank 0, one parallel HDF5 results file, resume,
 * shards), the R band, the shard merge and synthetic scores for tests.
 * File layout: docs/format.md; statistics: docs/statistics.md. */
#ifndef DDSCAN_SCAN_H
#define DDSCAN_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ddscan/cfg.h"      /* uses: cfg_doc */
#include "ddscan/core.h"     /* uses: dd_status */
#include "ddscan/detector.h" /* uses: det_params */
#include "ddscan/io.h"       /* uses: io_file, io_field */
#include "ddscan/nn.h"       /* uses: nn_params */
#include "ddscan/par.h"      /* uses: par_world */
#include "ddscan/physics.h"  /* uses: phys_params */
#include "ddscan/stats.h"    /* uses: stats_method, stats_params */

/* ======================================================================== */
/* The grid (config group `scan`)                                             */
/* ======================================================================== */

/* Most points per grid axis. */
#define SCAN_MAX_AXIS 1024

/* The grid.  Every axis is strictly increasing and positive (r may be 0).
 * The scan's results are indexed [method][mass][sigma][exposure][r]. */
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
  stats_method methods[STATS_N_METHODS]; /* scan.methods, in configuration order, no repeats */
  double min_effective_events;           /* warn when a mass's NR effective sample size is below */
  /* group `signal` (docs/configuration.md): what the scan calls signal */
  int signal_model;              /* scan_signal_model */
  double signal_energy_kev;      /* signal.energy_kev: the er_line energy, keVee */
  int n_rate;                    /* signal.rate_ty: the signal axis of a non-WIMP model */
  double rate_ty[SCAN_MAX_AXIS]; /* signal interactions per t*y before selection */
  long long signal_events;       /* signal.events: accepted signal events scored */
} scan_params;

/* signal.model: the SI WIMP (the NR sample reweighted per mass, the
 * cross-section axis) or a signal the networks never saw, simulated and
 * scored as its own sample (/signal/scores; the signal axis is a rate).
 * The values equal ev_signal_model's (include/ddscan/events.h). */
typedef enum scan_signal_model {
  SCAN_SIGNAL_WIMP = 0,
  SCAN_SIGNAL_ER_LINE = 1,
  SCAN_SIGNAL_TRITIUM = 2,
  SCAN_SIGNAL_CEVNS = 3,
  SCAN_N_SIGNALS = 4
} scan_signal_model;
/* "wimp", "er_line", "tritium", "cevns". */
const char *scan_signal_name(int model);
/* The units of the signal axis of a non-WIMP model. */
#define SCAN_RATE_UNITS "events/(t*y)"

/* The grid a non-WIMP scan runs on: one mass point (0: none) and the
 * signal rates as its signal axis; the WIMP grid unchanged. */
void scan_signal_grid(const scan_params *g, scan_params *out);

/* Reads and validates group `scan` (defaults in grid.c and configs/example.cfg).
 * Errors name file:line and the key: a value <= 0 (r < 0), an empty list, a
 * repeated value, a list not in increasing order, an unknown or repeated
 * method ("paper", "sound", "toys", "classical"). */
dd_status scan_params_load(cfg_doc *cfg, scan_params *p);
/* What one module cannot judge alone, after every module has loaded its
 * keys (app_params_load calls it before the unknown-key check):
 *  - the scan axes against the plausibility limits of physics.h (masses
 *    1..1e5 GeV, cross-sections 1e-52..1e-30 cm2, exposures 1e-3..1e4 t*y)
 *    and the bank/ceiling sizes against 1e8 events, unless
 *    physics.allow_implausible = true;
 *  - every scan mass against what the simulation can produce: its NR
 *    endpoint (escape + Earth velocity) must give a mean cS1 of at least
 *    twice detector.ceiling.cs1_min_pe, else its NR events cannot pass the
 *    cuts and the ceiling or the scan fails later with "too few events";
 *  - nn.cvae.input and nn.cnn.input against the image size [3, 75, 75].
 * Errors name file:line and the key (DD_ERR_CONFIG). */
dd_status scan_params_check(cfg_doc *cfg, const scan_params *s, const phys_params *ph,
                            const det_params *det, const nn_params *nn);
/* Prints the grid on rank 0 (dd_info). */
void scan_params_print(const scan_params *p);

/* Work units are the (mass, R) pairs: unit = i_mass * n_r + i_r. */
long long scan_n_units(const scan_params *p);
/* Bytes of the scan stage's datasets in the results file (/scan, /contours,
 * /templates, /spectra) for grid g, binning s and the spectra of ph, from
 * the schema's axes: what check-config's resource estimate adds up. */
double scan_results_bytes(const scan_params *g, const stats_params *s, const phys_params *ph);
void scan_unit_decode(const scan_params *p, long long unit, int *i_mass, int *i_r);

/* Hash of the configuration keys the scan stage depends on (run.seed and the
 * groups physics, stats and scan).  The stage's config_hash combines it with
 * the score stage's hash of the scores it reads (src/stage/scan.c). */
uint64_t scan_config_hash(const cfg_doc *cfg);

/* The declarative schema of the N-D datasets the scan stage owns (/scan,
 * /contours, /templates, /spectra; src/scan/schema.c): one io_spec row each,
 * its `need` bits say which scans have it (only with the method "classical",
 * only with stats.sound.nr_bkg). */
enum { SCAN_NEED_CLASSICAL = 1u, SCAN_NEED_NR_BKG = 2u };
/* The table (n rows). */
const io_spec *scan_schema(int *n);
/* 1 when a row exists for a scan with (or without) the classical method and
 * the NR-background nuisance. */
int scan_dataset_enabled(const io_spec *d, int has_classical, int nr_bkg);
/* Markdown rows of the whole table (docs/format.md). */
void scan_schema_describe(FILE *fp);

/* ======================================================================== */
/* /scores: the per-event scores of the analysis split, the scan's input     */
/* (the score stage owns the schema: src/stage/scores.c; docs/format.md §7)  */
/* ======================================================================== */

/* The two banks: ER (background) and NR (signal, drawn from the broad
 * reference spectrum physics.nr_reference and reweighted per WIMP mass). */
typedef enum scan_bank { SCAN_BANK_ER = 0, SCAN_BANK_NR = 1, SCAN_N_BANKS = 2 } scan_bank;
/* The signal sample of a non-WIMP signal.model (the signal stage):
 * read and written like a bank, not one of the SCAN_N_BANKS. */
#define SCAN_BANK_SIGNAL ((scan_bank)2)
/* "/scores/er", "/scores/nr" ("/signal/scores" for SCAN_BANK_SIGNAL). */
const char *scan_bank_group(scan_bank b);
/* "er", "nr". */
const char *scan_bank_name(scan_bank b);

/* One scored event.  TS(R) = l_rec + beta*kl + R*h_b (paper Eqs. 8, 10, 11). */
typedef struct scan_score_record {
  int64_t event;     /* event index in its bank (the key of its RNG streams) */
  double l_rec;      /* CVAE reconstruction term: MSE between image and reconstruction */
  double kl;         /* CVAE KL term, sum_j (sigma_j^2 + mu_j^2 - log sigma_j - 1) */
  double logit;      /* CNN output logit z, p_CNN = 1/(1 + exp(-z)) */
  double h_b;        /* -log(1 - p_CNN) = stats_hb_from_logit(logit), >= 0 */
  double cs1;        /* corrected S1 [PE] */
  double cs2;        /* corrected S2 [PE] */
  double energy_kev; /* true recoil energy: keVee (ER bank), keVnr (NR bank) */
  int64_t attempts;  /* energy draws this event took, rejected ones included, >= 1 */
  double weight;     /* importance weight p/q of the event (detector.er_bias), 1 when unbiased */
} scan_score_record;

/* Bank attributes (on the group /scores/<bank>). */
typedef struct scan_bank_info {
  double beta;              /* "beta": beta of the CVAE loss L = l_rec + beta*kl (paper: 0.5) */
  long long n_draws_total;  /* "n_draws_total": sum of attempts over the table's events */
  long long seed;           /* "seed": run.seed the bank was simulated with */
  char detector_preset[64]; /* "detector_preset": detector.preset, or "synthetic" */
} scan_bank_info;

/* One bank as read by the scan (every rank holds all rows). */
typedef struct scan_scores {
  long long n;
  scan_score_record *rows; /* owned (n) */
  scan_bank_info info;
} scan_scores;

/* Frees the rows; accepts a zeroed struct; zeroes it. */
void scan_scores_free(scan_scores *s);

/* ======================================================================== */
/* The scan stage                                                             */
/* ======================================================================== */

/* Everything one `ddscan scan` needs (all borrowed for the call). */
typedef struct scan_job {
  const phys_params *phys;
  const stats_params *stats;
  const scan_params *grid;
  const scan_params *wimp_grid; /* the configured grid (its masses: /spectra) */
  const det_params *det;        /* the classical baseline's detector MC; NULL: the classical
                                   templates come from /scores whatever stats.classical.mc_events */
  uint32_t seed;                /* run.seed: toy streams, classical MC */
  const char *input_path;       /* "<output_dir>/results.h5": holds /scores */
  const char *output_path;      /* the same, or the shard file (io_results_path) */
  const char *config_text;      /* resolved configuration -> /config */
  uint64_t config_hash;         /* scan_config_hash */
  int shard_index;              /* -1 unless a shard */
  int shard_count;              /* -1 unless a shard */
  int resume;                   /* --resume */
  int argc;                     /* command line for provenance */
  char *const *argv;
} scan_job;

/* Collective: the scan's computation into the open stage file f (the stage
 * "scan" begun by src/stage/scan.c, which owns /axes, /scan, /contours,
 * /templates, /spectra), from both banks' scores (every rank all rows).
 * Writes the axes, the conventions and the non-unit data, then hands out the
 * work units (mass, R) of this shard with par_dispatch; each unit builds its
 * TS and classical templates, evaluates every method at every (sigma,
 * exposure), solves the 5-sigma contour and writes its slices at once
 * (io_unit_write, io_unit_done), so that a killed scan resumes (resumed = 1:
 * the units marked done are skipped).  Then (not in shards) the R band.
 * Results are bitwise identical for any rank count and dispatch order.
 * Rank 0 prints progress and a summary.  score_hash: the score stage's
 * config_hash, stored as /scan attribute scores_config_hash.  The rows of
 * er and nr are freed once copied into the scan's per-event arrays (n and
 * info are kept).  sg: the signal sample of a non-WIMP signal.model (NULL
 * for the WIMP): its events are the signal, each of weight rate/n_draws_total
 * at the rate on the signal axis (job->grid: scan_signal_grid). */
dd_status scan_compute(const par_world *w, const scan_job *job, io_file *f, int resumed,
                       scan_scores *er, scan_scores *nr, scan_scores *sg, const char *score_hash);

/* Collective: fills the R-band datasets of /contours (band_lo, band_hi,
 * best_r, best_r_overall, sigma5_best_r) from /contours/sigma5 of an open
 * scan file in which every unit is done (spec §6.5, stats_rband).  Used at
 * the end of an unsharded scan and by the merge. */
dd_status scan_rband_write(io_file *f);

/* Collective: rank 0 warns, per method, how many contour points carry the
 * low-count, low-MC or floored-background flags, or have no 5-sigma root. */
dd_status scan_flags_report(io_file *f);

/* Collective: `ddscan merge`: io_shards_merge of the shard files into
 * output_path (checks, naming the file at fault: complete shards, same
 * config hash and shard count, none missing, disjoint units), then the R
 * band, so the result has the same content as an unsharded run. */
dd_status scan_merge(const par_world *w, const char *output_path, const char *const *shards,
                     int n_shards, int argc, char *const *argv);

/* ======================================================================== */
/* Synthetic scores (tests, benchmarks, make check-slurm; never the pipeline) */
/* ======================================================================== */

/* Synthetic event `event` of bank b: an energy drawn from the bank's sampler
 * q (phys_sampler_init_er / _nr_ref) with a toy detector (quanta -> cS1, cS2;
 * re-drawn until 3 <= cS1 <= 100 PE, counting attempts) and Gaussian-ish
 * score components with ER/NR separation (NR logits rise with energy, so
 * masses differ).  A pure function of (seed, b, event): stream DD_STREAM_TEST
 * with a = 0x5C0E0000 + b, b = event.  smp: the tables of core's Poisson and
 * binomial samplers (dd_sampler_init; borrowed). */
void scan_synthetic_event(const phys_sampler *q, const dd_sampler *smp, scan_bank b, uint32_t seed,
                          long long event, scan_score_record *out);

#endif /* DDSCAN_SCAN_H */
