/* model.c - the forward and backward passes of a whole model through its
 * layer list, the loss heads (CVAE: MSE + beta*KL, paper Eq. 8; CNN: binary
 * cross-entropy from the logit), the non-finite-loss diagnosis, and small
 * helpers for callers (layout conversion, softplus). */
#include "nn_internal.h"

#include <math.h>
#include <string.h>

double nn_softplus(double x) {
  /* log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, no cancellation */
  return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

double nn_bce_logit(double x, double y) {
  return nn_softplus(x) - y * x;
}

void nn_image_nhwc_to_nchw(float *out, const float *in, int n, int h, int w, int c) {
  const size_t hw = (size_t)h * w;
  for (int i = 0; i < n; i++) {
    const float *src = in + (size_t)i * hw * c;
    float *dst = out + (size_t)i * hw * c;
    for (size_t p = 0; p < hw; p++)
      for (int ch = 0; ch < c; ch++) dst[(size_t)ch * hw + p] = src[p * c + ch];
  }
}

/* KL of one sample from its means and log-variances (nn_kl_form). */
static double kl_sample(nn_kl_form form, const float *mu, const float *lv, int lat) {
  double s = 0.0;
  for (int j = 0; j < lat; j++) {
    double m = mu[j], l = lv[j];
    if (form == NN_KL_PAPER)
      s += exp(l) + m * m - 0.5 * l - 1.0; /* log(sigma) = logvar / 2 */
    else
      s += 0.5 * (exp(l) + m * m - l - 1.0);
  }
  return s;
}

dd_status nn_model_forward(nn_model *m, const float *x, const float *labels, int n,
                           const nn_noise *noise, nn_batch_loss *out) {
  const nn_arch *a = &m->arch;
  if (n < 1 || n > m->max_batch)
    return DD_FAIL(DD_ERR_ARG, "%s: batch of %d samples, the model was built for 1..%d",
                   a->cfg_group, n, m->max_batch);
  if (a->kind == NN_MODEL_CVAE && (!noise || (!noise->mean_only && !noise->eps && !noise->b)))
    return DD_FAIL(DD_ERR_ARG, "%s: the CVAE needs noise keys (nn_noise.b) or eps", a->cfg_group);
  /* (n,C,H,W) -> (C,n,H,W) */
  const size_t P = (size_t)a->in_h * a->in_w;
  float *in = m->act + m->in_off;
  for (int i = 0; i < n; i++)
    for (int c = 0; c < a->in_c; c++)
      memcpy(in + ((size_t)c * n + i) * P, x + ((size_t)i * a->in_c + c) * P, sizeof *in * P);

  for (int l = 0; l < m->n_layers; l++) {
    const nn_layer *L = &m->layers[l];
    float *aux = NULL;
    if (L->type == NN_LAYER_SAMPLE) {
      aux = m->act + L->aux_off;
      for (int i = 0; i < n; i++) nn_noise_fill(noise, i, aux + (size_t)i * L->out_c, L->out_c);
    }
    nn_layer_forward(L, m->params, m->act + L->out_off, m->act + L->in_off, aux, m->work, n,
                     m->prof ? &m->prof[l] : NULL);
  }
  m->last_n = n;

  nn_batch_loss sum = {0};
  sum.n = n;
  const nn_layer *last = &m->layers[m->n_layers - 1];
  const float *y = m->act + last->out_off;
  if (a->kind == NN_MODEL_CVAE) {
    const nn_layer *S = &m->layers[m->sample_layer];
    const int lat = S->out_c;
    const float *ml = m->act + S->in_off;
    for (int i = 0; i < n; i++) {
      m->rec[i] = 0.0;
      m->kl[i] = kl_sample(a->kl, ml + (size_t)i * 2 * lat, ml + (size_t)i * 2 * lat + lat, lat);
    }
    /* sum over pixels in (C,n,P) order; per sample in double */
    for (int c = 0; c < a->in_c; c++)
      for (int i = 0; i < n; i++) {
        const float *yy = y + ((size_t)c * n + i) * P, *xx = in + ((size_t)c * n + i) * P;
        double s = 0.0;
        for (size_t p = 0; p < P; p++) {
          double d = (double)yy[p] - xx[p];
          s += d * d;
        }
        m->rec[i] += s;
      }
    const double norm = a->rec == NN_REC_MEAN ? 1.0 / ((double)P * a->in_c) : 1.0;
    for (int i = 0; i < n; i++) {
      m->rec[i] *= norm;
      m->loss[i] = m->rec[i] + a->beta * m->kl[i];
      sum.rec += m->rec[i];
      sum.kl += m->kl[i];
      sum.loss += m->loss[i];
    }
  } else {
    for (int i = 0; i < n; i++) {
      m->logit[i] = y[i];
      m->label[i] = labels ? labels[i] : 0.0f;
      m->loss[i] = labels ? nn_bce_logit(y[i], labels[i]) : 0.0;
      sum.bce += m->loss[i];
    }
    sum.loss = sum.bce;
  }
  if (out) *out = sum;
  return DD_OK;
}

void nn_model_backward(nn_model *m, int b_global) {
  const nn_arch *a = &m->arch;
  const int n = m->last_n;
  DD_ASSERT(n >= 1 && b_global >= n);
  const double scale = 1.0 / b_global;
  const size_t slot = m->dact_floats / 2;
  float *g[2] = {m->dact, m->dact + slot};
  int cur = 0;
  const nn_layer *last = &m->layers[m->n_layers - 1];
  const float *y = m->act + last->out_off;

  /* gradient of (1/B) sum_i loss_i with respect to the last output */
  if (a->kind == NN_MODEL_CVAE) {
    const size_t count = (size_t)a->in_c * n * a->in_h * a->in_w;
    const double norm = a->rec == NN_REC_MEAN ? 1.0 / ((double)a->in_c * a->in_h * a->in_w) : 1.0;
    const float f = (float)(2.0 * norm * scale);
    const float *x = m->act + m->in_off;
    for (size_t i = 0; i < count; i++) g[cur][i] = f * (y[i] - x[i]);
  } else {
    for (int i = 0; i < n; i++)
      g[cur][i] = (float)(scale * ((double)nn_sigmoidf(y[i]) - m->label[i]));
  }

  for (int l = m->n_layers - 1; l >= 0; l--) {
    const nn_layer *L = &m->layers[l];
    float *din = l > 0 ? g[1 - cur] : NULL;
    const float *aux = L->type == NN_LAYER_SAMPLE ? m->act + L->aux_off : NULL;
    nn_layer_backward(L, m->params, m->grads, din, g[cur], m->act + L->in_off, m->act + L->out_off,
                      aux, m->work, n, m->prof ? &m->prof[l] : NULL);
    if (L->type == NN_LAYER_SAMPLE && din) {
      /* the KL term: d/dmu and d/dlogvar of beta/B * KL_i */
      const int lat = L->out_c;
      const float *ml = m->act + L->in_off;
      const double f = scale * a->beta;
      for (int i = 0; i < n; i++)
        for (int j = 0; j < lat; j++) {
          size_t q = (size_t)i * 2 * lat + j;
          double mu = ml[q], lv = ml[q + lat];
          double dmu = a->kl == NN_KL_PAPER ? 2.0 * mu : mu;
          double dlv = a->kl == NN_KL_PAPER ? exp(lv) - 0.5 : 0.5 * (exp(lv) - 1.0);
          din[q] += (float)(f * dmu);
          din[q + lat] += (float)(f * dlv);
        }
    }
    cur = 1 - cur;
  }
}

/* First non-finite element of a float array, or -1. */
static long first_bad(const float *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(p[i])) return (long)i;
  return -1;
}

