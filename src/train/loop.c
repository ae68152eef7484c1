/* loop.c - the data-parallel training loop (STYLE.md §6): the epoch shuffle
 * keyed by (seed, epoch, model), each rank's slice of the global minibatch
 * rendered on demand, the gradient of the global-batch mean (1/B_global),
 * one MPI_Allreduce of the flat gradient per step, the identical Adam step
 * on every rank, the parameter checksum across ranks, the evaluation in
 * fixed batches after every epoch, per-epoch checkpoints, and rank-0
 * progress (loss, images/s, ETA).  Why the loss sums travel in a separate,
 * non-blocking reduction: see train_step. */
#define _POSIX_C_SOURCE 200809L
#include "ddscan/train.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Allreduce, MPI_Iallreduce, MPI_Allgatherv, MPI_Bcast */

#include "ddscan/io.h" /* uses: io_rows_split (the one static split rule) */

/* Loss sums of one step, reduced in double. */
enum {
  SUM_LOSS = 0,
  SUM_REC,
  SUM_KL,
  SUM_ER_OK, /* CNN: ER samples with logit <= 0 */
  SUM_ER,
  SUM_NR_OK, /* CNN: NR samples with logit > 0 */
  SUM_NR,
  SUM_N
};

static int is_cvae(const train_trainer *t) {
  return t->job.arch->kind == NN_MODEL_CVAE;
}

dd_status train_trainer_init(train_trainer *t, const par_world *w, const train_job *job,
                             int print_table) {
  memset(t, 0, sizeof *t);
  t->w = w;
  t->job = *job;
  const nn_arch *a = job->arch;
  if (!job->train || job->train->n < 1)
    return DD_FAIL(DD_ERR_ARG, "%s: the training split is empty", job->name);
  if (job->batch_size < 1 || job->eval_batch_size < 1 || job->epochs < 1)
    return DD_FAIL(DD_ERR_ARG, "%s: batch %d, eval batch %d, epochs %d", job->name, job->batch_size,
                   job->eval_batch_size, job->epochs);
  if (job->ckpt_path && !job->hist_path)
    return DD_FAIL(DD_ERR_ARG, "%s: a checkpoint needs a history path", job->name);
  if (a->in_c != IMG_C || a->in_h != IMG_H || a->in_w != IMG_W)
    return DD_FAIL(DD_ERR_CONFIG, "%s.input is [%d, %d, %d], the images are [%d, %d, %d]",
                   a->cfg_group, a->in_c, a->in_h, a->in_w, IMG_C, IMG_H, IMG_W);
  const int local = (job->batch_size + w->size - 1) / w->size;
  const int maxb = local > job->eval_batch_size ? local : job->eval_batch_size;
  dd_status st = nn_model_init(&t->model, a, maxb, job->seed, print_table && w->rank == 0);
  long long n_eval = 1;
  if (job->test && job->test->n > n_eval) n_eval = job->test->n;
  if (job->test_nr && job->test_nr->n > n_eval) n_eval = job->test_nr->n;
  if (n_eval * TRAIN_OUT_N > INT_MAX)
    return DD_FAIL(DD_ERR_ARG, "%s: %lld evaluation samples are too many for one gather", job->name,
                   n_eval);
  t->n_out = n_eval;
  if (st == DD_OK)
    st = dd_calloc((void **)&t->perm, (size_t)job->train->n, sizeof *t->perm, "sample order");
  if (st == DD_OK)
    st = dd_alloc_aligned((void **)&t->x, (size_t)maxb * IMG_SIZE * sizeof *t->x, "image batch");
  if (st == DD_OK) st = dd_calloc((void **)&t->label, (size_t)maxb, sizeof *t->label, "labels");
  if (st == DD_OK) st = dd_calloc((void **)&t->key, (size_t)maxb, sizeof *t->key, "noise keys");
  if (st == DD_OK)
    st = dd_calloc((void **)&t->out, (size_t)n_eval * TRAIN_OUT_N, sizeof *t->out, "eval results");
  if (st == DD_OK) st = dd_calloc((void **)&t->counts, (size_t)w->size, sizeof(int), "gather");
  if (st == DD_OK) st = dd_calloc((void **)&t->displs, (size_t)w->size, sizeof(int), "gather");
  if (st != DD_OK) {
    train_trainer_free(t);
    return DD_CONTEXT(st, "building the %s trainer", job->name);
  }
  return DD_OK;
}

