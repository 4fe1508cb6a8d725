/*
 * store_pg.h - the PostgreSQL engine's private header: what its files
 * call in one another.
 *
 *   store_pg_schema.c  the DDL of schema version 8 for PostgreSQL, its
 *                      creation under an advisory lock, store_pg_check()
 *
 * The tables, columns and views are SQLite's (store_schema.c), with the
 * same names, order and meaning; tests/check_pg.c compares the two.
 */
#ifndef ANTOMD_STORE_PG_H
#define ANTOMD_STORE_PG_H

#include <stddef.h>

#include <libpq-fe.h>

/*
 * The advisory lock (bigint form) under which one instance creates or
 * migrates the schema: "antomd" in ASCII.  Per-object locks must use the
 * two-integer form, a lock space of its own.
 */
#define STORE_PG_LOCK_SCHEMA	0x616e746f6d64LL

/*
 * Create the schema of STORE_SCHEMA_VERSION, or check the one there, in
 * one transaction under STORE_PG_LOCK_SCHEMA, so that instances starting
 * at once create it once; *from is the version found (0: none).  Commits
 * (store_pg_commit()).  0, or -1 with err, rolled back.
 */
int	store_pg_migrate(PGconn *, int *from, char *err, size_t errlen);
/*
 * COMMIT the open transaction.  A WARNING with it is a failure: a COMMIT
 * whose wait for the synchronous standby was cancelled returns success
 * and says only that (issue 16 point 3; test_cancelled_commit_is_local_only).
 * 0, or -1 with err.
 */
int	store_pg_commit(PGconn *, char *err, size_t errlen);
/*
 * For antomd -n: connect to conninfo and check the schema version without
 * creating anything.  A database without antomd's tables passes if this
 * role may create them in its schema.  0, or -1 with err.  (To move to
 * include/store.h when the daemon uses it.)
 */
int	store_pg_check(const char *conninfo, char *err, size_t errlen);
/* Run sql (one statement or several), 0 or -1 with the server's err. */
int	store_pg_exec(PGconn *, const char *sql, char *err, size_t errlen);

#endif
