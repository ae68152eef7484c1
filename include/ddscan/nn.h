/* nn.h - ddscan's neural-network engine: the paper's CVAE and CNN
 * (arXiv:2110.12248 §3) built from the config, trained with Adam, on
 * OpenBLAS.  One tensor table drives everything; a model owns one flat
 * buffer each for params, grads, Adam m and v, plus an activation arena, an
 * activation-gradient arena and one workspace sized at build (STYLE.md §6).
 * Layers store offsets and never own memory.  docs/nn.md has the shapes,
 * FLOPs, loss conventions and the checkpoint format. */
#ifndef DDSCAN_NN_H
#define DDSCAN_NN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ddscan/cfg.h"  /* uses: cfg_doc */
#include "ddscan/core.h" /* uses: dd_status, dd_stream */

#define NN_MAX_LAYERS 32  /* per model, including the automatic ones */
#define NN_MAX_TENSORS 64 /* two per parametric layer */
#define NN_NAME_LEN 48    /* tensor and layer names, incl. NUL */
#define NN_ALIGN 16       /* tensor offsets are multiples of 16 floats */

/* ------------------------------------------------------------------------ */
/* Architecture (what the config describes)                                  */
/* ------------------------------------------------------------------------ */

typedef enum nn_layer_type {
  NN_LAYER_CONV2D = 0,   /* Keras Conv2D: weight (Co,Ci,k,k), bias (Co) */
  NN_LAYER_CONV2D_T = 1, /* Keras Conv2DTranspose: weight (Ci,Co,k,k), bias (Co) */
  NN_LAYER_MAXPOOL = 2,  /* MaxPooling2D, 'valid' */
  NN_LAYER_DENSE = 3,    /* weight (O,F), bias (O) */
  NN_LAYER_LEAKY_RELU = 4,
  NN_LAYER_SIGMOID = 5,
  NN_LAYER_FLATTEN = 6, /* (C,H,W) -> C*H*W features, PyTorch/NCHW order */
  NN_LAYER_RESHAPE = 7, /* features -> (C,H,W) */
  NN_LAYER_SAMPLE = 8   /* VAE reparameterisation: (mu, logvar) -> z */
} nn_layer_type;

typedef enum nn_act { NN_ACT_NONE = 0, NN_ACT_LEAKY_RELU = 1, NN_ACT_SIGMOID = 2 } nn_act;
typedef enum nn_padding { NN_PAD_VALID = 0, NN_PAD_SAME = 1 } nn_padding;
typedef enum nn_model_kind { NN_MODEL_CVAE = 1, NN_MODEL_CNN = 2 } nn_model_kind;
/* KL divergence per sample, with s2 = exp(logvar):
 *   NN_KL_PAPER:    sum_j (s2 + mu^2 - log(sigma) - 1)       (paper Eq. 8 as written)
 *   NN_KL_STANDARD: 1/2 sum_j (s2 + mu^2 - log(s2) - 1)      (Kingma & Welling 2014) */
typedef enum nn_kl_form { NN_KL_PAPER = 0, NN_KL_STANDARD = 1 } nn_kl_form;
/* Reconstruction loss per sample: mean or sum over the C*H*W pixels of
 * (y - x)^2 (Keras' mse is the mean). */
typedef enum nn_rec_reduction { NN_REC_MEAN = 0, NN_REC_SUM = 1 } nn_rec_reduction;

/* One layer as the config writes it (before shape inference). */
typedef struct nn_layer_spec {
  nn_layer_type type;
  char name[NN_NAME_LEN]; /* "enc.conv1"; tensors are name.w / name.b */
  char cfg_path[128];     /* config path of the group, for messages */
  int filters;            /* conv2d, conv2d_transpose: output channels */
  int units;              /* dense: output features */
  int kernel, stride;     /* conv*: square kernel and stride; maxpool: size, stride */
  nn_padding padding;     /* conv* */
  nn_act act;             /* fused activation of conv*, dense */
  float alpha;            /* LeakyReLU slope (fused or layer) */
  int shape[3];           /* reshape: (C,H,W) */
} nn_layer_spec;

/* Adam (Kingma & Ba 2015) in PyTorch's form, see nn_adam_step. */
typedef struct nn_adam_params {
  double learning_rate; /* nn.<model>.adam.learning_rate */
  double beta1, beta2;
  double epsilon;
} nn_adam_params;

