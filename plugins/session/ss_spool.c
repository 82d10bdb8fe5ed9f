/*
 * ss_spool: append-only segment files for transcripts, the group-commit
 * flusher thread, crash recovery (torn-tail truncation), reading cursors
 * and acknowledged deletion.  See ss_spool.h for the layout and rules.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ss_spool.h"

#define SEG_PREFIX "seg-"
#define SEG_SUFFIX ".dtr"
#define LOCK_NAME "writer.lock"
#define MAX_SEG_READ (64u * 1024 * 1024)
#define RETIRED_MAX 16

struct ss_spool_writer {
	char sdir[SS_SPOOL_PATH_MAX];
	int dirfd;
	int lockfd;
	int fd;                 /* current segment */
	uint64_t seg_size;
	uint32_t seg_bytes;
	uint32_t fsync_ms;
	pthread_t thr;
	int thr_started;
	pthread_mutex_t mu;
	pthread_cond_t wake;    /* flusher: work or urgency */
	pthread_cond_t done;    /* sync waiters */
	int stop;
	int urgent;
	uint64_t appended;      /* bytes appended since open */
	uint64_t synced;        /* bytes known durable */
	int retired[RETIRED_MAX]; /* finished segments awaiting their sync */
	size_t nretired;
	int dir_dirty;          /* a segment was created since the last sync */
	int sync_errno;
	uint64_t fsyncs;
};

int
ss_spool_check_id(const char *id, struct dh_err *err)
{
	size_t i, n;

	if (id == NULL)
		return dh_err_set(err, DH_E_ARG, "session id missing");
	n = strlen(id);
	if (n == 0 || n > 127 || id[0] == '.')
		return dh_err_set(err, DH_E_ARG, "bad session id length or "
		    "leading dot");
	for (i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '@' || c == '=' || c == '+' || c == '-'))
			return dh_err_set(err, DH_E_ARG,
			    "bad character in session id");
	}
	return DH_OK;
}

int
ss_spool_session_dir(const char *dir, const char *id, char *out, size_t n,
    struct dh_err *err)
{
	int rc, w;

	rc = ss_spool_check_id(id, err);
	if (rc != DH_OK)
		return rc;
	w = snprintf(out, n, "%s/%s", dir, id);
	if (w < 0 || (size_t)w >= n)
		return dh_err_set(err, DH_E_TOOBIG, "spool path too long");
	return DH_OK;
}

static int
path_join(char *out, size_t n, const char *a, const char *b)
{
	int w = snprintf(out, n, "%s/%s", a, b);

	return (w < 0 || (size_t)w >= n) ? DH_E_TOOBIG : DH_OK;
}

static int
parse_seg_name(const char *name, uint64_t *first)
{
	size_t n = strlen(name);
	uint64_t v = 0;
	size_t i;

	if (n != 4 + 16 + 4 || strncmp(name, SEG_PREFIX, 4) != 0 ||
	    strcmp(name + 20, SEG_SUFFIX) != 0)
		return DH_E_FORMAT;
	for (i = 4; i < 20; i++) {
		char c = name[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return DH_E_FORMAT;
		v = (v << 4) | (uint64_t)d;
	}
	*first = v;
	return DH_OK;
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct ss_spool_seg *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 :
	    x->first_seq > y->first_seq ? 1 : 0;
}

int
ss_spool_list_segments(const char *sdir, struct ss_spool_seg **segs,
    size_t *n, struct dh_err *err)
{
	DIR *d = NULL;
	struct dirent *de;
	struct ss_spool_seg *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	char path[SS_SPOOL_PATH_MAX];
	struct stat st;
	uint64_t first;
	int rc = DH_OK;

	*segs = NULL;
	*n = 0;
	d = opendir(sdir);
	if (d == NULL) {
		rc = dh_err_set(err, errno == ENOENT ? DH_E_NOTFOUND : DH_E_IO,
		    "opendir %s: %s", sdir, strerror(errno));
		goto out;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (parse_seg_name(de->d_name, &first) != DH_OK)
			continue;
		if (path_join(path, sizeof(path), sdir, de->d_name) != DH_OK ||
		    stat(path, &st) != 0)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
				goto out;
			}
			v = nv;
		}
		/* parse_seg_name accepted exactly 24 characters. */
		memcpy(v[cnt].name, de->d_name, 25);
		v[cnt].first_seq = first;
		v[cnt].size = (uint64_t)st.st_size;
		cnt++;
	}
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), seg_cmp);
	*segs = v;
	*n = cnt;
	v = NULL;
