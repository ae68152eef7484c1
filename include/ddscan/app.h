/* app.h - the orchestration layer between main.c and the modules: the run-
 * level configuration, loading and validating every module's parameters in
 * one place, and one function per subcommand (stage drivers).  It may use
 * every module; numeric modules never see MPI, HDF5 or libconfig. */
#ifndef DDSCAN_APP_H
#define DDSCAN_APP_H

#include <stdint.h>

#include "ddscan/cfg.h"      /* uses: cfg_doc */
#include "ddscan/core.h"     /* uses: dd_status */
#include "ddscan/detector.h" /* uses: det_params */
#include "ddscan/image.h"    /* uses: img_params */
#include "ddscan/io.h"       /* uses: io_field */
#include "ddscan/nn.h"       /* uses: nn_params */
#include "ddscan/par.h"      /* uses: par_world */
#include "ddscan/physics.h"  /* uses: phys_params */
#include "ddscan/scan.h"     /* uses: scan_params */
#include "ddscan/stats.h"    /* uses: stats_params */
#include "ddscan/train.h"    /* uses: train_params */

#define APP_PATH_MAX 1024

/* Run-level keys (group `run`). */
typedef struct app_run_params {
  char name[128];                /* run.name: label used in file names */
  uint32_t seed;                 /* run.seed: the global seed of every stream */
  char output_dir[APP_PATH_MAX]; /* run.output_dir: results, checkpoints, PNGs */
} app_run_params;

/* Everything a run needs, loaded and validated from one configuration.
 * Each module adds its parameter struct here and its loader to
 * app_params_load (src/app/params.c). */
typedef struct app_params {
  app_run_params run;
  phys_params phys;   /* group physics */
  stats_params stats; /* group stats */
  scan_params scan;   /* group `scan`: grid and methods */

  det_params detector; /* group `detector` */
  img_params image;    /* group `image` */
  nn_params nn;        /* group `nn`: the CVAE and CNN architectures, losses, Adam */
  train_params train;  /* groups `train` (the loops, checkpoints) and `score` */
} app_params;

/* Loads every module's parameters (defaults filled into cfg), then fails on
 * any key nobody read.  Identical on every rank (same text, same code). */
dd_status app_params_load(cfg_doc *cfg, app_params *p);

/* Options common to the subcommands, parsed by main. */
typedef struct app_opts {
  const char *config_path; /* positional CONFIG (or NULL) */
  int resume;              /* --resume */
  int shard_i, shard_n;    /* --shard I/N; -1 when not given */
  int preview_n;           /* --preview N; 0 when not given */
  int n_sets;
  const char *sets[64]; /* --set key=value, in order */
  int n_args;           /* remaining arguments for the subcommand */
  char **args;          /* borrowed from argv */
  int argc_orig;
  char **argv_orig; /* borrowed: the full command line (provenance) */
} app_opts;

/* Reads CONFIG on rank 0, broadcasts it, parses it on every rank, applies the
 * --set overrides and loads every module's parameters.  On success *cfg is
 * owned by the caller (cfg_free). */
dd_status app_load_config(const par_world *w, const app_opts *o, cfg_doc **cfg, app_params *p);

/* Subcommands.  Each returns DD_OK or an error recorded in the error context;
 * DD_ERR_ARG means a usage error (exit code 2). */
dd_status app_cmd_check_config(const par_world *w, const app_opts *o);
/* `ddscan CONFIG` / `ddscan run CONFIG` (cmd_run.c): simulate, train, score
 * and scan in turn, skipping the stages whose outputs are current. */
dd_status app_cmd_run(const par_world *w, const app_opts *o);
/* `ddscan spectrum --mass GEV [...]`: dR/dE table or integrated rate (no MPI). */
dd_status app_cmd_spectrum(const par_world *w, const app_opts *o);
/* `ddscan simulate CONFIG [--preview N]` (cmd_simulate.c): the ER and NR
 * banks (/banks/er, /banks/nr), the information ceiling per scan mass
 * (/banks/ceiling) and /spectra; --preview N writes example PNGs to
 * <run.output_dir>/preview. */
dd_status app_cmd_simulate(const par_world *w, const app_opts *o);
/* The det_event columns of the bank tables, for stages that read the
 * records back with io_table_read (n: number of fields). */
const io_field *app_bank_fields(int *n);
/* `ddscan scan CONFIG [--shard I/N] [--resume]`: the scan stage (scan_run) on
 * <run.output_dir>/results.h5; the shard defaults to the SLURM array task. */
dd_status app_cmd_scan(const par_world *w, const app_opts *o);
/* `ddscan merge OUT.h5 SHARD.h5...`: shard files -> one results file. */
dd_status app_cmd_merge(const par_world *w, const app_opts *o);
/* `ddscan info RESULTS.h5`: human summary of any results file. */
dd_status app_cmd_info(const par_world *w, const app_opts *o);
/* Hash of the configuration keys the simulate stage depends on (stored in
 * /provenance/simulate; later stages check that their banks are current). */
uint64_t app_simulate_hash(const cfg_doc *cfg);
/* Reads rows [first, first + count) of /banks/er (cls DET_ER) or /banks/nr
 * into out (count records; the index field is set from the row).  Collective
 * (each rank its own range).  Too few rows is DD_ERR_IO naming the file. */
dd_status app_bank_read(io_file *f, int cls, long long first, long long count, det_event *out);
/* Collective: DD_OK when `path` holds the banks of this configuration (the
 * simulate stage is current), else DD_ERR_IO telling the user to simulate. */
dd_status app_banks_check(const par_world *w, cfg_doc *cfg, const char *path);
/* The model hashes [CVAE, CNN] of this configuration: the training keys and
 * the content of the train and test records in the open results file f
 * (collective).  Checkpoints carry them; the score stage checks them. */
dd_status app_train_model_hashes(const par_world *w, const cfg_doc *cfg, const app_params *p,
                                 io_file *f, uint64_t hash[2]);
/* `ddscan train CONFIG [--resume]` (cmd_train.c): the CVAE on the ER train
 * split and the CNN on the balanced ER/NR train split, data-parallel, with a
 * checkpoint per epoch; reuses the checkpoints of this configuration when
 * they are complete; writes /training (curves, CNN metrics beside the
 * ceiling, example images and reconstructions) and PNGs to
 * <run.output_dir>/training (docs/training.md). */
dd_status app_cmd_train(const par_world *w, const app_opts *o);
/* `ddscan score CONFIG` (cmd_score.c): the CVAE and CNN components of every
 * event of the analysis split of both banks (static split of fixed batches
 * by event index: bitwise the same for any rank count) -> /scores, the
 * schema of scan.h.  Needs the finished checkpoints of this configuration. */
dd_status app_cmd_score(const par_world *w, const app_opts *o);
/* The checkpoint paths of a configuration: "<dir>/cvae.ckpt" (model 0) or
 * "<dir>/cnn.ckpt" (1), and the loss history beside it (".hist"). */
void app_train_paths(const app_params *p, int model, char *ckpt, char *hist, size_t cap);

#endif /* DDSCAN_APP_H */
