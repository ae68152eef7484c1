/* watchdog.c - ends a job one of whose ranks has stopped responding (a
 * SIGSTOPped or hung process, a lost node), which MPI itself never does: the
 * other ranks wait in a collective for ever.  Each rank runs one small thread
 * that writes a heartbeat record (session, beat counter, current stage) into
 * "<output_dir>/.ddscan-watchdog/<tag>.<rank>" every few seconds; rank 0's
 * thread reads every other rank's record and rank 1's reads rank 0's.  A
 * record whose counter has not moved for run.watchdog_s seconds (measured on
 * the reader's own monotonic clock, so clock skew between nodes does not
 * matter) ends the job through dd_panic -> MPI_Abort, naming the rank and its
 * stage.
 *
 * Why a thread (STYLE.md §5 says "no threads of our own"): the main thread of
 * a healthy rank is itself blocked in the collective the stalled rank never
 * joins, so only a second thread can notice; a SIGSTOP stops every thread of
 * the stopped process, so its heartbeat stops with it.  The thread makes no
 * MPI call except the MPI_Abort that ends the job.  Why files: the output
 * directory is shared by every rank anyway (MPI-IO writes results.h5 there),
 * and a file needs no MPI thread support.  Cost: one small pwrite per rank per
 * beat (timeout / 5, at most 30 s), and rank 0 reads n - 1 small files. */
#define _POSIX_C_SOURCE 200809L
#include "ddscan/par.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WD_RECORD 128 /* bytes of one heartbeat record */
#define WD_PATH 1400

typedef struct wd_peer {
  unsigned long long counter; /* last counter read */
  double changed;             /* our monotonic time when it last moved (or start) */
  int seen;                   /* a record of this session was read */
  int done;                   /* the rank stopped its watchdog cleanly */
  char stage[32];             /* its stage, from its record */
} wd_peer;

static struct {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int running, stop;
  int rank, size;
  double timeout_s, interval_s;
  unsigned long long session, counter;
  char stage[32]; /* guarded by mu */
  char dir[WD_PATH];
  char tag[64];
  int fd;
  wd_peer *peers; /* [size], owned */
  MPI_Comm comm;  /* owned: a duplicate of the run's, for the end-of-run meeting only */
} g_wd = {.comm = MPI_COMM_NULL,
          .mu = PTHREAD_MUTEX_INITIALIZER,
          .cv = PTHREAD_COND_INITIALIZER,
          .fd = -1};

static double mono_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void peer_path(int rank, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s.%d", g_wd.dir, g_wd.tag, rank);
}

/* Writes this rank's record; the caller holds g_wd.mu (the thread beats, and
 * the main thread writes at once when its stage changes). */
static void beat_locked(int done) {
  char rec[WD_RECORD + 1];
  g_wd.counter++;
  int n = snprintf(rec, sizeof rec, "%llu %llu %d %s", g_wd.session, g_wd.counter, done,
                   g_wd.stage[0] ? g_wd.stage : "-");
  if (n < 0 || g_wd.fd < 0) return;
  memset(rec + n, ' ', (size_t)(WD_RECORD - 1 - n));
  rec[WD_RECORD - 1] = '\n';
  /* A failed beat is not an error here: the reader then sees no progress.
   * The sync pushes the record to the file server at once (an NFS client
   * would otherwise hold it in its page cache for up to ~30 s). */
  if (pwrite(g_wd.fd, rec, WD_RECORD, 0) != WD_RECORD) return;
  (void)fdatasync(g_wd.fd);
}

static void beat(int done) {
  pthread_mutex_lock(&g_wd.mu);
  beat_locked(done);
  pthread_mutex_unlock(&g_wd.mu);
}