/* One network: its input, its layers in order and its loss. */
typedef struct nn_arch {
  nn_model_kind kind;
  char cfg_group[16];   /* "nn.cvae" or "nn.cnn" */
  int in_c, in_h, in_w; /* input image (C,H,W) */
  int n_layers;         /* CVAE: encoder + [latent dense, sample] + decoder */
  nn_layer_spec layers[NN_MAX_LAYERS];
  int latent;           /* CVAE: latent dimension (256 means + 256 log-variances) */
  double beta;          /* CVAE: weight of the KL term */
  nn_kl_form kl;        /* CVAE */
  nn_rec_reduction rec; /* CVAE */
  nn_adam_params adam;
} nn_arch;

/* The `nn` config group: both networks. */
typedef struct nn_params {
  nn_arch cvae;
  nn_arch cnn;
} nn_params;

/* Reads nn.cvae and nn.cnn (defaults: the paper's architectures, docs/nn.md),
 * validates every layer and infers every shape, so that a bad architecture
 * is a config error naming file:line and the key.  When a layer list is
 * missing, the default list is inserted into the config tree so the resolved
 * config shows it. */
dd_status nn_params_load(cfg_doc *cfg, nn_params *p);
/* Prints both architectures (dd_info). */
void nn_params_print(const nn_params *p);

/* ------------------------------------------------------------------------ */
/* Tensors and layers after shape inference                                  */
/* ------------------------------------------------------------------------ */

/* One entry of the tensor table: the single source of truth for the layout
 * of params/grads/adam_m/adam_v, initialisation, checkpoints and export. */
typedef struct nn_tensor {
  char name[NN_NAME_LEN]; /* "enc.conv1.w" */
  int ndim;
  int shape[4];  /* PyTorch layout: conv (Co,Ci,k,k), tconv (Ci,Co,k,k), dense (O,F), bias (n) */
  size_t offset; /* into the flat buffers, a multiple of NN_ALIGN floats */
  size_t size;   /* number of elements */
  int fan_in, fan_out; /* Glorot: per-output and per-input receptive sizes */
  int is_bias;         /* initialised to 0 */
} nn_tensor;

/* Activations are stored per layer in one of two layouts:
 *   spatial (C,N,H,W): channel-major, then sample; every conv of the
 *     minibatch is one GEMM that writes its output in place (docs/nn.md);
 *   flat    (N,F):     one row per sample (dense, sample, losses). */
typedef struct nn_layer {
  nn_layer_type type;
  char name[NN_NAME_LEN];
  int in_c, in_h, in_w;    /* per-sample input shape (flat: in_c = F, h = w = 1) */
  int out_c, out_h, out_w; /* per-sample output shape */
  int in_flat, out_flat;   /* 1 when the tensor is (N,F) */
  int kernel, stride;
  int pad_h, pad_w; /* padding before (top, left); after is implied */
  nn_act act;
  float alpha;
  int w_tensor, b_tensor; /* indices into the tensor table, -1 if none */
  size_t w_off, b_off;    /* offsets into params/grads */
  size_t in_off, out_off; /* offsets into the activation arena */
  size_t aux_off;         /* sample: eps (N,latent) in the activation arena */
  double flops_fwd;       /* multiply-adds x 2 of the GEMMs, per sample */
  double flops_bwd;       /* same for backward (without din of the first layer) */
} nn_layer;

/* Optional per-layer timing (bench): seconds summed over calls. */
typedef struct nn_layer_prof {
  double t_fwd, t_bwd;           /* whole layer */
  double t_fwd_gemm, t_bwd_gemm; /* cblas_sgemm calls only */
  double flop_fwd, flop_bwd;     /* GEMM flops summed over calls */
  long calls_fwd, calls_bwd;
} nn_layer_prof;

/* Fills L's geometry from a spec and a per-sample input shape (shape
 * inference); offsets are left 0.  Errors name the layer and, when cfg is
 * not NULL, the config file:line of its group (DD_ERR_CONFIG). */
dd_status nn_layer_infer(nn_layer *L, const nn_layer_spec *s, int in_c, int in_h, int in_w,
                         int in_flat, const cfg_doc *cfg);

