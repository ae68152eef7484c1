/* params.c - the `nn` config group: nn.cvae and nn.cnn as ordered lists of
 * layer groups with shape inference, and the paper's architectures
 * (arXiv:2110.12248 §3, DESIGN.md §1) as defaults; docs/nn.md explains the
 * shapes chosen where the paper is silent. */
#include "nn_internal.h"

#include <stdio.h>
#include <string.h>

/* The CVAE: Conv2D(128, 3x3, stride 3, LeakyReLU 0.05) x 3 with 2x2 pooling
 * after the first and 1x1 after the second; 75 -> 25 -> 12 -> 4 -> 2 with
 * 'same' padding, flatten 128*2*2 = 512 -> dense 2*256 (the builder adds it)
 * -> sample -> dense 128*5*5 -> reshape -> transposed convs 5 -> 5 -> 25 -> 75
 * ('same': output = input * stride). */
static const char *const k_cvae_encoder =
    "("
    "{ type = \"conv2d\"; filters = 128; kernel = 3; stride = 3; padding = \"same\";"
    "  act = \"leaky_relu\"; alpha = 0.05; },"
    "{ type = \"maxpool\"; size = 2; stride = 2; },"
    "{ type = \"conv2d\"; filters = 128; kernel = 3; stride = 3; padding = \"same\";"
    "  act = \"leaky_relu\"; alpha = 0.05; },"
    "{ type = \"maxpool\"; size = 1; stride = 1; },"
    "{ type = \"conv2d\"; filters = 128; kernel = 3; stride = 3; padding = \"same\";"
    "  act = \"leaky_relu\"; alpha = 0.05; },"
    "{ type = \"flatten\"; }"
    ")";
static const char *const k_cvae_decoder =
    "("
    "{ type = \"dense\"; units = 3200; act = \"leaky_relu\"; alpha = 0.05; },"
    "{ type = \"reshape\"; shape = [128, 5, 5]; },"
    "{ type = \"conv2d_transpose\"; filters = 128; kernel = 3; stride = 1; padding = \"same\";"
    "  act = \"leaky_relu\"; alpha = 0.05; },"
    "{ type = \"conv2d_transpose\"; filters = 128; kernel = 5; stride = 5; padding = \"same\";"
    "  act = \"leaky_relu\"; alpha = 0.05; },"
    "{ type = \"conv2d_transpose\"; filters = 3; kernel = 3; stride = 3; padding = \"same\";"
    "  act = \"sigmoid\"; }"
    ")";
/* The CNN: two conv + max-pool blocks, flatten, one dense logit. */
static const char *const k_cnn_layers =
    "("
    "{ type = \"conv2d\"; filters = 32; kernel = 3; stride = 1; padding = \"same\";"
    "  act = \"leaky_relu\"; alpha = 0.05; },"
    "{ type = \"maxpool\"; size = 2; stride = 2; },"
    "{ type = \"conv2d\"; filters = 32; kernel = 3; stride = 1; padding = \"same\";"
    "  act = \"leaky_relu\"; alpha = 0.05; },"
    "{ type = \"maxpool\"; size = 2; stride = 2; },"
    "{ type = \"flatten\"; },"
    "{ type = \"dense\"; units = 1; act = \"none\"; }"
    ")";

static const char *const k_types[] = {"conv2d",     "conv2d_transpose", "maxpool", "dense",
                                      "leaky_relu", "sigmoid",          "flatten", "reshape"};
static const nn_layer_type k_type_of[] = {NN_LAYER_CONV2D,  NN_LAYER_CONV2D_T,   NN_LAYER_MAXPOOL,
                                          NN_LAYER_DENSE,   NN_LAYER_LEAKY_RELU, NN_LAYER_SIGMOID,
                                          NN_LAYER_FLATTEN, NN_LAYER_RESHAPE};
static const char *const k_short[] = {"conv",  "tconv", "pool",    "dense",
                                      "lrelu", "sigm",  "flatten", "reshape"};
#define N_TYPES ((int)(sizeof k_types / sizeof k_types[0]))