/* Reads rank r's record and ends the job if it has been still too long. */
static void check(int r, double now) {
  wd_peer *p = &g_wd.peers[r];
  if (p->done) return;
  char path[WD_PATH + 80], rec[WD_RECORD + 1];
  peer_path(r, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = -1;
  if (fd >= 0) {
    n = pread(fd, rec, WD_RECORD, 0);
    close(fd);
  } else {
    /* every rank created its file before any thread started (the agreement
     * in par_watchdog_start), so a missing one was removed at a clean stop */
    p->done = 1;
    return;
  }
  if (n > 0) {
    rec[n] = '\0';
    unsigned long long session = 0, counter = 0;
    int done = 0;
    char stage[32] = "";
    if (sscanf(rec, "%llu %llu %d %31s", &session, &counter, &done, stage) == 4 &&
        session == g_wd.session) {
      if (!p->seen || counter != p->counter) p->changed = now;
      p->seen = 1;
      p->counter = counter;
      p->done = done;
      snprintf(p->stage, sizeof p->stage, "%s", stage);
    }
  }
  if (!p->done && now - p->changed > g_wd.timeout_s)
    DD_PANIC(DD_ERR_MPI,
             "watchdog: rank %d of %d has not responded for %.0f s (run.watchdog_s = %g; it "
             "was in stage '%s'): it is stopped, hung or lost with its node; ending the job "
             "(the unfinished .tmp is kept for --resume)",
             r, g_wd.size, now - p->changed, g_wd.timeout_s,
             p->seen ? p->stage : "(never started its heartbeat)");
}

static void *wd_main(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&g_wd.mu);
    if (!g_wd.stop) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      double t = (double)until.tv_nsec * 1e-9 + g_wd.interval_s;
      until.tv_sec += (time_t)t;
      until.tv_nsec = (long)((t - (double)(time_t)t) * 1e9);
      pthread_cond_timedwait(&g_wd.cv, &g_wd.mu, &until);
    }
    int stop = g_wd.stop;
    pthread_mutex_unlock(&g_wd.mu);
    if (stop) break;
    beat(0);
    double now = mono_now();
    if (g_wd.rank == 0)
      for (int r = 1; r < g_wd.size; r++) check(r, now);
    else if (g_wd.rank == 1)
      check(0, now);
  }
  return NULL;
}

dd_status par_watchdog_start(const par_world *w, const char *output_dir, const char *tag,
                             double timeout_s) {
  if (g_wd.running || w->size < 2 || !(timeout_s > 0.0)) return DD_OK;
  /* rank 0 makes the folder and the session id; everyone learns both */
  char msg[WD_PATH + 200] = "";
  unsigned long long session = 0;
  snprintf(g_wd.dir, sizeof g_wd.dir, "%s/.ddscan-watchdog", output_dir);
  if (w->rank == 0) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    session = ((unsigned long long)t.tv_sec << 20) ^ (unsigned long long)t.tv_nsec ^
              ((unsigned long long)getpid() << 40);
    if (dd_mkdir_p(g_wd.dir) != DD_OK) {
      snprintf(msg, sizeof msg, "watchdog: %s", dd_error_message());
      dd_error_clear();
    }
  }
  MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, 0, w->comm);
  if (msg[0]) return DD_FAIL(DD_ERR_IO, "%s", msg);
  MPI_Bcast(&session, 1, MPI_UNSIGNED_LONG_LONG, 0, w->comm);
  g_wd.rank = w->rank;
  g_wd.size = w->size;
  g_wd.timeout_s = timeout_s;
  g_wd.interval_s = timeout_s / 5.0 < 0.2 ? 0.2 : timeout_s / 5.0 > 30.0 ? 30.0 : timeout_s / 5.0;
  g_wd.session = session;
  g_wd.counter = 0;
  g_wd.stop = 0;
  snprintf(g_wd.tag, sizeof g_wd.tag, "%s", tag);
  char path[WD_PATH + 80];
  peer_path(w->rank, path, sizeof path);
  dd_status st = DD_OK;
  g_wd.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (g_wd.fd < 0)
    st = DD_FAIL(DD_ERR_IO, "watchdog: cannot create '%s': %s", path, strerror(errno));
  if (st == DD_OK) {
    g_wd.peers = calloc((size_t)w->size, sizeof *g_wd.peers);
    if (!g_wd.peers) st = DD_FAIL(DD_ERR_NOMEM, "watchdog: %d peers", w->size);
  }
  if (st == DD_OK) {
    double now = mono_now();
    for (int r = 0; r < w->size; r++) g_wd.peers[r].changed = now;
    beat(0);
  }
  st = par_agree(w, st);
  if (st == DD_OK) MPI_Comm_dup(w->comm, &g_wd.comm);
  if (st == DD_OK && pthread_create(&g_wd.thread, NULL, wd_main, NULL) != 0) {
    /* this rank still beats nowhere: its peers' watchdog will name it, so
     * say why here */
    dd_warn("watchdog: cannot start its thread on rank %d", w->rank);
    close(g_wd.fd);
    g_wd.fd = -1;
    free(g_wd.peers);
    g_wd.peers = NULL;
    return DD_OK;
  }
  if (st != DD_OK) {
    if (g_wd.fd >= 0) {
      close(g_wd.fd);
      unlink(path);
    }
    g_wd.fd = -1;
    free(g_wd.peers);
    g_wd.peers = NULL;
    return DD_CONTEXT(st, "starting the watchdog");
  }
  g_wd.running = 1;
  dd_debug("watchdog: every rank's heartbeat in '%s', timeout %g s", g_wd.dir, timeout_s);
  return DD_OK;
}

