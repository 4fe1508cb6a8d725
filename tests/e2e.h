/*
 * e2e.h - what the suites that run the real daemon share (check_e2e_*.c,
 * check_ops.c, check_install.c, check_hostile.c): one antomd started on a
 * socket the test bound itself (handed over as LISTEN_FDS), its files in
 * a temporary directory, its configuration, signed requests to it, and
 * plain-SQL looks at its database, SQLite or PostgreSQL.
 *
 * One daemon per test process (Check runs each test in its own fork).
 * Everything here may end the test with a failed assertion, but for
 * e2e_sign_rt1(), e2e_thread_deliver() and e2e_try_exec(), which client
 * threads call.
 */
#ifndef ANTOMD_TEST_E2E_H
#define ANTOMD_TEST_E2E_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include <check.h>

#include "client.h"
#include "sign.h"

/* The client id of tests/vectors/test-antom-*.pem in every configuration. */
#define SANDBOX		"SANDBOX_5YEZ4X2ZEB3C05479"
/* The request-time of e2e_signed_request(). */
#define E2E_RTIME	"2024-05-11T02:13:00Z"
#define E2E_TIMEOUT_MS	30000
/* max_body_bytes of e2e_write_conf(). */
#define E2E_MAX_BODY	4096

struct e2e_daemon {
	char	dir[48];	/* mkdtemp */
	char	conf[128];
	char	db[128];
	char	log[128];	/* the daemon's stderr */
	char	port[8];
	char	metrics_port[8];	/* when e2e_with_metrics */
	pid_t	pid;		/* 0 when not running */
	/*
	 * When not empty, antomd's database is this PostgreSQL conninfo
	 * instead of the file db (e2e_pg_tcase()), and the looks at the
	 * database below read it there.
	 */
	char	pgdb[400];
};

extern struct e2e_daemon e2e;
/* When set, the daemon gets NOTIFY_SOCKET and a 400 ms watchdog. */
extern const char *e2e_notify_socket;
/*
 * A datagram socket bound at e2e.dir/notify.sock (its path into path), for
 * e2e_notify_socket; and the datagrams received on it within ms,
 * appended to out with '|' after each.
 */
int	 e2e_notify_bind(char *path, size_t cap);
void	 e2e_notify_collect(int fd, int ms, char *out, size_t cap);
/*
 * When set, the daemon also gets a metrics socket the test bound (a second
 * LISTEN_FDS socket named "metrics"); its port is in e2e.metrics_port.
 */
extern int e2e_with_metrics;

/* ANTOMD_BIN/name into buf. */
const char *e2e_bin(char *buf, size_t cap, const char *name);
/*
 * In a forked child: exec antomd -c e2e.conf, under memcheck when
 * ANTOMD_VALGRIND is set (make valgrind).  Never returns.
 */
void	e2e_exec_daemon(void) __attribute__((noreturn));
/* The Antom key of the real 2019 vector; caller frees. */
char	*e2e_real_antom_key(void);
/* A listening socket on 127.0.0.1, port chosen by the kernel. */
int	 e2e_bind_loopback(int *port);
/* mkdtemp /tmp/antomd-<tag>-XXXXXX and the file names in it. */
void	 e2e_setup_dirs(const char *tag);
/* Start antomd -c e2e.conf on a fresh socket (valgrind under ANTOMD_VALGRIND). */
void	 e2e_start_daemon(void);
/*
 * Kill a daemon still running, unmount a file system a fault test left
 * at dir/fs, and remove the directory.
 */
void	 e2e_teardown(void);
/* SIGTERM and wait: the exit status, or -1 when killed by a signal. */
int	 e2e_stop_daemon(void);
/* tests/vectors/test-antom-private.pem, loaded once. */
EVP_PKEY *e2e_test_key(void);
/*
 * First column of the first row (-1 or "" when no row, 0 or "" when
 * NULL), from a read-only connection to the SQLite file or from the
 * PostgreSQL database (e2e.pgdb) alike; the text in a static buffer.
 * The suites' checks are in SQLite's dialect: on PostgreSQL, each test's
 * database also has group_concat() (e2e_pg_tcase()).
 */
