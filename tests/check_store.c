/*
 * check_store.c - suite store: the store on SQLite.  Case "store" is
 * what is SQLite's alone: its file, PRAGMAs and migrations from files
 * older releases wrote, its query plans and CHECK costs, the WAL and its
 * checkpointer, and another process's lock against the busy timeout and
 * store_abort() (PostgreSQL's writer waits for locks, by design: its own
 * are in check_pg.c).  Case "state", what every engine owes, is
 * check_store_state.c's, run here on SQLite and in suite store_pg on
 * PostgreSQL.
 */
#include <sys/stat.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "notif.h"
#include "refusal.h"
#include "store.h"
#include "util.h"
/* The writer's statements, to check the upserts generated for them. */
#include "../src/store_int.h"
#include "storedb.h"
#include "suites.h"

static void assert_checks_cheap(void);

static struct store *
open_store_path(const char *path)
{
	struct store_options o = { 100, 1, 16, 0, 0 };
	char err[256] = "";
	struct store *s = store_open(path, &o, err, sizeof(err));

	ck_assert_msg(s != NULL, "store_open %s: %s", path, err);
	return s;
}

/* dbpath: a copy of tests/data/name, which an older release wrote. */
static void
copy_fixture(const char *name)
{
	char src[256], cmd[512];

	snprintf(cmd, sizeof(cmd), "cp %s/data/%s %s", test_path(src,
	    sizeof(src), ""), name, dbpath);
	ck_assert_int_eq(system(cmd), 0);
}

/*
 * store_open() refuses the database, saying the migration to version to
 * failed over what, and leaves it at version stays.
 */
static void
assert_not_migrated(int to, const char *what, int stays)
{
	struct store_options o = { 100, 1, 1024, 0, 0 };
	char err[256] = "", v[32];

	ck_assert_ptr_null(store_open(dbpath, &o, err, sizeof(err)));
	snprintf(v, sizeof(v), "version %d", to);
	ck_assert_msg(strstr(err, v) != NULL && strstr(err, what) != NULL,
	    "%s", err);
	ck_assert_int_eq(q_int("PRAGMA user_version"), stays);
}

/* The result code of sql on a connection of its own. */
static int
exec_sql_rc(const char *sql)
{
	return storedb_exec_rc(dbpath, sql);
}

/*
 * Schema 9: notifications has one key, notifications_object (object_id,
 * client_id, body_sha256), and notifications_unkeyed for those about no
 * object; the table's own UNIQUE and its index are gone, and the
 * writer's find is a search of the key.  For a database made fresh or
 * migrated.
 */
static void
assert_one_key(void)
{
	const char *sql[S_RFS_FIRST - S_STATE_FIRST], *detail;
	char *text, find[512];
	sqlite3_stmt *st;
	sqlite3 *db;

	ck_assert_str_eq(q_text("PRAGMA integrity_check"), "ok");
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE"
	    " name LIKE 'sqlite_autoindex_notifications%'"), 0);
	ck_assert_int_eq(q_int("SELECT instr(sql, 'UNIQUE') FROM sqlite_master"
	    " WHERE name = 'notifications'"), 0);
	ck_assert_str_eq(q_text("SELECT group_concat(name || ':' || \"unique\""
	    " || partial, ' ') FROM (SELECT * FROM pragma_index_list("
	    "'notifications') ORDER BY name)"), "notifications_object:10"
	    " notifications_unkeyed:11");
	ck_assert_str_eq(q_text("SELECT group_concat(name, ',') FROM (SELECT"
	    " name FROM pragma_index_info('notifications_object') ORDER BY"
	    " seqno)"), "object_id,client_id,body_sha256");
	ck_assert_str_eq(q_text("SELECT group_concat(name, ',') FROM (SELECT"
	    " name FROM pragma_index_info('notifications_unkeyed') ORDER BY"
	    " seqno)"), "client_id,body_sha256");
	/* The writer's own statement (store_state.c). */
	ck_assert_int_eq(store_state_sql_build('?', sql, &text), 0);
	snprintf(find, sizeof(find), "EXPLAIN QUERY PLAN %s",
	    sql[S_NOTIF_FIND - S_STATE_FIRST]);
	free(text);
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, find, -1, &st, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	detail = (const char *)sqlite3_column_text(st, 3);
	ck_assert_msg(strstr(detail, "USING INDEX notifications_object"
	    " (object_id=? AND client_id=? AND body_sha256=?)") != NULL,
	    "%s", detail);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

START_TEST(test_schema)
{
	struct store *s = open_store(1);

	store_close(s);
	ck_assert_int_eq(q_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	ck_assert_str_eq(q_text("PRAGMA journal_mode"), "wal");
	/* Reopening migrates nothing and keeps data. */
	s = open_store(1);
	store_close(s);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE "
	    "name IN ('notifications','payments','captures','events',"
	    "'payment_captures')"), 5);
	/* Wide rows appended, not placed at random (schema 4). */
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE"
	    " name IN ('payments', 'captures') AND sql LIKE '%WITHOUT ROWID%'"),
	    0);
	assert_one_key();
}
END_TEST

START_TEST(test_newer_schema_refused)
{
	struct store_options o = { 100, 1, 16, 0, 0 };
	char err[256] = "";
	struct store *s = open_store(1);

	store_close(s);
	exec_sql("PRAGMA user_version = 99");
	ck_assert_ptr_null(store_open(dbpath, &o, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "newer"));
	ck_assert_int_eq(store_check(dbpath, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "schema version 99"));
}
END_TEST

