/* test_nn.c - nn layers and models against independent oracles:
 *  1. every layer's double-precision naive twin (src/nn/ref.c) against
 *     central finite differences in double (gradients of a random
 *     projection of the output, for every parameter and input element);
 *  2. every optimised float kernel (im2col + SGEMM) against that twin on the
 *     same float-rounded inputs: forward, parameter and input gradients
 *     ("naive vs GEMM"), also at the paper's layer shapes;
 *  3. whole CVAE (both KL forms) and CNN losses: finite differences of the
 *     double reference loss, then the float model's gradient against it,
 *     and the data-parallel identity (slices scaled by 1/B_global sum to the
 *     full-batch gradient);
 *  4. config loading (defaults = the paper's shapes; errors name file:line),
 *     noise keys, helpers. */
#define _POSIX_C_SOURCE 200809L
#include "nn_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/core.h"
#include "ddscan/nn.h"

/* ---------------------------------------------------------------- layers */

typedef struct layer_case {
  const char *label;
  nn_layer_spec spec;
  int c, h, w, flat; /* input */
} layer_case;

#define SPEC(...) \
  { __VA_ARGS__ }
static const layer_case k_cases[] = {
    {"conv k3 s3 same (asymmetric W pad) leaky",
     SPEC(.type = NN_LAYER_CONV2D, .filters = 3, .kernel = 3, .stride = 3, .padding = NN_PAD_SAME,
          .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f),
     2, 7, 8, 0},
    {"conv k3 s1 same sigmoid",
     SPEC(.type = NN_LAYER_CONV2D, .filters = 2, .kernel = 3, .stride = 1, .padding = NN_PAD_SAME,
          .act = NN_ACT_SIGMOID),
     3, 5, 5, 0},
    {"conv k2 s2 valid",
     SPEC(.type = NN_LAYER_CONV2D, .filters = 3, .kernel = 2, .stride = 2, .padding = NN_PAD_VALID),
     2, 5, 6, 0},
    {"conv k1 s1 (direct GEMM) leaky",
     SPEC(.type = NN_LAYER_CONV2D, .filters = 2, .kernel = 1, .stride = 1, .act = NN_ACT_LEAKY_RELU,
          .alpha = 0.1f),
     4, 3, 3, 0},
    {"conv k3 s2 same (pad 0/1)",
     SPEC(.type = NN_LAYER_CONV2D, .filters = 2, .kernel = 3, .stride = 2, .padding = NN_PAD_SAME),
     1, 6, 6, 0},
    {"tconv k3 s1 same leaky",
     SPEC(.type = NN_LAYER_CONV2D_T, .filters = 2, .kernel = 3, .stride = 1, .padding = NN_PAD_SAME,
          .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f),
     3, 3, 4, 0},
    {"tconv k2 s2 same sigmoid",
     SPEC(.type = NN_LAYER_CONV2D_T, .filters = 3, .kernel = 2, .stride = 2, .padding = NN_PAD_SAME,
          .act = NN_ACT_SIGMOID),
     2, 3, 3, 0},
    {"tconv k3 s2 same (pad 0/1)",
     SPEC(.type = NN_LAYER_CONV2D_T, .filters = 2, .kernel = 3, .stride = 2,
          .padding = NN_PAD_SAME),
     2, 3, 2, 0},
    {"tconv k2 s3 same (gaps)",
     SPEC(.type = NN_LAYER_CONV2D_T, .filters = 2, .kernel = 2, .stride = 3, .padding = NN_PAD_SAME,
          .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f),
     2, 2, 2, 0},
    {"tconv k3 s2 valid",
     SPEC(.type = NN_LAYER_CONV2D_T, .filters = 2, .kernel = 3, .stride = 2,
          .padding = NN_PAD_VALID),
     2, 2, 3, 0},
    {"tconv k5 s5 same",
     SPEC(.type = NN_LAYER_CONV2D_T, .filters = 2, .kernel = 5, .stride = 5,
          .padding = NN_PAD_SAME),
     3, 2, 2, 0},
    {"maxpool 2/2", SPEC(.type = NN_LAYER_MAXPOOL, .kernel = 2, .stride = 2), 2, 5, 5, 0},
    {"maxpool 2/1", SPEC(.type = NN_LAYER_MAXPOOL, .kernel = 2, .stride = 1), 2, 4, 4, 0},
    {"maxpool 3/2", SPEC(.type = NN_LAYER_MAXPOOL, .kernel = 3, .stride = 2), 1, 7, 7, 0},
    {"maxpool 1/1", SPEC(.type = NN_LAYER_MAXPOOL, .kernel = 1, .stride = 1), 2, 3, 3, 0},
    {"dense leaky",
     SPEC(.type = NN_LAYER_DENSE, .units = 5, .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f), 7, 1, 1,
     1},
    {"dense sigmoid", SPEC(.type = NN_LAYER_DENSE, .units = 3, .act = NN_ACT_SIGMOID), 4, 1, 1, 1},
    {"dense linear", SPEC(.type = NN_LAYER_DENSE, .units = 4), 6, 1, 1, 1},
    {"leaky_relu layer", SPEC(.type = NN_LAYER_LEAKY_RELU, .alpha = 0.2f), 2, 3, 3, 0},
    {"sigmoid layer", SPEC(.type = NN_LAYER_SIGMOID), 6, 1, 1, 1},
    {"flatten", SPEC(.type = NN_LAYER_FLATTEN), 3, 2, 2, 0},
    {"reshape", SPEC(.type = NN_LAYER_RESHAPE, .shape = {3, 2, 2}), 12, 1, 1, 1},
    {"sample", SPEC(.type = NN_LAYER_SAMPLE), 8, 1, 1, 1},
};
#define N_CASES ((int)(sizeof k_cases / sizeof k_cases[0]))