static dd_status get_pos_int(cfg_doc *cfg, const char *path, long long def, int required,
                             int *out) {
  long long v = def;
  if (required)
    DD_TRY(cfg_need_int_range(cfg, path, 1, 1000000, &v), "layer");
  else
    DD_TRY(cfg_get_int_range(cfg, path, def, 1, 1000000, &v), "layer");
  *out = (int)v;
  return DD_OK;
}

static dd_status get_act(cfg_doc *cfg, const char *base, nn_layer_spec *s) {
  static const char *const acts[] = {"none", "leaky_relu", "sigmoid"};
  char path[160];
  int idx = 0;
  snprintf(path, sizeof path, "%s.act", base);
  DD_TRY(cfg_get_choice(cfg, path, "none", acts, 3, &idx), "layer");
  s->act = (nn_act)idx;
  if (s->act == NN_ACT_LEAKY_RELU) {
    double a;
    snprintf(path, sizeof path, "%s.alpha", base);
    DD_TRY(cfg_get_double(cfg, path, 0.05, &a), "layer");
    s->alpha = (float)a;
  }
  return DD_OK;
}

/* One layer group at `base` ("nn.cvae.encoder.[2]"); counts[] numbers the
 * layers of each type for their names ("enc.conv2"). */
static dd_status load_layer(cfg_doc *cfg, const char *base, const char *prefix, int *counts,
                            nn_layer_spec *s) {
  char path[160], type[64];
  memset(s, 0, sizeof *s);
  snprintf(s->cfg_path, sizeof s->cfg_path, "%s", base);
  snprintf(path, sizeof path, "%s.type", base);
  if (!cfg_exists(cfg, path))
    return cfg_error(cfg, base, "expected a layer group { type = \"...\"; ... }");
  DD_TRY(cfg_need_string(cfg, path, type, sizeof type), "layer");
  int t = -1;
  for (int i = 0; i < N_TYPES; i++)
    if (strcmp(type, k_types[i]) == 0) t = i;
  if (t < 0)
    return cfg_error(cfg, path,
                     "unknown layer type \"%s\" (known: conv2d, conv2d_transpose, maxpool, dense, "
                     "leaky_relu, sigmoid, flatten, reshape)",
                     type);
  s->type = k_type_of[t];
  snprintf(s->name, sizeof s->name, "%s%s%d", prefix, k_short[t], ++counts[t]);
  switch (s->type) {
    case NN_LAYER_CONV2D:
    case NN_LAYER_CONV2D_T: {
      static const char *const pads[] = {"valid", "same"};
      int idx = 0;
      snprintf(path, sizeof path, "%s.filters", base);
      DD_TRY(get_pos_int(cfg, path, 0, 1, &s->filters), "layer");
      snprintf(path, sizeof path, "%s.kernel", base);
      DD_TRY(get_pos_int(cfg, path, 3, 0, &s->kernel), "layer");
      snprintf(path, sizeof path, "%s.stride", base);
      DD_TRY(get_pos_int(cfg, path, 1, 0, &s->stride), "layer");
      snprintf(path, sizeof path, "%s.padding", base);
      DD_TRY(cfg_get_choice(cfg, path, "valid", pads, 2, &idx), "layer");
      s->padding = (nn_padding)idx;
      DD_TRY(get_act(cfg, base, s), "layer");
      break;
    }
    case NN_LAYER_MAXPOOL:
      snprintf(path, sizeof path, "%s.size", base);
      DD_TRY(get_pos_int(cfg, path, 2, 0, &s->kernel), "layer");
      snprintf(path, sizeof path, "%s.stride", base);
      DD_TRY(get_pos_int(cfg, path, s->kernel, 0, &s->stride), "layer");
      break;
    case NN_LAYER_DENSE:
      snprintf(path, sizeof path, "%s.units", base);
      DD_TRY(get_pos_int(cfg, path, 0, 1, &s->units), "layer");
      DD_TRY(get_act(cfg, base, s), "layer");
      break;
    case NN_LAYER_LEAKY_RELU: {
      double a;
      snprintf(path, sizeof path, "%s.alpha", base);
      DD_TRY(cfg_get_double(cfg, path, 0.05, &a), "layer");
      s->alpha = (float)a;
      break;
    }
    case NN_LAYER_RESHAPE: {
      double v[3];
      int n = 0;
      snprintf(path, sizeof path, "%s.shape", base);
      DD_TRY(cfg_get_double_list(cfg, path, NULL, 0, v, 3, &n), "layer");
      if (n != 3) return cfg_error(cfg, path, "expected [C, H, W], got %d values", n);
      for (int i = 0; i < 3; i++) {
        if (v[i] != (double)(int)v[i] || v[i] < 1)
          return cfg_error(cfg, path, "expected positive integers [C, H, W]");
        s->shape[i] = (int)v[i];
      }
      break;
    }
    case NN_LAYER_SIGMOID:
    case NN_LAYER_FLATTEN:
    case NN_LAYER_SAMPLE:
      break;
  }
  return DD_OK;
}

