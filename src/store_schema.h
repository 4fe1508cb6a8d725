/*
 * store_schema.h - what the files of the SQLite schema share: the view
 * text that several versions write alike, and the text of the versions
 * kept in files of their own.  Private to store_schema*.c.
 *
 *   store_schema.c     versions 1 to 7, store_migrate(), the CHECK edit
 *   store_schema_v8.c  version 8: refund links, PENDING captures and
 *                      refunds, the fields a merchant acts on
 *
 * A migration's text never changes once released: a macro here is only
 * ever added to, never edited.
 */
#ifndef ANTOMD_STORE_SCHEMA_H
#define ANTOMD_STORE_SCHEMA_H

/* payment_status's dispute columns, since version 2. */
#define STORE_PAYMENT_STATUS_DISPUTES					\
"         (SELECT count(*) FROM disputes d"				\
"           WHERE d.client_id = p.client_id"				\
"             AND d.payment_id = p.payment_id) AS dispute_count,"	\
"         (SELECT d.stage FROM disputes d"				\
"           WHERE d.client_id = p.client_id AND d.payment_id = p.payment_id" \
"           ORDER BY d.updated_at DESC, d.dispute_id LIMIT 1)"		\
"           AS dispute_stage"

/*
 * payment_timeline, as versions 3 and 8 write it: its columns, the
 * payment's and its captures' events (then UNION ALL), and its disputes'
 * (ending the view).  Only the refunds' branch differs between them.
 */
#define STORE_TIMELINE_SELECT						\
"  SELECT p.client_id, p.payment_request_id, p.payment_id, e.seq,"	\
"         e.created_at, e.object_type, e.object_id, e.old_status,"	\
"         e.new_status, e.notification_id"
#define STORE_TIMELINE_HEAD						\
"CREATE VIEW payment_timeline AS"					\
STORE_TIMELINE_SELECT							\
"  FROM payments p CROSS JOIN notifications n"				\
"    ON n.object_id = p.payment_request_id AND n.client_id = p.client_id" \
"  CROSS JOIN events e"							\
"    ON e.notification_id = n.id AND e.object_type = 'payment'"	\
"  UNION ALL"								\
STORE_TIMELINE_SELECT							\
"  FROM payments p CROSS JOIN captures c ON c.client_id = p.client_id"	\
"   AND c.payment_id = p.payment_id"					\
"  CROSS JOIN notifications n ON n.object_id = c.capture_request_id"	\
"   AND n.client_id = c.client_id"					\
"  CROSS JOIN events e"							\
"    ON e.notification_id = n.id AND e.object_type = 'capture'"	\
"  UNION ALL"
#define STORE_TIMELINE_DISPUTES						\
STORE_TIMELINE_SELECT							\
"  FROM payments p CROSS JOIN disputes d ON d.client_id = p.client_id"	\
"   AND d.payment_id = p.payment_id"					\
"  CROSS JOIN notifications n ON n.object_id = d.dispute_id"		\
"   AND n.client_id = d.client_id"					\
"  CROSS JOIN events e"							\
"    ON e.notification_id = n.id AND e.object_type = 'dispute';"

/* store_schema_v8.c: version 8's CHECK edits and statements. */
#define STORE_SCHEMA_V8_CHECKS	2
extern const char *const store_schema_v8_checks[STORE_SCHEMA_V8_CHECKS][3];
extern const char store_schema_v8[];

#endif
