/*
 * disk_pause.c - antom-bench-disk: does this machine's disk pause?
 *
 * Why: at 4 million stored notifications the p99 comes from a COMMIT now
 * and then waiting 40-240 ms for the WAL's sync (bench/RESULTS.md).  This
 * writes random 4 KiB blocks of a file with O_DIRECT from THREADS threads,
 * without SQLite or antomd, and prints every 20 ms tick in which fewer
 * than 20 writes completed: if they come at a steady period whatever runs,
 * the disk itself pauses.
 *
 * usage: antom-bench-disk FILE THREADS SECONDS
 * FILE must exist, be at least 1 MiB, and is overwritten with zeros.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DISK_BLOCK	4096
#define DISK_TICK_US	20000
#define DISK_SLOW	20		/* writes a tick under which it paused */
#define DISK_THREADS	64

static int		 disk_fd;
static long		 disk_blocks;
static atomic_long	 disk_done;
static atomic_int	 disk_stop;
static atomic_int	 disk_err;

static double
disk_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
disk_writer(void *arg)
{
	unsigned seed = (unsigned)(long)arg * 7919u + 1u;
	void *buf;

	if (posix_memalign(&buf, DISK_BLOCK, DISK_BLOCK) != 0) {
		atomic_store(&disk_err, ENOMEM);
		return NULL;
	}
	memset(buf, 0, DISK_BLOCK);
	while (!atomic_load(&disk_stop)) {
		long b = (long)(rand_r(&seed) % (unsigned)disk_blocks);

		if (pwrite(disk_fd, buf, DISK_BLOCK, b * DISK_BLOCK) !=
		    DISK_BLOCK) {
			atomic_store(&disk_err, errno != 0 ? errno : EIO);
			break;
		}
		atomic_fetch_add(&disk_done, 1);
	}
	free(buf);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t[DISK_THREADS];
	double t0, secs, last = 0;
	long prev = 0, n, i;
	int nt, ticks = 0, slow = 0;

	if (argc != 4 || (nt = atoi(argv[2])) < 1 || nt > DISK_THREADS ||
	    (secs = atof(argv[3])) <= 0) {
		fprintf(stderr, "usage: antom-bench-disk FILE THREADS(1-%d) "
		    "SECONDS\n", DISK_THREADS);
		return 2;
	}
	if ((disk_fd = open(argv[1], O_RDWR | O_DIRECT)) == -1) {
		fprintf(stderr, "antom-bench-disk: %s: %s\n", argv[1],
		    strerror(errno));
		return 1;
	}
	disk_blocks = (long)(lseek(disk_fd, 0, SEEK_END) / DISK_BLOCK);
	if (disk_blocks < 256) {
		fprintf(stderr, "antom-bench-disk: %s: under 1 MiB\n", argv[1]);
		return 1;
	}
	for (i = 0; i < nt; i++)
		if (pthread_create(&t[i], NULL, disk_writer, (void *)i) != 0) {
			fprintf(stderr, "antom-bench-disk: no thread\n");
			return 1;
		}
	t0 = disk_now();
	while (disk_now() - t0 < secs && !atomic_load(&disk_err)) {
		usleep(DISK_TICK_US);
		n = atomic_load(&disk_done);
		ticks++;
		if (n - prev < DISK_SLOW) {
			slow++;
			printf("%.3f s: %ld writes in a tick (%.2f s since "
			    "the last such)\n", disk_now() - t0, n - prev,
			    last > 0 ? disk_now() - t0 - last : 0.0);
			last = disk_now() - t0;
		}
		prev = n;
	}
	atomic_store(&disk_stop, 1);
	for (i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	if (atomic_load(&disk_err)) {
		fprintf(stderr, "antom-bench-disk: %s\n",
		    strerror(atomic_load(&disk_err)));
		return 1;
	}
	printf("%ld writes in %.1f s: %.0f/s; %d of %d ticks of %d ms "
	    "under %d writes\n", atomic_load(&disk_done), secs,
	    (double)atomic_load(&disk_done) / secs, slow, ticks,
	    DISK_TICK_US / 1000, DISK_SLOW);
	return 0;
}
