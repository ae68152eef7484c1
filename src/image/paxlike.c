/* paxlike.c - the optional `paxlike` RGB rendering (spec §6.4): what Khosa et
 * al.'s pax HitPeak PNGs look like, drawn analytically in the 800x800-pixel
 * frame of the original matplotlib figure and box-filtered to 75x75 (8x8
 * sub-samples per output pixel): white background, blank top strip, PMT discs
 * of 20 px in viridis(LogNorm 0.1-1e4 PE) at alpha 0.4, the TPC wall circle,
 * red/orange crosses at the reconstructed position, black step lines of the
 * waveforms normalised to [0, 1.1 max].  For visual comparison only. */
#include <math.h>

#include "img_internal.h"

/* matplotlib viridis at 33 evenly spaced points (colormap data is CC0) */
static const float k_viridis[33][3] = {
    {0.2670f, 0.0049f, 0.3294f}, {0.2770f, 0.0503f, 0.3757f}, {0.2823f, 0.0950f, 0.4173f},
    {0.2829f, 0.1359f, 0.4534f}, {0.2788f, 0.1755f, 0.4834f}, {0.2706f, 0.2141f, 0.5071f},
    {0.2590f, 0.2515f, 0.5247f}, {0.2450f, 0.2877f, 0.5373f}, {0.2297f, 0.3224f, 0.5457f},
    {0.2143f, 0.3556f, 0.5512f}, {0.1994f, 0.3876f, 0.5546f}, {0.1856f, 0.4186f, 0.5568f},
    {0.1727f, 0.4488f, 0.5579f}, {0.1607f, 0.4785f, 0.5581f}, {0.1490f, 0.5081f, 0.5573f},
    {0.1378f, 0.5375f, 0.5549f}, {0.1276f, 0.5669f, 0.5506f}, {0.1206f, 0.5964f, 0.5436f},
    {0.1206f, 0.6258f, 0.5335f}, {0.1323f, 0.6550f, 0.5197f}, {0.1579f, 0.6838f, 0.5017f},
    {0.1966f, 0.7118f, 0.4792f}, {0.2461f, 0.7389f, 0.4520f}, {0.3041f, 0.7647f, 0.4199f},
    {0.3692f, 0.7889f, 0.3829f}, {0.4401f, 0.8111f, 0.3410f}, {0.5160f, 0.8312f, 0.2943f},
    {0.5958f, 0.8487f, 0.2433f}, {0.6785f, 0.8637f, 0.1895f}, {0.7624f, 0.8764f, 0.1371f},
    {0.8456f, 0.8873f, 0.0997f}, {0.9261f, 0.8973f, 0.1041f}, {0.9932f, 0.9062f, 0.1439f}};

void img_viridis(double v, float rgb[3]) {
  double x = (v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v)) * 32.0;
  int i = (int)x;
  if (i >= 32) i = 31;
  double f = x - i;
  for (int c = 0; c < 3; c++)
    rgb[c] = (float)(k_viridis[i][c] * (1.0 - f) + k_viridis[i + 1][c] * f);
}

/* Panel boxes in the 800-px frame (tight_layout with axes off, then top =
 * 0.88): x0, x1, y0, y1 for A, B (top row) and C, D (bottom row). */
static const double k_box[4][4] = {{15.0, 392.0, 96.0, 433.0},
                                   {407.0, 785.0, 96.0, 433.0},
                                   {15.0, 392.0, 448.0, 785.0},
                                   {407.0, 785.0, 448.0, 785.0}};
#define FRAME 800.0
#define SUB 8
#define DISC_R 10.0    /* marker area s = 200 pt^2 -> about 20 px diameter */
#define LINE_HALF 0.7  /* 1.4-px lines */
#define CROSS_HALF 9.7 /* markersize 14 pt = 19.4 px */
#define CROSS_W 2.1    /* markeredgewidth 3 pt = 4.2 px */

static void blend(float *c, const float *col, float alpha) {
  for (int k = 0; k < 3; k++) c[k] = (1.0f - alpha) * c[k] + alpha * col[k];
}

/* Distance of (x, y) to a "x" cross centred at (cx, cy) within its arms. */
static int on_cross(double x, double y, double cx, double cy) {
  double dx = x - cx, dy = y - cy;
  if (fabs(dx) > CROSS_HALF + CROSS_W || fabs(dy) > CROSS_HALF + CROSS_W) return 0;
  double d1 = fabs(dx - dy) / sqrt(2.0), d2 = fabs(dx + dy) / sqrt(2.0);
  double along1 = fabs(dx + dy) / sqrt(2.0), along2 = fabs(dx - dy) / sqrt(2.0);
  double arm = CROSS_HALF * sqrt(2.0);
  return (d1 <= CROSS_W && along1 <= arm) || (d2 <= CROSS_W && along2 <= arm);
}

typedef struct hit_ctx {
  const det_array *arr;
  const float *area;
  float col[DET_MAX_PMT_TOP][3];
  double px[DET_MAX_PMT_TOP], py[DET_MAX_PMT_TOP]; /* disc centres, frame px */
  double sx, sy, ox, oy;                           /* world cm -> frame px */
  double wall_rx, wall_ry, wx, wy;                 /* wall ellipse radii and centre */
  double cx, cy;                                   /* cross centre */
  int red;
} hit_ctx;

