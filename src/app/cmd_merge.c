/* cmd_merge.c - `ddscan merge OUT.h5 SHARD.h5...`: combines the shard files
 * of one `ddscan scan --shard I/N` run into one results file with the same
 * content as an unsharded run (io_shards_merge checks them; scan_merge adds
 * the R band).  Re-running it is harmless. */
#include <stdio.h>
#include <string.h>

#include "ddscan/app.h"  /* uses: app_opts */
#include "ddscan/scan.h" /* uses: scan_merge */

dd_status app_cmd_merge(const par_world *w, const app_opts *o) {
  /* main checked the arguments and options (src/app/cli.c) */
  if (o->n_args < 2) return DD_FAIL(DD_ERR_ARG, "merge needs OUT.h5 and at least one SHARD.h5");
  /* The output's directory is locked like a run's: no merge into a directory
   * a run (or a shard) is writing, and no two merges into one. */
  char dir[STAGE_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", o->args[0]);
  char *slash = strrchr(dir, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    *(slash == dir ? slash + 1 : slash) = '\0';
  DD_TRY(io_dir_lock(w, dir, -1, -1, o->argc_orig, o->argv_orig), "merge");
  dd_status st = scan_merge(w, o->args[0], (const char *const *)o->args + 1, o->n_args - 1,
                            o->argc_orig, o->argv_orig);
  io_dir_unlock();
  return st;
}