void train_trainer_free(train_trainer *t) {
  nn_model_free(&t->model);
  free(t->perm);
  dd_free_aligned(t->x);
  free(t->label);
  free(t->key);
  free(t->out);
  free(t->counts);
  free(t->displs);
  t->perm = NULL;
  t->x = NULL;
  t->label = NULL;
  t->key = NULL;
  t->out = NULL;
  t->counts = t->displs = NULL;
}

/* Renders samples idx[0..n) (or first..first+n when idx is NULL) of s into
 * t->x (n, C, H, W), with their labels and noise keys. */
static void load_batch(train_trainer *t, const train_set *s, const long long *idx, long long first,
                       int n) {
  for (int i = 0; i < n; i++) {
    const long long k = idx ? idx[i] : first + i;
    img_render(t->job.renderer, s->ev[k], t->x + (size_t)i * IMG_SIZE);
    t->label[i] = s->label[k];
    t->key[i] = s->key[k];
  }
}

/* One optimiser step on the global minibatch idx[0..b_global): this rank
 * forwards and backwards its slice, the gradients (already scaled by
 * 1/b_global) are summed by one MPI_Allreduce over the flat buffer, and every
 * rank takes the identical Adam step.  The loss sums (a few doubles) go in a
 * non-blocking MPI_Iallreduce started before the gradient's and completed
 * after it: its latency hides under the large reduction, the sums stay in
 * double (the curves are means of thousands of per-sample losses), and the
 * model's gradient buffer keeps exactly the layout nn owns. */
static dd_status train_step(train_trainer *t, const long long *idx, int b_global, uint32_t epoch,
                            double *sums) {
  nn_model *m = &t->model;
  long long first, count;
  io_rows_split(b_global, t->w->rank, t->w->size, &first, &count);
  double local[SUM_N] = {0};
  nn_model_zero_grad(m);
  if (count > 0) {
    load_batch(t, t->job.train, idx + first, 0, (int)count);
    nn_noise nz = {t->job.seed, DD_STREAM_VAE_EPS, epoch, t->key, NULL, 0};
    nn_batch_loss bl;
    DD_TRY(nn_model_forward(m, t->x, is_cvae(t) ? NULL : t->label, (int)count,
                            is_cvae(t) ? &nz : NULL, &bl),
           "%s step %llu", t->job.name, (unsigned long long)m->step);
    nn_model_backward(m, b_global);
    local[SUM_LOSS] = bl.loss;
    local[SUM_REC] = bl.rec;
    local[SUM_KL] = bl.kl;
    if (!is_cvae(t))
      for (int i = 0; i < (int)count; i++) {
        const int nr = t->label[i] > 0.5f;
        local[nr ? SUM_NR : SUM_ER] += 1.0;
        if ((m->logit[i] > 0.0f) == nr) local[nr ? SUM_NR_OK : SUM_ER_OK] += 1.0;
      }
  }
  MPI_Request req;
  MPI_Iallreduce(local, sums, SUM_N, MPI_DOUBLE, MPI_SUM, t->w->comm, &req);
  /* the barrier separates waiting for the slowest rank (load imbalance) from
   * the reduction itself in the timings; it costs one latency per step */
  const double t0 = dd_time_now();
  if (t->w->size > 1) MPI_Barrier(t->w->comm);
  const double t1 = dd_time_now();
  MPI_Allreduce(MPI_IN_PLACE, m->grads, (int)m->n_params, MPI_FLOAT, MPI_SUM, t->w->comm);
  t->t_allreduce += dd_time_now() - t1;
  t->t_wait += t1 - t0;
  MPI_Wait(&req, MPI_STATUS_IGNORE);
  /* every rank holds the same sums, so every rank takes the same decision */
  DD_TRY(nn_model_check_loss(m, m->step, sums[SUM_LOSS]), "%s", t->job.name);
  nn_adam_step(m);
  return DD_OK;
}

