/* stats_internal.h - helpers shared between the files of src/stats only. */
#ifndef DDSCAN_STATS_INTERNAL_H
#define DDSCAN_STATS_INTERNAL_H

/* 1 when t >= x - 1e-12: every threshold comparison of the module uses this
 * tolerance (spec §8), so `>=` and rounding never disagree between modes. */
int stats_ge(double t, double x);

#endif
