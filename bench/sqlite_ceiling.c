/*
 * sqlite_ceiling.c - antom-bench-sqlite: how many durable commits per
 * second this machine's disk allows, the ceiling any receiver that
 * commits before answering lives under.  WAL, synchronous=FULL, rows of
 * the size of a notification; once with 1 row per transaction, once with
 * 64.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
must(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}

/* Commits per second with rows_per_txn rows each, for secs seconds. */
static double
run(sqlite3 *db, int rows_per_txn, double secs, double *rows_per_s)
{
	static unsigned char blob[1200];
	sqlite3_stmt *ins;
	double t0 = now(), t;
	long commits = 0, rows = 0;
	int i;

	memset(blob, 'x', sizeof(blob));
	must(db, sqlite3_prepare_v2(db, "INSERT INTO t (body) VALUES (?1)", -1,
	    &ins, NULL), "prepare");
	do {
		must(db, sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0), "begin");
		for (i = 0; i < rows_per_txn; i++) {
			sqlite3_bind_blob(ins, 1, blob, sizeof(blob), SQLITE_STATIC);
			must(db, sqlite3_step(ins), "insert");
			sqlite3_reset(ins);
			rows++;
		}
		must(db, sqlite3_exec(db, "COMMIT", 0, 0, 0), "commit");
		commits++;
		t = now();
	} while (t - t0 < secs);
	sqlite3_finalize(ins);
	*rows_per_s = (double)rows / (t - t0);
	return (double)commits / (t - t0);
}

int
main(int argc, char **argv)
{
	sqlite3 *db;
	double secs = argc > 2 ? atof(argv[2]) : 3.0, r1, r64, c1, c64;

	if (argc < 2) {
		fprintf(stderr, "usage: antom-bench-sqlite DBPATH [seconds]\n");
		return 2;
	}
	must(NULL, sqlite3_open(argv[1], &db), "open");
	must(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL; "
	    "PRAGMA synchronous=FULL; CREATE TABLE IF NOT EXISTS t "
	    "(id INTEGER PRIMARY KEY, body BLOB)", 0, 0, 0), "setup");
	c1 = run(db, 1, secs, &r1);
	c64 = run(db, 64, secs, &r64);
	printf("commits_per_s_1=%.0f rows_per_s_1=%.0f commits_per_s_64=%.0f "
	    "rows_per_s_64=%.0f\n", c1, r1, c64, r64);
	sqlite3_close(db);
	return 0;
}
