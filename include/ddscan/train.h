/* train.h - data-parallel training of the CVAE and the CNN under MPI
 * (DESIGN.md §7, STYLE.md §6): sample sets over bank records rendered on
 * demand, an epoch shuffle keyed by (seed, epoch), each rank a slice of the
 * global minibatch, one MPI_Allreduce of the flat gradient per step, the
 * identical Adam step everywhere, a periodic bit-pattern checksum of the
 * parameters across ranks, per-epoch checkpoints with a loss history beside
 * them (resume at any rank count), fixed-batch evaluation whose per-sample
 * results do not depend on the rank count, and the classifier metrics
 * (balanced accuracy, weighted ROC AUC).  docs/training.md has the details. */
#ifndef DDSCAN_TRAIN_H
#define DDSCAN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ddscan/cfg.h"      /* uses: cfg_doc */
#include "ddscan/core.h"     /* uses: dd_status */
#include "ddscan/detector.h" /* uses: det_event */
#include "ddscan/image.h"    /* uses: img_renderer */
#include "ddscan/nn.h"       /* uses: nn_arch, nn_model */
#include "ddscan/par.h"      /* uses: par_world */

/* ------------------------------------------------------------------------ */
/* Parameters: group `train` (configs/example.cfg)                           */
/* ------------------------------------------------------------------------ */

#define TRAIN_PATH_MAX 1024
/* Default minibatch (the paper's 100) and the largest batch accepted. */
#define TRAIN_DEF_BATCH 100
#define TRAIN_MAX_BATCH 65536

/* The loop of one model (train.cvae, train.cnn). */
typedef struct train_model_params {
  int epochs;     /* passes over the training split, >= 1 */
  int batch_size; /* global minibatch, split over the ranks, >= 1 */
} train_model_params;

typedef struct train_params {
  train_model_params cvae;             /* train.cvae */
  train_model_params cnn;              /* train.cnn */
  int eval_batch_size;                 /* train.eval_batch_size: fixed inference batch */
  char checkpoint_dir[TRAIN_PATH_MAX]; /* train.checkpoint_dir; "" = <output_dir>/checkpoints */
  int checksum_every;                  /* train.checksum_every: steps; 0 = epoch ends only */
  int examples;                        /* train.examples: ER and NR test images stored */
} train_params;

/* Reads and validates group `train` (defaults: the paper's
 * minibatch 100, CVAE 200 epochs; docs/training.md).  Errors name file:line
 * and the key. */
dd_status train_params_load(cfg_doc *cfg, train_params *p);

/* ------------------------------------------------------------------------ */
/* Sample sets                                                               */
/* ------------------------------------------------------------------------ */

/* A labelled list of bank records.  Sample i is rendered on demand from
 * ev[i]; its label is 0 (ER) or 1 (NR); its noise key (counter b of the VAE
 * noise streams) is the record's event index with the class in bit 31, so
 * that no two records of a run share a key. */
typedef struct train_set {
  long long n;
  const det_event **ev; /* owned array (n) of pointers borrowed from the caller's records */
  float *label;         /* owned (n) */
  uint32_t *key;        /* owned (n) */
} train_set;

/* Builds the set er[0..n_er) followed by nr[0..n_nr) (either may be empty;
 * the records must outlive the set).  Labels come from the records' cls. */
dd_status train_set_init(train_set *s, const det_event *er, long long n_er, const det_event *nr,
                         long long n_nr);
void train_set_free(train_set *s);
/* The noise key of a record: index | cls << 31. */
uint32_t train_noise_key(const det_event *ev);

/* ------------------------------------------------------------------------ */
/* Per-epoch statistics and the history file                                 */
/* ------------------------------------------------------------------------ */

/* One epoch.  Means are over samples.  CVAE: loss = rec + beta*kl; CNN:
 * loss = BCE, rec = kl = 0.  test_* are measured after the epoch on the test
 * split (ER for the CVAE, ER + NR for the CNN), test_nr_* on the NR test
 * split for the CVAE (anomalies).  Accuracies are class-balanced at p = 0.5;
 * NaN where they do not apply.  The timing fields are the only ones that
 * differ between identical runs. */
