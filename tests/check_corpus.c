/*
 * check_corpus.c - every notification body Antom itself publishes
 * (tests/corpus: its documentation and its official SDKs, each file's
 * source in tests/corpus/MANIFEST) through the real antomd, and what it
 * stored, column by column (tests/corpus/EXPECT), with antomd on SQLite
 * (case "daemon") and on PostgreSQL (case "pg": the same SQL, read there).
 *
 * Each body is signed with the test key exactly as it was published, for
 * a client id of its own, so that samples reusing Antom's placeholder ids
 * ("paymentRequestId01") stay apart.  A kind for which Antom publishes no
 * example has a "# none:" line in MANIFEST saying what was searched; the
 * test requires one for each kind that has no file, and prints them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "antom.h"
#include "client.h"
#include "sign.h"
#include "e2e.h"
#include "suites.h"

#define CORPUS_MAX	64

static const char *const corpus_kinds[] = { "payment", "capture", "refund",
    "dispute", "vaulting", "authorization", "subscription", "other" };

struct corpus_file {
	char	name[128];
	char	kind[32];
	char	client[32];
};

/* The files MANIFEST names, in its order, each with a client id. */
static size_t
corpus_read(struct corpus_file *f, char **none)
{
	char path[512], *text, *line, *rest, *tab;
	size_t n = 0;

	text = test_slurp(test_path(path, sizeof(path), "corpus/MANIFEST"),
	    NULL);
	*none = calloc(1, strlen(text) + 1);
	ck_assert_ptr_nonnull(*none);
	for (rest = text; (line = strsep(&rest, "\n")) != NULL; ) {
		if (strncmp(line, "# none: ", 8) == 0) {
			strcat(*none, line);
			strcat(*none, "\n");
			continue;
		}
		if (line[0] == '#' || line[0] == '\0')
			continue;
		ck_assert_int_lt(n, CORPUS_MAX);
		ck_assert_ptr_nonnull(tab = strchr(line, '\t'));
		snprintf(f[n].name, sizeof(f[n].name), "%.*s", (int)(tab - line),
		    line);
		line = tab + 1;
		ck_assert_ptr_nonnull(tab = strchr(line, '\t'));
		snprintf(f[n].kind, sizeof(f[n].kind), "%.*s", (int)(tab - line),
		    line);
		snprintf(f[n].client, sizeof(f[n].client), "CORPUS_%zu", n + 1);
		n++;
	}
	free(text);
	return n;
}

/* Sign body as Antom would for client and POST it; asserts SUCCESS. */
static void
corpus_deliver(const char *client, const char *body, size_t len,
    const char *name)
{
	struct client_response r;
	char hdr[SIGN_HEADER_MAX], err[256], *req;
	int st;

	ck_assert_msg(sign_request(e2e_test_key(),
	    &(struct verify_content){ "/antom/notify", client, "1685599933871",
	    (const unsigned char *)body, len }, NULL, hdr, sizeof(hdr), err,
	    sizeof(err)) == 0, "sign: %s", err);
	ck_assert_int_gt(asprintf(&req, "POST /antom/notify HTTP/1.1\r\n"
	    "Host: localhost\r\nContent-Type: application/json; charset=UTF-8"
	    "\r\nclient-id: %s\r\nrequest-time: 1685599933871\r\n"
	    "signature: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
	    "\r\n%.*s", client, hdr, len, (int)len, body), 0);
	memset(&r, 0, sizeof(r));
	st = e2e_send(e2e.port, req, strlen(req), &r);
	ck_assert_msg(st == 200 && r.body != NULL &&
	    strcmp(r.body, ANTOM_SUCCESS_BODY) == 0, "%s: status %d, %s", name,
	    st, r.body != NULL ? r.body : "(no body)");
	client_response_free(&r);
	free(req);
}

/* sql with every {C} replaced by client; caller frees. */
static char *
corpus_sql(const char *sql, const char *client)
{
	char *out = calloc(1, strlen(sql) * 2 + 64), *o = out;
	const char *at;

	ck_assert_ptr_nonnull(out);
	while ((at = strstr(sql, "{C}")) != NULL) {
		memcpy(o, sql, (size_t)(at - sql));
		o += at - sql;
		o += sprintf(o, "%s", client);
		sql = at + 3;
	}
	strcpy(o, sql);
	return out;
}

