/*
 * check_conf.c - conf_load(), conf_route_find() and conf_ip_trusted():
 * every directive with its valid values, its bounds and its default; the
 * listen and metrics_listen forms; trusted_proxy networks and what they
 * match; log_format; routes and clients; the file-level rules (comments,
 * CRLF, NUL bytes, long lines, missing file, no route, no client); and the
 * "file:line: reason" of every error.
 *
 * Each TCase gets its own mkdtemp() directory (an unchecked fixture, so it
 * is created and removed by the runner, even when a forked test crashes).
 * Tables run as Check loop tests, so a failure names the row.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "suites.h"
#include "verify.h"

#define T_NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define T_S(s) s, sizeof(s) - 1

/* The "no blanks, '?', '#' or non-ASCII" reason of a bad route path. */
#define T_ROUTE_WHY "a route path must start with '/' and hold no blanks, " \
	"'?', '#' or non-ASCII bytes"

static char	 t_dir[512];
static char	 t_pem[1024];	/* path of the test public key (PEM) */
static char	 t_b64file[1024];	/* path of the same key, bare base64 */
static char	*t_b64;		/* that base64, inline */

static void
t_fixture_setup(void)
{
	const char *tmp = getenv("TMPDIR");
	size_t n;

	snprintf(t_dir, sizeof(t_dir), "%s/antomd-check-conf-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(t_dir));
	test_path(t_pem, sizeof(t_pem), "vectors/test-antom-public.pem");
	test_path(t_b64file, sizeof(t_b64file), "vectors/test-antom-public.b64");
	t_b64 = test_slurp(t_b64file, &n);
	while (n > 0 && (t_b64[n - 1] == '\n' || t_b64[n - 1] == '\r' ||
	    t_b64[n - 1] == ' '))
		t_b64[--n] = '\0';
	ck_assert_uint_gt(n, 300);
	ck_assert_ptr_null(strpbrk(t_b64, " \t\r\n"));
}

static void
t_fixture_teardown(void)
{
	char path[1024];
	struct dirent *de;
	DIR *d;

	free(t_b64);
	t_b64 = NULL;
	if ((d = opendir(t_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", t_dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(t_dir);
}

/* A malloc'd printf (helpers.c). */
#define t_fmt	test_fmt

/* One conf_load() of a file holding exactly the given bytes. */
struct t_res {
	enum conf_status	 st;
	struct conf		*c;
	char			 path[600];
	char			 err[2048];
};

static void
t_write(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_msg(f != NULL, "cannot create %s", path);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void
t_loadn(struct t_res *r, const char *text, size_t len)
{
	snprintf(r->path, sizeof(r->path), "%s/antomd.conf", t_dir);
	t_write(r->path, text, len);
	r->c = (struct conf *)(void *)&r->c;	/* must be reset to NULL on error */
	r->err[0] = '\0';
	r->st = conf_load(r->path, &r->c, r->err, sizeof(r->err));
}

static void
t_load(struct t_res *r, const char *text)
{
	t_loadn(r, text, strlen(text));
}

/* Same, with the text freed afterwards (for t_fmt() results). */
static void
t_load_free(struct t_res *r, char *text)
{
	t_load(r, text);
	free(text);
}

static void
t_assert_ok(const struct t_res *r)
{
	ck_assert_msg(r->st == CONF_OK, "conf_load failed (%d): %s", r->st,
	    r->err);
	ck_assert_ptr_nonnull(r->c);
}

/*
 * Failed with status st and err exactly "path:line: why" (or "path: why"
 * when line is 0).  A NULL why checks only the prefix and that a reason
 * follows.
 */
static void
t_assert_fail(const struct t_res *r, enum conf_status st, unsigned line,
    const char *why)
{
	char want[4096];
	size_t plen;

	ck_assert_msg(r->st == st, "status %d, want %d; err '%s'", r->st, st,
	    r->err);
	ck_assert_ptr_null(r->c);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%u: ", r->path, line);
	else
		snprintf(want, sizeof(want), "%s: ", r->path);
	plen = strlen(want);
	if (why != NULL) {
		snprintf(want + plen, sizeof(want) - plen, "%s", why);
		ck_assert_str_eq(r->err, want);
	} else {
		ck_assert_msg(strncmp(r->err, want, plen) == 0,
		    "err '%s' does not start with '%s'", r->err, want);
		ck_assert_msg(strlen(r->err) > plen, "no reason in '%s'",
		    r->err);
	}
}

static void
t_done(struct t_res *r)
{
	if (r->st == CONF_OK)
		conf_free(r->c);
	r->c = NULL;
}

/* A valid file whose extra directive is on line 3. */
static char *
t_with(const char *extra)
{
	return t_fmt("route /antom/notify\nclient C 1 %s\n%s\n", t_pem, extra);
}

/* Numeric directives */

static const struct t_num {
	const char		*name;
	unsigned long long	 min, max, def;
	size_t			 off;
	int			 is_size;
} t_nums[] = {
	{ "max_body_bytes", 256, 16777216, 65536,
	    offsetof(struct conf, max_body_bytes), 1 },
	{ "max_connections", 1, 65535, 512,
	    offsetof(struct conf, max_connections), 0 },
	{ "idle_timeout_s", 1, 3600, 30,
	    offsetof(struct conf, idle_timeout_s), 0 },
	{ "connection_memory_limit", 4096, 1048576, 32768,
	    offsetof(struct conf, connection_memory_limit), 1 },
	{ "threads", 1, 64, 2, offsetof(struct conf, threads), 0 },
	{ "busy_timeout_ms", 0, 600000, 5000,
	    offsetof(struct conf, busy_timeout_ms), 0 },
	{ "commit_deadline_ms", 100, 600000, 5000,
	    offsetof(struct conf, commit_deadline_ms), 0 },
	{ "commit_batch_max", 1, 1024, 64,
	    offsetof(struct conf, commit_batch_max), 0 },
	{ "queue_max", 1, 1048576, 4096, offsetof(struct conf, queue_max), 0 },
	{ "at_risk_after_s", 1, 604800, 3600,
	    offsetof(struct conf, at_risk_after_s), 0 },
	{ "shutdown_timeout_s", 0, 3600, 10,
	    offsetof(struct conf, shutdown_timeout_s), 0 },
};

static unsigned long long
t_num_get(const struct conf *c, const struct t_num *n)
{
	const char *p = (const char *)c + n->off;

	if (n->is_size) {
		size_t v;

		memcpy(&v, p, sizeof(v));
		return v;
	} else {
		unsigned v;

		memcpy(&v, p, sizeof(v));
		return v;
	}
}

/* Only a route and a key: every other field has its default. */
START_TEST(test_defaults)
{
	struct t_res r;
	size_t i;

	t_load_free(&r, t_fmt("route /antom/notify\nclient C 1 %s\n", t_pem));
	t_assert_ok(&r);
	ck_assert_str_eq(r.c->listen, "127.0.0.1:8080");
	ck_assert_str_eq(r.c->listen_host, "127.0.0.1");
	ck_assert_str_eq(r.c->listen_port, "8080");
	ck_assert_str_eq(r.c->database, "/var/lib/antomd/antomd.db");
	ck_assert_int_eq(r.c->database_group_write, 0);
	ck_assert_int_eq(r.c->log_level, LOG_LEVEL_INFO);
	ck_assert_int_eq(r.c->log_format, LOG_FORMAT_LOGFMT);
	ck_assert_str_eq(r.c->metrics_listen, "127.0.0.1:9101");
	ck_assert_str_eq(r.c->metrics_host, "127.0.0.1");
	ck_assert_str_eq(r.c->metrics_port, "9101");
	ck_assert_ptr_null(r.c->metrics_unix);
	ck_assert_uint_eq(r.c->nproxies, 0);
	ck_assert_int_eq(r.c->trust_unix, 0);
	for (i = 0; i < T_NELEM(t_nums); i++)
		ck_assert_msg(t_num_get(r.c, &t_nums[i]) == t_nums[i].def,
		    "%s = %llu, default %llu", t_nums[i].name,
		    t_num_get(r.c, &t_nums[i]), t_nums[i].def);
	ck_assert_uint_eq(r.c->nroutes, 1);
	ck_assert_str_eq(r.c->routes[0].path, "/antom/notify");
	ck_assert_str_eq(r.c->routes[0].signed_path, "/antom/notify");
	ck_assert_uint_eq(verify_keyring_count(r.c->keys), 1);
	ck_assert(verify_keyring_has_client(r.c->keys, "C"));
	t_done(&r);
}
END_TEST

/* Every directive set to a non-default value. */
START_TEST(test_every_directive)
{
	struct t_res r;

	t_load_free(&r, t_fmt(
	    "listen 0.0.0.0:9090\n"
	    "database /srv/antomd/x.db\n"
	    "database_group_write yes\n"
	    "route /antom/notify /payments/antom/notify\n"
	    "route /second\n"
	    "client SANDBOX_X 1 %s\n"
	    "client SANDBOX_X 2 %s\n"
	    "client LIVE_Y 7 %s\n"
	    "max_body_bytes 1000\n"
	    "max_connections 10\n"
	    "idle_timeout_s 5\n"
	    "connection_memory_limit 8192\n"
	    "threads 8\n"
	    "commit_batch_max 1\n"
	    "queue_max 100\n"
	    "busy_timeout_ms 250\n"
	    "shutdown_timeout_s 0\n"
	    "at_risk_after_s 60\n"
	    "log_level warn\n"
	    "log_format json\n"
	    "metrics_listen [::1]:9200\n"
	    "trusted_proxy unix\n"
	    "trusted_proxy 10.0.0.0/8\n", t_pem, t_b64, t_b64file));
	t_assert_ok(&r);
	ck_assert_str_eq(r.c->listen, "0.0.0.0:9090");
	ck_assert_str_eq(r.c->listen_host, "0.0.0.0");
	ck_assert_str_eq(r.c->listen_port, "9090");
	ck_assert_str_eq(r.c->database, "/srv/antomd/x.db");
	ck_assert_int_eq(r.c->database_group_write, 1);
	ck_assert_uint_eq(r.c->nroutes, 2);
	ck_assert_str_eq(r.c->routes[0].path, "/antom/notify");
	ck_assert_str_eq(r.c->routes[0].signed_path, "/payments/antom/notify");
	ck_assert_str_eq(r.c->routes[1].path, "/second");
	ck_assert_str_eq(r.c->routes[1].signed_path, "/second");
	ck_assert_uint_eq(verify_keyring_count(r.c->keys), 3);
	ck_assert(verify_keyring_has_client(r.c->keys, "SANDBOX_X"));
	ck_assert(verify_keyring_has_client(r.c->keys, "LIVE_Y"));
	ck_assert(!verify_keyring_has_client(r.c->keys, "C"));
	ck_assert_uint_eq(r.c->max_body_bytes, 1000);
	ck_assert_uint_eq(r.c->max_connections, 10);
	ck_assert_uint_eq(r.c->idle_timeout_s, 5);
	ck_assert_uint_eq(r.c->connection_memory_limit, 8192);
	ck_assert_uint_eq(r.c->threads, 8);
	ck_assert_uint_eq(r.c->commit_batch_max, 1);
	ck_assert_uint_eq(r.c->queue_max, 100);
	ck_assert_uint_eq(r.c->busy_timeout_ms, 250);
	ck_assert_uint_eq(r.c->shutdown_timeout_s, 0);
	ck_assert_uint_eq(r.c->at_risk_after_s, 60);
	ck_assert_int_eq(r.c->log_level, LOG_LEVEL_WARN);
	ck_assert_int_eq(r.c->log_format, LOG_FORMAT_JSON);
	ck_assert_str_eq(r.c->metrics_listen, "[::1]:9200");
	ck_assert_str_eq(r.c->metrics_host, "::1");
	ck_assert_str_eq(r.c->metrics_port, "9200");
	ck_assert_int_eq(r.c->trust_unix, 1);
	ck_assert_uint_eq(r.c->nproxies, 1);
	ck_assert_uint_eq(r.c->proxies[0].bits, 96 + 8);
	t_done(&r);
}
END_TEST

/* A directive given twice: the last one wins (and nothing leaks). */
START_TEST(test_last_wins)
{
	struct t_res r;

	t_load_free(&r, t_with("threads 3\nthreads 5\nlisten a:1\n"
	    "listen [::1]:2\ndatabase /a\ndatabase /b\nlog_level error\n"
	    "log_level debug"));
	t_assert_ok(&r);
	ck_assert_uint_eq(r.c->threads, 5);
	ck_assert_str_eq(r.c->listen, "[::1]:2");
	ck_assert_str_eq(r.c->listen_host, "::1");
	ck_assert_str_eq(r.c->listen_port, "2");
	ck_assert_str_eq(r.c->database, "/b");
	ck_assert_int_eq(r.c->log_level, LOG_LEVEL_DEBUG);
	t_done(&r);
}
END_TEST

/* min, max and a middle value load; the value lands in the right field. */
START_TEST(test_num_valid)
{
	const struct t_num *n = &t_nums[_i];
	unsigned long long vals[3];
	struct t_res r;
	size_t k;

	vals[0] = n->min;
	vals[1] = n->max;
	vals[2] = n->min + (n->max - n->min) / 3;
	for (k = 0; k < T_NELEM(vals); k++) {
		char line[128];

		snprintf(line, sizeof(line), "%s %llu", n->name, vals[k]);
		t_load_free(&r, t_with(line));
		t_assert_ok(&r);
		ck_assert_msg(t_num_get(r.c, n) == vals[k], "%s: got %llu",
		    line, t_num_get(r.c, n));
		t_done(&r);
	}
	/* Blanks and tabs around the value. */
	{
		char line[128];

		snprintf(line, sizeof(line), "\t %s \t %llu \t", n->name, n->max);
		t_load_free(&r, t_with(line));
		t_assert_ok(&r);
		ck_assert_uint_eq(t_num_get(r.c, n), n->max);
		t_done(&r);
	}
}
END_TEST

/* Values out of range or not a plain decimal number. */
static const char *const t_num_garbage[] = {
	"abc", "-1", "-0", "+1", "12x", "1 2x", "1.5", "1,5", "0x10", "1e3",
	"\"1\"", "18446744073709551616", "99999999999999999999999999", "\xef\xbc\x91",
};

START_TEST(test_num_invalid)
{
	const struct t_num *n = &t_nums[_i];
	char why[256], line[256];
	struct t_res r;
	size_t k;

	snprintf(why, sizeof(why), "%s must be an integer from %llu to %llu",
	    n->name, n->min, n->max);

	/* min - 1 (or -1 when min is 0) and max + 1 */
	if (n->min > 0)
		snprintf(line, sizeof(line), "%s %llu", n->name, n->min - 1);
	else
		snprintf(line, sizeof(line), "%s -1", n->name);
	t_load_free(&r, t_with(line));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3, why);
	snprintf(line, sizeof(line), "%s %llu", n->name, n->max + 1);
	t_load_free(&r, t_with(line));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3, why);

	for (k = 0; k < T_NELEM(t_num_garbage); k++) {
		snprintf(line, sizeof(line), "%s %s", n->name, t_num_garbage[k]);
		t_load_free(&r, t_with(line));
		if (strchr(t_num_garbage[k], ' ') != NULL) {
			snprintf(line, sizeof(line), "wrong number of arguments "
			    "for '%s'", n->name);
			t_assert_fail(&r, CONF_ERR_SYNTAX, 3, line);
		} else {
			t_assert_fail(&r, CONF_ERR_SYNTAX, 3, why);
		}
	}

	/* Empty: the directive alone, and with a comment as its "value". */
	snprintf(why, sizeof(why), "wrong number of arguments for '%s'", n->name);
	t_load_free(&r, t_with(n->name));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3, why);
	snprintf(line, sizeof(line), "%s   # 5", n->name);
	t_load_free(&r, t_with(line));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3, why);
	snprintf(line, sizeof(line), "%s %llu %llu", n->name, n->min, n->min);
	t_load_free(&r, t_with(line));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3, why);
}
END_TEST