/* FNV-1a over 32-bit words: the parameters' bit patterns. */
static uint64_t hash_words(const float *p, size_t n) {
  uint64_t h = DD_HASH_INIT;
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &p[i], sizeof u);
    h = (h ^ u) * UINT64_C(0x100000001b3);
  }
  return h;
}

dd_status train_check_params(train_trainer *t, uint64_t *hash) {
  nn_model *m = &t->model;
  const uint64_t h = hash_words(m->params, m->n_params);
  if (hash) *hash = h;
  /* max(h) and max(~h) = ~min(h) in one reduction */
  uint64_t mm[2] = {h, ~h};
  MPI_Allreduce(MPI_IN_PLACE, mm, 2, MPI_UINT64_T, MPI_MAX, t->w->comm);
  if (mm[0] == ~mm[1]) return DD_OK;
  /* diverged: find the first tensor that differs (every rank learns it) */
  uint64_t th[2 * NN_MAX_TENSORS];
  for (int k = 0; k < m->n_tensors; k++) {
    const uint64_t x = hash_words(m->params + m->tensors[k].offset, m->tensors[k].size);
    th[2 * k] = x;
    th[2 * k + 1] = ~x;
  }
  MPI_Allreduce(MPI_IN_PLACE, th, 2 * m->n_tensors, MPI_UINT64_T, MPI_MAX, t->w->comm);
  const char *bad = "(alignment gaps)";
  for (int k = 0; k < m->n_tensors; k++)
    if (th[2 * k] != ~th[2 * k + 1]) {
      bad = m->tensors[k].name;
      break;
    }
  return DD_FAIL(DD_ERR_INTERNAL,
                 "%s: parameters diverged across ranks after %llu steps (checksums "
                 "%016llx..%016llx), first differing tensor '%s'; every rank must run the same "
                 "build, OpenBLAS kernel (OPENBLAS_CORETYPE) and thread count",
                 t->job.name, (unsigned long long)m->step, (unsigned long long)~mm[1],
                 (unsigned long long)mm[0], bad);
}

dd_status train_forward_local(train_trainer *t, const train_set *s, long long first, int n,
                              uint32_t noise_a, float *img, float *rec) {
  if (n < 1 || n > t->model.max_batch || first < 0 || first + n > s->n)
    return DD_FAIL(DD_ERR_ARG, "%s: samples [%lld, %lld) of %lld with batches of %d", t->job.name,
                   first, first + n, s->n, t->model.max_batch);
  load_batch(t, s, NULL, first, n);
  nn_noise nz = {t->job.seed, DD_STREAM_VAE_EPS, noise_a, t->key, NULL, 0};
  DD_TRY(nn_model_forward(&t->model, t->x, is_cvae(t) ? NULL : t->label, n, is_cvae(t) ? &nz : NULL,
                          NULL),
         "%s", t->job.name);
  if (img) memcpy(img, t->x, sizeof *img * (size_t)n * IMG_SIZE);
  if (rec && is_cvae(t)) nn_model_output_nchw(&t->model, rec);
  return DD_OK;
}

