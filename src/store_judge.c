/*
 * store_judge.c - the state machine, in C (store_judge.h).
 *
 * Per client id (sandbox and live merchants may reuse request ids), a
 * status only moves forward: none -> PENDING -> SUCCESS | FAIL, or none
 * -> SUCCESS | FAIL.  An older status arriving late is IGNORED; a final
 * status contradicting another final status (or the same one with another
 * amount or currency), or an object already bound to another Antom id, is
 * a CONFLICT and never overwrites.  Disputes move through stages instead
 * (store_judge_dispute).
 *
 * Nothing contradicted passes in silence: whatever the outcome, what a
 * notification says against the state held (an amount changed between
 * PENDING and the result, another id, another final status) is put in
 * its note, which the engine records as the notification's discrepancy.
 *
 * No SQL and no engine types here: store_state.c reads and writes for
 * SQLite, and another engine would do the same around these functions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "store_judge.h"

const char *
store_new_status(const struct notif *n)
{
	return n->kind == NOTIF_DISPUTE ? n->notify_type :
	    notif_status_str(n->status);
}

#define ID(name)	{ #name, offsetof(struct notif, name) }

/*
 * Every id a kind's row keeps (the refund's and the dispute's links to
 * their payment included): an id once set is never replaced, so a
 * notification naming another is a CONFLICT, whatever its status.
 */
static const struct store_id store_ids_of[NOTIF_KIND_COUNT][STORE_IDS_MAX] = {
	[NOTIF_PAYMENT] = { ID(payment_id) },
	[NOTIF_CAPTURE] = { ID(capture_id), ID(payment_id) },
	[NOTIF_REFUND] = { ID(refund_id), ID(payment_id),
			   ID(payment_request_id) },
	[NOTIF_DISPUTE] = { ID(payment_id), ID(payment_request_id),
			    ID(capture_id) },
};

#undef ID

const struct store_id *
store_ids(enum notif_kind kind)
{
	/* NOTIF_OTHER and anything else: none. */
	if ((unsigned)kind >= NOTIF_KIND_COUNT)
		kind = NOTIF_OTHER;
	return store_ids_of[kind];
}

static const char *
store_id_in(const struct notif *n, const struct store_id *id)
{
	return *(const char *const *)(const void *)((const char *)n +
	    id->field);
}

