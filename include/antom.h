/*
 * antom.h - the wire protocol's constants, shared by the daemon and
 * antomctl (docs/protocol.md sections 1.2 and 3.1).
 *
 * Header names are compared case-insensitively (Antom sends both
 * "request-time" and "Request-Time").  The acknowledgement is the one
 * exact body that stops Antom's retries; anything else is a refusal.
 */
#ifndef ANTOMD_ANTOM_H
#define ANTOMD_ANTOM_H

#include <stddef.h>
#include <string.h>

#define ANTOM_HDR_CLIENT_ID	"client-id"
#define ANTOM_HDR_REQUEST_TIME	"request-time"
#define ANTOM_HDR_SIGNATURE	"signature"

/* The exact body that makes Antom stop retrying. */
#define ANTOM_SUCCESS_BODY \
	"{\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\"," \
	"\"resultMessage\":\"success\"}}"

/* Whether an answer is the acknowledgement: 200 and the exact body. */
static inline int
antom_acknowledged(int status, const char *body, size_t len)
{
	return status == 200 && len == sizeof(ANTOM_SUCCESS_BODY) - 1 &&
	    memcmp(body, ANTOM_SUCCESS_BODY, len) == 0;
}

#endif
