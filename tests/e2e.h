/*
 * e2e.h - what the end-to-end suites share: one antomd started on a
 * socket the test bound itself (handed over as LISTEN_FDS), its files in
 * a temporary directory, and plain-SQL looks at its database.
 *
 * One daemon per test process (Check runs each test in its own fork).
 */
#ifndef ANTOMD_TEST_E2E_H
#define ANTOMD_TEST_E2E_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>

struct e2e_daemon {
	char	dir[48];	/* mkdtemp */
	char	conf[128];
	char	db[128];
	char	log[128];	/* the daemon's stderr */
	char	port[8];
	char	metrics_port[8];	/* when e2e_with_metrics */
	pid_t	pid;		/* 0 when not running */
};

extern struct e2e_daemon e2e;
/* When set, the daemon gets NOTIFY_SOCKET and a 400 ms watchdog. */
extern const char *e2e_notify_socket;
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
/* First column of the first row, from a read-only connection. */
long long e2e_q_int(const char *sql);
const char *e2e_q_text(const char *sql);

#endif
