/* app.h - the command line between main.c and the stage layer: the options
 * main parses and one function per subcommand.  Commands that run stages
 * build one stage_ctx (the configuration read once) and hand it to the
 * stage layer (include/ddscan/stage.h); the others (merge, info, spectrum,
 * schema) print what they are asked.  Nothing here computes. */
#ifndef DDSCAN_APP_H
#define DDSCAN_APP_H

#include "ddscan/core.h"  /* uses: dd_status */
#include "ddscan/par.h"   /* uses: par_world */
#include "ddscan/stage.h" /* uses: stage_ctx, stage_opts */

/* Options common to the subcommands, parsed by main. */
typedef struct app_opts {
  const char *config_path; /* positional CONFIG (or NULL) */
  int resume;              /* --resume */
  int shard_i, shard_n;    /* --shard I/N; -1 when not given */
  int preview_n;           /* --preview N; 0 when not given */
  int n_sets;
  const char *sets[64]; /* --set key=value, in order */
  int n_args;           /* remaining arguments for the subcommand */
  char **args;          /* borrowed from argv */
  int argc_orig;
  char **argv_orig; /* borrowed: the full command line (provenance) */
} app_opts;

/* Collective: the stage context of a command (stage_ctx_load with these
 * options).  On success the caller frees it with stage_ctx_free. */
dd_status app_stage_ctx(const par_world *w, const app_opts *o, stage_ctx *c);

/* Subcommands.  Each returns DD_OK or an error recorded in the error context;
 * DD_ERR_ARG means a usage error (exit code 2). */
/* `ddscan CONFIG` / `ddscan run CONFIG`: stage_pipeline_run. */
dd_status app_cmd_run(const par_world *w, const app_opts *o);
/* `ddscan simulate|train|score CONFIG`: that stage's run. */
dd_status app_cmd_simulate(const par_world *w, const app_opts *o);
dd_status app_cmd_train(const par_world *w, const app_opts *o);
dd_status app_cmd_score(const par_world *w, const app_opts *o);
/* `ddscan scan CONFIG [--shard I/N] [--resume]`: the scan stage; the shard
 * defaults to the SLURM array task. */
dd_status app_cmd_scan(const par_world *w, const app_opts *o);
/* `ddscan check-config CONFIG`: validate and print the resolved configuration. */
dd_status app_cmd_check_config(const par_world *w, const app_opts *o);
/* `ddscan schema`: the Markdown tables of every stage's datasets (docs/format.md §9). */
dd_status app_cmd_schema(const par_world *w, const app_opts *o);
/* `ddscan spectrum --mass GEV [...]`: dR/dE table or integrated rate (no MPI). */
dd_status app_cmd_spectrum(const par_world *w, const app_opts *o);
/* `ddscan merge OUT.h5 SHARD.h5...`: shard files -> one results file. */
dd_status app_cmd_merge(const par_world *w, const app_opts *o);
/* `ddscan info RESULTS.h5`: human summary of any results file. */
dd_status app_cmd_info(const par_world *w, const app_opts *o);

/* `ddscan export CONFIG --out FILE [--er N --nr N]`: the analysis events as an events file. */
dd_status app_cmd_export(const par_world *w, const app_opts *o);
/* `ddscan inject CONFIG --exposure E --seed K --out FILE [--mass M --sigma S]`: pseudo-data. */
dd_status app_cmd_inject(const par_world *w, const app_opts *o);
/* `ddscan analyse CONFIG --data FILE [--out FILE] [--exposure E]`: observed p, Z, limits. */
dd_status app_cmd_analyse(const par_world *w, const app_opts *o);

#endif /* DDSCAN_APP_H */
