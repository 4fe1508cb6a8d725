/*
 * store_state.c - notifications recorded in SQLite: the statements and
 * binders of each kind, the three phases of a batch (read what is held,
 * judge in C, write), and store_replay().
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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"
#include "util.h"

#define SQL(which)	[(which) - S_STATE_FIRST]

/* What a newer result of a payment, capture or refund always replaces. */
#define STORE_SET_RESULT						\
	" status = excluded.status,"					\
	" result_code = excluded.result_code,"				\
	" result_message = excluded.result_message,"			\
	" amount_value = coalesce(excluded.amount_value, amount_value),"	\
	" currency = coalesce(excluded.currency, currency),"

const char *const store_state_sql[S_RFS_FIRST - S_STATE_FIRST] = {
	SQL(S_NOTIF_FIND) =
	    "SELECT id, delivery_count FROM notifications"
	    " WHERE client_id = ?1 AND body_sha256 = ?2",
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
	SQL(S_PAY_UPSERT) =
	    "INSERT INTO payments (payment_request_id, client_id, payment_id,"
	    " status, result_code, result_message, amount_value, currency,"
	    " payment_create_time, payment_time, avs_result_raw,"
	    " cvv_result_raw, network_transaction_id, three_ds_eci,"
	    " three_ds_version, three_ds_cavv, three_ds_ds_transaction_id,"
	    " card_brand, last_four, issuing_country, refusal_code_raw,"
	    " refusal_reason_raw, notification_id, created_at, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?24)"
	    " ON CONFLICT (client_id, payment_request_id) DO UPDATE SET"
	    " payment_id = coalesce(payment_id, excluded.payment_id),"
	    STORE_SET_RESULT
	    " payment_create_time = coalesce(excluded.payment_create_time,"
	    "   payment_create_time),"
	    " payment_time = coalesce(excluded.payment_time, payment_time),"
	    " avs_result_raw = coalesce(excluded.avs_result_raw, avs_result_raw),"
	    " cvv_result_raw = coalesce(excluded.cvv_result_raw, cvv_result_raw),"
	    " network_transaction_id = coalesce(excluded.network_transaction_id,"
	    "   network_transaction_id),"
	    " three_ds_eci = coalesce(excluded.three_ds_eci, three_ds_eci),"
	    " three_ds_version = coalesce(excluded.three_ds_version,"
	    "   three_ds_version),"
	    " three_ds_cavv = coalesce(excluded.three_ds_cavv, three_ds_cavv),"
	    " three_ds_ds_transaction_id ="
	    "   coalesce(excluded.three_ds_ds_transaction_id,"
	    "   three_ds_ds_transaction_id),"
	    " card_brand = coalesce(excluded.card_brand, card_brand),"
	    " last_four = coalesce(excluded.last_four, last_four),"
	    " issuing_country = coalesce(excluded.issuing_country,"
	    "   issuing_country),"
	    " refusal_code_raw = coalesce(excluded.refusal_code_raw,"
	    "   refusal_code_raw),"
	    " refusal_reason_raw = coalesce(excluded.refusal_reason_raw,"
	    "   refusal_reason_raw),"
	    " notification_id = excluded.notification_id,"
	    " updated_at = excluded.updated_at",
	SQL(S_CAP_GET) =
	    "SELECT status, amount_value, currency, capture_id, payment_id,"
	    " NULL, NULL, NULL, NULL FROM captures"
	    " WHERE client_id = ?1 AND capture_request_id = ?2",
	SQL(S_CAP_UPSERT) =
	    "INSERT INTO captures (capture_request_id, client_id, capture_id,"
	    " payment_id, status, result_code, result_message, amount_value,"
	    " currency, capture_time, acquirer_reference_no, notification_id,"
	    " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
	    " ?9, ?10, ?11, ?12, ?13, ?13)"
	    " ON CONFLICT (client_id, capture_request_id) DO UPDATE SET"
	    " capture_id = coalesce(capture_id, excluded.capture_id),"
	    " payment_id = coalesce(payment_id, excluded.payment_id),"
	    STORE_SET_RESULT
	    " capture_time = coalesce(excluded.capture_time, capture_time),"
	    " acquirer_reference_no = coalesce(excluded.acquirer_reference_no,"
	    "   acquirer_reference_no),"
	    " notification_id = excluded.notification_id,"
	    " updated_at = excluded.updated_at",
	SQL(S_REF_GET) =
	    "SELECT status, amount_value, currency, refund_id, payment_id,"
	    " payment_request_id, NULL, NULL, NULL FROM refunds"
	    " WHERE client_id = ?1 AND refund_request_id = ?2",
	SQL(S_REF_UPSERT) =
	    "INSERT INTO refunds (refund_request_id, client_id, refund_id,"
	    " payment_id, payment_request_id, status, result_code,"
	    " result_message, amount_value, currency, refund_time,"
	    " notification_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4,"
	    " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)"
	    " ON CONFLICT (client_id, refund_request_id) DO UPDATE SET"
	    " refund_id = coalesce(refund_id, excluded.refund_id),"
	    " payment_id = coalesce(payment_id, excluded.payment_id),"
	    " payment_request_id = coalesce(payment_request_id,"
	    "   excluded.payment_request_id),"
	    STORE_SET_RESULT
	    " refund_time = coalesce(excluded.refund_time, refund_time),"
	    " notification_id = excluded.notification_id,"
	    " updated_at = excluded.updated_at",
	SQL(S_DIS_GET) =
	    "SELECT stage, amount_value, currency, payment_id,"
	    " payment_request_id, capture_id, judged_result,"
	    " judged_amount_value, judged_currency FROM disputes"
	    " WHERE client_id = ?1 AND dispute_id = ?2",
	/*
	 * A later stage: what it says wins, what it omits is kept, and an id
	 * once set stays (store_judge makes another a CONFLICT).
	 */
	SQL(S_DIS_UPSERT) =
	    "INSERT INTO disputes (dispute_id, client_id, payment_id,"
	    " payment_request_id, capture_id, stage, dispute_type,"
	    " amount_value, currency, reason_code, reason_msg, source,"
	    " dispute_time, defense_due_time, defendable, judged_result,"
	    " judged_time, judged_amount_value, judged_currency,"
	    " notification_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4,"
	    " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
	    " ?19, ?20, ?21, ?21)"
	    " ON CONFLICT (client_id, dispute_id) DO UPDATE SET"
	    " payment_id = coalesce(payment_id, excluded.payment_id),"
	    " payment_request_id = coalesce(payment_request_id,"
	    "   excluded.payment_request_id),"
	    " capture_id = coalesce(capture_id, excluded.capture_id),"
	    " stage = excluded.stage,"
	    " dispute_type = coalesce(excluded.dispute_type, dispute_type),"
	    " amount_value = coalesce(excluded.amount_value, amount_value),"
	    " currency = coalesce(excluded.currency, currency),"
	    " reason_code = coalesce(excluded.reason_code, reason_code),"
	    " reason_msg = coalesce(excluded.reason_msg, reason_msg),"
	    " source = coalesce(excluded.source, source),"
	    " dispute_time = coalesce(excluded.dispute_time, dispute_time),"
	    " defense_due_time = coalesce(excluded.defense_due_time,"
	    "   defense_due_time),"
	    " defendable = coalesce(excluded.defendable, defendable),"
	    " judged_result = coalesce(excluded.judged_result, judged_result),"
	    " judged_time = coalesce(excluded.judged_time, judged_time),"
	    " judged_amount_value = coalesce(excluded.judged_amount_value,"
	    "   judged_amount_value),"
	    " judged_currency = coalesce(excluded.judged_currency,"
	    "   judged_currency),"
	    " notification_id = excluded.notification_id,"
	    " updated_at = excluded.updated_at",
	/*
	 * An earlier stage arriving late: the stage stays, and only what is
	 * still unknown is filled in (a DISPUTE_CREATED after the judgement
	 * still brings the disputed amount and the reason).  Numbered like
	 * S_DIS_UPSERT so one binder serves both; binding the numbers it
	 * does not use (6, 20, 21) is a harmless SQLITE_RANGE.
	 */
	SQL(S_DIS_FILL) =
	    "UPDATE disputes SET"
	    " payment_id = coalesce(payment_id, ?3),"
	    " payment_request_id = coalesce(payment_request_id, ?4),"
	    " capture_id = coalesce(capture_id, ?5),"
	    " dispute_type = coalesce(dispute_type, ?7),"
	    " amount_value = coalesce(amount_value, ?8),"
	    " currency = coalesce(currency, ?9),"
	    " reason_code = coalesce(reason_code, ?10),"
	    " reason_msg = coalesce(reason_msg, ?11),"
	    " source = coalesce(source, ?12),"
	    " dispute_time = coalesce(dispute_time, ?13),"
	    " defense_due_time = coalesce(defense_due_time, ?14),"
	    " defendable = coalesce(defendable, ?15),"
	    " judged_result = coalesce(judged_result, ?16),"
	    " judged_time = coalesce(judged_time, ?17),"
	    " judged_amount_value = coalesce(judged_amount_value, ?18),"
	    " judged_currency = coalesce(judged_currency, ?19)"
	    " WHERE client_id = ?2 AND dispute_id = ?1",
	SQL(S_VLT_GET) =
	    "SELECT status, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
	    " FROM vaultings"
	    " WHERE client_id = ?1 AND vaulting_request_id = ?2",
	SQL(S_VLT_UPSERT) =
	    "INSERT INTO vaultings (vaulting_request_id, client_id, status,"
	    " result_code, result_message, card_token, card_brand,"
	    " card_no_masked, issuing_country, vaulting_create_time,"
	    " notification_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4,"
	    " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)"
	    " ON CONFLICT (client_id, vaulting_request_id) DO UPDATE SET"
	    " status = excluded.status,"
	    " result_code = excluded.result_code,"
	    " result_message = excluded.result_message,"
	    " card_token = coalesce(excluded.card_token, card_token),"
	    " card_brand = coalesce(excluded.card_brand, card_brand),"
	    " card_no_masked = coalesce(excluded.card_no_masked,"
	    "   card_no_masked),"
	    " issuing_country = coalesce(excluded.issuing_country,"
	    "   issuing_country),"
	    " vaulting_create_time = coalesce(excluded.vaulting_create_time,"
	    "   vaulting_create_time),"
	    " notification_id = excluded.notification_id,"
	    " updated_at = excluded.updated_at",
	SQL(S_EVENT) =
	    "INSERT INTO events (created_at, client_id, object_type, object_id,"
	    " payment_id, old_status, new_status, notification_id)"
	    " VALUES (?1, ?8, ?2, ?3, ?4, ?5, ?6, ?7)",
};

