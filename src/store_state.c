/*
 * store_state.c - notifications recorded in SQLite: the statements and
 * binders of each kind, the three phases of a batch (read what is held,
 * judge in C, write).  Replay is store_replay.c.
 *
 * Idempotency: a notification is identified by (client id, SHA-256 of the
 * raw body).  A repeat only bumps delivery_count and last_received_at.  A
 * new notification is judged against the state held (store_judge.c) and
 * recorded with its outcome; only an APPLIED outcome writes its object's
 * row and one events row (and a dispute stage arriving late fills in
 * what only it carries).
 *
 * Runs on the writer's connection, inside the caller's transaction.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"
#include "util.h"

#define SQL(which)	[(which) - S_STATE_FIRST]

/*
 * The hand-written statements.  The upserts and the fill are left NULL
 * here: store_state_sql_build() generates them from the column tables
 * below.
 */
static const char *const store_state_sql[S_RFS_FIRST - S_STATE_FIRST] = {
	/*
	 * By its object too: the one key of notifications (schema 9,
	 * store_schema.c).  IS, since a notification about no object has
	 * object_id NULL.
	 */
	SQL(S_NOTIF_FIND) =
	    "SELECT id, delivery_count FROM notifications"
	    " WHERE object_id IS ?3 AND client_id = ?1 AND body_sha256 = ?2",
	SQL(S_NOTIF_TOUCH) =
	    "UPDATE notifications SET last_received_at = ?2,"
	    " delivery_count = delivery_count + 1 WHERE id = ?1",
	SQL(S_NOTIF_INSERT) =
	    "INSERT INTO notifications (client_id, body_sha256, body,"
	    " request_time, signature, signed_path, key_version, notify_type,"
	    " kind, object_id, outcome, archive_reason, first_received_at,"
	    " last_received_at, discrepancy) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
	    " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14)",
	/*
	 * Each kind's GET reads what the judge compares (store_current):
	 * status or stage, amount_value, currency, its ids in store_ids()
	 * order (NULL past the last), judged_result, judged_amount_value
	 * and judged_currency (NULL but for disputes).
	 */
	SQL(S_PAY_GET) =
	    "SELECT status, amount_value, currency, payment_id, NULL, NULL,"
	    " NULL, NULL, NULL FROM payments"
	    " WHERE client_id = ?1 AND payment_request_id = ?2",
	SQL(S_CAP_GET) =
	    "SELECT status, amount_value, currency, capture_id, payment_id,"
	    " NULL, NULL, NULL, NULL FROM captures"
	    " WHERE client_id = ?1 AND capture_request_id = ?2",
	SQL(S_REF_GET) =
	    "SELECT status, amount_value, currency, refund_id, payment_id,"
	    " payment_request_id, NULL, NULL, NULL FROM refunds"
	    " WHERE client_id = ?1 AND refund_request_id = ?2",
	SQL(S_DIS_GET) =
	    "SELECT stage, amount_value, currency, payment_id,"
	    " payment_request_id, capture_id, judged_result,"
	    " judged_amount_value, judged_currency FROM disputes"
	    " WHERE client_id = ?1 AND dispute_id = ?2",
	SQL(S_VLT_GET) =
	    "SELECT status, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
	    " FROM vaultings"
	    " WHERE client_id = ?1 AND vaulting_request_id = ?2",
	SQL(S_EVENT) =
	    "INSERT INTO events (created_at, client_id, object_type, object_id,"
	    " payment_id, old_status, new_status, notification_id)"
	    " VALUES (?1, ?8, ?2, ?3, ?4, ?5, ?6, ?7)",
};

/*
 * A kind's table, one row per column: its name, where its value comes
 * from, and what an upsert does with it.  The upsert and the fill are
 * generated from it and bound from it, column i as parameter i + 1, so a
 * new column is one row here (and its column in store_schema.c).
 *
 * Where a value comes from: a string field of struct notif, the client
 * id, the status, an amount's value or currency (a struct notif_amount
 * field, NULL when absent), the notification id, or the time now.
 */