/* A standalone layer: its tensors at the start of a params array. */
typedef struct one_layer {
  nn_layer L;
  size_t n_par, n_in, n_out;
} one_layer;

static void one_layer_build(one_layer *o, const layer_case *c) {
  nn_layer_spec s = c->spec;
  snprintf(s.name, sizeof s.name, "test");
  assert_int_equal(nn_layer_infer(&o->L, &s, c->c, c->h, c->w, c->flat, NULL), DD_OK);
  nn_layer *L = &o->L;
  size_t nw = 0, nb = 0;
  if (L->type == NN_LAYER_CONV2D || L->type == NN_LAYER_CONV2D_T) {
    nw = (size_t)L->in_c * L->out_c * L->kernel * L->kernel;
    nb = (size_t)L->out_c;
  } else if (L->type == NN_LAYER_DENSE) {
    nw = (size_t)L->in_c * L->out_c;
    nb = (size_t)L->out_c;
  }
  L->w_off = 0;
  L->b_off = nw;
  o->n_par = nw + nb;
  o->n_in = (size_t)L->in_c * L->in_h * L->in_w;
  o->n_out = (size_t)L->out_c * L->out_h * L->out_w;
}

/* sum_q r_q * out_q of the reference forward */
static double proj_loss(const nn_layer *L, const double *P, const double *in, const double *eps,
                        const double *r, double *out, int n, size_t n_out) {
  nn_ref_layer_forward(L, P, out, in, eps, n);
  double s = 0.0;
  for (size_t q = 0; q < n_out * n; q++) s += r[q] * out[q];
  return s;
}

/* Central differences of proj_loss with respect to every element of v. */
static double fd_check(const nn_layer *L, double *P, double *in, const double *eps, const double *r,
                       double *out, int n, size_t n_out, double *v, size_t nv,
                       const double *analytic) {
  const double h = 1e-6;
  double scale = 1e-300, err = 0.0;
  for (size_t j = 0; j < nv; j++) {
    double keep = v[j];
    v[j] = keep + h;
    double lp = proj_loss(L, P, in, eps, r, out, n, n_out);
    v[j] = keep - h;
    double lm = proj_loss(L, P, in, eps, r, out, n, n_out);
    v[j] = keep;
    double fd = (lp - lm) / (2 * h);
    if (fabs(analytic[j]) > scale) scale = fabs(analytic[j]);
    if (fabs(fd - analytic[j]) > err) err = fabs(fd - analytic[j]);
  }
  return err / scale;
}

/* 1. Reference backward = finite differences, in double, for every layer. */
static void test_ref_layers_vs_finite_differences(void **state) {
  (void)state;
  const int n = 3;
  double worst = 0.0;
  for (int ci = 0; ci < N_CASES; ci++) {
    one_layer o;
    one_layer_build(&o, &k_cases[ci]);
    const nn_layer *L = &o.L;
    double *P = nn_test_alloc(o.n_par, sizeof *P), *G = nn_test_alloc(o.n_par, sizeof *G);
    double *in = nn_test_alloc(o.n_in * n, sizeof *in), *din = nn_test_alloc(o.n_in * n, 8);
    double *out = nn_test_alloc(o.n_out * n, sizeof *out), *r = nn_test_alloc(o.n_out * n, 8);
    double *eps = nn_test_alloc((size_t)n * L->out_c, sizeof *eps);
    nn_test_fill(P, NULL, o.n_par, -0.5, 0.5, 10 + ci);
    nn_test_fill(in, NULL, o.n_in * n, -1.0, 1.0, 100 + ci);
    nn_test_fill(r, NULL, o.n_out * n, -1.0, 1.0, 200 + ci);
    nn_test_fill_normal(eps, NULL, (size_t)n * L->out_c, 300 + ci);
    nn_ref_layer_forward(L, P, out, in, eps, n);
    nn_ref_layer_backward(L, P, G, din, r, in, out, eps, n);
    double e_in = fd_check(L, P, in, eps, r, out, n, o.n_out, in, o.n_in * n, din);
    double e_par = o.n_par ? fd_check(L, P, in, eps, r, out, n, o.n_out, P, o.n_par, G) : 0.0;
    char what[160];
    snprintf(what, sizeof what, "%s: input gradient vs finite differences", k_cases[ci].label);
    NN_CHECK(what, e_in, 1e-7);
    snprintf(what, sizeof what, "%s: parameter gradient vs finite differences", k_cases[ci].label);
    NN_CHECK(what, e_par, 1e-7);
    if (e_in > worst) worst = e_in;
    if (e_par > worst) worst = e_par;
    free(P), free(G), free(in), free(din), free(out), free(r), free(eps);
  }
  print_message("reference layers vs central differences (double): worst error %.2e\n", worst);
}