/*
 * A kind's upsert parameters, bound from the delivery: ?at takes a string
 * field of struct notif, the client id, the status, an amount (?at and
 * ?at+1: value and currency), the notification id or the time.
 */
enum store_arg { A_END = 0, A_FIELD, A_CLIENT, A_STATUS, A_AMOUNT, A_NID,
    A_NOW };

struct store_param {
	enum store_arg	 arg;
	int		 at;
	size_t		 field;		/* A_FIELD, A_AMOUNT */
};

#define F(at, name)	{ A_FIELD, at, offsetof(struct notif, name) }
#define AMOUNT(at, name) { A_AMOUNT, at, offsetof(struct notif, name) }
#define ARG(at, arg)	{ arg, at, 0 }

static const struct store_param store_payment_params[] = {
	F(1, payment_request_id), ARG(2, A_CLIENT), F(3, payment_id),
	ARG(4, A_STATUS), F(5, result_code), F(6, result_message),
	AMOUNT(7, amount), F(9, payment_create_time), F(10, payment_time),
	F(11, avs_result_raw), F(12, cvv_result_raw),
	F(13, network_transaction_id), F(14, three_ds_eci),
	F(15, three_ds_version), F(16, three_ds_cavv),
	F(17, three_ds_ds_transaction_id), F(18, card_brand), F(19, last_four),
	F(20, issuing_country), F(21, refusal_code_raw),
	F(22, refusal_reason_raw), ARG(23, A_NID), ARG(24, A_NOW), { 0 }
};

