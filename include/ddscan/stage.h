/* stage.h - the stage layer: every pipeline stage (simulate, train, score,
 * scan) in one home, src/stage/, with one shape.  A stage is a stage_def:
 * its name, the results-file groups it owns, the declarative schema of the
 * datasets in them (io_field tables and io_spec rows, from which the writers
 * create them, `ddscan info` and a resume check them, and docs/format.md's
 * tables are printed), `is_current` (is its output in the results file for
 * this configuration?) and `run`.  Every stage gets one stage_ctx: the
 * configuration read, validated and resolved once per invocation, the
 * parameters of every module and the options of the command line.
 * docs/architecture.md is the map; src/app only parses arguments and prints.
 * May use every module below it (STYLE.md §1: like scan). */
#ifndef DDSCAN_STAGE_H
#define DDSCAN_STAGE_H

#include <stdint.h>
#include <stdio.h>

#include "ddscan/cfg.h"      /* uses: cfg_doc */
#include "ddscan/core.h"     /* uses: dd_status */
#include "ddscan/detector.h" /* uses: det_params, det_event */
#include "ddscan/image.h"    /* uses: img_params */
#include "ddscan/io.h"       /* uses: io_file, io_field, io_spec */
#include "ddscan/nn.h"       /* uses: nn_params */
#include "ddscan/par.h"      /* uses: par_world */
#include "ddscan/physics.h"  /* uses: phys_params */
#include "ddscan/scan.h"     /* uses: scan_params */
#include "ddscan/stats.h"    /* uses: stats_params */
#include "ddscan/train.h"    /* uses: train_params */

#define STAGE_PATH_MAX 1024
/* Most analysis events per class (the event index is a 32-bit stream counter). */
#define STAGE_MAX_EVENTS 4000000000LL

/* ======================================================================== */
/* Parameters: every module's, loaded once (src/stage/params.c)              */
/* ======================================================================== */

/* Run-level keys (group `run`). */
typedef struct stage_run_params {
  char name[128];                  /* run.name: label used in file names */
  uint32_t seed;                   /* run.seed: the global seed of every stream */
  char output_dir[STAGE_PATH_MAX]; /* run.output_dir: results, checkpoints, PNGs */
  double watchdog_s;               /* run.watchdog_s: a rank silent this long ends the job
                                      (np > 1; 0 = off) */
  double memory_per_rank_mb;       /* run.memory_per_rank_mb: the limit the estimate warns
                                      above (0: MemAvailable / ranks on the node) */
} stage_run_params;

/* How the score stage draws the CVAE's latent sample (docs/training.md). */
typedef enum stage_score_noise {
  STAGE_SCORE_SAMPLE = 0, /* z = mu + sigma*eps, eps from DD_STREAM_SCORE_EPS (bank, event) */
  STAGE_SCORE_MEAN = 1    /* z = mu */
} stage_score_noise;

/* The score stage's keys (group `score`). */
typedef struct stage_score_params {
  int batch_size;          /* score.batch_size: events per network call (fixed: np-invariant) */
  stage_score_noise noise; /* score.noise */
  long long n_events[2];   /* score.er_events / nr_events: analysis sample per class; -1 in
                              the file = the bank's analysis split (resolved here) */
  int block_batches;       /* score.block_batches: batches per streamed block (resume unit) */
} stage_score_params;

/* Everything a run needs, loaded and validated from one configuration. */
typedef struct stage_params {
  stage_run_params run;
  phys_params phys;         /* group physics */
  stats_params stats;       /* group stats */
  scan_params scan;         /* group scan: grid and methods */
  det_params detector;      /* group detector */
  img_params image;         /* group image */
  nn_params nn;             /* group nn: the CVAE and CNN architectures, losses, Adam */
  train_params train;       /* group train */
  stage_score_params score; /* group score */
} stage_params;

/* Loads every module's parameters (defaults filled into cfg), then fails on
 * any key nobody read.  Identical on every rank (same text, same code). */
dd_status stage_params_load(cfg_doc *cfg, stage_params *p);

/* ======================================================================== */
/* The context of one invocation (src/stage/context.c)                       */
/* ======================================================================== */

/* What the command line asks of the stages (strings borrowed from argv). */
typedef struct stage_opts {
  const char *config_path; /* CONFIG */
  const char *const *sets; /* --set key=value, in order */
  int n_sets;
  int resume;      /* --resume */
  int preview_n;   /* simulate --preview N (0: none) */
  int shard_index; /* scan --shard I/N; -1 when not a shard */
  int shard_count; /* -1 when not a shard */
  int argc;        /* the full command line (provenance) */
  char *const *argv;
} stage_opts;