/* Float kernels vs the double twin on identical (float-rounded) inputs. */
static double float_vs_ref(const one_layer *o, int n, uint32_t key, const char *label) {
  const nn_layer *L = &o->L;
  double *P = nn_test_alloc(o->n_par, 8), *G = nn_test_alloc(o->n_par, 8);
  double *in = nn_test_alloc(o->n_in * n, 8), *din = nn_test_alloc(o->n_in * n, 8);
  double *out = nn_test_alloc(o->n_out * n, 8), *r = nn_test_alloc(o->n_out * n, 8);
  double *eps = nn_test_alloc((size_t)n * L->out_c, 8);
  float *Pf = nn_test_alloc(o->n_par, 4), *Gf = nn_test_alloc(o->n_par, 4);
  float *inf_ = nn_test_alloc(o->n_in * n, 4), *dinf = nn_test_alloc(o->n_in * n, 4);
  float *outf = nn_test_alloc(o->n_out * n, 4), *rf = nn_test_alloc(o->n_out * n, 4);
  float *epsf = nn_test_alloc((size_t)n * L->out_c, 4);
  float *work = nn_test_alloc(nn_layer_work_floats(L, n), 4);
  nn_test_fill(P, Pf, o->n_par, -0.3, 0.3, key);
  nn_test_fill(in, inf_, o->n_in * n, -1.0, 1.0, key + 1);
  nn_test_fill(r, rf, o->n_out * n, -1.0, 1.0, key + 2);
  nn_test_fill_normal(eps, epsf, (size_t)n * L->out_c, key + 3);
  nn_ref_layer_forward(L, P, out, in, eps, n);
  nn_ref_layer_backward(L, P, G, din, r, in, out, eps, n);
  nn_layer_forward(L, Pf, outf, inf_, epsf, work, n, NULL);
  nn_layer_backward(L, Pf, Gf, dinf, rf, inf_, outf, epsf, work, n, NULL);
  double e_out = nn_test_err_f(outf, out, o->n_out * n);
  double e_in = nn_test_err_f(dinf, din, o->n_in * n);
  double e_w = 0.0, e_b = 0.0;
  if (o->n_par) {
    e_w = nn_test_err_f(Gf, G, L->b_off);
    e_b = nn_test_err_f(Gf + L->b_off, G + L->b_off, o->n_par - L->b_off);
  }
  char what[200];
  /* float with sums of up to a few thousand terms: ~1e-6 of the largest */
  snprintf(what, sizeof what, "%s: forward", label);
  NN_CHECK(what, e_out, 1e-5);
  snprintf(what, sizeof what, "%s: input gradient", label);
  NN_CHECK(what, e_in, 1e-5);
  snprintf(what, sizeof what, "%s: weight gradient", label);
  NN_CHECK(what, e_w, 1e-5);
  snprintf(what, sizeof what, "%s: bias gradient", label);
  NN_CHECK(what, e_b, 1e-5);
  double worst = e_out;
  if (e_in > worst) worst = e_in;
  if (e_w > worst) worst = e_w;
  if (e_b > worst) worst = e_b;
  free(P), free(G), free(in), free(din), free(out), free(r), free(eps);
  free(Pf), free(Gf), free(inf_), free(dinf), free(outf), free(rf), free(epsf), free(work);
  return worst;
}

/* 2. Optimised float kernels (im2col + SGEMM) vs the naive double twins. */
static void test_float_kernels_vs_naive(void **state) {
  (void)state;
  double worst = 0.0;
  for (int ci = 0; ci < N_CASES; ci++) {
    one_layer o;
    one_layer_build(&o, &k_cases[ci]);
    double e = float_vs_ref(&o, 3, 1000 + 10 * (uint32_t)ci, k_cases[ci].label);
    if (e > worst) worst = e;
  }
  print_message("float kernels vs naive double twins: worst error %.2e\n", worst);
}

/* Planes of 64x64 = 4096 GEMM columns per image: one image per chunk, so a
 * batch of 3 runs every chunked path three times (src/nn/conv.c). */
static void test_chunked_kernels_vs_naive(void **state) {
  (void)state;
  static const layer_case big[] = {
      {"chunked conv k3 s1 same (stride-1 block im2col)",
       SPEC(.type = NN_LAYER_CONV2D, .filters = 3, .kernel = 3, .stride = 1, .padding = NN_PAD_SAME,
            .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f),
       2, 64, 64, 0},
      {"chunked conv k2 s2 valid (exact tiling)",
       SPEC(.type = NN_LAYER_CONV2D, .filters = 2, .kernel = 2, .stride = 2), 2, 128, 128, 0},
      {"chunked conv k1 (direct)",
       SPEC(.type = NN_LAYER_CONV2D, .filters = 2, .kernel = 1, .stride = 1, .act = NN_ACT_SIGMOID),
       3, 64, 64, 0},
      {"chunked conv k3 s2 valid",
       SPEC(.type = NN_LAYER_CONV2D, .filters = 2, .kernel = 3, .stride = 2), 1, 130, 130, 0},
      {"chunked tconv k2 s2 same (exact tiling)",
       SPEC(.type = NN_LAYER_CONV2D_T, .filters = 2, .kernel = 2, .stride = 2,
            .padding = NN_PAD_SAME, .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f),
       2, 64, 64, 0},
      {"chunked tconv k3 s1 same",
       SPEC(.type = NN_LAYER_CONV2D_T, .filters = 2, .kernel = 3, .stride = 1,
            .padding = NN_PAD_SAME),
       2, 64, 64, 0},
      {"chunked tconv k3 s2 same",
       SPEC(.type = NN_LAYER_CONV2D_T, .filters = 2, .kernel = 3, .stride = 2,
            .padding = NN_PAD_SAME, .act = NN_ACT_SIGMOID),
       1, 64, 64, 0},
  };
  double worst = 0.0;
  for (int ci = 0; ci < (int)(sizeof big / sizeof big[0]); ci++) {
    one_layer o;
    one_layer_build(&o, &big[ci]);
    double e = float_vs_ref(&o, 3, 3000 + 10 * (uint32_t)ci, big[ci].label);
    if (e > worst) worst = e;
  }
  print_message("chunked float kernels vs naive double twins: worst error %.2e\n", worst);
}