START_TEST(test_check)
{
	char err[256] = "";

	/* Absent database in a writable directory: usable, nothing created. */
	ck_assert_int_eq(store_check(dbpath, err, sizeof(err)), 0);
	ck_assert_int_ne(access(dbpath, F_OK), 0);
	ck_assert_int_eq(store_check("/nonexistent-dir/x.db", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir"));
	store_close(open_store(1));
	ck_assert_int_eq(store_check(dbpath, err, sizeof(err)), 0);
}
END_TEST

/*
 * The engine comes from the database string: a libpq URI or conninfo is
 * PostgreSQL (here on servers that do not exist: a connection error,
 * without echoing the string, which may hold a password), and nothing is
 * created; a path stays SQLite even when a directory's name reads like a
 * conninfo.
 */
START_TEST(test_engine_from_database)
{
	static const char *const conninfo[] = {
		"postgresql://antomd:secret@%2Fnonexistent-a,%2Fnonexistent-b"
		    "/antomd?target_session_attrs=read-write",
		"postgres://%2Fnonexistent-a/antomd",
		"host=/nonexistent-a dbname=antomd",
		"dbname=antomd user=antomd password=secret host=/nonexistent-a",
		"user=antomd host=/nonexistent-a",
	};
	struct store_options o = { 100, 1, 16, 0, 0 };
	char err[256], odd[256];
	size_t i;

	for (i = 0; i < sizeof(conninfo) / sizeof(conninfo[0]); i++) {
		strcpy(err, "");
		ck_assert_ptr_null(store_open(conninfo[i], &o, err, sizeof(err)));
		ck_assert_msg(strncmp(err, "cannot connect to PostgreSQL", 28)
		    == 0, "%s", err);
		ck_assert_ptr_null(strstr(err, "secret"));
		strcpy(err, "");
		ck_assert_int_eq(store_check(conninfo[i], err, sizeof(err)), -1);
		ck_assert_msg(strncmp(err, "cannot connect to PostgreSQL", 28)
		    == 0, "%s", err);
		ck_assert_ptr_null(strstr(err, "secret"));
		ck_assert_int_eq(access(conninfo[i], F_OK), -1);
	}
	/* What the log shows of each: never a password. */
	ck_assert_str_eq(store_display(conninfo[0], err, sizeof(err)),
	    "postgresql://antomd@%2Fnonexistent-a,%2Fnonexistent-b/antomd"
	    "?target_session_attrs=read-write");
	ck_assert_str_eq(store_display(conninfo[3], err, sizeof(err)),
	    "dbname=antomd user=antomd host=/nonexistent-a");
	ck_assert_str_eq(store_display("host=/x password='a b\\' c' "
	    "dbname=y", err, sizeof(err)), "host=/x dbname=y");
	ck_assert_str_eq(store_display("postgres://u@/d?password=p&host=/t",
	    err, sizeof(err)), "postgres://u@/d?host=/t");
	ck_assert_str_eq(store_display("postgres://h/d?password=p", err,
	    sizeof(err)), "postgres://h/d");
	ck_assert_str_eq(store_display("/var/lib/antomd/password=x.db", err,
	    sizeof(err)), "/var/lib/antomd/password=x.db");
	snprintf(odd, sizeof(odd), "%s/host=a,dbname=b",
	    store_dir);
	ck_assert_int_eq(mkdir(odd, 0700), 0);
	strcat(odd, "/x.db");
	store_close(open_store_path(odd));
	ck_assert_int_eq(access(odd, F_OK), 0);
}
END_TEST

/*
 * A database written by antomd with schema version 1 (made by the
 * previous release, kept in tests/data): it migrates in place, keeps
 * every row, and the refund and dispute it had to archive can now be
 * replayed into their tables.
 */
START_TEST(test_migrate_v1)
{
	char src[256], cmd[512];
	struct store *s;
	struct store_result r;

	snprintf(cmd, sizeof(cmd), "cp %s %s", test_path(src, sizeof(src),
	    "data/antomd-schema-v1.db"), dbpath);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(q_int("PRAGMA user_version"), 1);
	/* What a merchant may have added survives the rebuilt tables. */
	/* Version 1 did not have payment_status from its first day. */
	exec_sql("DROP VIEW payment_status;"
	    "CREATE INDEX my_payments_time ON payments (payment_time);"
	    "CREATE TABLE my_audit (what TEXT);"
	    "CREATE TRIGGER my_capture_audit AFTER UPDATE ON captures"
	    " BEGIN INSERT INTO my_audit VALUES (NEW.status); END;");
	s = open_store(1);
	ck_assert_int_eq(q_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE name IN"
	    " ('my_payments_time', 'my_capture_audit')"), 2);
	ck_assert_str_eq(q_text("SELECT sql FROM sqlite_master WHERE name ="
	    " 'payments_payment_id'"), "CREATE INDEX payments_payment_id ON"
	    " payments (payment_id, client_id)");
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications"), 4);
	/*
	 * Version 8 read the refund and the dispute version 1 had to
	 * archive again, and applied them; replaying them now repeats.
	 */
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE"
	    " name = 'antomd_replay'"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events WHERE"
	    " notification_id IN (3, 4)"), 2);
	ck_assert_int_eq(store_replay(s, 3, &r), STORE_REPLAY_DONE);
	ck_assert_int_eq(r.outcome, STORE_DUPLICATE);
	ck_assert_int_eq(store_replay(s, 4, &r), STORE_REPLAY_DONE);
	ck_assert_int_eq(r.outcome, STORE_DUPLICATE);
	store_close(s);
	/*
	 * The refund's body named its payment (made by hand: Antom's never
	 * do), but only a link the application writes joins them.
	 */
	ck_assert_str_eq(q_text("SELECT group_concat(object_type, ' ') FROM"
	    " (SELECT * FROM payment_timeline WHERE payment_request_id ="
	    " 'PR-V1' ORDER BY seq)"), "payment capture dispute");
	link_refund("CLIENT_V1", "RR-V1", "P-V1", 1);
	/* The replayed rows are what this version reads; the rest stays. */
	ck_assert_str_eq(q_text("SELECT kind || '/' || object_id || '/' ||"
	    " outcome || '/' || delivery_count FROM notifications WHERE"
	    " id = 3"), "refund/RR-V1/applied/1");
	ck_assert_str_eq(q_text("PRAGMA integrity_check"), "ok");
	ck_assert_int_eq(q_int("SELECT count(*) FROM refunds WHERE"
	    " refund_request_id = 'RR-V1' AND payment_id = 'P-V1'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM disputes WHERE"
	    " dispute_id = 'D-V1'"), 1);
	ck_assert_str_eq(q_text("SELECT group_concat(object_type, ' ') FROM"
	    " (SELECT * FROM payment_timeline WHERE payment_request_id ="
	    " 'PR-V1' ORDER BY seq)"), "payment capture refund dispute");
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications WHERE"
	    " discrepancy IS NOT NULL"), 0);
	ck_assert_int_eq(q_int("SELECT mismatched_count FROM payment_status"
	    " WHERE payment_request_id = 'PR-V1'"), 0);
	/* The widened CHECKs still refuse what no version writes. */
	{
		sqlite3 *db;

		ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
		ck_assert_int_eq(sqlite3_exec(db, "UPDATE notifications SET"
		    " kind = 'refund' WHERE id = 3", NULL, NULL, NULL),
		    SQLITE_OK);
		ck_assert_int_eq(sqlite3_exec(db, "UPDATE notifications SET"
		    " kind = 'bogus' WHERE id = 1", NULL, NULL, NULL),
		    SQLITE_CONSTRAINT_CHECK & 0xff);
		ck_assert_int_eq(sqlite3_exec(db, "UPDATE events SET"
		    " object_type = 'bogus'", NULL, NULL, NULL),
		    SQLITE_CONSTRAINT_CHECK & 0xff);
		sqlite3_close(db);
	}
	assert_checks_cheap();
	assert_one_key();
}
END_TEST