/* The optimised float kernels of one layer (im2col + cblas_sgemm for conv,
 * transposed conv and dense), in the layouts of nn_layer.
 *   forward:  out = f(in); aux = eps (n,latent) for the sample layer.
 *   backward: dout is the gradient of the layer's output and is overwritten
 *             (the fused activation's backward runs in place); grads +=
 *             dL/dparams; din = dL/din, or not computed when din is NULL.
 * work holds nn_layer_work_floats(L, n) floats.  prof (may be NULL)
 * accumulates timings.  The naive twins are the nn_ref_* functions below. */
void nn_layer_forward(const nn_layer *L, const float *params, float *out, const float *in,
                      const float *aux, float *work, int n, nn_layer_prof *prof);
void nn_layer_backward(const nn_layer *L, const float *params, float *grads, float *din,
                       float *dout, const float *in, const float *out, const float *aux,
                       float *work, int n, nn_layer_prof *prof);
size_t nn_layer_work_floats(const nn_layer *L, int n);

/* ------------------------------------------------------------------------ */
/* Model                                                                     */
/* ------------------------------------------------------------------------ */

/* Where the VAE noise comes from.  Default: eps for sample i, latent j is
 * the j-th normal of dd_rng_for(seed, stream, a, b[i], 0), so noise depends
 * only on the keys the caller passes (e.g. stream DD_STREAM_VAE_EPS, a =
 * epoch, b[i] = global sample index), never on the rank count or the batch
 * composition.  `eps` (N,latent), when not NULL, is used instead (tests);
 * `mean_only` sets z = mu (deterministic scoring). */
typedef struct nn_noise {
  uint32_t seed;
  dd_stream stream;  /* DD_STREAM_VAE_EPS or DD_STREAM_SCORE_EPS */
  uint32_t a;        /* e.g. epoch, or bank */
  const uint32_t *b; /* borrowed, (n): e.g. global sample or event index */
  const float *eps;  /* borrowed, (n,latent) or NULL */
  int mean_only;
} nn_noise;

/* Sums over the samples of one forward pass (divide by the global batch
 * size after the allreduce for means). */
typedef struct nn_batch_loss {
  double loss; /* CVAE: rec + beta*kl; CNN: bce */
  double rec;  /* CVAE reconstruction term */
  double kl;   /* CVAE KL term (unweighted) */
  double bce;  /* CNN binary cross-entropy */
  int n;
} nn_batch_loss;

typedef struct nn_model {
  nn_arch arch; /* copy */
  int max_batch;
  int n_layers;
  nn_layer layers[NN_MAX_LAYERS];
  int n_tensors;
  nn_tensor tensors[NN_MAX_TENSORS];
  size_t n_params;  /* length of the four flat buffers (with alignment gaps) */
  size_t n_weights; /* sum of the tensor sizes */
  uint64_t table_hash;
  float *params; /* owned, (n_params) */
  float *grads;  /* owned, (n_params) */
  float *adam_m; /* owned, (n_params) */
  float *adam_v; /* owned, (n_params) */
  float *act;    /* owned activation arena: input, every layer output, eps */
  size_t act_floats;
  float *dact; /* owned activation-gradient arena: two ping-pong slots */
  size_t dact_floats;
  float *work; /* owned workspace (im2col), sized to the largest layer */
  size_t work_floats;
  size_t in_off;    /* the input (C,N,H,W) in the activation arena */
  int sample_layer; /* CVAE: index of the sample layer, else -1 */
  /* results of the last forward pass, (max_batch) each, owned */
  double *rec;         /* CVAE: reconstruction loss per sample */
  double *kl;          /* CVAE: KL per sample */
  double *loss;        /* per-sample loss (CVAE rec + beta kl, CNN bce) */
  float *logit;        /* CNN: output logit per sample */
  float *label;        /* CNN: labels of the last forward (copy) */
  int last_n;          /* samples in the last forward pass */
  uint64_t step;       /* Adam steps taken */
  nn_layer_prof *prof; /* owned when profiling is on (nn_model_profile), else NULL */
} nn_model;

