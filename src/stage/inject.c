/* inject.c - `ddscan export` (the configuration's analysis events as an
 * events file) and `ddscan inject` (a Poisson pseudo-data set of background
 * plus an optional WIMP signal, simulated through the detector, with its
 * truth in attributes).  Both are pure functions of (configuration, seed,
 * index): any rank count writes the same bytes of data. */
#define _POSIX_C_SOURCE 200809L
#include "ddscan/events.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Allgather, MPI_Gatherv */

#include "ddscan/detector.h" /* uses: det_model, det_event_simulate, det_events_simulate */
#include "ddscan/io.h"       /* uses: io_rows_split, io_attr_*, io_file_commit */
#include "ddscan/physics.h"  /* uses: phys_sampler, phys_er_dRdE, phys_dRdE, phys_nr_bg_dRdE */

static double sampler_draw(void *ctx, double u) {
  return phys_sampler_draw((const phys_sampler *)ctx, u);
}

/* ------------------------------------------------------------------ export */

dd_status stage_export(stage_ctx *x, const char *out, long long n_er, long long n_nr) {
  const par_world *w = x->w;
  const stage_params *p = x->p;
  det_model *det = NULL;
  phys_sampler q[2];
  memset(q, 0, sizeof q);
  det_event *ev = NULL;
  ev_record *rows = NULL;
  io_file *f = NULL;
  const long long n_tot = n_er + n_nr;
  long long first = 0, cnt = 0;
  io_rows_split(n_tot, w->rank, w->size, &first, &cnt);
  dd_status st = dd_calloc((void **)&det, 1, sizeof *det, "detector model");
  if (st == DD_OK) st = det_model_init(det, &p->detector, p->run.seed);
  if (st == DD_OK) st = phys_sampler_init_er(&q[DET_ER], &p->phys);
  if (st == DD_OK) st = phys_sampler_init_nr_ref(&q[DET_NR], &p->phys);
  if (st == DD_OK) st = dd_calloc((void **)&ev, (size_t)(cnt > 0 ? cnt : 1), sizeof *ev, "events");
  if (st == DD_OK)
    st = dd_calloc((void **)&rows, (size_t)(cnt > 0 ? cnt : 1), sizeof *rows, "event rows");
  /* row g < n_er: ER analysis event g; else NR analysis event g - n_er */
  for (long long i = 0; i < cnt && st == DD_OK; i++) {
    const long long g = first + i;
    const int cls = g < n_er ? DET_ER : DET_NR;
    uint64_t base, n_split;
    det_bank_range(&p->detector.bank, cls, DET_SPLIT_ANALYSIS, &base, &n_split);
    const uint64_t index = base + (uint64_t)(cls == DET_ER ? g : g - n_er);
    st = det_events_simulate(det, cls, p->run.seed, index, 1, sampler_draw, &q[cls], &ev[i], NULL);
    if (st == DD_OK) {
      ev[i].cls = cls;
      ev_record_from_event(&ev[i], cls == DET_ER ? EV_SOURCE_ER : EV_SOURCE_NR_REF, &rows[i]);
    }
  }
  st = par_agree(w, st);
  if (st == DD_OK) st = ev_file_write(w, out, det, rows, cnt, &f);
  if (st == DD_OK) st = io_attr_write_int(f, "/", "export_er_events", n_er);
  if (st == DD_OK) st = io_attr_write_int(f, "/", "export_nr_events", n_nr);
  if (st == DD_OK) st = io_attr_write_int(f, "/", "seed", p->run.seed);
  if (st == DD_OK)
    st = io_attr_write_string(f, "/", "description",
                              "ddscan export: the analysis events of the configuration (ER rows "
                              "first, then NR rows drawn from the NR reference spectrum)");
  if (st == DD_OK)
    st = io_file_commit(&f);
  else
    io_file_close(&f);
  if (st == DD_OK) dd_info("export: wrote %lld ER + %lld NR events to %s", n_er, n_nr, out);
  free(ev);
  free(rows);
  free(det);
  phys_sampler_free(&q[0]);
  phys_sampler_free(&q[1]);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "export");
}

/* ------------------------------------------------------------------ inject */

typedef struct wimp_ctx {
  const phys_params *p;
  double mass_gev, sigma_cm2;
} wimp_ctx;

static double dens_er(const void *ctx, double e) {
  return phys_er_dRdE((const phys_params *)ctx, e);
}
static double dens_nr_bg(const void *ctx, double e) {
  return phys_nr_bg_dRdE((const phys_params *)ctx, e);
}
static double dens_wimp(const void *ctx, double e) {
  const wimp_ctx *c = ctx;
  return phys_dRdE(c->p, c->mass_gev, c->sigma_cm2, e);
}

