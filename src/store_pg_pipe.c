/*
 * store_pg_pipe.c - a batch's pipeline on a PostgreSQL connection
 * (store_pg_pipe.h): prepared statements queued with their parameters
 * (arrays in PostgreSQL's binary form, array_recv's: no text for the
 * server to parse, the bodies as bytes rather than hex), sent together,
 * their results collected in order up to the sync; and every statement
 * prepared once per server session.  store_pg.c says what a batch sends.
 *
 * The connection is the caller's; one thread at a time uses it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_pg.h"
#include "store_pg_pipe.h"
#include "store_pg_sql.h"
#include "util.h"

void
store_pg_failed(struct store_pg_fail *f, PGconn *c, const PGresult *r,
    const char *what)
{
	const char *msg = r != NULL ? PQresultErrorMessage(r) :
	    PQerrorMessage(c);
	const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) :
	    NULL;
	size_t n = strlen(msg);

	if (f->sqlstate[0] != '\0')
		return;		/* the first error is the cause */
	snprintf(f->sqlstate, sizeof(f->sqlstate), "%s", st != NULL ? st :
	    "?????");
	while (n > 0 && msg[n - 1] == '\n')
		n--;
	util_err(f->err, f->errlen, "PostgreSQL: %s: %.*s", what, (int)n, msg);
}

int
store_pg_send(struct store_pg_pipe *pp, int which, int nparams,
    const char *const *values, const int *binlen)
{
	int lengths[STORE_PG_PARAMS], formats[STORE_PG_PARAMS], i;
	char name[24];

	if (pp->n == pp->cap || nparams > STORE_PG_PARAMS ||
	    store_pg_stmts[which].sql == NULL) {
		util_err(pp->fail->err, pp->fail->errlen, "PostgreSQL: a "
		    "pipeline too long");
		snprintf(pp->fail->sqlstate, sizeof(pp->fail->sqlstate),
		    "?????");
		return -1;
	}
	for (i = 0; i < nparams; i++) {
		formats[i] = binlen != NULL && binlen[i] >= 0;
		lengths[i] = formats[i] ? binlen[i] : 0;
	}
	snprintf(name, sizeof(name), "antomd_%d", which);
	if ((store_pg_stmts[which].text ? PQsendQueryParams(pp->c,
	    store_pg_stmts[which].sql, nparams, NULL, values, lengths,
	    formats, 0) : PQsendQueryPrepared(pp->c, name, nparams, values,
	    lengths, formats, 0)) != 1) {
		store_pg_failed(pp->fail, pp->c, NULL, "cannot send");
		return -1;
	}
	pp->res[pp->n++] = NULL;
	return 0;
}

static char *
store_pg_put32(char *b, uint32_t v)
{
	b[0] = (char)(v >> 24);
	b[1] = (char)(v >> 16);
	b[2] = (char)(v >> 8);
	b[3] = (char)v;
	return b + 4;
}

/* An integer's decimal text, whole and in range, as the server's int8in. */
static int
store_pg_integer(const char *v, long long lo, long long hi, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(v, &end, 10);
	return end != v && *end == '\0' && errno == 0 && *out >= lo &&
	    *out <= hi ? 0 : -1;
}

/* Bytes element v of an array of elem takes in binary, its length word too. */
static size_t
store_pg_elem_size(Oid elem, const char *v, size_t len)
{
	if (v == NULL)
		return 4;
	switch (elem) {
	case STORE_PG_INT8:
		return 4 + 8;
	case STORE_PG_INT4:
		return 4 + 4;
	case STORE_PG_BYTEA:
		return 4 + len;
	default:
		return 4 + strlen(v);
	}
}

/*
 * An array in binary at b: ndim 1 (0 when empty), whether it holds a
 * NULL, the element type, its length and lower bound 1, then each
 * element's length (-1: NULL) and bytes.  The end, or NULL with pp->fail
 * (an integer that is not one).
 */
