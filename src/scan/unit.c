/* unit.c - one work unit (mass, R) of the scan: the TS template at R and the
 * classical (cS1, log10 cS2/cS1) template, with the NR bank reweighted to the
 * unit's mass; every configured method at every (sigma, exposure) (the
 * homogeneity fast path of spec §6.2 where it holds, toys per point); the
 * 5-sigma contour sigma5(E) (§6.3-6.4); then its slices are written and the
 * unit is marked done.  A unit's numbers depend only on its indices (the
 * R-independent classical results are reused within a rank, bit for bit). */
#include "scan_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

uint32_t scan_point_id(const scan_params *g, int im, int is, int ie, int ir) {
  long long id = (((long long)im * g->n_sigma + is) * g->n_exposure + ie) * g->n_r + ir;
  return (uint32_t)id; /* the scan's state_init checks that every id fits */
}

/* Saves (save = 1) or restores the classical slot's results of a mass. */
static void classical_cache(scan_state *s, int save) {
  const scan_params *g = s->job->grid;
  size_t nse = (size_t)g->n_sigma * g->n_exposure, ne = (size_t)g->n_exposure;
  size_t nme = (size_t)g->n_methods * ne, nb = STATS_N_BAND;
  size_t off = (size_t)s->cl_slot * nse, off_e = (size_t)s->cl_slot * ne;
  double *c = s->cl_cache;
  double *dst[8] = {
      s->p + off,     s->z + off,      s->logp + off,       s->sig5 + off_e,
      s->mcr + off_e, s->sig3 + off_e, s->lim + off_e * nb, s->lim + (nme + off_e) * nb};
  size_t len[8] = {nse, nse, nse, ne, ne, ne, ne * nb, ne * nb};
  for (int k = 0; k < 8; k++) {
    if (save)
      memcpy(c, dst[k], len[k] * sizeof *c);
    else
      memcpy(dst[k], c, len[k] * sizeof *c);
    c += len[k];
  }
  /* the error part of the classical limits is NaN (asymptotic) */
  if (!save)
    for (size_t i = 0; i < ne * nb; i++) s->lim[(2 * nme + off_e) * nb + i] = NAN;
  int32_t *fl[3] = {s->flags + off_e, s->flags3 + off_e, s->lim_flags + off_e};
  for (int k = 0; k < 3; k++) {
    if (save)
      memcpy(s->cl_cache_flags + k * ne, fl[k], ne * sizeof *s->flags);
    else
      memcpy(fl[k], s->cl_cache_flags + k * ne, ne * sizeof *s->flags);
  }
}