typedef struct stage_ctx {
  const par_world *w;                /* borrowed */
  stage_opts o;                      /* copy (its strings borrowed) */
  cfg_doc *cfg;                      /* owned: the parsed configuration with --set and defaults */
  stage_params *p;                   /* owned: every module's parameters */
  char *config_text;                 /* owned: the resolved configuration (-> /config) */
  char results[STAGE_PATH_MAX + 64]; /* "<run.output_dir>/results.h5" */
  char checkpoint_dir[STAGE_PATH_MAX + 64]; /* train.checkpoint_dir or <output_dir>/checkpoints */
} stage_ctx;

/* Collective.  Reads CONFIG on rank 0, broadcasts it, parses it on every
 * rank, applies the --set overrides, loads every module's parameters and
 * resolves the text and the paths: the one place a configuration is read.
 * On failure the context is freed; errors name file:line and the key. */
dd_status stage_ctx_load(stage_ctx *c, const par_world *w, const stage_opts *o);
/* Frees what the context owns; accepts a zeroed one. */
void stage_ctx_free(stage_ctx *c);

/* ======================================================================== */
/* The resource estimate (src/stage/resources.c)                             */
/* ======================================================================== */

/* What every rank holds besides the stages' own buffers (MPI, HDF5,
 * OpenBLAS, the code), measured with check-config and the score stage
 * (docs/reliability.md). */
#define STAGE_RSS_BASE 64e6
enum {
  STAGE_RES_SIMULATE = 0,
  STAGE_RES_TRAIN = 1,
  STAGE_RES_SCORE = 2,
  STAGE_RES_SCAN = 3,
  STAGE_RES_N = 4
};
typedef struct stage_resources {
  int ranks, ranks_per_node;
  double mem[STAGE_RES_N];         /* bytes per rank of each stage, STAGE_RSS_BASE included */
  double mem_rank;                 /* the largest of them */
  int mem_stage;                   /* ... and its stage */
  double top_bytes[STAGE_RES_N];   /* the largest part of each stage */
  char top_what[STAGE_RES_N][160]; /* "the CVAE and the CNN for inference at ..." */
  char top_key[STAGE_RES_N][64];   /* the key that sizes it */
  double file[STAGE_RES_N];      /* results-file bytes: banks and ceiling, training, scores, scan */
  double file_total;             /* all of it, metadata included */
  double disk_free;              /* bytes free where run.output_dir goes, -1 unknown */
  char disk_dir[STAGE_PATH_MAX]; /* the existing directory statvfs looked at */
  double mem_node;               /* MemTotal of this node, 0 unknown */
  double mem_limit;              /* bytes per rank allowed, 0 unknown */
  char mem_limit_from[128];      /* where mem_limit came from */
} stage_resources;

/* The estimate for `ranks` ranks, `ranks_per_node` of them on one node:
 * pure arithmetic on the parameters (no allocation, no system calls; the
 * disk and memory fields stay unknown). */
void stage_resources_estimate(const stage_params *p, int ranks, int ranks_per_node,
                              stage_resources *r);
/* "simulate", "train", "score", "scan". */
const char *stage_resources_stage_name(int s);
/* The "# resources ..." lines of check-config. */
void stage_resources_print(FILE *fp, const stage_resources *r, const stage_params *p);
/* Collective: the estimate with this node's memory (/proc/meminfo) and the
 * disk free on run.output_dir's filesystem (statvfs), printed by rank 0
 * when `print`.  Refuses (DD_ERR_CONFIG naming file:line, the key and the
 * numbers) a results file larger than the free space and a rank larger
 * than the node's whole memory (and than run.memory_per_rank_mb); warns
 * when memory per rank exceeds run.memory_per_rank_mb, else MemAvailable
 * shared by the ranks on this node. */
dd_status stage_resources_check(stage_ctx *c, int print);

/* ======================================================================== */
/* Stages                                                                    */
/* ======================================================================== */

/* A stage's schema: the io_field tables and the io_spec rows of what it owns. */
typedef struct stage_table {
  const char *group;      /* "/banks/er" */
  const io_field *fields; /* one dataset per field, rows on "<group>/index" */
  int n_fields;
} stage_table;
typedef struct stage_schema {
  const stage_table *tables;
  int n_tables;
  const io_spec *specs; /* N-D datasets */
  int n_specs;
} stage_schema;

typedef struct stage_def {
  const char *name;         /* "simulate", "train", "score", "scan" */
  const char *summary;      /* one line for --help and docs */
  const char *const *owned; /* groups it (re)writes; every other group is carried over */
  int n_owned;
  void (*schema)(stage_schema *out);
  /* Collective: *current = 1 when the results file holds this stage's
   * output for this configuration and for the inputs now in the file. */
  dd_status (*is_current)(stage_ctx *c, int *current);
  /* Collective: runs the stage (it decides itself what it can reuse). */
  dd_status (*run)(stage_ctx *c);
} stage_def;