static dd_status load_list(cfg_doc *cfg, const char *path, const char *def, const char *prefix,
                           nn_arch *a) {
  DD_TRY(cfg_insert_default(cfg, path, def), "default %s", path);
  int n = cfg_length(cfg, path);
  if (n < 1) return cfg_error(cfg, path, "expected a non-empty list ( { type = ...; }, ... )");
  if (a->n_layers + n > NN_MAX_LAYERS - 2)
    return cfg_error(cfg, path, "%d layers, at most %d in a model", a->n_layers + n,
                     NN_MAX_LAYERS - 2);
  int counts[N_TYPES] = {0};
  for (int i = 0; i < n; i++) {
    char base[128];
    snprintf(base, sizeof base, "%s.[%d]", path, i);
    DD_TRY(load_layer(cfg, base, prefix, counts, &a->layers[a->n_layers]), "%s", path);
    a->n_layers++;
  }
  return DD_OK;
}

static dd_status load_adam(cfg_doc *cfg, const char *g, nn_adam_params *p) {
  char path[96];
  snprintf(path, sizeof path, "%s.adam.learning_rate", g);
  DD_TRY(cfg_get_double(cfg, path, 1e-3, &p->learning_rate), "adam");
  if (!(p->learning_rate > 0)) return cfg_error(cfg, path, "must be > 0");
  snprintf(path, sizeof path, "%s.adam.beta1", g);
  DD_TRY(cfg_get_double(cfg, path, 0.9, &p->beta1), "adam");
  if (!(p->beta1 >= 0 && p->beta1 < 1)) return cfg_error(cfg, path, "must be in [0, 1)");
  snprintf(path, sizeof path, "%s.adam.beta2", g);
  DD_TRY(cfg_get_double(cfg, path, 0.999, &p->beta2), "adam");
  if (!(p->beta2 >= 0 && p->beta2 < 1)) return cfg_error(cfg, path, "must be in [0, 1)");
  snprintf(path, sizeof path, "%s.adam.epsilon", g);
  DD_TRY(cfg_get_double(cfg, path, 1e-7, &p->epsilon), "adam");
  if (!(p->epsilon > 0)) return cfg_error(cfg, path, "must be > 0");
  return DD_OK;
}

static dd_status load_input(cfg_doc *cfg, const char *g, nn_arch *a) {
  static const double def[3] = {3, 75, 75};
  double v[3];
  int n = 0;
  char path[96];
  snprintf(path, sizeof path, "%s.input", g);
  DD_TRY(cfg_get_double_list(cfg, path, def, 3, v, 3, &n), "input");
  if (n != 3) return cfg_error(cfg, path, "expected [C, H, W], got %d values", n);
  for (int i = 0; i < 3; i++)
    if (v[i] != (double)(int)v[i] || v[i] < 1 || v[i] > 100000)
      return cfg_error(cfg, path, "expected positive integers [C, H, W]");
  a->in_c = (int)v[0];
  a->in_h = (int)v[1];
  a->in_w = (int)v[2];
  return DD_OK;
}

/* Shape inference with config locations for the messages. */
static dd_status check_arch(cfg_doc *cfg, const nn_arch *a) {
  nn_layer layers[NN_MAX_LAYERS]; /* scratch */
  return nn_arch_infer(a, layers, cfg);
}