enum store_src { SRC_FIELD, SRC_CLIENT, SRC_STATUS, SRC_VALUE, SRC_CURRENCY,
    SRC_NID, SRC_NOW };

/*
 * What an upsert of a row that exists does with a column:
 *   KEY	the conflict target (client id and request id), never updated;
 *   SET	the newer notification's value, even NULL (the status, its
 *		result, the stage, notification_id, updated_at);
 *   NEWER	what a newer notification says wins, what it omits is kept;
 *   FIRST	an id once set stays (store_judge makes another a CONFLICT);
 *   INSERT	written on insert only (created_at).
 * A fill (an earlier stage arriving late) writes only what is still
 * unknown, and only in the FIRST and NEWER columns.
 */
enum store_rule { KEY, SET, NEWER, FIRST, INSERT };

struct store_col {
	const char	*name;
	enum store_src	 src;
	size_t		 field;		/* SRC_FIELD, SRC_VALUE, SRC_CURRENCY */
	enum store_rule	 rule;
};

/* Offsets of struct notif fields, of the type the binder reads them as. */
#define FIELD(f)	SRC_FIELD, _Generic(((struct notif *)0)->f,	\
			    const char *: offsetof(struct notif, f))
#define VALUE(f)	SRC_VALUE, _Generic(((struct notif *)0)->f,	\
			    struct notif_amount: offsetof(struct notif, f))
#define CURRENCY(f)	SRC_CURRENCY, _Generic(((struct notif *)0)->f,	\
			    struct notif_amount: offsetof(struct notif, f))
#define ARG(src)	src, 0

/*
 * Rows most kinds share: the result a newer notification always
 * replaces, an amount (its value and currency columns) and when and by
 * which notification the row was written.
 */
#define COLS_RESULT							\
	{ "status",			ARG(SRC_STATUS),	SET },	\
	{ "result_code",		FIELD(result_code),	SET },	\
	{ "result_message",		FIELD(result_message),	SET }
#define COLS_AMOUNT(value, currency, f)					\
	{ value,			VALUE(f),		NEWER },\
	{ currency,			CURRENCY(f),		NEWER }
#define COLS_WRITTEN							\
	{ "notification_id",		ARG(SRC_NID),		SET },	\
	{ "created_at",			ARG(SRC_NOW),		INSERT },\
	{ "updated_at",			ARG(SRC_NOW),		SET }
/* acquirerInfo, of a payment or a capture (schema 8). */
#define COLS_ACQUIRER							\
	{ "acquirer_name",		FIELD(acquirer.name),	NEWER },\
	{ "acquirer_transaction_id",	FIELD(acquirer.transaction_id),	\
					NEWER },			\
	{ "acquirer_result_code",	FIELD(acquirer.result_code), NEWER },\
	{ "acquirer_result_message",	FIELD(acquirer.result_message),	\
					NEWER }