/*
 * A database written by antomd with schema version 2 (by the previous
 * release, kept in tests/data: the card, refund-first, dispute and
 * vaulting scenarios of antomctl simulate): its events index by object
 * gives way to one by notification, and the timeline reads the same.
 */
START_TEST(test_migrate_v2)
{
	static const char timeline[] = "SELECT group_concat(payment_request_id"
	    " || ':' || object_type || ':' || seq, ' ') FROM (SELECT * FROM"
	    " payment_timeline ORDER BY payment_request_id, seq)";
	static const char sums[] = "SELECT group_concat(payment_request_id"
	    " || ':' || captured_amount_value || '/' || refunded_amount_value,"
	    " ' ') FROM (SELECT * FROM payment_status ORDER BY"
	    " payment_request_id)";
	char src[256], cmd[512], *before, *sums_before;
	struct store *s;

	snprintf(cmd, sizeof(cmd), "cp %s %s", test_path(src, sizeof(src),
	    "data/antomd-schema-v2.db"), dbpath);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(q_int("PRAGMA user_version"), 2);
	before = strdup(q_text(timeline));
	sums_before = strdup(q_text(sums));
	ck_assert_str_eq(before, "SIM-PR-1733a87597d817c2:refund:3"
	    " SIM-PR-1733a87597d817c2:capture:4"
	    " SIM-PR-1733a87597d817c2:payment:5"
	    " SIM-PR-61989c7f92736c9e:payment:1"
	    " SIM-PR-61989c7f92736c9e:capture:2");
	s = open_store(1);
	store_close(s);
	ck_assert_int_eq(q_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	ck_assert_str_eq(q_text("PRAGMA integrity_check"), "ok");
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE"
	    " name = 'events_object'"), 0);
	ck_assert_str_eq(q_text("SELECT sql FROM sqlite_master WHERE name ="
	    " 'events_notification'"), "CREATE INDEX events_notification ON"
	    " events (notification_id)");
	ck_assert_str_eq(q_text(timeline), before);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 7);
	/*
	 * Schema 7: rows recorded before have no discrepancy (nothing
	 * compared them), and the sums of these single-currency payments
	 * are what they were, with nothing flagged.
	 */
	ck_assert_int_gt(q_int("SELECT count(*) FROM notifications"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications WHERE"
	    " discrepancy IS NOT NULL"), 0);
	ck_assert_str_eq(q_text(sums), sums_before);
	ck_assert_int_eq(q_int("SELECT sum(mismatched_count) FROM"
	    " payment_status"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM payment_captures WHERE"
	    " mismatch IS NOT NULL"), 0);
	free(sums_before);
	/* Schema 4: the same rows, in rowid tables keyed by a UNIQUE index. */
	ck_assert_int_eq(q_int("SELECT count(*) FROM payments"), 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM captures"), 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE name"
	    " IN ('payments', 'captures') AND sql LIKE '%WITHOUT ROWID%'"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE name"
	    " IN ('sqlite_autoindex_payments_1', 'sqlite_autoindex_captures_1',"
	    " 'payments_payment_id', 'captures_payment_id')"), 4);
	assert_checks_cheap();
	assert_one_key();
	free(before);
}
END_TEST

/*
 * antomd refuses tests/data's version 2 database, whose migration fails at
 * this version for want of what, and leaves it version 2, whole, as
 * before: the rebuilds of the versions before rolled back too.
 */
static void
assert_migration_undone(int version, const char *what)
{
	assert_not_migrated(version, what, 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE"
	    " name = 'events_object'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE name"
	    " IN ('payments', 'captures') AND sql LIKE '%WITHOUT ROWID%'"), 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE"
	    " sql LIKE '%kind IN (%'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM pragma_table_info("
	    "'payment_status') WHERE name = 'mismatched_count'"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM payments"), 2);
	ck_assert_str_eq(q_text("PRAGMA integrity_check"), "ok");
}

