/*
 * store_pg_sql.c - the statements of the PostgreSQL engine's batches
 * (store_pg_sql.h): store_state.c's, the same text with '$' for '?',
 * their multi-row forms over arrays (one statement for the whole batch
 * where a job needs one each), the locks; and which server sessions hold
 * them prepared.
 *
 * Issue 16 point 4: planning a statement cost more than running it, so
 * each is prepared once per session; and one statement over arrays
 * costs less than one per job.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_int.h"
#include "store_pg.h"
#include "store_pg_sql.h"

/* A notification id no row has: where store_state_value() puts it. */
#define STORE_PG_NID_MARK	(-424242)

/* Built once, owned by the process from then on. */
struct store_pg_stmt store_pg_stmts[P_COUNT];
static pthread_once_t store_pg_sql_once = PTHREAD_ONCE_INIT;
static int store_pg_sql_ok;

/*
 * The server sessions that hold the statements: a connection and its
 * backend's pid (a reconnect gets another).  Should a new session ever
 * match an old entry, running a statement fails with 26000 and the batch
 * prepares again (store_pg_record).
 */
#define STORE_PG_SESSIONS	16
static struct {
	const PGconn	*c;
	int		 pid;
} store_pg_sessions[STORE_PG_SESSIONS];
static unsigned store_pg_session_next;
static pthread_mutex_t store_pg_sessions_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Lock every key of the batch in the order given (sorted by the caller):
 * WITH ORDINALITY and the ORDER BY keep it, and a volatile function in
 * the select list runs after the sort.  The two-integer form: a lock
 * space apart from the schema's and the events' bigint locks.
 */
static const char store_pg_locks[] =
    "SELECT pg_advisory_xact_lock(k.hi, k.lo) FROM"
    " unnest($1::int4[], $2::int4[]) WITH ORDINALITY AS k(hi, lo, i)"
    " ORDER BY k.i";

/*
 * A repeat, by the notification's key rather than its id: the first
 * delivery may be an INSERT of the same pipeline, whose id is not known
 * yet when this is sent.
 */
static const char store_pg_touch[] =
    "UPDATE notifications SET last_received_at = $3,"
    " delivery_count = delivery_count + 1"
    " WHERE client_id = $1 AND body_sha256 = $2 RETURNING id";

/*
 * A notification stored already, by its key.  SQLite's writer finds it by
 * its object too (schema 9 merged its two keys, store_schema.c); here the
 * key (client_id, body_sha256) stays, since the upserts and the events
 * find their notification by it within the batch's pipeline.
 */
static const char store_pg_find[] =
    "SELECT id, delivery_count FROM notifications"
    " WHERE client_id = $1 AND body_sha256 = $2";

