/*
 * store_pg_pipe.c - a batch's pipeline on a PostgreSQL connection
 * (store_pg_pipe.h): prepared statements queued with their text
 * parameters (arrays built as PostgreSQL's text form), sent together,
 * their results collected in order up to the sync; and every statement
 * prepared once per server session.  store_pg.c says what a batch sends.
 *
 * The connection is the caller's; one thread at a time uses it.
 */
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

/*
 * Queue prepared statement which with nparams text parameters (NULL: SQL
 * NULL).  Parameter binary (0-based), if not -1, is binlen bytes of
 * binary.  0 or -1.
 */
int
store_pg_send(struct store_pg_pipe *pp, int which, int nparams,
    const char *const *values, int binary, int binlen)
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
		lengths[i] = i == binary ? binlen : 0;
		formats[i] = i == binary;
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

/*
 * narrays array literals of n elements each, element i of array a
 * vals[a * n + i] (NULL: NULL), into pp->arr; out[a] the literal of array
 * a, valid until the next call.  0 or -1 (out of memory).
 */
int
store_pg_arrays(struct store_pg_pipe *pp, const char *const *vals,
    int narrays, size_t n, const char **out)
{
	size_t need = 1, i, off[STORE_PG_PARAMS], len = 0;
	const char *v;
	char *nb;
	int a;

	for (i = 0; i < (size_t)narrays * n; i++)
		need += vals[i] != NULL ? 2 * strlen(vals[i]) + 3 : 5;
	need += (size_t)narrays * 3;
	if (need > pp->arrcap) {
		if ((nb = realloc(pp->arr, need)) == NULL) {
			util_err(pp->fail->err, pp->fail->errlen, "out of memory");
			snprintf(pp->fail->sqlstate, sizeof(pp->fail->sqlstate),
			    "?????");
			return -1;
		}
		pp->arr = nb;
		pp->arrcap = need;
	}
	for (a = 0; a < narrays; a++) {
		off[a] = len;
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