dd_status train_evaluate(train_trainer *t, const train_set *s, long long n, uint32_t noise_a,
                         double *out) {
  if (!out) {
    if (n > t->n_out)
      return DD_FAIL(DD_ERR_ARG, "%s: %lld samples exceed the evaluation buffer of %lld",
                     t->job.name, n, t->n_out);
    out = t->out;
  }
  if (n > s->n) return DD_FAIL(DD_ERR_ARG, "%s: %lld of %lld samples", t->job.name, n, s->n);
  if (n <= 0) return DD_OK;
  const int eb = t->job.eval_batch_size;
  const long long nb = (n + eb - 1) / eb;
  /* whole batches by index, dealt in contiguous blocks: a sample's batch
   * never depends on the rank count */
  dd_status st = DD_OK;
  for (int r = 0; r < t->w->size; r++) {
    long long b0, bc;
    io_rows_split(nb, r, t->w->size, &b0, &bc);
    const long long s0 = b0 * eb, s1 = (b0 + bc) * eb < n ? (b0 + bc) * eb : n;
    t->displs[r] = (int)(s0 * TRAIN_OUT_N);
    t->counts[r] = (int)((s1 > s0 ? s1 - s0 : 0) * TRAIN_OUT_N);
  }
  const long long mine0 = t->displs[t->w->rank] / TRAIN_OUT_N;
  const long long mine1 = mine0 + t->counts[t->w->rank] / TRAIN_OUT_N;
  for (long long i = mine0; i < mine1 && st == DD_OK; i += eb) {
    const int bn = (int)(mine1 - i < eb ? mine1 - i : eb);
    st = train_forward_local(t, s, i, bn, noise_a, NULL, NULL);
    for (int j = 0; j < bn && st == DD_OK; j++) {
      double *o = out + (size_t)(i + j) * TRAIN_OUT_N;
      o[TRAIN_OUT_LOSS] = t->model.loss[j];
      o[TRAIN_OUT_REC] = is_cvae(t) ? t->model.rec[j] : 0.0;
      o[TRAIN_OUT_KL] = is_cvae(t) ? t->model.kl[j] : 0.0;
      o[TRAIN_OUT_LOGIT] = is_cvae(t) ? 0.0 : (double)t->model.logit[j];
    }
  }
  DD_TRY(par_agree(t->w, st), "%s: evaluation", t->job.name);
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out, t->counts, t->displs, MPI_DOUBLE,
                 t->w->comm);
  return DD_OK;
}

/* Means of column k over n samples, summed in index order (the same on every
 * rank and for every rank count). */
static double col_mean(const double *out, long long n, int k) {
  double s = 0.0;
  for (long long i = 0; i < n; i++) s += out[(size_t)i * TRAIN_OUT_N + k];
  return n > 0 ? s / (double)n : NAN;
}

/* The test metrics after an epoch (noise key a = the epoch index). */
static dd_status evaluate_epoch(train_trainer *t, uint32_t epoch, train_epoch *e) {
  const train_set *ts = t->job.test;
  if (ts && ts->n > 0) {
    DD_TRY(train_evaluate(t, ts, ts->n, epoch, NULL), "test split");
    e->test_loss = col_mean(t->out, ts->n, TRAIN_OUT_LOSS);
    if (is_cvae(t)) {
      e->test_rec = col_mean(t->out, ts->n, TRAIN_OUT_REC);
      e->test_kl = col_mean(t->out, ts->n, TRAIN_OUT_KL);
    } else {
      /* the set is ER then NR: split the logits by label */
      long long n_er = 0;
      while (n_er < ts->n && ts->label[n_er] < 0.5f) n_er++;
      const long long n_nr = ts->n - n_er;
      double *lg = NULL;
      DD_TRY(dd_calloc((void **)&lg, (size_t)ts->n, sizeof *lg, "logits"), "test metrics");
      for (long long i = 0; i < ts->n; i++)
        lg[i] = t->out[(size_t)i * TRAIN_OUT_N + TRAIN_OUT_LOGIT];
      e->test_accuracy = train_balanced_accuracy(lg, NULL, n_er, lg + n_er, NULL, n_nr, 0.0);
      e->test_auc = train_weighted_auc(lg, NULL, n_er, lg + n_er, NULL, n_nr);
      free(lg);
    }
  }
  const train_set *tn = t->job.test_nr;
  if (is_cvae(t) && tn && tn->n > 0) {
    DD_TRY(train_evaluate(t, tn, tn->n, epoch, NULL), "NR test split");
    e->test_nr_loss = col_mean(t->out, tn->n, TRAIN_OUT_LOSS);
    e->test_nr_rec = col_mean(t->out, tn->n, TRAIN_OUT_REC);
    e->test_nr_kl = col_mean(t->out, tn->n, TRAIN_OUT_KL);
  }
  return DD_OK;
}