/* Tritium beta decay, an allowed transition: dN/dE ~ F(Z, E) p W (Q - E)^2
 * with W = E + m_e, p = sqrt(W^2 - m_e^2) and the non-relativistic Fermi
 * function F = 2 pi eta / (1 - exp(-2 pi eta)), eta = alpha Z W / p, Z = 2
 * (3He); Q = 18.591 keV (Krane, Introductory Nuclear Physics (1988) §9.3).
 * Unnormalised; the rate comes from --rate. */
double ev_tritium_density(const void *ctx, double e) {
  (void)ctx;
  const double me = 510.99895, q = EV_TRITIUM_Q_KEV, alpha = 1.0 / 137.035999;
  if (!(e > 0.0) || e >= q) return 0.0;
  const double W = e + me, pe = sqrt(W * W - me * me);
  const double x = 2.0 * 3.14159265358979323846 * alpha * 2.0 * W / pe;
  return x / (1.0 - exp(-x)) * pe * W * (q - e) * (q - e);
}

/* One accepted event and the time that orders the file. */
typedef struct inj_row {
  double time;   /* uniform in [0, 1): when in the exposure it happened */
  int64_t key;   /* source << 40 | draw: breaks ties, names the draw */
  ev_record rec; /* the row */
} inj_row;

static int inj_cmp(const void *a, const void *b) {
  const inj_row *x = a, *y = b;
  if (x->time != y->time) return x->time < y->time ? -1 : 1;
  return (x->key > y->key) - (x->key < y->key);
}

