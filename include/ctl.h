/*
 * ctl.h - antomctl: one command a file (src/ctl_<command>.c), the exit
 * statuses they share, the request explain judges (src/ctl_capture.c) and
 * the helpers they share (src/ctl_util.c).
 *
 * Each command takes its own argc/argv (argv[0] is the command's name,
 * getopt already reset) and returns the process exit status.  Not used by
 * the daemon.  Single-threaded, like the tool; the x* allocators die on
 * failure, which is right for a tool.
 */
#ifndef ANTOMD_CTL_H
#define ANTOMD_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "client.h"
#include "log.h"

struct conf;

/*
 * The exit statuses, so scripts and tests can tell the outcomes apart.
 * CTL_EXIT_USAGE means the command line was wrong, nothing else: an
 * internal failure (out of memory, I/O) is CTL_EXIT_ERR.
 */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAIL = 1,	/* the answer is no: not acknowledged, does not
				   verify, problems found, nothing found */
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_ERR = 3	/* configuration, key, file, database, output */
};

int	ctl_send(int argc, char **argv);
int	ctl_keygen(int argc, char **argv);
int	ctl_simulate(int argc, char **argv);
int	ctl_explain(int argc, char **argv);
int	ctl_inspect(int argc, char **argv);
int	ctl_events(int argc, char **argv);
int	ctl_refusals(int argc, char **argv);
int	ctl_reverify(int argc, char **argv);
int	ctl_replay(int argc, char **argv);

