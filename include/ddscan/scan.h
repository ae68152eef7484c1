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
} scan_params;

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
void scan_unit_decode(const scan_params *p, long long unit, int *i_mass, int *i_r);

/* Hash of the configuration keys the scan stage depends on (run.seed and the
 * groups physics, stats and scan).  The stage's config_hash combines it with
 * the score stage's hash of the scores it reads (scan_run). */
uint64_t scan_config_hash(const cfg_doc *cfg);
/* Collective: *current = 1 when input_path holds a complete scan of this
 * configuration (config_hash = scan_config_hash) and of the scores now in the
 * file.  Fails like the scan itself when the file has no scores. */
dd_status scan_stage_is_current(const par_world *w, const char *input_path, uint64_t config_hash,
                                int *current);

/* ======================================================================== */
/* /scores: the per-event scores of the analysis split (written by the score  */
/* stage through scan_scores_write; docs/format.md §scores)                  */
/* ======================================================================== */

/* The two banks: ER (background) and NR (signal, drawn from the broad
 * reference spectrum physics.nr_reference and reweighted per WIMP mass). */
typedef enum scan_bank { SCAN_BANK_ER = 0, SCAN_BANK_NR = 1, SCAN_N_BANKS = 2 } scan_bank;
/* "/scores/er", "/scores/nr". */
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
} scan_score_record;

/* The io_field table of scan_score_record: one dataset per member in
 * /scores/er and /scores/nr (row axis "index"). */
extern const io_field scan_score_fields[];
extern const int scan_n_score_fields;

/* Bank attributes (on the group /scores/<bank>). */
typedef struct scan_bank_info {
  double beta;              /* "beta": beta of the CVAE loss L = l_rec + beta*kl (paper: 0.5) */
  long long n_draws_total;  /* "n_draws_total": sum of attempts over the table's events */
  long long seed;           /* "seed": run.seed the bank was simulated with */
  char detector_preset[64]; /* "detector_preset": detector.preset, or "synthetic" */
} scan_bank_info;

/* Collective.  Writes bank b as the table scan_bank_group(b) (every rank its
 * n_local rows, in rank order, like io_table_write) and the bank attributes
 * beta, n_draws_total, seed, detector_preset plus energy_units ("keVee" or
 * "keVnr") and energy_sampler ("physics.er_background" or
 * "physics.nr_reference": the spectrum the energies were drawn from, which
 * the scan divides by).  info must be the same on every rank.  The caller's
 * stage must own "/scores". */
dd_status scan_scores_write(io_file *f, scan_bank b, const scan_score_record *rows,
                            long long n_local, const scan_bank_info *info);

/* One bank as read by the scan (every rank holds all rows). */
typedef struct scan_scores {
  long long n;
  scan_score_record *rows; /* owned (n) */
  scan_bank_info info;
} scan_scores;

/* Collective.  Reads bank b in full on every rank and validates it: every
 * dataset and attribute of the schema present, n > 0, energy_units and
 * energy_sampler as expected, beta finite and >= 0, every value finite,
 * h_b >= 0, energy >= 0, attempts >= 1, and n_draws_total equal to the sum
 * of attempts.  A missing group or dataset is DD_ERR_IO naming the file,
 * the path and the stage to run ("run `ddscan score CONFIG` first"); a bad
 * value names the dataset and the row.  *s must be zeroed or freed. */
dd_status scan_scores_read(io_file *f, scan_bank b, scan_scores *s);
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
  uint32_t seed;           /* run.seed: toy streams */
  const char *input_path;  /* "<output_dir>/results.h5": holds /scores */
  const char *output_path; /* the same, or the shard file (io_results_path) */
  const char *config_text; /* resolved configuration -> /config */
  uint64_t config_hash;    /* scan_config_hash */
  int shard_index;         /* -1 unless a shard */
  int shard_count;         /* -1 unless a shard */
  int resume;              /* --resume */
  int argc;                /* command line for provenance */
  char *const *argv;
} scan_job;

/* Collective: the scan stage.  Reads /scores from input_path (clear error
 * naming the file and the missing dataset when absent), begins the stage
 * "scan" (owns /axes, /scan, /contours, /templates, /spectra), writes the
 * axes, the conventions and the non-unit data, then hands out the work units
 * (mass, R) of this shard with par_dispatch; each unit builds its TS and
 * classical templates, evaluates every method at every (sigma, exposure),
 * solves the 5-sigma contour and writes its slices at once (io_unit_write,
 * io_unit_done), so that a killed scan resumes with --resume.  Then (not in
 * shards) the R band, and the commit.  Results are bitwise identical for any
 * rank count and dispatch order.  Rank 0 prints progress and a summary. */
dd_status scan_run(const par_world *w, const scan_job *job);

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
 * with a = 0x5C0E0000 + b, b = event. */
void scan_synthetic_event(const phys_sampler *q, scan_bank b, uint32_t seed, long long event,
                          scan_score_record *out);

/* Collective: writes the stage "score" into "<dir>/results.h5" with
 * n_er + n_nr synthetic events (beta 0.5, preset "synthetic"), each rank a
 * block of rows.  config_text/config_hash identify it like a real stage. */
dd_status scan_synthetic_write(const par_world *w, const phys_params *phys, uint32_t seed,
                               long long n_er, long long n_nr, const char *dir,
                               const char *config_text, uint64_t config_hash, int argc,
                               char *const *argv);

#endif /* DDSCAN_SCAN_H */