static void hit_setup(const img_renderer *r, hit_ctx *h, int panel, const det_array *arr,
                      const float *area, double xr, double yr) {
  const double *b = k_box[panel], half = r->world_half_cm;
  h->arr = arr;
  h->area = area;
  h->sx = (b[1] - b[0]) / (2.0 * half);
  h->sy = (b[3] - b[2]) / (2.0 * half);
  h->ox = b[0];
  h->oy = b[2];
  for (int i = 0; i < arr->n; i++) {
    h->px[i] = h->ox + (arr->x_cm[i] + half) * h->sx;
    h->py[i] = h->oy + (half - arr->y_cm[i]) * h->sy;
    double a = area[i];
    img_viridis(a > 0.0 ? (log10(a) + 1.0) / 5.0 : 0.0, h->col[i]);
  }
  h->wall_rx = r->det->p.tpc_radius_cm * h->sx;
  h->wall_ry = r->det->p.tpc_radius_cm * h->sy;
  h->wx = h->ox + half * h->sx;
  h->wy = h->oy + half * h->sy;
  h->cx = h->ox + (xr + half) * h->sx;
  h->cy = h->oy + (half - yr) * h->sy;
  h->red = panel == 1;
}

static void hit_colour(const hit_ctx *h, double x, double y, float *c) {
  for (int i = 0; i < h->arr->n; i++) {
    if (!(h->area[i] > 0.0f)) continue; /* LogNorm masks 0 PE */
    double dx = x - h->px[i], dy = y - h->py[i];
    if (dx * dx + dy * dy <= DISC_R * DISC_R) blend(c, h->col[i], 0.4f);
  }
  /* wall circle (axes not equal-aspect: an ellipse in pixels) */
  double ex = (x - h->wx) / h->wall_rx, ey = (y - h->wy) / h->wall_ry;
  double rr = sqrt(ex * ex + ey * ey), rpx = 0.5 * (h->wall_rx + h->wall_ry);
  if (fabs(rr - 1.0) * rpx <= LINE_HALF) c[0] = c[1] = c[2] = 0.0f;
  static const float orange[3] = {1.0f, 0.647f, 0.0f}, red[3] = {1.0f, 0.0f, 0.0f};
  if (on_cross(x, y, h->cx, h->cy)) {
    blend(c, orange, 0.4f);
    if (h->red) blend(c, red, 1.0f);
  }
}

typedef struct wave_ctx {
  const float *w;
  double x0, x1, y0, y1, top;
} wave_ctx;

static void wave_setup(wave_ctx *v, int panel, const float *w) {
  const double *b = k_box[panel];
  double wmax = 0.0;
  for (int k = 0; k < DET_WF_COLS; k++)
    if (w[k] > wmax) wmax = w[k];
  v->w = w;
  v->x0 = b[0];
  v->x1 = b[1];
  v->y0 = b[2];
  v->y1 = b[3];
  v->top = wmax > 0.0 ? 1.1 * wmax : 1.0;
}

static double wave_y(const wave_ctx *v, int k) {
  return v->y1 - (v->y1 - v->y0) * (v->w[k] > 0.0f ? v->w[k] : 0.0) / v->top;
}

static void wave_colour(const wave_ctx *v, double x, double y, float *c) {
  double cw = (v->x1 - v->x0) / DET_WF_COLS;
  int k = (int)floor((x - v->x0) / cw);
  if (k < 0 || k >= DET_WF_COLS) return;
  double yk = wave_y(v, k);
  int on = fabs(y - yk) <= LINE_HALF;
  /* vertical risers at the column edges */
  double xl = v->x0 + k * cw, xr = xl + cw;
  if (!on && k > 0 && fabs(x - xl) <= LINE_HALF) {
    double ya = wave_y(v, k - 1);
    on = y >= fmin(ya, yk) - LINE_HALF && y <= fmax(ya, yk) + LINE_HALF;
  }
  if (!on && k + 1 < DET_WF_COLS && fabs(x - xr) <= LINE_HALF) {
    double yb = wave_y(v, k + 1);
    on = y >= fmin(yb, yk) - LINE_HALF && y <= fmax(yb, yk) + LINE_HALF;
  }
  if (on) c[0] = c[1] = c[2] = 0.0f;
}

void img_render_paxlike(const img_renderer *r, const det_event *ev, float *out) {
  hit_ctx ha, hb;
  wave_ctx wc, wd;
  hit_setup(r, &ha, 0, &r->det->arr[DET_BOTTOM], ev->s1_pmt_bottom_pe, ev->x_rec_cm, ev->y_rec_cm);
  hit_setup(r, &hb, 1, &r->det->arr[DET_TOP], ev->s2_pmt_top_pe, ev->x_rec_cm, ev->y_rec_cm);
  wave_setup(&wc, 2, ev->s1_wf);
  wave_setup(&wd, 3, ev->s2_wf);
  const double step = FRAME / (IMG_W * SUB);
  for (int oy = 0; oy < IMG_H; oy++)
    for (int ox = 0; ox < IMG_W; ox++) {
      double acc[3] = {0.0, 0.0, 0.0};
      for (int sy = 0; sy < SUB; sy++)
        for (int sx = 0; sx < SUB; sx++) {
          double x = ((ox * SUB) + sx + 0.5) * step, y = ((oy * SUB) + sy + 0.5) * step;
          float c[3] = {1.0f, 1.0f, 1.0f};
          for (int pnl = 0; pnl < 4; pnl++) {
            const double *b = k_box[pnl];
            if (x < b[0] || x >= b[1] || y < b[2] || y >= b[3]) continue;
            if (pnl == 0)
              hit_colour(&ha, x, y, c);
            else if (pnl == 1)
              hit_colour(&hb, x, y, c);
            else
              wave_colour(pnl == 2 ? &wc : &wd, x, y, c);
          }
          for (int k = 0; k < 3; k++) acc[k] += c[k];
        }
      for (int k = 0; k < 3; k++)
        out[k * IMG_H * IMG_W + oy * IMG_W + ox] = (float)(acc[k] / (SUB * SUB));
    }
}