/* One pass over the training split in the order of (seed, epoch, model). */
static dd_status run_epoch(train_trainer *t, uint32_t epoch, train_epoch *e, dd_progress *prog,
                           char *label, size_t label_cap, double done0) {
  const train_set *s = t->job.train;
  const long long n = s->n;
  const int B = t->job.batch_size;
  for (long long i = 0; i < n; i++) t->perm[i] = i;
  /* Fisher-Yates from one stream per (epoch, model): every rank draws the
   * same order, whatever the rank count */
  dd_rng r = dd_rng_for(t->job.seed, DD_STREAM_SHUFFLE, epoch, (uint32_t)t->job.arch->kind, 0);
  for (long long i = n - 1; i > 0; i--) {
    const long long j = (long long)dd_rng_below(&r, (uint32_t)(i + 1));
    const long long tmp = t->perm[i];
    t->perm[i] = t->perm[j];
    t->perm[j] = tmp;
  }
  double tot[SUM_N] = {0};
  const long long steps = (n + B - 1) / B;
  t->t_allreduce = t->t_wait = 0.0;
  const double t0 = dd_time_now();
  for (long long k = 0; k < steps; k++) {
    const int b = (int)(n - k * B < B ? n - k * B : B);
    double sums[SUM_N];
    DD_TRY(train_step(t, t->perm + k * B, b, epoch, sums), "epoch %u", epoch + 1);
    for (int q = 0; q < SUM_N; q++) tot[q] += sums[q];
    const int every = t->job.checksum_every;
    if (every > 0 && t->model.step % (uint64_t)every == 0)
      DD_TRY(train_check_params(t, NULL), "epoch %u", epoch + 1);
    if (t->w->rank == 0) {
      const double seen = (double)(k * B + b);
      snprintf(label, label_cap, "train %s epoch %u/%d, loss %.5g", t->job.name, epoch + 1,
               t->job.epochs, tot[SUM_LOSS] / seen);
      dd_progress_update(prog, done0 + seen);
    }
  }
  double wall = dd_time_now() - t0;
  e->steps = (double)steps;
  e->train_loss = tot[SUM_LOSS] / (double)n;
  if (is_cvae(t)) {
    e->train_rec = tot[SUM_REC] / (double)n;
    e->train_kl = tot[SUM_KL] / (double)n;
  } else if (tot[SUM_ER] > 0 && tot[SUM_NR] > 0) {
    e->train_accuracy = 0.5 * (tot[SUM_ER_OK] / tot[SUM_ER] + tot[SUM_NR_OK] / tot[SUM_NR]);
  }
  /* rank 0's clock for the epoch; the shares averaged over ranks */
  double share[2] = {wall > 0 ? t->t_allreduce / wall : 0.0, wall > 0 ? t->t_wait / wall : 0.0};
  double red[2];
  MPI_Allreduce(share, red, 2, MPI_DOUBLE, MPI_SUM, t->w->comm);
  MPI_Bcast(&wall, 1, MPI_DOUBLE, 0, t->w->comm);
  e->allreduce_share = red[0] / t->w->size;
  e->wait_share = red[1] / t->w->size;
  e->wall_s = wall;
  e->images_per_s = wall > 0 ? (double)n / wall : 0.0;
  return DD_OK;
}

