/* resources.c - the resource estimate of a configuration, made before
 * anything runs (`ddscan check-config` prints it; every run checks it):
 * memory per rank of each stage, the results file's size and the disk
 * space free where it goes.  A results file that cannot fit on the disk,
 * or a rank that needs more memory than the whole node has, is refused
 * (exit 2, one line naming the numbers and the key to change); memory
 * above the limit per rank (run.memory_per_rank_mb, else MemAvailable
 * shared by the ranks on this node) is a warning.
 *
 * The estimate counts what each stage allocates (src/stage/simulate.c,
 * train.c, score.c, scan.c and the networks' buffers through
 * nn_model_plan) plus a fixed process base (MPI, HDF5, OpenBLAS and the
 * code: STAGE_RSS_BASE).  docs/reliability.md compares it with the peak
 * RSS the score stage reports. */
#define _POSIX_C_SOURCE 200809L
#include "ddscan/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include <mpi.h> /* uses: MPI_Comm_split_type (ranks per node) */

#define MB 1e6

static double bank_total(const det_bank *b, int cls) {
  double n = 0.0;
  for (int s = 0; s < DET_N_SPLITS; s++) n += (double)b->n[cls][s];
  return n;
}

static double fields_bytes(const io_field *f, int n) {
  double b = 0.0;
  for (int i = 0; i < n; i++)
    b += (double)io_type_size(f[i].type) * (f[i].ncols > 1 ? f[i].ncols : 1);
  return b;
}

/* Adds one part to stage `stage`, remembering its largest. */
static void add(stage_resources *r, int stage, double bytes, const char *what, const char *key) {
  r->mem[stage] += bytes;
  if (bytes > r->top_bytes[stage]) {
    r->top_bytes[stage] = bytes;
    snprintf(r->top_what[stage], sizeof r->top_what[stage], "%s", what);
    snprintf(r->top_key[stage], sizeof r->top_key[stage], "%s", key);
  }
}

static double ceil_div(double a, double b) {
  return b > 0 ? (double)(long long)((a + b - 1) / b) : a;
}

/* The networks: a failing plan (a bad architecture) counts nothing here;
 * stage_params_load has already refused it. */
static double net(const nn_arch *a, int batch, int train) {
  double b = 0.0;
  if (nn_model_plan(a, batch, train, &b) != DD_OK) {
    dd_error_clear();
    return 0.0;
  }
  return b;
}