/* The paper's layer shapes (large GEMMs, the BLAS kernel in use). */
static void test_paper_shapes_gemm_vs_naive(void **state) {
  (void)state;
  static const layer_case paper[] = {
      {"CVAE enc.conv1",
       SPEC(.type = NN_LAYER_CONV2D, .filters = 128, .kernel = 3, .stride = 3,
            .padding = NN_PAD_SAME, .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f),
       3, 75, 75, 0},
      {"CVAE enc.conv2",
       SPEC(.type = NN_LAYER_CONV2D, .filters = 128, .kernel = 3, .stride = 3,
            .padding = NN_PAD_SAME, .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f),
       128, 12, 12, 0},
      {"CVAE enc.conv3",
       SPEC(.type = NN_LAYER_CONV2D, .filters = 128, .kernel = 3, .stride = 3,
            .padding = NN_PAD_SAME, .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f),
       128, 4, 4, 0},
      {"CVAE dec.tconv1",
       SPEC(.type = NN_LAYER_CONV2D_T, .filters = 128, .kernel = 3, .stride = 1,
            .padding = NN_PAD_SAME, .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f),
       128, 5, 5, 0},
      {"CVAE dec.tconv2",
       SPEC(.type = NN_LAYER_CONV2D_T, .filters = 128, .kernel = 5, .stride = 5,
            .padding = NN_PAD_SAME, .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f),
       128, 5, 5, 0},
      {"CVAE dec.tconv3",
       SPEC(.type = NN_LAYER_CONV2D_T, .filters = 3, .kernel = 3, .stride = 3,
            .padding = NN_PAD_SAME, .act = NN_ACT_SIGMOID),
       128, 25, 25, 0},
      {"CNN conv1",
       SPEC(.type = NN_LAYER_CONV2D, .filters = 32, .kernel = 3, .stride = 1,
            .padding = NN_PAD_SAME, .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f),
       3, 75, 75, 0},
      {"CNN conv2",
       SPEC(.type = NN_LAYER_CONV2D, .filters = 32, .kernel = 3, .stride = 1,
            .padding = NN_PAD_SAME, .act = NN_ACT_LEAKY_RELU, .alpha = 0.05f),
       32, 37, 37, 0},
      {"CVAE enc.latent", SPEC(.type = NN_LAYER_DENSE, .units = 512), 512, 1, 1, 1},
  };
  double worst = 0.0;
  for (int ci = 0; ci < (int)(sizeof paper / sizeof paper[0]); ci++) {
    one_layer o;
    one_layer_build(&o, &paper[ci]);
    double e = float_vs_ref(&o, 2, 5000 + 10 * (uint32_t)ci, paper[ci].label);
    if (e > worst) worst = e;
  }
  dd_provenance prov;
  dd_provenance_get(&prov);
  print_message("paper shapes, GEMM (OpenBLAS kernel %s) vs naive: worst error %.2e\n",
                prov.blas_corename, worst);
  assert_string_equal(nn_blas_core(), prov.blas_corename);
}

/* ---------------------------------------------------------------- models */

static const char *k_small_cvae =
    "nn = { cvae = {\n"
    "  input = [2, 12, 12];\n"
    "  encoder = (\n"
    "    { type = \"conv2d\"; filters = 4; kernel = 3; stride = 3; padding = \"same\";"
    "      act = \"leaky_relu\"; alpha = 0.05; },\n"
    "    { type = \"maxpool\"; size = 2; stride = 2; },\n"
    "    { type = \"maxpool\"; size = 1; stride = 1; },\n"
    "    { type = \"conv2d\"; filters = 5; kernel = 2; stride = 1; padding = \"same\";"
    "      act = \"leaky_relu\"; alpha = 0.1; },\n"
    "    { type = \"flatten\"; }\n"
    "  );\n"
    "  latent = 3;\n"
    "  decoder = (\n"
    "    { type = \"dense\"; units = 36; act = \"leaky_relu\"; alpha = 0.05; },\n"
    "    { type = \"reshape\"; shape = [4, 3, 3]; },\n"
    "    { type = \"conv2d_transpose\"; filters = 3; kernel = 2; stride = 2; padding = \"same\";"
    "      act = \"leaky_relu\"; alpha = 0.05; },\n"
    "    { type = \"conv2d_transpose\"; filters = 2; kernel = 3; stride = 2; padding = \"same\";"
    "      act = \"sigmoid\"; }\n"
    "  );\n"
    "  beta = 0.5; kl = \"%s\"; reconstruction = \"%s\";\n"
    "}; };\n";

static const char *k_small_cnn =
    "nn = { cnn = {\n"
    "  input = [2, 12, 12];\n"
    "  layers = (\n"
    "    { type = \"conv2d\"; filters = 3; kernel = 3; stride = 1; padding = \"same\";"
    "      act = \"leaky_relu\"; alpha = 0.05; },\n"
    "    { type = \"maxpool\"; size = 2; stride = 2; },\n"
    "    { type = \"conv2d\"; filters = 4; kernel = 3; stride = 2; padding = \"valid\"; },\n"
    "    { type = \"leaky_relu\"; alpha = 0.2; },\n"
    "    { type = \"flatten\"; },\n"
    "    { type = \"dense\"; units = 5; act = \"sigmoid\"; },\n"
    "    { type = \"dense\"; units = 1; act = \"none\"; }\n"
    "  );\n"
    "}; };\n";

