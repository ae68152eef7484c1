/* png.c - PNG output through libpng: one image, a sheet of images, and the
 * preview writer (N ER and N NR example events in both rendering modes plus
 * composite sheets: the paper's Fig. 1 analogue).  Files appear atomically
 * (written to NAME.tmp, then renamed). */
#define _POSIX_C_SOURCE 200809L
#include "ddscan/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h> /* uses: png_create_write_struct, png_write_* */

/* Writes rows of 8-bit RGB (w x h, row-major) to path. */
static dd_status png_write_rgb(const char *path, const unsigned char *rgb, int w, int h) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return DD_FAIL(DD_ERR_ARG, "path too long: '%s'", path);
  FILE *fp = fopen(tmp, "wb");
  if (!fp) return DD_FAIL(DD_ERR_IO, "cannot create '%s'", tmp);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    remove(tmp);
    return DD_FAIL(DD_ERR_NOMEM, "libpng could not start writing '%s'", path);
  }
  /* libpng reports errors by longjmp; everything touched after setjmp and
   * read after the jump is either volatile or not modified */
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    remove(tmp);
    return DD_FAIL(DD_ERR_IO, "libpng failed writing '%s'", path);
  }
  png_init_io(png, fp);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  if (fclose(fp) != 0) {
    remove(tmp);
    return DD_FAIL(DD_ERR_IO, "writing '%s' failed", tmp);
  }
  if (rename(tmp, path) != 0) {
    remove(tmp);
    return DD_FAIL(DD_ERR_IO, "cannot rename '%s' to '%s'", tmp, path);
  }
  return DD_OK;
}

static unsigned char to_byte(float v) {
  if (!(v > 0.0f)) return 0;
  if (v >= 1.0f) return 255;
  return (unsigned char)(v * 255.0f + 0.5f);
}

dd_status img_png_write_sheet(const char *path, const float *imgs, int n, int rows, int cols,
                              int scale, int gap) {
  if (n < 1 || rows < 1 || cols < 1 || n > rows * cols || scale < 1 || gap < 0)
    return DD_FAIL(DD_ERR_ARG, "bad sheet layout (%d images, %dx%d, scale %d)", n, rows, cols,
                   scale);
  int w = cols * IMG_W * scale + (cols + 1) * gap, h = rows * IMG_H * scale + (rows + 1) * gap;
  unsigned char *rgb = NULL;
  DD_TRY(dd_calloc((void **)&rgb, (size_t)w * h * 3, 1, "PNG sheet"), "writing '%s'", path);
  memset(rgb, 255, (size_t)w * h * 3);
  for (int i = 0; i < n; i++) {
    const float *img = imgs + (size_t)i * IMG_SIZE;
    int x0 = gap + (i % cols) * (IMG_W * scale + gap),
        y0 = gap + (i / cols) * (IMG_H * scale + gap);
    for (int y = 0; y < IMG_H * scale; y++)
      for (int x = 0; x < IMG_W * scale; x++) {
        unsigned char *px = rgb + ((size_t)(y0 + y) * w + x0 + x) * 3;
        for (int c = 0; c < 3; c++)
          px[c] = to_byte(img[c * IMG_H * IMG_W + (y / scale) * IMG_W + x / scale]);
      }
  }
  dd_status st = png_write_rgb(path, rgb, w, h);
  free(rgb);
  return st;
}

dd_status img_png_write(const char *path, const float *img, int h, int w, int scale) {
  if (h != IMG_H || w != IMG_W)
    return DD_FAIL(DD_ERR_ARG, "images are %dx%d, got %dx%d", IMG_H, IMG_W, h, w);
  return img_png_write_sheet(path, img, 1, 1, 1, scale, 0);
}

dd_status img_preview_write(const img_renderer *r, uint32_t seed, int n, det_energy_fn er_energy,
                            void *er_ctx, det_energy_fn nr_energy, void *nr_ctx, const char *dir) {
  if (n < 1) return DD_FAIL(DD_ERR_ARG, "preview needs at least one event per class");
  DD_TRY(dd_mkdir_p(dir), "preview directory '%s'", dir);
  float *phys = NULL, *pax = NULL;
  dd_status st =
      dd_calloc((void **)&phys, (size_t)2 * n * IMG_SIZE, sizeof(float), "preview images");
  if (st == DD_OK)
    st = dd_calloc((void **)&pax, (size_t)2 * n * IMG_SIZE, sizeof(float), "preview images");
  det_event ev;
  char path[4096];
  for (int cls = 0; cls < 2 && st == DD_OK; cls++)
    for (int i = 0; i < n && st == DD_OK; i++) {
      st = det_event_sample(r->det, cls, seed, (uint64_t)i, cls == DET_ER ? er_energy : nr_energy,
                            cls == DET_ER ? er_ctx : nr_ctx, &ev);
      if (st != DD_OK) break;
      float *a = phys + (size_t)(cls * n + i) * IMG_SIZE,
            *b = pax + (size_t)(cls * n + i) * IMG_SIZE;
      img_render_physics(r, &ev, a);
      img_render_paxlike(r, &ev, b);
      const char *tag = cls == DET_ER ? "er" : "nr";
      snprintf(path, sizeof path, "%s/%s_%02d.png", dir, tag, i);
      st = img_png_write(path, a, IMG_H, IMG_W, r->p.png_scale);
      if (st != DD_OK) break;
      snprintf(path, sizeof path, "%s/%s_%02d_pax.png", dir, tag, i);
      st = img_png_write(path, b, IMG_H, IMG_W, r->p.png_scale);
    }
  if (st == DD_OK) {
    snprintf(path, sizeof path, "%s/sheet.png", dir);
    st = img_png_write_sheet(path, phys, 2 * n, 2, n, r->p.png_scale, 4);
  }
  if (st == DD_OK) {
    snprintf(path, sizeof path, "%s/sheet_pax.png", dir);
    st = img_png_write_sheet(path, pax, 2 * n, 2, n, r->p.png_scale, 4);
  }
  free(phys);
  free(pax);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "writing previews to '%s'", dir);
}