/* listen */

static const struct {
	const char	*v;
	const char	*host;	/* NULL: must be refused */
	const char	*port;
} t_listen_rows[] = {
	{ "127.0.0.1:8080", "127.0.0.1", "8080" },
	{ "0.0.0.0:1", "0.0.0.0", "1" },
	{ "localhost:65535", "localhost", "65535" },
	{ "[::1]:8080", "::1", "8080" },
	{ "[::]:443", "::", "443" },
	{ "[fe80::1%eth0]:8443", "fe80::1%eth0", "8443" },
	{ "127.0.0.1", NULL, NULL },		/* no port */
	{ "127.0.0.1:", NULL, NULL },
	{ ":8080", NULL, NULL },		/* no host */
	{ "127.0.0.1:0", NULL, NULL },		/* a random port is no service */
	{ "127.0.0.1:65536", NULL, NULL },
	{ "127.0.0.1:99999999999999999999999", NULL, NULL },
	{ "127.0.0.1:-1", NULL, NULL },
	{ "127.0.0.1:+80", NULL, NULL },
	{ "127.0.0.1:80x", NULL, NULL },
	{ "127.0.0.1:http", NULL, NULL },
	{ "a:b:c", NULL, NULL },
	{ "a:1:2", NULL, NULL },
	{ "::1:8080", NULL, NULL },		/* IPv6 needs brackets */
	{ "[::1]", NULL, NULL },
	{ "[::1]8080", NULL, NULL },
	{ "[::1]:", NULL, NULL },
	{ "[::1:8080", NULL, NULL },
	{ "[]:8080", NULL, NULL },
	{ "[::1]:65536", NULL, NULL },
};

/* listen unix:/absolute/path, for a proxy on the same host. */
START_TEST(test_listen_unix)
{
	static const char *const bad[] = {
		"unix:", "unix:relative.sock", "unix:./x.sock",
		/* 108 bytes: no room for sun_path's NUL */
		"unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct t_res r;
	char line[256];
	size_t i;

	t_load_free(&r, t_with("listen unix:/run/antomd/antomd.sock"));
	t_assert_ok(&r);
	ck_assert_str_eq(r.c->listen_unix, "/run/antomd/antomd.sock");
	ck_assert_ptr_null(r.c->listen_host);
	t_done(&r);
	/* A later host:port line wins, and clears the unix path. */
	t_load_free(&r, t_with("listen unix:/x.sock\nlisten 127.0.0.1:9"));
	t_assert_ok(&r);
	ck_assert_ptr_null(r.c->listen_unix);
	ck_assert_str_eq(r.c->listen_port, "9");
	t_done(&r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "listen %s", bad[i]);
		t_load_free(&r, t_with(line));
		ck_assert_msg(r.st == CONF_ERR_SYNTAX, "%s accepted", bad[i]);
		t_done(&r);
	}
}
END_TEST

START_TEST(test_listen_table)
{
	struct t_res r;
	char line[128];

	snprintf(line, sizeof(line), "listen %s", t_listen_rows[_i].v);
	t_load_free(&r, t_with(line));
	if (t_listen_rows[_i].host == NULL) {
		t_assert_fail(&r, CONF_ERR_SYNTAX, 3,
		    "listen takes host:port, [ipv6]:port or unix:/absolute/path");
		return;
	}
	t_assert_ok(&r);
	ck_assert_str_eq(r.c->listen, t_listen_rows[_i].v);
	ck_assert_str_eq(r.c->listen_host, t_listen_rows[_i].host);
	ck_assert_str_eq(r.c->listen_port, t_listen_rows[_i].port);
	t_done(&r);
}
END_TEST

/* database */

