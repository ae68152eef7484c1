/* image.h - event record -> 75x75x3 float image (spec §6): four 37x37
 * panels (A: S1 hit pattern on the bottom array, B: S2 hit pattern on the top
 * array, C: S1 sum waveform, D: S2 sum waveform) with fixed absolute scales,
 * the optional `paxlike` RGB rendering of Khosa et al.'s PNGs (§6.4), PNG
 * files through libpng and the preview writer (N ER + N NR examples and a
 * composite sheet).  Images are stored channel-major, (C, H, W) = (3, 75, 75),
 * row 0 at the top: the layout the nn module consumes; the spec's
 * img[75][75][3] is the same image in (H, W, C) order. */
#ifndef DDSCAN_IMAGE_H
#define DDSCAN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "ddscan/cfg.h"      /* uses: cfg_doc */
#include "ddscan/core.h"     /* uses: dd_status */
#include "ddscan/detector.h" /* uses: det_model, det_event, det_energy_fn */

#define IMG_C 3
#define IMG_H 75
#define IMG_W 75
#define IMG_SIZE (IMG_C * IMG_H * IMG_W) /* floats per image */
#define IMG_PANEL 37                     /* panel side; row/column 37 is the gutter */

typedef enum img_mode {
  IMG_MODE_PHYSICS = 0, /* spec §6.1-6.3: channels with physical meaning */
  IMG_MODE_PAXLIKE = 1  /* spec §6.4: RGB picture like pax's PNGs */
} img_mode;

/* Group `image`. */
typedef struct img_params {
  int mode;          /* img_mode */
  int scale_plane;   /* 0: ch2 of every panel is zero (strict pax analogue) */
  double s1_wref_pe; /* W_ref of panel C ch1, PE per 10-ns bin */
  double s2_wref_pe; /* W_ref of panel D ch1 */
  int png_scale;     /* preview PNG magnification (75 px x scale) */
} img_params;

dd_status img_params_load(cfg_doc *cfg, img_params *p);
void img_params_default(img_params *p);

/* Precomputed geometry of one hit-pattern panel: for each PMT the pixels
 * its disc covers and the covered fraction of their 8x8 sub-samples (CSR by
 * PMT), and the static geometry channel. */
#define IMG_MAX_COVER (IMG_PANEL * IMG_PANEL * 4)
typedef struct img_panel_geom {
  int start[DET_MAX_PMT_TOP + 1];   /* entries of PMT i: [start[i], start[i+1]) */
  uint16_t pmt[IMG_MAX_COVER];      /* PMT of each entry */
  uint16_t pix[IMG_MAX_COVER];      /* pixel (row * 37 + col) of each entry */
  float frac[IMG_MAX_COVER];        /* covered fraction of that pixel */
  int n_pmt;                        /* PMTs of the array */
  float ch2[IMG_PANEL * IMG_PANEL]; /* 0.25 on live discs, 1 on the wall circle */
} img_panel_geom;

typedef struct img_renderer {
  img_params p;
  const det_model *det;   /* borrowed; outlives the renderer */
  img_panel_geom geom[2]; /* [0] panel A (bottom array), [1] panel B (top array) */
  double world_half_cm;   /* 1.2 R */
  double pixel_cm;        /* 2.4 R / 37 */
  float log10_tab[257];   /* log10 over the float mantissa [1, 2] */
} img_renderer;

/* Precomputes the pixel coverage of both arrays (no heap memory; the struct
 * is about 200 KB, allocate it once).  det must outlive r. */
dd_status img_renderer_init(img_renderer *r, const img_params *p, const det_model *det);
void img_renderer_free(img_renderer *r);

/* Renders ev into out (IMG_SIZE floats, (3,75,75)) in the configured mode.
 * A pure function of (record, parameters): never reads the class label or
 * the truth fields. */
void img_render(const img_renderer *r, const det_event *ev, float *out);
/* The two modes explicitly. */
void img_render_physics(const img_renderer *r, const det_event *ev, float *out);
void img_render_paxlike(const img_renderer *r, const det_event *ev, float *out);

/* Writes an RGB PNG of a (3,h,w) float image with values in [0,1], each pixel
 * magnified `scale` times (nearest neighbour).  Atomic (tmp + rename). */
dd_status img_png_write(const char *path, const float *img, int h, int w, int scale);
/* Writes a grid of n images (rows x cols, row-major, each (3,75,75)) with a
 * `gap`-pixel white border, magnified `scale` times. */
dd_status img_png_write_sheet(const char *path, const float *imgs, int n, int rows, int cols,
                              int scale, int gap);

/* Preview: simulates events 0..n-1 of each class (seed, the bank's streams)
 * with the given energy maps, renders them in both modes and writes
 * dir/er_00.png ..., dir/nr_00.png ..., the paxlike twins er_00_pax.png ...,
 * and the composite sheets dir/sheet.png (physics) and dir/sheet_pax.png
 * (one row per class).  Creates dir. */
dd_status img_preview_write(const img_renderer *r, uint32_t seed, int n, det_energy_fn er_energy,
                            void *er_ctx, det_energy_fn nr_energy, void *nr_ctx, const char *dir);

#endif /* DDSCAN_IMAGE_H */
