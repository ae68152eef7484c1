/* par.h - the MPI layer: world info, broadcast of the configuration text,
 * collective status agreement at phase boundaries, and a dynamic dispatcher
 * in which rank 0 hands out work indices on demand. */
#ifndef DDSCAN_PAR_H
#define DDSCAN_PAR_H

#include <stddef.h>

#include <mpi.h> /* uses: MPI_Comm */

#include "ddscan/core.h" /* uses: dd_status */

typedef struct par_world {
  int rank;
  int size;
  MPI_Comm comm; /* borrowed: MPI_COMM_WORLD unless a test splits it */
} par_world;

/* Fills w from comm (MPI must be initialised by main). */
dd_status par_world_init(par_world *w, MPI_Comm comm);

/* Rank 0 reads the whole file at `path` and broadcasts it; every rank gets a
 * malloc'ed NUL-terminated copy in *text (caller frees).  If rank 0 cannot
 * read the file, every rank returns DD_ERR_IO with the same message. */
dd_status par_read_and_bcast_file(const par_world *w, const char *path, char **text);
/* The same, and *len is the file's size in bytes: a file with a NUL byte is
 * broadcast whole (the text then ends before *len), so the reader can refuse
 * it rather than silently drop the rest. */
dd_status par_read_and_bcast_bytes(const par_world *w, const char *path, char **text, size_t *len);
/* Broadcasts a NUL-terminated string from rank 0 (others get a malloc'ed
 * copy in *s; rank 0's pointer is unchanged). */
dd_status par_bcast_string(const par_world *w, char **s);

/* Collective: every rank passes its local status; returns the worst status
 * of any rank (MPI_MAX).  A rank that was fine but sees a failure elsewhere
 * records "rank R failed" so its caller unwinds cleanly; only the failing
 * rank's own message is the one worth printing (see par_error_is_local). */
dd_status par_agree(const par_world *w, dd_status local);
/* 1 if this rank's recorded error happened here, 0 if it was only learnt
 * from par_agree (or there is none). */
int par_error_is_local(void);
/* Collective: returns the lowest rank whose error is local (size if none), so
 * that exactly one rank prints the message. */
int par_first_failing_rank(const par_world *w);

/* Work function for the dispatcher: process item `index`. */
typedef dd_status (*par_work_fn)(void *ctx, long long index);

/* Collective dynamic dispatch of items 0..n_items-1: rank 0 hands out indices
 * on demand; workers ask for the next one when done.  Rank 0 also processes
 * items itself while more remain than there are waiting workers (and alone
 * when size == 1).  `items` may be NULL (then the items are 0..n-1) or a list
 * of n_items indices to hand out in that order (e.g. the unfinished units on
 * resume).  The first failure stops the hand-out; the returned status is
 * agreed across ranks.  Results must carry their index: which rank processed
 * which item is not deterministic. */
dd_status par_dispatch(const par_world *w, long long n_items, const long long *items,
                       par_work_fn fn, void *ctx);

/* Progress report on rank 0: n_done of n_items items have finished (on any
 * rank).  Called after each completion rank 0 learns of, in order. */
typedef void (*par_progress_fn)(void *ctx, long long n_done, long long n_items);
/* par_dispatch with a progress callback (may be NULL) called on rank 0 only.
 * Rank 0 learns that a worker finished an item when it asks for the next. */
dd_status par_dispatch_progress(const par_world *w, long long n_items, const long long *items,
                                par_work_fn fn, void *ctx, par_progress_fn progress,
                                void *progress_ctx);

/* ------------------------------------------------------------------------ */
/* Watchdog (src/par/watchdog.c): ends a job with a stopped or hung rank     */
/* ------------------------------------------------------------------------ */

/* Collective.  With size > 1 and timeout_s > 0, starts this process's
 * watchdog thread: every rank writes a heartbeat into
 * "<output_dir>/.ddscan-watchdog/<tag>.<rank>"; rank 0 watches every rank and
 * rank 1 watches rank 0.  A heartbeat that has not moved for timeout_s seconds
 * ends the job (dd_panic -> MPI_Abort) with one message naming the rank and
 * its stage.  tag tells concurrent jobs in one directory apart ("run",
 * "shard-1-of-4").  A no-op when already running, with one rank or with
 * timeout_s <= 0. */
dd_status par_watchdog_start(const par_world *w, const char *output_dir, const char *tag,
                             double timeout_s);
/* Records the stage this rank is in (named by the watchdog's message).
 * Cheap; callable whether or not the watchdog runs. */
void par_watchdog_stage(const char *name);
/* Collective when the watchdog runs (every rank that started it calls it):
 * meets the other ranks first (a rank whose error is its own waits at most
 * min(timeout_s, 30 s) for them, then prints its error and ends the job:
 * they are stuck in a collective it left), then stops the thread and
 * removes this rank's heartbeat.  A no-op when the watchdog is off. */
void par_watchdog_stop(void);

#endif /* DDSCAN_PAR_H */