extern const stage_def stage_simulate; /* src/stage/simulate.c */
extern const stage_def stage_train;    /* src/stage/train.c */
extern const stage_def stage_score;    /* src/stage/score.c */
extern const stage_def stage_signal;   /* src/stage/signal.c */
extern const stage_def stage_scan;     /* src/stage/scan.c */

/* The stages in pipeline order (n of them). */
const stage_def *const *stage_list(int *n);
/* The stage named `name`, or NULL. */
const stage_def *stage_find(const char *name);
/* Collective: the whole pipeline (`ddscan CONFIG`): every stage in turn,
 * skipping each whose output is current (banks by their hash, networks by
 * their checkpoints, scores and scan by their hashes).  One context: the
 * configuration is read once. */
dd_status stage_pipeline_run(stage_ctx *c);

/* Markdown rows of every stage's schema (docs/format.md §9, `ddscan
 * schema`); not collective. */
void stage_schema_describe(FILE *fp);
/* Collective: the datasets of stage s's schema that `f` lacks or holds with
 * another type, rank or axes: 1 when all match (rows with need bits are
 * checked only when present), else 0 with the first reason in why. */
int stage_schema_check(io_file *f, const stage_def *s, char *why, size_t cap);
/* Collective: io_stage_begin(w, s, out, resumed), and when it resumed a .tmp
 * that no longer holds every dataset of def's schema, a warning naming the
 * file and the reason and a fresh start (s->resume is cleared). */
dd_status stage_begin_checked(const par_world *w, io_stage *s, const stage_def *def, io_file **out,
                              int *resumed);

/* ======================================================================== */
/* Banks and model identity (src/stage/banks.c): what later stages read of   */
/* the simulate and train stages, in one place                               */
/* ======================================================================== */

/* The det_event columns of the bank tables /banks/er and /banks/nr. */
const io_field *stage_bank_fields(int *n);
/* Hash of the configuration keys the simulate stage depends on. */
uint64_t stage_simulate_hash(const cfg_doc *cfg);
/* Collective: DD_OK when the results file holds the banks of this
 * configuration, else DD_ERR_IO telling the user to simulate. */
dd_status stage_banks_check(stage_ctx *c);
/* Reads rows [first, first + count) of /banks/er (cls DET_ER) or /banks/nr
 * into out (the index field set from the row).  Collective (each rank its
 * own range).  Too few rows is DD_ERR_IO naming the file. */
dd_status stage_bank_read(io_file *f, int cls, long long first, long long count, det_event *out);
/* The train then test split of one class (every rank reads them all):
 * *out malloc'ed (caller frees). */
dd_status stage_bank_read_training(io_file *f, const det_bank *b, int cls, det_event **out,
                                   long long *n_train, long long *n_test);
/* The model hash [STAGE_CVAE] / [STAGE_CNN] of a configuration: the keys that
 * shape training plus the content of the records it trains on (so a change
 * of the analysis split or of the scan masses never retrains).  er/nr hold
 * the train then test split of each class. */
enum { STAGE_CVAE = 0, STAGE_CNN = 1, STAGE_N_MODELS = 2 };
uint64_t stage_model_hash(const cfg_doc *cfg, int model, const det_event *er, long long n_er_train,
                          long long n_er_test, const det_event *nr, long long n_nr_train,
                          long long n_nr_test);
/* Collective: both model hashes of this configuration from the banks in f. */
dd_status stage_model_hashes(stage_ctx *c, io_file *f, uint64_t hash[STAGE_N_MODELS]);
/* "cvae" or "cnn". */
const char *stage_model_name(int model);
/* "<checkpoint_dir>/cvae.ckpt" and its loss history ".hist" (either may be
 * NULL). */
void stage_model_paths(const stage_ctx *c, int model, char *ckpt, char *hist, size_t cap);

/* ======================================================================== */
/* The score stage's contract with the scan (src/stage/score.c)              */
/* ======================================================================== */

/* The io_field table of scan_score_record: one dataset per member in
 * /scores/er and /scores/nr (row axis "index"). */
extern const io_field stage_score_fields[];
extern const int stage_n_score_fields;

/* Collective.  Writes bank b as the table scan_bank_group(b) (every rank its
 * n_local rows, in rank order, like io_table_write) and the bank attributes
 * beta, n_draws_total, seed, detector_preset plus energy_units ("keVee" or
 * "keVnr") and energy_sampler ("physics.er_background" or
 * "physics.nr_reference": the spectrum the energies were drawn from, which
 * the scan divides by).  info must be the same on every rank.  The caller's
 * stage must own "/scores". */