static char *
store_pg_array_bin(struct store_pg_pipe *pp, char *b, Oid elem,
    const char *const *v, const size_t *len, size_t n)
{
	long long x;
	size_t i, l;
	int nulls = 0;

	for (i = 0; i < n; i++)
		nulls |= v[i] == NULL;
	b = store_pg_put32(b, n > 0);
	b = store_pg_put32(b, (uint32_t)nulls);
	b = store_pg_put32(b, elem);
	if (n > 0) {
		b = store_pg_put32(b, (uint32_t)n);
		b = store_pg_put32(b, 1);
	}
	for (i = 0; i < n; i++) {
		if (v[i] == NULL) {
			b = store_pg_put32(b, UINT32_MAX);
			continue;
		}
		switch (elem) {
		case STORE_PG_INT8:
		case STORE_PG_INT4:
			if (store_pg_integer(v[i], elem == STORE_PG_INT8 ?
			    INT64_MIN : INT32_MIN, elem == STORE_PG_INT8 ?
			    INT64_MAX : INT32_MAX, &x) != 0) {
				util_err(pp->fail->err, pp->fail->errlen,
				    "PostgreSQL: not an integer: \"%.32s\"",
				    v[i]);
				snprintf(pp->fail->sqlstate,
				    sizeof(pp->fail->sqlstate), "22P02");
				return NULL;
			}
			if (elem == STORE_PG_INT8) {
				b = store_pg_put32(b, 8);
				b = store_pg_put32(b, (uint32_t)((uint64_t)x >>
				    32));
			} else
				b = store_pg_put32(b, 4);
			b = store_pg_put32(b, (uint32_t)(uint64_t)x);
			continue;
		default:
			l = elem == STORE_PG_BYTEA ? len[i] : strlen(v[i]);
			b = store_pg_put32(b, (uint32_t)l);
			memcpy(b, v[i], l);
			b += l;
		}
	}
	return b;
}

int
store_pg_arrays(struct store_pg_pipe *pp, int which,
    const char *const *vals, const size_t *lens, int narrays, size_t n,
    const char **out, int *outlen)
{
	const Oid *elem = store_pg_stmts[which].elem;
	size_t need = 1, i, off[STORE_PG_PARAMS], len = 0;
	const char *v, *why = "out of memory";
	char *nb, *end;
	int a;

	if (narrays > STORE_PG_PARAMS) {
		why = "PostgreSQL: too many arrays";
		goto fail;
	}
	for (a = 0; a < narrays; a++) {
		if (elem[a] == STORE_PG_BYTEA && lens == NULL) {
			why = "PostgreSQL: bytes without their lengths";
			goto fail;
		}
		need += elem[a] != 0 ? 20 : 3;
		for (i = (size_t)a * n; i < (size_t)(a + 1) * n; i++)
			need += elem[a] != 0 ? store_pg_elem_size(elem[a],
			    vals[i], lens != NULL ? lens[i] : 0) :
			    vals[i] != NULL ? 2 * strlen(vals[i]) + 3 : 5;
	}
	if (need > pp->arrcap) {
		if ((nb = realloc(pp->arr, need)) == NULL)
			goto fail;
		pp->arr = nb;
		pp->arrcap = need;
	}
	for (a = 0; a < narrays; a++) {
		off[a] = len;
		outlen[a] = -1;
		if (elem[a] != 0) {
			if ((end = store_pg_array_bin(pp, pp->arr + len,
			    elem[a], vals + (size_t)a * n, lens != NULL ?
			    lens + (size_t)a * n : NULL, n)) == NULL)
				return -1;
			outlen[a] = (int)(end - (pp->arr + len));
			len += (size_t)outlen[a];
			continue;
		}
		pp->arr[len++] = '{';
		for (i = 0; i < n; i++) {
			if (i > 0)
				pp->arr[len++] = ',';
			if ((v = vals[(size_t)a * n + i]) == NULL) {
				memcpy(pp->arr + len, "NULL", 4);
				len += 4;
				continue;
			}
			/* Quoted, so that nothing in it is syntax. */
			pp->arr[len++] = '"';
			for (; *v != '\0'; v++) {
				if (*v == '"' || *v == '\\')
					pp->arr[len++] = '\\';
				pp->arr[len++] = *v;
			}
			pp->arr[len++] = '"';
		}
		pp->arr[len++] = '}';
		pp->arr[len++] = '\0';
	}
	for (a = 0; a < narrays; a++)
		out[a] = pp->arr + off[a];
	return 0;
fail:
	util_err(pp->fail->err, pp->fail->errlen, "%s", why);
	snprintf(pp->fail->sqlstate, sizeof(pp->fail->sqlstate), "?????");
	return -1;
}

/*
 * Collect the result of every query queued, in order.  0 when each
 * succeeded, else -1 with pp->fail (the first error); -2 when the
 * connection failed (nothing more to read).
 */