/* Builds the model from an architecture for minibatches of up to max_batch
 * samples: shape inference, tensor table, one allocation per buffer, and
 * Glorot-uniform initialisation from DD_STREAM_NN_INIT (a = tensor index,
 * b = block of 1024 elements, c = model kind) with `seed`.  Prints the
 * per-layer table (dd_info) when print_table is set.  nn_model_free accepts a
 * zeroed or half-built model. */
dd_status nn_model_init(nn_model *m, const nn_arch *arch, int max_batch, uint32_t seed,
                        int print_table);
/* The same model for inference only: no gradient, no Adam moments, no
 * activation-gradient arena (grads, adam_m, adam_v, dact stay NULL) and
 * zero parameters, to be filled by nn_checkpoint_load or a broadcast.  Only
 * nn_model_forward and nn_checkpoint_load may be called on it. */
dd_status nn_model_init_inference(nn_model *m, const nn_arch *arch, int max_batch);
/* Bytes the model holds (buffers and per-sample outputs). */
size_t nn_model_bytes(const nn_model *m);
/* What nn_model_init (train = 1) or nn_model_init_inference (train = 0)
 * would allocate for arch at max_batch, in bytes, without allocating it
 * (the resource estimate of check-config).  Fails as they do on a bad arch. */
dd_status nn_model_plan(const nn_arch *arch, int max_batch, int train, double *bytes);
void nn_model_free(nn_model *m);

/* Re-initialises the parameters (and zeroes grads, Adam moments, step). */
void nn_model_init_weights(nn_model *m, uint32_t seed);
/* Writes the per-layer table (shapes, parameters, MFLOP per image) to fp,
 * or through dd_info (rank 0) when fp is NULL. */
void nn_model_print_table(const nn_model *m, FILE *fp);
/* Total forward / training GEMM flops per image. */
double nn_model_flops_fwd(const nn_model *m);
double nn_model_flops_train(const nn_model *m);
/* Index of the tensor with this name, or -1. */
int nn_model_find_tensor(const nn_model *m, const char *name);

/* grads = 0 (one memset). */
void nn_model_zero_grad(nn_model *m);

/* Forward pass on n <= max_batch samples.
 *   x: (n, C, H, W) floats, the layout the image module's batches use after
 *      nn_image_nhwc_to_nchw;
 *   labels: CNN: (n) targets in {0,1} (or NULL for inference: bce = 0);
 *           CVAE: NULL;
 *   noise: CVAE only (NULL for the CNN).
 * Fills m->rec, m->kl, m->loss, m->logit per sample and *out (may be NULL).
 * Errors: DD_ERR_ARG for n out of range or missing noise/keys. */
dd_status nn_model_forward(nn_model *m, const float *x, const float *labels, int n,
                           const nn_noise *noise, nn_batch_loss *out);
/* Backward pass for the samples of the last forward: accumulates into
 * m->grads the gradient of (1/b_global) * sum_i loss_i, so that summing the
 * grads of every rank's slice gives the gradient of the global-batch mean
 * (STYLE.md §6).  b_global >= last_n. */
void nn_model_backward(nn_model *m, int b_global);
/* One Adam step on every parameter (PyTorch's form, step counter m->step). */
void nn_adam_step(nn_model *m);

/* After the loss of a step is known on every rank: DD_OK when finite, else
 * DD_ERR_NUMERIC naming the step and the first tensor that holds a
 * non-finite value (params, then layer outputs, then grads), or the input. */
dd_status nn_model_check_loss(const nn_model *m, uint64_t step, double loss);

/* The CVAE reconstruction of the last forward pass, (n, C, H, W). */
void nn_model_output_nchw(const nn_model *m, float *out);
/* Latent means and log-variances of the last forward (n, latent) each;
 * either may be NULL.  CVAE only. */
void nn_model_latent(const nn_model *m, float *mu, float *logvar);

/* Turns per-layer timing on (allocates m->prof) or off. */
dd_status nn_model_profile(nn_model *m, int on);

/* ------------------------------------------------------------------------ */
/* Helpers for callers                                                       */
/* ------------------------------------------------------------------------ */

/* (n,H,W,C) images (the image module's float img[H][W][C], row 0 = top) to
 * (n,C,H,W). */
void nn_image_nhwc_to_nchw(float *out, const float *in, int n, int h, int w, int c);
/* softplus(x) = log(1 + e^x) without overflow: H_B = -log(1 - p) =
 * softplus(logit) for p = sigmoid(logit) (paper Eq. 11). */