dd_status stage_scores_write(io_file *f, scan_bank b, const scan_score_record *rows,
                             long long n_local, const scan_bank_info *info);
/* The bank attributes alone (for a table written in rounds with
 * io_table_create / io_table_write_at), and the row axis description. */
dd_status stage_scores_write_info(io_file *f, scan_bank b, const scan_bank_info *info);
const char *stage_scores_row_description(scan_bank b);

/* Collective.  Reads bank b in full on every rank and validates it: every
 * dataset and attribute of the schema present, n > 0, energy_units and
 * energy_sampler as expected, beta finite and >= 0, every value finite,
 * h_b >= 0, energy >= 0, attempts >= 1, and n_draws_total equal to the sum
 * of attempts.  A missing group or dataset is DD_ERR_IO naming the file,
 * the path and the stage to run ("run `ddscan score CONFIG` first"); a bad
 * value names the dataset and the row.  *s must be zeroed or freed. */
dd_status stage_scores_read(io_file *f, scan_bank b, scan_scores *s);
/* Collective: writes the stage "score" into "<dir>/results.h5" with
 * n_er + n_nr synthetic events (scan_synthetic_event; beta 0.5, preset
 * "synthetic"), each rank a block of rows: tests, benchmarks, check-slurm. */
dd_status stage_score_write_synthetic(const par_world *w, const phys_params *phys, uint32_t seed,
                                      long long n_er, long long n_nr, const char *dir,
                                      const char *config_text, uint64_t config_hash, int argc,
                                      char *const *argv);

/* ======================================================================== */
/* The scan stage with an explicit job (src/stage/scan.c): tests, benchmarks */
/* ======================================================================== */

/* Collective: the scan stage on job->input_path (clear error naming the
 * file and the stage to run when it holds no scores): begin (or resume), read
 * /scores, scan_compute, commit (into job->output_path). */
dd_status stage_scan_run_job(const par_world *w, const scan_job *job);
/* Collective: *current = 1 when input_path holds a complete scan of this
 * configuration (config_hash = scan_config_hash) and of the scores now in
 * the file (and, for a non-WIMP signal.model, of /signal).  Fails like the
 * scan itself when the file has no scores. */
dd_status stage_scan_is_current_at(const par_world *w, const char *input_path, uint64_t config_hash,
                                   int model, int *current);

/* ======================================================================== */
/* The streamed scorer of the score stage (src/stage/score.c), shared with  */
/* `ddscan analyse` (src/stage/analyse.c)                                    */
/* ======================================================================== */

/* Inference-only CVAE and CNN (the finished checkpoints of this
 * configuration), the detector model, the renderer and the buffers of one
 * block (score.batch_size x score.block_batches events). */
typedef struct stage_scorer stage_scorer;

/* Collective: loads both checkpoints on rank 0 and broadcasts them; a
 * missing or unfinished checkpoint says which command to run.  n_blocks > 0:
 * only the ranks below it (block b goes to rank b mod np) allocate the
 * networks, the detector and the block buffers; -1: every rank.  *out is
 * freed with stage_scorer_free. */
dd_status stage_scorer_init(stage_ctx *x, long long n_blocks, stage_scorer **out);
void stage_scorer_free(stage_scorer **s);
/* The detector model the scorer renders with (borrowed from the scorer). */
const det_model *stage_scorer_detector(const stage_scorer *s);

/* Where the events of the blocks come from and where their scores go.
 * fill and sink are called on EVERY rank in every round (n = 0 on a rank
 * without a block this round), so both may be collective (an HDF5 read or
 * write); fill writes n records into ev. */
typedef struct stage_block_io {
  dd_status (*fill)(void *ctx, long long first, long long n, det_event *ev);
  dd_status (*sink)(void *ctx, long long block, long long first, long long n,
                    const scan_score_record *rows);
  void *ctx;
} stage_block_io;

/* Collective: events [0, n_events) in blocks of the scorer's size; block b
 * goes to rank b mod np in round b / np and is skipped when done[b] (done
 * may be NULL).  Every block's events are rendered and scored in fixed
 * batches with the latent noise keyed by (bank, event index), so the
 * scores are the same bytes at any rank count.  label names the progress
 * line ("score ER"). */
dd_status stage_score_blocks(const par_world *w, stage_scorer *s, uint32_t bank, long long n_events,
                             const unsigned char *done, const stage_block_io *io,
                             const char *label);

#endif /* DDSCAN_STAGE_H */