/*
 * A migration that cannot finish changes nothing: here version 5's CHECK
 * edit finds the vaultings table spelt otherwise (as a hand edit might
 * leave it), after versions 3 and 4 rebuilt tables in the same
 * transaction.
 */
START_TEST(test_migrate_all_or_nothing)
{
	copy_fixture("antomd-schema-v2.db");
	exec_sql("PRAGMA writable_schema = ON;"
	    "UPDATE sqlite_master SET sql = replace(sql,"
	    " '''PENDING'',''SUCCESS''', '''PENDING'', ''SUCCESS''')"
	    " WHERE name = 'vaultings';"
	    "PRAGMA writable_schema = RESET");
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE"
	    " name = 'vaultings' AND sql LIKE '%''PENDING'', ''SUCCESS''%'"),
	    1);
	assert_migration_undone(5, "vaultings");
}
END_TEST

/*
 * Version 7 fails as a whole too: a column of its name added by hand
 * stops it after versions 3 to 6 rebuilt and rewrote tables.
 */
START_TEST(test_migrate_v7_all_or_nothing)
{
	copy_fixture("antomd-schema-v2.db");
	exec_sql("ALTER TABLE notifications ADD COLUMN discrepancy INTEGER");
	assert_migration_undone(7, "discrepancy");
}
END_TEST

/*
 * Version 9 fails as a whole too, and says why: a notifications table
 * whose key is not spelt as every earlier version wrote it (as a hand
 * edit might leave it) stops it after versions 8's tables and rows were
 * made in the same transaction.
 */
START_TEST(test_migrate_v9_all_or_nothing)
{
	copy_fixture("antomd-schema-v7.db");
	exec_sql("PRAGMA writable_schema = ON;"
	    "UPDATE sqlite_master SET sql = replace(sql,"
	    " ',  UNIQUE (client_id, body_sha256)',"
	    " ', UNIQUE (client_id, body_sha256)')"
	    " WHERE name = 'notifications';"
	    "PRAGMA writable_schema = RESET");
	assert_not_migrated(9, "notifications", 7);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE"
	    " name IN ('refund_links', 'antomd_replay',"
	    " 'notifications_unkeyed')"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE"
	    " name = 'sqlite_autoindex_notifications_1'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications WHERE"
	    " kind = 'other'"), 5);
	ck_assert_str_eq(q_text("PRAGMA integrity_check"), "ok");
}
END_TEST

/*
 * A database written by antomd with schema version 5 (tests/data: a 401
 * and a 400 from a forged client, a 503 after a storage failure): the
 * refusals learn which are authentic, in place, in one transaction; the
 * 503 was (it had verified), the others may have been forged and are
 * never at risk.
 */