START_TEST(test_database)
{
	char *p, *line;
	struct t_res r;

	t_load_free(&r, t_with("database ./var/antomd.db"));
	t_assert_ok(&r);
	ck_assert_str_eq(r.c->database, "./var/antomd.db");
	t_done(&r);

	p = malloc(CONF_PATH_MAX + 1);
	ck_assert_ptr_nonnull(p);
	memset(p, 'd', CONF_PATH_MAX);
	p[0] = '/';
	p[CONF_PATH_MAX - 1] = '\0';		/* CONF_PATH_MAX - 1 bytes: fits */
	line = t_fmt("database %s", p);
	t_load_free(&r, t_with(line));
	free(line);
	t_assert_ok(&r);
	ck_assert_str_eq(r.c->database, p);
	t_done(&r);

	p[CONF_PATH_MAX - 1] = 'd';
	p[CONF_PATH_MAX] = '\0';		/* CONF_PATH_MAX bytes: too long */
	line = t_fmt("database %s", p);
	t_load_free(&r, t_with(line));
	free(line);
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3, "database path too long");
	free(p);

	t_load_free(&r, t_with("database"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3,
	    "wrong number of arguments for 'database'");
	t_load_free(&r, t_with("database /a /b"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3,
	    "wrong number of arguments for 'database'");
	t_load_free(&r, t_with("database /a b=c"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3,
	    "wrong number of arguments for 'database'");
	/* A libpq conninfo: its pairs, one blank apart. */
	t_load_free(&r, t_with("database host=/run/postgresql \t dbname=a"
	    "  target_session_attrs=read-write"));
	t_assert_ok(&r);
	ck_assert_str_eq(r.c->database, "host=/run/postgresql dbname=a"
	    " target_session_attrs=read-write");
	t_done(&r);
}
END_TEST

/* log_level */

static const struct {
	const char	*v;
	int		 ok;
	enum log_level	 lvl;
} t_loglevel_rows[] = {
	{ "debug", 1, LOG_LEVEL_DEBUG },
	{ "info", 1, LOG_LEVEL_INFO },
	{ "warn", 1, LOG_LEVEL_WARN },
	{ "error", 1, LOG_LEVEL_ERROR },
	{ "DEBUG", 1, LOG_LEVEL_DEBUG },
	{ "Error", 1, LOG_LEVEL_ERROR },
	{ "verbose", 0, 0 },
	{ "warning", 0, 0 },
	{ "2", 0, 0 },
};

START_TEST(test_log_level_table)
{
	struct t_res r;
	char line[64];

	snprintf(line, sizeof(line), "log_level %s", t_loglevel_rows[_i].v);
	t_load_free(&r, t_with(line));
	if (!t_loglevel_rows[_i].ok) {
		t_assert_fail(&r, CONF_ERR_SYNTAX, 3,
		    "log_level is one of debug, info, warn, error");
		return;
	}
	t_assert_ok(&r);
	ck_assert_int_eq(r.c->log_level, t_loglevel_rows[_i].lvl);
	t_done(&r);
}
END_TEST

/* log_format */

static const struct {
	const char	*v;
	int		 ok;
	enum log_format	 fmt;
} t_logformat_rows[] = {
	{ "logfmt", 1, LOG_FORMAT_LOGFMT },
	{ "json", 1, LOG_FORMAT_JSON },
	{ "JSON", 1, LOG_FORMAT_JSON },		/* as log_level: any case */
	{ "LogFmt", 1, LOG_FORMAT_LOGFMT },
	{ "text", 0, 0 },
	{ "jsonl", 0, 0 },
	{ "json,logfmt", 0, 0 },
	{ "syslog", 0, 0 },
	{ "1", 0, 0 },
	{ "\"json\"", 0, 0 },
	{ "logfmt\x01", 0, 0 },
};

START_TEST(test_log_format_table)
{
	struct t_res r;
	char line[64];

	snprintf(line, sizeof(line), "log_format %s", t_logformat_rows[_i].v);
	t_load_free(&r, t_with(line));
	if (!t_logformat_rows[_i].ok) {
		t_assert_fail(&r, CONF_ERR_SYNTAX, 3,
		    "log_format is logfmt or json");
		return;
	}
	t_assert_ok(&r);
	ck_assert_int_eq(r.c->log_format, t_logformat_rows[_i].fmt);
	t_done(&r);
}
END_TEST

/* The last log_format wins, both ways. */
START_TEST(test_log_format_last_wins)
{
	struct t_res r;

	t_load_free(&r, t_with("log_format json\nlog_format logfmt"));
	t_assert_ok(&r);
	ck_assert_int_eq(r.c->log_format, LOG_FORMAT_LOGFMT);
	t_done(&r);
	t_load_free(&r, t_with("log_format logfmt\nlog_format json"));
	t_assert_ok(&r);
	ck_assert_int_eq(r.c->log_format, LOG_FORMAT_JSON);
	t_done(&r);
	/* A bad value after a good one is still an error, on its line. */
	t_load_free(&r, t_with("log_format json\nlog_format xml"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 4, "log_format is logfmt or json");
}
END_TEST

/* database_group_write: yes or no, nothing else; off by default. */
START_TEST(test_database_group_write)
{
	static const char *const bad[] = { "1", "on", "YES", "yes no", "" };
	struct t_res r;
	char line[64];
	size_t i;

	t_load_free(&r, t_with("database_group_write yes\n"
	    "database_group_write no"));
	t_assert_ok(&r);
	ck_assert_int_eq(r.c->database_group_write, 0);
	t_done(&r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "database_group_write %s", bad[i]);
		t_load_free(&r, t_with(line));
		ck_assert_int_ne(r.st, CONF_OK);
		ck_assert_ptr_null(r.c);
	}
}
END_TEST

/* metrics_listen */

#define T_MLISTEN_WHY "metrics_listen takes host:port, [ipv6]:port, " \
	"unix:/absolute/path or off"

/* A 107-byte socket path (sun_path's 108 with its NUL), and one more. */
#define T_SUN_107 "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct {
	const char	*v;
	int		 ok;
	const char	*host;	/* NULL with ok: off, or a unix socket */
	const char	*port;
	const char	*unixp;
} t_mlisten_rows[] = {
	{ "127.0.0.1:9101", 1, "127.0.0.1", "9101", NULL },
	{ "0.0.0.0:1", 1, "0.0.0.0", "1", NULL },
	{ "localhost:65535", 1, "localhost", "65535", NULL },
	{ "[::1]:9101", 1, "::1", "9101", NULL },
	{ "[::]:9101", 1, "::", "9101", NULL },
	{ "[fe80::1%eth0]:9101", 1, "fe80::1%eth0", "9101", NULL },
	{ "unix:/run/antomd/metrics.sock", 1, NULL, NULL,
	    "/run/antomd/metrics.sock" },
	{ "unix:" T_SUN_107, 1, NULL, NULL, T_SUN_107 },
	{ "off", 1, NULL, NULL, NULL },
	{ "none", 1, NULL, NULL, NULL },
	{ "127.0.0.1", 0, NULL, NULL, NULL },		/* no port */
	{ "127.0.0.1:", 0, NULL, NULL, NULL },
	{ ":9101", 0, NULL, NULL, NULL },		/* no host */
	{ "127.0.0.1:0", 0, NULL, NULL, NULL },
	{ "127.0.0.1:65536", 0, NULL, NULL, NULL },
	{ "127.0.0.1:4294967297", 0, NULL, NULL, NULL },
	{ "127.0.0.1:99999999999999999999999", 0, NULL, NULL, NULL },
	{ "127.0.0.1:-1", 0, NULL, NULL, NULL },
	{ "127.0.0.1:+9101", 0, NULL, NULL, NULL },
	{ "127.0.0.1:9101x", 0, NULL, NULL, NULL },	/* trailing garbage */
	{ "127.0.0.1:9101/", 0, NULL, NULL, NULL },
	{ "127.0.0.1:9101:1", 0, NULL, NULL, NULL },
	{ "127.0.0.1:metrics", 0, NULL, NULL, NULL },
	{ "::1:9101", 0, NULL, NULL, NULL },		/* IPv6 needs brackets */
	{ "[::1]", 0, NULL, NULL, NULL },
	{ "[::1]:", 0, NULL, NULL, NULL },
	{ "[::1]9101", 0, NULL, NULL, NULL },
	{ "[::1]:9101x", 0, NULL, NULL, NULL },
	{ "[::1]x:9101", 0, NULL, NULL, NULL },
	{ "[::1:9101", 0, NULL, NULL, NULL },
	{ "[]:9101", 0, NULL, NULL, NULL },
	{ "[::1]:0", 0, NULL, NULL, NULL },
	{ "\"\"", 0, NULL, NULL, NULL },
	{ "offf", 0, NULL, NULL, NULL },
	{ "unix:", 0, NULL, NULL, NULL },
	{ "unix:metrics.sock", 0, NULL, NULL, NULL },	/* relative */
	{ "unix:./metrics.sock", 0, NULL, NULL, NULL },
	{ "unix:" T_SUN_107 "a", 0, NULL, NULL, NULL },
};

START_TEST(test_metrics_listen_table)
{
	struct t_res r;
	char *line;

	line = t_fmt("metrics_listen %s", t_mlisten_rows[_i].v);
	t_load_free(&r, t_with(line));
	free(line);
	if (!t_mlisten_rows[_i].ok) {
		t_assert_fail(&r, CONF_ERR_SYNTAX, 3, T_MLISTEN_WHY);
		return;
	}
	t_assert_ok(&r);
	if (t_mlisten_rows[_i].host == NULL && t_mlisten_rows[_i].unixp == NULL)
		ck_assert_ptr_null(r.c->metrics_listen);	/* off */
	else
		ck_assert_str_eq(r.c->metrics_listen, t_mlisten_rows[_i].v);
	if (t_mlisten_rows[_i].host != NULL) {
		ck_assert_str_eq(r.c->metrics_host, t_mlisten_rows[_i].host);
		ck_assert_str_eq(r.c->metrics_port, t_mlisten_rows[_i].port);
	} else {
		ck_assert_ptr_null(r.c->metrics_host);
		ck_assert_ptr_null(r.c->metrics_port);
	}
	if (t_mlisten_rows[_i].unixp != NULL)
		ck_assert_str_eq(r.c->metrics_unix, t_mlisten_rows[_i].unixp);
	else
		ck_assert_ptr_null(r.c->metrics_unix);
	/* The public listener keeps its own default. */
	ck_assert_str_eq(r.c->listen, "127.0.0.1:8080");
	ck_assert_ptr_null(r.c->listen_unix);
	t_done(&r);
}
END_TEST

/*
 * Repeated metrics_listen lines: the last wins and leaves nothing of the
 * earlier ones (off clears a socket path; an address after off turns the
 * listener on again); listen and metrics_listen never share a field.
 */
START_TEST(test_metrics_listen_last_wins)
{
	struct t_res r;

	t_load_free(&r, t_with("metrics_listen unix:/m.sock\n"
	    "metrics_listen off"));
	t_assert_ok(&r);
	ck_assert_ptr_null(r.c->metrics_listen);
	ck_assert_ptr_null(r.c->metrics_unix);
	ck_assert_ptr_null(r.c->metrics_host);
	ck_assert_ptr_null(r.c->metrics_port);
	t_done(&r);

	t_load_free(&r, t_with("metrics_listen off\n"
	    "metrics_listen 127.0.0.1:9300"));
	t_assert_ok(&r);
	ck_assert_str_eq(r.c->metrics_listen, "127.0.0.1:9300");
	ck_assert_str_eq(r.c->metrics_host, "127.0.0.1");
	ck_assert_str_eq(r.c->metrics_port, "9300");
	t_done(&r);

	t_load_free(&r, t_with("metrics_listen unix:/m.sock\n"
	    "metrics_listen [::1]:9301"));
	t_assert_ok(&r);
	ck_assert_ptr_null(r.c->metrics_unix);
	ck_assert_str_eq(r.c->metrics_host, "::1");
	t_done(&r);

	t_load_free(&r, t_with("metrics_listen [::1]:9301\n"
	    "metrics_listen unix:/m.sock"));
	t_assert_ok(&r);
	ck_assert_str_eq(r.c->metrics_unix, "/m.sock");
	ck_assert_ptr_null(r.c->metrics_host);
	ck_assert_ptr_null(r.c->metrics_port);
	t_done(&r);

	t_load_free(&r, t_with("listen unix:/p.sock\n"
	    "metrics_listen 127.0.0.1:9302\nlisten 127.0.0.1:9303\n"
	    "metrics_listen unix:/m.sock"));
	t_assert_ok(&r);
	ck_assert_str_eq(r.c->listen, "127.0.0.1:9303");
	ck_assert_str_eq(r.c->listen_port, "9303");
	ck_assert_ptr_null(r.c->listen_unix);
	ck_assert_str_eq(r.c->metrics_listen, "unix:/m.sock");
	ck_assert_str_eq(r.c->metrics_unix, "/m.sock");
	t_done(&r);

	/* A bad value after a good one: an error on its own line. */
	t_load_free(&r, t_with("metrics_listen off\nmetrics_listen 127.0.0.1"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 4, T_MLISTEN_WHY);

	/* One socket file cannot serve both listeners. */
	t_load_free(&r, t_with("listen unix:/same.sock\n"
	    "metrics_listen unix:/same.sock"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 0, "listen and metrics_listen are "
	    "the same socket unix:/same.sock");
}
END_TEST

/* trusted_proxy and conf_ip_trusted() */

#define T_PROXY_WHY "trusted_proxy takes an IPv4 or IPv6 address, " \
	"ADDRESS/BITS or unix (at most 64)"

/* An address as conf_ip_trusted() takes it: IPv4 as IPv4-mapped IPv6. */
static void
t_ip(const char *text, unsigned char out[16])
{
	struct in_addr a4;

	memset(out, 0, 16);
	if (inet_pton(AF_INET, text, &a4) == 1) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return;
	}
	ck_assert_msg(inet_pton(AF_INET6, text, out) == 1,
	    "test address %s does not parse", text);
}

static const struct {
	const char	*v;
	const char	*addr;	/* as stored; NULL: must be refused */
	unsigned	 bits;	/* as stored (IPv4: + 96) */
} t_proxy_rows[] = {
	{ "127.0.0.1", "::ffff:127.0.0.1", 128 },
	{ "127.0.0.1/32", "::ffff:127.0.0.1", 128 },
	{ "10.0.0.0/8", "::ffff:10.0.0.0", 104 },
	{ "10.0.0.0/9", "::ffff:10.0.0.0", 105 },
	{ "0.0.0.0/0", "::ffff:0.0.0.0", 96 },
	{ "::1", "::1", 128 },
	{ "::1/128", "::1", 128 },
	{ "2001:db8::/32", "2001:db8::", 32 },
	{ "2001:db8::/33", "2001:db8::", 33 },
	{ "::/0", "::", 0 },
	{ "::ffff:10.0.0.0/104", "::ffff:10.0.0.0", 104 },
	{ "::ffff:192.0.2.1", "::ffff:192.0.2.1", 128 },
	{ "10.0.0.0/33", NULL, 0 },
	{ "10.0.0.0/64", NULL, 0 },
	{ "10.0.0.0/128", NULL, 0 },	/* /128 is IPv6's, not IPv4's */
	{ "::/129", NULL, 0 },
	{ "2001:db8::/4294967424", NULL, 0 },	/* 2^32 + 128 */
	{ "10.0.0.0/", NULL, 0 },
	{ "10.0.0.0/x", NULL, 0 },
	{ "10.0.0.0/8x", NULL, 0 },
	{ "10.0.0.0/-1", NULL, 0 },
	{ "10.0.0.0/+8", NULL, 0 },
	{ "10.0.0.0/8.0", NULL, 0 },
	{ "10.0.0.0/8/8", NULL, 0 },
	{ "10.0.0.0/255.0.0.0", NULL, 0 },	/* no netmasks */
	{ "10.0.0.0/99999999999999999999999", NULL, 0 },
	{ "/8", NULL, 0 },
	{ "/", NULL, 0 },
	{ "10.0.0", NULL, 0 },
	{ "10.0.0.256", NULL, 0 },
	{ "1.2.3.4.5", NULL, 0 },
	{ "010.0.0.1", NULL, 0 },
	{ "0x7f.0.0.1", NULL, 0 },
	{ "localhost", NULL, 0 },
	{ "[::1]", NULL, 0 },
	{ "::1]", NULL, 0 },
	{ "fe80::1%eth0", NULL, 0 },
	{ "2001:db8:::1", NULL, 0 },
	{ "1:2:3:4:5:6:7:8:9", NULL, 0 },
	{ "0000:0000:0000:0000:0000:0000:0000:0000:0000/8", NULL, 0 },
	{ "unix/8", NULL, 0 },
	{ "unix:", NULL, 0 },
	{ "\"127.0.0.1\"", NULL, 0 },
};

START_TEST(test_trusted_proxy_table)
{
	unsigned char want[16];
	struct t_res r;
	char line[128];

	snprintf(line, sizeof(line), "trusted_proxy %s", t_proxy_rows[_i].v);
	t_load_free(&r, t_with(line));
	if (t_proxy_rows[_i].addr == NULL) {
		t_assert_fail(&r, CONF_ERR_SYNTAX, 3, T_PROXY_WHY);
		return;
	}
	t_assert_ok(&r);
	ck_assert_uint_eq(r.c->nproxies, 1);
	ck_assert_int_eq(r.c->trust_unix, 0);
	t_ip(t_proxy_rows[_i].addr, want);
	ck_assert_msg(memcmp(r.c->proxies[0].addr, want, 16) == 0,
	    "%s: not stored as %s", t_proxy_rows[_i].v, t_proxy_rows[_i].addr);
	ck_assert_uint_eq(r.c->proxies[0].bits, t_proxy_rows[_i].bits);
	t_done(&r);
}
END_TEST

/*
 * Lines add up, in order, duplicates included; "unix" is a flag, not a
 * network; a bad line among good ones is reported on its own line.
 */
START_TEST(test_trusted_proxy_accumulate)
{
	unsigned char a[16];
	struct t_res r;

	t_load_free(&r, t_with("trusted_proxy unix\n"
	    "trusted_proxy 10.0.0.0/8\n"
	    "# trusted_proxy 192.0.2.1\n"
	    "trusted_proxy ::1\n"
	    "trusted_proxy unix\n"
	    "trusted_proxy 10.0.0.0/8"));
	t_assert_ok(&r);
	ck_assert_int_eq(r.c->trust_unix, 1);
	ck_assert_uint_eq(r.c->nproxies, 3);
	t_ip("10.0.0.0", a);
	ck_assert_int_eq(memcmp(r.c->proxies[0].addr, a, 16), 0);
	ck_assert_uint_eq(r.c->proxies[0].bits, 104);
	t_ip("::1", a);
	ck_assert_int_eq(memcmp(r.c->proxies[1].addr, a, 16), 0);
	ck_assert_uint_eq(r.c->proxies[1].bits, 128);
	ck_assert_uint_eq(r.c->proxies[2].bits, 104);
	t_ip("::1", a);
	ck_assert(conf_ip_trusted(r.c, a));
	t_ip("10.20.30.40", a);
	ck_assert(conf_ip_trusted(r.c, a));
	t_ip("192.0.2.1", a);
	ck_assert(!conf_ip_trusted(r.c, a));
	t_done(&r);

	/* unix alone trusts no address. */
	t_load_free(&r, t_with("trusted_proxy unix"));
	t_assert_ok(&r);
	ck_assert_int_eq(r.c->trust_unix, 1);
	ck_assert_uint_eq(r.c->nproxies, 0);
	t_ip("127.0.0.1", a);
	ck_assert(!conf_ip_trusted(r.c, a));
	t_done(&r);

	t_load_free(&r, t_with("trusted_proxy 127.0.0.1\n"
	    "trusted_proxy ::1\n"
	    "trusted_proxy 10.0.0.0/33\n"
	    "trusted_proxy 192.0.2.1"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 5, T_PROXY_WHY);
}
END_TEST

/* At most 64 networks (unix does not count); the 65th is an error. */
START_TEST(test_trusted_proxy_max)
{
	unsigned char a[16];
	struct t_res r;
	char *text, *more;
	int i;

	ck_assert_int_eq(CONF_PROXIES_MAX, 64);
	text = t_fmt("route /a\nclient C 1 %s\ntrusted_proxy unix\n", t_pem);
	for (i = 0; i < CONF_PROXIES_MAX; i++) {
		more = t_fmt("%strusted_proxy 192.0.2.%d\n", text, i);
		free(text);
		text = more;
	}
	t_load(&r, text);
	t_assert_ok(&r);
	ck_assert_uint_eq(r.c->nproxies, CONF_PROXIES_MAX);
	ck_assert_int_eq(r.c->trust_unix, 1);
	t_ip("192.0.2.63", a);		/* the last one counts */
	ck_assert(conf_ip_trusted(r.c, a));
	t_ip("192.0.2.64", a);
	ck_assert(!conf_ip_trusted(r.c, a));
	t_done(&r);

	/* Line 3 is unix, lines 4 to 67 the 64 networks: 68 is one too many. */
	more = t_fmt("%strusted_proxy ::1\n", text);
	t_load_free(&r, more);
	t_assert_fail(&r, CONF_ERR_SYNTAX, 68, T_PROXY_WHY);
	/* ... even a duplicate; and unix still loads after the 64. */
	more = t_fmt("%strusted_proxy unix\n", text);
	t_load_free(&r, more);
	t_assert_ok(&r);
	t_done(&r);
	more = t_fmt("%strusted_proxy 192.0.2.0\n", text);
	t_load_free(&r, more);
	t_assert_fail(&r, CONF_ERR_SYNTAX, 68, T_PROXY_WHY);
	free(text);
}
END_TEST

/* conf_ip_trusted(): addresses at either side of every kind of edge. */
static const struct {
	const char	*proxies;	/* trusted_proxy values, blank-separated */
	const char	*addr;
	int		 trusted;
} t_match_rows[] = {
	{ "10.0.0.0/8", "10.0.0.0", 1 },
	{ "10.0.0.0/8", "10.255.255.255", 1 },
	{ "10.0.0.0/8", "11.0.0.0", 0 },
	{ "10.0.0.0/8", "9.255.255.255", 0 },
	{ "10.0.0.0/9", "10.127.255.255", 1 },	/* prefix inside a byte */
	{ "10.0.0.0/9", "10.128.0.0", 0 },
	{ "192.168.1.4/30", "192.168.1.4", 1 },
	{ "192.168.1.4/30", "192.168.1.7", 1 },
	{ "192.168.1.4/30", "192.168.1.3", 0 },
	{ "192.168.1.4/30", "192.168.1.8", 0 },
	{ "192.168.1.4/31", "192.168.1.5", 1 },
	{ "192.168.1.4/31", "192.168.1.6", 0 },
	{ "128.0.0.0/1", "128.0.0.1", 1 },	/* first bit of the IPv4 part */
	{ "128.0.0.0/1", "127.255.255.255", 0 },
	{ "127.0.0.1", "127.0.0.1", 1 },
	{ "127.0.0.1", "127.0.0.2", 0 },
	{ "127.0.0.1", "126.0.0.1", 0 },
	{ "127.0.0.1/32", "127.0.0.1", 1 },
	{ "127.0.0.1/32", "127.0.0.0", 0 },
	/* An IPv4 entry is an IPv4-mapped network: v4 peers on v6 sockets. */
	{ "127.0.0.1", "::ffff:127.0.0.1", 1 },
	{ "127.0.0.1", "::127.0.0.1", 0 },	/* IPv4-compatible: not v4 */
	{ "127.0.0.1", "::1", 0 },
	{ "::ffff:127.0.0.1", "127.0.0.1", 1 },
	{ "::ffff:10.0.0.0/104", "10.1.2.3", 1 },
	{ "::ffff:10.0.0.0/104", "11.1.2.3", 0 },
	{ "::ffff:0:0/96", "198.51.100.1", 1 },	/* every IPv4 address */
	{ "::ffff:0:0/96", "::1", 0 },
	/* IPv4 /0 is every IPv4 address and no IPv6 one; ::/0 is all. */
	{ "0.0.0.0/0", "203.0.113.7", 1 },
	{ "0.0.0.0/0", "0.0.0.0", 1 },
	{ "0.0.0.0/0", "255.255.255.255", 1 },
	{ "0.0.0.0/0", "::1", 0 },
	{ "0.0.0.0/0", "2001:db8::1", 0 },
	{ "0.0.0.0/0", "::", 0 },
	{ "::/0", "2001:db8::1", 1 },
	{ "::/0", "203.0.113.7", 1 },
	{ "::/0", "::", 1 },
	{ "::1", "::1", 1 },
	{ "::1", "::2", 0 },
	{ "::1", "::", 0 },
	{ "::1", "127.0.0.1", 0 },
	{ "::1/128", "::1", 1 },
	{ "2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1 },
	{ "2001:db8::/32", "2001:db9::", 0 },
	{ "2001:db8::/33", "2001:db8:7fff:ffff::1", 1 },
	{ "2001:db8::/33", "2001:db8:8000::", 0 },
	{ "2001:db8::/127", "2001:db8::1", 1 },
	{ "2001:db8::/127", "2001:db8::2", 0 },
	{ "fe80::/10", "febf:ffff::1", 1 },
	{ "fe80::/10", "fec0::1", 0 },
	{ "fe80::/10", "fe7f::1", 0 },
	{ "2001:db8::1", "2001:db8::1:0", 0 },
	/* Several networks: any one will do. */
	{ "10.0.0.0/8 192.168.0.0/16 ::1", "192.168.200.1", 1 },
	{ "10.0.0.0/8 192.168.0.0/16 ::1", "::1", 1 },
	{ "10.0.0.0/8 192.168.0.0/16 ::1", "172.16.0.1", 0 },
	/* None configured, or only unix: no address is trusted. */
	{ "", "127.0.0.1", 0 },
	{ "", "::1", 0 },
	{ "unix", "127.0.0.1", 0 },
	{ "unix", "::", 0 },
};

/* A valid file with one trusted_proxy line per blank-separated value. */
static char *
t_proxies_conf(const char *values)
{
	char *text, *more, *copy, *v, *save = NULL;

	text = t_fmt("route /a\nclient C 1 %s\n", t_pem);
	copy = t_fmt("%s", values);
	for (v = strtok_r(copy, " ", &save); v != NULL;
	    v = strtok_r(NULL, " ", &save)) {
		more = t_fmt("%strusted_proxy %s\n", text, v);
		free(text);
		text = more;
	}
	free(copy);
	return text;
}

START_TEST(test_ip_trusted_table)
{
	unsigned char a[16];
	struct t_res r;

	t_load_free(&r, t_proxies_conf(t_match_rows[_i].proxies));
	t_assert_ok(&r);
	t_ip(t_match_rows[_i].addr, a);
	ck_assert_msg(conf_ip_trusted(r.c, a) == t_match_rows[_i].trusted,
	    "trusted_proxy %s: %s %s", t_match_rows[_i].proxies,
	    t_match_rows[_i].addr, t_match_rows[_i].trusted ?
	    "not trusted" : "trusted");
	t_done(&r);
}
END_TEST

/*
 * A network written with host bits set (10.1.2.3/8) is taken as its
 * network (10.0.0.0/8) by the match, whatever it stores: the two forms
 * trust exactly the same addresses, IPv4 and IPv6 alike.
 */
START_TEST(test_ip_trusted_host_bits)
{
	static const struct {
		const char	*loose, *strict;
	} pairs[] = {
		{ "10.1.2.3/8", "10.0.0.0/8" },
		{ "192.168.1.7/30", "192.168.1.4/30" },
		{ "10.255.0.1/9", "10.128.0.0/9" },
		{ "203.0.113.7/0", "0.0.0.0/0" },
		{ "2001:db8::ffff/32", "2001:db8::/32" },
		{ "2001:db8:ffff::1/33", "2001:db8:8000::/33" },
		{ "fe80::1/10", "fe80::/10" },
		{ "2001:db8::1/0", "::/0" },
	};
	static const char *const probes[] = {
		"10.0.0.0", "10.1.2.3", "10.127.255.255", "10.128.0.0",
		"10.255.255.255", "11.0.0.0", "9.255.255.255", "192.168.1.3",
		"192.168.1.4", "192.168.1.7", "192.168.1.8", "0.0.0.0",
		"255.255.255.255", "203.0.113.7", "::", "::1", "2001:db8::",
		"2001:db8::ffff", "2001:db8:7fff::1", "2001:db8:8000::",
		"2001:db8:ffff::1", "2001:db9::", "fe80::1", "febf::1",
		"fec0::", "::ffff:10.1.2.3",
	};
	struct t_res loose, strict;
	unsigned char a[16];
	size_t i, k, in;

	for (i = 0; i < T_NELEM(pairs); i++) {
		t_load_free(&loose, t_proxies_conf(pairs[i].loose));
		t_assert_ok(&loose);
		t_load_free(&strict, t_proxies_conf(pairs[i].strict));
		t_assert_ok(&strict);
		ck_assert_uint_eq(loose.c->proxies[0].bits,
		    strict.c->proxies[0].bits);
		for (k = 0, in = 0; k < T_NELEM(probes); k++) {
			t_ip(probes[k], a);
			ck_assert_msg(conf_ip_trusted(loose.c, a) ==
			    conf_ip_trusted(strict.c, a), "%s and %s disagree "
			    "on %s", pairs[i].loose, pairs[i].strict, probes[k]);
			in += conf_ip_trusted(strict.c, a) != 0;
		}
		/* The probes fall on both sides (::/0 has no outside). */
		ck_assert_msg(in > 0, "%s: no probe inside", pairs[i].strict);
		ck_assert_msg(in < T_NELEM(probes) ||
		    strcmp(pairs[i].strict, "::/0") == 0,
		    "%s: no probe outside", pairs[i].strict);
		t_done(&loose);
		t_done(&strict);
	}
}
END_TEST

/* route */

START_TEST(test_route_forms)
{
	struct t_res r;

	t_load_free(&r, t_fmt("client C 1 %s\n"
	    "route /antom/notify /payments/antom/notify\n"
	    "route /b\n"
	    "route /c /c\n"
	    "route /d #/not-a-signed-path\n"
	    "route /\n"
	    "route /e/f.g-h_i~j%%41!$&'()*+,;=:@ /x\n", t_pem));
	t_assert_ok(&r);
	ck_assert_uint_eq(r.c->nroutes, 6);
	ck_assert_str_eq(r.c->routes[0].path, "/antom/notify");
	ck_assert_str_eq(r.c->routes[0].signed_path, "/payments/antom/notify");
	ck_assert_str_eq(r.c->routes[1].path, "/b");
	ck_assert_str_eq(r.c->routes[1].signed_path, "/b");
	ck_assert_str_eq(r.c->routes[2].signed_path, "/c");
	ck_assert_str_eq(r.c->routes[3].path, "/d");
	ck_assert_str_eq(r.c->routes[3].signed_path, "/d");
	ck_assert_str_eq(r.c->routes[4].path, "/");
	ck_assert_str_eq(r.c->routes[5].path, "/e/f.g-h_i~j%41!$&'()*+,;=:@");
	ck_assert_str_eq(r.c->routes[5].signed_path, "/x");
	t_done(&r);
}
END_TEST

START_TEST(test_route_duplicate)
{
	struct t_res r;

	/* Same local path, even with another signed path. */
	t_load_free(&r, t_with("route /b\nroute /antom/notify /other"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 4,
	    "route /antom/notify is already defined");
	/* Two local paths may share a signed path. */
	t_load_free(&r, t_with("route /b /antom/notify"));
	t_assert_ok(&r);
	t_done(&r);
	/* Paths are compared byte for byte. */
	t_load_free(&r, t_with("route /Antom/notify\nroute /antom/notify/"));
	t_assert_ok(&r);
	ck_assert_uint_eq(r.c->nroutes, 3);
	t_done(&r);
}
END_TEST

static const char *const t_bad_routes[] = {
	"route antom/notify",
	"route notify",
	"route ./notify",
	"route http://example.com/notify",
	"route /antom/notify?x=1",
	"route /?",
	"route ?/a",
	"route /a#frag",
	"route /caf\xc3\xa9",
	"route /a\x01z",
	"route /a\x7fz",
	"route /a\x1b[0m",
	"route /a\rb",
	"route /ok antom/notify",
	"route /ok /b?c",
	"route /ok /b#c",
	"route /ok /\xff",
	"route /ok ?",
};

START_TEST(test_route_bad_path)
{
	struct t_res r;

	t_load_free(&r, t_with(t_bad_routes[_i]));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3, T_ROUTE_WHY);
}
END_TEST

START_TEST(test_route_args)
{
	struct t_res r;

	t_load_free(&r, t_with("route"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3,
	    "wrong number of arguments for 'route'");
	t_load_free(&r, t_with("route    \t  "));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3,
	    "wrong number of arguments for 'route'");
	t_load_free(&r, t_with("route /a /b /c"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3,
	    "wrong number of arguments for 'route'");
}
END_TEST

/* Both paths are limited to CONF_PATH_MAX - 1 bytes. */
START_TEST(test_route_path_max)
{
	char *p, *line;
	struct t_res r;
	int which;

	p = malloc(CONF_PATH_MAX + 1);
	ck_assert_ptr_nonnull(p);
	for (which = 0; which < 2; which++) {
		memset(p, 'r', CONF_PATH_MAX);
		p[0] = '/';
		p[CONF_PATH_MAX - 1] = '\0';
		line = which == 0 ? t_fmt("route %s", p) : t_fmt("route /x %s", p);
		t_load_free(&r, t_with(line));
		free(line);
		t_assert_ok(&r);
		ck_assert_str_eq(which == 0 ? r.c->routes[1].path :
		    r.c->routes[1].signed_path, p);
		t_done(&r);

		p[CONF_PATH_MAX - 1] = 'r';
		p[CONF_PATH_MAX] = '\0';
		line = which == 0 ? t_fmt("route %s", p) : t_fmt("route /x %s", p);
		t_load_free(&r, t_with(line));
		free(line);
		t_assert_fail(&r, CONF_ERR_SYNTAX, 3, T_ROUTE_WHY);
	}
	free(p);
}
END_TEST

/* conf_route_find: the exact local path, nothing looser. */
static const struct {
	const char	*path;
	size_t		 len;
	int		 idx;	/* -1: no route */
} t_find_rows[] = {
	{ T_S("/antom/notify"), 0 },
	{ T_S("/other"), 1 },
	{ T_S("/"), 2 },
	{ "/antom/notify?x=1", 13, 0 },		/* len bounds the path */
	{ "/otherwise", 6, 1 },
	{ T_S("/antom/notify?x=1"), -1 },
	{ T_S("/antom/notif"), -1 },		/* prefix */
	{ T_S("/antom"), -1 },
	{ T_S("/antom/notify/"), -1 },		/* trailing slash */
	{ T_S("/antom/notify/x"), -1 },
	{ T_S("/ANTOM/NOTIFY"), -1 },		/* case */
	{ T_S("/Antom/notify"), -1 },
	{ T_S("antom/notify"), -1 },
	{ T_S("//antom/notify"), -1 },
	{ T_S("/antom//notify"), -1 },
	{ T_S("/antom/notify%2F"), -1 },
	{ T_S("/antom%2Fnotify"), -1 },
	{ T_S("/antom/notify\0"), -1 },		/* NUL inside len */
	{ T_S("/pub/notify"), -1 },		/* a signed path is not served */
	{ T_S("/x"), -1 },			/* "/" is not a catch-all */
	{ T_S(""), -1 },
	{ T_S(" /other"), -1 },
	{ T_S("/other "), -1 },
};

START_TEST(test_route_find_table)
{
	const struct conf_route *rt;
	struct t_res r;

	t_load_free(&r, t_fmt("route /antom/notify /pub/notify\nroute /other\n"
	    "route /\nclient C 1 %s\n", t_pem));
	t_assert_ok(&r);
	rt = conf_route_find(r.c, t_find_rows[_i].path, t_find_rows[_i].len);
	if (t_find_rows[_i].idx < 0)
		ck_assert_msg(rt == NULL, "'%.*s' matched route %s",
		    (int)t_find_rows[_i].len, t_find_rows[_i].path,
		    rt != NULL ? rt->path : "");
	else
		ck_assert_ptr_eq(rt, &r.c->routes[t_find_rows[_i].idx]);
	t_done(&r);
}
END_TEST

/* client */

START_TEST(test_client_key_forms)
{
	struct t_res r;

	/* Inline base64, as the dashboard shows it. */
	t_load_free(&r, t_fmt("route /a\nclient C 1 %s\n", t_b64));
	t_assert_ok(&r);
	ck_assert_uint_eq(verify_keyring_count(r.c->keys), 1);
	ck_assert(verify_keyring_has_client(r.c->keys, "C"));
	t_done(&r);

	/* Path of a PEM file; path of a base64 file. */
	t_load_free(&r, t_fmt("route /a\nclient C 1 %s\n", t_pem));
	t_assert_ok(&r);
	ck_assert_uint_eq(verify_keyring_count(r.c->keys), 1);
	t_done(&r);
	t_load_free(&r, t_fmt("route /a\nclient C 1 %s\n", t_b64file));
	t_assert_ok(&r);
	ck_assert_uint_eq(verify_keyring_count(r.c->keys), 1);
	t_done(&r);

	/* Versions and clients add up (the same key may serve several). */
	t_load_free(&r, t_fmt("route /a\nclient C 1 %s\nclient C 2 %s\n"
	    "client D 1 %s\nclient C 1000000 %s\n", t_pem, t_b64, t_b64file,
	    t_pem));
	t_assert_ok(&r);
	ck_assert_uint_eq(verify_keyring_count(r.c->keys), 4);
	ck_assert(verify_keyring_has_client(r.c->keys, "C"));
	ck_assert(verify_keyring_has_client(r.c->keys, "D"));
	ck_assert(!verify_keyring_has_client(r.c->keys, "c"));
	ck_assert(!verify_keyring_has_client(r.c->keys, "E"));
	t_done(&r);
}
END_TEST

START_TEST(test_client_duplicate)
{
	struct t_res r;

	/* Same (client, version), whatever the key's form. */
	t_load_free(&r, t_fmt("route /a\nclient C 1 %s\n# c\nclient C 1 %s\n",
	    t_pem, t_b64));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 4, NULL);
	ck_assert_msg(strstr(r.err, "C") != NULL, "err names no client: %s",
	    r.err);
	t_load_free(&r, t_fmt("route /a\nclient C 1 %s\nclient D 1 %s\n"
	    "client C 2 %s\nclient D 1 %s\n", t_pem, t_pem, t_pem, t_pem));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 5, NULL);
}
END_TEST

/* Keys that do not load: CONF_ERR_KEY, so main can exit with its own code. */
static const char *const t_bad_keys[] = {
	"notakey",
	"/nonexistent/antom-public.pem",
	"./nonexistent.pem",
	"QUJDRA==",					/* base64 of "ABCD" */
	"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",	/* cut short */
	"@private",					/* a private key file */
	"@readme",					/* a file that holds no key */
	"@dir",						/* a directory */
};

START_TEST(test_client_bad_key)
{
	const char *k = t_bad_keys[_i];
	char spec[1024];
	struct t_res r;

	if (strcmp(k, "@private") == 0)
		k = test_path(spec, sizeof(spec), "vectors/test-antom-private.pem");
	else if (strcmp(k, "@readme") == 0)
		k = test_path(spec, sizeof(spec), "vectors/README.md");
	else if (strcmp(k, "@dir") == 0)
		k = test_path(spec, sizeof(spec), "vectors");
	t_load_free(&r, t_fmt("route /a\nclient OK 1 %s\nclient C 3 %s\n",
	    t_pem, k));
	t_assert_fail(&r, CONF_ERR_KEY, 3, NULL);
	ck_assert_msg(strstr(r.err, ": client C key 3: ") != NULL,
	    "err does not name the client and version: %s", r.err);
}
END_TEST

static const char *const t_bad_versions[] = {
	"0", "-1", "+1", "x", "1.0", "1000001", "99999999999999999999999", "0x1",
};

START_TEST(test_client_bad_version)
{
	struct t_res r;

	t_load_free(&r, t_fmt("route /a\nclient C %s %s\n", t_bad_versions[_i],
	    t_pem));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 2,
	    "key version must be an integer from 1 to 1000000");
}
END_TEST

START_TEST(test_client_id)
{
	char id[80], *text;
	struct t_res r;

	memset(id, 'A', sizeof(id));
	id[64] = '\0';			/* 64: the longest */
	t_load_free(&r, t_fmt("route /a\nclient %s 1 %s\n", id, t_pem));
	t_assert_ok(&r);
	ck_assert(verify_keyring_has_client(r.c->keys, id));
	t_done(&r);

	id[64] = 'A';
	id[65] = '\0';			/* 65: one too many */
	t_load_free(&r, t_fmt("route /a\nclient %s 1 %s\n", id, t_pem));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 2,
	    "client id must be 1 to 64 printable characters");

	/* Printable ASCII only. */
	text = t_fmt("route /a\nclient caf\xc3\xa9 1 %s\n", t_pem);
	t_load_free(&r, text);
	t_assert_fail(&r, CONF_ERR_SYNTAX, 2,
	    "client id must be 1 to 64 printable characters");
	text = t_fmt("route /a\nclient a\x1b[0m 1 %s\n", t_pem);
	t_load_free(&r, text);
	t_assert_fail(&r, CONF_ERR_SYNTAX, 2,
	    "client id must be 1 to 64 printable characters");

	/* Ids are what Antom issues: punctuation but '.' is fine. */
	t_load_free(&r, t_fmt("route /a\nclient SANDBOX_5YEZ4X2ZEB3C05479 1 %s\n"
	    "client T-ALL:PAY_1 1 %s\n", t_pem, t_pem));
	t_assert_ok(&r);
	ck_assert(verify_keyring_has_client(r.c->keys,
	    "SANDBOX_5YEZ4X2ZEB3C05479"));
	t_done(&r);
}
END_TEST

/*
 * A '.' would make the signed content ambiguous (check_verify.c,
 * test_request_resplit): "T_1" and "T_1.2" on one key let a notification
 * for one verify as the other.  Refused wherever it is, with the line.
 */
START_TEST(test_client_id_dot)
{
	static const char *const ids[] = {
		"T_1.2", ".", ".T_1", "T_1.", "SANDBOX_5YEZ4X2ZEB3C05479.1",
	};
	struct t_res r;
	size_t i;

	for (i = 0; i < T_NELEM(ids); i++) {
		t_load_free(&r, t_fmt("route /a\nclient T_1 1 %s\n"
		    "client %s 1 %s\n", t_pem, ids[i], t_pem));
		t_assert_fail(&r, CONF_ERR_SYNTAX, 3, "client id must not "
		    "contain '.': the signed content joins client-id and "
		    "request-time with '.', so another id's signature would "
		    "verify for this one");
	}
	/* The dotted id alone, too: the other may be Antom's, not ours. */
	t_load_free(&r, t_fmt("route /a\nclient T_1.2 1 %s\n", t_pem));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 2, NULL);
	/* Antom's forms (docs/protocol.md section 1.2) load. */
	t_load_free(&r, t_fmt("route /a\nclient T_1 1 %s\nclient T_111222333 "
	    "1 %s\nclient T_ALLPAY_1 1 %s\nclient SANDBOX_5YEZ4X2ZEB3C05479 1 "
	    "%s\n", t_pem, t_pem, t_pem, t_pem));
	t_assert_ok(&r);
	t_done(&r);
}
END_TEST

