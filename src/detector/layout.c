/* layout.c - PMT array geometries (spec §3).  XENONnT: hexagonal lattice of
 * pitch 8.01 cm, top = lattice points with r <= 66.0 cm (253), bottom r <= 65.0
 * cm (241), matching XENONnT/strax_auxiliary_files pmt_positions_xenonnt.csv to
 * 0.007 cm.  XENON1T: top 127 in concentric rings (XENON1T/pax XENON1T.ini
 * `pmts`), bottom 121 on a hexagonal lattice of pitch 8.000 cm. */
#include "det_internal.h"

#include <math.h>

static void det_layout_fill_arrays(int kind, det_array *top, det_array *bottom);

/* Lattice points i a1 + j a2 within r_cut, in a fixed (j, i) order. */
static void hex_fill(det_array *a, double pitch, double angle1_deg, double angle2_deg,
                     double r_cut) {
  double a1x = pitch * cos(angle1_deg * DET_PI / 180.0),
         a1y = pitch * sin(angle1_deg * DET_PI / 180.0);
  double a2x = pitch * cos(angle2_deg * DET_PI / 180.0),
         a2y = pitch * sin(angle2_deg * DET_PI / 180.0);
  int nmax = (int)(2.0 * r_cut / pitch) + 2;
  a->n = 0;
  a->pitch_cm = pitch;
  for (int j = -nmax; j <= nmax; j++)
    for (int i = -nmax; i <= nmax; i++) {
      double x = i * a1x + j * a2x, y = i * a1y + j * a2y;
      if (x * x + y * y <= r_cut * r_cut) {
        DD_ASSERT(a->n < DET_MAX_PMT_TOP);
        a->x_cm[a->n] = (float)x;
        a->y_cm[a->n] = (float)y;
        a->qe[a->n] = 1.0f;
        a->n++;
      }
    }
}

/* Padding slots sit 1 km away: their S1 weight is the diffuse floor only,
 * and the per-event loops never report them. */
static void pad_array(det_array *a) {
  for (int i = a->n; i < DET_PMT_CAP; i++) {
    a->x_cm[i] = 1e5f;
    a->y_cm[i] = 1e5f;
    a->qe[i] = 0.0f;
  }
}

void det_layout_fill(int kind, det_array *top, det_array *bottom) {
  det_layout_fill_arrays(kind, top, bottom);
  pad_array(top);
  pad_array(bottom);
}

static void det_layout_fill_arrays(int kind, det_array *top, det_array *bottom) {
  if (kind == DET_LAYOUT_XENT) {
    /* a1 = (0, p), a2 = (p sqrt3/2, p/2): basis vectors at 90 and 30 degrees */
    hex_fill(top, 8.01, 90.0, 30.0, 66.0);
    hex_fill(bottom, 8.01, 90.0, 30.0, 65.0);
    return;
  }
  /* XENON1T top: ring k has 6k PMTs at r = 7.95 k cm, azimuth offsets phi_k. */
  static const double phi_k[7] = {0.0, 45.0, 15.0, 5.0, 0.0, 9.0, 5.0};
  top->n = 0;
  top->pitch_cm = 7.95;
  for (int k = 0; k <= 6; k++) {
    int n = k == 0 ? 1 : 6 * k;
    for (int j = 0; j < n; j++) {
      double phi = (phi_k[k] + j * 360.0 / n) * DET_PI / 180.0, r = 7.95 * k;
      top->x_cm[top->n] = (float)(r * cos(phi));
      top->y_cm[top->n] = (float)(r * sin(phi));
      top->qe[top->n] = 1.0f;
      top->n++;
    }
  }
  hex_fill(bottom, 8.000, 22.5, 82.5, 44.6);
}