static const struct store_col store_payment_cols[] = {
	{ "client_id",			ARG(SRC_CLIENT),	KEY },
	{ "payment_request_id",		FIELD(payment_request_id), KEY },
	{ "payment_id",			FIELD(payment_id),	FIRST },
	COLS_RESULT,
	COLS_AMOUNT("amount_value", "currency", amount),
	{ "payment_create_time",	FIELD(payment_create_time), NEWER },
	{ "payment_time",		FIELD(payment_time),	NEWER },
	{ "avs_result_raw",		FIELD(avs_result_raw),	NEWER },
	{ "cvv_result_raw",		FIELD(cvv_result_raw),	NEWER },
	{ "network_transaction_id",	FIELD(network_transaction_id), NEWER },
	{ "three_ds_eci",		FIELD(three_ds_eci),	NEWER },
	{ "three_ds_version",		FIELD(three_ds_version), NEWER },
	{ "three_ds_cavv",		FIELD(three_ds_cavv),	NEWER },
	{ "three_ds_ds_transaction_id",	FIELD(three_ds_ds_transaction_id),
					NEWER },
	{ "card_brand",			FIELD(card_brand),	NEWER },
	{ "last_four",			FIELD(last_four),	NEWER },
	{ "issuing_country",		FIELD(issuing_country),	NEWER },
	{ "refusal_code_raw",		FIELD(refusal_code_raw), NEWER },
	{ "refusal_reason_raw",		FIELD(refusal_reason_raw), NEWER },
	/* Schema 8: what a merchant acts on (docs/protocol.md section 6). */
	{ "payment_method_type",	FIELD(payment_method_type), NEWER },
	COLS_AMOUNT("actual_payment_amount_value", "actual_payment_currency",
	    actual_payment_amount),
	{ "auth_expiry_time",		FIELD(auth_expiry_time), NEWER },
	{ "acquirer_reference_no",	FIELD(acquirer_reference_no), NEWER },
	COLS_ACQUIRER,
	{ "card_bin",			FIELD(card_bin),	NEWER },
	{ "funding",			FIELD(funding),		NEWER },
	{ "issuer_name",		FIELD(issuer_name),	NEWER },
	{ "card_no_masked",		FIELD(card_no_masked),	NEWER },
	{ "card_token",			FIELD(card_token),	NEWER },
	{ "merchant_advice_code",	FIELD(merchant_advice_code), NEWER },
	{ "authorization_code",		FIELD(authorization_code), NEWER },
	{ "rrn",			FIELD(rrn),		NEWER },
	{ "credential_type_used",	FIELD(credential_type_used), NEWER },
	COLS_WRITTEN,
};

static const struct store_col store_capture_cols[] = {
	{ "client_id",			ARG(SRC_CLIENT),	KEY },
	{ "capture_request_id",		FIELD(capture_request_id), KEY },
	{ "capture_id",			FIELD(capture_id),	FIRST },
	{ "payment_id",			FIELD(payment_id),	FIRST },
	COLS_RESULT,
	COLS_AMOUNT("amount_value", "currency", amount),
	{ "capture_time",		FIELD(capture_time),	NEWER },
	{ "acquirer_reference_no",	FIELD(acquirer_reference_no), NEWER },
	COLS_ACQUIRER,
	COLS_WRITTEN,
};

static const struct store_col store_refund_cols[] = {
	{ "client_id",			ARG(SRC_CLIENT),	KEY },
	{ "refund_request_id",		FIELD(refund_request_id), KEY },
	{ "refund_id",			FIELD(refund_id),	FIRST },
	{ "payment_id",			FIELD(payment_id),	FIRST },
	{ "payment_request_id",		FIELD(payment_request_id), FIRST },
	COLS_RESULT,
	COLS_AMOUNT("amount_value", "currency", amount),
	{ "refund_time",		FIELD(refund_time),	NEWER },
	{ "arn",			FIELD(arn),		NEWER },
	COLS_AMOUNT("actual_refund_amount_value", "actual_refund_currency",
	    actual_refund_amount),
	COLS_WRITTEN,
};

/* The stage is notify_type (disputeNotificationType). */
static const struct store_col store_dispute_cols[] = {
	{ "client_id",			ARG(SRC_CLIENT),	KEY },
	{ "dispute_id",			FIELD(dispute_id),	KEY },
	{ "payment_id",			FIELD(payment_id),	FIRST },
	{ "payment_request_id",		FIELD(payment_request_id), FIRST },
	{ "capture_id",			FIELD(capture_id),	FIRST },
	{ "stage",			FIELD(notify_type),	SET },
	{ "dispute_type",		FIELD(dispute_type),	NEWER },
	COLS_AMOUNT("amount_value", "currency", amount),
	{ "reason_code",		FIELD(dispute_reason_code), NEWER },
	{ "reason_msg",			FIELD(dispute_reason_msg), NEWER },
	{ "source",			FIELD(dispute_source),	NEWER },
	{ "dispute_time",		FIELD(dispute_time),	NEWER },
	{ "defense_due_time",		FIELD(defense_due_time), NEWER },
	{ "defendable",			FIELD(defendable),	NEWER },
	{ "judged_result",		FIELD(dispute_judged_result), NEWER },
	{ "judged_time",		FIELD(dispute_judged_time), NEWER },
	COLS_AMOUNT("judged_amount_value", "judged_currency",
	    dispute_judged_amount),
	{ "arn",			FIELD(arn),		NEWER },
	{ "dispute_accept_reason",	FIELD(dispute_accept_reason), NEWER },
	COLS_WRITTEN,
};

