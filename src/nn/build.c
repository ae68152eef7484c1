/* build.c - shape inference, the tensor table, the single allocations of a
 * model (four flat parameter buffers, activation arena, activation-gradient
 * arena, workspace), Glorot initialisation from the counter-based RNG, and
 * the per-layer table printed at build. */
#include "nn_internal.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ inference */

/* A layer error: with the config, "file:line: path: msg"; without, the
 * layer's name. */
static dd_status layer_error(const cfg_doc *cfg, const nn_layer_spec *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static dd_status layer_error(const cfg_doc *cfg, const nn_layer_spec *s, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (cfg && s->cfg_path[0]) return cfg_error(cfg, s->cfg_path, "layer '%s': %s", s->name, msg);
  return DD_FAIL(DD_ERR_CONFIG, "layer '%s': %s", s->name, msg);
}

static const char *type_word(nn_layer_type t) {
  switch (t) {
    case NN_LAYER_CONV2D:
      return "conv2d";
    case NN_LAYER_CONV2D_T:
      return "conv2d_transpose";
    case NN_LAYER_MAXPOOL:
      return "maxpool";
    case NN_LAYER_DENSE:
      return "dense";
    case NN_LAYER_LEAKY_RELU:
      return "leaky_relu";
    case NN_LAYER_SIGMOID:
      return "sigmoid";
    case NN_LAYER_FLATTEN:
      return "flatten";
    case NN_LAYER_RESHAPE:
      return "reshape";
    case NN_LAYER_SAMPLE:
      return "sample";
  }
  return "?";
}

/* Keras output size and padding before, for one spatial dimension. */
static int conv_geom(int in, int k, int s, nn_padding pad, int *before) {
  if (pad == NN_PAD_SAME) {
    int out = (in + s - 1) / s;
    int total = (out - 1) * s + k - in;
    if (total < 0) total = 0;
    *before = total / 2;
    return out;
  }
  *before = 0;
  return in < k ? 0 : (in - k) / s + 1;
}

dd_status nn_layer_infer(nn_layer *L, const nn_layer_spec *s, int in_c, int in_h, int in_w,
                         int in_flat, const cfg_doc *cfg) {
  memset(L, 0, sizeof *L);
  L->type = s->type;
  snprintf(L->name, sizeof L->name, "%s", s->name);
  L->in_c = in_c;
  L->in_h = in_flat ? 1 : in_h;
  L->in_w = in_flat ? 1 : in_w;
  L->in_flat = in_flat;
  L->w_tensor = L->b_tensor = -1;
  L->act = NN_ACT_NONE;
  L->alpha = s->alpha;
  const int spatial_in = s->type == NN_LAYER_CONV2D || s->type == NN_LAYER_CONV2D_T ||
                         s->type == NN_LAYER_MAXPOOL || s->type == NN_LAYER_FLATTEN;
  const int flat_in =
      s->type == NN_LAYER_DENSE || s->type == NN_LAYER_RESHAPE || s->type == NN_LAYER_SAMPLE;
  if (spatial_in && in_flat)
    return layer_error(cfg, s, "%s needs a (C,H,W) input but gets %d features (add a reshape)",
                       type_word(s->type), in_c);
  if (flat_in && !in_flat)
    return layer_error(cfg, s, "%s needs a flat input but gets (%d,%d,%d) (add a flatten)",
                       type_word(s->type), in_c, in_h, in_w);
  if ((s->act == NN_ACT_LEAKY_RELU || s->type == NN_LAYER_LEAKY_RELU) &&
      !(s->alpha >= 0.0f && s->alpha < 1.0f))
    return layer_error(cfg, s, "alpha must be in [0, 1), got %g", (double)s->alpha);
  switch (s->type) {
    case NN_LAYER_CONV2D:
    case NN_LAYER_CONV2D_T: {
      if (s->filters < 1) return layer_error(cfg, s, "filters must be >= 1");
      if (s->kernel < 1 || s->stride < 1)
        return layer_error(cfg, s, "kernel and stride must be >= 1");
      const int k = s->kernel, st = s->stride;
      L->kernel = k;
      L->stride = st;
      L->act = s->act;
      L->out_c = s->filters;
      if (s->type == NN_LAYER_CONV2D) {
        L->out_h = conv_geom(in_h, k, st, s->padding, &L->pad_h);
        L->out_w = conv_geom(in_w, k, st, s->padding, &L->pad_w);
        if (L->out_h < 1 || L->out_w < 1)
          return layer_error(cfg, s, "kernel %d does not fit the %dx%d input ('valid')", k, in_h,
                             in_w);
        double K = (double)in_c * k * k;
        L->flops_fwd = 2.0 * L->out_c * K * L->out_h * L->out_w;
      } else {
        /* Keras/TF conv2d_transpose: 'same' gives in*stride with
         * max(k - s, 0) padding split as in the convolution it inverts;
         * 'valid' gives (in-1)*stride + k. */
        const long long oh =
            s->padding == NN_PAD_SAME ? (long long)in_h * st : (long long)(in_h - 1) * st + k;
        const long long ow =
            s->padding == NN_PAD_SAME ? (long long)in_w * st : (long long)(in_w - 1) * st + k;
        if (oh > INT_MAX || ow > INT_MAX)
          return layer_error(cfg, s, "the output (%lld x %lld) is too large", oh, ow);
        L->out_h = (int)oh;
        L->out_w = (int)ow;
        if (s->padding == NN_PAD_SAME) {
          int total = k - st > 0 ? k - st : 0;
          L->pad_h = L->pad_w = total / 2;
        }
        double Kc = (double)L->out_c * k * k;
        L->flops_fwd = 2.0 * in_c * Kc * in_h * in_w;
      }
      L->flops_bwd = 2.0 * L->flops_fwd;
      /* the kernels index one sample and one filter with int (found by
       * fuzzing the configuration: 10^6 filters, then a 75x75 kernel) */
      const long long per_filter = (long long)(in_c > L->out_c ? in_c : L->out_c) * k * k;
      const long long per_sample = (long long)L->out_c * L->out_h * L->out_w;
      if (per_filter > INT_MAX || per_sample > INT_MAX)
        return layer_error(cfg, s,
                           "too large: a fan of %lld weights per output or input channel and %lld "
                           "outputs per sample (at most %d each)",
                           per_filter, per_sample, INT_MAX);
      break;
    }
    case NN_LAYER_MAXPOOL: {
      if (s->kernel < 1 || s->stride < 1)
        return layer_error(cfg, s, "size and stride must be >= 1");
      if (in_h < s->kernel || in_w < s->kernel)
        return layer_error(cfg, s, "pool size %d does not fit the %dx%d input", s->kernel, in_h,
                           in_w);
      L->kernel = s->kernel;
      L->stride = s->stride;
      L->out_c = in_c;
      L->out_h = (in_h - s->kernel) / s->stride + 1;
      L->out_w = (in_w - s->kernel) / s->stride + 1;
      break;
    }
    case NN_LAYER_DENSE:
      if (s->units < 1) return layer_error(cfg, s, "units must be >= 1");
      L->act = s->act;
      L->out_c = s->units;
      L->out_h = L->out_w = 1;
      L->out_flat = 1;
      L->flops_fwd = 2.0 * in_c * s->units;
      L->flops_bwd = 2.0 * L->flops_fwd;
      break;
    case NN_LAYER_LEAKY_RELU:
    case NN_LAYER_SIGMOID:
      L->act = s->type == NN_LAYER_SIGMOID ? NN_ACT_SIGMOID : NN_ACT_LEAKY_RELU;
      L->out_c = in_c;
      L->out_h = L->in_h;
      L->out_w = L->in_w;
      L->out_flat = in_flat;
      break;
    case NN_LAYER_FLATTEN:
      L->out_c = in_c * in_h * in_w;
      L->out_h = L->out_w = 1;
      L->out_flat = 1;
      break;
    case NN_LAYER_RESHAPE: {
      long long prod = (long long)s->shape[0] * s->shape[1] * s->shape[2];
      if (s->shape[0] < 1 || s->shape[1] < 1 || s->shape[2] < 1 || prod != in_c)
        return layer_error(cfg, s, "shape [%d, %d, %d] holds %lld values, the input has %d",
                           s->shape[0], s->shape[1], s->shape[2], prod, in_c);
      L->out_c = s->shape[0];
      L->out_h = s->shape[1];
      L->out_w = s->shape[2];
      break;
    }
    case NN_LAYER_SAMPLE:
      if (in_c < 2 || in_c % 2)
        return layer_error(cfg, s, "needs 2*latent inputs (means, log-variances), got %d", in_c);
      L->out_c = in_c / 2;
      L->out_h = L->out_w = 1;
      L->out_flat = 1;
      break;
  }
  return DD_OK;
}

dd_status nn_arch_infer(const nn_arch *a, nn_layer *layers, const cfg_doc *cfg) {
  if (a->n_layers < 1 || a->n_layers > NN_MAX_LAYERS)
    return DD_FAIL(DD_ERR_CONFIG, "%s: %d layers (1..%d allowed)", a->cfg_group, a->n_layers,
                   NN_MAX_LAYERS);
  int c = a->in_c, h = a->in_h, w = a->in_w, flat = 0, n_sample = 0;
  for (int l = 0; l < a->n_layers; l++) {
    DD_TRY(nn_layer_infer(&layers[l], &a->layers[l], c, h, w, flat, cfg), "%s", a->cfg_group);
    const nn_layer *L = &layers[l];
    c = L->out_c;
    h = L->out_h;
    w = L->out_w;
    flat = L->out_flat;
    n_sample += L->type == NN_LAYER_SAMPLE;
  }
  const nn_layer *last = &layers[a->n_layers - 1];
  const nn_layer_spec *ls = &a->layers[a->n_layers - 1];
  if (a->kind == NN_MODEL_CVAE) {
    if (n_sample != 1)
      return DD_FAIL(DD_ERR_CONFIG, "%s: the CVAE needs exactly one sample layer, has %d",
                     a->cfg_group, n_sample);
    if (flat || c != a->in_c || h != a->in_h || w != a->in_w)
      return layer_error(cfg, ls,
                         "the decoder ends in %s (%d,%d,%d) but must reproduce the input "
                         "(%d,%d,%d)",
                         flat ? "flat" : "shape", c, h, w, a->in_c, a->in_h, a->in_w);
  } else {
    if (n_sample != 0)
      return DD_FAIL(DD_ERR_CONFIG, "%s: the CNN has no sample layer", a->cfg_group);
    if (last->type != NN_LAYER_DENSE || last->out_c != 1 || last->act != NN_ACT_NONE)
      return layer_error(cfg, ls,
                         "the CNN must end in a dense layer with 1 unit and act = \"none\" "
                         "(the logit; the sigmoid is part of the loss)");
  }
  return DD_OK;
}

/* ------------------------------------------------------------ the model */

static size_t align_up(size_t x) {
  return (x + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN;
}

static dd_status add_tensor(nn_model *m, const char *layer, const char *suffix, int ndim,
                            const int *shape, int fan_in, int fan_out, int is_bias, int *index,
                            size_t *offset) {
  if (m->n_tensors >= NN_MAX_TENSORS)
    return DD_FAIL(DD_ERR_CONFIG, "more than %d tensors", NN_MAX_TENSORS);
  nn_tensor *t = &m->tensors[m->n_tensors];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s.%s", layer, suffix);
  t->ndim = ndim;
  t->size = 1;
  for (int d = 0; d < ndim; d++) {
    t->shape[d] = shape[d];
    t->size *= (size_t)shape[d];
  }
  t->offset = m->n_params;
  t->fan_in = fan_in;
  t->fan_out = fan_out;
  t->is_bias = is_bias;
  m->n_params = align_up(m->n_params + t->size);
  m->n_weights += t->size;
  *index = m->n_tensors++;
  *offset = t->offset;
  return DD_OK;
}

/* Tensor-table hash: names, shapes and offsets (the checkpoint layout). */
static uint64_t table_hash(const nn_model *m) {
  uint64_t h = DD_HASH_INIT;
  uint64_t np = m->n_params;
  h = dd_hash_bytes(h, &np, sizeof np);
  for (int i = 0; i < m->n_tensors; i++) {
    const nn_tensor *t = &m->tensors[i];
    uint64_t v[6] = {(uint64_t)t->ndim,     (uint64_t)t->shape[0], (uint64_t)t->shape[1],
                     (uint64_t)t->shape[2], (uint64_t)t->shape[3], (uint64_t)t->offset};
    h = dd_hash_str(h, t->name);
    h = dd_hash_bytes(h, v, sizeof v);
  }
  return h;
}

void nn_model_free(nn_model *m) {
  if (!m) return;
  dd_free_aligned(m->params);
  dd_free_aligned(m->grads);
  dd_free_aligned(m->adam_m);
  dd_free_aligned(m->adam_v);
  dd_free_aligned(m->act);
  dd_free_aligned(m->dact);
  dd_free_aligned(m->work);
  free(m->rec);
  free(m->kl);
  free(m->loss);
  free(m->logit);
  free(m->label);
  free(m->prof);
  m->params = m->grads = m->adam_m = m->adam_v = NULL;
  m->act = m->dact = m->work = NULL;
  m->rec = m->kl = m->loss = NULL;
  m->logit = m->label = NULL;
  m->prof = NULL;
}

static dd_status alloc_floats(float **p, size_t n, const char *what) {
  void *v = NULL;
  DD_TRY(dd_alloc_aligned(&v, (n ? n : 1) * sizeof(float), what), "model buffers");
  *p = v;
  return DD_OK;
}

/* The layout of a model: tensor table, arena offsets and the lengths of
 * every buffer, without allocating any (nn_model_plan, model_build). */
static dd_status model_layout(nn_model *m, const nn_arch *arch, int max_batch, int train) {
  memset(m, 0, sizeof *m);
  if (max_batch < 1) return DD_FAIL(DD_ERR_ARG, "max_batch must be >= 1, got %d", max_batch);
  m->arch = *arch;
  m->max_batch = max_batch;
  m->n_layers = arch->n_layers;
  m->sample_layer = -1;
  DD_TRY(nn_arch_infer(arch, m->layers, NULL), "building %s", arch->cfg_group);

  /* Register tensors (build, then allocate). */
  size_t act_off = 0, slot = 0, work = 0;
  m->in_off = 0;
  act_off = align_up((size_t)arch->in_c * arch->in_h * arch->in_w * max_batch);
  size_t prev_out = m->in_off;
  for (int l = 0; l < m->n_layers; l++) {
    nn_layer *L = &m->layers[l];
    if (L->type == NN_LAYER_CONV2D || L->type == NN_LAYER_CONV2D_T) {
      int k = L->kernel, ci = L->in_c, co = L->out_c;
      int shape_w[4] = {co, ci, k, k};
      if (L->type == NN_LAYER_CONV2D_T) {
        shape_w[0] = ci;
        shape_w[1] = co;
      }
      DD_TRY(add_tensor(m, L->name, "w", 4, shape_w, ci * k * k, co * k * k, 0, &L->w_tensor,
                        &L->w_off),
             "%s", L->name);
      DD_TRY(
          add_tensor(m, L->name, "b", 1, &co, ci * k * k, co * k * k, 1, &L->b_tensor, &L->b_off),
          "%s", L->name);
    } else if (L->type == NN_LAYER_DENSE) {
      int shape_w[2] = {L->out_c, L->in_c};
      DD_TRY(add_tensor(m, L->name, "w", 2, shape_w, L->in_c, L->out_c, 0, &L->w_tensor, &L->w_off),
             "%s", L->name);
      DD_TRY(
          add_tensor(m, L->name, "b", 1, &L->out_c, L->in_c, L->out_c, 1, &L->b_tensor, &L->b_off),
          "%s", L->name);
    }
    L->in_off = prev_out;
    L->out_off = act_off;
    act_off = align_up(act_off + nn_layer_out_size(L) * max_batch);
    if (L->type == NN_LAYER_SAMPLE) {
      m->sample_layer = l;
      L->aux_off = act_off;
      act_off = align_up(act_off + (size_t)L->out_c * max_batch);
    }
    prev_out = L->out_off;
    if (nn_layer_out_size(L) * max_batch > slot) slot = nn_layer_out_size(L) * max_batch;
    if (nn_layer_work_floats(L, max_batch) > work) work = nn_layer_work_floats(L, max_batch);
  }
  /* The first layer computes no input gradient. */
  {
    nn_layer *L0 = &m->layers[0];
    if (L0->type == NN_LAYER_CONV2D || L0->type == NN_LAYER_CONV2D_T || L0->type == NN_LAYER_DENSE)
      L0->flops_bwd = L0->flops_fwd;
  }
  m->table_hash = table_hash(m);
  m->act_floats = act_off;
  m->dact_floats = 2 * align_up(slot);
  m->work_floats = work;
  if (!train) m->dact_floats = 0;
  return DD_OK;
}

static size_t plan_bytes(const nn_model *m, int train) {
  size_t f = m->n_params * (train ? 4 : 1) + m->act_floats + m->dact_floats + m->work_floats;
  return f * sizeof(float) + (size_t)m->max_batch * (3 * sizeof(double) + 2 * sizeof(float));
}

dd_status nn_model_plan(const nn_arch *arch, int max_batch, int train, double *bytes) {
  nn_model *m = calloc(1, sizeof *m);
  if (!m) return DD_FAIL(DD_ERR_NOMEM, "model plan");
  dd_status st = model_layout(m, arch, max_batch, train);
  *bytes = st == DD_OK ? (double)plan_bytes(m, train) : 0.0;
  free(m);
  return st;
}

/* Builds the model; `train` = 0 leaves out what only training needs (the
 * gradient, the Adam moments and the activation-gradient arena: about three
 * times the parameters plus two layer outputs per sample), so an inference
 * model costs its parameters, its activations and one workspace. */
static dd_status model_build(nn_model *m, const nn_arch *arch, int max_batch, uint32_t seed,
                             int print_table, int train) {
  dd_status st = model_layout(m, arch, max_batch, train);
  if (st != DD_OK) return st;
  if ((st = alloc_floats(&m->params, m->n_params, "nn params")) != DD_OK ||
      (train && (st = alloc_floats(&m->grads, m->n_params, "nn grads")) != DD_OK) ||
      (train && (st = alloc_floats(&m->adam_m, m->n_params, "nn adam_m")) != DD_OK) ||
      (train && (st = alloc_floats(&m->adam_v, m->n_params, "nn adam_v")) != DD_OK) ||
      (st = alloc_floats(&m->act, m->act_floats, "nn activation arena")) != DD_OK ||
      (train &&
       (st = alloc_floats(&m->dact, m->dact_floats, "nn activation-gradient arena")) != DD_OK) ||
      (st = alloc_floats(&m->work, m->work_floats, "nn workspace")) != DD_OK) {
    nn_model_free(m);
    return DD_CONTEXT(st, "building %s", arch->cfg_group);
  }
  void *v[5] = {NULL, NULL, NULL, NULL, NULL};
  const size_t nb = (size_t)max_batch;
  if ((st = dd_calloc(&v[0], nb, sizeof(double), "nn per-sample rec")) != DD_OK ||
      (st = dd_calloc(&v[1], nb, sizeof(double), "nn per-sample kl")) != DD_OK ||
      (st = dd_calloc(&v[2], nb, sizeof(double), "nn per-sample loss")) != DD_OK ||
      (st = dd_calloc(&v[3], nb, sizeof(float), "nn per-sample logit")) != DD_OK ||
      (st = dd_calloc(&v[4], nb, sizeof(float), "nn per-sample label")) != DD_OK) {
    for (int i = 0; i < 5; i++) free(v[i]);
    nn_model_free(m);
    return DD_CONTEXT(st, "building %s", arch->cfg_group);
  }
  m->rec = v[0];
  m->kl = v[1];
  m->loss = v[2];
  m->logit = v[3];
  m->label = v[4];
  if (train) nn_model_init_weights(m, seed);
  if (print_table) {
    nn_model_print_table(m, NULL);
    const char *advice = nn_blas_advice();
    if (advice && dd_log_rank() <= 0) dd_warn("%s", advice);
  }
  return DD_OK;
}

dd_status nn_model_init(nn_model *m, const nn_arch *arch, int max_batch, uint32_t seed,
                        int print_table) {
  return model_build(m, arch, max_batch, seed, print_table, 1);
}

dd_status nn_model_init_inference(nn_model *m, const nn_arch *arch, int max_batch) {
  return model_build(m, arch, max_batch, 0, 0, 0);
}

size_t nn_model_bytes(const nn_model *m) {
  return plan_bytes(m, m->grads != NULL);
}

/* Glorot/Xavier uniform (Glorot & Bengio 2010; Keras' default kernel
 * initializer): U(-l, l), l = sqrt(6 / (fan_in + fan_out)); biases 0.
 * Element e of tensor t is drawn from block e/1024 of DD_STREAM_NN_INIT
 * (a = t, b = block, c = model kind), so any element can be regenerated
 * alone and the values do not depend on how the table is laid out. */
#define NN_INIT_BLOCK 1024
void nn_model_init_weights(nn_model *m, uint32_t seed) {
  memset(m->params, 0, sizeof *m->params * m->n_params);
  memset(m->grads, 0, sizeof *m->grads * m->n_params);
  memset(m->adam_m, 0, sizeof *m->adam_m * m->n_params);
  memset(m->adam_v, 0, sizeof *m->adam_v * m->n_params);
  m->step = 0;
  for (int ti = 0; ti < m->n_tensors; ti++) {
    const nn_tensor *t = &m->tensors[ti];
    if (t->is_bias) continue;
    double lim = sqrt(6.0 / (double)(t->fan_in + t->fan_out));
    float *p = m->params + t->offset;
    for (size_t b0 = 0; b0 < t->size; b0 += NN_INIT_BLOCK) {
      dd_rng r = dd_rng_for(seed, DD_STREAM_NN_INIT, (uint32_t)ti, (uint32_t)(b0 / NN_INIT_BLOCK),
                            (uint32_t)m->arch.kind);
      size_t e = b0 + NN_INIT_BLOCK < t->size ? b0 + NN_INIT_BLOCK : t->size;
      for (size_t i = b0; i < e; i++) p[i] = (float)((2.0 * dd_rng_uniform(&r) - 1.0) * lim);
    }
  }
}

int nn_model_find_tensor(const nn_model *m, const char *name) {
  for (int i = 0; i < m->n_tensors; i++)
    if (strcmp(m->tensors[i].name, name) == 0) return i;
  return -1;
}

void nn_model_zero_grad(nn_model *m) {
  memset(m->grads, 0, sizeof *m->grads * m->n_params);
}

double nn_model_flops_fwd(const nn_model *m) {
  double f = 0.0;
  for (int l = 0; l < m->n_layers; l++) f += m->layers[l].flops_fwd;
  return f;
}

double nn_model_flops_train(const nn_model *m) {
  double f = 0.0;
  for (int l = 0; l < m->n_layers; l++) f += m->layers[l].flops_fwd + m->layers[l].flops_bwd;
  return f;
}

dd_status nn_model_profile(nn_model *m, int on) {
  free(m->prof);
  m->prof = NULL;
  if (!on) return DD_OK;
  void *p = NULL;
  DD_TRY(dd_calloc(&p, (size_t)m->n_layers, sizeof(nn_layer_prof), "nn profile"), "profiling");
  m->prof = p;
  return DD_OK;
}

static void describe(const nn_layer *L, char *buf, size_t cap) {
  static const char *acts[] = {"", " leaky_relu", " sigmoid"};
  switch (L->type) {
    case NN_LAYER_CONV2D:
    case NN_LAYER_CONV2D_T:
      snprintf(buf, cap, "%s %d %dx%d/%d%s", L->type == NN_LAYER_CONV2D ? "conv2d" : "tconv2d",
               L->out_c, L->kernel, L->kernel, L->stride, acts[L->act]);
      break;
    case NN_LAYER_MAXPOOL:
      snprintf(buf, cap, "maxpool %dx%d/%d", L->kernel, L->kernel, L->stride);
      break;
    case NN_LAYER_DENSE:
      snprintf(buf, cap, "dense %d%s", L->out_c, acts[L->act]);
      break;
    default:
      snprintf(buf, cap, "%s", type_word(L->type));
      break;
  }
}

static void emit(FILE *fp, const char *line) {
  if (fp)
    fprintf(fp, "%s\n", line);
  else
    dd_info("%s", line);
}

void nn_model_print_table(const nn_model *m, FILE *fp) {
  char line[256];
  const char *g = m->arch.cfg_group;
  snprintf(line, sizeof line, "%s: %-12s %-26s %-14s %10s %10s", g, "layer", "type", "output",
           "params", "MFLOP/img");
  emit(fp, line);
  snprintf(line, sizeof line, "%s: %-12s %-26s %3dx%3dx%-6d", g, "input", "", m->arch.in_c,
           m->arch.in_h, m->arch.in_w);
  emit(fp, line);
  for (int l = 0; l < m->n_layers; l++) {
    const nn_layer *L = &m->layers[l];
    char desc[64], shape[32];
    describe(L, desc, sizeof desc);
    if (L->out_flat)
      snprintf(shape, sizeof shape, "%d", L->out_c);
    else
      snprintf(shape, sizeof shape, "%3dx%3dx%-6d", L->out_c, L->out_h, L->out_w);
    size_t np = 0;
    if (L->w_tensor >= 0) np += m->tensors[L->w_tensor].size + m->tensors[L->b_tensor].size;
    snprintf(line, sizeof line, "%s: %-12s %-26s %-14s %10zu %10.3f", g, L->name, desc, shape, np,
             L->flops_fwd * 1e-6);
    emit(fp, line);
  }
  snprintf(line, sizeof line,
           "%s: %zu parameters in %d tensors; %.2f MFLOP/img forward, %.2f MFLOP/img per "
           "training step; OpenBLAS kernel %s",
           g, m->n_weights, m->n_tensors, nn_model_flops_fwd(m) * 1e-6,
           nn_model_flops_train(m) * 1e-6, nn_blas_core());
  emit(fp, line);
}

void nn_noise_fill(const nn_noise *nz, int i, float *eps, int latent) {
  if (nz->mean_only) {
    memset(eps, 0, sizeof *eps * (size_t)latent);
  } else if (nz->eps) {
    memcpy(eps, nz->eps + (size_t)i * latent, sizeof *eps * (size_t)latent);
  } else {
    dd_rng r = dd_rng_for(nz->seed, nz->stream, nz->a, nz->b[i], 0);
    for (int j = 0; j < latent; j++) eps[j] = (float)dd_rng_normal(&r);
  }
}
