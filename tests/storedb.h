/*
 * storedb.h - the database a store test reads and writes beside the
 * store, named by the string store_open() takes: a path is a SQLite
 * file, anything else a PostgreSQL conninfo (tests/pg.c's servers).
 *
 * The checks are written once, in SQL both engines accept (|| concatenates
 * in both, IS DISTINCT FROM compares NULLs in both, text compares byte-wise
 * in both: PostgreSQL's columns are COLLATE "C"; a subquery in FROM has
 * an alias, which PostgreSQL 15 requires).  Two SQLite spellings
 * have no common form and are translated on PostgreSQL, and only these:
 * group_concat( is string_agg( (always give the separator), and
 * CAST(body AS TEXT) is convert_from(body, 'UTF8') (body is bytea there).
 * A boolean result reads as 1 or 0 on both.
 */
#ifndef ANTOMD_TEST_STOREDB_H
#define ANTOMD_TEST_STOREDB_H

#include <pthread.h>
#include <stdint.h>

#include <check.h>

#include "notif.h"
#include "store.h"

/* 1 when db names a PostgreSQL database. */
int	 storedb_is_pg(const char *db);
/*
 * The first column of the first row of sql: -1 or "" when no row, 0 or
 * "" when NULL; the text in a static buffer.  An error ends the test.
 */
long long storedb_int(const char *db, const char *sql);
const char *storedb_text(const char *db, const char *sql);
/* sql (several statements allowed); an error ends the test. */
void	 storedb_exec(const char *db, const char *sql);
/* The result code of sql: 0 success, else the engine's error. */
int	 storedb_exec_rc(const char *db, const char *sql);
/* The column names of table, in order, "a,b,c"; malloc'd. */
char	*storedb_columns(const char *db, const char *table);
/*
 * Another process keeping the store's writes to table waiting: SQLite's
 * write lock (on the whole file), or PostgreSQL's EXCLUSIVE lock on the
 * table (reads go on, as in WAL mode), until released.
 */
struct storedb_hold *storedb_hold(const char *db, const char *table);
void	 storedb_release(struct storedb_hold *);
/* Close the PostgreSQL connection kept between calls, if any. */
void	 storedb_close(void);

/*
 * What check_store.c (SQLite's alone) and check_store_state.c (every
 * engine's) share.  database is what the store opens and the checks
 * read: dbpath (in store_dir, SQLite) or a PostgreSQL database.
 */
extern char	 store_dir[64];
extern char	 dbpath[128];
extern char	 database[512];

/* Each kind's generated upsert, its table, the columns left out of it. */
struct store_upsert {
	int		 which;		/* S_*_UPSERT, src/store_int.h */
	const char	*table;
	const char	*left_out[4];
};
#define STORE_UPSERTS	5
extern const struct store_upsert store_upserts[STORE_UPSERTS];

/* The SQLite fixture: store_dir, dbpath, database = dbpath. */
void	 setup(void);
void	 teardown(void);
struct store *open_store_with(const struct store_options *);
struct store *open_store(unsigned batch_max);
/* storedb_*() on database. */
long long q_int(const char *sql);
const char *q_text(const char *sql);
void	 exec_sql(const char *sql);
/* A payment notification, 4200 SGD; extra is more members or NULL. */
char	*payment_body(const char *prid, const char *pid, const char *type,
	    const char *rs, const char *extra);
/* d as the HTTP layer fills it for body b from CLIENT_A; unhashed. */
void	 delivery_init(struct store_delivery *, struct notif *, const char *b);
/* What the merchant's application writes: refund rrid is of payment id. */
void	 link_refund(const char *client, const char *rrid, const char *id,
	    int by_pid);
/* Queue a refusal, waiting while the queue is full. */
void	 refuse(struct store *, const char *client, const char *hash,
	    int status, const char *reason, const char *object_id);
/* The stats once they show held refusals, at_risk of them (5 s at most). */
struct store_stats stats_when(struct store *, int64_t held, int64_t at_risk);

/* Writer thread: jobs complete only after commit, in batches. */
struct wjob {
	struct store_job	job;
	struct notif		n;
	char			*body;
	pthread_mutex_t		*lock;
	pthread_cond_t		*cond;
	int			*left;
	long long		 seen_rows;	/* rows visible at done() */
};
/* Its callback: counts *left down, w->seen_rows as the checks read it. */
void	 wjob_done_check(struct store_job *);
/* A job for a successful payment prid, done by wjob_done_check. */
void	 wjob_init(struct wjob *, const char *prid, pthread_mutex_t *,
	    pthread_cond_t *, int *left);

/* check_store_state.c: its tests into tc (suites store and store_pg). */
void	 store_state_tests(TCase *tc);

#endif