static const struct store_col store_vaulting_cols[] = {
	{ "client_id",			ARG(SRC_CLIENT),	KEY },
	{ "vaulting_request_id",	FIELD(vaulting_request_id), KEY },
	COLS_RESULT,
	{ "card_token",			FIELD(card_token),	NEWER },
	{ "card_brand",			FIELD(card_brand),	NEWER },
	{ "card_no_masked",		FIELD(card_no_masked),	NEWER },
	{ "issuing_country",		FIELD(issuing_country),	NEWER },
	{ "vaulting_create_time",	FIELD(vaulting_create_time), NEWER },
	{ "network_transaction_id",	FIELD(network_transaction_id), NEWER },
	{ "card_bin",			FIELD(card_bin),	NEWER },
	{ "expiry_month",		FIELD(expiry_month),	NEWER },
	{ "expiry_year",		FIELD(expiry_year),	NEWER },
	COLS_WRITTEN,
};

#undef FIELD
#undef VALUE
#undef CURRENCY
#undef ARG
#undef COLS_RESULT
#undef COLS_AMOUNT
#undef COLS_WRITTEN
#undef COLS_ACQUIRER

/*
 * Each kind with state: how its object is read (status or stage, and the
 * id it is bound to, for ?1 client id and ?2 key), its table, written by
 * the upsert, and for a stage arriving late filled in.  A new kind is a
 * row here, its GET above, its column table, its table in store_schema.c
 * and its entry in NOTIF_KINDS.
 */
#define COLS(a)		a, sizeof(a) / sizeof((a)[0])

static const struct store_kind {
	int			 get;
	int			 upsert;
	int			 fill;	/* STORE_CHANGE_FILL's, if it has one */
	const char		*table;
	const struct store_col	*cols;
	size_t			 ncols;
} store_kinds[NOTIF_KIND_COUNT] = {
	[NOTIF_PAYMENT] = { S_PAY_GET, S_PAY_UPSERT, 0, "payments",
			    COLS(store_payment_cols) },
	[NOTIF_CAPTURE] = { S_CAP_GET, S_CAP_UPSERT, 0, "captures",
			    COLS(store_capture_cols) },
	[NOTIF_REFUND] = { S_REF_GET, S_REF_UPSERT, 0, "refunds",
			   COLS(store_refund_cols) },
	[NOTIF_DISPUTE] = { S_DIS_GET, S_DIS_UPSERT, S_DIS_FILL, "disputes",
			    COLS(store_dispute_cols) },
	[NOTIF_VAULTING] = { S_VLT_GET, S_VLT_UPSERT, 0, "vaultings",
			     COLS(store_vaulting_cols) },
};

#undef COLS

/*
 * Text appended to a buffer of cap bytes, or only counted: the
 * generator runs once to size its buffer and once to fill it.
 */
struct store_sqlbuf {
	char	*p;
	size_t	 len, cap;
};

