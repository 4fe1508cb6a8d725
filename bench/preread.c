/*
 * preread.c - antom-bench-preread: put a database file in the page cache
 * as antomd's own reads would leave it.
 *
 * Why: a grown database is copied before each run, and the copy (or a
 * cat of it) leaves its pages in the kernel's page cache as large folios.
 * On this machine's kernel (ext4 with large folios) the checkpointer's
 * 4 KiB writes into such folios cost it 5 to 8 times the CPU per
 * notification they cost with the file cached a page at a time,
 * ext4_block_write_begin half of it (bench/RESULTS.md).  A database in
 * service is read a page at a time at random places, which leaves small
 * folios.  This drops FILE from the page cache and reads it back 4 KiB
 * at a time with readahead off, from THREADS threads (each read waits for
 * the disk).
 *
 * usage: antom-bench-preread THREADS FILE...
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREREAD_PAGE	4096
#define PREREAD_THREADS	64

struct preread {
	pthread_t	 t;
	int		 fd;
	long		 first, step, pages;
	int		 err;
};

/* Pages first, first + step, ...: the threads interleave. */
static void *
preread_run(void *arg)
{
	struct preread *p = arg;
	char buf[PREREAD_PAGE];
	long i;

	for (i = p->first; i < p->pages; i += p->step)
		if (pread(p->fd, buf, sizeof(buf), (off_t)i * PREREAD_PAGE) < 0) {
			p->err = errno;
			break;
		}
	return NULL;
}

static int
preread_file(const char *path, int nthreads)
{
	struct preread th[PREREAD_THREADS];
	struct stat sb;
	int fd, i, rc = 0;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &sb) == -1) {
		fprintf(stderr, "antom-bench-preread: %s: %s\n", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* Out of the page cache (clean pages only: sync first), then no readahead. */
	if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0 ||
	    posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM) != 0) {
		fprintf(stderr, "antom-bench-preread: %s: fadvise failed\n",
		    path);
		close(fd);
		return -1;
	}
	for (i = 0; i < nthreads; i++) {
		th[i].fd = fd;
		th[i].first = i;
		th[i].step = nthreads;
		th[i].pages = (long)((sb.st_size + PREREAD_PAGE - 1) /
		    PREREAD_PAGE);
		th[i].err = 0;
		if (pthread_create(&th[i].t, NULL, preread_run, &th[i]) != 0) {
			fprintf(stderr, "antom-bench-preread: no thread\n");
			exit(1);
		}
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(th[i].t, NULL);
		if (th[i].err != 0 && rc == 0) {
			fprintf(stderr, "antom-bench-preread: %s: %s\n", path,
			    strerror(th[i].err));
			rc = -1;
		}
	}
	close(fd);
	return rc;
}

int
main(int argc, char **argv)
{
	int nthreads, i, rc = 0;

	if (argc < 3 || (nthreads = atoi(argv[1])) < 1 ||
	    nthreads > PREREAD_THREADS) {
		fprintf(stderr, "usage: antom-bench-preread THREADS FILE...\n"
		    "THREADS from 1 to %d\n", PREREAD_THREADS);
		return 2;
	}
	for (i = 2; i < argc; i++)
		if (preread_file(argv[i], nthreads) != 0)
			rc = 1;
	return rc;
}
