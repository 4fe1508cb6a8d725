/*
 * store_pg_pipe.h - a batch's pipeline on a PostgreSQL connection: the
 * statements of store_pg_sql.h queued, sent together and their results
 * read in order (store_pg_pipe.c).  Private to the PostgreSQL engine.
 */
#ifndef STORE_PG_PIPE_H
#define STORE_PG_PIPE_H

#include <stddef.h>

#include <libpq-fe.h>

/* What failed in a batch, for the retry decision and the caller. */
struct store_pg_fail {
	char	sqlstate[6];
	char	*err;
	size_t	 errlen;
};

/*
 * One pipeline: queries queued with store_pg_send(), then sent together
 * and their results collected in order by store_pg_collect().
 */
struct store_pg_pipe {
	PGconn			*c;
	PGresult		**res;		/* cap slots */
	size_t			 n, cap;
	unsigned		 syncs;
	struct store_pg_fail	*fail;
	char			*arr;		/* store_pg_arrays()' */
	size_t			 arrcap;
};

/* The first error of a batch into f (r's, or c's without one). */
void	store_pg_failed(struct store_pg_fail *f, PGconn *c,
	    const PGresult *r, const char *what);
/*
 * Queue statement which (store_pg_sql.h) with nparams parameters (NULL:
 * SQL NULL), each text, or binary of binlen[i] bytes where binlen is
 * not NULL and binlen[i] >= 0.  0 or -1.
 */
int	store_pg_send(struct store_pg_pipe *, int which, int nparams,
	    const char *const *values, const int *binlen);
/*
 * Statement which's parameters 0..narrays-1 as arrays of n elements
 * each, vals[a * n + i] element i of array a (NULL: NULL), into out[a]
 * and outlen[a] for store_pg_send() (valid until the next call): in
 * binary where the statement's elem[a] says so (an int8 or int4
 * element given in decimal; a bytea element lens[a * n + i] bytes, lens
 * required then), else in PostgreSQL's text form (outlen[a] -1).  0 or
 * -1 (out of memory; an integer that is not one, 22P02).
 */
int	store_pg_arrays(struct store_pg_pipe *, int which,
	    const char *const *vals, const size_t *lens, int narrays,
	    size_t n, const char **out, int *outlen);
/* Each queued query's result, in order: 0, -1 (a query failed), -2 (lost). */
int	store_pg_results(struct store_pg_pipe *);
/* The pipeline's sync: 0, or -1 (the connection failed). */
int	store_pg_read_sync(struct store_pg_pipe *);
/* Sync, then every result up to it: 0, or -1 with pp->fail. */
int	store_pg_collect(struct store_pg_pipe *);
void	store_pg_clear_results(struct store_pg_pipe *);
/*
 * After a failed batch: what is queued and not synced synced and read,
 * out of pipeline mode, the transaction rolled back, so that the
 * connection is idle for the next batch.
 */
void	store_pg_abandon(struct store_pg_pipe *);
/* Every statement prepared on the connection's session: 0 or -1. */
int	store_pg_prepare(struct store_pg_pipe *);

#endif