/* Whole loss: FD of the double reference loss; float model vs reference. */
static void check_model(const nn_arch *arch, const char *label) {
  const int n = 3, b_global = 5;
  nn_model m;
  assert_int_equal(nn_model_init(&m, arch, n, 7, 0), DD_OK);
  const size_t nx = (size_t)arch->in_c * arch->in_h * arch->in_w * n;
  double *x = nn_test_alloc(nx, 8), *eps = NULL, *lab = NULL;
  float *xf = nn_test_alloc(nx, 4), *epsf = NULL, *labf = NULL;
  nn_test_fill(x, xf, nx, 0.0, 1.0, 77);
  nn_noise nz = {0};
  if (arch->kind == NN_MODEL_CVAE) {
    eps = nn_test_alloc((size_t)n * arch->latent, 8);
    epsf = nn_test_alloc((size_t)n * arch->latent, 4);
    nn_test_fill_normal(eps, epsf, (size_t)n * arch->latent, 78);
    nz.eps = epsf;
  } else {
    lab = nn_test_alloc(n, 8);
    labf = nn_test_alloc(n, 4);
    for (int i = 0; i < n; i++) lab[i] = labf[i] = (float)(i % 2);
  }
  /* larger weights than Glorot so that every activation regime is used */
  for (int t = 0; t < m.n_tensors; t++) {
    nn_tensor *T = &m.tensors[t];
    nn_test_fill(NULL, m.params + T->offset, T->size, -0.6, 0.6, 400 + (uint32_t)t);
  }
  double *P = nn_test_params_d(&m), *G = nn_test_alloc(m.n_params, 8);
  double *per = nn_test_alloc(n, 8), loss = 0.0;
  assert_int_equal(nn_ref_model_loss(&m, P, x, lab, eps, n, b_global, &loss, G, per), DD_OK);

  /* (a) reference gradient vs central differences of the reference loss
   * (h = 1e-5: truncation ~h^2, rounding ~1e-16 |loss| / h) */
  const double h = 1e-5;
  double worst_fd = 0.0;
  for (int t = 0; t < m.n_tensors; t++) {
    const nn_tensor *T = &m.tensors[t];
    double scale = 1e-300, err = 0.0;
    for (size_t e = 0; e < T->size; e++) {
      size_t j = T->offset + e;
      double keep = P[j], lp, lm;
      P[j] = keep + h;
      assert_int_equal(nn_ref_model_loss(&m, P, x, lab, eps, n, b_global, &lp, NULL, NULL), DD_OK);
      P[j] = keep - h;
      assert_int_equal(nn_ref_model_loss(&m, P, x, lab, eps, n, b_global, &lm, NULL, NULL), DD_OK);
      P[j] = keep;
      double fd = (lp - lm) / (2 * h);
      if (fabs(G[j]) > scale) scale = fabs(G[j]);
      if (fabs(fd - G[j]) > err) err = fabs(fd - G[j]);
    }
    char what[160];
    snprintf(what, sizeof what, "%s: whole-loss gradient of %s vs finite differences", label,
             T->name);
    NN_CHECK(what, err / scale, 1e-6);
    if (err / scale > worst_fd) worst_fd = err / scale;
  }

  /* (b) the float model: per-sample losses and every gradient */
  nn_batch_loss bl;
  nn_model_zero_grad(&m);
  assert_int_equal(nn_model_forward(&m, xf, labf, n, arch->kind == NN_MODEL_CVAE ? &nz : NULL, &bl),
                   DD_OK);
  nn_model_backward(&m, b_global);
  double e_loss = nn_test_err_d(m.loss, per, n);
  NN_CHECK("per-sample losses, float model vs reference", e_loss, 1e-5);
  assert_near("batch loss", bl.loss / b_global, loss, 0, 1e-5);
  double worst = 0.0;
  for (int t = 0; t < m.n_tensors; t++) {
    const nn_tensor *T = &m.tensors[t];
    double e = nn_test_err_f(m.grads + T->offset, G + T->offset, T->size);
    char what[160];
    snprintf(what, sizeof what, "%s: float gradient of %s vs reference", label, T->name);
    NN_CHECK(what, e, 2e-5);
    if (e > worst) worst = e;
  }
  print_message("%s: reference vs FD %.2e, float vs reference %.2e (losses %.2e)\n", label,
                worst_fd, worst, e_loss);
  nn_model_free(&m);
  free(x), free(xf), free(eps), free(epsf), free(lab), free(labf), free(P), free(G), free(per);
}

static void test_whole_losses(void **state) {
  (void)state;
  nn_params p;
  char text[4096];
  static const char *const forms[][2] = {{"paper", "mean"}, {"standard", "sum"}};
  for (int f = 0; f < 2; f++) {
    snprintf(text, sizeof text, k_small_cvae, forms[f][0], forms[f][1]);
    if (nn_test_load(text, &p) != DD_OK) fail_msg("%s", dd_error_chain());
    char label[64];
    snprintf(label, sizeof label, "CVAE (KL %s, rec %s)", forms[f][0], forms[f][1]);
    check_model(&p.cvae, label);
  }
  if (nn_test_load(k_small_cnn, &p) != DD_OK) fail_msg("%s", dd_error_chain());
  check_model(&p.cnn, "CNN");
}

/* Slices of a global batch, each scaled by 1/B_global, sum to the gradient
 * of the whole batch: what the trainer's single allreduce relies on. */