dd_status stage_inject(stage_ctx *x, const ev_inject_opts *o) {
  const par_world *w = x->w;
  const stage_params *p = x->p;
  const phys_params *ph = &p->phys;
  det_model *det = NULL;
  phys_sampler q[EV_N_SOURCES];
  memset(q, 0, sizeof q);
  double rate[EV_N_SOURCES] = {0, 0, 0, 0};
  long long drawn[EV_N_SOURCES] = {0, 0, 0, 0}, accepted[EV_N_SOURCES] = {0, 0, 0, 0};
  const int model = o->signal_model;
  int on[EV_N_SOURCES] = {1, ph->nr_bg.cevns_on || ph->nr_bg.neutrons_on, 0, 0};
  on[EV_SOURCE_SIGNAL] =
      model == EV_SIGNAL_WIMP ? o->sigma_cm2 > 0.0 : !(o->rate_ty <= 0.0); /* NAN: cevns default */
  const wimp_ctx wc = {ph, o->mass_gev, o->sigma_cm2};
  phys_params cevns = *ph; /* CEvNS alone */
  cevns.nr_bg.cevns_on = 1;
  cevns.nr_bg.neutrons_on = 0;
  if (cevns.nr_bg.cevns_scale <= 0.0) cevns.nr_bg.cevns_scale = 1.0;
  det_energy_flat_ctx line = {o->line_kev, o->line_kev};
  int cls_of[EV_N_SOURCES] = {DET_ER, DET_NR, DET_NR, DET_NR};
  det_energy_fn efn[EV_N_SOURCES] = {sampler_draw, sampler_draw, sampler_draw, sampler_draw};
  void *ectx[EV_N_SOURCES] = {&q[0], &q[1], &q[2], &q[3]};
  inj_row *mine = NULL, *all = NULL;
  det_event ev;
  io_file *f = NULL;
  dd_status st = dd_calloc((void **)&det, 1, sizeof *det, "detector model");
  if (st == DD_OK) st = det_model_init(det, &p->detector, p->run.seed);
  /* the sources' true spectra on the ranges the templates cover */
  const double lo_nr = ph->nr_ref.e_min_kev, hi_nr = ph->nr_ref.e_max_kev;
  const size_t np = (size_t)ph->sampler_points;
  if (st == DD_OK)
    st =
        phys_sampler_init_fn(&q[EV_SOURCE_ER], dens_er, ph, ph->er.e_min_kev, ph->er.e_max_kev, np);
  if (st == DD_OK && on[EV_SOURCE_NR_BKG])
    st = phys_sampler_init_fn(&q[EV_SOURCE_NR_BKG], dens_nr_bg, ph, lo_nr, hi_nr, np);
  const int sg = EV_SOURCE_SIGNAL;
  if (st == DD_OK && on[sg]) {
    switch (model) {
      case EV_SIGNAL_WIMP:
        st = phys_sampler_init_fn(&q[sg], dens_wimp, &wc, lo_nr, hi_nr, np);
        break;
      case EV_SIGNAL_CEVNS:
        st = phys_sampler_init_fn(&q[sg], dens_nr_bg, &cevns, lo_nr, hi_nr, np);
        break;
      case EV_SIGNAL_TRITIUM:
        cls_of[sg] = DET_ER;
        st = phys_sampler_init_fn(&q[sg], ev_tritium_density, NULL, 0.0, EV_TRITIUM_Q_KEV, np);
        break;
      default: /* the line: a fixed energy, no sampler */
        cls_of[sg] = DET_ER;
        efn[sg] = det_energy_flat;
        ectx[sg] = &line;
        break;
    }
  }
  if (st != DD_OK) goto done;
  /* the Poisson numbers of interactions: the same on every rank */
  long long n_all = 0, offs[EV_N_SOURCES + 1] = {0};
  for (int s = 0; s < EV_N_SOURCES; s++) {
    if (on[s]) {
      rate[s] = q[s].norm; /* events/(t y) over the range */
      if (s == sg && model != EV_SIGNAL_WIMP && o->rate_ty > 0.0) rate[s] = o->rate_ty;
      dd_rng r = dd_rng_for(o->seed, DD_STREAM_INJECT, (uint32_t)s, 0, 1);
      drawn[s] = (long long)dd_sample_poisson(&det->smp, &r, o->exposure_ty * rate[s]);
      if (drawn[s] > (long long)UINT32_MAX) {
        st = DD_FAIL(DD_ERR_ARG, "inject: %lld %s interactions exceed the 2^32 draw keys", drawn[s],
                     ev_source_name(s));
        goto done;
      }
    }
    offs[s + 1] = offs[s] + drawn[s];
  }
  n_all = offs[EV_N_SOURCES];
  long long first = 0, cnt = 0;
  io_rows_split(n_all, w->rank, w->size, &first, &cnt);
  st = dd_calloc((void **)&mine, (size_t)(cnt > 0 ? cnt : 1), sizeof *mine, "injected events");
  long long n_mine = 0;
  dd_progress prog;
  dd_progress_start(&prog, "inject", "draws", (double)cnt);
  for (long long g = first; g < first + cnt && st == DD_OK; g++) {
    int s = 0;
    while (g >= offs[s + 1]) s++;
    const uint32_t j = (uint32_t)(g - offs[s]);
    const int cls = cls_of[s];
    if (!det_event_simulate(det, cls, o->seed, DD_STREAM_INJECT, (uint32_t)s, j, 0, efn[s], ectx[s],
                            &ev))
      continue;
    ev.cls = cls;
    ev.index = (uint64_t)g;
    inj_row *r = &mine[n_mine++];
    dd_rng rt = dd_rng_for(o->seed, DD_STREAM_INJECT, (uint32_t)s, j, 2);
    r->time = dd_rng_uniform(&rt);
    r->key = ((int64_t)s << 40) | (int64_t)j;
    ev_record_from_event(&ev, s, &r->rec);
    if ((g - first) % 256 == 0) dd_progress_update(&prog, (double)(g - first));
  }
  dd_progress_end(&prog, (double)cnt);
  st = par_agree(w, st);
  if (st != DD_OK) goto done;
  /* accepted counts per source (integer sums: exact) */
  long long acc_loc[EV_N_SOURCES] = {0, 0, 0, 0};
  for (long long i = 0; i < n_mine; i++) acc_loc[mine[i].key >> 40]++;
  MPI_Allreduce(acc_loc, accepted, EV_N_SOURCES, MPI_LONG_LONG, MPI_SUM, w->comm);
  /* rank 0 gathers the accepted events, orders them by time and writes */
  long long n_acc = 0;
  for (int s = 0; s < EV_N_SOURCES; s++) n_acc += accepted[s];
  int *counts = NULL, *displs = NULL;
  const size_t rb = sizeof(inj_row);
  if (n_acc * (long long)rb > 2000000000LL) {
    st = DD_FAIL(DD_ERR_ARG, "inject: %lld accepted events are too many for one file write here",
                 n_acc);
    goto done;
  }
  int my_bytes = (int)(n_mine * (long long)rb);
  if (w->rank == 0) {
    st = dd_calloc((void **)&counts, (size_t)w->size, sizeof *counts, "gather counts");
    if (st == DD_OK) st = dd_calloc((void **)&displs, (size_t)w->size, sizeof *displs, "displs");
    if (st == DD_OK)
      st = dd_calloc((void **)&all, (size_t)(n_acc > 0 ? n_acc : 1), rb, "all injected events");
  }
  st = par_agree(w, st);
  if (st == DD_OK) {
    MPI_Gather(&my_bytes, 1, MPI_INT, counts, 1, MPI_INT, 0, w->comm);
    if (w->rank == 0)
      for (int r = 1; r < w->size; r++) displs[r] = displs[r - 1] + counts[r - 1];
    MPI_Gatherv(mine, my_bytes, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, w->comm);
  }
  free(counts);
  free(displs);
  if (st != DD_OK) goto done;
  ev_record *rows = NULL;
  if (w->rank == 0) {
    qsort(all, (size_t)n_acc, rb, inj_cmp);
    /* compact the records in place (rec is the tail of each inj_row) */
    rows = (ev_record *)malloc(sizeof *rows * (size_t)(n_acc > 0 ? n_acc : 1));
    if (!rows) st = DD_FAIL(DD_ERR_NOMEM, "inject rows");
    for (long long i = 0; i < n_acc && st == DD_OK; i++) {
      rows[i] = all[i].rec;
      rows[i].event_id = i;
    }
  }
  st = par_agree(w, st);
  if (st == DD_OK) st = ev_file_write(w, o->out, det, rows, w->rank == 0 ? n_acc : 0, &f);
  free(rows);
  struct {
    const char *name;
    double v;
  } dv[] = {{"exposure_ty", o->exposure_ty},
            {"inject_mass_gev", o->mass_gev},
            {"inject_sigma_cm2", o->sigma_cm2},
            {"inject_exposure_ty", o->exposure_ty}};
  for (size_t i = 0; i < sizeof dv / sizeof dv[0] && st == DD_OK; i++)
    st = io_attr_write_double(f, "/", dv[i].name, dv[i].v);
  if (st == DD_OK) st = io_attr_write_int(f, "/", "inject_seed", o->seed);
  if (st == DD_OK) st = io_attr_write_string(f, "/", "inject_signal_model", ev_signal_name(model));
  if (st == DD_OK)
    st = io_attr_write_double(f, "/", "inject_signal_rate_per_ty", on[sg] ? rate[sg] : 0.0);
  if (st == DD_OK && model == EV_SIGNAL_ER_LINE)
    st = io_attr_write_double(f, "/", "inject_line_kev", o->line_kev);
  if (st == DD_OK) st = io_attr_write_int(f, "/", "detector_seed", p->run.seed);
  for (int s = 0; s < 3 && st == DD_OK; s++) {
    char name[64];
    snprintf(name, sizeof name, "expected_interactions_%s", ev_source_name(s));
    st = io_attr_write_double(f, "/", name, o->exposure_ty * rate[s]);
    snprintf(name, sizeof name, "drawn_interactions_%s", ev_source_name(s));
    if (st == DD_OK) st = io_attr_write_int(f, "/", name, drawn[s]);
    snprintf(name, sizeof name, "accepted_events_%s", ev_source_name(s));
    if (st == DD_OK) st = io_attr_write_int(f, "/", name, accepted[s]);
  }
  if (st == DD_OK)
    st = io_attr_write_string(
        f, "/", "description",
        "ddscan inject: a Poisson pseudo-data set. expected_interactions_<source> = exposure x "
        "the source's rate integrated over its energy range (before the detector acceptance); "
        "drawn_interactions_<source> ~ Poisson(expected); accepted_events_<source> passed the "
        "acceptance and are the file's rows (ordered by a uniform time in the exposure)");
  if (st == DD_OK)
    st = io_file_commit(&f);
  else
    io_file_close(&f);
  if (st == DD_OK && w->rank == 0) {
    printf("# ddscan inject: %s (seed %u, exposure %g t*y, signal %s", o->out, o->seed,
           o->exposure_ty, ev_signal_name(model));
    if (model == EV_SIGNAL_WIMP)
      printf(": m = %g GeV, sigma = %g cm^2)\n", o->mass_gev, o->sigma_cm2);
    else if (model == EV_SIGNAL_ER_LINE)
      printf(" at %g keVee, %g per t*y)\n", o->line_kev, rate[sg]);
    else
      printf(", %g per t*y)\n", rate[sg]);
    printf("%-8s %14s %10s %10s\n", "source", "expected_int", "drawn", "accepted");
    for (int s = 0; s < 3; s++)
      if (on[s])
        printf("%-8s %14.4f %10lld %10lld\n", ev_source_name(s), o->exposure_ty * rate[s], drawn[s],
               accepted[s]);
    printf("%-8s %14s %10lld %10lld\n", "total", "", n_all, n_acc);
    fflush(stdout);
  }
done:
  free(mine);
  free(all);
  free(det);
  for (int s = 0; s < EV_N_SOURCES; s++) phys_sampler_free(&q[s]);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "inject");
}