double nn_softplus(double x);
/* BCE of a logit against y in {0,1}, stable: softplus(x) - y*x. */
double nn_bce_logit(double x, double y);

/* The OpenBLAS kernel this process uses (openblas_get_corename; it is also
 * in dd_provenance).  OpenBLAS picks it when the library loads; the
 * environment variable OPENBLAS_CORETYPE overrides the pick. */
const char *nn_blas_core(void);
/* The best OpenBLAS kernel for this CPU's instruction set (from the flags in
 * /proc/cpuinfo): "Cooperlake", "SkylakeX", "Haswell", "Sandybridge", or NULL
 * when unknown. */
const char *nn_blas_best_core(void);
/* A warning text when OpenBLAS fell back to a generic SSE kernel on a CPU
 * with AVX2 or AVX-512 (how to fix it included), else NULL. */
const char *nn_blas_advice(void);

/* ------------------------------------------------------------------------ */
/* Checkpoints and export                                                    */
/* ------------------------------------------------------------------------ */

#define NN_CKPT_MAGIC "DDSCNNCK" /* 8 bytes */
#define NN_CKPT_VERSION 1        /* changelog: docs/nn.md "Checkpoint format" */

/* What the trainer stores beside the weights. */
typedef struct nn_ckpt_info {
  uint64_t config_hash; /* hash of the training-relevant config keys */
  uint32_t seed;
  uint64_t step; /* Adam steps (filled from the model on save) */
  uint64_t epoch;
} nn_ckpt_info;

/* Writes header, tensor table, params, adam_m and adam_v to path.tmp, fsyncs
 * and renames it to path.  info->step is ignored: m->step is stored. */
dd_status nn_checkpoint_save(const nn_model *m, const char *path, const nn_ckpt_info *info);
/* Loads a checkpoint into a model built with the same architecture.  Checks
 * magic, version, size, checksum, n_params, n_tensors, the tensor table
 * (names, shapes, offsets) and, when expect is not NULL, the config hash
 * and the seed; any mismatch is an error naming the file and the mismatch
 * (DD_ERR_IO for unreadable/corrupt files, DD_ERR_ARG for mismatches).
 * On success the params, moments and m->step are restored and *got (may be
 * NULL) holds the header. */
dd_status nn_checkpoint_load(nn_model *m, const char *path, const nn_ckpt_info *expect,
                             nn_ckpt_info *got);

/* One tensor handed to a writer (io's HDF5 model export) as plain arrays. */
typedef struct nn_export_tensor {
  const char *name; /* borrowed from the model */
  int ndim;
  int shape[4];
  const float *data; /* view into m->params */
  size_t count;
} nn_export_tensor;
/* Fills out[0..m->n_tensors-1]; returns the count (cap must be >= it). */
int nn_model_export(const nn_model *m, nn_export_tensor *out, int cap);

/* ------------------------------------------------------------------------ */
/* Double-precision reference path (tests, gradient checks)                  */
/* ------------------------------------------------------------------------ */

/* The naive twins of every kernel, in double, written from the definitions
 * (direct convolution loops, no GEMM), in the same activation layouts.
 * ref forward: out = f(in); eps (n,latent) for the sample layer, else NULL.
 * ref backward: grads += dL/dparams, din = dL/din (din may be NULL). */
void nn_ref_layer_forward(const nn_layer *L, const double *params, double *out, const double *in,
                          const double *eps, int n);
void nn_ref_layer_backward(const nn_layer *L, const double *params, double *grads, double *din,
                           const double *dout, const double *in, const double *out,
                           const double *eps, int n);
/* The whole model's loss (1/b_global) sum_i loss_i in double, through the
 * reference kernels: x (n,C,H,W), labels (CNN), eps (n,latent) (CVAE).
 * grads (n_params, may be NULL) receives the gradient (overwritten);
 * per_sample (n, may be NULL) the per-sample losses.  Allocates its own
 * buffers (tests only).  Returns DD_ERR_NOMEM on allocation failure. */
dd_status nn_ref_model_loss(const nn_model *m, const double *params, const double *x,
                            const double *labels, const double *eps, int n, int b_global,
                            double *loss, double *grads, double *per_sample);

#endif /* DDSCAN_NN_H */
