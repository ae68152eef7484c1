/* bench_nn.c - throughput of the nn engine, measured side by side in one run:
 * training-step and inference images/s of the CVAE and the CNN (the paper's
 * architectures from the default config, or CONFIG's) at minibatch 100; each
 * layer's GEMM rate beside the cblas_sgemm peak measured in the same run; and,
 * when /usr/bin/python3 can import torch, the same architectures in PyTorch on
 * the same number of threads (tools/bench/torch_bench.py), with the ratio.
 * usage: bench_nn [CONFIG]   (env BENCH_NN_SECONDS: time per measurement) */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h> /* uses: cblas_sgemm, openblas_get_num_threads, openblas_get_corename */

#include "ddscan/cfg.h"  /* uses: cfg_parse, cfg_free */
#include "ddscan/core.h" /* uses: dd_time_now, dd_rng, dd_provenance */
#include "ddscan/nn.h"   /* uses: nn_model and its API */

#define BATCH 100

static double g_seconds = 2.0;

/* Best SGEMM rate (GFLOP/s) of a few large square-ish products. */
static double sgemm_peak(void) {
  static const int sizes[][3] = {{1024, 1024, 1024}, {2048, 2048, 1024}, {1536, 1536, 1536}};
  double best = 0.0;
  for (int s = 0; s < 3; s++) {
    int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N),
          *C = malloc(sizeof(float) * M * N);
    if (!A || !B || !C) return 0.0;
    for (long i = 0; i < (long)M * K; i++) A[i] = (float)(i % 13) * 0.1f;
    for (long i = 0; i < (long)K * N; i++) B[i] = (float)(i % 7) * 0.1f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
    int reps = 0;
    double t0 = dd_time_now(), t;
    do {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
      reps++;
      t = dd_time_now() - t0;
    } while (t < g_seconds / 3);
    double r = 2.0 * M * N * K * reps / t * 1e-9;
    printf("  sgemm %4dx%4dx%4d: %6.1f GFLOP/s\n", M, N, K, r);
    if (r > best) best = r;
    free(A), free(B), free(C);
  }
  return best;
}

typedef struct bench_ctx {
  nn_model m;
  float *x;
  float *labels;
  uint32_t idx[BATCH];
} bench_ctx;

static void step(bench_ctx *b, int train, uint64_t it) {
  nn_model *m = &b->m;
  for (int i = 0; i < BATCH; i++) b->idx[i] = (uint32_t)(it * BATCH + (uint64_t)i);
  nn_noise nz = {.seed = 1, .stream = DD_STREAM_VAE_EPS, .a = (uint32_t)it, .b = b->idx};
  const nn_noise *noise = m->arch.kind == NN_MODEL_CVAE ? &nz : NULL;
  nn_batch_loss bl;
  if (train) nn_model_zero_grad(m);
  if (nn_model_forward(m, b->x, b->labels, BATCH, noise, &bl) != DD_OK) {
    dd_error_print(stderr, -1);
    exit(1);
  }
  if (train) {
    nn_model_backward(m, BATCH);
    nn_adam_step(m);
  }
}

/* images/s of repeated steps for about g_seconds */
static double rate(bench_ctx *b, int train) {
  step(b, train, 0);
  int n = 0;
  double t0 = dd_time_now(), t;
  do {
    step(b, train, (uint64_t)n + 1);
    n++;
    t = dd_time_now() - t0;
  } while (t < g_seconds);
  return (double)n * BATCH / t;
}

static void ctx_init(bench_ctx *b, const nn_arch *a) {
  if (nn_model_init(&b->m, a, BATCH, 1, 0) != DD_OK) {
    dd_error_print(stderr, -1);
    exit(1);
  }
  size_t nx = (size_t)BATCH * a->in_c * a->in_h * a->in_w;
  b->x = malloc(sizeof(float) * nx);
  b->labels = malloc(sizeof(float) * BATCH);
  dd_rng r = dd_rng_for(1, DD_STREAM_TEST, 0, 0, 0);
  for (size_t i = 0; i < nx; i++) b->x[i] = (float)dd_rng_uniform(&r);
  for (int i = 0; i < BATCH; i++) b->labels[i] = (float)(i % 2);
}