static dd_status load_cvae(cfg_doc *cfg, nn_arch *a) {
  static const char *const kls[] = {"paper", "standard"};
  static const char *const recs[] = {"mean", "sum"};
  const char *g = "nn.cvae";
  memset(a, 0, sizeof *a);
  a->kind = NN_MODEL_CVAE;
  snprintf(a->cfg_group, sizeof a->cfg_group, "%s", g);
  DD_TRY(load_input(cfg, g, a), "%s", g);
  DD_TRY(load_list(cfg, "nn.cvae.encoder", k_cvae_encoder, "enc.", a), "%s", g);
  long long lat;
  DD_TRY(cfg_get_int_range(cfg, "nn.cvae.latent", 256, 1, 100000, &lat), "%s", g);
  a->latent = (int)lat;
  /* dense to 2*latent (means, log-variances), then the reparameterised sample */
  nn_layer_spec *d = &a->layers[a->n_layers++];
  memset(d, 0, sizeof *d);
  d->type = NN_LAYER_DENSE;
  d->units = 2 * a->latent;
  snprintf(d->name, sizeof d->name, "enc.latent");
  snprintf(d->cfg_path, sizeof d->cfg_path, "nn.cvae.latent");
  nn_layer_spec *s = &a->layers[a->n_layers++];
  memset(s, 0, sizeof *s);
  s->type = NN_LAYER_SAMPLE;
  snprintf(s->name, sizeof s->name, "sample");
  snprintf(s->cfg_path, sizeof s->cfg_path, "nn.cvae.latent");
  DD_TRY(load_list(cfg, "nn.cvae.decoder", k_cvae_decoder, "dec.", a), "%s", g);
  DD_TRY(cfg_get_double(cfg, "nn.cvae.beta", 0.5, &a->beta), "%s", g);
  if (!(a->beta >= 0)) return cfg_error(cfg, "nn.cvae.beta", "must be >= 0, got %g", a->beta);
  int idx = 0;
  DD_TRY(cfg_get_choice(cfg, "nn.cvae.kl", "paper", kls, 2, &idx), "%s", g);
  a->kl = (nn_kl_form)idx;
  DD_TRY(cfg_get_choice(cfg, "nn.cvae.reconstruction", "sum", recs, 2, &idx), "%s", g);
  a->rec = (nn_rec_reduction)idx;
  DD_TRY(load_adam(cfg, g, &a->adam), "%s", g);
  DD_TRY(check_arch(cfg, a), "%s", g);
  return DD_OK;
}

static dd_status load_cnn(cfg_doc *cfg, nn_arch *a) {
  const char *g = "nn.cnn";
  memset(a, 0, sizeof *a);
  a->kind = NN_MODEL_CNN;
  snprintf(a->cfg_group, sizeof a->cfg_group, "%s", g);
  DD_TRY(load_input(cfg, g, a), "%s", g);
  DD_TRY(load_list(cfg, "nn.cnn.layers", k_cnn_layers, "", a), "%s", g);
  DD_TRY(load_adam(cfg, g, &a->adam), "%s", g);
  DD_TRY(check_arch(cfg, a), "%s", g);
  return DD_OK;
}

dd_status nn_params_load(cfg_doc *cfg, nn_params *p) {
  memset(p, 0, sizeof *p);
  DD_TRY(load_cvae(cfg, &p->cvae), "loading nn parameters");
  DD_TRY(load_cnn(cfg, &p->cnn), "loading nn parameters");
  return DD_OK;
}

static void print_arch(const nn_arch *a) {
  static const char *const kls[] = {"paper", "standard"};
  static const char *const recs[] = {"mean", "sum"};
  dd_info("%s: input %dx%dx%d, %d layers, adam lr %g (beta1 %g, beta2 %g, eps %g)", a->cfg_group,
          a->in_c, a->in_h, a->in_w, a->n_layers, a->adam.learning_rate, a->adam.beta1,
          a->adam.beta2, a->adam.epsilon);
  if (a->kind == NN_MODEL_CVAE)
    dd_info("%s: latent %d, beta %g, KL form '%s', reconstruction '%s'", a->cfg_group, a->latent,
            a->beta, kls[a->kl], recs[a->rec]);
}

void nn_params_print(const nn_params *p) {
  print_arch(&p->cvae);
  print_arch(&p->cnn);
}
