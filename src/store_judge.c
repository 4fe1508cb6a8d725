/*
 * store_judge.c - the state machine, in C (store_judge.h).
 *
 * Per client id (sandbox and live merchants may reuse request ids), a
 * status only moves forward: none -> PENDING -> SUCCESS | FAIL, or none
 * -> SUCCESS | FAIL.  An older status arriving late is IGNORED; a final
 * status contradicting another final status, or an object already bound
 * to another Antom id, is a CONFLICT and never overwrites.  Disputes move
 * through stages instead (store_judge_dispute).
 *
 * No SQL and no engine types here: store_state.c reads and writes for
 * SQLite, and another engine would do the same around these functions.
 */
#include <stdio.h>
#include <string.h>

#include "store_judge.h"

const char *
store_new_status(const struct notif *n)
{
	return n->kind == NOTIF_DISPUTE ? n->notify_type :
	    notif_status_str(n->status);
}

static enum store_outcome
store_judge_status(const struct store_current *cur, const char *other_id,
    enum notif_status st)
{
	const char *want = notif_status_str(st);

	if (!cur->exists)
		return STORE_APPLIED;
	if (other_id != NULL && cur->other_id[0] != '\0' &&
	    strcmp(cur->other_id, other_id) != 0)
		return STORE_CONFLICT;
	if (strcmp(cur->status, want) == 0)
		return STORE_DUPLICATE;
	if (strcmp(cur->status, "PENDING") == 0)
		return STORE_APPLIED;
	if (st == NOTIF_ST_PENDING)
		return STORE_IGNORED;
	return STORE_CONFLICT;
}

/*
 * Disputes move through stages (notif_dispute_rank) instead of statuses:
 * a higher rank is APPLIED, the same stage again is a DUPLICATE, a lower
 * rank arriving late is IGNORED (the write still fills in what only it
 * carries), and two different closing stages, or a dispute bound to
 * another payment, are a CONFLICT.
 */
static enum store_outcome
store_judge_dispute(const struct store_current *cur, const struct notif *n)
{
	int held;

	if (!cur->exists)
		return STORE_APPLIED;
	if (n->payment_id != NULL && cur->other_id[0] != '\0' &&
	    strcmp(cur->other_id, n->payment_id) != 0)
		return STORE_CONFLICT;
	if (strcmp(cur->status, n->notify_type) == 0)
		return STORE_DUPLICATE;
	held = notif_dispute_rank(cur->status);
	if (n->dispute_rank > held)
		return STORE_APPLIED;
	if (n->dispute_rank < held)
		return STORE_IGNORED;
	return STORE_CONFLICT;
}

enum store_outcome
store_judge(const struct notif *n, const struct store_current *cur,
    enum store_change *change)
{
	enum store_outcome o;

	*change = STORE_CHANGE_NONE;
	if (n->kind == NOTIF_OTHER || notif_object_id(n) == NULL)
		return STORE_ARCHIVED;
	/* A dispute is bound to its payment (notif_bound_id). */
	if (n->kind == NOTIF_DISPUTE)
		o = store_judge_dispute(cur, n);
	else
		o = store_judge_status(cur, notif_bound_id(n), n->status);
	if (o == STORE_APPLIED)
		*change = STORE_CHANGE_APPLY;
	else if (o == STORE_IGNORED && n->kind == NOTIF_DISPUTE)
		*change = STORE_CHANGE_FILL;
	return o;
}

/*
 * The state a change leaves, as the engine's write makes it: APPLY sets
 * the status and the bound id when the notification names one
 * (coalesce(new, old)); FILL sets a dispute's payment id only when none
 * is held (coalesce(old, new)).
 */
static void
store_judge_after(const struct notif *n, enum store_change change,
    const struct store_current *before, struct store_current *after)
{
	const char *bound = notif_bound_id(n), *status;

	*after = *before;
	if (change == STORE_CHANGE_APPLY) {
		status = store_new_status(n);
		after->exists = 1;
		snprintf(after->status, sizeof(after->status), "%s",
		    status != NULL ? status : "");
	} else if (change != STORE_CHANGE_FILL || before->has_other)
		return;
	if (bound != NULL) {
		after->has_other = 1;
		snprintf(after->other_id, sizeof(after->other_id), "%s", bound);
	}
}

/* FNV-1a over s and its NUL, from h. */
static uint64_t
store_key(uint64_t h, const char *s)
{
	do {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	} while (*s++ != '\0');
	return h;
}

#define STORE_KEY_BASIS	0xcbf29ce484222325ULL

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
		    &p[j].change);
		store_judge_after(p[j].d->notif, p[j].change, &p[j].before,
		    &p[j].after);
	}
}
