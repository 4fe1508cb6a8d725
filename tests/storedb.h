/*
 * storedb.h - the database a store test reads and writes beside the
 * store, named by the string store_open() takes: a path is a SQLite
 * file, anything else a PostgreSQL conninfo (tests/pg.c's servers).
 *
 * The checks are written once, in SQL both engines accept (|| concatenates
 * in both, IS DISTINCT FROM compares NULLs in both, text compares byte-wise
 * in both: PostgreSQL's columns are COLLATE "C").  Two SQLite spellings
 * have no common form and are translated on PostgreSQL, and only these:
 * group_concat( is string_agg( (always give the separator), and
 * CAST(body AS TEXT) is convert_from(body, 'UTF8') (body is bytea there).
 * A boolean result reads as 1 or 0 on both.
 */
#ifndef ANTOMD_TEST_STOREDB_H
#define ANTOMD_TEST_STOREDB_H

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
/* Close the PostgreSQL connection kept between calls, if any. */
void	 storedb_close(void);

#endif
