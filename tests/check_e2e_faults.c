/*
 * check_e2e_faults.c - the real antomd when things break under it: a
 * database locked by another process, SIGKILL at random moments under
 * load (the crash case; make torture runs it with 20 cycles), a full
 * disk and a read-only file system.  Whatever happens, no SUCCESS without
 * a commit, no acknowledged notification lost, and recovery unaided.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "client.h"
#include "e2e.h"
#include "suites.h"

START_TEST(test_storage_failure_then_retry)
{
	char *b = e2e_pay_body("PR-6", "PAYMENT_RESULT", "S");
	struct client_response r;
	sqlite3 *other;

	e2e_deliver_ok("{\"warm\":\"up\"}");	/* the database exists now */
	/* Another process holds the write lock past busy_timeout_ms. */
	ck_assert_int_eq(sqlite3_open(e2e.db, &other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(e2e_signed_post("/antom/notify", "/antom/notify", b,
	    &r), 503);
	ck_assert_ptr_null(strstr(r.body, "SUCCESS"));
	client_response_free(&r);
	ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 0);
	/* Antom's retry, once storage is back, is stored and acknowledged. */
	e2e_deliver_ok(b);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
	ck_assert_int_eq(e2e_q_int("SELECT delivery_count FROM notifications "
	    "WHERE id = 2"), 1);
	free(b);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

/*
 * Crash consistency: clients send distinct notifications while antomd is
 * killed with SIGKILL at a random moment and started again, cycle after
 * cycle (ANTOMD_CRASH_CYCLES, default 3; make torture runs 20).  Every
 * notification that got SUCCESS must be in the database afterwards, the
 * database must pass integrity_check, and delivering all of them again
 * must change no state.
 */
#define CRASH_THREADS	4
#define CRASH_MAX	3000

struct crash_client {
	int		 id;
	int		 cycle;
	volatile int	 stop;
	int		 nacked;
	char		(*acked)[32];
};

static void *
crash_run(void *arg)
{
	struct crash_client *c = arg;
	char prid[32];
	int i;

	for (i = 0; !c->stop && c->nacked < CRASH_MAX; i++) {
		snprintf(prid, sizeof(prid), "K%d-%d-%d", c->cycle, c->id, i);
		if (e2e_thread_deliver(prid) == 1) {
			snprintf(c->acked[c->nacked], 32, "%s", prid);
			__atomic_store_n(&c->nacked, c->nacked + 1,
			    __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

START_TEST(test_crash_consistency)
{
	const char *env = getenv("ANTOMD_CRASH_CYCLES");
	int cycles = env != NULL ? atoi(env) : 3, cyc, i, j, total = 0;
	int resent = 0;
	struct crash_client *all;
	long long events;
	char sql[160];

	all = calloc((size_t)cycles * CRASH_THREADS, sizeof(*all));
	ck_assert_ptr_nonnull(all);
	(void)e2e_test_key();
	srand((unsigned)getpid());
	for (cyc = 0; cyc < cycles; cyc++) {
		pthread_t th[CRASH_THREADS];
		int status;

		if (cyc > 0)
			e2e_start_daemon();
		for (i = 0; i < CRASH_THREADS; i++) {
			struct crash_client *c = &all[cyc * CRASH_THREADS + i];

			c->id = i;
			c->cycle = cyc;
			c->acked = calloc(CRASH_MAX, 32);
			ck_assert_int_eq(pthread_create(&th[i], NULL, crash_run,
			    c), 0);
		}
		/*
		 * Let traffic flow (slow to start under valgrind), then kill
		 * at a random moment.
		 */
		for (j = 0; j < 400; j++) {
			int acked = 0;

			for (i = 0; i < CRASH_THREADS; i++)
				acked += __atomic_load_n(
				    &all[cyc * CRASH_THREADS + i].nacked,
				    __ATOMIC_ACQUIRE);
			if (acked > 0)
				break;
			usleep(50 * 1000);
		}
		usleep((useconds_t)(150 + rand() % 350) * 1000);
		kill(e2e.pid, SIGKILL);
		ck_assert_int_eq(waitpid(e2e.pid, &status, 0), e2e.pid);
		ck_assert(WIFSIGNALED(status));
		e2e.pid = 0;
		for (i = 0; i < CRASH_THREADS; i++) {
			all[cyc * CRASH_THREADS + i].stop = 1;
			pthread_join(th[i], NULL);
		}
	}

	/* Every acknowledged notification survived every crash. */
	ck_assert_str_eq(e2e_q_text("PRAGMA integrity_check"), "ok");
	for (i = 0; i < cycles * CRASH_THREADS; i++) {
		for (j = 0; j < all[i].nacked; j++) {
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM payments "
			    "WHERE payment_request_id = '%s'", all[i].acked[j]);
			ck_assert_msg(e2e_q_int(sql) == 1, "acknowledged %s lost",
			    all[i].acked[j]);
		}
		total += all[i].nacked;
	}
	ck_assert_int_gt(total, 0);
	fprintf(stderr, "crash consistency: %d SIGKILL cycles, %d notifications "
	    "acknowledged, all stored\n", cycles, total);

	/* Antom delivering them all again changes no state. */
	events = e2e_q_int("SELECT count(*) FROM events");
	e2e_start_daemon();
	for (i = 0; i < cycles * CRASH_THREADS; i++) {
		for (j = 0; j < all[i].nacked; j += 7) {
			char *b = e2e_pay_body(all[i].acked[j],
			    "PAYMENT_RESULT", "S");

			e2e_deliver_ok(b);
			free(b);
			resent++;
		}
	}
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM events"), events);
	ck_assert_int_ge(e2e_q_int("SELECT count(*) FROM notifications WHERE "
	    "delivery_count > 1"), resent);
	for (i = 0; i < cycles * CRASH_THREADS; i++)
		free(all[i].acked);
	free(all);
}
END_TEST

/*
 * Storage faults, on a small tmpfs of our own (needs root to mount; the
 * test says so and does nothing otherwise).  A full disk gives 503, never
 * a SUCCESS without a commit, and antomd recovers by itself once space is
 * freed; a database on a read-only file system gives 503 and a log line
 * naming the cause, and antomd takes it back once it is writable.
 */
static char fsdir[96];

static int
mount_small_fs(const char *size)
{
	char cmd[256];

	snprintf(fsdir, sizeof(fsdir), "%s/fs", e2e.dir);
	ck_assert_int_eq(mkdir(fsdir, 0700), 0);
	snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=%s tmpfs %s "
	    "2>/dev/null", size, fsdir);
	if (geteuid() != 0 || system(cmd) != 0) {
		fprintf(stderr, "storage fault tests need root and mount: "
		    "not run\n");
		return -1;
	}
	snprintf(e2e.db, sizeof(e2e.db), "%s/antomd.db", fsdir);
	e2e_write_conf(NULL);
	return 0;
}

static void
umount_small_fs(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "umount %s", fsdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Fill the file system with a file at path; returns bytes written. */
static long
fill_fs(const char *path)
{
	static char block[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	long total = 0;

	ck_assert_int_ge(fd, 0);
	for (;;) {
		ssize_t w = write(fd, block, sizeof(block));

		if (w <= 0)
			break;
		total += w;
	}
	close(fd);
	return total;
}

START_TEST(test_disk_full)
{
	char filler[160], prid[32], sql[128], *log;
	char acked[400][32];
	int i, nacked = 0, n503 = 0, first503 = -1;

	if (mount_small_fs("4m") != 0)
		return;
	e2e_start_daemon();
	e2e_deliver_ok("{\"warm\":\"up\"}");
	snprintf(filler, sizeof(filler), "%s/filler", fsdir);
	ck_assert_int_gt(fill_fs(filler), 0);
	for (i = 0; i < 400 && n503 < 5; i++) {
		struct client_response r;
		char *b;
		int st;

		snprintf(prid, sizeof(prid), "DF-%d", i);
		b = e2e_pay_body(prid, "PAYMENT_RESULT", "S");
		st = e2e_signed_post("/antom/notify", "/antom/notify", b, &r);
		ck_assert_msg(st == 200 || st == 503, "status %d", st);
		if (st == 200)
			snprintf(acked[nacked++], 32, "%s", prid);
		else {
			ck_assert_ptr_null(strstr(r.body, "SUCCESS"));
			if (first503 < 0)
				first503 = i;
			n503++;
		}
		client_response_free(&r);
		free(b);
	}
	ck_assert_int_gt(n503, 0);
	/* Space comes back: the same deliveries now succeed, unaided. */
	ck_assert_int_eq(unlink(filler), 0);
	for (i = first503; i < first503 + 5; i++) {
		char *b;

		snprintf(prid, sizeof(prid), "DF-%d", i);
		b = e2e_pay_body(prid, "PAYMENT_RESULT", "S");
		e2e_deliver_ok(b);
		snprintf(acked[nacked++], 32, "%s", prid);
		free(b);
	}
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	for (i = 0; i < nacked; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM payments WHERE "
		    "payment_request_id = '%.31s'", acked[i]);
		ck_assert_msg(e2e_q_int(sql) == 1, "acknowledged %s lost", acked[i]);
	}
	ck_assert_str_eq(e2e_q_text("PRAGMA integrity_check"), "ok");
	log = test_slurp(e2e.log, NULL);
	ck_assert_ptr_nonnull(strstr(log, "full"));
	ck_assert_ptr_nonnull(strstr(log, "status=503"));
	free(log);
	umount_small_fs();
}
END_TEST

/* Whether the running antomd has a thread of this name (/proc comm). */
static int
daemon_thread(const char *name)
{
	char path[64], comm[32];
	struct dirent *de;
	DIR *d;
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)e2e.pid);
	ck_assert_ptr_nonnull(d = opendir(path));
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/comm",
		    (int)e2e.pid, de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL) {
			comm[strcspn(comm, "\n")] = '\0';
			found = strcmp(comm, name) == 0;
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

START_TEST(test_read_only_fs)
{
	char cmd[160], *log;
	char *b = e2e_pay_body("RO-1", "PAYMENT_RESULT", "S");
	struct client_response r;

	if (mount_small_fs("8m") != 0) {
		free(b);
		return;
	}
	e2e_start_daemon();
	e2e_deliver_ok("{\"warm\":\"up\"}");
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	/*
	 * Read-only under antomd (the kernel refuses to remount a file
	 * system read-only while a process holds files open for writing, so
	 * antomd starts on it): 503 and a log line saying why, then, once
	 * the file system is writable again, the same delivery succeeds.
	 */
	snprintf(cmd, sizeof(cmd), "mount -o remount,ro %s", fsdir);
	ck_assert_int_eq(system(cmd), 0);
	e2e_start_daemon();
	ck_assert_int_eq(e2e_signed_post("/antom/notify", "/antom/notify", b,
	    &r), 503);
	ck_assert_ptr_null(strstr(r.body, "SUCCESS"));
	client_response_free(&r);
	/* Nothing to checkpoint yet; the writer starts it once it can. */
	ck_assert_int_eq(daemon_thread("writer"), 1);
	ck_assert_int_eq(daemon_thread("checkpointer"), 0);
	snprintf(cmd, sizeof(cmd), "mount -o remount,rw %s", fsdir);
	ck_assert_int_eq(system(cmd), 0);
	e2e_deliver_ok(b);
	ck_assert_int_eq(daemon_thread("checkpointer"), 1);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
	log = test_slurp(e2e.log, NULL);
	ck_assert_ptr_nonnull(strstr(log, "is read-only: notifications are "
	    "answered 503 until it is writable"));
	ck_assert_ptr_nonnull(strstr(log, "is writable again"));
	free(log);
	free(b);
	umount_small_fs();
}
END_TEST

Suite *
e2e_faults_suite(void)
{
	Suite *s = suite_create("e2e_faults");
	TCase *tc = tcase_create("daemon");
	TCase *crash = tcase_create("crash");
	TCase *faults = tcase_create("faults");

	tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_storage_failure_then_retry);
	suite_add_tcase(s, tc);

	/* Its own case, so make torture can run it alone with more cycles. */
	tcase_add_checked_fixture(crash, e2e_setup, e2e_teardown);
	tcase_set_timeout(crash, 120);
	tcase_add_test(crash, test_crash_consistency);
	suite_add_tcase(s, crash);

	tcase_add_checked_fixture(faults, e2e_setup_bare, e2e_teardown);
	tcase_set_timeout(faults, 60);
	tcase_add_test(faults, test_disk_full);
	tcase_add_test(faults, test_read_only_fs);
	suite_add_tcase(s, faults);
	return s;
}
