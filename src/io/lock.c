/* lock.c - the output-directory lock: one run at a time writes a run
 * directory.  Rank 0 holds a POSIX record lock (fcntl F_SETLK) on
 * "<dir>/.ddscan.lock" for the life of the process; the kernel drops it when
 * the process ends however it ends (kill -9 included), so a dead run never
 * leaves it stuck.  The lock file holds its holder (host, pid, start time,
 * command line) for the message of the run that is refused.  Bottom layer of
 * io (io_internal.h): it uses no io_file.
 *
 * Why shared and exclusive: the scan shards of one SLURM array
 * (`scan --shard I/N`) run at the same time in one directory, each writing
 * its own results.shard-I-of-N.h5 and all reading results.h5.  A shard takes
 * the directory lock shared (F_RDLCK) plus an exclusive lock of its own
 * (".ddscan.shard-I-of-N.lock"); every other run (the stages, the pipeline,
 * merge) takes it exclusive.  So shards coexist, the same shard twice does
 * not, and no stage rewrites results.h5 while shards read it. */
#define _POSIX_C_SOURCE 200809L
#include "io_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h> /* uses: MPI_Bcast */

#define LOCK_NAME ".ddscan.lock"
#define LOCK_MSG_MAX 2048

/* What this process holds (rank 0 only; the kernel releases it at exit). */
static struct {
  int dir_fd, shard_fd; /* -1 when not held */
  char dir[IO_FS_PATH_MAX];
  int shard_index, shard_count;
} g_lock = {-1, -1, "", -1, -1};

/* The holder record written into a lock file we hold. */
static void holder_record(int argc, char *const *argv, char *buf, size_t cap) {
  char host[128] = "?";
  gethostname(host, sizeof host - 1);
  char when[32] = "?";
  time_t t = time(NULL);
  struct tm tm;
  if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  int n = snprintf(buf, cap, "host %s, pid %ld, started %s, command:", host, (long)getpid(), when);
  for (int i = 0; i < argc && n > 0 && (size_t)n < cap; i++)
    n += snprintf(buf + n, cap - (size_t)n, " %s", argv[i]);
  if (n > 0 && (size_t)n < cap - 1) {
    buf[n] = '\n';
    buf[n + 1] = '\0';
  }
}

/* The holder named in lock file fd ("pid P" from the kernel when the record
 * is not written yet). */
static void holder_text(int fd, pid_t pid, char *buf, size_t cap) {
  char rec[1024];
  ssize_t n = pread(fd, rec, sizeof rec - 1, 0);
  if (n > 0) {
    rec[n] = '\0';
    rec[strcspn(rec, "\n")] = '\0';
  }
  if (n > 0 && rec[0])
    snprintf(buf, cap, "%s", rec);
  else
    snprintf(buf, cap, "pid %ld (its details are not written yet)", (long)pid);
}

/* The type of a lock that conflicts with `type` on fd (F_RDLCK or F_WRLCK)
 * and its owner's *pid, or F_UNLCK when `type` could be taken. */
static short conflict(int fd, short type, pid_t *pid) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, F_GETLK, &fl) != 0) return F_UNLCK;
  *pid = fl.l_pid;
  return fl.l_type;
}

/* The held shard lock in dir, as text ("" when none is found). */
static void shard_holder(const char *dir, char *buf, size_t cap) {
  buf[0] = '\0';
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while (!buf[0] && (e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, ".ddscan.shard-", 14) != 0) continue;
    char path[IO_FS_PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    pid_t pid = 0;
    if (conflict(fd, F_WRLCK, &pid) == F_WRLCK) {
      char h[1024];
      holder_text(fd, pid, h, sizeof h);
      snprintf(buf, cap, "a `scan --shard` run: %s", h);
    }
    close(fd); /* never one of ours: closing cannot drop a lock this process holds */
  }
  closedir(d);
}

/* Takes lock `type` on "<dir>/<name>" into *fd_out; on conflict writes the
 * refusal into msg. */