/* Append one "field held -> notified" to note, "; " after any before. */
static void __attribute__((format(printf, 2, 3)))
store_note_add(char *note, const char *fmt, ...)
{
	size_t len = strlen(note);
	va_list ap;

	if (len > 0 && len + 2 < STORE_NOTE_MAX) {
		memcpy(note + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(note + len, STORE_NOTE_MAX - len, fmt, ap);
	va_end(ap);
}

/* Both known, and not the same value in the same currency. */
static int
store_amount_differs(const struct notif_amount *held,
    const struct notif_amount *n)
{
	return held->present && n->present && (held->value != n->value ||
	    strcmp(held->currency, n->currency) != 0);
}

/* Notes the amount if it differs; 1 if it does. */
static int
store_note_amount(char *note, const char *name,
    const struct notif_amount *held, const struct notif_amount *n)
{
	if (!store_amount_differs(held, n))
		return 0;
	store_note_add(note, "%s %lld %s -> %lld %s", name,
	    (long long)held->value, held->currency, (long long)n->value,
	    n->currency);
	return 1;
}

/* Notes every id n names that contradicts one held; 1 if any does. */
static int
store_note_ids(char *note, const struct store_current *cur,
    const struct notif *n)
{
	const struct store_id *id = store_ids(n->kind);
	const char *v;
	int i, bad = 0;

	for (i = 0; i < STORE_IDS_MAX && id[i].name != NULL; i++) {
		v = store_id_in(n, &id[i]);
		if (v != NULL && cur->ids[i][0] != '\0' &&
		    strcmp(cur->ids[i], v) != 0) {
			store_note_add(note, "%s %s -> %s", id[i].name,
			    cur->ids[i], v);
			bad = 1;
		}
	}
	return bad;
}

/*
 * A status held that is final is contradicted by another final status,
 * and by the same one for another amount or currency: a CONFLICT.  An
 * amount or currency that changes otherwise (PENDING, then the result)
 * is applied as the later status says, and noted.
 */
static enum store_outcome
store_judge_status(const struct store_current *cur, const struct notif *n,
    char *note)
{
	const char *want = notif_status_str(n->status);
	int final_held;

	if (!cur->exists)
		return STORE_APPLIED;
	if (store_note_ids(note, cur, n))
		return STORE_CONFLICT;
	final_held = strcmp(cur->status, "PENDING") != 0;
	if (final_held && n->status != NOTIF_ST_PENDING &&
	    strcmp(cur->status, want) != 0) {
		store_note_add(note, "status %s -> %s", cur->status, want);
		store_note_amount(note, "amount", &cur->amount, &n->amount);
		return STORE_CONFLICT;
	}
	if (store_note_amount(note, "amount", &cur->amount, &n->amount) &&
	    final_held && n->status != NOTIF_ST_PENDING)
		return STORE_CONFLICT;
	if (strcmp(cur->status, want) == 0)
		return STORE_DUPLICATE;
	if (!final_held)
		return STORE_APPLIED;
	return STORE_IGNORED;
}

/*
 * Disputes move through stages (notif_dispute_rank) instead of statuses:
 * a higher rank is APPLIED, the same stage again is a DUPLICATE, a lower
 * rank arriving late is IGNORED (the write still fills in what only it
 * carries).  Two different closing stages, a closing stage again with
 * another amount or judgement, or a dispute bound to other ids, are a
 * CONFLICT.
 */
static enum store_outcome
store_judge_dispute(const struct store_current *cur, const struct notif *n,
    char *note)
{
	int held, differs, stage;

	if (!cur->exists)
		return STORE_APPLIED;
	if (store_note_ids(note, cur, n))
		return STORE_CONFLICT;
	held = notif_dispute_rank(cur->status);
	stage = strcmp(cur->status, n->notify_type) != 0;
	if (stage && n->dispute_rank == held)
		store_note_add(note, "stage %s -> %s", cur->status,
		    n->notify_type);
	differs = store_note_amount(note, "amount", &cur->amount, &n->amount);
	if (cur->has_judged_result && n->dispute_judged_result != NULL &&
	    strcmp(cur->judged_result, n->dispute_judged_result) != 0) {
		store_note_add(note, "judged_result %s -> %s",
		    cur->judged_result, n->dispute_judged_result);
		differs = 1;
	}
	differs |= store_note_amount(note, "judged_amount",
	    &cur->judged_amount, &n->dispute_judged_amount);
	if (stage && n->dispute_rank == held)
		return STORE_CONFLICT;
	if (!stage)
		return differs && held == NOTIF_DISPUTE_RANK_FINAL ?
		    STORE_CONFLICT : STORE_DUPLICATE;
	return n->dispute_rank > held ? STORE_APPLIED : STORE_IGNORED;
}

enum store_outcome
store_judge(const struct notif *n, const struct store_current *cur,
    enum store_change *change, char *note)
{
	enum store_outcome o;

	*change = STORE_CHANGE_NONE;
	note[0] = '\0';
	if (n->kind == NOTIF_OTHER || notif_object_id(n) == NULL)
		return STORE_ARCHIVED;
	if (n->kind == NOTIF_DISPUTE)
		o = store_judge_dispute(cur, n, note);
	else
		o = store_judge_status(cur, n, note);
	if (o == STORE_APPLIED)
		*change = STORE_CHANGE_APPLY;
	else if (o == STORE_IGNORED && n->kind == NOTIF_DISPUTE)
		*change = STORE_CHANGE_FILL;
	return o;
}

/*
 * The state a change leaves, as the engine's write makes it: APPLY sets
 * the status and what the notification says of the amount and the
 * judgement (coalesce(new, old)); FILL only what is unknown (coalesce(old,
 * new)).  Either sets an id only where none is held.
 */
static void
store_judge_after(const struct notif *n, enum store_change change,
    const struct store_current *before, struct store_current *after)
{
	const struct store_id *id = store_ids(n->kind);
	const char *status, *v;
	int i, apply = change == STORE_CHANGE_APPLY;

	*after = *before;
	if (change == STORE_CHANGE_NONE)
		return;
	if (apply) {
		status = store_new_status(n);
		after->exists = 1;
		snprintf(after->status, sizeof(after->status), "%s",
		    status != NULL ? status : "");
	}
	if (n->amount.present && (apply || !after->amount.present))
		after->amount = n->amount;
	if (n->kind == NOTIF_DISPUTE) {
		if (n->dispute_judged_result != NULL &&
		    (apply || !after->has_judged_result)) {
			after->has_judged_result = 1;
			snprintf(after->judged_result,
			    sizeof(after->judged_result), "%s",
			    n->dispute_judged_result);
		}
		if (n->dispute_judged_amount.present &&
		    (apply || !after->judged_amount.present))
			after->judged_amount = n->dispute_judged_amount;
	}
	for (i = 0; i < STORE_IDS_MAX && id[i].name != NULL; i++)
		if (after->ids[i][0] == '\0' &&
		    (v = store_id_in(n, &id[i])) != NULL)
			snprintf(after->ids[i], sizeof(after->ids[i]), "%s", v);
}

uint64_t
store_key(uint64_t h, const char *s)
{
	do {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	} while (*s++ != '\0');
	return h;
}

static int
store_same_notification(const struct store_plan *a, const struct store_plan *b)
{
	return a->notif_key == b->notif_key &&
	    strcmp(a->d->body_sha256, b->d->body_sha256) == 0 &&
	    strcmp(a->d->client_id, b->d->client_id) == 0;
}

static int
store_same_object(const struct store_plan *a, const struct store_plan *b)
{
	return a->object_key == b->object_key &&
	    a->d->notif->kind == b->d->notif->kind &&
	    strcmp(a->object_id, b->object_id) == 0 &&
	    strcmp(a->d->client_id, b->d->client_id) == 0;
}

void
store_judge_batch(struct store_plan *p, size_t n)
{
	size_t i, j;
	long last;

	/*
	 * Each job against those before it: quadratic, but on hashes, so
	 * even a batch of 1,024 costs well under a microsecond a job.
	 */
	for (j = 0; j < n; j++) {
		p[j].notif_key = store_key(store_key(STORE_KEY_BASIS,
		    p[j].d->client_id), p[j].d->body_sha256);
		p[j].object_key = p[j].object_id == NULL ? 0 :
		    store_key(store_key(STORE_KEY_BASIS, p[j].d->client_id),
		    p[j].object_id);
		p[j].same_as = -1;
		last = -1;
		for (i = 0; i < j; i++)
			if (store_same_notification(&p[i], &p[j])) {
				if (p[j].same_as < 0)
					p[j].same_as = (long)i;
				last = (long)i;
			}
		memset(&p[j].before, 0, sizeof(p[j].before));
		p[j].change = STORE_CHANGE_NONE;
		p[j].note[0] = '\0';
		if (last >= 0 || p[j].held_id != 0) {
			/* A repeat delivery: count it, change nothing else. */
			if (p[j].held_id != 0)
				p[j].same_as = -1;
			p[j].repeat = 1;
			p[j].outcome = STORE_DUPLICATE;
			p[j].count = last >= 0 ? p[last].count + 1 :
			    p[j].held_count + 1;
			p[j].after = p[j].before;
			continue;
		}
		p[j].repeat = 0;
		p[j].count = 1;
		if (p[j].object_id != NULL) {
			/* The last change to the object in this batch wins. */
			p[j].before = p[j].cur;
			for (i = j; i-- > 0; )
				if (p[i].object_id != NULL && !p[i].repeat &&
				    store_same_object(&p[i], &p[j])) {
					p[j].before = p[i].after;
					break;
				}
		}
		p[j].outcome = store_judge(p[j].d->notif, &p[j].before,
		    &p[j].change, p[j].note);
		store_judge_after(p[j].d->notif, p[j].change, &p[j].before,
		    &p[j].after);
	}
}