static void store_sql_put(struct store_sqlbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
store_sql_put(struct store_sqlbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->len < b->cap ? b->p + b->len : NULL,
	    b->len < b->cap ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n;
}

/*
 * INSERT of every column, parameter i + 1 for column i; on the key's
 * conflict, each column by its rule.  The row held is named by its table
 * (t.x, not x), which SQLite reads alike and PostgreSQL requires.
 */
static void
store_sql_upsert(struct store_sqlbuf *b, const struct store_kind *k,
    char mark)
{
	const struct store_col *c;
	const char *s;
	size_t i;

	store_sql_put(b, "INSERT INTO %s (", k->table);
	for (i = 0; i < k->ncols; i++)
		store_sql_put(b, "%s%s", i > 0 ? ", " : "", k->cols[i].name);
	store_sql_put(b, ") VALUES (");
	for (i = 0; i < k->ncols; i++)
		store_sql_put(b, "%s%c%zu", i > 0 ? ", " : "", mark, i + 1);
	store_sql_put(b, ") ON CONFLICT (");
	for (i = 0, s = ""; i < k->ncols; i++)
		if (k->cols[i].rule == KEY) {
			store_sql_put(b, "%s%s", s, k->cols[i].name);
			s = ", ";
		}
	store_sql_put(b, ") DO UPDATE SET");
	for (i = 0, s = " "; i < k->ncols; i++) {
		c = &k->cols[i];
		switch (c->rule) {
		case SET:
			store_sql_put(b, "%s%s = excluded.%s", s, c->name,
			    c->name);
			break;
		case NEWER:
			store_sql_put(b, "%s%s = coalesce(excluded.%s, %s.%s)",
			    s, c->name, c->name, k->table, c->name);
			break;
		case FIRST:
			store_sql_put(b, "%s%s = coalesce(%s.%s, excluded.%s)",
			    s, c->name, k->table, c->name, c->name);
			break;
		case KEY:
		case INSERT:
			continue;
		}
		s = ", ";
	}
}

/*
 * A stage arriving late: only what is still unknown is filled in, in the
 * FIRST and NEWER columns (a DISPUTE_CREATED after the judgement still
 * brings the disputed amount and the reason); the stage, notification_id
 * and updated_at stay.  Numbered like the upsert so one binder serves
 * both; binding the numbers it does not use is a harmless SQLITE_RANGE
 * (PostgreSQL cannot infer the type of a $N it does not use: give it).
 */
static void
store_sql_fill(struct store_sqlbuf *b, const struct store_kind *k, char mark)
{
	const struct store_col *c;
	const char *s = " ";
	size_t i;

	store_sql_put(b, "UPDATE %s SET", k->table);
	for (i = 0; i < k->ncols; i++) {
		c = &k->cols[i];
		if (c->rule != FIRST && c->rule != NEWER)
			continue;
		store_sql_put(b, "%s%s = coalesce(%s, %c%zu)", s, c->name,
		    c->name, mark, i + 1);
		s = ", ";
	}
	store_sql_put(b, " WHERE");
	for (i = 0, s = " "; i < k->ncols; i++)
		if (k->cols[i].rule == KEY) {
			store_sql_put(b, "%s%s = %c%zu", s, k->cols[i].name,
			    mark, i + 1);
			s = " AND ";
		}
}

/*
 * Every upsert and fill into b, each ending in its NUL; with at, the
 * offset of each in b by statement.
 */
static void
store_sql_generate(struct store_sqlbuf *b, char mark,
    size_t at[S_RFS_FIRST - S_STATE_FIRST])
{
	const struct store_kind *k;
	size_t i;

	for (i = 0; i < NOTIF_KIND_COUNT; i++) {
		k = &store_kinds[i];
		if (k->table == NULL)
			continue;
		at[k->upsert - S_STATE_FIRST] = b->len;
		store_sql_upsert(b, k, mark);
		store_sql_put(b, "%c", '\0');
		if (k->fill != 0) {
			at[k->fill - S_STATE_FIRST] = b->len;
			store_sql_fill(b, k, mark);
			store_sql_put(b, "%c", '\0');
		}
	}
}

int
store_state_sql_build(char mark, const char *sql[S_RFS_FIRST - S_STATE_FIRST],
    char **text)
{
	size_t at[S_RFS_FIRST - S_STATE_FIRST];
	struct store_sqlbuf b = { NULL, 0, 0 };
	size_t i;

	for (i = 0; i < S_RFS_FIRST - S_STATE_FIRST; i++)
		at[i] = SIZE_MAX;
	store_sql_generate(&b, mark, at);	/* only counted */
	if ((b.p = malloc(b.len + 1)) == NULL)
		return -1;
	b.cap = b.len + 1;
	b.len = 0;
	store_sql_generate(&b, mark, at);
	/* A statement with no SQL at all stays NULL: its prepare fails. */
	for (i = 0; i < S_RFS_FIRST - S_STATE_FIRST; i++)
		sql[i] = store_state_sql[i] != NULL ? store_state_sql[i] :
		    at[i] != SIZE_MAX ? b.p + at[i] : NULL;
	*text = b.p;
	return 0;
}

/* Column c's value for delivery d. */
static void
store_col_value(const struct store_col *c, const struct store_delivery *d,
    int64_t nid, const char *now, struct store_value *v)
{
	const char *n = (const char *)d->notif;
	const struct notif_amount *a = (const void *)(n + c->field);

	v->text = NULL;
	v->integer = 0;
	v->null = 0;
	switch (c->src) {
	case SRC_FIELD:
		v->text = *(const char *const *)(const void *)(n + c->field);
		break;
	case SRC_CLIENT:
		v->text = d->client_id;
		break;
	case SRC_STATUS:
		v->text = notif_status_str(d->notif->status);
		break;
	case SRC_VALUE:
		v->integer = 1;
		v->null = !a->present;
		v->value = a->value;
		break;
	case SRC_CURRENCY:
		v->text = a->present ? a->currency : NULL;
		break;
	case SRC_NID:
		v->integer = 1;
		v->value = nid;
		break;
	case SRC_NOW:
		v->text = now;
		break;
	}
}

/* The kind's columns, parameter i + 1 for column i, from the delivery. */
static void
store_bind_columns(sqlite3_stmt *st, const struct store_kind *k,
    const struct store_delivery *d, int64_t nid, const char *now)
{
	struct store_value v;
	size_t i;

	for (i = 0; i < k->ncols; i++) {
		store_col_value(&k->cols[i], d, nid, now, &v);
		if (v.integer && !v.null)
			sqlite3_bind_int64(st, (int)i + 1, v.value);
		else
			store_bind_text(st, (int)i + 1, v.text);
	}
}

/*
 * For another engine (store_pg.c), which runs the same generated SQL:
 * a kind's statements and its column count, and column i's value.
 */
int
store_state_kind(enum notif_kind kind, int *get, int *upsert, int *fill,
    size_t *ncols)
{
	const struct store_kind *k;

	if ((unsigned)kind >= NOTIF_KIND_COUNT ||
	    (k = &store_kinds[kind])->table == NULL)
		return -1;
	*get = k->get;
	*upsert = k->upsert;
	*fill = k->fill;
	*ncols = k->ncols;
	return 0;
}

void
store_state_value(enum notif_kind kind, size_t i,
    const struct store_delivery *d, int64_t nid, const char *now,
    struct store_value *v)
{
	store_col_value(&store_kinds[kind].cols[i], d, nid, now, v);
}

/* Columns at and at + 1, a value and its currency, as an amount. */
static void
store_column_amount(sqlite3_stmt *st, int at, struct notif_amount *a)
{
	const unsigned char *v;

	memset(a, 0, sizeof(*a));
	if (sqlite3_column_type(st, at) == SQLITE_NULL)
		return;
	a->present = 1;
	a->value = sqlite3_column_int64(st, at);
	if ((v = sqlite3_column_text(st, at + 1)) != NULL)
		snprintf(a->currency, sizeof(a->currency), "%s", v);
}

/* The state held for n's object (object_id, within client_id). 0 or -1. */
int
store_read_object(struct store *s, const struct notif *n,
    const char *client_id, const char *object_id, struct store_current *cur)
{
	sqlite3_stmt *st = s->w.stmt[store_kinds[n->kind].get];
	const unsigned char *v;
	int i, rc;

	memset(cur, 0, sizeof(*cur));
	store_bind_text(st, 1, client_id);
	store_bind_text(st, 2, object_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		cur->exists = 1;
		if ((v = sqlite3_column_text(st, 0)) != NULL)
			snprintf(cur->status, sizeof(cur->status), "%s", v);
		store_column_amount(st, 1, &cur->amount);
		for (i = 0; i < STORE_IDS_MAX; i++)
			if ((v = sqlite3_column_text(st, 3 + i)) != NULL)
				snprintf(cur->ids[i], sizeof(cur->ids[i]), "%s",
				    v);
		if ((v = sqlite3_column_text(st, 6)) != NULL) {
			cur->has_judged_result = 1;
			snprintf(cur->judged_result,
			    sizeof(cur->judged_result), "%s", v);
		}
		store_column_amount(st, 7, &cur->judged_amount);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		log_warnx("database: %s", sqlite3_errmsg(s->w.db));
		return -1;
	}
	return 0;
}

/*
 * Phase 1: for each job, the notification if it is stored already, else
 * the state of the object it is about.  0, or -1 on a database error.
 */
static int
store_read(struct store *s, struct store_job **jobs, struct store_plan *p,
    size_t n)
{
	sqlite3_stmt *st = s->w.stmt[S_NOTIF_FIND];
	const struct notif *nf;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].d = &jobs[i]->d;
		nf = p[i].d->notif;
		p[i].object_id = notif_object_id(nf);
		/*
		 * The caller hashes (store.h).  Unhashed, every body would
		 * look like a repeat of the first: fail, never acknowledge.
		 */
		if (p[i].d->body_sha256[0] == '\0') {
			log_warnx("database: a delivery without its body hash");
			return -1;
		}
		store_bind_text(st, 1, p[i].d->client_id);
		store_bind_text(st, 2, p[i].d->body_sha256);
		store_bind_text(st, 3, p[i].object_id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			p[i].held_id = sqlite3_column_int64(st, 0);
			p[i].held_count = sqlite3_column_int64(st, 1);
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			log_warnx("database: %s", sqlite3_errmsg(s->w.db));
			return -1;
		}
		if (rc == SQLITE_DONE && nf->kind != NOTIF_OTHER &&
		    p[i].object_id != NULL && store_read_object(s, nf,
		    p[i].d->client_id, p[i].object_id, &p[i].cur) != 0)
			return -1;
	}
	return 0;
}

