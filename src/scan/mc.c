/* mc.c - the classical baseline's own detector MC (issue 15): with
 * stats.classical.mc_events = N > 0 the scan simulates N ER and N NR events
 * at detector level (energy -> quanta -> cS1, cS2 with the bank's acceptance
 * and ROI; no images, no networks) from the stream DD_STREAM_CLASSICAL_MC and
 * fills the classical templates from them instead of from /scores.  The ER
 * sample carries the ER bias of the analysis split and its weights; the NR
 * sample is drawn from the NR reference spectrum and reweighted per mass and
 * to the NR backgrounds exactly as the scored NR events are
 * (docs/physics.md §8, docs/statistics.md §2.5).
 *
 * Rank r simulates the events [N r/size, N (r+1)/size) of each class (every
 * event is a pure function of (seed, class, index)); MPI_Allgatherv then gives
 * every rank all N records in index order, and the attempts are summed as
 * integers, so the templates built from them are bit-identical at any rank
 * count (no floating-point sum crosses ranks). */
#define _POSIX_C_SOURCE 200809L
#include "scan_internal.h"

#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Allgatherv, MPI_Allreduce */

static double sampler_draw(void *ctx, double u) {
  return phys_sampler_draw((const phys_sampler *)ctx, u);
}

/* Simulates this rank's share of class cls, fills its slice of the four
 * arrays (n each, allocated here), then gathers them on every rank. */
static dd_status simulate_class(scan_state *s, const det_model *m, int cls, phys_sampler *q, long n,
                                double **cs1, double **cs2, double **e, double **wt,
                                long long *draws) {
  const par_world *w = s->w;
  long lo = (long)((long long)n * w->rank / w->size);
  long hi = (long)((long long)n * (w->rank + 1) / w->size);
  double **arr[4] = {cs1, cs2, e, wt};
  dd_status st = DD_OK;
  for (int k = 0; k < 4 && st == DD_OK; k++)
    st = dd_calloc((void **)arr[k], (size_t)(n > 0 ? n : 1), sizeof(double), "classical MC");
  det_event *ev = NULL;
  if (st == DD_OK) st = dd_calloc((void **)&ev, 1, sizeof *ev, "classical MC event");
  long long mine = 0;
  for (long i = lo; i < hi && st == DD_OK; i++) {
    st = det_event_sample_mc(m, cls, s->job->seed, (uint64_t)i, sampler_draw, q, ev);
    if (st != DD_OK) break;
    (*cs1)[i] = ev->cs1_pe;
    (*cs2)[i] = ev->cs2_pe;
    (*e)[i] = ev->energy_kev;
    (*wt)[i] = ev->weight;
    mine += ev->attempts;
  }
  free(ev);
  st = par_agree(w, st);
  if (st != DD_OK) return DD_CONTEXT(st, "classical %s MC", cls == DET_ER ? "ER" : "NR");
  int *counts = NULL, *displs = NULL;
  st = dd_calloc((void **)&counts, (size_t)w->size, sizeof *counts, "classical MC");
  if (st == DD_OK)
    st = dd_calloc((void **)&displs, (size_t)w->size, sizeof *displs, "classical MC");
  st = par_agree(w, st);
  if (st == DD_OK) {
    for (int r = 0; r < w->size; r++) {
      displs[r] = (int)((long long)n * r / w->size);
      counts[r] = (int)((long long)n * (r + 1) / w->size) - displs[r];
    }
    for (int k = 0; k < 4; k++)
      MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, *arr[k], counts, displs, MPI_DOUBLE,
                     w->comm);
    MPI_Allreduce(&mine, draws, 1, MPI_LONG_LONG, MPI_SUM, w->comm);
  }
  free(counts);
  free(displs);
  return st;
}

dd_status scan_classical_mc(scan_state *s) {
  const scan_job *j = s->job;
  long n = (long)j->stats->classical.mc_events;
  double t0 = dd_time_now();
  det_model *m = NULL;
  phys_sampler q_er;
  memset(&q_er, 0, sizeof q_er);
  dd_status st = dd_calloc((void **)&m, 1, sizeof *m, "detector model");
  if (st == DD_OK) st = det_model_init(m, j->det, j->seed);
  if (st == DD_OK) st = phys_sampler_init_er(&q_er, j->phys);
  st = par_agree(s->w, st);
  double *e_er = NULL;
  if (st == DD_OK)
    st = simulate_class(s, m, DET_ER, &q_er, n, &s->cl_er_cs1, &s->cl_er_cs2, &e_er, &s->cl_er_w,
                        &s->cl_er_draws);
  if (st == DD_OK)
    st = simulate_class(s, m, DET_NR, &s->q_nr, n, &s->cl_nr_cs1, &s->cl_nr_cs2, &s->cl_nr_e,
                        &s->cl_nr_w_sig, &s->cl_nr_draws);
  if (st == DD_OK) {
    /* ER: background rate weight times the bias weight p/q (held in cl_er_w) */
    for (long i = 0; i < n; i++)
      s->cl_er_w[i] *= phys_weight_er(j->phys, &q_er, e_er[i]) / (double)s->cl_er_draws;
    /* the NR draws are unbiased (weight 1): cl_nr_w_sig holds the mass's weights later */
    if (s->nr_bkg) {
      st = dd_calloc((void **)&s->cl_nr_w_bg, (size_t)(n > 0 ? n : 1), sizeof(double),
                     "classical NR-background weights");
      for (long i = 0; st == DD_OK && i < n; i++)
        s->cl_nr_w_bg[i] =
            phys_weight_nr_bg(j->phys, &s->q_nr, s->cl_nr_e[i]) / (double)s->cl_nr_draws;
    }
    st = par_agree(s->w, st);
  }
  free(e_er);
  phys_sampler_free(&q_er);
  if (m) det_model_free(m);
  free(m);
  if (st != DD_OK) return DD_CONTEXT(st, "classical detector MC");
  s->cl_n_er = s->cl_n_nr = n;
  s->cl_mc_on = 1;
  s->cl_mc_seconds = dd_time_now() - t0;
  dd_info(
      "scan: classical detector MC: %ld ER (%lld draws) + %ld NR (%lld draws) events in "
      "%.1f s on %d rank(s)",
      n, s->cl_er_draws, n, s->cl_nr_draws, s->cl_mc_seconds, s->w->size);
  return DD_OK;
}

void scan_classical_weights(const scan_state *s, int im, double *w) {
  const scan_job *j = s->job;
  phys_weights_nr(j->phys, &s->q_nr, j->grid->mass_gev[im], j->phys->sigma_ref_cm2, s->cl_nr_e,
                  (size_t)s->cl_n_nr, w);
  for (long i = 0; i < s->cl_n_nr; i++) w[i] /= (double)s->cl_nr_draws;
}