START_TEST(test_migrate_v5)
{
	struct store_options o = { 100, 8, 64, 1, 0 };
	char err[256] = "";
	struct store *s;

	copy_fixture("antomd-schema-v5.db");
	ck_assert_int_eq(q_int("PRAGMA user_version"), 5);
	ck_assert_int_eq(q_int("SELECT count(*) FROM refusals"), 3);

	/*
	 * A migration that cannot finish (a column of its name added by
	 * hand) changes nothing: still version 5, whole.
	 */
	exec_sql("ALTER TABLE refusals ADD COLUMN authentic TEXT");
	assert_not_migrated(6, "authentic", 5);
	ck_assert_int_eq(q_int("SELECT count(*) FROM refusals WHERE"
	    " authentic IS NULL"), 3);
	exec_sql("ALTER TABLE refusals DROP COLUMN authentic");

	/* Refused half an hour ago, whenever this runs. */
	exec_sql("UPDATE refusals SET first_refused_at ="
	    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 minutes'),"
	    " last_refused_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')");
	s = open_store_with(&o);
	ck_assert_int_eq(store_start(s, err, sizeof(err)), 0);
	/* Older than a second: only the authentic one is at risk. */
	stats_when(s, 3, 1);
	store_close(s);
	ck_assert_int_eq(q_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	ck_assert_str_eq(q_text("PRAGMA integrity_check"), "ok");
	ck_assert_str_eq(q_text("SELECT group_concat(status || '/' || authentic"
	    " || '/' || refusal_count, ' ') FROM (SELECT * FROM refusals ORDER"
	    " BY status)"), "400/0/1 401/0/1 503/1/2");
	ck_assert_str_eq(q_text("SELECT object_id FROM refusals WHERE"
	    " authentic"), "PR-V5-503");
	assert_checks_cheap();
	assert_one_key();
	/* The column takes nothing but 0 and 1. */
	exec_sql("UPDATE refusals SET authentic = 1 WHERE status = 400");
	ck_assert_int_eq(exec_sql_rc("UPDATE refusals SET authentic = 2"),
	    SQLITE_CONSTRAINT);
}
END_TEST

/*
 * A database written by antomd with schema version 7 (tests/data, made
 * by the previous release with antomctl send): it migrates in place,
 * keeping every row, and the notifications version 7 archived but this
 * version reads (docs/protocol.md section 4: PAYMENT_PENDING with F, a
 * refund whose refundStatus is FAIL, a result U, a dispute carrying a
 * notifyType) go through the state machine in the same transaction.
 *
 *   1 payment PR-V7-1 S       2 capture CR-V7-1      3 refund RR-V7-1,
 *   4 PENDING F PR-V7-2       5 refund RR-V7-3 S/FAIL   its body naming
 *   6 payment PR-V7-4 U       7 PENDING F PR-V7-5       P-V7-1 (by hand)
 *   8 PR-V7-5 S               9 dispute D-V7-6 with notifyType DISPUTE
 *  10 refund RR-V7-7 S       11 refund RR-V7-8 F/FAIL
 */
/*
 * Deliver again, as Antom would, the body of notification id, with its
 * client id: a repeat, counted on that row.
 */
static void
redeliver_stored(int64_t id, enum store_outcome want)
{
	struct store_delivery d;
	struct store_result r;
	struct notif n;
	struct store *s;
	char sql[128], *body, *client;
	long long count;

	snprintf(sql, sizeof(sql), "SELECT body FROM notifications WHERE"
	    " id = %lld", (long long)id);
	body = xstrdup(q_text(sql));
	snprintf(sql, sizeof(sql), "SELECT client_id FROM notifications WHERE"
	    " id = %lld", (long long)id);
	client = xstrdup(q_text(sql));
	snprintf(sql, sizeof(sql), "SELECT delivery_count FROM notifications"
	    " WHERE id = %lld", (long long)id);
	count = q_int(sql);
	delivery_init(&d, &n, body);
	d.client_id = client;
	store_hash_body(&d);
	d.notif = &n;
	s = open_store(1);
	ck_assert_int_eq(store_apply(s, &d, &r), 0);
	store_close(s);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(r.repeat, 1);
	ck_assert_int_eq(r.outcome, want);
	ck_assert_int_eq(r.notification_id, id);
	ck_assert_int_eq(r.delivery_count, count + 1);
	ck_assert_int_eq(q_int(sql), count + 1);
	notif_free(&n);
	free(body);
	free(client);
}

START_TEST(test_migrate_v7)
{
	static const char timeline[] = "SELECT group_concat(object_type || ':'"
	    " || new_status, ' ') FROM (SELECT * FROM payment_timeline WHERE"
	    " payment_request_id = 'PR-V7-1' ORDER BY seq)";
	struct store *s;

	copy_fixture("antomd-schema-v7.db");
	ck_assert_int_eq(q_int("PRAGMA user_version"), 7);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications WHERE"
	    " kind = 'other'"), 5);

	/*
	 * All or nothing: a merchant's trigger that refuses the first
	 * payment read again undoes the whole migration.
	 */
	exec_sql("CREATE TRIGGER my_no_new_payments BEFORE INSERT ON payments"
	    " BEGIN SELECT RAISE(ABORT, 'no new payments'); END;");
	assert_not_migrated(8, "notification 4", 7);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE"
	    " name IN ('refund_links', 'antomd_replay')"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM payments"), 2);
	exec_sql("DROP TRIGGER my_no_new_payments");

	s = open_store(1);
	store_close(s);
	ck_assert_int_eq(q_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	ck_assert_str_eq(q_text("PRAGMA integrity_check"), "ok");
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master WHERE"
	    " name = 'antomd_replay'"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications"), 11);
	/*
	 * What was archived now reads as its kind and says what judging it
	 * did: no archive reason left, the dispute's stage as its type.
	 */
	ck_assert_str_eq(q_text("SELECT group_concat(id || ':' || kind || ':'"
	    " || outcome || ':' || notify_type, ' ') FROM notifications WHERE"
	    " id IN (4, 5, 6, 7, 9)"), "4:payment:applied:PAYMENT_PENDING"
	    " 5:refund:applied:REFUND_RESULT 6:payment:applied:PAYMENT_RESULT"
	    " 7:payment:conflict:PAYMENT_PENDING"
	    " 9:dispute:applied:DISPUTE_CREATED");
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications WHERE"
	    " archive_reason IS NOT NULL"), 0);
	ck_assert_str_eq(q_text("SELECT group_concat(payment_request_id || ':'"
	    " || status, ' ') FROM (SELECT * FROM payments ORDER BY"
	    " payment_request_id)"), "PR-V7-1:SUCCESS PR-V7-2:FAIL"
	    " PR-V7-4:PENDING PR-V7-5:SUCCESS");
	/* A failure after the success it preceded contradicts it: noted. */
	ck_assert_str_eq(q_text("SELECT discrepancy FROM notifications WHERE"
	    " id = 7"), "status SUCCESS -> FAIL");
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications WHERE"
	    " discrepancy IS NOT NULL"), 1);
	ck_assert_str_eq(q_text("SELECT group_concat(refund_request_id || ':'"
	    " || status || ':' || link, ' ') FROM (SELECT * FROM refund_status"
	    " ORDER BY refund_request_id)"), "RR-V7-1:SUCCESS:linked"
	    " RR-V7-3:FAIL:unlinked RR-V7-7:SUCCESS:unlinked"
	    " RR-V7-8:FAIL:unlinked");
	ck_assert_str_eq(q_text("SELECT stage || '/' || payment_request_id"
	    " FROM disputes WHERE dispute_id = 'D-V7-6'"),
	    "DISPUTE_CREATED/PR-V7-1");
	/* Each read again wrote one event, pointing at its notification. */
	ck_assert_str_eq(q_text("SELECT group_concat(notification_id, ' ') FROM"
	    " (SELECT notification_id FROM events WHERE notification_id IN"
	    " (4, 5, 6, 7, 9) ORDER BY seq)"), "4 5 6 9");
	ck_assert_str_eq(q_text("SELECT captured_amount_value || '/' ||"
	    " refunded_amount_value FROM payment_status WHERE"
	    " payment_request_id = 'PR-V7-1'"), "4200/1000");
	ck_assert_str_eq(q_text(timeline), "payment:SUCCESS capture:SUCCESS"
	    " refund:SUCCESS dispute:DISPUTE_CREATED");
	/* The application links a refund Antom sent without its payment. */
	link_refund("V7_CLIENT", "RR-V7-7", "PR-V7-1", 0);
	ck_assert_str_eq(q_text("SELECT captured_amount_value || '/' ||"
	    " refunded_amount_value FROM payment_status WHERE"
	    " payment_request_id = 'PR-V7-1'"), "4200/1500");
	ck_assert_str_eq(q_text(timeline), "payment:SUCCESS capture:SUCCESS"
	    " refund:SUCCESS refund:SUCCESS dispute:DISPUTE_CREATED");
	assert_checks_cheap();
	assert_one_key();
	/*
	 * Antom's redelivery of what the release before stored, and of what
	 * this one read again, is found by the one key: counted, not stored
	 * twice.
	 */
	redeliver_stored(1, STORE_DUPLICATE);
	redeliver_stored(4, STORE_DUPLICATE);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications"), 11);
}
END_TEST