long long e2e_q_int(const char *sql);
const char *e2e_q_text(const char *sql);
/*
 * One statement written on the daemon's database, whichever engine, on a
 * connection of its own (a busy timeout of 5 s on SQLite): 0, or -1
 * without asserting (client threads call it).  e2e_exec() asserts.
 */
int	 e2e_try_exec(const char *sql);
void	 e2e_exec(const char *sql);
/*
 * A test case "pg" whose tests run with antomd on PostgreSQL: one
 * cluster for the case (a primary and a synchronous standby, tests/pg.h)
 * started and stopped in an unchecked fixture, and for each test a fresh
 * database, its conninfo (both nodes, target_session_attrs=read-write)
 * in e2e.pgdb, before the checked fixture setup/teardown given.  NULL,
 * after saying why, when PostgreSQL servers cannot run here.
 */
TCase	*e2e_pg_tcase(const char *suite, void (*setup)(void),
	    void (*teardown)(void));

/*
 * e2e.conf with three routes (/antom/notify, /api/back, and /local/notify
 * signed as /public/prefix/notify), the SANDBOX test key as version 1 (or
 * the lines in e2e_conf_clients when set) and the real 2019 key for
 * T_ALLPAY_1, max_body_bytes E2E_MAX_BODY, short timeouts, and extra.
 */
extern const char *e2e_conf_clients;
void	 e2e_write_conf(const char *extra);
/*
 * e2e.conf with only the routes given ("route /antom/notify\n" when NULL),
 * the SANDBOX test key, busy_timeout_ms 200, and extra.
 */
void	 e2e_write_small_conf(const char *routes, const char *extra);
/* Fixtures: the directories alone; or them, e2e_write_conf and the daemon. */
void	 e2e_setup_bare(void);
void	 e2e_setup(void);

/* Send raw bytes to 127.0.0.1:port; the status, the response in *resp. */
int	 e2e_send(const char *port, const char *req, size_t len,
	    struct client_response *resp);
/* A POST to the daemon with the three Antom headers (NULL leaves one out). */
int	 e2e_post(const char *target, const char *client, const char *rtime,
	    const char *sig, const char *body, struct client_response *resp);
/* Sign body for /antom/notify, request-time "1", into hdr; aborts on failure. */
void	 e2e_sign_rt1(const char *body, char hdr[SIGN_HEADER_MAX]);
/*
 * A signed POST as raw bytes: signed over signed_path, for target, with
 * extra header lines (each ending in CRLF) if any, and a byte added to the
 * body after signing when tamper is set.  Caller frees.
 */
char	*e2e_signed_request(const char *target, const char *signed_path,
	    const char *body, const char *extra, int tamper);
/* Sign over signed_path, send to target on the daemon; the status. */
int	 e2e_signed_post(const char *target, const char *signed_path,
	    const char *body, struct client_response *resp);
/* Sign and send to /antom/notify; asserts 200 and the exact SUCCESS body. */
void	 e2e_deliver_ok(const char *body);
/* Assert the status (printing the body otherwise); frees the response. */
void	 e2e_expect_status(int got, int want, struct client_response *r);
/*
 * From a client thread (no ck_assert there): deliver a signed successful
 * payment prid on a connection of its own.  1 acknowledged with the exact
 * SUCCESS body, 0 answered otherwise, -1 no answer (connection refused
 * or closed).
 */
int	 e2e_thread_deliver(const char *prid);
/* The same, to the daemon listening on port (one of several). */
int	 e2e_thread_deliver_to(const char *port, const char *prid);
/* A payment of that notifyType and resultStatus, card data too. Caller frees. */
char	*e2e_pay_body(const char *prid, const char *type, const char *rs);
/*
 * The daemon's first log line holding s (there must be one, within 5 s:
 * the log thread writes a line a moment after the answer, and a
 * summary of suppressed refusals within 2 s).  Caller frees.
 */
char	*e2e_log_line(const char *s);

#endif
