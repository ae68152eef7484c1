/* cmd_check_config.c - `ddscan check-config CONFIG`: validate the file on every
 * rank and print the resolved configuration (defaults filled in). */
#include <stdio.h>
#include <stdlib.h>

#include "ddscan/app.h"
#include "ddscan/io.h" /* uses: io_hash_hex */

dd_status app_cmd_check_config(const par_world *w, const app_opts *o) {
  cfg_doc *cfg = NULL;
  app_params p;
  DD_TRY(app_load_config(w, o, &cfg, &p), "check-config");
  char *text = NULL;
  dd_status st = cfg_resolved_text(cfg, &text);
  if (st == DD_OK && w->rank == 0) {
    printf("# resolved configuration of %s (defaults filled in)\n%s", o->config_path, text);
    char hex[17];
    io_hash_hex(dd_hash_str(DD_HASH_INIT, text), hex);
    printf("# config hash: %s (of the resolved text above)\n", hex);
    printf("# %s: configuration OK\n", o->config_path);
    fflush(stdout);
  }
  free(text);
  cfg_free(cfg);
  return st;
}