static const struct store_param store_capture_params[] = {
	F(1, capture_request_id), ARG(2, A_CLIENT), F(3, capture_id),
	F(4, payment_id), ARG(5, A_STATUS), F(6, result_code),
	F(7, result_message), AMOUNT(8, amount), F(10, capture_time),
	F(11, acquirer_reference_no), ARG(12, A_NID), ARG(13, A_NOW), { 0 }
};

static const struct store_param store_refund_params[] = {
	F(1, refund_request_id), ARG(2, A_CLIENT), F(3, refund_id),
	F(4, payment_id), F(5, payment_request_id), ARG(6, A_STATUS),
	F(7, result_code), F(8, result_message), AMOUNT(9, amount),
	F(11, refund_time), ARG(12, A_NID), ARG(13, A_NOW), { 0 }
};

/* For S_DIS_UPSERT and S_DIS_FILL alike; the stage is notify_type. */
static const struct store_param store_dispute_params[] = {
	F(1, dispute_id), ARG(2, A_CLIENT), F(3, payment_id),
	F(4, payment_request_id), F(5, capture_id), F(6, notify_type),
	F(7, dispute_type), AMOUNT(8, amount), F(10, dispute_reason_code),
	F(11, dispute_reason_msg), F(12, dispute_source), F(13, dispute_time),
	F(14, defense_due_time), F(15, defendable),
	F(16, dispute_judged_result), F(17, dispute_judged_time),
	AMOUNT(18, dispute_judged_amount), ARG(20, A_NID), ARG(21, A_NOW),
	{ 0 }
};

