/*
 * reason.h - why a request was not answered 200, as one list.
 *
 * Each row is (constant, name, verification failure).  The name is what
 * the request's log line says (reason=), what the refusals table keeps,
 * and, for the rows marked as verification failures (the 400s and 401s,
 * refused before the request was authentic), the reason label of
 * antomd_verification_failures_total and of its _by_key_total twin, in
 * this order.  Adding a reason is one row here.  The names are a wire
 * contract with operators' queries and dashboards: never rename one.
 *
 * Leaf header: no other module's types, safe to include anywhere.
 */
#ifndef ANTOMD_REASON_H
#define ANTOMD_REASON_H

#define REASONS(X)							\
	X(REASON_UNKNOWN_PATH,		"unknown_path",		0)	\
	X(REASON_METHOD,		"method",		0)	\
	X(REASON_BODY_TOO_LARGE,	"body_too_large",	0)	\
	X(REASON_BAD_FRAMING,		"bad_framing",		1)	\
	X(REASON_MISSING_HEADER,	"missing_header",	1)	\
	X(REASON_DUPLICATE_HEADER,	"duplicate_header",	1)	\
	X(REASON_BAD_HEADER_VALUE,	"bad_header_value",	1)	\
	X(REASON_BAD_HEADER,		"bad_header",		1)	\
	X(REASON_BAD_ALGORITHM,		"bad_algorithm",	1)	\
	X(REASON_BAD_KEY_VERSION,	"bad_key_version",	1)	\
	X(REASON_BAD_ENCODING,		"bad_encoding",		1)	\
	X(REASON_BAD_LENGTH,		"bad_length",		1)	\
	X(REASON_UNKNOWN_CLIENT,	"unknown_client",	1)	\
	X(REASON_MISMATCH,		"mismatch",		1)	\
	X(REASON_INTERNAL,		"internal",		0)	\
	X(REASON_OUT_OF_MEMORY,		"out_of_memory",	0)	\
	X(REASON_QUEUE_FULL,		"queue_full",		0)	\
	X(REASON_SHUTTING_DOWN,		"shutting_down",	0)	\
	X(REASON_STORAGE_FAILURE,	"storage_failure",	0)	\
	X(REASON_MISROUTED,		"misrouted",		1)

enum reason {
	REASON_NONE = 0,	/* answered 200, or not decided yet */
#define REASON_ENUM(e, name, verify)	e,
	REASONS(REASON_ENUM)
#undef REASON_ENUM
	REASON_COUNT
};

/* The row's name; "" for REASON_NONE and out-of-range values. */
static inline const char *
reason_str(enum reason r)
{
	static const char *const names[REASON_COUNT] = {
		[REASON_NONE] = "",
#define REASON_NAME(e, name, verify)	[e] = name,
		REASONS(REASON_NAME)
#undef REASON_NAME
	};

	return (unsigned)r < REASON_COUNT ? names[r] : "";
}

#endif