out:
	free(v);
	if (d != NULL)
		closedir(d);
	return rc;
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

int
ss_spool_list_sessions(const char *dir, char (**ids)[128], size_t *n,
    struct dh_err *err)
{
	DIR *d = NULL;
	struct dirent *de;
	char (*v)[128] = NULL;
	char (*nv)[128];
	size_t cnt = 0, cap = 0;
	char path[SS_SPOOL_PATH_MAX];
	struct stat st;
	int rc = DH_OK;

	*ids = NULL;
	*n = 0;
	d = opendir(dir);
	if (d == NULL) {
		rc = dh_err_set(err, errno == ENOENT ? DH_E_NOTFOUND : DH_E_IO,
		    "opendir %s: %s", dir, strerror(errno));
		goto out;
	}
	for (;;) {
		de = readdir(d);
		if (de == NULL)
			break;
		if (ss_spool_check_id(de->d_name, NULL) != DH_OK)
			continue;
		if (path_join(path, sizeof(path), dir, de->d_name) != DH_OK ||
		    stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
				goto out;
			}
			v = nv;
		}
		memcpy(v[cnt], de->d_name, strlen(de->d_name) + 1);
		cnt++;
	}
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), id_cmp);
	*ids = v;
	*n = cnt;
	v = NULL;
out:
	free(v);
	if (d != NULL)
		closedir(d);
	return rc;
}

int
ss_spool_usage(const char *dir, uint64_t *bytes, struct dh_err *err)
{
	char (*ids)[128] = NULL;
	struct ss_spool_seg *segs = NULL;
	size_t n = 0, ns, i, j;
	char sdir[SS_SPOOL_PATH_MAX];
	int rc;

	*bytes = 0;
	rc = ss_spool_list_sessions(dir, &ids, &n, err);
	if (rc != DH_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if (path_join(sdir, sizeof(sdir), dir, ids[i]) != DH_OK)
			continue;
		if (ss_spool_list_segments(sdir, &segs, &ns, NULL) != DH_OK)
			continue;
		for (j = 0; j < ns; j++)
			*bytes += segs[j].size;
		free(segs);
		segs = NULL;
	}
out:
	free(ids);
	return rc;
}

int
ss_spool_writer_alive(const char *sdir)
{
	char path[SS_SPOOL_PATH_MAX];
	int fd, alive;

	if (path_join(path, sizeof(path), sdir, LOCK_NAME) != DH_OK)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	alive = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return alive;
}

