/* cmd_stage.c - the commands that run stages: `ddscan CONFIG` (run),
 * simulate, train, score, scan and check-config.  Each turns its options
 * into one stage_ctx (the configuration is read and validated once) and
 * hands it to the stage layer.  The scan's shard defaults to
 * SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT inside a SLURM job array;
 * `--shard 0/1` runs everything into results.h5. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/app.h" /* uses: app_opts, stage_ctx, stage_def */

static int parse_long(const char *s, long *out) {
  char *end = NULL;
  if (!s || !*s) return 0;
  long v = strtol(s, &end, 10);
  if (*end != '\0') return 0;
  *out = v;
  return 1;
}

/* The shard of a SLURM array task (rank 0's environment, broadcast, so every
 * rank agrees however the launcher forwards it): index (ID - MIN)/STEP of
 * COUNT tasks.  *n = -1 when not in an array job. */
static dd_status shard_from_slurm(const par_world *w, int *i, int *n) {
  *i = *n = -1;
  char *env = NULL;
  if (w->rank == 0) {
    const char *names[4] = {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                            "SLURM_ARRAY_TASK_STEP"};
    size_t cap = 256;
    env = calloc(cap, 1);
    if (!env) return DD_FAIL(DD_ERR_NOMEM, "environment");
    for (int k = 0; k < 4; k++) {
      const char *v = getenv(names[k]);
      size_t len = strlen(env);
      snprintf(env + len, cap - len, "%s%s", k ? "\n" : "", v ? v : "");
    }
  }
  dd_status st = w->size > 1 ? par_bcast_string(w, &env) : DD_OK;
  if (st != DD_OK) {
    free(env);
    return st;
  }
  char *f[4] = {env, NULL, NULL, NULL};
  for (int k = 1; k < 4; k++) {
    f[k] = strchr(f[k - 1], '\n');
    if (f[k])
      *f[k]++ = '\0';
    else
      f[k] = f[k - 1] + strlen(f[k - 1]);
  }
  long id = 0, count = 0, min = 0, step = 1;
  if (!f[0][0]) {
    free(env);
    return DD_OK;
  }
  int ok = parse_long(f[0], &id) && parse_long(f[1], &count) && count >= 1;
  if (ok && f[2][0]) ok = parse_long(f[2], &min);
  if (ok && f[3][0]) ok = parse_long(f[3], &step) && step >= 1;
  long idx = ok ? (id - min) / step : -1;
  if (!ok || (id - min) % step != 0 || idx < 0 || idx >= count) {
    st = DD_FAIL(DD_ERR_ARG,
                 "scan: cannot derive a shard from SLURM_ARRAY_TASK_ID=%s, "
                 "SLURM_ARRAY_TASK_COUNT=%s, _MIN=%s, _STEP=%s; pass --shard I/N (or --shard 0/1 "
                 "for the whole grid)",
                 f[0], f[1], f[2], f[3]);
  } else {
    *i = (int)idx;
    *n = (int)count;
  }
  free(env);
  return st;
}

dd_status app_stage_ctx(const par_world *w, const app_opts *o, stage_ctx *c) {
  const stage_opts so = {.config_path = o->config_path,
                         .sets = o->sets,
                         .n_sets = o->n_sets,
                         .resume = o->resume,
                         .preview_n = o->preview_n,
                         .shard_index = o->shard_n > 0 ? o->shard_i : -1,
                         .shard_count = o->shard_n > 0 ? o->shard_n : -1,
                         .argc = o->argc_orig,
                         .argv = o->argv_orig};
  return stage_ctx_load(c, w, &so);
}

