/* img_internal.h - private helpers of the image module. */
#ifndef DDSCAN_IMG_INTERNAL_H
#define DDSCAN_IMG_INTERNAL_H

#include "ddscan/image.h"

/* viridis(v), v in [0, 1] -> rgb in [0, 1] (matplotlib's colormap, CC0). */
void img_viridis(double v, float rgb[3]);

#endif