START_TEST(test_corpus)
{
	struct corpus_file f[CORPUS_MAX];
	char path[512], rel[256], clients[CORPUS_MAX * 160], pem[512];
	char *none, *body;
	char *expect, *line, *rest, *sql;
	size_t n, i, k, len, c = 0, checks = 0;
	int *checked;

	n = corpus_read(f, &none);
	ck_assert_int_gt(n, 0);
	/* Each kind has a body, or a line saying there is none to be had. */
	for (k = 0; k < sizeof(corpus_kinds) / sizeof(corpus_kinds[0]); k++) {
		int found = 0;
		char want[64];

		for (i = 0; i < n; i++)
			found |= strcmp(f[i].kind, corpus_kinds[k]) == 0;
		snprintf(want, sizeof(want), "# none: %s", corpus_kinds[k]);
		ck_assert_msg(found || strstr(none, want) != NULL,
		    "tests/corpus: no %s body and no \"%s\" line",
		    corpus_kinds[k], want);
	}
	fprintf(stderr, "test_corpus: %zu published bodies; no public "
	    "example for:\n%s", n, none);

	test_path(pem, sizeof(pem), "vectors/test-antom-public.pem");
	for (i = 0; i < n; i++)
		c += (size_t)snprintf(clients + c, sizeof(clients) - c,
		    "client %s 1 %s\n", f[i].client, pem);
	e2e_conf_clients = clients;
	e2e_write_conf(NULL);
	e2e_conf_clients = NULL;
	e2e_start_daemon();
	for (i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "corpus/%.127s", f[i].name);
		body = test_slurp(test_path(path, sizeof(path), rel), &len);
		corpus_deliver(f[i].client, body, len, f[i].name);
		free(body);
	}
	ck_assert_int_eq(e2e_stop_daemon(), 0);

	/* Nothing Antom published is merely archived. */
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM notifications"),
	    (long long)n);
	ck_assert_str_eq(e2e_q_text("SELECT coalesce(group_concat(client_id"
	    " || ':' || archive_reason), '') FROM notifications WHERE"
	    " outcome <> 'applied'"), "");

	checked = calloc(n, sizeof(*checked));
	ck_assert_ptr_nonnull(checked);
	expect = test_slurp(test_path(path, sizeof(path), "corpus/EXPECT"),
	    NULL);
	for (rest = expect; (line = strsep(&rest, "\n")) != NULL; ) {
		char *file, *want;

		if (line[0] == '#' || line[0] == '\0')
			continue;
		file = strsep(&line, "\t");
		sql = strsep(&line, "\t");
		want = line;
		ck_assert_msg(sql != NULL && want != NULL, "EXPECT: %s", file);
		for (i = 0; i < n && strcmp(f[i].name, file) != 0; i++)
			;
		ck_assert_msg(i < n, "EXPECT names %s, not in MANIFEST", file);
		sql = corpus_sql(sql, f[i].client);
		ck_assert_msg(strcmp(e2e_q_text(sql), want) == 0,
		    "%s: %s\n got  %s\n want %s", file, sql, e2e_q_text(sql),
		    want);
		free(sql);
		checked[i] = 1;
		checks++;
	}
	/* Every published body has what it stored checked. */
	for (i = 0; i < n; i++)
		ck_assert_msg(checked[i], "tests/corpus/EXPECT: nothing checked"
		    " for %s", f[i].name);
	fprintf(stderr, "test_corpus: %zu checks\n", checks);
	free(checked);
	free(expect);
	free(none);
}
END_TEST

Suite *
corpus_suite(void)
{
	Suite *s = suite_create("corpus");
	TCase *tc = tcase_create("daemon");

	tcase_add_checked_fixture(tc, e2e_setup_bare, e2e_teardown);
	tcase_add_test(tc, test_corpus);
	suite_add_tcase(s, tc);
	/* The same bodies, the same columns, antomd on PostgreSQL. */
	tc = e2e_pg_tcase("corpus", e2e_setup_bare, e2e_teardown);
	if (tc != NULL) {
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, test_corpus);
		suite_add_tcase(s, tc);
	}
	return s;
}