static void test_data_parallel_slices(void **state) {
  (void)state;
  nn_params p;
  char text[4096];
  snprintf(text, sizeof text, k_small_cvae, "paper", "mean");
  assert_int_equal(nn_test_load(text, &p), DD_OK);
  const int B = 5;
  nn_model m;
  assert_int_equal(nn_model_init(&m, &p.cvae, B, 3, 0), DD_OK);
  const size_t per = (size_t)2 * 12 * 12;
  float *x = nn_test_alloc(per * B, 4), *full = nn_test_alloc(m.n_params, 4);
  nn_test_fill(NULL, x, per * B, 0, 1, 5);
  uint32_t idx[5] = {10, 11, 12, 13, 14};
  nn_noise nz = {.seed = 3, .stream = DD_STREAM_VAE_EPS, .a = 1, .b = idx};
  nn_batch_loss all, s1, s2;
  nn_model_zero_grad(&m);
  assert_int_equal(nn_model_forward(&m, x, NULL, B, &nz, &all), DD_OK);
  nn_model_backward(&m, B);
  memcpy(full, m.grads, sizeof *full * m.n_params);
  nn_model_zero_grad(&m);
  assert_int_equal(nn_model_forward(&m, x, NULL, 2, &nz, &s1), DD_OK);
  nn_model_backward(&m, B);
  nn_noise nz2 = nz;
  nz2.b = idx + 2;
  assert_int_equal(nn_model_forward(&m, x + 2 * per, NULL, 3, &nz2, &s2), DD_OK);
  nn_model_backward(&m, B);
  assert_near("loss of the slices", s1.loss + s2.loss, all.loss, 0, 1e-6);
  double *fd = nn_test_alloc(m.n_params, 8);
  for (size_t i = 0; i < m.n_params; i++) fd[i] = full[i];
  NN_CHECK("sum of slice gradients vs full-batch gradient", nn_test_err_f(m.grads, fd, m.n_params),
           1e-5);
  nn_model_free(&m);
  free(x), free(full), free(fd);
}

/* ---------------------------------------------------------------- config */

static void test_default_architectures(void **state) {
  (void)state;
  nn_params p;
  cfg_doc *d = NULL;
  assert_int_equal(cfg_parse(&d, "", "empty.cfg"), DD_OK);
  assert_int_equal(nn_params_load(d, &p), DD_OK);
  /* the default lists are in the resolved config, recorded as defaults */
  assert_int_equal(cfg_length(d, "nn.cvae.encoder"), 6);
  assert_int_equal(cfg_length(d, "nn.cnn.layers"), 6);
  assert_non_null(strstr(cfg_defaulted_keys(d, NULL), "nn.cvae.decoder\n"));
  assert_int_equal(cfg_check_unused(d), DD_OK);
  char *text = NULL;
  assert_int_equal(cfg_resolved_text(d, &text), DD_OK);
  assert_non_null(strstr(text, "conv2d_transpose"));
  free(text);
  cfg_free(d);
  nn_model m;
  assert_int_equal(nn_model_init(&m, &p.cvae, 2, 1, 0), DD_OK);
  /* Keras shapes (docs/nn.md): 75 -s3-> 25 -pool2-> 12 -s3-> 4 -pool1-> 4 -s3 same-> 2 */
  static const struct {
    const char *name;
    int c, h, w;
  } want[] = {{"enc.conv1", 128, 25, 25},  {"enc.pool1", 128, 12, 12}, {"enc.conv2", 128, 4, 4},
              {"enc.pool2", 128, 4, 4},    {"enc.conv3", 128, 2, 2},   {"enc.flatten1", 512, 1, 1},
              {"enc.latent", 512, 1, 1},   {"sample", 256, 1, 1},      {"dec.dense1", 3200, 1, 1},
              {"dec.reshape1", 128, 5, 5}, {"dec.tconv1", 128, 5, 5},  {"dec.tconv2", 128, 25, 25},
              {"dec.tconv3", 3, 75, 75}};
  assert_int_equal(m.n_layers, (int)(sizeof want / sizeof want[0]));
  for (int l = 0; l < m.n_layers; l++) {
    assert_string_equal(m.layers[l].name, want[l].name);
    assert_int_equal(m.layers[l].out_c, want[l].c);
    assert_int_equal(m.layers[l].out_h, want[l].h);
    assert_int_equal(m.layers[l].out_w, want[l].w);
  }
  /* conv3 on 4x4 with 'same': total padding (2-1)*3 + 3 - 4 = 2, 1 before */
  assert_int_equal(m.layers[4].pad_h, 1);
  assert_int_equal(p.cvae.latent, 256);
  assert_true(p.cvae.beta == 0.5 && p.cvae.kl == NN_KL_PAPER);
  int t = nn_model_find_tensor(&m, "dec.tconv2.w");
  assert_true(t >= 0);
  assert_int_equal(m.tensors[t].shape[0], 128); /* (Ci, Co, k, k) */
  assert_int_equal(m.tensors[t].shape[2], 5);
  for (int i = 0; i < m.n_tensors; i++) assert_int_equal(m.tensors[i].offset % NN_ALIGN, 0);
  nn_model_free(&m);
  assert_int_equal(nn_model_init(&m, &p.cnn, 2, 1, 0), DD_OK);
  assert_int_equal(m.layers[m.n_layers - 2].out_c, 32 * 18 * 18);
  assert_int_equal(m.layers[m.n_layers - 1].out_c, 1);
  nn_model_free(&m);
}

