/* zig.c - ziggurat samplers for the standard normal and exponential
 * distributions, written from the description in G. Marsaglia and W. W.
 * Tsang, "The Ziggurat Method for Generating Random Variables", J. Stat.
 * Softw. 5(8) (2000): 128 layers of equal area for the normal (tail start
 * r = 3.442619855899), 256 for the exponential (r = 7.697117470131487).  The
 * per-event simulation draws thousands of variates; this keeps most of them
 * at one 32-bit word and a multiply. */
#include "det_internal.h"

#include <math.h>

#define ZN_R 3.442619855899
#define ZN_V 9.91256303526217e-3
#define ZE_R 7.697117470131487
#define ZE_V 3.949659822581572e-3
#define TWO31 2147483648.0
#define TWO32 4294967296.0

void det_zig_init(det_zig *z) {
  /* normal: layer i spans [0, x_i]; f(x) = exp(-x^2/2) */
  double dn = ZN_R, tn = dn, q = ZN_V / exp(-0.5 * dn * dn);
  z->kn[0] = (uint32_t)((dn / q) * TWO31);
  z->kn[1] = 0;
  z->wn[0] = q / TWO31;
  z->wn[127] = dn / TWO31;
  z->fn[0] = 1.0;
  z->fn[127] = exp(-0.5 * dn * dn);
  for (int i = 126; i >= 1; i--) {
    dn = sqrt(-2.0 * log(ZN_V / dn + exp(-0.5 * dn * dn)));
    z->kn[i + 1] = (uint32_t)((dn / tn) * TWO31);
    tn = dn;
    z->fn[i] = exp(-0.5 * dn * dn);
    z->wn[i] = dn / TWO31;
  }
  /* exponential: f(x) = exp(-x) */
  double de = ZE_R, te = de;
  q = ZE_V / exp(-de);
  z->ke[0] = (uint32_t)((de / q) * TWO32);
  z->ke[1] = 0;
  z->we[0] = q / TWO32;
  z->we[255] = de / TWO32;
  z->fe[0] = 1.0;
  z->fe[255] = exp(-de);
  for (int i = 254; i >= 1; i--) {
    de = -log(ZE_V / de + exp(-de));
    z->ke[i + 1] = (uint32_t)((de / te) * TWO32);
    te = de;
    z->fe[i] = exp(-de);
    z->we[i] = de / TWO32;
  }
}

double det_zig_normal_slow(const det_zig *z, dd_rng *r, int32_t hz, uint32_t iz) {
  for (;;) {
    double x = hz * z->wn[iz];
    if (iz == 0) { /* the tail beyond r: Marsaglia's exponential method */
      double xt, y;
      do {
        xt = -log(det_u01(r)) / ZN_R;
        y = -log(det_u01(r));
      } while (y + y < xt * xt);
      return hz > 0 ? ZN_R + xt : -ZN_R - xt;
    }
    /* the wedge between layers: accept under the density */
    if (z->fn[iz] + det_u01(r) * (z->fn[iz - 1] - z->fn[iz]) < exp(-0.5 * x * x)) return x;
    uint32_t u = det_u32(r);
    iz = u & 127u;
    hz = (int32_t)(u & ~127u);
    if ((uint32_t)(hz < 0 ? -(int64_t)hz : hz) < z->kn[iz]) return hz * z->wn[iz];
  }
}

double det_zig_exp_slow(const det_zig *z, dd_rng *r, uint32_t jz, uint32_t iz) {
  for (;;) {
    if (iz == 0) return ZE_R - log(det_u01(r)); /* memoryless tail */
    double x = jz * z->we[iz];
    if (z->fe[iz] + det_u01(r) * (z->fe[iz - 1] - z->fe[iz]) < exp(-x)) return x;
    uint32_t u = det_u32(r);
    iz = u & 255u;
    jz = u & ~255u;
    if (jz < z->ke[iz]) return jz * z->we[iz];
  }
}
