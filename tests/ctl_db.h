/*
 * ctl_db.h - what check_ctl_db.c lends check_ctl_pg.c: antomctl's
 * commands run in a forked child, a configuration, signed fixtures.
 */
#ifndef ANTOMD_TEST_CTL_DB_H
#define ANTOMD_TEST_CTL_DB_H

#include <stddef.h>
#include <sys/types.h>

#include <check.h>

#include "sign.h"

#define SANDBOX		"SANDBOX_5YEZ4X2ZEB3C05479"
#define RTIME		"2024-05-11T02:13:00Z"

/* PR-1 / P-1, and its capture CR-1 / C-1: the fixtures' sets. */
extern const char *const ctldb_pay[2];
extern const char *const ctldb_cap[3];

/*
 * antomd's configuration at path, database database; SANDBOX's key is
 * the test key when with_key, else another client's.
 */
void	ctldb_write_conf(const char *path, const char *database,
	    int with_key);
/* A fixture's body with sets, signed for SANDBOX at /antom/notify (hdr). */
char	*ctldb_signed_body(const char *fixture, const char *const *sets,
	    size_t nsets, char hdr[SIGN_HEADER_MAX]);
/* Start fn(argv) in a child with stdout in the file out; its pid. */
pid_t	ctldb_spawn(int (*fn)(int, char **), const char *out, char **argv);
/* The file out once it holds needle, or after 5 s; the caller frees it. */
char	*ctldb_wait_output(const char *out, const char *needle);
/* Run fn(argv); *text gets its stdout (caller frees).  Its exit status. */
int	ctldb_run_argv(int (*fn)(int, char **), char **text, char **argv);
/* sql on the SQLite database e2e.db, as the merchant's application. */
void	ctldb_sql(const char *sql);

/* check_ctl_pg.c: the PostgreSQL case of suite ctl_db. */
TCase	*ctldb_pg_tcase(void);

#endif