/* Evaluates every (sigma, exposure) of method slot mi on template t. */
static dd_status eval_method(scan_state *s, int mi, const stats_template *t, int im, int ir) {
  const scan_job *j = s->job;
  const scan_params *g = j->grid;
  stats_method m = g->methods[mi];
  double sigma_ref = s->sig_ref;
  int ne = g->n_exposure;
  for (int is = 0; is < g->n_sigma; is++) {
    double mu = g->sigma_cm2[is] / sigma_ref;
    size_t off = ((size_t)mi * g->n_sigma + is) * ne;
    if (m == STATS_METHOD_TOYS) {
      for (int ie = 0; ie < ne; ie++) {
        stats_toy_result tr;
        DD_TRY(stats_toys_eval(t, j->stats, STATS_TOY_Q0, mu, g->exposure_ty[ie], j->seed,
                               scan_point_id(g, im, is, ie, ir), &s->work, &tr),
               "toys at sigma %g cm^2, exposure %g t*y", g->sigma_cm2[is], g->exposure_ty[ie]);
        s->p[off + ie] = tr.p_h0;
        s->perr[off + ie] = tr.p_h0_err;
        if (!(tr.p_h0_err <= j->stats->toys_max_rel_err * tr.p_h0)) s->n_toy_err++;
        s->z[off + ie] = tr.z_h0;
        s->logp[off + ie] = tr.log_p_h0;
      }
    } else {
      DD_TRY(stats_p_vs_exposure(t, j->stats, m, mu, g->exposure_ty, ne, &s->work, s->p + off,
                                 s->z + off, s->logp + off),
             "%s at sigma %g cm^2", stats_method_name(m), g->sigma_cm2[is]);
    }
  }
  /* the contour's toys get ids after every grid point's */
  uint32_t cpoint = (uint32_t)(s->n_points + (long long)im * g->n_r + ir);
  DD_TRY(stats_contour_z_err(t, j->stats, m, STATS_Z_DISCOVERY, g->exposure_ty, ne, j->seed, cpoint,
                             &s->work, s->mu5, s->err_e, s->uflags),
         "%s 5-sigma contour", stats_method_name(m));
  for (int ie = 0; ie < ne; ie++) s->sig5err[(size_t)mi * ne + ie] = s->err_e[ie] * sigma_ref;
  for (int ie = 0; ie < ne; ie++) {
    const double mu5 = s->mu5[ie];
    /* how much to trust the point: MC-to-data ratio where the significance is */
    const double r = mu5 > 0.0 && isfinite(mu5)
                         ? stats_mc_ratio(t, j->stats, mu5, g->exposure_ty[ie], &s->work, NULL)
                         : NAN;
    if (r < j->stats->mc_ratio_min) s->uflags[ie] |= STATS_FLAG_MC_RATIO;
    s->sig5[(size_t)mi * ne + ie] = mu5 * sigma_ref;
    s->flags[(size_t)mi * ne + ie] = (int32_t)s->uflags[ie];
    s->mcr[(size_t)mi * ne + ie] = r;
  }
  /* 3-sigma evidence contour (same toy stream as the 5-sigma one) */
  DD_TRY(stats_contour_z(t, j->stats, m, STATS_Z_EVIDENCE, g->exposure_ty, ne, j->seed, cpoint,
                         &s->work, s->mu5, s->uflags),
         "%s 3-sigma contour", stats_method_name(m));
  for (int ie = 0; ie < ne; ie++) {
    s->sig3[(size_t)mi * ne + ie] = s->mu5[ie] * sigma_ref;
    s->flags3[(size_t)mi * ne + ie] = (int32_t)s->uflags[ie];
  }
  /* expected upper limits; the limit toys get ids after every contour's */
  uint32_t lpoint = (uint32_t)(s->n_points + scan_n_units(g) + (long long)im * g->n_r + ir);
  size_t nb = STATS_N_BAND, part = (size_t)ne * nb;
  double *lm = s->lim_mu;
  DD_TRY(stats_limits(t, j->stats, m, g->exposure_ty, ne, j->seed, lpoint, &s->work, lm, lm + part,
                      lm + 2 * part, s->lim_uflags),
         "%s upper limits", stats_method_name(m));
  size_t nme = (size_t)g->n_methods * ne;
  for (int k = 0; k < 3; k++)
    for (size_t i = 0; i < part; i++)
      s->lim[(k * nme + (size_t)mi * ne) * nb + i] = lm[k * part + i] * sigma_ref;
  for (int ie = 0; ie < ne; ie++) s->lim_flags[(size_t)mi * ne + ie] = (int32_t)s->lim_uflags[ie];
  return DD_OK;
}

/* The TS template into ts_buf rows (edges, bkg, bkg_w2, sig, sig_w2, nrb,
 * nrb_w2), each padded with NaN to the fixed bin count; MC counts with 0. */
static void pack_ts(scan_state *s, const stats_template *t) {
  int kmax = s->ts_kmax, stride = kmax + 1;
  double *e = s->ts_buf;
  for (int r = 0; r < 7; r++)
    for (int i = 0; i < stride; i++) e[r * stride + i] = NAN;
  for (int i = 0; i <= t->k; i++) e[i] = t->edges[i];
  for (int i = 0; i < kmax; i++) s->ts_mc[i] = i < t->k ? (int64_t)t->beta_n[i] : 0;
  const double *src[6] = {t->beta, t->beta_w2, t->alpha, t->alpha_w2, t->nrb, t->nrb_w2};
  for (int r = 0; r < 6; r++)
    if (src[r])
      for (int i = 0; i < t->k; i++) e[(r + 1) * stride + i] = src[r][i];
}

/* The parts of cl_buf: x edges (nx+1), y edges (nx, ny+1), then bkg, bkg_w2,
 * sig, sig_w2, nrb, nrb_w2 (nx ny each). */
static void parts_of(scan_state *s, double **parts) {
  int nx = s->cl_nx, ny = s->cl_ny, nxy = nx * ny;
  parts[0] = s->cl_buf;
  parts[1] = parts[0] + nx + 1;
  for (int r = 0; r < 6; r++) parts[2 + r] = parts[1] + (size_t)nx * (ny + 1) + (size_t)r * nxy;
}

