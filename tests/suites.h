/*
 * suites.h - every Check suite linked into the one test runner (runner.c),
 * and the few helpers every suite may use (helpers.c).  What the suites
 * that run the daemon share is in e2e.h.
 */
#ifndef ANTOMD_TEST_SUITES_H
#define ANTOMD_TEST_SUITES_H

#include <check.h>

Suite	*util_suite(void);
Suite	*log_suite(void);
Suite	*verify_suite(void);
Suite	*notif_suite(void);
Suite	*conf_suite(void);
Suite	*target_suite(void);
Suite	*store_suite(void);
Suite	*store_pg_suite(void);
Suite	*refusal_suite(void);
Suite	*pathvar_suite(void);
Suite	*walvfs_suite(void);
Suite	*sign_suite(void);
Suite	*client_suite(void);
Suite	*fixture_suite(void);
Suite	*e2e_protocol_suite(void);
Suite	*e2e_faults_suite(void);
Suite	*e2e_lifecycle_suite(void);
Suite	*hostile_suite(void);
Suite	*ctl_explain_suite(void);
Suite	*ctl_db_suite(void);
Suite	*ctl_simulate_suite(void);
Suite	*ops_suite(void);
Suite	*install_suite(void);
Suite	*proxy_suite(void);
Suite	*corpus_suite(void);
Suite	*pg_suite(void);
Suite	*e2e_pg_suite(void);
Suite	*alerts_suite(void);

/* $var/rel (dflt/rel when var is not set) into buf; returns buf. */
const char *test_env_path(char *buf, size_t cap, const char *var,
	    const char *dflt, const char *rel);
/* Path of a file under tests/ (ANTOMD_TESTS, default "tests") into buf. */
const char *test_path(char *buf, size_t cap, const char *rel);
/* Whole file into a malloc'd NUL-terminated buffer; aborts the test on failure. */
char	*test_slurp(const char *path, size_t *len);

/*
 * First column of the first row of sql, on a read-only connection to
 * dbpath (-1 or "" when no row); the text is in a static buffer.
 */
long long test_sql_int(const char *dbpath, const char *sql);
/* mkdtemp /tmp/antomd-NAME-XXXXXX, and DIR/test.db; test_rmtree undoes it. */
void	test_tmpdir(char *dir, size_t dircap, const char *name, char *dbpath,
	    size_t dbcap);
void	test_rmtree(const char *dir);
const char *test_sql_text(const char *dbpath, const char *sql);
/* A malloc'd printf (ends the test when out of memory). */
char	*test_fmt(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