START_TEST(test_client_args)
{
	static const char *const lines[] = {
		"client", "client C", "client C 1", "client C 1 @PEM@ extra",
	};
	struct t_res r;
	size_t i;

	for (i = 0; i < T_NELEM(lines); i++) {
		char *line = strstr(lines[i], "@PEM@") != NULL ?
		    t_fmt("client C 1 %s extra", t_pem) : t_fmt("%s", lines[i]);

		t_load_free(&r, t_fmt("route /a\nclient D 1 %s\n%s\n", t_pem,
		    line));
		free(line);
		t_assert_fail(&r, CONF_ERR_SYNTAX, 3,
		    "wrong number of arguments for 'client'");
	}
}
END_TEST

/* File-level rules */

START_TEST(test_unknown_directive)
{
	static const struct {
		const char	*line;
		const char	*why;
	} rows[] = {
		{ "thread 4", "unknown directive 'thread'" },
		{ "Threads 4", "unknown directive 'Threads'" },
		{ "LISTEN 127.0.0.1:1", "unknown directive 'LISTEN'" },
		{ "include other.conf", "unknown directive 'include'" },
		{ "threads=4", "unknown directive 'threads=4'" },
		{ "\"route\" /a", "unknown directive '\"route\"'" },
	};
	char name[200], why[200];
	struct t_res r;
	size_t i;

	for (i = 0; i < T_NELEM(rows); i++) {
		t_load_free(&r, t_with(rows[i].line));
		t_assert_fail(&r, CONF_ERR_SYNTAX, 3, rows[i].why);
	}
	/* A long name is shown cut to 64 bytes. */
	memset(name, 'z', sizeof(name));
	name[150] = '\0';
	snprintf(why, sizeof(why), "unknown directive '%.64s'", name);
	t_load_free(&r, t_with(name));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3, why);
}
END_TEST