/* One stage, or the pipeline (s == NULL), on a fresh context. */
static dd_status run_stage(const par_world *w, const app_opts *o, const stage_def *s) {
  if (o->n_args > 0)
    return DD_FAIL(DD_ERR_ARG, "%s: unexpected argument '%s'", s ? s->name : "run", o->args[0]);
  stage_ctx c;
  DD_TRY(app_stage_ctx(w, o, &c), "%s", s ? s->name : "pipeline");
  /* One run per output directory: the lock comes before anything is written.
   * Only a scan shard shares it (it writes its own file and reads results.h5);
   * every other stage, and the pipeline whatever its options, rewrites
   * results.h5 and takes it alone. */
  const int shard = s == &stage_scan && c.o.shard_count > 0;
  /* what check-config estimates, checked again here: on this node, now */
  dd_status st = stage_resources_check(&c, 0);
  if (st == DD_OK)
    st = io_dir_lock(w, c.p->run.output_dir, shard ? c.o.shard_index : -1,
                     shard ? c.o.shard_count : -1, c.o.argc, c.o.argv);
  char tag[64] = "run";
  if (shard) snprintf(tag, sizeof tag, "shard-%d-of-%d", c.o.shard_index, c.o.shard_count);
  if (st == DD_OK) st = par_watchdog_start(w, c.p->run.output_dir, tag, c.p->run.watchdog_s);
  par_watchdog_stage(s ? s->name : "pipeline"); /* until a stage begins its file */
  if (st == DD_OK) st = s ? s->run(&c) : stage_pipeline_run(&c);
  par_watchdog_stop();
  io_dir_unlock();
  stage_ctx_free(&c);
  return st;
}

dd_status app_cmd_run(const par_world *w, const app_opts *o) {
  return run_stage(w, o, NULL);
}
dd_status app_cmd_simulate(const par_world *w, const app_opts *o) {
  return run_stage(w, o, &stage_simulate);
}
dd_status app_cmd_train(const par_world *w, const app_opts *o) {
  return run_stage(w, o, &stage_train);
}
dd_status app_cmd_score(const par_world *w, const app_opts *o) {
  return run_stage(w, o, &stage_score);
}
dd_status app_cmd_signal(const par_world *w, const app_opts *o) {
  return run_stage(w, o, &stage_signal);
}

dd_status app_cmd_scan(const par_world *w, const app_opts *o) {
  if (o->n_args > 0) return DD_FAIL(DD_ERR_ARG, "scan: unexpected argument '%s'", o->args[0]);
  app_opts so = *o;
  if (so.shard_n < 0) DD_TRY(shard_from_slurm(w, &so.shard_i, &so.shard_n), "scan");
  if (so.shard_n == 1) so.shard_i = so.shard_n = -1; /* one shard of one: the whole grid */
  return run_stage(w, &so, &stage_scan);
}

dd_status app_cmd_check_config(const par_world *w, const app_opts *o) {
  stage_ctx c;
  DD_TRY(app_stage_ctx(w, o, &c), "check-config");
  if (w->rank == 0) {
    printf("# resolved configuration of %s (defaults filled in)\n%s", o->config_path,
           c.config_text);
    char hex[17];
    io_hash_hex(dd_hash_str(DD_HASH_INIT, c.config_text), hex);
    printf("# config hash: %s (of the resolved text above)\n", hex);
    fflush(stdout);
  }
  /* memory per rank, results-file size, disk free: refused or warned here */
  dd_status st = stage_resources_check(&c, 1);
  if (st != DD_OK) {
    stage_ctx_free(&c);
    return DD_CONTEXT(st, "check-config");
  }
  if (w->rank == 0) {
    printf("# %s: configuration OK\n", o->config_path);
    fflush(stdout);
  }
  stage_ctx_free(&c);
  return DD_OK;
}

dd_status app_cmd_schema(const par_world *w, const app_opts *o) {
  if (o->n_args > 0) return DD_FAIL(DD_ERR_ARG, "schema: unexpected argument '%s'", o->args[0]);
  if (w->rank == 0) {
    stage_schema_describe(stdout);
    fflush(stdout);
  }
  return DD_OK;
}