static void
deadline_after(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* The group-commit loop: one fdatasync covers every append before it. */
static void *
flusher_main(void *arg)
{
	struct ss_spool_writer *w = arg;
	struct timespec ts;
	uint64_t target;
	int fd, retired[RETIRED_MAX], dirty, e;
	size_t nret, k;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (w->appended == w->synced && w->nretired == 0 &&
		    !w->dir_dirty) {
			if (w->stop)
				break;
			pthread_cond_wait(&w->wake, &w->mu);
			continue;
		}
		target = w->appended;
		fd = w->fd;
		nret = w->nretired;
		memcpy(retired, w->retired, nret * sizeof(int));
		w->nretired = 0;
		dirty = w->dir_dirty;
		w->dir_dirty = 0;
		w->urgent = 0;
		pthread_mutex_unlock(&w->mu);
		e = 0;
		for (k = 0; k < nret; k++) {
			if (fdatasync(retired[k]) != 0)
				e = errno;
			close(retired[k]);
		}
		if (fd >= 0 && fdatasync(fd) != 0)
			e = errno;
		if (dirty && fsync(w->dirfd) != 0)
			e = errno;
		pthread_mutex_lock(&w->mu);
		w->fsyncs++;
		if (e != 0)
			w->sync_errno = e;
		else if (target > w->synced)
			w->synced = target;
		pthread_cond_broadcast(&w->done);
		/* Group-commit window: gather appends for fsync_ms unless a
		 * caller is waiting or we are stopping. */
		if (!w->stop && !w->urgent) {
			deadline_after(&ts, w->fsync_ms);
			while (!w->stop && !w->urgent &&
			    pthread_cond_timedwait(&w->wake, &w->mu, &ts) == 0)
				;
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static int
open_segment(struct ss_spool_writer *w, uint64_t first_seq,
    struct dh_err *err)
{
	char name[SS_SPOOL_SEG_NAME];
	int fd;

	snprintf(name, sizeof(name), SEG_PREFIX "%016" PRIx64 SEG_SUFFIX,
	    first_seq);
	/* Relative to the directory fd: the directory may be renamed. */
	fd = openat(w->dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return dh_err_set(err, DH_E_IO, "open %s/%s: %s", w->sdir, name,
		    strerror(errno));
	pthread_mutex_lock(&w->mu);
	if (w->fd >= 0) {
		/* Hand the finished segment to the flusher; wait only when
		 * RETIRED_MAX segments are still waiting for their sync. */
		while (w->nretired == RETIRED_MAX && w->thr_started) {
			w->urgent = 1;
			pthread_cond_signal(&w->wake);
			pthread_cond_wait(&w->done, &w->mu);
		}
		if (w->thr_started) {
			w->retired[w->nretired++] = w->fd;
		} else {
			(void)fdatasync(w->fd);
			close(w->fd);
		}
	}
	w->fd = fd;
	w->seg_size = 0;
	w->dir_dirty = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	return DH_OK;
}

int
ss_spool_writer_open(const char *sdir, int create, uint64_t next_seq,
    uint32_t seg_bytes, uint32_t fsync_ms, struct ss_spool_writer **out,
    struct dh_err *err)
{
	struct ss_spool_writer *w;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	w->dirfd = w->lockfd = w->fd = -1;
	w->seg_bytes = seg_bytes ? seg_bytes : 8u * 1024 * 1024;
	w->fsync_ms = fsync_ms ? fsync_ms : 5;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&w->done, NULL);
	if (snprintf(w->sdir, sizeof(w->sdir), "%s", sdir) >=
	    (int)sizeof(w->sdir)) {
		rc = dh_err_set(err, DH_E_TOOBIG, "spool path too long");
		goto fail;
	}
	if (create && mkdir(sdir, 0700) != 0) {
		rc = dh_err_set(err, errno == EEXIST ? DH_E_EXISTS : DH_E_IO,
		    "mkdir %s: %s", sdir, strerror(errno));
		goto fail;
	}
	if (!create && access(sdir, F_OK) != 0) {
		rc = dh_err_set(err, DH_E_NOTFOUND, "%s: %s", sdir,
		    strerror(errno));
		goto fail;
	}
	w->dirfd = open(sdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0) {
		rc = dh_err_set(err, DH_E_IO, "open %s: %s", sdir,
		    strerror(errno));
		goto fail;
	}
	w->lockfd = openat(w->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC,
	    0600);
	if (w->lockfd < 0) {
		rc = dh_err_set(err, DH_E_IO, "open %s/%s: %s", sdir,
		    LOCK_NAME, strerror(errno));
		goto fail;
	}
	if (flock(w->lockfd, LOCK_EX | LOCK_NB) != 0) {
		rc = dh_err_set(err, DH_E_STATE, "session spool %s is held "
		    "by another writer", sdir);
		goto fail;
	}
	rc = open_segment(w, next_seq, err);
	if (rc != DH_OK)
		goto fail;
	if (pthread_create(&w->thr, NULL, flusher_main, w) != 0) {
		rc = dh_err_set(err, DH_E_NOMEM, "cannot start flusher");
		goto fail;
	}
	w->thr_started = 1;
	*out = w;
	return DH_OK;
fail:
	ss_spool_writer_close(w);
	return rc;
}

int
ss_spool_writer_append(struct ss_spool_writer *w,
    const unsigned char hdr[SS_RECORD_HDR_LEN], const void *payload,
    size_t len, uint64_t seq, struct dh_err *err)
{
	struct iovec iov[2];
	size_t total = SS_RECORD_HDR_LEN + len;
	ssize_t wr;
	int rc, e;

	if (w->seg_size > 0 && w->seg_size + total > w->seg_bytes) {
		rc = open_segment(w, seq, err);
		if (rc != DH_OK)
			return rc;
	}
	iov[0].iov_base = (void *)hdr;
	iov[0].iov_len = SS_RECORD_HDR_LEN;
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	do {
		wr = writev(w->fd, iov, len > 0 ? 2 : 1);
	} while (wr < 0 && errno == EINTR);
	if (wr < 0 || (size_t)wr != total) {
		e = wr < 0 ? errno : ENOSPC;
		/* Undo a partial record so the segment stays well formed. */
		if (wr > 0 && ftruncate(w->fd, (off_t)w->seg_size) != 0)
			return dh_err_set(err, DH_E_IO, "short write and "
			    "truncate failed: %s", strerror(errno));
		return dh_err_set(err, DH_E_IO, "spool write: %s",
		    strerror(e));
	}
	w->seg_size += total;
	pthread_mutex_lock(&w->mu);
	w->appended += total;
	if (w->appended - w->synced == total)
		pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	return DH_OK;
}

int
ss_spool_writer_sync(struct ss_spool_writer *w, struct dh_err *err)
{
	uint64_t target;
	int e;

	pthread_mutex_lock(&w->mu);
	target = w->appended;
	while (w->synced < target && w->sync_errno == 0) {
		w->urgent = 1;
		pthread_cond_signal(&w->wake);
		pthread_cond_wait(&w->done, &w->mu);
	}
	e = w->sync_errno;
	pthread_mutex_unlock(&w->mu);
	if (e != 0)
		return dh_err_set(err, DH_E_IO, "spool fsync: %s", strerror(e));
	return DH_OK;
}

int
ss_spool_writer_dirfd(const struct ss_spool_writer *w)
{
	return w->dirfd;
}

uint64_t
ss_spool_writer_fsyncs(const struct ss_spool_writer *w)
{
	uint64_t v;

	pthread_mutex_lock((pthread_mutex_t *)&w->mu);
	v = w->fsyncs;
	pthread_mutex_unlock((pthread_mutex_t *)&w->mu);
	return v;
}

void
ss_spool_writer_close(struct ss_spool_writer *w)
{
	if (w == NULL)
		return;
	if (w->thr_started) {
		(void)ss_spool_writer_sync(w, NULL);
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thr, NULL);
	}
	while (w->nretired > 0) {
		w->nretired--;
		(void)fdatasync(w->retired[w->nretired]);
		close(w->retired[w->nretired]);
	}
	if (w->fd >= 0) {
		(void)fdatasync(w->fd);
		close(w->fd);
	}
	if (w->dirfd >= 0) {
		(void)fsync(w->dirfd);
		close(w->dirfd);
	}
	if (w->lockfd >= 0)
		close(w->lockfd);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->done);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static int
read_file(const char *path, unsigned char **out, size_t *n,
    struct dh_err *err)
{
	struct stat st;
	unsigned char *p = NULL;
	size_t got = 0;
	ssize_t r;
	int fd, rc = DH_OK;

	*out = NULL;
	*n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return dh_err_set(err, DH_E_IO, "open %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_size < 0 ||
	    (uint64_t)st.st_size > MAX_SEG_READ) {
		rc = dh_err_set(err, DH_E_TOOBIG, "segment %s too large", path);
		goto out;
	}
	p = malloc((size_t)st.st_size + 1);
	if (p == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, p + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	*out = p;
	*n = got;
	p = NULL;
out:
	free(p);
	close(fd);
	return rc;
}

static int
truncate_path(const char *path, size_t off)
{
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0)
		rc = -1;
	close(fd);
	return rc;
}

int
ss_spool_recover(const char *sdir, int truncate, struct ss_spool_tail *tail,
    struct dh_err *err)
{
	struct ss_spool_seg *segs = NULL;
	size_t nseg = 0, i, j, off, used, len;
	unsigned char *data = NULL;
	char path[SS_SPOOL_PATH_MAX];
	struct ss_record rec;
	struct dh_err derr;
	int rc, anchored = 0, damaged = 0;

	memset(tail, 0, sizeof(*tail));
	tail->next_seq = 1;
	rc = ss_spool_list_segments(sdir, &segs, &nseg, err);
	if (rc != DH_OK)
		goto out;
	if (nseg == 0) {
		rc = dh_err_set(err, DH_E_NOTFOUND, "no segments in %s", sdir);
		goto out;
	}
	for (i = 0; i < nseg && !damaged; i++) {
		if (path_join(path, sizeof(path), sdir, segs[i].name) != DH_OK) {
			rc = dh_err_set(err, DH_E_TOOBIG, "path too long");
			goto out;
		}
		free(data);
		rc = read_file(path, &data, &len, err);
		if (rc != DH_OK)
			goto out;
		off = 0;
		while (off < len) {
			rc = ss_record_decode(data + off, len - off, &rec, &used,
			    &derr);
			if (rc == DH_OK && anchored &&
			    (rec.seq != tail->next_seq ||
			    !ss_record_link_ok(&rec, tail->link)))
				rc = DH_E_INTEGRITY;
			if (rc == DH_OK && !anchored && segs[i].first_seq <= 1 &&
			    (rec.seq != 1 || !ss_record_link_ok(&rec,
			    tail->link)))
				rc = DH_E_INTEGRITY;
			if (rc != DH_OK)
				break;
			/* The first record left after acknowledged deletions
			 * anchors the chain (its predecessor is gone). */
			anchored = 1;
			memcpy(tail->link, rec.link, SS_LINK_LEN);
			tail->next_seq = rec.seq + 1;
			tail->last_time_us = rec.time_us;
			if (rec.kind == SS_KIND_SEAL) {
				tail->sealed = 1;
			} else {
				tail->records++;
				if (rec.kind == SS_KIND_OUTPUT)
					tail->output_bytes += rec.len;
				else if (rec.kind == SS_KIND_INPUT)
					tail->input_bytes += rec.len;
				else if (rec.kind == SS_KIND_GAP)
					tail->gaps++;
			}
			off += used;
		}
		if (off < len) {
			damaged = 1;
			tail->truncated_bytes += len - off;
			for (j = i + 1; j < nseg; j++)
				tail->truncated_bytes += segs[j].size;
			if (!truncate)
				continue;
			if (truncate && ss_spool_writer_alive(sdir)) {
				rc = dh_err_set(err, DH_E_STATE,
				    "%s: writer alive, not truncating", sdir);
				goto out;
			}
			if (tail->sealed) {
				rc = dh_err_set(err, DH_E_INTEGRITY,
				    "%s: data after the seal record", sdir);
				goto out;
			}
			if (off == 0 && i > 0) {
				if (unlink(path) != 0) {
					rc = dh_err_set(err, DH_E_IO, "unlink "
					    "%s: %s", path, strerror(errno));
					goto out;
				}
			} else if (truncate_path(path, off) != 0) {
				rc = dh_err_set(err, DH_E_IO, "truncate %s: %s",
				    path, strerror(errno));
				goto out;
			}
			for (j = i + 1; j < nseg; j++) {
				if (path_join(path, sizeof(path), sdir,
				    segs[j].name) == DH_OK)
					(void)unlink(path);
			}
		}
	}
	rc = DH_OK;
out:
	free(data);
	free(segs);
	return rc;
}

static int
cursor_open_seg(struct ss_spool_cursor *c, const char *name,
    struct dh_err *err)
{
	char path[SS_SPOOL_PATH_MAX];

	if (c->fd >= 0) {
		/* What was read from the finished segment is about to be
		 * shipped: make sure it is durable. */
		(void)fdatasync(c->fd);
		close(c->fd);
		c->fd = -1;
	}
	if (path_join(path, sizeof(path), c->sdir, name) != DH_OK)
		return dh_err_set(err, DH_E_TOOBIG, "path too long");
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0)
		return dh_err_set(err, errno == ENOENT ? DH_E_NOTFOUND :
		    DH_E_IO, "open %s: %s", path, strerror(errno));
	snprintf(c->seg, sizeof(c->seg), "%s", name);
	c->off = 0;
	return DH_OK;
}

static int
pread_full(int fd, void *p, size_t n, uint64_t off, size_t *got)
{
	ssize_t r;

	*got = 0;
	while (*got < n) {
		r = pread(fd, (unsigned char *)p + *got, n - *got,
		    (off_t)(off + *got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return DH_E_IO;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return DH_OK;
}

/* Move to the segment after the current one when the current one is
 * finished (a later segment exists and every byte has been read). */
static int
cursor_advance(struct ss_spool_cursor *c, struct dh_err *err)
{
	struct ss_spool_seg *segs = NULL;
	size_t n = 0, i;
	struct stat st;
	int rc;

	rc = ss_spool_list_segments(c->sdir, &segs, &n, err);
	if (rc != DH_OK)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(segs[i].name, c->seg) > 0)
			break;
	if (i == n) {
		rc = DH_E_NOTFOUND;
		goto out;
	}
	if (c->fd >= 0 && (fstat(c->fd, &st) != 0 ||
	    (uint64_t)st.st_size != c->off)) {
		rc = dh_err_set(err, DH_E_FORMAT, "segment %s ends with an "
		    "incomplete record", c->seg);
		goto out;
	}
	rc = cursor_open_seg(c, segs[i].name, err);
out:
	free(segs);
	return rc;
}

int
ss_spool_cursor_open(struct ss_spool_cursor *c, const char *sdir,
    uint64_t seq, struct dh_err *err)
{
	struct ss_spool_seg *segs = NULL;
	unsigned char hdr[SS_RECORD_HDR_LEN];
	size_t n = 0, i, got;
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	dh_buf_init(&c->buf, SS_RECORD_MAX + SS_RECORD_HDR_LEN);
	if (snprintf(c->sdir, sizeof(c->sdir), "%s", sdir) >=
	    (int)sizeof(c->sdir))
		return dh_err_set(err, DH_E_TOOBIG, "path too long");
	rc = ss_spool_list_segments(sdir, &segs, &n, err);
	if (rc != DH_OK)
		goto out;
	if (n == 0) {
		rc = dh_err_set(err, DH_E_NOTFOUND, "no segments in %s", sdir);
		goto out;
	}
	for (i = n; i > 1; i--)
		if (segs[i - 1].first_seq <= seq)
			break;
	rc = cursor_open_seg(c, segs[i - 1].name, err);
	if (rc != DH_OK)
		goto out;
	c->next_seq = segs[i - 1].first_seq > seq ? segs[i - 1].first_seq :
	    seq;
	/* Skip records before seq by their headers. */
	for (;;) {
		rc = pread_full(c->fd, hdr, sizeof(hdr), c->off, &got);
		if (rc != DH_OK || got < sizeof(hdr))
			break;
		if (memcmp(hdr, SS_RECORD_MAGIC, 4) != 0 ||
		    dh_be32(hdr + 8) > SS_RECORD_MAX ||
		    dh_be64(hdr + 16) >= seq)
			break;
		c->off += SS_RECORD_HDR_LEN + (uint64_t)dh_be32(hdr + 8);
	}
	rc = DH_OK;
out:
	free(segs);
	return rc;
}

int
ss_spool_cursor_next(struct ss_spool_cursor *c, struct ss_record *rec,
    struct dh_err *err)
{
	unsigned char hdr[SS_RECORD_HDR_LEN];
	size_t got, used;
	uint32_t len;
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		rc = pread_full(c->fd, hdr, sizeof(hdr), c->off, &got);
		if (rc != DH_OK)
			return dh_err_set(err, rc, "read %s: %s", c->seg,
			    strerror(errno));
		if (got == 0) {
			rc = cursor_advance(c, err);
			if (rc != DH_OK)
				return rc;
			continue;
		}
		if (got < sizeof(hdr))
			return DH_E_NOTFOUND;
		break;
	}
	if (tries == 2)
		return DH_E_NOTFOUND;
	if (memcmp(hdr, SS_RECORD_MAGIC, 4) != 0 || hdr[4] !=
	    SS_RECORD_VERSION)
		return dh_err_set(err, DH_E_FORMAT, "%s offset %llu: not a "
		    "record", c->seg, (unsigned long long)c->off);
	len = dh_be32(hdr + 8);
	if (len > SS_RECORD_MAX)
		return dh_err_set(err, DH_E_FORMAT, "%s offset %llu: record "
		    "too long", c->seg, (unsigned long long)c->off);
	dh_buf_reset(&c->buf);
	rc = dh_buf_reserve(&c->buf, SS_RECORD_HDR_LEN + (size_t)len);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "out of memory");
	rc = dh_buf_put(&c->buf, hdr, sizeof(hdr));
	if (rc == DH_OK && len > 0) {
		rc = dh_buf_reserve(&c->buf, len);
		if (rc == DH_OK)
			rc = pread_full(c->fd, c->buf.d + SS_RECORD_HDR_LEN,
			    len, c->off + SS_RECORD_HDR_LEN, &got);
		if (rc != DH_OK)
			return dh_err_set(err, rc, "read %s", c->seg);
		if (got < len)
			return DH_E_NOTFOUND;
		c->buf.len = SS_RECORD_HDR_LEN + len;
	}
	rc = ss_record_decode(c->buf.d, c->buf.len, rec, &used, err);
	if (rc != DH_OK)
		return rc;
	if (rec->seq != c->next_seq)
		return dh_err_set(err, DH_E_INTEGRITY, "%s: record seq %llu "
		    "where %llu was expected", c->seg,
		    (unsigned long long)rec->seq,
		    (unsigned long long)c->next_seq);
	c->off += used;
	c->next_seq++;
	return DH_OK;
}

int
ss_spool_cursor_sync(struct ss_spool_cursor *c, struct dh_err *err)
{
	if (c->fd >= 0 && fdatasync(c->fd) != 0)
		return dh_err_set(err, DH_E_IO, "fdatasync %s: %s", c->seg,
		    strerror(errno));
	return DH_OK;
}

void
ss_spool_cursor_close(struct ss_spool_cursor *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	dh_buf_free(&c->buf);
}

int
ss_spool_delete_acked(const char *sdir, uint64_t acked, int keep_last,
    uint64_t *deleted, struct dh_err *err)
{
	struct ss_spool_seg *segs = NULL;
	char path[SS_SPOOL_PATH_MAX];
	size_t n = 0, i, limit;
	int rc;

	*deleted = 0;
	rc = ss_spool_list_segments(sdir, &segs, &n, err);
	if (rc != DH_OK)
		goto out;
	limit = keep_last && n > 0 ? n - 1 : n;
	for (i = 0; i < limit; i++) {
		/* Segment i holds seqs up to segs[i+1].first_seq - 1. */
		if (i + 1 < n ? segs[i + 1].first_seq - 1 > acked :
		    keep_last)
			break;
		if (path_join(path, sizeof(path), sdir, segs[i].name) !=
		    DH_OK)
			break;
		if (unlink(path) != 0) {
			rc = dh_err_set(err, DH_E_IO, "unlink %s: %s", path,
			    strerror(errno));
			goto out;
		}
		(*deleted)++;
	}
out:
	free(segs);
	return rc;
}

int
ss_spool_remove_session(const char *sdir, struct dh_err *err)
{
	DIR *d;
	struct dirent *de;
	char path[SS_SPOOL_PATH_MAX];
	int rc = DH_OK;

	d = opendir(sdir);
	if (d == NULL)
		return dh_err_set(err, errno == ENOENT ? DH_E_NOTFOUND :
		    DH_E_IO, "opendir %s: %s", sdir, strerror(errno));
	for (;;) {
		de = readdir(d);
		if (de == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") ==
		    0)
			continue;
		if (path_join(path, sizeof(path), sdir, de->d_name) == DH_OK &&
		    unlink(path) != 0 && errno != ENOENT)
			rc = dh_err_set(err, DH_E_IO, "unlink %s: %s", path,
			    strerror(errno));
	}
	closedir(d);
	if (rc == DH_OK && rmdir(sdir) != 0)
		rc = dh_err_set(err, DH_E_IO, "rmdir %s: %s", sdir,
		    strerror(errno));
	return rc;
}
