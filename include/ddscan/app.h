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

/* The command-line options, one table (src/app/cli.c) for parsing and help. */
typedef enum app_opt {
  APP_OPT_SET,       /* --set KEY=VALUE (repeatable) */
  APP_OPT_RESUME,    /* --resume */
  APP_OPT_SHARD,     /* --shard I/N */
  APP_OPT_PREVIEW,   /* --preview N */
  APP_OPT_MASS,      /* spectrum --mass GEV */
  APP_OPT_SIGMA,     /* spectrum --sigma CM2 */
  APP_OPT_EMIN,      /* spectrum --emin KEV */
  APP_OPT_EMAX,      /* spectrum --emax KEV */
  APP_OPT_STEP,      /* spectrum --step KEV */
  APP_OPT_INTEGRATE, /* spectrum --integrate E1:E2 */
  APP_OPT_CONFIG,    /* spectrum --config CONFIG */
  APP_OPT_OUT,       /* export/inject --out FILE, analyse --out FILE */
  APP_OPT_ER,        /* export --er N */
  APP_OPT_NR,        /* export --nr N */
  APP_OPT_EXPOSURE,  /* inject/analyse --exposure T*Y */
  APP_OPT_SEED,      /* inject --seed K */
  APP_OPT_SIGNAL,    /* inject --signal MODEL */
  APP_OPT_ENERGY,    /* inject --energy KEV */
  APP_OPT_RATE,      /* inject --rate R */
  APP_OPT_DATA,      /* analyse --data FILE */
  APP_OPT_TOYS,      /* analyse --toys N */
  APP_OPT_VERBOSE,   /* -v, --verbose */
  APP_OPT_QUIET,     /* -q, --quiet */
  APP_OPT_HELP,      /* -h, --help */
  APP_N_OPTS
} app_opt;

/* Options of the subcommand, parsed by main (app_cli_parse). */
typedef struct app_opts {
  const char *config_path; /* positional CONFIG (or NULL) */
  int resume;              /* --resume */
  int shard_i, shard_n;    /* --shard I/N; -1 when not given */
  int preview_n;           /* --preview N; 0 when not given */
  int n_sets;
  const char *sets[64];        /* --set key=value, in order */
  const char *opt[APP_N_OPTS]; /* text of each valued option given (last wins), else NULL */
  int verbose, quiet;          /* -v, -q */
  int n_args;                  /* remaining positional arguments for the subcommand */
  char **args;                 /* borrowed from argv */
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
dd_status app_cmd_signal(const par_world *w, const app_opts *o);
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

/* ------------------------------------------------------------------------ */
/* The command table and its parser (src/app/cli.c; no MPI)                   */
/* ------------------------------------------------------------------------ */

typedef dd_status (*app_cmd_fn)(const par_world *w, const app_opts *o);

typedef struct app_command {
  const char *name;
  const char *synopsis; /* positional arguments ("CONFIG", "OUT.h5 SHARD.h5...") */
  const char *summary;  /* one line for the global help */
  const char *about;    /* the command's own help: what it does, its arguments */
  app_cmd_fn fn;
  int mpi;                /* initialise MPI (runs under mpirun/srun) */
  int needs_config;       /* the first positional argument is CONFIG */
  int min_args, max_args; /* positional arguments (CONFIG included); max -1: no limit */
  unsigned opts;          /* accepted options: bit (1u << app_opt) */
} app_command;

typedef enum app_cli_result {
  APP_CLI_RUN,     /* run *cmd with *o */
  APP_CLI_HELP,    /* print the help of *cmd (NULL: the global help), exit 0 */
  APP_CLI_VERSION, /* print the version, exit 0 */
  APP_CLI_USAGE    /* usage error: print err (one line), exit 2 */
} app_cli_result;

/* Parses argv against the command table: the command, its positional
 * arguments and the options it accepts.  Anything else (an unknown option,
 * an option of another command, a stray or missing argument, a bad value)
 * is a usage error described in err as one line without the "ddscan: "
 * prefix.  o is filled in (borrowing argv) when APP_CLI_RUN. */
app_cli_result app_cli_parse(int argc, char **argv, app_opts *o, const app_command **cmd, char *err,
                             size_t cap);
/* The global overview (cmd NULL) or one command's usage, arguments and
 * options with units and defaults. */
void app_cli_print_help(FILE *fp, const app_command *cmd);

#endif /* DDSCAN_APP_H */