/*
 * Schema 5: no CHECK makes SQLite build a temporary b-tree for every row
 * written (what an IN list of more than two constants does), and each
 * CHECK still takes exactly the values it names.  For a database made
 * fresh or migrated.
 */
static void
assert_checks_cheap(void)
{
	static const struct {
		const char *sql, *good[6];
	} checks[] = {
		{ "INSERT INTO notifications (client_id, body_sha256, body,"
		  " request_time, signature, signed_path, key_version, kind,"
		  " outcome, first_received_at, last_received_at) VALUES"
		  " ('CK', 'H' || ?1, x'00', 't', 's', '/p', 1, ?2, 'applied',"
		  " 't', 't')",
		  { "payment", "capture", "refund", "dispute", "vaulting",
		    "other" } },
		{ "INSERT INTO notifications (client_id, body_sha256, body,"
		  " request_time, signature, signed_path, key_version, kind,"
		  " outcome, first_received_at, last_received_at) VALUES"
		  " ('CK', 'O' || ?1, x'00', 't', 's', '/p', 1, 'other', ?2,"
		  " 't', 't')",
		  { "applied", "duplicate", "ignored", "conflict", "archived" } },
		{ "INSERT INTO payments (payment_request_id, client_id, status,"
		  " notification_id, created_at, updated_at) VALUES"
		  " ('CK' || ?1, 'CK', ?2, 1, 't', 't')",
		  { "PENDING", "SUCCESS", "FAIL" } },
		{ "INSERT INTO events (created_at, client_id, object_type,"
		  " object_id, new_status, notification_id) VALUES"
		  " ('t', 'CK' || ?1, ?2, 'O', 'S', 1)",
		  { "payment", "capture", "refund", "dispute", "vaulting" } },
		{ "INSERT INTO vaultings (vaulting_request_id, client_id, status,"
		  " notification_id, created_at, updated_at) VALUES"
		  " ('CK' || ?1, 'CK', ?2, 1, 't', 't')",
		  { "PENDING", "SUCCESS", "FAIL" } },
	};
	static const char *const bad[] = { "bogus", "payment ", "Payment",
	    "" };
	sqlite3 *db;
	sqlite3_stmt *tables, *ex;
	char ins[128];
	size_t i, j;
	int n = 0;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master"
	    " WHERE type = 'table' AND name NOT LIKE 'sqlite%'", -1, &tables,
	    NULL), SQLITE_OK);
	while (sqlite3_step(tables) == SQLITE_ROW) {
		snprintf(ins, sizeof(ins), "EXPLAIN INSERT INTO \"%s\""
		    " DEFAULT VALUES", sqlite3_column_text(tables, 0));
		ck_assert_int_eq(sqlite3_prepare_v2(db, ins, -1, &ex, NULL),
		    SQLITE_OK);
		while (sqlite3_step(ex) == SQLITE_ROW)
			ck_assert_msg(strcmp((const char *)sqlite3_column_text(
			    ex, 1), "OpenEphemeral") != 0, "%s: %s", ins,
			    "a CHECK builds a temporary b-tree per row");
		sqlite3_finalize(ex);
		n++;
	}
	sqlite3_finalize(tables);
	ck_assert_int_ge(n, 8);

	ck_assert_int_eq(sqlite3_exec(db, "SAVEPOINT ck", NULL, NULL, NULL),
	    SQLITE_OK);
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		sqlite3_stmt *st;

		ck_assert_int_eq(sqlite3_prepare_v2(db, checks[i].sql, -1, &st,
		    NULL), SQLITE_OK);
		for (j = 0; j < 6 && checks[i].good[j] != NULL; j++) {
			sqlite3_bind_int(st, 1, n++);
			sqlite3_bind_text(st, 2, checks[i].good[j], -1,
			    SQLITE_STATIC);
			ck_assert_msg(sqlite3_step(st) == SQLITE_DONE, "%s: %s",
			    checks[i].good[j], sqlite3_errmsg(db));
			sqlite3_reset(st);
		}
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			sqlite3_bind_int(st, 1, n++);
			sqlite3_bind_text(st, 2, bad[j], -1, SQLITE_STATIC);
			ck_assert_int_eq(sqlite3_step(st), SQLITE_CONSTRAINT);
			ck_assert_int_eq(sqlite3_extended_errcode(db),
			    SQLITE_CONSTRAINT_CHECK);
			sqlite3_reset(st);
		}
		sqlite3_finalize(st);
	}
	ck_assert_int_eq(sqlite3_exec(db, "ROLLBACK TO ck; RELEASE ck", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

START_TEST(test_checks_cheap)
{
	struct store *s = open_store(1);

	store_close(s);
	assert_checks_cheap();
}
END_TEST

/*
 * The generator's other placeholder style ($N, for PostgreSQL) gives the
 * same statements: SQLite reads $1 as a named parameter, so they prepare
 * against the real schema, and differ from the ?N text in the marks only.
 */
START_TEST(test_upserts_placeholder_style)
{
	const char *q[S_RFS_FIRST - S_STATE_FIRST];
	const char *d[S_RFS_FIRST - S_STATE_FIRST];
	char *qtext, *dtext, *p;
	struct store *s = open_store(1);
	sqlite3_stmt *st;
	size_t i;
	int k;

	ck_assert_int_eq(store_state_sql_build('?', q, &qtext), 0);
	ck_assert_int_eq(store_state_sql_build('$', d, &dtext), 0);
	for (i = 0; i < STORE_UPSERTS + 1; i++) {
		k = i < STORE_UPSERTS ?
		    store_upserts[i].which - S_STATE_FIRST : S_DIS_FILL - S_STATE_FIRST;
		ck_assert_str_eq(q[k], sqlite3_sql(s->w.stmt[k +
		    S_STATE_FIRST]));
		ck_assert_ptr_null(strchr(d[k], '?'));
		ck_assert_ptr_nonnull(strstr(d[k], "$1"));
		ck_assert_int_eq(sqlite3_prepare_v2(s->w.db, d[k], -1, &st,
		    NULL), SQLITE_OK);
		/* The fill skips the numbers of the columns it keeps. */
		if (k != S_DIS_FILL - S_STATE_FIRST)
			ck_assert_int_eq(sqlite3_bind_parameter_count(st),
			    sqlite3_bind_parameter_count(s->w.stmt[k +
			    S_STATE_FIRST]));
		sqlite3_finalize(st);
		ck_assert_uint_eq(strlen(q[k]), strlen(d[k]));
		p = strdup(d[k]);
		for (char *c = p; *c != '\0'; c++)
			if (*c == '$')
				*c = '?';
		ck_assert_str_eq(p, q[k]);
		free(p);
	}
	/* The hand-written ones are shared, not copied. */
	ck_assert_ptr_eq(q[S_PAY_GET - S_STATE_FIRST],
	    d[S_PAY_GET - S_STATE_FIRST]);
	free(qtext);
	free(dtext);
	store_close(s);
}
END_TEST

/*
 * Every lookup a merchant application makes by id is an index search,
 * with no statistics (no ANALYZE has ever run): never a scan, and never a
 * search on client_id alone, which walks all of a client's rows.
 */
START_TEST(test_query_plans)
{
	static const char *const queries[] = {
		"SELECT * FROM payment_status WHERE client_id = 'C' AND"
		" payment_request_id = 'X'",
		"SELECT * FROM payment_timeline WHERE client_id = 'C' AND"
		" payment_request_id = 'X' ORDER BY seq",
		"SELECT * FROM payment_captures WHERE client_id = 'C' AND"
		" payment_request_id = 'X'",
		"SELECT * FROM payments WHERE client_id = 'C' AND payment_id = 'X'",
		"SELECT * FROM captures WHERE client_id = 'C' AND payment_id = 'X'",
		"SELECT * FROM refunds WHERE client_id = 'C' AND payment_id = 'X'",
		"SELECT * FROM disputes WHERE client_id = 'C' AND payment_id = 'X'",
		"SELECT * FROM vaultings WHERE client_id = 'C' AND"
		" vaulting_request_id = 'X'",
		"SELECT * FROM refund_status WHERE client_id = 'C' AND"
		" refund_request_id = 'X'",
		"SELECT * FROM refund_payment WHERE client_id = 'C' AND"
		" payment_id = 'X'",
		"SELECT * FROM refund_links WHERE client_id = 'C' AND"
		" payment_request_id = 'X'",
		"SELECT * FROM notifications WHERE object_id = 'X'",
		"SELECT * FROM events WHERE seq > 10 ORDER BY seq LIMIT 100",
		/* antomctl inspect */
		"SELECT * FROM events WHERE notification_id IN (SELECT id FROM"
		" notifications WHERE object_id = 'X' AND client_id = 'C') AND"
		" object_type = 'payment' ORDER BY seq",
	};
	sqlite3 *db;
	sqlite3_stmt *st;
	char sql[512];
	const char *detail;
	size_t i;

	store_close(open_store(1));
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", queries[i]);
		ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
		    SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			detail = (const char *)sqlite3_column_text(st, 3);
			ck_assert_msg(strncmp(detail, "SCAN", 4) != 0 &&
			    strstr(detail, "(client_id=?)") == NULL,
			    "%s: %s", queries[i], detail);
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}
END_TEST

START_TEST(test_busy_is_failure)
{
	struct store *s = open_store(1);
	char *b = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);
	struct store_delivery d;
	struct store_result r;
	struct notif n;
	struct storedb_hold *other;

	/* Another process holds the write lock beyond busy_timeout. */
	other = storedb_hold(database, "payments");
	delivery_init(&d, &n, b);
	store_hash_body(&d);
	d.notif = &n;
	ck_assert_int_eq(store_apply(s, &d, &r), -1);
	ck_assert_int_eq(r.status, -1);
	storedb_release(other);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications"), 0);
	/* The same delivery succeeds once the lock is gone. */
	ck_assert_int_eq(store_apply(s, &d, &r), 0);
	ck_assert_int_eq(r.outcome, STORE_APPLIED);
	notif_free(&n);
	store_close(s);
	free(b);
}
END_TEST

static void
wjob_done_count(struct store_job *j)
{
	struct wjob *w = j->arg;

	pthread_mutex_lock(w->lock);
	(*w->left)--;
	pthread_cond_signal(w->cond);
	pthread_mutex_unlock(w->lock);
}

/*
 * Have the writer store payments CK<from>.. CK<from + njobs - 1>, queued
 * as fast as it takes them, and return the largest WAL file seen
 * meanwhile.
 */
static off_t
feed_writer(struct store *s, int from, int njobs)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	struct wjob *w = calloc((size_t)njobs, sizeof(*w));
	char prid[32], wal[160];
	struct stat sb;
	off_t max = 0;
	int i, rc, left = njobs;

	ck_assert_ptr_nonnull(w);
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	for (i = 0; i < njobs; i++) {
		snprintf(prid, sizeof(prid), "CK%d", from + i);
		wjob_init(&w[i], prid, &lock, &cond, &left);
		w[i].job.done = wjob_done_count;
		/* The queue holds 1024: the rest wait their turn. */
		while ((rc = store_submit(s, &w[i].job)) == STORE_SUBMIT_FULL)
			usleep(1000);
		ck_assert_int_eq(rc, 0);
	}
	pthread_mutex_lock(&lock);
	while (left > 0) {
		pthread_mutex_unlock(&lock);
		if (stat(wal, &sb) == 0 && sb.st_size > max)
			max = sb.st_size;
		usleep(2000);
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	for (i = 0; i < njobs; i++) {
		ck_assert_int_eq(w[i].job.r.status, 0);
		notif_free(&w[i].n);
		free(w[i].body);
	}
	free(w);
	return max;
}

/*
 * The checkpointer thread copies the WAL beside the writer, and the WAL
 * still starts over (SQLite restarts it only once all of it is copied):
 * it stays near 32 MiB however much is written (without the writer's
 * restart waits, 20,000 of these notifications grow it to 125 MiB).  A
 * reader on an old snapshot lets it grow without stalling the writer;
 * once the reader is gone it starts over and shrinks back to
 * journal_size_limit, 40 MiB.
 */
START_TEST(test_checkpointer)
{
	struct store *s = open_store(64);
	struct store_stats st;
	char err[128], wal[160];
	struct stat sb;
	sqlite3 *reader;
	off_t max;
	uint64_t t0;
	int i;

	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	ck_assert_int_eq(store_start(s, err, sizeof(err)), 0);
	max = feed_writer(s, 0, 20000);
	store_stats(s, &st);
	ck_assert_uint_gt(st.checkpoints, 10);
	ck_assert_msg(max > 24 << 20 && max < 40 << 20, "WAL reached %lld "
	    "bytes", (long long)max);

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &reader, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM"
	    " notifications", NULL, NULL, NULL), SQLITE_OK);
	t0 = util_mono_us();
	/* About 2.8 KiB of WAL a notification since schema 9. */
	max = feed_writer(s, 20000, 24000);
	ck_assert_msg(max > 48 << 20, "WAL reached only %lld bytes",
	    (long long)max);
	/* Waits for the checkpointer at most once a second: not per batch. */
	ck_assert_msg(util_mono_us() - t0 < 30 * 1000000u, "took %llu us",
	    (unsigned long long)(util_mono_us() - t0));
	ck_assert_int_eq(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(reader);

	for (i = 0; i < 100; i++) {
		feed_writer(s, 44000 + i * 100, 100);
		if (stat(wal, &sb) == 0 && sb.st_size <= 40 << 20)
			break;
		usleep(50000);
	}
	ck_assert_int_eq(stat(wal, &sb), 0);
	ck_assert_msg(sb.st_size <= 40 << 20, "WAL still %lld bytes",
	    (long long)sb.st_size);
	store_close(s);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications"),
	    44000 + (i + 1) * 100);
	ck_assert_str_eq(q_text("PRAGMA integrity_check"), "ok");
}
END_TEST