typedef struct train_epoch {
  double train_loss, train_rec, train_kl, train_accuracy;
  double test_loss, test_rec, test_kl, test_accuracy, test_auc;
  double test_nr_loss, test_nr_rec, test_nr_kl;
  double steps;           /* optimiser steps in the epoch */
  double wall_s;          /* seconds of the epoch's training steps (rank 0's clock) */
  double images_per_s;    /* training images per second, all ranks together */
  double allreduce_share; /* gradient MPI_Allreduce / step time, mean over ranks */
  double wait_share;      /* waiting for the slowest rank before it / step time, mean */
  double eval_s;          /* seconds of the evaluation after the epoch */
} train_epoch;

#define TRAIN_HIST_MAGIC "DDSCHIST" /* 8 bytes */
#define TRAIN_HIST_VERSION 1        /* changelog: docs/training.md "Checkpoints" */

typedef struct train_history {
  uint64_t hash; /* the model hash the epochs belong to */
  int n;         /* epochs recorded */
  int cap;
  train_epoch *e; /* owned (cap) */
} train_history;

/* Sets up an empty history for `cap` epochs (>= 1). */
dd_status train_history_init(train_history *h, uint64_t hash, int cap);
void train_history_free(train_history *h);
/* Writes magic, version, record size, hash, n and the records through
 * path.tmp + fsync + rename. */
dd_status train_history_save(const train_history *h, const char *path);
/* Reads a history written for `hash` with at least `need` epochs and keeps
 * the first `need` (a history may be one epoch ahead of its checkpoint when
 * a run was killed between the two writes).  Errors (DD_ERR_IO) name the file
 * and the problem: missing, truncated, bad magic or version, corrupt, another
 * configuration, too few epochs.  h must have been initialised (cap >= need). */
dd_status train_history_load(train_history *h, const char *path, uint64_t hash, int need);

/* ------------------------------------------------------------------------ */
/* The trainer of one model                                                  */
/* ------------------------------------------------------------------------ */

typedef struct train_job {
  const char *name;             /* "cvae", "cnn": log lines */
  const nn_arch *arch;          /* borrowed */
  const img_renderer *renderer; /* borrowed */
  const train_set *train;       /* borrowed: the training split */
  const train_set *test;        /* borrowed: evaluated after every epoch (may be NULL) */
  const train_set *test_nr;     /* borrowed: CVAE only, NR test events (may be NULL) */
  uint32_t seed;                /* run.seed: init, shuffle, noise */
  int epochs;
  int batch_size;        /* global */
  int eval_batch_size;   /* fixed inference batch */
  int checksum_every;    /* steps; 0 = only at the end of each epoch */
  uint64_t hash;         /* model hash (checkpoint header and history) */
  const char *ckpt_path; /* NULL: no checkpoints (tests) */
  const char *hist_path; /* required with ckpt_path */
  int stop_after;        /* stop after this epoch count in this call (0: run to `epochs`) */
} train_job;

typedef struct train_trainer {
  const par_world *w;   /* borrowed */
  train_job job;        /* copy (pointers borrowed) */
  nn_model model;       /* max_batch = max(ceil(batch/size), eval_batch) */
  int epoch;            /* epochs completed */
  long long *perm;      /* owned (train->n): this epoch's sample order */
  float *x;             /* owned (max_batch, C, H, W) */
  float *label;         /* owned (max_batch) */
  uint32_t *key;        /* owned (max_batch) */
  double *out;          /* owned (n_eval_max * 4): per-sample evaluation results, gathered */
  long long n_out;      /* capacity of out in samples */
  int *counts, *displs; /* owned (size): gather layout */
  double t_allreduce;   /* seconds in the gradient MPI_Allreduce this epoch */
  double t_wait;        /* seconds in the barrier before it (load imbalance) this epoch */
} train_trainer;

/* Collective.  Builds the model (Glorot init from seed; rank 0 prints the
 * layer table when print_table) and the buffers. */
dd_status train_trainer_init(train_trainer *t, const par_world *w, const train_job *job,
                             int print_table);
void train_trainer_free(train_trainer *t);

/* What train_trainer_restore found. */
typedef enum train_start {
  TRAIN_START_FRESH = 0,   /* no usable checkpoint: weights from the seed */
  TRAIN_START_RESUMED = 1, /* a partial checkpoint of this configuration, continued */
  TRAIN_START_COMPLETE = 2 /* a finished checkpoint of this configuration: reuse it */
} train_start;