static void log_epoch(const train_trainer *t, const train_epoch *e, int epoch) {
  char test[160] = "";
  if (is_cvae(t)) {
    if (isfinite(e->test_loss))
      snprintf(test, sizeof test, " | test %.5g (rec %.5g, KL %.4g)", e->test_loss, e->test_rec,
               e->test_kl);
    if (isfinite(e->test_nr_rec)) {
      size_t l = strlen(test);
      snprintf(test + l, sizeof test - l, ", NR rec %.5g", e->test_nr_rec);
    }
    dd_info(
        "train %s: epoch %d/%d loss %.5g (rec %.5g, KL %.4g)%s | %.0f images/s, allreduce "
        "%.1f %% of step time, eval %.1f s",
        t->job.name, epoch, t->job.epochs, e->train_loss, e->train_rec, e->train_kl, test,
        e->images_per_s, 100.0 * e->allreduce_share, e->eval_s);
  } else {
    if (isfinite(e->test_loss))
      snprintf(test, sizeof test, " | test %.4f, accuracy %.4f, AUC %.4f", e->test_loss,
               e->test_accuracy, e->test_auc);
    dd_info(
        "train %s: epoch %d/%d loss %.4f, accuracy %.4f%s | %.0f images/s, allreduce %.1f %% "
        "of step time, eval %.1f s",
        t->job.name, epoch, t->job.epochs, e->train_loss, e->train_accuracy, test, e->images_per_s,
        100.0 * e->allreduce_share, e->eval_s);
  }
}

/* Rank 0 writes the history, then the checkpoint of the same epoch. */
static dd_status save_epoch(train_trainer *t, const train_history *hist) {
  dd_status st = DD_OK;
  if (t->w->rank == 0) {
    st = train_history_save(hist, t->job.hist_path);
    nn_ckpt_info info = {t->job.hash, t->job.seed, 0, (uint64_t)t->epoch};
    if (st == DD_OK) st = nn_checkpoint_save(&t->model, t->job.ckpt_path, &info);
  }
  return par_agree(t->w, st);
}

dd_status train_trainer_fit(train_trainer *t, train_history *hist) {
  const train_job *j = &t->job;
  const int target = j->stop_after > 0 && j->stop_after < j->epochs ? j->stop_after : j->epochs;
  if (t->epoch >= target) return DD_OK;
  if (hist->cap < target) return DD_FAIL(DD_ERR_ARG, "%s: history too small", j->name);
  char label[160];
  snprintf(label, sizeof label, "train %s", j->name);
  dd_progress prog;
  const double n = (double)j->train->n;
  dd_progress_start(&prog, label, "images", n * (target - t->epoch));
  const int first = t->epoch;
  for (int ep = first; ep < target; ep++) {
    train_epoch e;
    memset(&e, 0, sizeof e);
    e.train_accuracy = e.test_loss = e.test_rec = e.test_kl = e.test_accuracy = e.test_auc = NAN;
    e.test_nr_loss = e.test_nr_rec = e.test_nr_kl = NAN;
    if (!is_cvae(t)) e.train_rec = e.train_kl = NAN;
    DD_TRY(run_epoch(t, (uint32_t)ep, &e, &prog, label, sizeof label, n * (ep - first)), "%s",
           j->name);
    const double t0 = dd_time_now();
    DD_TRY(evaluate_epoch(t, (uint32_t)ep, &e), "%s after epoch %d", j->name, ep + 1);
    e.eval_s = dd_time_now() - t0;
    MPI_Bcast(&e.eval_s, 1, MPI_DOUBLE, 0, t->w->comm);
    /* the checksum before anything is saved: a checkpoint never holds a
     * diverged state */
    DD_TRY(train_check_params(t, NULL), "%s after epoch %d", j->name, ep + 1);
    t->epoch = ep + 1;
    hist->e[hist->n++] = e;
    log_epoch(t, &e, ep + 1);
    if (j->ckpt_path) DD_TRY(save_epoch(t, hist), "%s: checkpoint of epoch %d", j->name, ep + 1);
  }
  dd_progress_end(&prog, n * (target - first));
  return DD_OK;
}