/* Directive without its value, or with one too many. */
static const char *const t_arg_lines[] = {
	"listen", "listen 127.0.0.1:1 127.0.0.1:2",
	"database", "database /a /b",
	"log_level", "log_level info warn",
	"max_body_bytes", "max_body_bytes 300 300",
	"max_connections", "max_connections 1 1",
	"idle_timeout_s", "idle_timeout_s 1 1",
	"connection_memory_limit", "connection_memory_limit 5000 5000",
	"threads", "threads 1 1",
	"busy_timeout_ms", "busy_timeout_ms 1 1",
	"commit_deadline_ms", "commit_deadline_ms 100 100",
	"commit_batch_max", "commit_batch_max 1 1",
	"queue_max", "queue_max 1 1",
	"shutdown_timeout_s", "shutdown_timeout_s 1 1",
	"at_risk_after_s", "at_risk_after_s 1 1",
	"log_format", "log_format json logfmt",
	"metrics_listen", "metrics_listen 127.0.0.1:1 127.0.0.1:2",
	"metrics_listen   # off",
	"trusted_proxy", "trusted_proxy unix 127.0.0.1",
	"trusted_proxy 10.0.0.0 /8",
	"route", "route /a /b /c",
	"client", "client C 1 k k",
};

START_TEST(test_arg_counts)
{
	char name[64], why[128];
	struct t_res r;

	snprintf(name, sizeof(name), "%s", t_arg_lines[_i]);
	name[strcspn(name, " ")] = '\0';
	snprintf(why, sizeof(why), "wrong number of arguments for '%s'", name);
	t_load_free(&r, t_with(t_arg_lines[_i]));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3, why);
}
END_TEST