/* The classical template into cl_buf (kept for the next unit of its mass). */
static void pack_classical(scan_state *s, const stats_template *t) {
  int nx = s->cl_nx, ny = s->cl_ny, nxy = nx * ny;
  double *parts[8];
  parts_of(s, parts);
  memcpy(parts[0], t->edges, (size_t)(nx + 1) * sizeof(double));
  memcpy(parts[1], t->y_edges, (size_t)nx * (ny + 1) * sizeof(double));
  const double *src[6] = {t->beta, t->beta_w2, t->alpha, t->alpha_w2, t->nrb, t->nrb_w2};
  for (int r = 0; r < 6; r++)
    for (int i = 0; i < nxy; i++) parts[2 + r][i] = src[r] ? src[r][i] : NAN;
  for (int i = 0; i < nxy; i++) s->cl_mc[i] = (int64_t)t->beta_n[i];
}

static dd_status put(scan_state *s, scan_ud id, long long unit, io_type type, const void *buf) {
  if (s->ud_k[id] < 0) return DD_OK;
  return io_unit_write(s->units, s->ud_k[id], unit, type, buf);
}

static dd_status write_unit(scan_state *s, long long unit, const stats_template *ts) {
  int stride = s->ts_kmax + 1;
  const double *e = s->ts_buf;
  int32_t nb = (int32_t)ts->k;
  DD_TRY(put(s, UD_P, unit, IO_F64, s->p), "p-values");
  DD_TRY(put(s, UD_Z, unit, IO_F64, s->z), "Z");
  DD_TRY(put(s, UD_LOGP, unit, IO_F64, s->logp), "log p");
  DD_TRY(put(s, UD_P_ERR, unit, IO_F64, s->perr), "toy p errors");
  DD_TRY(put(s, UD_SIG5, unit, IO_F64, s->sig5), "contours");
  DD_TRY(put(s, UD_FLAGS, unit, IO_I32, s->flags), "contour flags");
  DD_TRY(put(s, UD_MC_RATIO, unit, IO_F64, s->mcr), "MC-to-data ratios");
  size_t nlim = (size_t)s->job->grid->n_methods * s->job->grid->n_exposure * STATS_N_BAND;
  DD_TRY(put(s, UD_SIG5_ERR, unit, IO_F64, s->sig5err), "contour errors");
  DD_TRY(put(s, UD_SIG3, unit, IO_F64, s->sig3), "3-sigma contours");
  DD_TRY(put(s, UD_FLAGS3, unit, IO_I32, s->flags3), "3-sigma contour flags");
  DD_TRY(put(s, UD_LIM_CLSB, unit, IO_F64, s->lim), "CLs+b limits");
  DD_TRY(put(s, UD_LIM_CLS, unit, IO_F64, s->lim + nlim), "CLs limits");
  DD_TRY(put(s, UD_LIM_ERR, unit, IO_F64, s->lim + 2 * nlim), "limit errors");
  DD_TRY(put(s, UD_LIM_FLAGS, unit, IO_I32, s->lim_flags), "limit flags");
  DD_TRY(put(s, UD_TS_EDGES, unit, IO_F64, e), "TS edges");
  DD_TRY(put(s, UD_TS_NBINS, unit, IO_I32, &nb), "TS bins");
  DD_TRY(put(s, UD_TS_BKG, unit, IO_F64, e + stride), "TS template");
  DD_TRY(put(s, UD_TS_BKG_W2, unit, IO_F64, e + 2 * stride), "TS template");
  DD_TRY(put(s, UD_TS_BKG_MC, unit, IO_I64, s->ts_mc), "TS template");
  DD_TRY(put(s, UD_TS_SIG, unit, IO_F64, e + 3 * stride), "TS template");
  DD_TRY(put(s, UD_TS_SIG_W2, unit, IO_F64, e + 4 * stride), "TS template");
  DD_TRY(put(s, UD_TS_NRB, unit, IO_F64, e + 5 * stride), "TS template");
  DD_TRY(put(s, UD_TS_NRB_W2, unit, IO_F64, e + 6 * stride), "TS template");
  if (s->has_classical) {
    double *parts[8];
    parts_of(s, parts);
    DD_TRY(put(s, UD_CL_X, unit, IO_F64, parts[0]), "classical template");
    DD_TRY(put(s, UD_CL_Y, unit, IO_F64, parts[1]), "classical template");
    DD_TRY(put(s, UD_CL_BKG, unit, IO_F64, parts[2]), "classical template");
    DD_TRY(put(s, UD_CL_BKG_W2, unit, IO_F64, parts[3]), "classical template");
    DD_TRY(put(s, UD_CL_BKG_MC, unit, IO_I64, s->cl_mc), "classical template");
    DD_TRY(put(s, UD_CL_SIG, unit, IO_F64, parts[4]), "classical template");
    DD_TRY(put(s, UD_CL_SIG_W2, unit, IO_F64, parts[5]), "classical template");
    DD_TRY(put(s, UD_CL_NRB, unit, IO_F64, parts[6]), "classical template");
    DD_TRY(put(s, UD_CL_NRB_W2, unit, IO_F64, parts[7]), "classical template");
  }
  return DD_OK;
}