static int
store_write_event(struct store *s, const struct store_delivery *d,
    const struct store_current *before, int64_t nid, const char *now)
{
	const struct notif *n = d->notif;
	sqlite3_stmt *st = s->w.stmt[S_EVENT];

	store_bind_text(st, 1, now);
	store_bind_text(st, 2, notif_kind_str(n->kind));
	store_bind_text(st, 3, notif_object_id(n));
	store_bind_text(st, 4, n->payment_id);
	store_bind_text(st, 5, before->exists ? before->status : NULL);
	store_bind_text(st, 6, store_new_status(n));
	sqlite3_bind_int64(st, 7, nid);
	store_bind_text(st, 8, d->client_id);
	return store_step(s, S_EVENT);
}

/* The WARN line of a notification that contradicted the state held. */
void
store_log_discrepancy(enum notif_kind kind, const char *client_id,
    const char *object_id, int64_t nid, enum store_outcome outcome,
    const char *note)
{
	struct logbuf lb;

	log_begin(&lb, LOG_LEVEL_WARN, "discrepancy");
	log_kv_int(&lb, "notification_id", (long long)nid);
	log_kv_str(&lb, "client_id", client_id);
	log_kv_str(&lb, "kind", notif_kind_str(kind));
	log_kv_str(&lb, "object_id", object_id);
	log_kv_str(&lb, "outcome", store_outcome_str(outcome));
	log_kv_str(&lb, "discrepancy", note);
	log_end(&lb);
}