static const struct store_param store_vaulting_params[] = {
	F(1, vaulting_request_id), ARG(2, A_CLIENT), ARG(3, A_STATUS),
	F(4, result_code), F(5, result_message), F(6, card_token),
	F(7, card_brand), F(8, card_no_masked), F(9, issuing_country),
	F(10, vaulting_create_time), ARG(11, A_NID), ARG(12, A_NOW), { 0 }
};

#undef F
#undef AMOUNT
#undef ARG

static void
store_bind_params(sqlite3_stmt *st, const struct store_param *p,
    const struct store_delivery *d, int64_t nid, const char *now)
{
	const char *n = (const char *)d->notif;

	for (; p->arg != A_END; p++)
		switch (p->arg) {
		case A_FIELD:
			store_bind_text(st, p->at,
			    *(const char *const *)(const void *)(n + p->field));
			break;
		case A_CLIENT:
			store_bind_text(st, p->at, d->client_id);
			break;
		case A_STATUS:
			store_bind_text(st, p->at,
			    notif_status_str(d->notif->status));
			break;
		case A_AMOUNT:
			store_bind_amount(st, p->at, p->at + 1,
			    (const void *)(n + p->field));
			break;
		case A_NID:
			sqlite3_bind_int64(st, p->at, nid);
			break;
		case A_NOW:
			store_bind_text(st, p->at, now);
			break;
		case A_END:
			break;
		}
}

/*
 * Each kind with state: how its object is read (status or stage, and the
 * id it is bound to, for ?1 client id and ?2 key), written, and for a
 * stage arriving late filled in.  A new kind is a row here, its SQL and
 * parameters above, its table in store_schema.c and its entry in
 * NOTIF_KINDS.
 */