START_TEST(test_too_many_args)
{
	struct t_res r;

	t_load_free(&r, t_with("route /a /b /c /d /e /f /g /h /i"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3, "too many arguments");
	/* A comment's words are not arguments. */
	t_load_free(&r, t_with("threads 4 # a b c d e f g h i j k"));
	t_assert_ok(&r);
	ck_assert_uint_eq(r.c->threads, 4);
	t_done(&r);
}
END_TEST

/* Comments, blank lines, blanks, tabs; the same file with CRLF. */
static const char t_layout[] =
    "# antomd.conf\n"
    "\n"
    "   \n"
    "\t\n"
    "#listen 1.1.1.1:1\n"
    "   # indented comment\n"
    "\t# tab-indented comment\n"
    "listen 0.0.0.0:9000   # trailing comment\n"
    "threads\t8\n"
    "  database   /tmp/x.db  \t\n"
    "route /antom/notify #/signed\n"
    "##\n"
    "client C 1 @PEM@\n"
    "queue_max 7#not-a-comment\n";

static char *
t_layout_text(int crlf, const char *last)
{
	char *pem_at, *out, *p;
	size_t n = 0, i;
	const char *src = t_layout;

	out = malloc(2 * sizeof(t_layout) + 2 * strlen(t_pem) + strlen(last) + 8);
	ck_assert_ptr_nonnull(out);
	pem_at = strstr(src, "@PEM@");
	for (i = 0; src[i] != '\0'; i++) {
		if (src + i == pem_at) {
			memcpy(out + n, t_pem, strlen(t_pem));
			n += strlen(t_pem);
			i += 4;
			continue;
		}
		if (src[i] == '\n' && crlf)
			out[n++] = '\r';
		out[n++] = src[i];
	}
	/* Drop the last line (queue_max), replace it with the caller's. */
	out[n] = '\0';
	p = strstr(out, "queue_max");
	ck_assert_ptr_nonnull(p);
	strcpy(p, last);
	return out;
}

START_TEST(test_layout)
{
	static const char *const lasts[] = {
		"", "queue_max 7\n", "queue_max 7", "queue_max 7\r\n",
		"queue_max 7\r",
	};
	struct t_res r;
	int crlf;
	size_t i;

	for (crlf = 0; crlf < 2; crlf++) {
		for (i = 0; i < T_NELEM(lasts); i++) {
			t_load_free(&r, t_layout_text(crlf, lasts[i]));
			t_assert_ok(&r);
			ck_assert_str_eq(r.c->listen, "0.0.0.0:9000");
			ck_assert_str_eq(r.c->listen_port, "9000");
			ck_assert_uint_eq(r.c->threads, 8);
			ck_assert_str_eq(r.c->database, "/tmp/x.db");
			ck_assert_uint_eq(r.c->nroutes, 1);
			ck_assert_str_eq(r.c->routes[0].signed_path,
			    "/antom/notify");
			ck_assert_uint_eq(verify_keyring_count(r.c->keys), 1);
			ck_assert_uint_eq(r.c->queue_max, i == 0 ? 4096 : 7);
			t_done(&r);
		}
	}
}
END_TEST

/* Line numbers count comments and blank lines, with LF and with CRLF. */
START_TEST(test_error_line_numbers)
{
	struct t_res r;
	int crlf;

	for (crlf = 0; crlf < 2; crlf++) {
		/* '#' glued to a value is not a comment: line 14. */
		t_load_free(&r, t_layout_text(crlf, crlf ? "queue_max 7#x\r\n" :
		    "queue_max 7#x\n"));
		t_assert_fail(&r, CONF_ERR_SYNTAX, 14,
		    "queue_max must be an integer from 1 to 1048576");
		t_load_free(&r, t_layout_text(crlf, crlf ?
		    "\r\n\r\n# x\r\nbogus\r\nthreads 0\r\n" :
		    "\n\n# x\nbogus\nthreads 0\n"));
		t_assert_fail(&r, CONF_ERR_SYNTAX, 17, "unknown directive 'bogus'");
	}
	/* The first error wins. */
	t_load_free(&r, t_with("threads 1\nthreads 0\nlisten x"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 4,
	    "threads must be an integer from 1 to 64");
	/* A CR inside a line is not a line break. */
	t_load_free(&r, t_with("threads 4\rthreads 5"));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3, NULL);
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char *const tails[] = {
		"threads 4\0", "threads\0 4", "# comment \0 here", "\0",
	};
	static const size_t tlens[] = { 10, 10, 16, 1 };
	struct t_res r;
	char *head, *buf;
	size_t i, hl;

	head = t_fmt("route /a\n\nclient C 1 %s\n", t_pem);
	hl = strlen(head);
	for (i = 0; i < T_NELEM(tails); i++) {
		buf = malloc(hl + tlens[i] + 32);
		ck_assert_ptr_nonnull(buf);
		memcpy(buf, head, hl);
		memcpy(buf + hl, tails[i], tlens[i]);
		memcpy(buf + hl + tlens[i], "\nthreads 3\n", 11);
		t_loadn(&r, buf, hl + tlens[i] + 11);
		t_assert_fail(&r, CONF_ERR_SYNTAX, 4, "NUL byte in line");
		free(buf);
	}
	free(head);
}
END_TEST

/* Lines of up to 8192 bytes (newline included) load; longer ones do not. */
START_TEST(test_long_line)
{
	static const struct {
		size_t	len;	/* comment line, without its newline */
		int	ok;
		int	last;	/* no newline: the file's last line */
	} rows[] = {
		{ 100, 1, 0 },
		{ 8000, 1, 0 },
		{ 8191, 1, 0 },
		{ 8191, 1, 1 },
		{ 8193, 0, 0 },
		{ 8193, 0, 1 },
		{ 9000, 0, 0 },
		{ 200000, 0, 0 },
	};
	struct t_res r;
	char *head, *buf;
	size_t i, hl, n;

	head = t_fmt("route /a\nclient C 1 %s\n", t_pem);
	hl = strlen(head);
	for (i = 0; i < T_NELEM(rows); i++) {
		buf = malloc(hl + rows[i].len + 32);
		ck_assert_ptr_nonnull(buf);
		memcpy(buf, head, hl);
		n = hl;
		buf[n++] = '#';
		memset(buf + n, 'x', rows[i].len - 1);
		n += rows[i].len - 1;
		if (!rows[i].last) {
			memcpy(buf + n, "\nthreads 3\n", 11);
			n += 11;
		}
		t_loadn(&r, buf, n);
		if (rows[i].ok) {
			t_assert_ok(&r);
			ck_assert_uint_eq(r.c->threads, rows[i].last ? 2 : 3);
			t_done(&r);
		} else {
			t_assert_fail(&r, CONF_ERR_SYNTAX, 3,
			    "line longer than 8192 bytes");
		}
		free(buf);
	}
	/* A long directive line, not only a comment. */
	buf = malloc(hl + 10000);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, head, hl);
	memcpy(buf + hl, "route /", 7);
	memset(buf + hl + 7, 'p', 9000);
	buf[hl + 9007] = '\n';
	t_loadn(&r, buf, hl + 9008);
	t_assert_fail(&r, CONF_ERR_SYNTAX, 3, "line longer than 8192 bytes");
	free(buf);
	free(head);
}
END_TEST

