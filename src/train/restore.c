/* restore.c - what a trainer starts from: a fresh model, a partial checkpoint
 * of this configuration (resume), or a finished one (reuse).  Rank 0 reads
 * the checkpoint and its loss history and broadcasts the parameters, the Adam
 * moments and the step, so a run continues at any rank count (no per-rank
 * state, STYLE.md §6).  Mismatches are configuration errors (exit 1), not
 * usage errors. */
#include "ddscan/train.h"

#include <stdio.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Bcast */

enum { CK_OK = 0, CK_CORRUPT = 1, CK_OTHER_ARCH = 2 };

/* Re-records the current error as DD_ERR_CONFIG with a hint appended. */
static dd_status as_config_error(const char *hint) {
  char msg[768];
  snprintf(msg, sizeof msg, "%s", dd_error_message());
  return DD_FAIL(DD_ERR_CONFIG, "%s%s", msg, hint);
}

/* Broadcasts params, moments and step from rank 0. */
static void bcast_state(train_trainer *t) {
  nn_model *m = &t->model;
  const int n = (int)m->n_params;
  MPI_Bcast(m->params, n, MPI_FLOAT, 0, t->w->comm);
  MPI_Bcast(m->adam_m, n, MPI_FLOAT, 0, t->w->comm);
  MPI_Bcast(m->adam_v, n, MPI_FLOAT, 0, t->w->comm);
  uint64_t step = m->step;
  MPI_Bcast(&step, 1, MPI_UINT64_T, 0, t->w->comm);
  m->step = step;
}

/* Back to the seed's weights on every rank (rank 0 may have loaded others). */
static void start_fresh(train_trainer *t, train_history *hist) {
  nn_model_init_weights(&t->model, t->job.seed);
  t->epoch = 0;
  hist->n = 0;
  hist->hash = t->job.hash;
}

dd_status train_trainer_restore(train_trainer *t, int resume, train_history *hist,
                                train_start *start) {
  const train_job *j = &t->job;
  const par_world *w = t->w;
  *start = TRAIN_START_FRESH;
  t->epoch = 0;
  hist->n = 0;
  hist->hash = j->hash;
  if (hist->cap < j->epochs) return DD_FAIL(DD_ERR_ARG, "%s: history too small", j->name);
  if (!j->ckpt_path) return DD_OK;
  int exists = w->rank == 0 ? dd_path_exists(j->ckpt_path) : 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, w->comm);
  if (!exists) {
    if (resume)
      dd_info("train %s: no checkpoint '%s' to resume: training from the start", j->name,
              j->ckpt_path);
    return DD_OK;
  }
  /* rank 0 reads; the verdict and the header go to everyone */
  dd_status st = DD_OK;
  nn_ckpt_info got = {0, 0, 0, 0};
  int code = CK_OK;
  if (w->rank == 0) {
    st = nn_checkpoint_load(&t->model, j->ckpt_path, NULL, &got);
    code = st == DD_OK ? CK_OK : st == DD_ERR_ARG ? CK_OTHER_ARCH : CK_CORRUPT;
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, w->comm);
  uint64_t hdr[4] = {got.config_hash, got.seed, got.step, got.epoch};
  MPI_Bcast(hdr, 4, MPI_UINT64_T, 0, w->comm);
  if (code == CK_CORRUPT) {
    if (w->rank == 0)
      st = DD_CONTEXT(st, "%s: delete it and '%s' to train from scratch", j->name, j->hist_path);
    return par_agree(w, st);
  }
  if (code == CK_OTHER_ARCH) {
    if (resume) {
      if (w->rank == 0) st = as_config_error(": cannot resume it (the architecture changed)");
      return par_agree(w, st);
    }
    if (w->rank == 0) {
      dd_warn("train %s: %s; training from scratch (it will be overwritten)", j->name,
              dd_error_message());
      dd_error_clear();
    }
    start_fresh(t, hist);
    return DD_OK;
  }
  const uint64_t ck_hash = hdr[0], ck_epoch = hdr[3];
  const uint32_t ck_seed = (uint32_t)hdr[1];
  char why[256] = "";
  if (ck_hash != j->hash)
    snprintf(why, sizeof why,
             "was trained for another configuration (model hash %016llx, this configuration "
             "%016llx)",
             (unsigned long long)ck_hash, (unsigned long long)j->hash);
  else if (ck_seed != j->seed)
    snprintf(why, sizeof why, "was trained with seed %u, this run uses %u", ck_seed, j->seed);
  else if (ck_epoch > (uint64_t)j->epochs)
    snprintf(why, sizeof why, "holds %llu epochs, more than the %d configured",
             (unsigned long long)ck_epoch, j->epochs);
  if (why[0]) {
    if (resume) {
      if (w->rank == 0)
        st = DD_FAIL(DD_ERR_CONFIG, "checkpoint '%s' %s: cannot resume it", j->ckpt_path, why);
      return par_agree(w, st);
    }
    if (w->rank == 0)
      dd_warn("train %s: checkpoint '%s' %s; training from scratch (it will be overwritten)",
              j->name, j->ckpt_path, why);
    start_fresh(t, hist);
    return DD_OK;
  }
  if (ck_epoch < (uint64_t)j->epochs && !resume) {
    if (w->rank == 0)
      dd_warn(
          "train %s: checkpoint '%s' stopped after epoch %llu of %d; starting over (use "
          "--resume to continue it)",
          j->name, j->ckpt_path, (unsigned long long)ck_epoch, j->epochs);
    start_fresh(t, hist);
    return DD_OK;
  }
  /* this configuration: its history, then the state for every rank */
  if (w->rank == 0) st = train_history_load(hist, j->hist_path, j->hash, (int)ck_epoch);
  DD_TRY(par_agree(w, st), "%s: checkpoint '%s'", j->name, j->ckpt_path);
  int hn = hist->n;
  MPI_Bcast(&hn, 1, MPI_INT, 0, w->comm);
  hist->n = hn;
  MPI_Bcast(hist->e, (int)(hn * (int)sizeof(train_epoch)), MPI_BYTE, 0, w->comm);
  bcast_state(t);
  t->epoch = (int)ck_epoch;
  *start = ck_epoch == (uint64_t)j->epochs ? TRAIN_START_COMPLETE : TRAIN_START_RESUMED;
  if (*start == TRAIN_START_COMPLETE)
    dd_info(
        "train %s: checkpoint '%s' of this configuration is complete (%d epochs, %llu steps): "
        "reusing it",
        j->name, j->ckpt_path, j->epochs, (unsigned long long)t->model.step);
  else
    dd_info("train %s: resuming '%s' after epoch %d of %d (%llu steps) on %d rank(s)", j->name,
            j->ckpt_path, t->epoch, j->epochs, (unsigned long long)t->model.step, w->size);
  return DD_OK;
}