static const struct store_kind {
	int			 get;
	int			 upsert;
	int			 fill;	/* STORE_CHANGE_FILL's, if it has one */
	const struct store_param *params;
} store_kinds[NOTIF_KIND_COUNT] = {
	[NOTIF_PAYMENT] = { S_PAY_GET, S_PAY_UPSERT, 0, store_payment_params },
	[NOTIF_CAPTURE] = { S_CAP_GET, S_CAP_UPSERT, 0, store_capture_params },
	[NOTIF_REFUND] = { S_REF_GET, S_REF_UPSERT, 0, store_refund_params },
	[NOTIF_DISPUTE] = { S_DIS_GET, S_DIS_UPSERT, S_DIS_FILL,
			    store_dispute_params },
	[NOTIF_VAULTING] = { S_VLT_GET, S_VLT_UPSERT, 0,
			     store_vaulting_params },
};

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
static int
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
static void
store_log_discrepancy(const struct notif *n, const char *client_id,
    int64_t nid, enum store_outcome outcome, const char *note)
{
	struct logbuf lb;

	log_begin(&lb, LOG_LEVEL_WARN, "discrepancy");
	log_kv_int(&lb, "notification_id", (long long)nid);
	log_kv_str(&lb, "client_id", client_id);
	log_kv_str(&lb, "kind", notif_kind_str(n->kind));
	log_kv_str(&lb, "object_id", notif_object_id(n));
	log_kv_str(&lb, "outcome", store_outcome_str(outcome));
	log_kv_str(&lb, "discrepancy", note);
	log_end(&lb);
}

/* The change a judged notification makes to its object.  0 or -1. */
static int
store_write_state(struct store *s, const struct store_delivery *d,
    const struct store_current *before, enum store_change change,
    int64_t nid, const char *now)
{
	const struct store_kind *k = &store_kinds[d->notif->kind];
	int which;

	if (change == STORE_CHANGE_NONE)
		return 0;
	which = change == STORE_CHANGE_FILL ? k->fill : k->upsert;
	store_bind_params(s->w.stmt[which], k->params, d, nid, now);
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
	const struct store_plan *p = s->w.plan;
	size_t i;

	for (i = 0; i < n; i++)
		if (!p[i].repeat && p[i].note[0] != '\0')
			store_log_discrepancy(p[i].d->notif,
			    p[i].d->client_id, jobs[i]->r.notification_id,
			    p[i].outcome, p[i].note);
}

/* One step of sql bound to a notification id, kind and object id. */
static int
store_row_step(sqlite3 *db, const char *sql, int64_t id, const char *kind,
    const char *object_id)
{
	sqlite3_stmt *st;
	int step;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, kind);
	store_bind_text(st, 3, object_id);
	step = sqlite3_step(st);
	sqlite3_finalize(st);
	return step;
}

/*
 * How store_replay_row() treats a notification that this version still
 * cannot apply: replay records what it says now; a migration leaves such
 * a row as it is, unlogged.
 */
enum store_replay_mode { STORE_REPLAY_ASKED, STORE_REPLAY_MIGRATING };

/* The INFO line of a notification replayed. */
static void
store_log_replayed(const struct notif *n, const char *client_id, int64_t id,
    const char *object_id, enum store_outcome outcome)
{
	struct logbuf lb;

	log_begin(&lb, LOG_LEVEL_INFO, "notification replayed");
	log_kv_int(&lb, "notification_id", (long long)id);
	log_kv_str(&lb, "client_id", client_id);
	log_kv_str(&lb, "kind", notif_kind_str(n->kind));
	if (object_id != NULL)
		log_kv_str(&lb, "object_id", object_id);
	log_kv_str(&lb, "outcome", store_outcome_str(outcome));
	log_end(&lb);
}

/*
 * Inside the caller's transaction: notification id read again and judged
 * against the state held now (store_replay()).  DONE with r filled but
 * its status (in STORE_REPLAY_MIGRATING, also when it is left alone: then
 * r->outcome is STORE_ARCHIVED), NONE when there is no such row, FAILED
 * on a database error or a row that cannot be replayed (logged; the
 * caller rolls back).
 */