void par_watchdog_stage(const char *name) {
  pthread_mutex_lock(&g_wd.mu);
  snprintf(g_wd.stage, sizeof g_wd.stage, "%s", name ? name : "-");
  /* a stage name is one word in the record */
  for (char *c = g_wd.stage; *c; c++)
    if (*c == ' ' || *c == '\n') *c = '_';
  if (g_wd.running) beat_locked(0); /* the watchers learn the new stage at once */
  pthread_mutex_unlock(&g_wd.mu);
}

/* Why the stop is a meeting.  A rank whose error is its own (an I/O error
 * seen only here, say) returns from its stage while the others may wait in
 * a collective it will never join; main's final agreement would then hang
 * it too.  So every rank meets the others on a private communicator
 * (MPI_Ibarrier, polled) before its watchdog stops: a healthy rank waits as
 * long as it takes (its watchdog still guards it against a stopped peer);
 * a rank with its own error waits at most min(run.watchdog_s, 30 s) and then
 * prints its error and ends the job. */
static void meet_others(void) {
  if (g_wd.comm == MPI_COMM_NULL) return;
  MPI_Request req;
  MPI_Ibarrier(g_wd.comm, &req);
  const int mine = par_error_is_local();
  const double grace = g_wd.timeout_s < 30.0 ? g_wd.timeout_s : 30.0, t0 = mono_now();
  for (;;) {
    int done = 0;
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (done) break;
    if (mine && mono_now() - t0 > grace)
      DD_PANIC(dd_error_status(),
               "%s; the other ranks did not follow within %.0f s (they wait in a collective "
               "this rank left), so the job is ended",
               dd_error_chain(), grace);
    struct timespec nap = {0, 5000000}; /* 5 ms: no busy wait */
    nanosleep(&nap, NULL);
  }
  MPI_Comm_free(&g_wd.comm);
}

void par_watchdog_stop(void) {
  if (!g_wd.running) return;
  meet_others();
  pthread_mutex_lock(&g_wd.mu);
  g_wd.stop = 1;
  pthread_cond_signal(&g_wd.cv);
  pthread_mutex_unlock(&g_wd.mu);
  pthread_join(g_wd.thread, NULL);
  beat(1);
  close(g_wd.fd);
  g_wd.fd = -1;
  char path[WD_PATH + 80];
  peer_path(g_wd.rank, path, sizeof path);
  unlink(path);
  if (g_wd.rank == 0) rmdir(g_wd.dir); /* fails while other ranks' files remain: fine */
  free(g_wd.peers);
  g_wd.peers = NULL;
  g_wd.running = 0;
}
