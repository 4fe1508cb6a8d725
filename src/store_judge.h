/*
 * store_judge.h - the state machine, engine-neutral.
 *
 * Recording a batch is three phases: the engine reads what the database
 * holds for every job (is the notification stored already, and the state
 * of the object it is about), store_judge_batch() decides in C, and the
 * engine writes what was decided.  Nothing here sees SQL or an engine's
 * types, so a second engine reuses it as it is.
 *
 * A batch is judged as if its jobs had run one after another: a job sees
 * the state that the ones before it in the batch leave (an overlay of
 * their effects on the state read), and a second delivery of the same
 * notification in one batch is a repeat of the first.
 *
 * Pure functions of their arguments: any thread.
 */
#ifndef ANTOMD_STORE_JUDGE_H
#define ANTOMD_STORE_JUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "notif.h"
#include "store.h"

/*
 * The Antom ids an object of a kind is bound to, which never change once
 * set: the order of struct store_current's ids (the engine reads them in
 * that order) and their names in the discrepancy text.  Fewer than
 * STORE_IDS_MAX end with a NULL name.
 */
#define STORE_IDS_MAX	3

struct store_id {
	const char	*name;		/* the column, e.g. "payment_id" */
	size_t		 field;		/* offset of its string in struct notif */
};

const struct store_id *store_ids(enum notif_kind);

/*
 * What the state held is, for the object a notification is about: what
 * the judge compares a new notification with.  An empty id is one not
 * set; an amount or judged amount whose present is false is SQL NULL.
 */
struct store_current {
	int			exists;
	char			status[32];	/* a status, or a dispute's stage */
	struct notif_amount	amount;
	char			ids[STORE_IDS_MAX][NOTIF_ID_MAX + 1];
	/* Disputes: the judgement. */
	int			has_judged_result;
	char			judged_result[NOTIF_TEXT_MAX + 1];
	struct notif_amount	judged_amount;
};

/*
 * What a notification contradicts in the state held, "what held -> what
 * notified" for each field, "; " between them (store_judge.c): the
 * notifications row's discrepancy column, or "" for none.  Longer is cut.
 */
#define STORE_NOTE_MAX	512

/* What a judged notification changes in its object's row. */
enum store_change {
	STORE_CHANGE_NONE = 0,
	STORE_CHANGE_APPLY,	/* the row, with what it says, and one event */
	STORE_CHANGE_FILL	/* a dispute stage arriving late: what is unknown */
};

/* One job of a batch through the three phases. */
struct store_plan {
	/* Read by the engine (phase 1). */
	const struct store_delivery *d;
	const char		*object_id;	/* notif_object_id(d->notif) */
	int64_t			 held_id;	/* notification stored already, or 0 */
	int64_t			 held_count;	/* its delivery_count */
	struct store_current	 cur;		/* its object, read when not held */

	/* Judged (phase 2). */
	uint64_t		 notif_key;	/* hashes that find repeats */
	uint64_t		 object_key;
	enum store_outcome	 outcome;
	int			 repeat;	/* count a repeat delivery only */
	long			 same_as;	/* first job of the batch with it, or -1 */
	int64_t			 count;		/* delivery_count after this job */
	enum store_change	 change;
	struct store_current	 before;	/* the state judged against */
	struct store_current	 after;		/* and the state it leaves */
	char			 note[STORE_NOTE_MAX];	/* its discrepancy, or "" */
};

/*
 * FNV-1a over s and its NUL, from h (STORE_KEY_BASIS first): the keys
 * above, and an engine's lock keys (store_pg.c).
 */
#define STORE_KEY_BASIS	0xcbf29ce484222325ULL
uint64_t store_key(uint64_t h, const char *s);

/*
 * Phase 2 for n jobs whose phase-1 fields are filled: fills the rest, as
 * if each job ran after the ones before it.
 */
void	store_judge_batch(struct store_plan *, size_t n);

/*
 * Judge n against the state held for its object (no de-duplication:
 * store_replay()), say what the write must change, and put in note (of
 * STORE_NOTE_MAX bytes) what n contradicts in that state, or "".
 */
enum store_outcome store_judge(const struct notif *n,
	    const struct store_current *cur, enum store_change *change,
	    char *note);

/* The status an object moves to: a dispute's is its stage. */
const char *store_new_status(const struct notif *n);

#endif
