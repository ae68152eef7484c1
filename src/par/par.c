/* par.c - MPI helpers: world info, config-text broadcast, status agreement
 * and the rank-0 dispatcher (see include/ddscan/par.h). */
#include "ddscan/par.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define PAR_TAG_REQUEST 101 /* worker -> 0: int status of the last item */
#define PAR_TAG_ASSIGN 102  /* 0 -> worker: long long item, -1 = stop */

static int g_peer_failure; /* the recorded error came from par_agree */

dd_status par_world_init(par_world *w, MPI_Comm comm) {
  w->comm = comm;
  MPI_Comm_rank(comm, &w->rank);
  MPI_Comm_size(comm, &w->size);
  if (w->size > 1) dd_set_nomem_fatal(1);
  return DD_OK;
}

/* Broadcasts n bytes (n known on every rank) into buf, in int-sized chunks. */
static void bcast_bytes(const par_world *w, char *buf, long long n) {
  /* MPI counts are int: send in chunks so any size works. */
  for (long long off = 0; off < n; off += INT_MAX / 2) {
    long long chunk = n - off < INT_MAX / 2 ? n - off : INT_MAX / 2;
    MPI_Bcast(buf + off, (int)chunk, MPI_CHAR, 0, w->comm);
  }
}

dd_status par_bcast_string(const par_world *w, char **s) {
  long long n = 0;
  if (w->rank == 0) n = *s ? (long long)strlen(*s) : -1;
  MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, w->comm);
  if (n < 0) {
    if (w->rank != 0) *s = NULL;
    return DD_OK;
  }
  char *buf = w->rank == 0 ? *s : malloc((size_t)n + 1);
  if (!buf) return DD_FAIL(DD_ERR_NOMEM, "broadcast buffer (%lld bytes)", n);
  bcast_bytes(w, buf, n);
  if (w->rank != 0) { /* rank 0's string may be read-only */
    buf[n] = '\0';
    *s = buf;
  }
  return DD_OK;
}

dd_status par_read_and_bcast_file(const par_world *w, const char *path, char **text) {
  size_t len;
  return par_read_and_bcast_bytes(w, path, text, &len);
}

dd_status par_read_and_bcast_bytes(const par_world *w, const char *path, char **text, size_t *len) {
  *text = NULL;
  *len = 0;
  int ok = 1;
  char *buf = NULL;
  size_t n0 = 0;
  if (w->rank == 0) ok = dd_read_file(path, &buf, &n0) == DD_OK;
  MPI_Bcast(&ok, 1, MPI_INT, 0, w->comm);
  if (!ok) {
    /* Rank 0 recorded the reason; the others say the same thing. */
    if (w->rank != 0) {
      dd_error_clear();
      return DD_FAIL(DD_ERR_IO, "cannot read '%s' (on rank 0)", path);
    }
    return DD_ERR_IO;
  }
  /* Every byte, NUL bytes included (strlen would stop at the first). */
  long long n = (long long)n0;
  MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, w->comm);
  if (w->rank != 0) {
    buf = malloc((size_t)n + 1);
    if (!buf) return DD_FAIL(DD_ERR_NOMEM, "broadcast buffer (%lld bytes) for '%s'", n, path);
  }
  bcast_bytes(w, buf, n);
  buf[n] = '\0';
  *text = buf;
  *len = (size_t)n;
  return DD_OK;
}

dd_status par_agree(const par_world *w, dd_status local) {
  int mine = (int)local, worst = 0;
  MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, w->comm);
  if (worst != DD_OK && local == DD_OK) {
    int who = local != DD_OK ? w->rank : w->size, first = w->size;
    MPI_Allreduce(&who, &first, 1, MPI_INT, MPI_MIN, w->comm);
    g_peer_failure = 1;
    return DD_FAIL((dd_status)worst, "rank %d failed (its message says why)", first);
  }
  if (worst != DD_OK) {
    int who = w->rank, first = w->size;
    MPI_Allreduce(&who, &first, 1, MPI_INT, MPI_MIN, w->comm);
    g_peer_failure = 0;
  }
  return (dd_status)worst;
}