/* sql with every '?' a '$', and tail after it; NULL when out of memory. */
static char *
store_pg_dollar(const char *sql, const char *tail)
{
	size_t len = strlen(sql), i;
	char *s;

	if ((s = malloc(len + strlen(tail) + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		s[i] = sql[i] == '?' ? '$' : sql[i];
	strcpy(s + len, tail);
	return s;
}

/*
 * The types of an upsert's or a fill's parameters, column j's as $j+1
 * (the fill leaves some unused, and the server cannot infer the type of
 * those): whether a column is an integer does not depend on the values.
 */
static void
store_pg_types(enum notif_kind kind, size_t ncols, struct store_pg_stmt *st)
{
	static const char client[] = "client";
	struct store_delivery d;
	struct store_value val;
	struct notif nf;
	size_t j;

	memset(&d, 0, sizeof(d));
	memset(&nf, 0, sizeof(nf));
	nf.kind = kind;
	d.notif = &nf;
	d.client_id = client;
	st->nidcol = st->clientcol = -1;
	for (j = 0; j < ncols; j++) {
		store_state_value(kind, j, &d, STORE_PG_NID_MARK, "", &val);
		st->types[j] = val.integer ? STORE_PG_INT8 : STORE_PG_TEXT;
		/* The notification id: given as its body hash, a text. */
		if (val.integer && !val.null && val.value == STORE_PG_NID_MARK) {
			st->nidcol = (int)j;
			st->types[j] = STORE_PG_TEXT;
		}
		if (!val.integer && val.text == client)
			st->clientcol = (int)j;
	}
	st->ntypes = (int)ncols;
}

/*
 * An upsert with its notification id, parameter $N (st->nidcol + 1),
 * looked up by the notification's key, client (st->clientcol) and body
 * hash (what $N then holds): the notifications row may be an INSERT of the same
 * pipeline, its id not known when this is sent.  0 or -1.
 */
static int
store_pg_nid_by_key(struct store_pg_stmt *st)
{
	char tok[16], *s, *at, *end;
	size_t need;
	int n;

	if (st->nidcol < 0)
		return 0;
	n = st->nidcol + 1;
	snprintf(tok, sizeof(tok), "$%d", n);
	for (at = st->sql; (at = strstr(at, tok)) != NULL; at++)
		if (at[strlen(tok)] < '0' || at[strlen(tok)] > '9')
			break;
	if (at == NULL || st->clientcol < 0)
		return -1;
	end = at + strlen(tok);
	need = strlen(st->sql) + 128;
	if ((s = malloc(need)) == NULL)
		return -1;
	snprintf(s, need, "%.*s(SELECT id FROM notifications WHERE client_id ="
	    " $%d AND body_sha256 = %s)%s", (int)(at - st->sql), st->sql,
	    st->clientcol + 1, tok, end);
	free(st->sql);
	st->sql = s;
	return 0;
}

/*
 * sql with each $N a name from names[N - 1] (what the multi-row forms
 * below take a row's value from), before head and after tail: the same
 * statement over arrays, each job one element.  NULL if out of memory or
 * a parameter has no name.
 */
static char *
store_pg_subst(const char *head, const char *sql, const char *tail,
    const char *const *names, int nnames)
{
	size_t len = strlen(head) + strlen(tail) + 1, longest = 0, i;
	const char *p;
	char *s, *o;
	long k;
	int a;

	/* Each $N becomes a name: room for the longest at every '$'. */
	for (a = 0; a < nnames; a++)
		if (strlen(names[a]) > longest)
			longest = strlen(names[a]);
	for (p = sql; *p != '\0'; p++)
		len += *p == '$' ? longest : 1;
	if ((s = o = malloc(len)) == NULL)
		return NULL;
	o += sprintf(o, "%s", head);
	for (p = sql; *p != '\0'; ) {
		if (*p != '$') {
			*o++ = *p++;
			continue;
		}
		k = strtol(p + 1, (char **)&p, 10);
		if (k < 1 || k > nnames) {
			free(s);
			return NULL;
		}
		for (i = 0; names[k - 1][i] != '\0'; i++)
			*o++ = names[k - 1][i];
	}
	strcpy(o, tail);
	return s;
}

/* k.p1, k.p2, ...: the row of unnest(...) AS k(p1, p2, ..., i). */
static const char *const store_pg_k[] = { "k.p1", "k.p2", "k.p3",
    "k.p4", "k.p5", "k.p6", "k.p7", "k.p8", "k.p9", "k.p10", "k.p11",
    "k.p12", "k.p13", "k.p14" };

/*
 * The multi-row forms of the state statements a batch runs once a job:
 * a read of two text parameters for every (client, key) given, each
 * row led by the job's index; the refusals of every job cleared; the
 * events rows inserted in the order given (a volatile default, the
 * identity, is computed after the sort).  0 or -1.
 */
static int
store_pg_multi_init(struct store_pg_stmt *st, const char *clear)
{
	static const char *const event_k[] = { "k.p1", "k.p2", "k.p3", "k.p4",
	    "k.p5", "k.p6", "(SELECT id FROM notifications WHERE client_id ="
	    " k.p8 AND body_sha256 = k.p7)", "k.p8" };
	static const char lateral[] = "SELECT k.i, x.* FROM unnest($1::text[],"
	    " $2::text[], $3::int4[]) AS k(p1, p2, i) CROSS JOIN LATERAL (";
	/*
	 * One row at most (a unique key), and the LIMIT keeps the subquery
	 * from being flattened into a join: the plan is then a lookup in
	 * the key's index for each element, whatever the table's statistics.
	 * As a join, a generic plan made while the tables were small (a new
	 * database, before autovacuum's first ANALYZE) hashed the arrays and
	 * scanned every row of the table, once a batch: the batch's reads
	 * grew from 2 ms to 10 ms in the first 10 s of `make bench`.
	 */
	static const char lateral_end[] = " LIMIT 1) x";
	const char *values, *where, *ins;
	char head[512], *inner;
	int kind, get, upsert, fill;
	size_t ncols;

	if ((st[P_FIND_ALL].sql = store_pg_subst(lateral,
	    st[SQL(S_NOTIF_FIND)].sql, lateral_end, store_pg_k, 2)) == NULL)
		return -1;
	for (kind = 0; kind < NOTIF_KIND_COUNT; kind++)
		if (store_state_kind(kind, &get, &upsert, &fill, &ncols) == 0 &&
		    (st[P_GET_ALL + kind].sql = store_pg_subst(lateral,
		    st[SQL(get)].sql, lateral_end, store_pg_k, 2)) == NULL)
			return -1;
	if ((where = strstr(clear, " WHERE ")) == NULL ||
	    (values = strstr(st[SQL(S_EVENT)].sql, " VALUES (")) == NULL)
		return -1;
	snprintf(head, sizeof(head), "%.*s USING unnest($1::text[],"
	    " $2::text[]) AS k(p1, p2)", (int)(where - clear), clear);
	if ((st[P_CLEAR_ALL].sql = store_pg_subst(head, where, "", store_pg_k,
	    2)) == NULL)
		return -1;
	/*
	 * S_EVENT's parameters: notification_id ($7) as the notification's
	 * body hash, its id looked up by key (client_id is $8), as the
	 * upserts do (store_pg_nid_by_key()).
	 */
	snprintf(head, sizeof(head), "%.*s SELECT ",
	    (int)(values - st[SQL(S_EVENT)].sql), st[SQL(S_EVENT)].sql);
	if ((st[P_EVENT_ALL].sql = store_pg_subst(head, values + 9,
	    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
	    " $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY"
	    " AS k(p1, p2, p3, p4, p5, p6, p7, p8, i) ORDER BY k.i",
	    event_k, 8)) == NULL)
		return -1;
	/* The VALUES list's closing parenthesis, before the FROM. */
	if ((where = strstr(st[P_EVENT_ALL].sql, ") FROM unnest(")) == NULL)
		return -1;
	memmove((char *)where, where + 1, strlen(where));
	/*
	 * S_NOTIF_INSERT for every new notification, in the order given
	 * (ids as one statement a job would hand them out), each row's key
	 * returned with its id: the body ($3) a bytea, key_version ($7) the
	 * one integer.
	 */
	ins = st[SQL(S_NOTIF_INSERT)].sql;
	if ((values = strstr(ins, " VALUES (")) == NULL ||
	    (where = strstr(values, ") RETURNING id")) == NULL)
		return -1;
	snprintf(head, sizeof(head), "%.*s SELECT ", (int)(values - ins), ins);
	if ((inner = strndup(values + 9, (size_t)(where - values - 9))) ==
	    NULL)
		return -1;
	st[P_NOTIF_ALL].sql = store_pg_subst(head, inner, " FROM"
	    " unnest($1::text[], $2::text[], $3::bytea[], $4::text[],"
	    " $5::text[], $6::text[], $7::int8[], $8::text[], $9::text[],"
	    " $10::text[], $11::text[], $12::text[], $13::text[],"
	    " $14::text[]) WITH ORDINALITY AS k(p1, p2, p3, p4, p5, p6, p7,"
	    " p8, p9, p10, p11, p12, p13, p14, i) ORDER BY k.i"
	    " RETURNING client_id, body_sha256, id", store_pg_k, 14);
	free(inner);
	return st[P_NOTIF_ALL].sql != NULL ? 0 : -1;
}

/*
 * Kind's upsert over arrays: each element a row, every key once (an
 * object a batch changes twice takes one statement a change, in order:
 * ON CONFLICT cannot change a row twice in one statement), the
 * notification id looked up by key as in the one-row form.  0 or -1.
 */
static int
store_pg_upsert_all(const struct store_pg_stmt *one, struct store_pg_stmt *all)
{
	static char names[STORE_PG_PARAMS][8];
	static const char *np[STORE_PG_PARAMS];
	const char *values, *conflict;
	char head[1024], *inner, *tail, *t;
	size_t cap;
	int j;

	for (j = 0; j < STORE_PG_PARAMS; j++) {
		snprintf(names[j], sizeof(names[j]), "k.p%d", j + 1);
		np[j] = names[j];
	}
	if ((values = strstr(one->sql, " VALUES (")) == NULL ||
	    (conflict = strstr(values, ") ON CONFLICT ")) == NULL ||
	    (size_t)(values - one->sql) + 8 > sizeof(head))
		return -1;
	snprintf(head, sizeof(head), "%.*s SELECT ", (int)(values - one->sql),
	    one->sql);
	cap = strlen(conflict) + (size_t)one->ntypes * 24 + 64;
	if ((tail = t = malloc(cap)) == NULL)
		return -1;
	t += sprintf(t, " FROM unnest(");
	for (j = 0; j < one->ntypes; j++)
		t += sprintf(t, "%s$%d::%s[]", j > 0 ? ", " : "", j + 1,
		    one->types[j] == STORE_PG_INT8 ? "int8" : "text");
	t += sprintf(t, ") AS k(");
	for (j = 0; j < one->ntypes; j++)
		t += sprintf(t, "%sp%d", j > 0 ? ", " : "", j + 1);
	sprintf(t, ")%s", conflict + 1);
	if ((inner = strndup(values + 9, (size_t)(conflict - values - 9))) ==
	    NULL) {
		free(tail);
		return -1;
	}
	all->sql = store_pg_subst(head, inner, tail, np, one->ntypes);
	all->ntypes = 0;	/* the casts say */
	all->nidcol = one->nidcol;
	free(inner);
	free(tail);
	return all->sql != NULL ? 0 : -1;
}

/*
 * Which of st's parameters are arrays to send in binary, and of what:
 * those the SQL casts to one of these array types, and only so
 * wherever they appear, and that PREPARE leaves to the casts (beyond
 * st->ntypes).  The binary form spares the server parsing each array's
 * text (a tenth of a batch's CPU in the backend, bench/RESULTS.md) and
 * the bodies their hex.  Anything else stays text.
 */
static void
store_pg_elems(struct store_pg_stmt *st)
{
	static const struct {
		const char	*cast;
		Oid		 elem;
	} casts[] = {
		{ "::text[]", STORE_PG_TEXT },
		{ "::int8[]", STORE_PG_INT8 },
		{ "::int4[]", STORE_PG_INT4 },
		{ "::bytea[]", STORE_PG_BYTEA },
	};
	unsigned char seen[STORE_PG_PARAMS];
	const char *s;
	char *end;
	long i;
	size_t k;
	Oid e;

	memset(seen, 0, sizeof(seen));
	memset(st->elem, 0, sizeof(st->elem));
	for (s = strchr(st->sql, '$'); s != NULL; s = strchr(s + 1, '$')) {
		i = strtol(s + 1, &end, 10) - 1;
		if (end == s + 1 || i < 0 || i >= STORE_PG_PARAMS)
			continue;
		for (e = 0, k = 0; k < sizeof(casts) / sizeof(casts[0]); k++)
			if (strncmp(end, casts[k].cast,
			    strlen(casts[k].cast)) == 0)
				e = casts[k].elem;
		if (i < st->ntypes)
			e = 0;
		if (seen[i] && st->elem[i] != e)
			e = 0;
		st->elem[i] = e;
		seen[i] = 1;
	}
}

/* Owned by the process from here on: never freed. */
static void
store_pg_sql_init(void)
{
	struct store_pg_stmt *st = store_pg_stmts;
	const char *sql[NSQL];
	char events[64], *text;
	int get, upsert, fill;
	size_t i, ncols;

	if (store_state_sql_build('$', sql, &text) != 0)
		return;
	for (i = 0; i < NSQL; i++) {
		/* PostgreSQL touches and finds by key: store_pg_touch, _find. */
		if (sql[i] == NULL || i == SQL(S_NOTIF_TOUCH))
			continue;
		if (i == SQL(S_NOTIF_FIND)) {
			if ((st[i].sql = strdup(store_pg_find)) == NULL)
				goto out;
			continue;
		}
		if ((st[i].sql = store_pg_dollar(sql[i], i ==
		    SQL(S_NOTIF_INSERT) ? " RETURNING id" : "")) == NULL)
			goto out;
	}
	for (i = 0; i < NOTIF_KIND_COUNT; i++) {
		if (store_state_kind(i, &get, &upsert, &fill, &ncols) != 0)
			continue;
		if (ncols > STORE_PG_PARAMS)
			goto out;
		store_pg_types(i, ncols, &st[SQL(upsert)]);
		if (store_pg_nid_by_key(&st[SQL(upsert)]) != 0 ||
		    store_pg_upsert_all(&st[SQL(upsert)],
		    &st[P_UPSERT_ALL + i]) != 0)
			goto out;
		if (fill != 0)
			store_pg_types(i, ncols, &st[SQL(fill)]);
	}
	snprintf(events, sizeof(events), "SELECT pg_advisory_xact_lock(%lld)",
	    STORE_PG_LOCK_EVENTS);
	if ((st[P_TOUCH].sql = strdup(store_pg_touch)) == NULL ||
	    (st[P_CLEAR].sql = store_pg_dollar(refusal_sql[S_RFS_CLEAR -
	    S_RFS_FIRST], "")) == NULL ||
	    (st[P_BEGIN].sql = strdup("BEGIN ISOLATION LEVEL READ COMMITTED"))
	    == NULL || (st[P_LOCKS].sql = strdup(store_pg_locks)) == NULL ||
	    (st[P_LOCK_EVENTS].sql = strdup(events)) == NULL ||
	    (st[P_LOCK_TIMEOUT].sql = strdup("SELECT set_config('lock_timeout',"
	    " $1, true)")) == NULL)
		goto out;
	/*
	 * BEGIN has nothing to plan; as text, a session without the
	 * prepared statements fails inside the transaction, rolled back.
	 */
	st[P_BEGIN].text = 1;
	if (store_pg_multi_init(st, st[P_CLEAR].sql) != 0)
		goto out;
	for (i = 0; i < P_COUNT; i++)
		if (st[i].sql != NULL)
			store_pg_elems(&st[i]);
	/* The bodies go as bytes, never as text: nothing else would do. */
	if (st[P_NOTIF_ALL].elem[STORE_PG_BODY_PARAM] != STORE_PG_BYTEA)
		goto out;
	store_pg_sql_ok = 1;
out:
	free(text);
}

int
store_pg_session_known(const PGconn *c)
{
	int pid = PQbackendPID(c), known = 0;
	size_t i;

	pthread_mutex_lock(&store_pg_sessions_lock);
	for (i = 0; i < STORE_PG_SESSIONS; i++)
		if (store_pg_sessions[i].c == c)
			known = store_pg_sessions[i].pid == pid;
	pthread_mutex_unlock(&store_pg_sessions_lock);
	return known;
}

void
store_pg_session_set(const PGconn *c, int pid)
{
	size_t i;

	pthread_mutex_lock(&store_pg_sessions_lock);
	for (i = 0; i < STORE_PG_SESSIONS; i++)
		if (store_pg_sessions[i].c == c)
			break;
	if (i == STORE_PG_SESSIONS && pid != 0)
		i = store_pg_session_next++ % STORE_PG_SESSIONS;
	if (i < STORE_PG_SESSIONS) {
		store_pg_sessions[i].c = pid != 0 ? c : NULL;
		store_pg_sessions[i].pid = pid;
	}
	pthread_mutex_unlock(&store_pg_sessions_lock);
}

int
store_pg_sql_ready(void)
{
	pthread_once(&store_pg_sql_once, store_pg_sql_init);
	return store_pg_sql_ok ? 0 : -1;
}
