/* metrics.c - classifier metrics of the CNN against the information ceiling:
 * the class-balanced accuracy at a threshold and the weighted ROC area (each
 * event may carry a weight, e.g. an NR event reweighted from the reference
 * spectrum q(E) to one WIMP mass, as the ceiling of docs/detector.md §7). */
#include "ddscan/train.h"

#include <math.h>
#include <stdlib.h>

double train_balanced_accuracy(const double *s_er, const double *w_er, long long n_er,
                               const double *s_nr, const double *w_nr, long long n_nr,
                               double threshold) {
  double w_all[2] = {0.0, 0.0}, w_ok[2] = {0.0, 0.0};
  for (long long i = 0; i < n_er; i++) {
    const double w = w_er ? w_er[i] : 1.0;
    w_all[0] += w;
    if (s_er[i] <= threshold) w_ok[0] += w;
  }
  for (long long i = 0; i < n_nr; i++) {
    const double w = w_nr ? w_nr[i] : 1.0;
    w_all[1] += w;
    if (s_nr[i] > threshold) w_ok[1] += w;
  }
  if (!(w_all[0] > 0.0) || !(w_all[1] > 0.0)) return NAN;
  return 0.5 * (w_ok[0] / w_all[0] + w_ok[1] / w_all[1]);
}

typedef struct scored {
  double s, w;
  int cls;
} scored;

static int by_score(const void *a, const void *b) {
  const double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
  return (x > y) - (x < y);
}

double train_weighted_auc(const double *s_er, const double *w_er, long long n_er,
                          const double *s_nr, const double *w_nr, long long n_nr) {
  const long long n = n_er + n_nr;
  if (n_er < 1 || n_nr < 1) return NAN;
  scored *v = malloc((size_t)n * sizeof *v);
  if (!v) return NAN;
  for (long long i = 0; i < n_er; i++) v[i] = (scored){s_er[i], w_er ? w_er[i] : 1.0, 0};
  for (long long i = 0; i < n_nr; i++) v[n_er + i] = (scored){s_nr[i], w_nr ? w_nr[i] : 1.0, 1};
  for (long long i = 0; i < n; i++)
    if (isnan(v[i].s)) {
      free(v);
      return NAN;
    }
  qsort(v, (size_t)n, sizeof *v, by_score);
  /* walk groups of equal scores upwards: an NR event beats the ER weight
   * below its group and half of the ER weight inside it */
  double er_below = 0.0, num = 0.0, w_er_all = 0.0, w_nr_all = 0.0;
  for (long long i = 0; i < n;) {
    long long j = i;
    double g_er = 0.0, g_nr = 0.0;
    while (j < n && v[j].s == v[i].s) {
      if (v[j].cls)
        g_nr += v[j].w;
      else
        g_er += v[j].w;
      j++;
    }
    num += g_nr * (er_below + 0.5 * g_er);
    er_below += g_er;
    w_er_all += g_er;
    w_nr_all += g_nr;
    i = j;
  }
  free(v);
  if (!(w_er_all > 0.0) || !(w_nr_all > 0.0)) return NAN;
  return num / (w_er_all * w_nr_all);
}