void stage_resources_estimate(const stage_params *p, int ranks, int ranks_per_node,
                              stage_resources *r) {
  memset(r, 0, sizeof *r);
  r->ranks = ranks < 1 ? 1 : ranks;
  r->ranks_per_node = ranks_per_node < 1 ? 1 : ranks_per_node;
  r->disk_free = -1.0;
  const det_bank *bk = &p->detector.bank;
  const double ev = (double)sizeof(det_event), np = r->ranks;
  const double det = (double)sizeof(det_model) + (double)sizeof(img_renderer);
  const double sampler = 3.0 * 8.0 * (double)p->phys.sampler_points;
  const double img = (double)IMG_SIZE * sizeof(float);
  char what[160];

  /* simulate: one block of the larger bank, the ceiling samples (gathered
   * on every rank), the detector model and the samplers */
  {
    double n = bank_total(bk, 0) > bank_total(bk, 1) ? bank_total(bk, 0) : bank_total(bk, 1);
    snprintf(what, sizeof what, "the bank block (%.0f events of %.0f bytes)", ceil_div(n, np), ev);
    add(r, STAGE_RES_SIMULATE, ceil_div(n, np) * ev, what, "detector.bank");
    const double ce = (double)p->detector.ceiling_events;
    add(r, STAGE_RES_SIMULATE, ce * (2 * 4 * 4.0 + 8.0) + ceil_div(ce, np) * 4 * 4.0,
        "the ceiling samples", "detector.ceiling.events");
    add(r, STAGE_RES_SIMULATE, det + 2 * sampler, "the detector model", "detector");
  }
  /* train: every rank holds the train and test splits of both classes, one
   * trainer at a time (batch: its share of the minibatch or the evaluation
   * batch, whichever is larger), the evaluation results and the examples */
  {
    double n = 0.0;
    for (int c = 0; c < 2; c++) n += (double)(bk->n[c][DET_SPLIT_TRAIN] + bk->n[c][DET_SPLIT_TEST]);
    snprintf(what, sizeof what, "the training events (%.0f of %.0f bytes)", n, ev);
    add(r, STAGE_RES_TRAIN, n * (ev + 2 * 16.0), what, "detector.bank");
    const int eb = p->train.eval_batch_size;
    int bc = (int)ceil_div(p->train.cvae.batch_size, np),
        bn = (int)ceil_div(p->train.cnn.batch_size, np);
    bc = bc > eb ? bc : eb;
    bn = bn > eb ? bn : eb;
    const double mc = net(&p->nn.cvae, bc, 1) + (double)bc * img;
    const double mn = net(&p->nn.cnn, bn, 1) + (double)bn * img;
    /* the key to change: the batch when it is above the default, else the network */
    const int big = mc > mn, bb = big ? bc : bn;
    const char *bkey = bb == eb ? "train.eval_batch_size"
                                : (big ? "train.cvae.batch_size" : "train.cnn.batch_size");
    snprintf(what, sizeof what, "the %s trainer at batch %d (%s)", big ? "CVAE" : "CNN", bb, bkey);
    add(r, STAGE_RES_TRAIN, big ? mc : mn, what,
        bb > TRAIN_DEF_BATCH ? bkey : (big ? "nn.cvae" : "nn.cnn"));
    add(r, STAGE_RES_TRAIN, 4.0 * img * (double)p->train.examples, "the example images",
        "train.examples");
    add(r, STAGE_RES_TRAIN, det + sampler + n * (8.0 + TRAIN_OUT_N * 8.0), "the evaluation buffers",
        "detector.bank");
  }
  /* score: both inference networks at score.batch_size, one image batch,
   * one block of records and scores, the detector model and samplers */
  {
    const int b = p->score.batch_size;
    const double nets = net(&p->nn.cvae, b, 0) + net(&p->nn.cnn, b, 0);
    snprintf(what, sizeof what, "the CVAE and the CNN for inference at score.batch_size = %d", b);
    add(r, STAGE_RES_SCORE, nets + (double)b * (img + 4.0), what,
        b > TRAIN_DEF_BATCH
            ? "score.batch_size"
            : (net(&p->nn.cvae, b, 0) > net(&p->nn.cnn, b, 0) ? "nn.cvae" : "nn.cnn"));
    const double bs = (double)b * p->score.block_batches;
    snprintf(what, sizeof what, "the score block (%.0f events)", bs);
    add(r, STAGE_RES_SCORE, bs * (ev + (double)sizeof(scan_score_record)), what,
        "score.block_batches");
    add(r, STAGE_RES_SCORE, det + 2 * sampler, "the detector model", "detector");
  }
  /* scan: every rank holds both classes' scores and per-event arrays, the
   * per-unit results and the statistics workspace */
  {
    const double n = (double)(p->score.n_events[0] + p->score.n_events[1]);
    snprintf(what, sizeof what, "the analysis scores (%.0f events)", n);
    /* the rows while they are read, then the per-event arrays that replace them */
    add(r, STAGE_RES_SCAN,
        n * ((double)sizeof(scan_score_record) > 7 * 8.0 ? (double)sizeof(scan_score_record)
                                                         : 7 * 8.0),
        what, "score.er_events");
    const scan_params *g = &p->scan;
    const double unit = 8.0 * ((double)g->n_methods * g->n_sigma * g->n_exposure * 3 +
                               (double)g->n_methods * g->n_exposure * 4);
    const double bins = (double)p->stats.binning.bins + 3;
    const double cl = (double)p->stats.classical.cs1_bins * (p->stats.classical.y_bins + 3);
    double toys = 0.0; /* allocated only when the method runs */
    for (int i = 0; i < g->n_methods; i++)
      if (g->methods[i] == STATS_METHOD_TOYS) toys = 4.0 * 8.0 * (double)p->stats.toys;
    add(r, STAGE_RES_SCAN, unit + 8.0 * (8 * bins + 8 * cl) + sampler, "the statistics workspace",
        "stats");
    add(r, STAGE_RES_SCAN, toys, "the toy buffers (stats.toys.count)", "stats.toys.count");
  }
  for (int s = 0; s < STAGE_RES_N; s++) {
    r->mem[s] += STAGE_RSS_BASE;
    if (r->mem[s] > r->mem_rank) {
      r->mem_rank = r->mem[s];
      r->mem_stage = s;
    }
  }

  /* the results file: field tables, the scan's N-D datasets, small extras
   * (the ceiling per mass, the training curves, attributes) */
  int nb = 0;
  const io_field *bf = stage_bank_fields(&nb);
  const double row_bank = fields_bytes(bf, nb) + 8.0;
  r->file[STAGE_RES_SIMULATE] = (bank_total(bk, 0) + bank_total(bk, 1)) * row_bank +
                                (double)p->scan.n_mass * 8.0 * (10 + 5 * DET_BAND_BINS) +
                                8.0 * 3 * DET_BAND_BINS;
  r->file[STAGE_RES_TRAIN] =
      8.0 * (14.0 * p->train.cvae.epochs + 10.0 * p->train.cnn.epochs + 8.0 * p->scan.n_mass) +
      2.0 * (double)p->train.examples * (2.0 * img + 4 * 8.0);
  const double row_score = fields_bytes(stage_score_fields, stage_n_score_fields) + 8.0;
  r->file[STAGE_RES_SCORE] = (double)(p->score.n_events[0] + p->score.n_events[1]) * row_score;
  r->file[STAGE_RES_SCAN] = scan_results_bytes(&p->scan, &p->stats, &p->phys);
  const double overhead = 1.0 * MB; /* /config, attributes, HDF5 metadata */
  r->file_total = overhead;
  for (int s = 0; s < STAGE_RES_N; s++) r->file_total += r->file[s];
}