static void expect_config_error(const char *text, const char *needle1, const char *needle2) {
  nn_params p;
  dd_error_clear();
  dd_status st = nn_test_load(text, &p);
  if (st == DD_OK) fail_msg("config accepted, expected an error with '%s'", needle1);
  assert_int_equal(st, DD_ERR_CONFIG);
  assert_error_contains(needle1);
  if (needle2) assert_error_contains(needle2);
  dd_error_clear();
}

static void test_config_errors(void **state) {
  (void)state;
  expect_config_error(
      "nn = { cnn = { layers = (\n"
      "  { type = \"conv3d\"; filters = 2; },\n"
      "  { type = \"dense\"; units = 1; } ); }; };\n",
      "test.cfg:2", "unknown layer type \"conv3d\"");
  expect_config_error(
      "nn = { cnn = { layers = (\n"
      "  { type = \"conv2d\"; filters = 2; dilation = 2; },\n"
      "  { type = \"flatten\"; },\n"
      "  { type = \"dense\"; units = 1; } ); }; };\n",
      "test.cfg:2", "nn.cnn.layers.[0].dilation");
  expect_config_error(
      "nn = { cnn = { layers = (\n"
      "  { type = \"conv2d\"; filters = 2; },\n"
      "  { type = \"dense\"; units = 1; } ); }; };\n",
      "test.cfg:3", "add a flatten");
  expect_config_error(
      "nn = { cnn = { layers = (\n"
      "  { type = \"conv2d\"; filters = 2.5; },\n"
      "  { type = \"flatten\"; },\n"
      "  { type = \"dense\"; units = 1; } ); }; };\n",
      "test.cfg:2", "expected an integer");
  expect_config_error(
      "nn = { cnn = { layers = (\n"
      "  { type = \"flatten\"; },\n"
      "  { type = \"dense\"; units = 2; } ); }; };\n",
      "test.cfg:3", "1 unit");
  expect_config_error(
      "nn = { cnn = { input = [3, 8, 8]; layers = (\n"
      "  { type = \"conv2d\"; filters = 2; kernel = 9; },\n"
      "  { type = \"flatten\"; },\n"
      "  { type = \"dense\"; units = 1; } ); }; };\n",
      "test.cfg:2", "does not fit");
  expect_config_error("nn = { cvae = { input = [3, 72, 72]; }; };\n", "must reproduce the input",
                      NULL);
  expect_config_error(
      "nn = { cvae = { decoder = (\n"
      "  { type = \"dense\"; units = 100; },\n"
      "  { type = \"reshape\"; shape = [3, 75, 75]; } ); }; };\n",
      "test.cfg:3", "holds 16875 values");
  expect_config_error("nn = { cvae = { kl = \"half\"; }; };\n", "test.cfg:1", "\"paper\"");
}

/* ---------------------------------------------------------------- noise */

static void test_noise_keys(void **state) {
  (void)state;
  nn_params p;
  char text[4096];
  snprintf(text, sizeof text, k_small_cvae, "paper", "mean");
  assert_int_equal(nn_test_load(text, &p), DD_OK);
  nn_model m;
  assert_int_equal(nn_model_init(&m, &p.cvae, 3, 1, 0), DD_OK);
  const nn_layer *S = &m.layers[m.sample_layer];
  const int lat = S->out_c;
  float x[3 * 2 * 12 * 12];
  nn_test_fill(NULL, x, sizeof x / sizeof x[0], 0, 1, 9);
  uint32_t b[3] = {7, 3, 9};
  nn_noise nz = {.seed = 42, .stream = DD_STREAM_VAE_EPS, .a = 2, .b = b};
  assert_int_equal(nn_model_forward(&m, x, NULL, 3, &nz, NULL), DD_OK);
  float eps3[3 * 3];
  memcpy(eps3, m.act + S->aux_off, sizeof(float) * 3 * (size_t)lat);
  for (int i = 0; i < 3; i++) {
    dd_rng r = dd_rng_for(42, DD_STREAM_VAE_EPS, 2, b[i], 0);
    for (int j = 0; j < lat; j++) assert_true(eps3[i * lat + j] == (float)dd_rng_normal(&r));
  }
  /* the same key in another batch composition gives the same noise */
  nz.b = b + 1;
  assert_int_equal(nn_model_forward(&m, x + 2 * 12 * 12, NULL, 1, &nz, NULL), DD_OK);
  assert_memory_equal(m.act + S->aux_off, eps3 + lat, sizeof(float) * (size_t)lat);
  /* another stream (scoring) differs */
  nz.stream = DD_STREAM_SCORE_EPS;
  assert_int_equal(nn_model_forward(&m, x + 2 * 12 * 12, NULL, 1, &nz, NULL), DD_OK);
  assert_true(memcmp(m.act + S->aux_off, eps3 + lat, sizeof(float) * (size_t)lat) != 0);
  /* mean_only: z = mu */
  nn_noise mean = {.mean_only = 1};
  assert_int_equal(nn_model_forward(&m, x, NULL, 3, &mean, NULL), DD_OK);
  for (int i = 0; i < 3 * lat; i++) assert_true(m.act[S->aux_off + (size_t)i] == 0.0f);
  /* missing keys are an argument error */
  nn_noise none = {0};
  assert_int_equal(nn_model_forward(&m, x, NULL, 3, &none, NULL), DD_ERR_ARG);
  assert_int_equal(nn_model_forward(&m, x, NULL, 4, &nz, NULL), DD_ERR_ARG);
  dd_error_clear();
  nn_model_free(&m);
}