START_TEST(test_missing_file)
{
	static int sentinel;
	char path[700], want[800], err[1024];
	struct conf *c = (struct conf *)(void *)&sentinel;

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", t_dir);
	ck_assert_int_eq(conf_load(path, &c, err, sizeof(err)), CONF_ERR_SYNTAX);
	ck_assert_ptr_null(c);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	ck_assert_str_eq(err, want);

	/* A directory is not a config file either. */
	c = (struct conf *)(void *)&sentinel;
	ck_assert_int_eq(conf_load(t_dir, &c, err, sizeof(err)), CONF_ERR_SYNTAX);
	ck_assert_ptr_null(c);
	snprintf(want, sizeof(want), "%s: ", t_dir);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0 &&
	    strlen(err) > strlen(want), "err '%s'", err);
}
END_TEST

START_TEST(test_no_route_no_client)
{
	static const char no_route[] = "no route configured";
	static const char no_key[] = "no client key configured: every request "
	    "would be refused";
	struct t_res r;

	t_load(&r, "");
	t_assert_fail(&r, CONF_ERR_SYNTAX, 0, no_route);
	t_load(&r, "# only a comment\n\n");
	t_assert_fail(&r, CONF_ERR_SYNTAX, 0, no_route);
	t_load_free(&r, t_fmt("client C 1 %s\nthreads 4\n", t_pem));
	t_assert_fail(&r, CONF_ERR_SYNTAX, 0, no_route);
	t_load(&r, "route /antom/notify\n");
	t_assert_fail(&r, CONF_ERR_SYNTAX, 0, no_key);
	t_load(&r, "route /antom/notify\n# client C 1 x\n");
	t_assert_fail(&r, CONF_ERR_SYNTAX, 0, no_key);
}
END_TEST