/* Memory: MemTotal and MemAvailable of /proc/meminfo in bytes (0 unknown). */
static void meminfo(double *total, double *avail) {
  *total = *avail = 0.0;
  FILE *fp = fopen("/proc/meminfo", "r");
  if (!fp) return;
  char line[256];
  while (fgets(line, sizeof line, fp)) {
    double kb = 0.0;
    if (sscanf(line, "MemTotal: %lf kB", &kb) == 1) *total = kb * 1024.0;
    if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) *avail = kb * 1024.0;
  }
  fclose(fp);
}

/* Free bytes for an unprivileged writer on the filesystem of `dir`, or of
 * its nearest existing parent (run.output_dir is created by the run);
 * the directory looked at goes to `at`.  -1 when unknown. */
static double disk_free(const char *dir, char *at, size_t cap) {
  char path[STAGE_PATH_MAX];
  snprintf(path, sizeof path, "%s", dir[0] ? dir : ".");
  for (;;) {
    struct statvfs sv;
    if (statvfs(path, &sv) == 0) {
      snprintf(at, cap, "%s", path);
      return (double)sv.f_bavail * (double)sv.f_frsize;
    }
    char *slash = strrchr(path, '/');
    if (!slash) {
      if (strcmp(path, ".") == 0) return -1.0;
      snprintf(path, sizeof path, ".");
    } else if (slash == path) {
      path[1] = '\0';
      if (statvfs(path, &sv) == 0) {
        snprintf(at, cap, "/");
        return (double)sv.f_bavail * (double)sv.f_frsize;
      }
      return -1.0;
    } else {
      *slash = '\0';
    }
  }
}

static const char *const k_stage_names[STAGE_RES_N] = {"simulate", "train", "score", "scan"};

const char *stage_resources_stage_name(int s) {
  return s >= 0 && s < STAGE_RES_N ? k_stage_names[s] : "?";
}

void stage_resources_print(FILE *fp, const stage_resources *r, const stage_params *p) {
  fprintf(fp, "# resources at %d rank%s (%d on this node):\n", r->ranks, r->ranks > 1 ? "s" : "",
          r->ranks_per_node);
  fprintf(fp,
          "#   memory per rank: simulate %.0f MB, train %.0f MB, score %.0f MB, scan %.0f MB; "
          "largest %.0f MB (%s; its largest part: %s)\n",
          r->mem[0] / MB, r->mem[1] / MB, r->mem[2] / MB, r->mem[3] / MB, r->mem_rank / MB,
          stage_resources_stage_name(r->mem_stage), r->top_what[r->mem_stage]);
  if (r->mem_limit > 0)
    fprintf(fp, "#   memory limit per rank: %.0f MB (%s)\n", r->mem_limit / MB, r->mem_limit_from);
  else
    fprintf(fp, "#   memory limit per rank: unknown (set run.memory_per_rank_mb)\n");
  fprintf(fp,
          "#   results file: %.1f MB (banks %.1f MB, training %.1f MB, scores %.1f MB, scan "
          "%.1f MB: %d x %d x %d x %d x %d grid)\n",
          r->file_total / MB, r->file[0] / MB, r->file[1] / MB, r->file[2] / MB, r->file[3] / MB,
          p->scan.n_methods, p->scan.n_mass, p->scan.n_sigma, p->scan.n_exposure, p->scan.n_r);
  if (r->disk_free >= 0)
    fprintf(fp, "#   disk free for %s: %.0f MB (filesystem of %s)\n", p->run.output_dir,
            r->disk_free / MB, r->disk_dir);
  else
    fprintf(fp, "#   disk free for %s: unknown\n", p->run.output_dir);
}

/* The key to name when the scan grid makes the file too large: its longest
 * axis. */
static const char *largest_axis(const scan_params *g) {
  const char *k = "scan.mass_gev";
  int n = g->n_mass;
  if (g->n_sigma > n) k = "scan.sigma_cm2", n = g->n_sigma;
  if (g->n_exposure > n) k = "scan.exposure_ty", n = g->n_exposure;
  if (g->n_r > n) k = "scan.r";
  return k;
}