/* Weights: Glorot-uniform bounds, zero biases, a pure function of the seed. */
static void test_init(void **state) {
  (void)state;
  nn_params p;
  cfg_doc *d = NULL;
  assert_int_equal(cfg_parse(&d, "", "empty.cfg"), DD_OK);
  assert_int_equal(nn_params_load(d, &p), DD_OK);
  cfg_free(d);
  nn_model a, b;
  assert_int_equal(nn_model_init(&a, &p.cnn, 1, 5, 0), DD_OK);
  assert_int_equal(nn_model_init(&b, &p.cnn, 4, 5, 0), DD_OK);
  assert_memory_equal(a.params, b.params, sizeof(float) * a.n_params);
  for (int t = 0; t < a.n_tensors; t++) {
    const nn_tensor *T = &a.tensors[t];
    double lim = sqrt(6.0 / (T->fan_in + T->fan_out)), s2 = 0.0;
    for (size_t e = 0; e < T->size; e++) {
      float v = a.params[T->offset + e];
      if (T->is_bias)
        assert_true(v == 0.0f);
      else
        assert_true(fabs(v) <= lim);
      s2 += (double)v * v;
    }
    if (!T->is_bias && T->size > 1000) /* variance of U(-l, l) is l^2/3 */
      assert_near(T->name, s2 / T->size, lim * lim / 3, 0, 0.1);
  }
  nn_model_init_weights(&b, 6);
  assert_true(memcmp(a.params, b.params, sizeof(float) * a.n_params) != 0);
  nn_model_free(&a);
  nn_model_free(&b);
}

/* ---------------------------------------------------------------- helpers */

static void test_softplus_bce(void **state) {
  (void)state;
  assert_near("softplus(0)", nn_softplus(0.0), log(2.0), 0, 1e-15);
  assert_near("softplus(1000)", nn_softplus(1000.0), 1000.0, 0, 1e-15);
  assert_true(nn_softplus(-1000.0) >= 0.0 && nn_softplus(-1000.0) < 1e-300);
  assert_near("softplus(-30)", nn_softplus(-30.0), exp(-30.0), 0, 1e-12);
  for (double x = -8; x <= 8; x += 0.5)
    for (int y = 0; y <= 1; y++) {
      double s = 1.0 / (1.0 + exp(-x));
      double naive = -(y * log(s) + (1 - y) * log(1 - s));
      assert_near("bce", nn_bce_logit(x, y), naive, 1e-12, 1e-10);
    }
  assert_true(isfinite(nn_bce_logit(-800.0, 1.0)) && isfinite(nn_bce_logit(800.0, 0.0)));
}

static void test_nhwc_to_nchw(void **state) {
  (void)state;
  float in[2 * 3 * 4 * 5], out[2 * 3 * 4 * 5];
  for (int i = 0; i < 2 * 3 * 4 * 5; i++) in[i] = (float)i;
  nn_image_nhwc_to_nchw(out, in, 2, 3, 4, 5);
  for (int n = 0; n < 2; n++)
    for (int h = 0; h < 3; h++)
      for (int w = 0; w < 4; w++)
        for (int c = 0; c < 5; c++)
          assert_true(out[((n * 5 + c) * 3 + h) * 4 + w] == in[((n * 3 + h) * 4 + w) * 5 + c]);
}

static void test_export_and_table(void **state) {
  (void)state;
  nn_params p;
  cfg_doc *d = NULL;
  assert_int_equal(cfg_parse(&d, "", "empty.cfg"), DD_OK);
  assert_int_equal(nn_params_load(d, &p), DD_OK);
  cfg_free(d);
  nn_model m;
  assert_int_equal(nn_model_init(&m, &p.cvae, 1, 1, 0), DD_OK);
  nn_export_tensor ex[NN_MAX_TENSORS];
  int n = nn_model_export(&m, ex, NN_MAX_TENSORS);
  assert_int_equal(n, m.n_tensors);
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    assert_string_equal(ex[i].name, m.tensors[i].name);
    assert_ptr_equal(ex[i].data, m.params + m.tensors[i].offset);
    size_t c = 1;
    for (int k = 0; k < ex[i].ndim; k++) c *= (size_t)ex[i].shape[k];
    assert_int_equal(c, ex[i].count);
    total += c;
  }
  assert_int_equal(total, m.n_weights);
  /* the table lists every layer and the totals */
  char *buf = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&buf, &len);
  assert_non_null(fp);
  nn_model_print_table(&m, fp);
  fclose(fp);
  for (int l = 0; l < m.n_layers; l++) assert_non_null(strstr(buf, m.layers[l].name));
  assert_non_null(strstr(buf, "parameters in 16 tensors"));
  fputs(buf, stdout);
  free(buf);
  /* another architecture has another tensor-table hash */
  nn_model c;
  assert_int_equal(nn_model_init(&c, &p.cnn, 1, 1, 0), DD_OK);
  assert_true(c.table_hash != m.table_hash);
  nn_model_free(&c);
  nn_model_free(&m);
}

int main(void) {
  dd_log_init(0, 1, DD_LOG_QUIET);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ref_layers_vs_finite_differences),
      cmocka_unit_test(test_float_kernels_vs_naive),
      cmocka_unit_test(test_chunked_kernels_vs_naive),
      cmocka_unit_test(test_paper_shapes_gemm_vs_naive),
      cmocka_unit_test(test_whole_losses),
      cmocka_unit_test(test_data_parallel_slices),
      cmocka_unit_test(test_default_architectures),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_noise_keys),
      cmocka_unit_test(test_init),
      cmocka_unit_test(test_softplus_bce),
      cmocka_unit_test(test_nhwc_to_nchw),
      cmocka_unit_test(test_export_and_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