/* The change a judged notification makes to its object.  0 or -1. */
int
store_write_state(struct store *s, const struct store_delivery *d,
    const struct store_current *before, enum store_change change,
    int64_t nid, const char *now)
{
	const struct store_kind *k = &store_kinds[d->notif->kind];
	int which;

	if (change == STORE_CHANGE_NONE)
		return 0;
	which = change == STORE_CHANGE_FILL ? k->fill : k->upsert;
	store_bind_columns(s->w.stmt[which], k, d, nid, now);
	if (store_step(s, which) != 0)
		return -1;
	return change == STORE_CHANGE_FILL ? 0 :
	    store_write_event(s, d, before, nid, now);
}

/* Phase 3 for one job, after the jobs before it.  0 or -1. */
static int
store_write(struct store *s, struct store_job **jobs,
    const struct store_plan *p, size_t i, const char *now)
{
	const struct store_delivery *d = p[i].d;
	const struct notif *n = d->notif;
	struct store_result *r = &jobs[i]->r;
	sqlite3_stmt *st;

	r->outcome = p[i].outcome;
	r->delivery_count = p[i].count;
	if (p[i].repeat) {
		/*
		 * No RETURNING here: SQLite builds and frees a temporary
		 * table for it on every run, which showed in profiles.
		 */
		r->repeat = 1;
		r->notification_id = p[i].same_as >= 0 ?
		    jobs[p[i].same_as]->r.notification_id : p[i].held_id;
		st = s->w.stmt[S_NOTIF_TOUCH];
		sqlite3_bind_int64(st, 1, r->notification_id);
		store_bind_text(st, 2, now);
		if (store_step(s, S_NOTIF_TOUCH) != 0)
			return -1;
		return refusal_clear(s, d->client_id, d->body_sha256);
	}
	st = s->w.stmt[S_NOTIF_INSERT];
	store_bind_text(st, 1, d->client_id);
	store_bind_text(st, 2, d->body_sha256);
	sqlite3_bind_blob(st, 3, d->bodylen > 0 ? (const void *)d->body : "",
	    (int)d->bodylen, SQLITE_STATIC);
	store_bind_text(st, 4, d->request_time);
	store_bind_text(st, 5, d->signature);
	store_bind_text(st, 6, d->signed_path);
	sqlite3_bind_int64(st, 7, d->key_version);
	store_bind_text(st, 8, n->notify_type);
	store_bind_text(st, 9, notif_kind_str(n->kind));
	store_bind_text(st, 10, p[i].object_id);
	store_bind_text(st, 11, store_outcome_str(p[i].outcome));
	store_bind_text(st, 12, n->kind == NOTIF_OTHER ? n->archive_reason :
	    NULL);
	store_bind_text(st, 13, now);
	store_bind_text(st, 14, p[i].note[0] != '\0' ? p[i].note : NULL);
	if (store_step(s, S_NOTIF_INSERT) != 0)
		return -1;
	r->notification_id = sqlite3_last_insert_rowid(s->w.db);
	if (refusal_clear(s, d->client_id, d->body_sha256) != 0)
		return -1;
	return store_write_state(s, d, &p[i].before, p[i].change,
	    r->notification_id, now);
}