/*
 * A database locked by another process: the writer waits in BEGIN, the
 * queue fills to queue_max and further submits are refused; store_abort()
 * (shutdown out of time) ends the wait at once and fails every job
 * without writing anything.
 */
START_TEST(test_queue_full_and_abort)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	struct store_options o = { 30000, 4, 3, 0, 0 };
	struct wjob w[5];
	struct store *s;
	struct storedb_hold *other;
	char err[128];
	uint64_t t0;
	int i, left = 4;

	store_close(open_store(1));
	s = open_store_with(&o);
	other = storedb_hold(database, "payments");
	ck_assert_int_eq(store_start(s, err, sizeof(err)), 0);
	memset(w, 0, sizeof(w));
	for (i = 0; i < 5; i++) {
		char prid[16];

		snprintf(prid, sizeof(prid), "Q%d", i);
		wjob_init(&w[i], prid, &lock, &cond, &left);
	}
	/* The first job is taken by the writer, which then waits on the lock. */
	ck_assert_int_eq(store_submit(s, &w[0].job), STORE_SUBMIT_OK);
	usleep(200 * 1000);
	for (i = 1; i < 4; i++)
		ck_assert_int_eq(store_submit(s, &w[i].job), STORE_SUBMIT_OK);
	ck_assert_int_eq(store_submit(s, &w[4].job), STORE_SUBMIT_FULL);

	t0 = (uint64_t)time(NULL);
	store_abort(s);
	pthread_mutex_lock(&lock);
	while (left > 0)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	/* Far sooner than the 30 s busy timeout. */
	ck_assert_uint_le((uint64_t)time(NULL) - t0, 2);
	store_stop(s);
	store_close(s);
	storedb_release(other);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(w[i].job.r.status, -1);
	for (i = 0; i < 5; i++) {
		notif_free(&w[i].n);
		free(w[i].body);
	}
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications"), 0);
}
END_TEST

Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	/* SQLite's alone: see the top of this file. */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_schema);
	tcase_add_test(tc, test_newer_schema_refused);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_engine_from_database);
	tcase_add_test(tc, test_migrate_v1);
	tcase_add_test(tc, test_query_plans);
	tcase_add_test(tc, test_checks_cheap);
	tcase_add_test(tc, test_upserts_placeholder_style);
	tcase_add_test(tc, test_checkpointer);
	tcase_add_test(tc, test_migrate_v2);
	tcase_add_test(tc, test_migrate_all_or_nothing);
	tcase_add_test(tc, test_migrate_v7_all_or_nothing);
	tcase_add_test(tc, test_migrate_v5);
	tcase_add_test(tc, test_migrate_v7);
	tcase_add_test(tc, test_migrate_v9_all_or_nothing);
	tcase_add_test(tc, test_busy_is_failure);
	tcase_add_test(tc, test_queue_full_and_abort);
	suite_add_tcase(s, tc);

	tc = tcase_create("state");
	tcase_add_checked_fixture(tc, setup, teardown);
	store_state_tests(tc);
	suite_add_tcase(s, tc);
	return s;
}