int
store_pg_results(struct store_pg_pipe *pp)
{
	PGresult *r;
	ExecStatusType st;
	size_t i;
	int rc = 0;

	for (i = 0; i < pp->n; i++) {
		if ((r = PQgetResult(pp->c)) == NULL) {
			store_pg_failed(pp->fail, pp->c, NULL, "no result");
			return -2;
		}
		pp->res[i] = r;
		st = PQresultStatus(r);
		if (st == PGRES_FATAL_ERROR) {
			store_pg_failed(pp->fail, pp->c, r, "batch");
			rc = -1;
		} else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
			rc = -1;	/* PGRES_PIPELINE_ABORTED */
		/* Each query's results end with a NULL. */
		while ((r = PQgetResult(pp->c)) != NULL)
			PQclear(r);
	}
	if (rc != 0 && pp->fail->sqlstate[0] == '\0')
		store_pg_failed(pp->fail, pp->c, NULL, "batch");
	return rc;
}

/* The pipeline's sync, read: 0, or -1 (the connection failed). */
int
store_pg_read_sync(struct store_pg_pipe *pp)
{
	PGresult *r;

	if ((r = PQgetResult(pp->c)) == NULL ||
	    PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
		PQclear(r);
		store_pg_failed(pp->fail, pp->c, NULL, "no sync");
		return -1;
	}
	PQclear(r);
	return 0;
}

/*
 * Send what is queued and collect every result, up to the sync, so the
 * connection is ready for the next pipeline whatever happened.  0 when
 * every query succeeded, else -1 with pp->fail (the first error).
 */
int
store_pg_collect(struct store_pg_pipe *pp)
{
	int rc;

	pp->syncs++;
	if (PQpipelineSync(pp->c) != 1) {
		store_pg_failed(pp->fail, pp->c, NULL, "cannot send");
		return -1;
	}
	if ((rc = store_pg_results(pp)) == -2 || store_pg_read_sync(pp) != 0)
		return -1;
	return rc;
}

void
store_pg_clear_results(struct store_pg_pipe *pp)
{
	size_t i;

	for (i = 0; i < pp->n; i++)
		PQclear(pp->res[i]);
	pp->n = 0;
}

/*
 * A failure while a phase was being queued (an array that could not be
 * built, say) leaves statements sent without their sync: the server runs
 * them inside the open transaction and holds their results.  Read past
 * them first, or leaving pipeline mode fails, the ROLLBACK is never
 * sent, and the next batch takes their results for its own.  The COMMIT
 * is queued last, so nothing drained here was ever committed.
 */
void
store_pg_abandon(struct store_pg_pipe *pp)
{
	if (pp->n > 0 && pp->res[pp->n - 1] == NULL &&
	    PQstatus(pp->c) == CONNECTION_OK)
		(void)store_pg_collect(pp);
	store_pg_clear_results(pp);
	if (PQexitPipelineMode(pp->c) == 1)
		PQclear(PQexec(pp->c, "ROLLBACK"));
}

/*
 * Prepare every statement on c's session, in a round trip of its own
 * (in no transaction: a prepared statement outlives one).  Whatever a
 * session of this connection held before goes first, so this can run
 * again whatever the sessions table believed.  0 or -1.
 */
int
store_pg_prepare(struct store_pg_pipe *pp)
{
	const struct store_pg_stmt *st;
	char name[24];
	int i, rc;

	if (PQsendQueryParams(pp->c, "DEALLOCATE ALL", 0, NULL, NULL, NULL,
	    NULL, 0) != 1) {
		store_pg_failed(pp->fail, pp->c, NULL, "cannot send");
		return -1;
	}
	pp->res[pp->n++] = NULL;
	for (i = 0; i < P_COUNT; i++) {
		st = &store_pg_stmts[i];
		if (st->sql == NULL || st->text)
			continue;
		snprintf(name, sizeof(name), "antomd_%d", i);
		if (pp->n == pp->cap || PQsendPrepare(pp->c, name, st->sql,
		    st->ntypes, st->ntypes > 0 ? st->types : NULL) != 1) {
			store_pg_failed(pp->fail, pp->c, NULL, "cannot prepare");
			return -1;
		}
		pp->res[pp->n++] = NULL;
	}
	rc = store_pg_collect(pp);
	store_pg_clear_results(pp);
	if (rc == 0)
		store_pg_session_set(pp->c, PQbackendPID(pp->c));
	return rc;
}