/*
 * Record n jobs inside the caller's transaction, in three phases: read,
 * judge (store_judge_batch, as if one job ran after another), write.  0
 * with every job's r filled but its status, or -1 on a database error
 * (the caller rolls back).
 */
int
store_record(struct store *s, struct store_job **jobs, size_t n,
    const char *now)
{
	struct store_plan *p = s->w.plan;
	size_t i;

	for (i = 0; i < n; i++)
		memset(&jobs[i]->r, 0, sizeof(jobs[i]->r));
	if (store_read(s, jobs, p, n) != 0)
		return -1;
	store_judge_batch(p, n);
	for (i = 0; i < n; i++)
		if (store_write(s, jobs, p, i, now) != 0)
			return -1;
	return 0;
}

/*
 * After the COMMIT that holds jobs 0..n-1 of the batch store_record()
 * judged last: one WARN line for each that contradicted the state held
 * (its notifications row has a discrepancy), so that nothing
 * contradicted passes in silence, and nothing is said of what a
 * ROLLBACK undid.
 */
void
store_record_committed(struct store *s, struct store_job **jobs, size_t n)
{
	store_state_committed(s->w.plan, jobs, n);
}

/* store_record_committed() of an engine's own plans (store_pg.c). */
void
store_state_committed(const struct store_plan *p, struct store_job **jobs,
    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!p[i].repeat && p[i].note[0] != '\0')
			store_log_discrepancy(p[i].d->notif->kind,
			    p[i].d->client_id, notif_object_id(p[i].d->notif),
			    jobs[i]->r.notification_id, p[i].outcome,
			    p[i].note);
}