dd_status nn_model_check_loss(const nn_model *m, uint64_t step, double loss) {
  if (isfinite(loss)) return DD_OK;
  const char *g = m->arch.cfg_group;
  const unsigned long long st = (unsigned long long)step;
  const int n = m->last_n > 0 ? m->last_n : 0;
  long e;
  const size_t in_count = (size_t)m->arch.in_c * m->arch.in_h * m->arch.in_w * n;
  const size_t P = (size_t)m->arch.in_h * m->arch.in_w;
  if (n > 0 && (e = first_bad(m->act + m->in_off, in_count)) >= 0)
    return DD_FAIL(DD_ERR_NUMERIC,
                   "%s: step %llu: loss is %g; the input batch holds a non-finite value "
                   "(sample %ld of the slice)",
                   g, st, loss, (long)(((size_t)e / P) % (size_t)n));
  for (int t = 0; t < m->n_tensors; t++)
    if ((e = first_bad(m->params + m->tensors[t].offset, m->tensors[t].size)) >= 0)
      return DD_FAIL(DD_ERR_NUMERIC,
                     "%s: step %llu: loss is %g; tensor '%s' holds a non-finite parameter "
                     "(element %ld)",
                     g, st, loss, m->tensors[t].name, e);
  for (int l = 0; l < m->n_layers && n > 0; l++) {
    const nn_layer *L = &m->layers[l];
    if ((e = first_bad(m->act + L->out_off, nn_layer_out_size(L) * n)) >= 0)
      return DD_FAIL(DD_ERR_NUMERIC,
                     "%s: step %llu: loss is %g; the output of layer '%s' is the first "
                     "non-finite tensor (element %ld)",
                     g, st, loss, L->name, e);
  }
  for (int t = 0; t < m->n_tensors; t++)
    if ((e = first_bad(m->grads + m->tensors[t].offset, m->tensors[t].size)) >= 0)
      return DD_FAIL(DD_ERR_NUMERIC,
                     "%s: step %llu: loss is %g; gradient of tensor '%s' is non-finite "
                     "(element %ld)",
                     g, st, loss, m->tensors[t].name, e);
  for (int i = 0; i < n; i++)
    if (!isfinite(m->loss[i]))
      return DD_FAIL(DD_ERR_NUMERIC,
                     "%s: step %llu: loss is %g; the loss head overflowed for sample %d "
                     "(tensors are finite; try a smaller learning rate)",
                     g, st, loss, i);
  return DD_FAIL(DD_ERR_NUMERIC,
                 "%s: step %llu: loss is %g although every tensor of this rank is finite "
                 "(another rank's slice, or the reduction, produced it)",
                 g, st, loss);
}

void nn_model_output_nchw(const nn_model *m, float *out) {
  const int n = m->last_n;
  const nn_layer *last = &m->layers[m->n_layers - 1];
  const float *y = m->act + last->out_off;
  const size_t P = (size_t)last->out_h * last->out_w;
  if (last->out_flat) {
    memcpy(out, y, sizeof *out * (size_t)n * last->out_c);
    return;
  }
  for (int i = 0; i < n; i++)
    for (int c = 0; c < last->out_c; c++)
      memcpy(out + ((size_t)i * last->out_c + c) * P, y + ((size_t)c * n + i) * P, sizeof *out * P);
}

void nn_model_latent(const nn_model *m, float *mu, float *logvar) {
  DD_ASSERT(m->sample_layer >= 0);
  const nn_layer *S = &m->layers[m->sample_layer];
  const int lat = S->out_c;
  const float *ml = m->act + S->in_off;
  for (int i = 0; i < m->last_n; i++) {
    if (mu) memcpy(mu + (size_t)i * lat, ml + (size_t)i * 2 * lat, sizeof *mu * lat);
    if (logvar)
      memcpy(logvar + (size_t)i * lat, ml + (size_t)i * 2 * lat + lat, sizeof *logvar * lat);
  }
}
