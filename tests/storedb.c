/*
 * storedb.c - plain SQL on the store tests' database, SQLite or
 * PostgreSQL, and what check_store.c and check_store_state.c share
 * (storedb.h).  SQLite: a connection per call, as test_sql_int() does.
 * PostgreSQL: one connection kept between calls (a new one costs a
 * server process), under a lock since the writer thread's callbacks read
 * too.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "notif.h"
#include "refusal.h"
#include "store.h"
/* The writer's statement numbers, for store_upserts[]. */
#include "../src/store_int.h"
#include "pg.h"
#include "storedb.h"
#include "suites.h"

char store_dir[64];
char dbpath[128];
char database[512];

const struct store_upsert store_upserts[STORE_UPSERTS] = {
	{ S_PAY_UPSERT, "payments", { NULL } },
	{ S_CAP_UPSERT, "captures", { NULL } },
	{ S_REF_UPSERT, "refunds", { NULL } },
	{ S_DIS_UPSERT, "disputes", { NULL } },
	{ S_VLT_UPSERT, "vaultings", { NULL } },
};

static pthread_mutex_t storedb_lock = PTHREAD_MUTEX_INITIALIZER;
static PGconn *storedb_conn;
static char storedb_conninfo[512];

int
storedb_is_pg(const char *db)
{
	return db[0] != '/';
}

/* sql with the SQLite-only spellings storedb.h names replaced; malloc'd. */
static char *
storedb_translate(const char *sql)
{
	static const char *const from[] = { "group_concat(",
	    "CAST(body AS TEXT)" };
	static const char *const to[] = { "string_agg(",
	    "convert_from(body, 'UTF8')" };
	char *out = malloc(strlen(sql) * 2 + 1), *o = out;
	size_t i;

	ck_assert_ptr_nonnull(out);
	while (*sql != '\0') {
		for (i = 0; i < sizeof(from) / sizeof(from[0]); i++)
			if (strncmp(sql, from[i], strlen(from[i])) == 0)
				break;
		if (i < sizeof(from) / sizeof(from[0])) {
			o = stpcpy(o, to[i]);
			sql += strlen(from[i]);
		} else
			*o++ = *sql++;
	}
	*o = '\0';
	return out;
}

/* The kept connection to db (the lock held). */
static PGconn *
storedb_pg(const char *db)
{
	if (storedb_conn != NULL && (strcmp(storedb_conninfo, db) != 0 ||
	    PQstatus(storedb_conn) != CONNECTION_OK)) {
		PQfinish(storedb_conn);
		storedb_conn = NULL;
	}
	if (storedb_conn == NULL) {
		storedb_conn = pg_connect_to(db);
		snprintf(storedb_conninfo, sizeof(storedb_conninfo), "%s", db);
	}
	return storedb_conn;
}

/*
 * sql on PostgreSQL: its first value into out (NULL: ""), booleans as 1
 * or 0; 0, or -1 with the error in out.
 */
static int
storedb_pg_query(const char *db, const char *sql, char *out, size_t cap,
    int *rows)
{
	char *q = storedb_translate(sql);
	PGresult *r;
	ExecStatusType st;
	int rc = 0;

	out[0] = '\0';
	*rows = 0;
	pthread_mutex_lock(&storedb_lock);
	r = PQexec(storedb_pg(db), q);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(out, cap, "%s", PQresultErrorMessage(r));
		rc = -1;
	} else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
	    PQnfields(r) > 0) {
		*rows = 1;
		if (PQftype(r, 0) == 16)	/* BOOLOID */
			snprintf(out, cap, "%d", PQgetvalue(r, 0, 0)[0] == 't');
		else
			snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	pthread_mutex_unlock(&storedb_lock);
	free(q);
	return rc;
}

const char *
storedb_text(const char *db, const char *sql)
{
	static char out[4096];
	int rows;

	if (!storedb_is_pg(db))
		return test_sql_text(db, sql);
	ck_assert_msg(storedb_pg_query(db, sql, out, sizeof(out), &rows) == 0,
	    "%s: %s", sql, out);
	return out;
}

long long
storedb_int(const char *db, const char *sql)
{
	char out[512];
	int rows;

	if (!storedb_is_pg(db))
		return test_sql_int(db, sql);
	ck_assert_msg(storedb_pg_query(db, sql, out, sizeof(out), &rows) == 0,
	    "%s: %s", sql, out);
	return rows ? atoll(out) : -1;
}

