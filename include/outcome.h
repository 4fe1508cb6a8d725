/*
 * outcome.h - what recording a notification did, as one list: the enum,
 * the names (notifications.outcome, log lines, metric labels) and, in
 * store_schema.c, the schema's CHECK all come from STORE_OUTCOMES.
 *
 * A leaf: the store writes outcomes, metrics counts them, and neither
 * needs the other for it.
 */
#ifndef ANTOMD_OUTCOME_H
#define ANTOMD_OUTCOME_H

/* In the order of the schema's CHECK. */
#define STORE_OUTCOMES(X)						\
	X(STORE_APPLIED,   "applied")	/* changed state; one events row */ \
	X(STORE_DUPLICATE, "duplicate")	/* new or repeated delivery of a state already held */ \
	X(STORE_IGNORED,   "ignored")	/* out of order: older than the state held */ \
	X(STORE_CONFLICT,  "conflict")	/* contradicts a final state; recorded, not applied */ \
	X(STORE_ARCHIVED,  "archived")	/* kept verbatim only */

enum store_outcome {
#define STORE_OUTCOME_ENUM(name, str)	name,
	STORE_OUTCOMES(STORE_OUTCOME_ENUM)
#undef STORE_OUTCOME_ENUM
	STORE_OUTCOME_COUNT
};

/* The name in STORE_OUTCOMES; "unknown" for a value not in it. */
static inline const char *
store_outcome_str(enum store_outcome o)
{
	static const char *const names[STORE_OUTCOME_COUNT] = {
#define STORE_OUTCOME_NAME(name, str)	[name] = str,
		STORE_OUTCOMES(STORE_OUTCOME_NAME)
#undef STORE_OUTCOME_NAME
	};

	if ((unsigned)o >= STORE_OUTCOME_COUNT)
		return "unknown";
	return names[o];
}

#endif