static void ctx_free(bench_ctx *b) {
  nn_model_free(&b->m);
  free(b->x);
  free(b->labels);
}

/* Per-layer profile of training steps: time share, GEMM GFLOP/s vs peak. */
static void layer_table(bench_ctx *b, double peak) {
  nn_model *m = &b->m;
  for (int s = 0; s < 2; s++) step(b, 1, (uint64_t)s); /* first touch of the arenas */
  nn_model_profile(m, 1);
  const int steps = 10;
  double t0 = dd_time_now();
  for (int s = 0; s < steps; s++) step(b, 1, (uint64_t)s);
  double total = dd_time_now() - t0;
  printf("  %-13s %8s %8s %9s %9s %7s %7s\n", "layer", "fwd ms", "bwd ms", "fwd GEMM", "bwd GEMM",
         "% peak", "share");
  double gemm_t = 0, gemm_f = 0;
  for (int l = 0; l < m->n_layers; l++) {
    const nn_layer_prof *p = &m->prof[l];
    double gf = p->t_fwd_gemm > 0 ? p->flop_fwd / p->t_fwd_gemm * 1e-9 : 0;
    double gb = p->t_bwd_gemm > 0 ? p->flop_bwd / p->t_bwd_gemm * 1e-9 : 0;
    double all = p->t_fwd_gemm + p->t_bwd_gemm;
    double pct = all > 0 ? (p->flop_fwd + p->flop_bwd) / all * 1e-9 / peak * 100 : 0;
    gemm_t += all;
    gemm_f += p->flop_fwd + p->flop_bwd;
    char sgf[16] = "", sgb[16] = "", spc[16] = "";
    if (gf > 0) snprintf(sgf, sizeof sgf, "%.1f", gf);
    if (gb > 0) snprintf(sgb, sizeof sgb, "%.1f", gb);
    if (pct > 0) snprintf(spc, sizeof spc, "%.0f %%", pct);
    printf("  %-13s %8.2f %8.2f %9s %9s %7s %6.1f%%\n", m->layers[l].name, p->t_fwd / steps * 1e3,
           p->t_bwd / steps * 1e3, sgf, sgb, spc, (p->t_fwd + p->t_bwd) / total * 100);
  }
  printf("  all GEMMs: %.1f GFLOP/s (%.0f %% of peak), %.0f %% of the step time\n",
         gemm_f / gemm_t * 1e-9, gemm_f / gemm_t * 1e-9 / peak * 100, gemm_t / total * 100);
  nn_model_profile(m, 0);
}

/* The architecture as JSON for tools/bench/torch_bench.py. */
static void write_arch_json(FILE *fp, const nn_arch *a) {
  static const char *types[] = {"conv2d",  "conv2d_transpose", "maxpool", "dense", "leaky_relu",
                                "sigmoid", "flatten",          "reshape", "sample"};
  static const char *acts[] = {"none", "leaky_relu", "sigmoid"};
  fprintf(fp, "{\"kind\": \"%s\", \"input\": [%d, %d, %d], \"beta\": %.17g, \"kl\": \"%s\", ",
          a->kind == NN_MODEL_CVAE ? "cvae" : "cnn", a->in_c, a->in_h, a->in_w, a->beta,
          a->kl == NN_KL_PAPER ? "paper" : "standard");
  fprintf(fp, "\"reconstruction\": \"%s\", \"lr\": %.17g, \"betas\": [%.17g, %.17g], ",
          a->rec == NN_REC_MEAN ? "mean" : "sum", a->adam.learning_rate, a->adam.beta1,
          a->adam.beta2);
  fprintf(fp, "\"eps\": %.17g, \"layers\": [", a->adam.epsilon);
  for (int l = 0; l < a->n_layers; l++) {
    const nn_layer_spec *s = &a->layers[l];
    fprintf(fp, "%s{\"type\": \"%s\", \"name\": \"%s\"", l ? ", " : "", types[s->type], s->name);
    switch (s->type) {
      case NN_LAYER_CONV2D:
      case NN_LAYER_CONV2D_T:
        fprintf(fp, ", \"filters\": %d, \"kernel\": %d, \"stride\": %d, \"padding\": \"%s\"",
                s->filters, s->kernel, s->stride, s->padding == NN_PAD_SAME ? "same" : "valid");
        fprintf(fp, ", \"act\": \"%s\", \"alpha\": %.9g", acts[s->act], (double)s->alpha);
        break;
      case NN_LAYER_DENSE:
        fprintf(fp, ", \"units\": %d, \"act\": \"%s\", \"alpha\": %.9g", s->units, acts[s->act],
                (double)s->alpha);
        break;
      case NN_LAYER_MAXPOOL:
        fprintf(fp, ", \"size\": %d, \"stride\": %d", s->kernel, s->stride);
        break;
      case NN_LAYER_LEAKY_RELU:
        fprintf(fp, ", \"alpha\": %.9g", (double)s->alpha);
        break;
      case NN_LAYER_RESHAPE:
        fprintf(fp, ", \"shape\": [%d, %d, %d]", s->shape[0], s->shape[1], s->shape[2]);
        break;
      default:
        break;
    }
    fprintf(fp, "}");
  }
  fprintf(fp, "]}\n");
}