dd_status stage_resources_check(stage_ctx *c, int print) {
  const par_world *w = c->w;
  const stage_params *p = c->p;
  int per_node = 1;
  if (w->size > 1) {
    MPI_Comm node;
    if (MPI_Comm_split_type(w->comm, MPI_COMM_TYPE_SHARED, w->rank, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
      MPI_Comm_size(node, &per_node);
      MPI_Comm_free(&node);
    }
  }
  stage_resources r;
  stage_resources_estimate(p, w->size, per_node, &r);
  if (c->o.shard_count > 1) r.file_total -= r.file[STAGE_RES_SCAN] * (1.0 - 1.0 / c->o.shard_count);
  dd_status st = DD_OK;
  if (w->rank == 0) {
    double total = 0.0, avail = 0.0;
    meminfo(&total, &avail);
    r.mem_node = total;
    if (p->run.memory_per_rank_mb > 0) {
      r.mem_limit = p->run.memory_per_rank_mb * MB;
      snprintf(r.mem_limit_from, sizeof r.mem_limit_from, "run.memory_per_rank_mb");
    } else if (avail > 0) {
      r.mem_limit = avail / per_node;
      snprintf(r.mem_limit_from, sizeof r.mem_limit_from,
               "MemAvailable %.0f MB / %d rank%s on this node", avail / MB, per_node,
               per_node > 1 ? "s" : "");
    }
    r.disk_free = disk_free(p->run.output_dir, r.disk_dir, sizeof r.disk_dir);
    if (print) {
      stage_resources_print(stdout, &r, p);
      fflush(stdout);
    }
    /* what cannot work: the file larger than the disk, a rank larger than
     * the node (unless the user declares the compute nodes' memory) */
    /* DDSCAN_NO_DISK_CHECK=1: for file systems whose statvfs misreports the
     * space (quotas, some parallel file systems), and for the fault test that
     * fills a disk during a write (tests/e2e/faults_disk.sh); the write
     * itself still ends the job with "disk full" (io/h5util.c). */
    const char *nd = getenv("DDSCAN_NO_DISK_CHECK");
    const int disk_check = !(nd && strcmp(nd, "1") == 0);
    if (disk_check && r.disk_free >= 0 && r.file_total > r.disk_free) {
      const int scan_big = r.file[STAGE_RES_SCAN] >= r.file[STAGE_RES_SIMULATE] &&
                           r.file[STAGE_RES_SCAN] >= r.file[STAGE_RES_SCORE];
      st = cfg_error(c->cfg, scan_big ? largest_axis(&p->scan) : "run.output_dir",
                     "the results file needs an estimated %.0f MB (scan grid %d x %d x %d x %d "
                     "x %d: %.0f MB, banks %.0f MB, scores %.0f MB) but %s has %.0f MB free: %s",
                     r.file_total / MB, p->scan.n_methods, p->scan.n_mass, p->scan.n_sigma,
                     p->scan.n_exposure, p->scan.n_r, r.file[STAGE_RES_SCAN] / MB,
                     r.file[STAGE_RES_SIMULATE] / MB, r.file[STAGE_RES_SCORE] / MB, r.disk_dir,
                     r.disk_free / MB,
                     scan_big ? "shrink the grid or set run.output_dir on a larger disk"
                              : "set run.output_dir on a larger disk or simulate fewer events");
    } else if (r.mem_rank > (r.mem_node > r.mem_limit ? r.mem_node : r.mem_limit) &&
               r.mem_node > 0) {
      st = cfg_error(c->cfg, r.top_key[r.mem_stage],
                     "the %s stage needs an estimated %.0f MB per rank (%s: %.0f MB), more than "
                     "this node's whole memory (%.0f MB)%s: make it smaller, or declare larger "
                     "compute nodes with run.memory_per_rank_mb",
                     stage_resources_stage_name(r.mem_stage), r.mem_rank / MB,
                     r.top_what[r.mem_stage], r.top_bytes[r.mem_stage] / MB, r.mem_node / MB,
                     p->run.memory_per_rank_mb > 0 ? " and run.memory_per_rank_mb" : "");
    } else if (r.mem_limit > 0 && r.mem_rank > r.mem_limit) {
      dd_warn(
          "the %s stage needs an estimated %.0f MB per rank (%s: %.0f MB), more than the "
          "%.0f MB per rank available (%s): the kernel may kill ranks; run fewer ranks per "
          "node or shrink %s",
          stage_resources_stage_name(r.mem_stage), r.mem_rank / MB, r.top_what[r.mem_stage],
          r.top_bytes[r.mem_stage] / MB, r.mem_limit / MB, r.mem_limit_from,
          r.top_key[r.mem_stage]);
    }
  }
  return w->size > 1 ? par_agree(w, st) : st;
}