static enum store_replay_result
store_replay_row(struct store *s, int64_t id, enum store_replay_mode mode,
    struct store_result *r)
{
	static const char sql[] = "SELECT client_id, body FROM notifications"
	    " WHERE id = ?1";
	static const char reclass[] = "UPDATE notifications SET kind = ?2,"
	    " object_id = ?3 WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM"
	    " events WHERE notification_id = ?1)";
	static const char agrees[] = "SELECT 1 FROM notifications WHERE"
	    " id = ?1 AND kind = ?2 AND object_id IS ?3";
	/* Bound as ?1 id, ?2 the discrepancy (store_row_step's kind). */
	static const char noted[] = "UPDATE notifications SET discrepancy = ?2"
	    " WHERE id = ?1";
	struct store_delivery d;
	struct store_current cur;
	enum store_change change;
	struct notif n;
	char note[STORE_NOTE_MAX];
	sqlite3_stmt *st = NULL;
	const char *object_id;
	char now[UTIL_ISO_TIME_LEN];
	char *client = NULL;
	unsigned char *body = NULL;
	enum store_replay_result rc = STORE_REPLAY_FAILED;
	int parsed = 0, step;
	size_t len;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (sqlite3_prepare_v2(s->w.db, sql, -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = STORE_REPLAY_NONE;
		goto out;
	}
	if (step != SQLITE_ROW)
		goto dberr;
	len = (size_t)sqlite3_column_bytes(st, 1);
	client = strdup((const char *)sqlite3_column_text(st, 0));
	body = malloc(len + 1);
	if (client == NULL || body == NULL) {
		log_warnx("out of memory");
		goto out;
	}
	if (len > 0)
		memcpy(body, sqlite3_column_blob(st, 1), len);
	sqlite3_finalize(st);
	st = NULL;

	if (notif_parse(body, len, &n) != 0) {
		log_warnx("out of memory");
		goto out;
	}
	parsed = 1;
	if (mode == STORE_REPLAY_MIGRATING && n.kind == NOTIF_OTHER) {
		r->outcome = STORE_ARCHIVED;
		r->notification_id = id;
		rc = STORE_REPLAY_DONE;
		goto out;
	}
	memset(&d, 0, sizeof(d));
	d.client_id = client;
	d.body = body;
	d.bodylen = len;
	d.notif = &n;
	object_id = notif_object_id(&n);
	memset(&cur, 0, sizeof(cur));
	if (n.kind != NOTIF_OTHER && object_id != NULL &&
	    store_read_object(s, &n, client, object_id, &cur) != 0)
		goto out;
	r->outcome = store_judge(&n, &cur, &change, note);
	util_now_iso(now);
	/*
	 * The row's kind and object id become what this version reads in
	 * the body: events are found through their notification's object
	 * (schema 3), so the two must agree.  Not once it has events: those
	 * were found by what it says now.  Then a row that still says other
	 * than the body is not replayed: an event written now would be
	 * filed under an object no query reaches it by.
	 */
	if (store_row_step(s->w.db, reclass, id, notif_kind_str(n.kind),
	    object_id) != SQLITE_DONE)
		goto dberr;
	step = store_row_step(s->w.db, agrees, id, notif_kind_str(n.kind),
	    object_id);
	if (step == SQLITE_DONE) {
		log_warnx("notification %lld not replayed: it has events filed"
		    " under the object it named before, and this version reads"
		    " another in its body", (long long)id);
		goto out;
	}
	if (step != SQLITE_ROW)
		goto dberr;
	if (store_write_state(s, &d, &cur, change, id, now) != 0)
		goto out;
	/* What it contradicts now is found as a new one's would be. */
	if (note[0] != '\0' && store_row_step(s->w.db, noted, id, note,
	    NULL) != SQLITE_DONE)
		goto dberr;
	r->notification_id = id;
	rc = STORE_REPLAY_DONE;
	/* Said before the COMMIT: a rollback after is logged as a failure. */
	store_log_replayed(&n, client, id, object_id, r->outcome);
	if (note[0] != '\0')
		store_log_discrepancy(&n, client, id, r->outcome, note);
	goto out;
dberr:
	log_warnx("database: %s", sqlite3_errmsg(s->w.db));
out:
	sqlite3_finalize(st);
	if (parsed)
		notif_free(&n);
	free(client);
	free(body);
	return rc;
}

/*
 * Re-apply archived notification id: the body is parsed again and judged
 * against the state held now, exactly as a new delivery would be, and an
 * APPLIED outcome writes the object row and one events row pointing at
 * id.  Only the de-duplication by (client id, body hash) is bypassed;
 * the row's outcome stays what the first delivery did, its discrepancy
 * becomes what it contradicts now (if anything), its kind and object id
 * become what the body says now (a row with events that says
 * otherwise is not replayed), and the replay is logged.  One BEGIN
 * IMMEDIATE ... COMMIT on the calling thread; not with a running writer.
 */
enum store_replay_result
store_replay(struct store *s, int64_t id, struct store_result *r)
{
	enum store_replay_result rc;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (s->q.readonly || s->w.db == NULL) {
		log_warnx("database %s is read-only", s->path);
		return STORE_REPLAY_FAILED;
	}
	store_rollback(s);
	if (store_step(s, S_BEGIN) != 0)
		return STORE_REPLAY_FAILED;
	rc = store_replay_row(s, id, STORE_REPLAY_ASKED, r);
	if (rc == STORE_REPLAY_DONE && store_step(s, S_COMMIT) != 0) {
		log_warnx("notification %lld: the replay was rolled back",
		    (long long)id);
		rc = STORE_REPLAY_FAILED;
	}
	if (rc != STORE_REPLAY_DONE) {
		store_rollback(s);
		r->outcome = 0;
		r->notification_id = 0;
		return rc;
	}
	r->status = 0;
	return rc;
}

/*
 * store_connect()'s hook, inside the migration's transaction, with the
 * statements prepared: when the schema was older than version 8, every
 * notification it archived (antomd_replay) is read again with this
 * version's parser, in the order received, and what it can now apply
 * goes through the state machine as store_replay() would: a
 * PAYMENT_PENDING with F, a refund whose refundStatus says FAIL, a
 * result U, a dispute that also carried a notifyType (docs/protocol.md
 * section 4).  Rows it still cannot apply stay as they are.  0, or -1
 * with err: the migration rolls back as a whole.
 */
int
store_state_migrated(struct store *s, int from, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	struct store_result r;
	long long seen = 0, applied = 0;
	int step;

	if (from >= 8)
		return 0;
	if (sqlite3_prepare_v2(s->w.db, "SELECT notification_id FROM"
	    " antomd_replay ORDER BY notification_id", -1, &st, NULL) !=
	    SQLITE_OK)
		goto dberr;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		seen++;
		if (store_replay_row(s, sqlite3_column_int64(st, 0),
		    STORE_REPLAY_MIGRATING, &r) != STORE_REPLAY_DONE) {
			util_err(err, errlen, "cannot migrate the schema to "
			    "version 8: notification %lld could not be read "
			    "again", (long long)sqlite3_column_int64(st, 0));
			goto fail;
		}
		if (r.outcome != STORE_ARCHIVED)
			applied++;
	}
	if (step != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(st);
	st = NULL;
	if (store_exec(s->w.db, "DROP TABLE antomd_replay", err, errlen) != 0)
		goto fail;
	if (seen > 0)
		log_info("database %s: %lld archived notifications read again "
		    "for schema 8, %lld of them no longer archived", s->path,
		    seen, applied);
	return 0;
dberr:
	util_err(err, errlen, "cannot migrate the schema to version 8: %s",
	    sqlite3_errmsg(s->w.db));
fail:
	sqlite3_finalize(st);
	return -1;
}