int
storedb_exec_rc(const char *db, const char *sql)
{
	char out[512];
	sqlite3 *s;
	int rc, rows;

	if (storedb_is_pg(db))
		return storedb_pg_query(db, sql, out, sizeof(out), &rows);
	ck_assert_int_eq(sqlite3_open(db, &s), SQLITE_OK);
	rc = sqlite3_exec(s, sql, NULL, NULL, NULL);
	sqlite3_close(s);
	return rc;
}

void
storedb_exec(const char *db, const char *sql)
{
	char out[512];
	sqlite3 *s;
	char *msg = NULL;
	int rows;

	if (storedb_is_pg(db)) {
		ck_assert_msg(storedb_pg_query(db, sql, out, sizeof(out),
		    &rows) == 0, "%s: %s", sql, out);
		return;
	}
	ck_assert_int_eq(sqlite3_open(db, &s), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(s, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg);
	sqlite3_close(s);
}

char *
storedb_columns(const char *db, const char *table)
{
	char *sql, *cols;

	if (storedb_is_pg(db))
		sql = test_fmt("SELECT string_agg(column_name, ',' ORDER BY"
		    " ordinal_position) FROM information_schema.columns WHERE"
		    " table_schema = current_schema() AND table_name = '%s'",
		    table);
	else
		sql = test_fmt("SELECT group_concat(name, ',') FROM (SELECT"
		    " name FROM pragma_table_info('%s') ORDER BY cid)", table);
	cols = strdup(storedb_text(db, sql));
	ck_assert_ptr_nonnull(cols);
	free(sql);
	return cols;
}

struct storedb_hold {
	sqlite3	*lite;
	PGconn	*pg;
};

struct storedb_hold *
storedb_hold(const char *db, const char *table)
{
	struct storedb_hold *h = calloc(1, sizeof(*h));
	char *sql;

	ck_assert_ptr_nonnull(h);
	if (storedb_is_pg(db)) {
		h->pg = pg_connect_to(db);
		sql = test_fmt("BEGIN; LOCK TABLE %s IN EXCLUSIVE MODE", table);
		pg_exec(h->pg, sql);
		free(sql);
		return h;
	}
	ck_assert_int_eq(sqlite3_open(db, &h->lite), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h->lite, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	return h;
}

void
storedb_release(struct storedb_hold *h)
{
	if (h->pg != NULL) {
		pg_exec(h->pg, "ROLLBACK");
		PQfinish(h->pg);
	} else {
		ck_assert_int_eq(sqlite3_exec(h->lite, "ROLLBACK", NULL, NULL,
		    NULL), SQLITE_OK);
		sqlite3_close(h->lite);
	}
	free(h);
}

void
storedb_close(void)
{
	pthread_mutex_lock(&storedb_lock);
	PQfinish(storedb_conn);
	storedb_conn = NULL;
	pthread_mutex_unlock(&storedb_lock);
}

/* The store tests' kit. */

void
setup(void)
{
	test_tmpdir(store_dir, sizeof(store_dir), "store", dbpath,
	    sizeof(dbpath));
	snprintf(database, sizeof(database), "%s", dbpath);
}

void
teardown(void)
{
	test_rmtree(store_dir);
}

struct store *
open_store_with(const struct store_options *o)
{
	char err[256] = "";
	struct store *s = store_open(database, o, err, sizeof(err));

	ck_assert_msg(s != NULL, "store_open: %s", err);
	return s;
}

struct store *
open_store(unsigned batch_max)
{
	struct store_options o = { 100, batch_max, 1024, 0, 0 };

	return open_store_with(&o);
}

long long
q_int(const char *sql)
{
	return storedb_int(database, sql);
}

const char *
q_text(const char *sql)
{
	return storedb_text(database, sql);
}

void
exec_sql(const char *sql)
{
	storedb_exec(database, sql);
}

char *
payment_body(const char *prid, const char *pid, const char *type,
    const char *rs, const char *extra)
{
	char *b;

	ck_assert_int_gt(asprintf(&b, "{\"notifyType\":\"%s\",\"result\":"
	    "{\"resultCode\":\"X\",\"resultStatus\":\"%s\",\"resultMessage\":"
	    "\"m\"},\"paymentRequestId\":\"%s\",\"paymentId\":\"%s\","
	    "\"paymentAmount\":{\"value\":\"4200\",\"currency\":\"SGD\"}%s}",
	    type, rs, prid, pid, extra != NULL ? extra : ""), 0);
	return b;
}

/* d as the HTTP layer fills it for body b from CLIENT_A, n its parse. */
void
delivery_init(struct store_delivery *d, struct notif *n, const char *b)
{
	ck_assert_int_eq(notif_parse((const unsigned char *)b, strlen(b), n),
	    0);
	memset(d, 0, sizeof(*d));
	d->client_id = "CLIENT_A";
	d->request_time = "1";
	d->signature = "s";
	d->signed_path = "/antom/notify";
	d->key_version = 1;
	d->body = (const unsigned char *)b;
	d->bodylen = strlen(b);
}

/*
 * What a merchant application does when it calls Antom's refund API:
 * record which payment the refundRequestId refunds, by its paymentId
 * (by_pid) or its paymentRequestId, in plain SQL on its own connection.
 */
void
link_refund(const char *client, const char *rrid, const char *id, int by_pid)
{
	char *sql;

	ck_assert_int_gt(asprintf(&sql, "INSERT INTO refund_links (client_id,"
	    " refund_request_id, %s) VALUES ('%s', '%s', '%s')", by_pid ?
	    "payment_id" : "payment_request_id", client, rrid, id), 0);
	exec_sql(sql);
	free(sql);
}

void
refuse(struct store *s, const char *client, const char *hash, int status,
    const char *reason, const char *object_id)
{
	struct refusal rf;

	memset(&rf, 0, sizeof(rf));
	refusal_set(rf.client_id, sizeof(rf.client_id), client);
	refusal_set(rf.body_sha256, sizeof(rf.body_sha256), hash);
	rf.status = status;
	refusal_set(rf.reason, sizeof(rf.reason), reason);
	refusal_set(rf.object_id, sizeof(rf.object_id), object_id);
	rf.authentic = status == 503;	/* it verified, then storage failed */
	/* Never blocks: when too many are pending, wait for the writer. */
	while (refusal_queue(s, &rf) != 0)
		usleep(1000);
}

struct store_stats
stats_when(struct store *s, int64_t held, int64_t at_risk)
{
	struct store_stats st;
	int i;

	for (i = 0; i < 100; i++) {
		store_stats(s, &st);
		if (st.refusals_held == held && st.at_risk == at_risk)
			break;
		usleep(50000);
	}
	ck_assert_msg(st.refusals_held == held && st.at_risk == at_risk,
	    "held %lld at risk %lld, want %lld %lld",
	    (long long)st.refusals_held, (long long)st.at_risk,
	    (long long)held, (long long)at_risk);
	return st;
}

void
wjob_done_check(struct store_job *j)
{
	struct wjob *w = j->arg;
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications "
	    "WHERE id = %lld", (long long)j->r.notification_id);
	w->seen_rows = j->r.status == 0 ? q_int(sql) : 0;
	pthread_mutex_lock(w->lock);
	(*w->left)--;
	pthread_cond_signal(w->cond);
	pthread_mutex_unlock(w->lock);
}

/* A writer job for a successful payment prid, counted down in *left. */
void
wjob_init(struct wjob *w, const char *prid, pthread_mutex_t *lock,
    pthread_cond_t *cond, int *left)
{
	w->body = payment_body(prid, prid, "PAYMENT_RESULT", "S", NULL);
	ck_assert_int_eq(notif_parse((unsigned char *)w->body,
	    strlen(w->body), &w->n), 0);
	w->job.d.client_id = "CLIENT_A";
	w->job.d.request_time = "1";
	w->job.d.signature = "s";
	w->job.d.signed_path = "/antom/notify";
	w->job.d.key_version = 1;
	w->job.d.body = (unsigned char *)w->body;
	w->job.d.bodylen = strlen(w->body);
	store_hash_body(&w->job.d);
	w->job.d.notif = &w->n;
	w->job.done = wjob_done_check;
	w->job.arg = w;
	w->lock = lock;
	w->cond = cond;
	w->left = left;
}