/* A small err buffer is filled, cut and NUL-terminated, never overrun. */
START_TEST(test_err_small_buffer)
{
	char err[64], path[700], full[800];
	struct conf *c;
	size_t cap;

	snprintf(path, sizeof(path), "%s/antomd.conf", t_dir);
	t_write(path, "threads 100\n", 12);
	snprintf(full, sizeof(full), "%s:1: threads must be an integer from 1 "
	    "to 64", path);
	for (cap = 1; cap < sizeof(err); cap += 7) {
		memset(err, 'E', sizeof(err));
		ck_assert_int_eq(conf_load(path, &c, err, cap), CONF_ERR_SYNTAX);
		ck_assert_ptr_null(c);
		ck_assert_uint_eq(strlen(err), cap - 1);
		ck_assert_int_eq(strncmp(err, full, cap - 1), 0);
		ck_assert_int_eq(err[cap], 'E');
	}
}
END_TEST

/*
 * conf/antomd.conf: it loads (with the demo key swapped for the test one),
 * every value it sets is the code's default, and the range and default it
 * documents for each number are the ones the parser enforces.
 */
static char *
t_sample_block(const char *text, const char *name)
{
	char head[128], *out;
	const char *b, *e;
	size_t n = 0;

	snprintf(head, sizeof(head), "\n# %s ", name);
	b = strstr(text, head);
	ck_assert_msg(b != NULL, "conf/antomd.conf does not document %s", name);
	snprintf(head, sizeof(head), "\n%s ", name);
	e = strstr(b, head);
	ck_assert_msg(e != NULL, "conf/antomd.conf does not set %s", name);
	/* The comment as one line: "#" prefixes dropped, blanks squeezed. */
	out = malloc((size_t)(e - b) + 1);
	ck_assert_ptr_nonnull(out);
	for (; b < e; b++) {
		char ch = *b;

		if (ch == '#' && b > text && b[-1] == '\n')
			continue;
		if (ch == '\n' || ch == '\t')
			ch = ' ';
		if (ch == ' ' && n > 0 && out[n - 1] == ' ')
			continue;
		out[n++] = ch;
	}
	out[n] = '\0';
	return out;
}

START_TEST(test_sample_conf)
{
	char path[1024], *text, *fixed, *demo, *blk, *p;
	unsigned long long lo, hi, def;
	struct t_res r;
	size_t i;

	test_path(path, sizeof(path), "../conf/antomd.conf");
	text = test_slurp(path, NULL);
	demo = strstr(text, "./var/demo/antom-public.pem");
	ck_assert_ptr_nonnull(demo);

	for (i = 0; i < T_NELEM(t_nums); i++) {
		blk = t_sample_block(text, t_nums[i].name);
		p = strstr(blk, "Range ");
		ck_assert_msg(p != NULL && sscanf(p, "Range %llu to %llu", &lo,
		    &hi) == 2, "%s: no range in '%s'", t_nums[i].name, blk);
		ck_assert_msg(lo == t_nums[i].min && hi == t_nums[i].max,
		    "%s: documented range %llu to %llu, parser %llu to %llu",
		    t_nums[i].name, lo, hi, t_nums[i].min, t_nums[i].max);
		p = strstr(blk, "Default: ");
		ck_assert_msg(p != NULL && sscanf(p, "Default: %llu", &def) == 1,
		    "%s: no default in '%s'", t_nums[i].name, blk);
		ck_assert_msg(def == t_nums[i].def,
		    "%s: documented default %llu, code %llu", t_nums[i].name,
		    def, t_nums[i].def);
		free(blk);
	}
	blk = t_sample_block(text, "listen");
	ck_assert_ptr_nonnull(strstr(blk, "Default: 127.0.0.1:8080"));
	free(blk);
	blk = t_sample_block(text, "database");
	ck_assert_ptr_nonnull(strstr(blk, "Default: /var/lib/antomd/antomd.db"));
	free(blk);
	blk = t_sample_block(text, "log_level");
	ck_assert_ptr_nonnull(strstr(blk, "Default: info"));
	free(blk);
	blk = t_sample_block(text, "log_format");
	ck_assert_ptr_nonnull(strstr(blk, "Default: logfmt"));
	free(blk);
	blk = t_sample_block(text, "metrics_listen");
	ck_assert_ptr_nonnull(strstr(blk, "Default: 127.0.0.1:9101"));
	free(blk);
	/* trusted_proxy has no default: documented, only as an example. */
	p = strstr(text, "\n# trusted_proxy ");
	ck_assert_msg(p != NULL, "conf/antomd.conf does not document "
	    "trusted_proxy");
	ck_assert_ptr_nonnull(strstr(p, "Default: none"));
	ck_assert_ptr_null(strstr(text, "\ntrusted_proxy "));

	*demo = '\0';
	fixed = t_fmt("%s%s%s", text, t_pem,
	    demo + strlen("./var/demo/antom-public.pem"));
	t_load_free(&r, fixed);
	t_assert_ok(&r);
	for (i = 0; i < T_NELEM(t_nums); i++)
		ck_assert_msg(t_num_get(r.c, &t_nums[i]) == t_nums[i].def,
		    "sample sets %s to %llu, default %llu", t_nums[i].name,
		    t_num_get(r.c, &t_nums[i]), t_nums[i].def);
	ck_assert_str_eq(r.c->listen, "127.0.0.1:8080");
	ck_assert_str_eq(r.c->listen_host, "127.0.0.1");
	ck_assert_str_eq(r.c->listen_port, "8080");
	ck_assert_int_eq(r.c->log_level, LOG_LEVEL_INFO);
	ck_assert_int_eq(r.c->log_format, LOG_FORMAT_LOGFMT);
	ck_assert_str_eq(r.c->metrics_listen, "127.0.0.1:9101");
	ck_assert_uint_eq(r.c->nproxies, 0);
	ck_assert_int_eq(r.c->trust_unix, 0);
	ck_assert_ptr_nonnull(conf_route_find(r.c, "/antom/notify", 13));
	t_done(&r);
	free(text);
}
END_TEST

static TCase *
t_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 30);
	tcase_add_unchecked_fixture(tc, t_fixture_setup, t_fixture_teardown);
	return tc;
}

Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc;

	tc = t_tcase("directives");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_directive);
	tcase_add_test(tc, test_last_wins);
	tcase_add_test(tc, test_database);
	tcase_add_test(tc, test_database_group_write);
	tcase_add_loop_test(tc, test_log_level_table, 0,
	    (int)T_NELEM(t_loglevel_rows));
	tcase_add_loop_test(tc, test_log_format_table, 0,
	    (int)T_NELEM(t_logformat_rows));
	tcase_add_test(tc, test_log_format_last_wins);
	tcase_add_test(tc, test_sample_conf);
	suite_add_tcase(s, tc);

	tc = t_tcase("numbers");
	tcase_add_loop_test(tc, test_num_valid, 0, (int)T_NELEM(t_nums));
	tcase_add_loop_test(tc, test_num_invalid, 0, (int)T_NELEM(t_nums));
	suite_add_tcase(s, tc);

	tc = t_tcase("listen");
	tcase_add_loop_test(tc, test_listen_table, 0, (int)T_NELEM(t_listen_rows));
	tcase_add_test(tc, test_listen_unix);
	suite_add_tcase(s, tc);

	tc = t_tcase("metrics_listen");
	tcase_add_loop_test(tc, test_metrics_listen_table, 0,
	    (int)T_NELEM(t_mlisten_rows));
	tcase_add_test(tc, test_metrics_listen_last_wins);
	suite_add_tcase(s, tc);

	tc = t_tcase("trusted_proxy");
	tcase_add_loop_test(tc, test_trusted_proxy_table, 0,
	    (int)T_NELEM(t_proxy_rows));
	tcase_add_test(tc, test_trusted_proxy_accumulate);
	tcase_add_test(tc, test_trusted_proxy_max);
	tcase_add_loop_test(tc, test_ip_trusted_table, 0,
	    (int)T_NELEM(t_match_rows));
	tcase_add_test(tc, test_ip_trusted_host_bits);
	suite_add_tcase(s, tc);

	tc = t_tcase("route");
	tcase_add_test(tc, test_route_forms);
	tcase_add_test(tc, test_route_duplicate);
	tcase_add_loop_test(tc, test_route_bad_path, 0, (int)T_NELEM(t_bad_routes));
	tcase_add_test(tc, test_route_args);
	tcase_add_test(tc, test_route_path_max);
	tcase_add_loop_test(tc, test_route_find_table, 0,
	    (int)T_NELEM(t_find_rows));
	suite_add_tcase(s, tc);

	tc = t_tcase("client");
	tcase_add_test(tc, test_client_key_forms);
	tcase_add_test(tc, test_client_duplicate);
	tcase_add_loop_test(tc, test_client_bad_key, 0, (int)T_NELEM(t_bad_keys));
	tcase_add_loop_test(tc, test_client_bad_version, 0,
	    (int)T_NELEM(t_bad_versions));
	tcase_add_test(tc, test_client_id);
	tcase_add_test(tc, test_client_id_dot);
	tcase_add_test(tc, test_client_args);
	suite_add_tcase(s, tc);

	tc = t_tcase("file");
	tcase_add_test(tc, test_unknown_directive);
	tcase_add_loop_test(tc, test_arg_counts, 0, (int)T_NELEM(t_arg_lines));
	tcase_add_test(tc, test_too_many_args);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_error_line_numbers);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_no_route_no_client);
	tcase_add_test(tc, test_err_small_buffer);
	suite_add_tcase(s, tc);

	return s;
}
