/*
 * store_pg_sql.h - the statements store_pg.c runs (store_pg_sql.c): built
 * once per process from store_state.c's, with '$' placeholders, and
 * prepared once per server session under the name "antomd_N", N their
 * index here.
 */
#ifndef ANTOMD_STORE_PG_SQL_H
#define ANTOMD_STORE_PG_SQL_H

#include <libpq-fe.h>

#include "notif.h"
#include "store_int.h"

#define NSQL	(S_RFS_FIRST - S_STATE_FIRST)
#define SQL(which)	((which) - S_STATE_FIRST)

/*
 * The prepared statements: store_state.c's, by their index from
 * S_STATE_FIRST, then these.
 */
enum {
	P_TOUCH = NSQL,		/* store_pg_touch */
	P_CLEAR,		/* refusal.c's S_RFS_CLEAR */
	P_BEGIN,
	P_LOCKS,		/* the batch's, sorted: store_pg_locks */
	P_LOCK_EVENTS,		/* STORE_PG_LOCK_EVENTS */
	P_FIND_ALL,		/* S_NOTIF_FIND for every job */
	P_GET_ALL,		/* each kind's GET for its jobs, by kind */
	P_CLEAR_ALL = P_GET_ALL + NOTIF_KIND_COUNT,	/* P_CLEAR */
	P_EVENT_ALL,		/* S_EVENT, rows in the order given */
	P_NOTIF_ALL,		/* S_NOTIF_INSERT, rows in the order given */
	P_LOCK_TIMEOUT,		/* the transaction's lock_timeout */
	P_UPSERT_ALL,		/* each kind's upsert over arrays, by kind */
	P_COUNT_ = P_UPSERT_ALL + NOTIF_KIND_COUNT,
	P_COUNT = P_COUNT_
};

#define STORE_PG_PARAMS	64
#define STORE_PG_KEYTEXT	12	/* ",-2147483648" */
#define STORE_PG_BODY_PARAM	2	/* P_NOTIF_ALL's bodies: $3, bytea[] */

/* A statement to prepare: its text and, if not left to the server, types. */
struct store_pg_stmt {
	char	*sql;		/* NULL: none (never prepared) */
	int	 text;		/* sent as text each time, never prepared */
	int	 ntypes;
	int	 nidcol;	/* an upsert's or fill's notification id: -1 none */
	int	 clientcol;	/* and its client id */
	Oid	 types[STORE_PG_PARAMS];
	/*
	 * Parameter i's element type when it is an array sent in binary
	 * (its cast in the SQL says which: "$N::text[]", int8, int4,
	 * bytea), else 0: sent as text (store_pg_elems).
	 */
	Oid	 elem[STORE_PG_PARAMS];
};

extern struct store_pg_stmt store_pg_stmts[P_COUNT];

/* Build the statements, once (thread-safe).  0, or -1 out of memory. */
int	store_pg_sql_ready(void);
/* Whether c's server session holds them prepared. */
int	store_pg_session_known(const PGconn *);
/* Note c's session as holding them (its backend's pid), or as not (0). */
void	store_pg_session_set(const PGconn *, int pid);

#endif