/* Runs the PyTorch twin; fills train/infer images/s.  Returns 0 when torch
 * is unavailable (the reason is printed). */
static int torch_rates(const nn_arch *a, int threads, double *train, double *infer) {
  const char *root = getenv("DDSCAN_ROOT");
  if (!root) root = ".";
  char script[1024];
  snprintf(script, sizeof script, "%s/tools/bench/torch_bench.py", root);
  if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    printf(
        "  PyTorch side skipped: /usr/bin/python3 cannot import torch.\n"
        "  Install Debian's python3-torch with: tools/deps.sh torch   (then rerun make bench)\n");
    return 0;
  }
  char json[256];
  snprintf(json, sizeof json, "/tmp/ddscan-bench-nn-%ld.json", (long)getpid());
  FILE *fp = fopen(json, "w");
  if (!fp) return 0;
  write_arch_json(fp, a);
  fclose(fp);
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "OPENBLAS_NUM_THREADS=%d OMP_NUM_THREADS=%d MKL_NUM_THREADS=%d /usr/bin/python3 %s %s "
           "%d %d %g",
           threads, threads, threads, script, json, BATCH, threads, g_seconds);
  FILE *pp = popen(cmd, "r");
  if (!pp) return 0;
  char line[512];
  int got = 0;
  while (fgets(line, sizeof line, pp)) {
    double v;
    if (sscanf(line, "train %lf", &v) == 1) {
      *train = v;
      got |= 1;
    } else if (sscanf(line, "infer %lf", &v) == 1) {
      *infer = v;
      got |= 2;
    } else {
      printf("  torch: %s", line);
    }
  }
  int rc = pclose(pp);
  remove(json);
  if (rc != 0 || got != 3) {
    printf("  PyTorch side failed (exit %d)\n", rc);
    return 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  dd_log_init(0, 1, DD_LOG_QUIET);
  const char *s = getenv("BENCH_NN_SECONDS");
  if (s && atof(s) > 0) g_seconds = atof(s);
  dd_provenance prov;
  dd_provenance_get(&prov);
#ifdef DD_BLAS_OPENBLAS
  int threads = openblas_get_num_threads();
#else
  int threads = 1; /* another CBLAS (make BLAS=...): its own thread variable decides */
#endif
  printf("nn bench: OpenBLAS kernel %s, %d BLAS thread(s), minibatch %d\n", prov.blas_corename,
         threads, BATCH);
  FILE *la = fopen("/proc/loadavg", "r");
  char load[128] = "?";
  if (la) {
    if (!fgets(load, sizeof load, la)) snprintf(load, sizeof load, "?\n");
    fclose(la);
    printf("load average at start: %s", load);
  }

  char *text = NULL;
  size_t len = 0;
  if (argc > 1 && dd_read_file(argv[1], &text, &len) != DD_OK) {
    dd_error_print(stderr, -1);
    return 1;
  }
  cfg_doc *cfg = NULL;
  nn_params p;
  if (cfg_parse(&cfg, text ? text : "", argc > 1 ? argv[1] : "(defaults)") != DD_OK ||
      nn_params_load(cfg, &p) != DD_OK) {
    dd_error_print(stderr, -1);
    return 1;
  }
  cfg_free(cfg);
  free(text);

  printf("SGEMM peak (same process, same threads):\n");
  double peak = sgemm_peak();
  printf("  peak %.1f GFLOP/s\n", peak);

  const nn_arch *arch[2] = {&p.cvae, &p.cnn};
  double res[2][4];  /* ddscan train, infer, torch train, infer */
  double ceil[2][2]; /* SGEMM-bound images/s: train, infer */
  int have_torch[2] = {0, 0};
  for (int k = 0; k < 2; k++) {
    bench_ctx b;
    memset(&b, 0, sizeof b);
    ctx_init(&b, arch[k]);
    printf("\n%s: %.1f MFLOP/img forward, %.1f MFLOP/img per training step\n", arch[k]->cfg_group,
           nn_model_flops_fwd(&b.m) * 1e-6, nn_model_flops_train(&b.m) * 1e-6);
    layer_table(&b, peak);
    /* ddscan, PyTorch, ddscan again: the best of the two ddscan rounds, so
     * that a burst of load on the shared machine hurts neither side alone */
    double tr1 = rate(&b, 1), in1 = rate(&b, 0);
    have_torch[k] = torch_rates(arch[k], threads, &res[k][2], &res[k][3]);
    double tr2 = rate(&b, 1), in2 = rate(&b, 0);
    res[k][0] = tr1 > tr2 ? tr1 : tr2;
    res[k][1] = in1 > in2 ? in1 : in2;
    printf("  ddscan rounds: train %.1f / %.1f img/s, infer %.1f / %.1f img/s\n", tr1, tr2, in1,
           in2);
    const double ft = nn_model_flops_train(&b.m), ff = nn_model_flops_fwd(&b.m);
    printf(
        "  whole training step: %.1f GFLOP/s = %.0f %% of the SGEMM peak; inference %.1f "
        "GFLOP/s = %.0f %%\n",
        res[k][0] * ft * 1e-9, res[k][0] * ft * 1e-9 / peak * 100, res[k][1] * ff * 1e-9,
        res[k][1] * ff * 1e-9 / peak * 100);
    /* the bound no implementation of these FLOPs can pass on this core */
    printf("  SGEMM-bound ceiling (every FLOP at the peak): train %.0f img/s, infer %.0f img/s\n",
           peak * 1e9 / ft, peak * 1e9 / ff);
    ceil[k][0] = peak * 1e9 / ft;
    ceil[k][1] = peak * 1e9 / ff;
    ctx_free(&b);
  }

  printf("\nside by side (images/s, minibatch %d, %d thread(s), kernel %s):\n", BATCH, threads,
         prov.blas_corename);
  printf("  %-6s %-6s %10s %10s %7s %10s %14s\n", "model", "mode", "ddscan", "pytorch", "ratio",
         "ceiling", "ceiling/torch");
  static const char *names[2] = {"cvae", "cnn"};
  for (int k = 0; k < 2; k++)
    for (int t = 0; t < 2; t++) {
      if (have_torch[k])
        printf("  %-6s %-6s %10.1f %10.1f %6.2fx %10.0f %13.2fx\n", names[k], t ? "infer" : "train",
               res[k][t], res[k][2 + t], res[k][t] / res[k][2 + t], ceil[k][t],
               ceil[k][t] / res[k][2 + t]);
      else
        printf("  %-6s %-6s %10.1f %10s %7s %10.0f %14s\n", names[k], t ? "infer" : "train",
               res[k][t], "-", "-", ceil[k][t], "-");
    }
  printf("  (ceiling: images/s if every GEMM FLOP ran at the SGEMM peak above)\n");
  la = fopen("/proc/loadavg", "r");
  if (la) {
    if (fgets(load, sizeof load, la)) printf("load average at end: %s", load);
    fclose(la);
  }
  return 0;
}