dd_status scan_unit_run(void *ctx, long long unit) {
  scan_state *s = ctx;
  const scan_job *j = s->job;
  const scan_params *g = j->grid;
  double t0 = dd_time_now(), sigma_ref = s->sig_ref;
  int im, ir;
  scan_unit_decode(g, unit, &im, &ir);
  /* consecutive units share a mass (u = im n_r + ir): reweight once */
  if (s->n_sg == 0 && s->sig_mass != im) {
    scan_mass_weights(s, im, s->nr_w_sig);
    s->sig_mass = im;
  }
  stats_events bkg = {s->n_er, s->er_ltot, s->er_hb, s->er_w};
  stats_events sig = {s->n_nr, s->nr_ltot, s->nr_hb, s->nr_w_sig};
  stats_events2d sig2 = {s->n_nr, s->nr_cs1, s->nr_cs2, s->nr_w_sig};
  if (s->n_sg > 0) { /* a non-WIMP signal.model: its own sample, one weight per event */
    sig = (stats_events){s->n_sg, s->sg_ltot, s->sg_hb, s->sg_w};
    sig2 = (stats_events2d){s->n_sg, s->sg_cs1, s->sg_cs2, s->sg_w};
  }
  stats_events nrb = {s->n_nr, s->nr_ltot, s->nr_hb, s->nr_w_bg};
  stats_events2d bkg2 = {s->n_er, s->er_cs1, s->er_cs2, s->er_w};
  stats_events2d nrb2 = {s->n_nr, s->nr_cs1, s->nr_cs2, s->nr_w_bg};
  if (s->cl_mc_on) { /* the classical baseline's own detector MC (mc.c) */
    bkg2 = (stats_events2d){s->cl_n_er, s->cl_er_cs1, s->cl_er_cs2, s->cl_er_w};
    if (s->n_sg == 0) /* a non-WIMP signal keeps its own sample's (cS1, cS2) */
      sig2 = (stats_events2d){s->cl_n_nr, s->cl_nr_cs1, s->cl_nr_cs2, s->cl_nr_w_sig};
    nrb2 = (stats_events2d){s->cl_n_nr, s->cl_nr_cs1, s->cl_nr_cs2, s->cl_nr_w_bg};
  }
  stats_template ts, cl;
  memset(&ts, 0, sizeof ts);
  memset(&cl, 0, sizeof cl);
  dd_status st = stats_template_build(&ts, &j->stats->binning, &bkg, &sig, s->nr_bkg ? &nrb : NULL,
                                      g->r[ir], sigma_ref);
  int cl_fresh = s->has_classical && s->cl_mass != im;
  if (st == DD_OK && cl_fresh) {
    s->cl_mass = -1; /* invalid until it is complete */
    if (s->cl_mc_on && s->n_sg == 0) scan_classical_weights(s, im, s->cl_nr_w_sig);
    st = stats_template_build_2d(&cl, &j->stats->classical, &bkg2, &sig2, s->nr_bkg ? &nrb2 : NULL,
                                 sigma_ref);
  }
  for (int mi = 0; mi < g->n_methods && st == DD_OK; mi++) {
    if (g->methods[mi] != STATS_METHOD_CLASSICAL)
      st = eval_method(s, mi, &ts, im, ir);
    else if (cl_fresh)
      st = eval_method(s, mi, &cl, im, ir);
  }
  if (st == DD_OK && cl_fresh) {
    pack_classical(s, &cl);
    classical_cache(s, 1);
    s->cl_mass = im;
  } else if (st == DD_OK && s->has_classical) {
    classical_cache(s, 0);
  }
  if (st == DD_OK) {
    pack_ts(s, &ts);
    st = write_unit(s, unit, &ts);
  }
  if (st == DD_OK) st = io_unit_done(s->units, unit);
  stats_template_free(&ts);
  stats_template_free(&cl);
  if (st != DD_OK)
    return DD_CONTEXT(st, "work unit %lld (mass %g GeV, R %g)", unit, g->mass_gev[im], g->r[ir]);
  double dt = dd_time_now() - t0;
  s->t_units += dt;
  dd_debug("scan: unit %lld (mass %g GeV, R %g) done in %.3f s", unit, g->mass_gev[im], g->r[ir],
           dt);
  return DD_OK;
}