/* Collective.  Looks at job.ckpt_path (rank 0 reads it and broadcasts the
 * parameters, Adam moments and step, so any rank count can continue):
 *   no file                                  -> FRESH;
 *   corrupt, truncated, unreadable           -> error naming the file;
 *   another architecture or configuration    -> resume: error naming the file
 *       and the mismatch; else FRESH with a warning;
 *   this configuration, epoch == epochs      -> COMPLETE (history loaded);
 *   this configuration, epoch < epochs       -> resume: RESUMED (history
 *       loaded); else FRESH with a warning that --resume would continue it;
 *   epoch > epochs                           -> resume: error; else FRESH.
 * hist receives the history of the epochs kept (cap >= job.epochs). */
dd_status train_trainer_restore(train_trainer *t, int resume, train_history *hist,
                                train_start *start);

/* Collective.  Trains from t->epoch to job.epochs (or to job.stop_after):
 * per epoch the shuffle, the steps, the evaluation, then (with ckpt_path)
 * the history and the checkpoint, atomically, from rank 0.  Appends to hist.
 * Errors: non-finite loss (DD_ERR_NUMERIC naming step and tensor),
 * parameter divergence across ranks (DD_ERR_INTERNAL naming the tensor),
 * I/O. */
dd_status train_trainer_fit(train_trainer *t, train_history *hist);

/* Collective.  The parameter checksum: every rank hashes the bit patterns of
 * its params; MPI_MAX over (h, ~h) gives the largest and the smallest.  On a
 * difference, per-tensor hashes name the first tensor that differs
 * (DD_ERR_INTERNAL, "parameters diverged across ranks at step S: tensor X").
 * *hash (may be NULL) receives this rank's hash. */
dd_status train_check_params(train_trainer *t, uint64_t *hash);

/* Per-sample evaluation results, in set order. */
enum {
  TRAIN_OUT_LOSS = 0,
  TRAIN_OUT_REC = 1,
  TRAIN_OUT_KL = 2,
  TRAIN_OUT_LOGIT = 3,
  TRAIN_OUT_N = 4
};

/* Collective.  Evaluates samples [0, n) of s in fixed batches of
 * eval_batch_size by index (batches dealt to ranks in contiguous blocks), so
 * every per-sample result is independent of the rank count.  CVAE noise:
 * stream DD_STREAM_VAE_EPS, a = noise_a, b = the sample's key.  Every rank
 * receives out[i * TRAIN_OUT_N + k] for all i < n (n <= t->n_out, or out is
 * the caller's buffer of n * TRAIN_OUT_N doubles when not NULL; NULL = the
 * trainer's own buffer t->out). */
dd_status train_evaluate(train_trainer *t, const train_set *s, long long n, uint32_t noise_a,
                         double *out);
/* The reconstruction and image of samples [first, first + n) (n <=
 * eval_batch_size), this rank only: img and rec (n, C, H, W) (either may be
 * NULL), per-sample rec/kl/logit in the model's arrays.  Not collective. */
dd_status train_forward_local(train_trainer *t, const train_set *s, long long first, int n,
                              uint32_t noise_a, float *img, float *rec);

/* ------------------------------------------------------------------------ */
/* Classifier metrics (pure functions)                                       */
/* ------------------------------------------------------------------------ */

/* Class-balanced accuracy of the decision score > threshold -> NR:
 * (1/2) [sum_{ER} w [s <= t] / W_ER + sum_{NR} w [s > t] / W_NR].
 * w_er / w_nr may be NULL (all 1).  Events with zero weight do not count.
 * NaN when a class has no weight. */
double train_balanced_accuracy(const double *s_er, const double *w_er, long long n_er,
                               const double *s_nr, const double *w_nr, long long n_nr,
                               double threshold);
/* Weighted ROC area: the probability that an NR event scores above an ER
 * event, ties counting one half, each pair weighted by w_er * w_nr.  Sorts
 * internally (O(n log n)); NaN when a class has no weight or on allocation
 * failure. */
double train_weighted_auc(const double *s_er, const double *w_er, long long n_er,
                          const double *s_nr, const double *w_nr, long long n_nr);

#endif /* DDSCAN_TRAIN_H */