int par_error_is_local(void) {
  return dd_error_status() != DD_OK && !g_peer_failure;
}

int par_first_failing_rank(const par_world *w) {
  int who = par_error_is_local() ? w->rank : w->size, first = w->size;
  MPI_Allreduce(&who, &first, 1, MPI_INT, MPI_MIN, w->comm);
  return first;
}

static long long item_at(const long long *items, long long i) {
  return items ? items[i] : i;
}

dd_status par_dispatch(const par_world *w, long long n_items, const long long *items,
                       par_work_fn fn, void *ctx) {
  return par_dispatch_progress(w, n_items, items, fn, ctx, NULL, NULL);
}

/* Why a dispatcher and not a static split: the cost of a work unit varies by
 * orders of magnitude (a toys unit against an Asimov one, a light mass with
 * few bins against a heavy one), so rank 0 hands out one item at a time to
 * whichever worker asks.  Each request carries the status of the worker's
 * previous item, so a failure anywhere stops the hand-out (every worker then
 * gets -1, "no more") without anyone blocking in a collective while another
 * rank still computes; the final par_agree turns the local statuses into
 * one collective answer.  Rank 0 computes items itself only while there is
 * more work left than workers and no request is waiting, so it never
 * delays a worker.  Results never depend on who computed what: fn writes
 * each item's output by the item's index. */
dd_status par_dispatch_progress(const par_world *w, long long n_items, const long long *items,
                                par_work_fn fn, void *ctx, par_progress_fn progress,
                                void *progress_ctx) {
  dd_status local = DD_OK;
  long long n_done = 0;
  if (w->size == 1) {
    for (long long i = 0; i < n_items && local == DD_OK; i++) {
      local = fn(ctx, item_at(items, i));
      if (local == DD_OK && progress) progress(progress_ctx, ++n_done, n_items);
    }
    return local;
  }
  if (w->rank == 0) {
    long long next = 0;
    int workers_left = w->size - 1, failed = 0;
    /* busy[r]: worker r holds an item, so its next request reports it done */
    char *busy = calloc((size_t)w->size, 1);
    if (!busy) DD_PANIC(DD_ERR_NOMEM, "dispatcher: %d worker flags", w->size);
    while (workers_left > 0) {
      int flag = 1;
      MPI_Status ms;
      /* Serve waiting workers first; compute only when there is more work
       * than workers and nobody is asking. */
      if (!failed && local == DD_OK && next < n_items &&
          n_items - next > (long long)(w->size - 1)) {
        MPI_Iprobe(MPI_ANY_SOURCE, PAR_TAG_REQUEST, w->comm, &flag, &ms);
        if (!flag) {
          local = fn(ctx, item_at(items, next++));
          if (local != DD_OK) failed = 1;
          if (local == DD_OK && progress) progress(progress_ctx, ++n_done, n_items);
          continue;
        }
      }
      int their = 0;
      MPI_Recv(&their, 1, MPI_INT, MPI_ANY_SOURCE, PAR_TAG_REQUEST, w->comm, &ms);
      if (their != DD_OK) failed = 1;
      if (busy[ms.MPI_SOURCE] && their == DD_OK && progress)
        progress(progress_ctx, ++n_done, n_items);
      long long assign = -1;
      if (!failed && next < n_items) assign = item_at(items, next++);
      busy[ms.MPI_SOURCE] = assign >= 0;
      if (assign < 0) workers_left--;
      MPI_Send(&assign, 1, MPI_LONG_LONG, ms.MPI_SOURCE, PAR_TAG_ASSIGN, w->comm);
    }
    free(busy);
  } else {
    for (;;) {
      int mine = (int)local;
      MPI_Send(&mine, 1, MPI_INT, 0, PAR_TAG_REQUEST, w->comm);
      long long item = -1;
      MPI_Recv(&item, 1, MPI_LONG_LONG, 0, PAR_TAG_ASSIGN, w->comm, MPI_STATUS_IGNORE);
      if (item < 0) break;
      local = fn(ctx, item);
    }
  }
  return par_agree(w, local);
}
