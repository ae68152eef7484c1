/* registry.c - the stages in pipeline order and what is derived from their
 * schemas alone: the Markdown tables of docs/format.md (`ddscan schema`) and
 * the check of a results file against a stage's declared datasets (a
 * resumed .tmp, `ddscan info`). */
#include "ddscan/stage.h"

#include <stdio.h>
#include <string.h>

static const stage_def *const k_stages[] = {&stage_simulate, &stage_train, &stage_score,
                                            &stage_signal, &stage_scan};
enum { N_STAGES = sizeof k_stages / sizeof k_stages[0] };

const stage_def *const *stage_list(int *n) {
  *n = N_STAGES;
  return k_stages;
}

const stage_def *stage_find(const char *name) {
  for (int i = 0; i < N_STAGES; i++)
    if (strcmp(k_stages[i]->name, name) == 0) return k_stages[i];
  return NULL;
}

void stage_schema_describe(FILE *fp) {
  for (int i = 0; i < N_STAGES; i++) {
    const stage_def *s = k_stages[i];
    stage_schema sc;
    memset(&sc, 0, sizeof sc);
    s->schema(&sc);
    fprintf(fp, "\n#### Stage `%s`: %s\n\n", s->name, s->summary);
    fprintf(fp, "| path | shape | type | units | description |\n|---|---|---|---|---|\n");
    for (int t = 0; t < sc.n_tables; t++)
      io_table_describe(fp, sc.tables[t].group, sc.tables[t].fields, sc.tables[t].n_fields);
    io_spec_describe(fp, sc.specs, sc.n_specs);
  }
}

int stage_schema_check(io_file *f, const stage_def *s, char *why, size_t cap) {
  stage_schema sc;
  memset(&sc, 0, sizeof sc);
  s->schema(&sc);
  for (int t = 0; t < sc.n_tables; t++) {
    long long n = 0;
    if (io_table_length(f, sc.tables[t].group, sc.tables[t].fields, sc.tables[t].n_fields, &n) !=
        DD_OK) {
      snprintf(why, cap, "table '%s': %s", sc.tables[t].group, dd_error_message());
      dd_error_clear();
      return 0;
    }
  }
  for (int i = 0; i < sc.n_specs; i++) {
    const io_spec *r = &sc.specs[i];
    /* a row with need bits belongs to some runs only: checked when present */
    if (r->need && !io_exists(f, r->path)) continue;
    if (!io_spec_check(f, r, why, cap)) return 0;
  }
  return 1;
}

dd_status stage_begin_checked(const par_world *w, io_stage *s, const stage_def *def, io_file **out,
                              int *resumed) {
  DD_TRY(io_stage_begin(w, s, out, resumed), "%s", def->name);
  char why[512] = "";
  if (*resumed && !stage_schema_check(*out, def, why, sizeof why)) {
    io_file_close(out);
    if (w->rank == 0)
      dd_warn("%s: cannot resume '%s.tmp': %s; starting the stage again", def->name, s->output_path,
              why);
    s->resume = 0;
    DD_TRY(io_stage_begin(w, s, out, resumed), "%s", def->name);
  }
  return DD_OK;
}