/* "antomctl: [command: ]message" on stderr; command may be NULL. */
void	ctl_warnx(const char *command, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Whether s may go on the wire as a header value: no control characters. */
int	ctl_header_safe(const char *s);

/* The three Antom headers of a signed request; values are borrowed. */
void	ctl_antom_headers(struct client_header hdrs[3], const char *client_id,
	    const char *request_time, const char *signature);

/*
 * The path to sign for url: sign_path when given, else the URL's path
 * without its query.  NULL with a message naming command when url is not
 * one antomctl can POST to.  The caller frees the result.
 */
char	*ctl_sign_path(const char *command, const char *url,
	    const char *sign_path);

enum ctl_read {
	CTL_READ_OK,
	CTL_READ_ERR,		/* err holds "path: reason" */
	CTL_READ_TOO_BIG	/* more than max bytes */
};

/*
 * Read at most max bytes of path ("-" is stdin) exactly as they are.  On
 * CTL_READ_OK *buf is the caller's (NUL-terminated past *len, for
 * convenience only) and *len its length.
 */
enum ctl_read ctl_read_file(const char *path, size_t max, char **buf,
	    size_t *len, char *err, size_t errlen);

/* A copy of s[0..n), NUL-terminated; dies when out of memory, as xstrdup(). */
char	*ctl_strndup(const char *s, size_t n);

/* ---- the request explain judges (ctl_capture.c) ---- */

/* From a capture file or a database row; every member owned. */
struct ctl_capture {
	char		*method;
	char		*path;		/* target before '?' */
	char		*query;		/* after '?', or NULL */
	char		*client_id;	/* header values, or NULL */
	char		*rtime;
	char		*sig;
	unsigned	 nclient, nrtime, nsig;	/* how often each was given */
	unsigned char	*body;
	size_t		 bodylen;
};

/*
 * Read and parse the raw HTTP request in path ("-" is stdin); notes on
 * what was assumed go to stdout.  0, or -1 with a message on stderr (also
 * when it is not an HTTP request at all).
 */
int	ctl_capture_file(const char *path, struct ctl_capture *);

/*
 * Row id of the notifications table in c's database, served at its
 * route's path as the daemon would see it.  0, or -1 with a message.
 */
int	ctl_capture_row(const struct conf *c, long long id,
	    struct ctl_capture *);

void	ctl_capture_free(struct ctl_capture *);

/* ---- what the commands reading the database share ---- */

/* How long a SQLite reader waits for the daemon's write lock. */
#define CTL_BUSY_MS	5000

/* Room for one value escaped by ctl_esc() or ctl_val(). */
#define CTL_ESC_MAX	(4 * LOG_VALUE_MAX + 1)

/* An untrusted string escaped for a terminal into out ("-" for NULL). */
const char *ctl_esc(const char *s, char *out, size_t outcap);

/* One JSON value as text for a human (strings escaped); "-" for null. */
const char *ctl_val(json_t *v, char *buf, size_t cap);

/* A non-negative 64-bit integer; 0 or -1. */
int	ctl_parse_i64(const char *s, int64_t *out);

/* Load antomd's configuration; NULL with a message on stderr.  Caller owns it. */
struct conf *ctl_conf(const char *command, const char *path);

/* Whether ctl_db_open() insists on the schema version this tool knows. */
enum ctl_schema {
	CTL_SCHEMA_CURRENT,
	CTL_SCHEMA_ANY		/* explain reads columns every version has */
};

/*
 * antomd's database, on either engine (ctl_db.c): SQLite opened
 * read-only, or PostgreSQL with every transaction read-only by default.
 */
struct ctl_db;
/* One row of a query, valid in the callback it is given to. */
struct ctl_row;

/*
 * Open the configuration's database (a path: SQLite; a libpq URI or
 * conninfo: PostgreSQL) for reading: a reader can never create or migrate
 * anything, and a PostgreSQL role with SELECT alone is enough.  Every
 * command that reads the database opens it here.  NULL with a message
 * (naming command, which may be NULL) on stderr; close with
 * ctl_db_close().
 */
struct ctl_db *ctl_db_open(const char *command, const char *database,
	    enum ctl_schema);
/*
 * The same database opened for writing, as the merchant's application
 * would (simulate --db): SQLite read-write, never creating the file;
 * PostgreSQL as the string says.  No schema check.
 */
struct ctl_db *ctl_db_open_rw(const char *command, const char *database);
void	ctl_db_close(struct ctl_db *);
/* Whether database selects PostgreSQL, as store_open() decides. */
int	ctl_db_is_pg(const char *database);
int	ctl_db_pg(const struct ctl_db *);
/* The database for messages: a conninfo without its password. */
const char *ctl_db_name(const struct ctl_db *);

/* A read transaction: one snapshot for every query until ctl_db_end(). */
int	ctl_db_begin(struct ctl_db *);
int	ctl_db_end(struct ctl_db *);

/*
 * Run sql, its text parameters $1, $2 ... bound to params (NULL binds SQL
 * NULL; a statement written with ?1, ?2 ... is bound by number), and call
 * fn (if not NULL) for each row until it returns non-zero.  0; fn's
 * non-zero; or -1 on a database error (reported).
 */
typedef int (*ctl_row_fn)(struct ctl_row *, void *arg);
int	ctl_db_each(struct ctl_db *, const char *sql,
	    const char *const *params, size_t nparams, ctl_row_fn, void *arg);

/*
 * Column i of a row: NULL for SQL NULL; an integer (a PostgreSQL
 * boolean is 0 or 1); bytes, *len of them (a bytea unescaped, not
 * NUL-terminated).
 */
int	ctl_col_count(const struct ctl_row *);
int	ctl_col_null(const struct ctl_row *, int i);
const char *ctl_col_text(const struct ctl_row *, int i);
int64_t	ctl_col_int(const struct ctl_row *, int i);
const unsigned char *ctl_col_blob(struct ctl_row *, int i, size_t *len);

/*
 * The row as a JSON object keyed by column name, the same from either
 * engine: integers as numbers, text as strings, NULL as null.  New
 * reference, or NULL when out of memory.
 */
json_t	*ctl_row_json(struct ctl_row *);

/*
 * Every row of sql (as ctl_db_each()) as a JSON array.  NULL on a
 * database error (reported) or out of memory.
 */
json_t	*ctl_rows(struct ctl_db *, const char *sql, const char *const *params,
	    size_t nparams);

#endif