static int take(const char *dir, const char *name, short type, int argc, char *const *argv,
                int *fd_out, char *msg, size_t cap) {
  char path[IO_FS_PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(msg, cap, "cannot open the lock file '%s': %s", path, strerror(errno));
    return 0;
  }
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, F_SETLK, &fl) != 0) {
    int err = errno;
    if (err == EACCES || err == EAGAIN) {
      char who[1200] = "";
      pid_t pid = 0;
      short held = conflict(fd, F_WRLCK, &pid);
      if (held == F_WRLCK)
        holder_text(fd, pid, who, sizeof who);
      else if (held == F_RDLCK) /* shards hold it shared and write nothing into it */
        shard_holder(dir, who, sizeof who);
      if (!who[0]) snprintf(who, sizeof who, "pid %ld", (long)pid);
      snprintf(msg, cap,
               "output directory '%s' is in use by another ddscan run (%s); wait for it to end "
               "or choose another run.output_dir (the lock '%s' is released when that process "
               "ends)",
               dir, who, path);
    } else {
      snprintf(msg, cap,
               "cannot lock '%s': %s (the file system may not support POSIX locks: NFS without "
               "lockd, Lustre mounted without -o flock; DDSCAN_NO_LOCK=1 runs without the lock, "
               "at your own risk)",
               path, strerror(err));
    }
    close(fd);
    return 0;
  }
  if (type == F_WRLCK) {
    char rec[LOCK_MSG_MAX];
    holder_record(argc, argv, rec, sizeof rec);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, rec, strlen(rec), 0) < 0) {
      /* the lock holds without its record; a refused run then names the pid */
    }
  }
  *fd_out = fd;
  return 1;
}

dd_status io_dir_lock(const par_world *w, const char *dir, int shard_index, int shard_count,
                      int argc, char *const *argv) {
  char msg[LOCK_MSG_MAX] = "";
  int usage = 1; /* a refusal is the user's to resolve: exit 2 */
  if (w->rank == 0) {
    const char *off = getenv("DDSCAN_NO_LOCK");
    int shard = shard_count > 0;
    if (strlen(dir) >= IO_FS_PATH_MAX) {
      snprintf(msg, sizeof msg, "output directory name longer than %d characters",
               IO_FS_PATH_MAX - 1);
    } else if (off && off[0] && strcmp(off, "0") != 0) {
      dd_warn("DDSCAN_NO_LOCK is set: '%s' is not locked against a second run", dir);
    } else if (g_lock.dir_fd >= 0 && strcmp(g_lock.dir, dir) == 0 &&
               (!shard ||
                (g_lock.shard_index == shard_index && g_lock.shard_count == shard_count))) {
      /* already held by this process (the pipeline's stages, a repeated call) */
    } else if (g_lock.dir_fd >= 0) {
      snprintf(msg, sizeof msg, "this process already locks '%.900s', not '%.900s'", g_lock.dir,
               dir);
      usage = 0;
    } else if (dd_mkdir_p(dir) != DD_OK) {
      snprintf(msg, sizeof msg, "%s", dd_error_message());
      dd_error_clear();
      usage = 0;
    } else {
      int dfd = -1, sfd = -1;
      char name[96];
      snprintf(name, sizeof name, ".ddscan.shard-%d-of-%d.lock", shard_index, shard_count);
      if (take(dir, LOCK_NAME, shard ? F_RDLCK : F_WRLCK, argc, argv, &dfd, msg, sizeof msg) &&
          (!shard || take(dir, name, F_WRLCK, argc, argv, &sfd, msg, sizeof msg))) {
        g_lock.dir_fd = dfd;
        g_lock.shard_fd = sfd;
        g_lock.shard_index = shard ? shard_index : -1;
        g_lock.shard_count = shard ? shard_count : -1;
        snprintf(g_lock.dir, sizeof g_lock.dir, "%s", dir);
      } else if (dfd >= 0) {
        close(dfd);
      }
    }
  }
  MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, 0, w->comm);
  MPI_Bcast(&usage, 1, MPI_INT, 0, w->comm);
  if (msg[0]) return DD_FAIL(usage ? DD_ERR_ARG : DD_ERR_IO, "%s", msg);
  return DD_OK;
}

void io_dir_unlock(void) {
  /* Closing the descriptor drops the record lock; the file stays (removing
   * it would race with a run that has just opened it). */
  if (g_lock.shard_fd >= 0) close(g_lock.shard_fd);
  if (g_lock.dir_fd >= 0) close(g_lock.dir_fd);
  g_lock.shard_fd = g_lock.dir_fd = -1;
  g_lock.dir[0] = '\0';
}
