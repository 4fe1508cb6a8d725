/*
 * check_alerts.c - the monitoring files antomd ships, checked as an
 * operator's Prometheus and Grafana would read them:
 * conf/prometheus/antomd-rules.yml (promtool check rules, and the unit
 * tests of tests/prometheus/ that fire and hold back every alert) and
 * conf/grafana/antomd.json (a dashboard Grafana imports: its shape, and
 * every query parsed by promtool as the expression of a recording rule).
 * Both may name only metrics and labels a running antomd exports: the
 * names come from a real scrape of the daemon, so they cannot drift.
 *
 * promtool is Debian's prometheus package (make deps-test installs it):
 * without it these tests fail, as check_ops's do without python3.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "e2e.h"
#include "suites.h"

#define PROMTOOL	"/usr/bin/promtool"
#define AL_RULES	"../conf/prometheus/antomd-rules.yml"
#define AL_RULES_TEST	"prometheus/antomd-rules.test.yml"
#define AL_DASHBOARD	"../conf/grafana/antomd.json"
#define AL_EXPRS_MAX	128
#define AL_NLISTKW	6
/* The alerts in antomd-rules.yml: one more wants a test and a mutant. */
#define AL_NRULES	12

/* Expressions found in a file; each malloc'd. */
struct al_exprs {
	char	*v[AL_EXPRS_MAX];
	size_t	 n;
};

static void
al_setup(void)
{
	e2e_setup_dirs("alerts");
}

static void
al_exprs_free(struct al_exprs *x)
{
	while (x->n > 0)
		free(x->v[--x->n]);
}

static void
al_exprs_add(struct al_exprs *x, char *expr)
{
	ck_assert_ptr_nonnull(expr);
	ck_assert_uint_lt(x->n, AL_EXPRS_MAX);
	x->v[x->n++] = expr;
}

/*
 * Run promtool with args (paths, no quoting needed: they are ours);
 * its exit status, and its output in *out (caller frees) when out is set.
 */
static int
al_promtool(const char *args, char **out)
{
	char *cmd, path[160];
	int st;

	ck_assert_msg(access(PROMTOOL, X_OK) == 0, "%s not found: install "
	    "Debian's prometheus package (as root, make deps-test)", PROMTOOL);
	snprintf(path, sizeof(path), "%s/promtool.out", e2e.dir);
	cmd = test_fmt("%s %s >%s 2>&1", PROMTOOL, args, path);
	st = system(cmd);
	free(cmd);
	ck_assert_msg(st != -1 && WIFEXITED(st), "promtool did not run");
	if (out != NULL)
		*out = test_slurp(path, NULL);
	return WEXITSTATUS(st);
}

/*
 * The expressions of a rules file as antomd-rules.yml writes them:
 * "expr: EXPR" on one line, or "expr: |" and the lines indented deeper.
 * Not a YAML parser: promtool check rules has read the file already.
 */
static void
al_rule_exprs(const char *yml, struct al_exprs *x)
{
	const char *p = yml, *e, *v;
	size_t ind;

	while ((p = strstr(p, "expr:")) != NULL) {
		for (ind = 0; p - ind > yml && p[-(long)ind - 1] == ' '; ind++)
			;
		v = p + 5;
		while (*v == ' ')
			v++;
		if (strncmp(v, "|\n", 2) != 0) {
			e = strchr(v, '\n');
			al_exprs_add(x, strndup(v, e != NULL ? (size_t)(e - v) :
			    strlen(v)));
			p = v;
			continue;
		}
		/* A block: every following line indented more than "expr:". */
		v += 2;
		for (e = v; *e != '\0'; e = strchr(e, '\n') + 1) {
			size_t i = strspn(e, " ");

			if (e[i] != '\n' && i <= ind)
				break;
			if (strchr(e, '\n') == NULL) {
				e += strlen(e);
				break;
			}
		}
		al_exprs_add(x, strndup(v, (size_t)(e - v)));
		p = e;
	}
}

/*
 * What Grafana substitutes before a query reaches Prometheus: its
 * interval variables, replaced by a duration.  Caller frees.
 */
static char *
al_grafana_subst(const char *expr)
{
	static const char *const vars[] = {
		"$__rate_interval", "$__interval", "$__range",
	};
	char *s = strdup(expr), *p, *t;
	size_t i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		while ((p = strstr(s, vars[i])) != NULL) {
			t = test_fmt("%.*s5m%s", (int)(p - s), s,
			    p + strlen(vars[i]));
			free(s);
			s = t;
		}
	return s;
}

/*
 * The dashboard's queries: every target's expr, and the metric (first
 * argument) and label of each label_values() variable as "metric" and
 * "{label=""}" so the name check reads them the same way.
 */
static void
al_dash_exprs(json_t *d, struct al_exprs *x)
{
	json_t *panel, *target, *var, *q;
	size_t i, j;
	const char *s, *comma;

	json_array_foreach(json_object_get(d, "panels"), i, panel)
		json_array_foreach(json_object_get(panel, "targets"), j, target)
			if ((s = json_string_value(json_object_get(target,
			    "expr"))) != NULL)
				al_exprs_add(x, al_grafana_subst(s));
	json_array_foreach(json_object_get(json_object_get(d, "templating"),
	    "list"), i, var) {
		q = json_object_get(var, "query");
		if (json_is_object(q))
			q = json_object_get(q, "query");
		s = json_string_value(q);
		if (s == NULL || strncmp(s, "label_values(", 13) != 0 ||
		    (comma = strchr(s, ',')) == NULL)
			continue;
		al_exprs_add(x, test_fmt("%.*s{%.*s=\"\"}", (int)(comma - s - 13),
		    s + 13, (int)strcspn(comma + 1, ")"), comma + 1));
	}
}

/*
 * 0 when d is a dashboard Grafana imports as it is, else -1 and why:
 * the top-level keys, a Prometheus data source to choose (a datasource
 * variable or an __inputs entry), unique panel ids, and every panel
 * placed, titled and with targets that each hold an expr.
 */
static int
al_dash_shape(json_t *d, char *why, size_t cap)
{
	json_t *panels = json_object_get(d, "panels"), *panel, *t, *v;
	json_t *ids = json_object(), *refs;
	const char *ds = NULL, *expr, *ref;
	char key[32];
	size_t i, j;
	int rc = -1;

	if (!json_is_string(json_object_get(d, "title")) ||
	    !json_is_string(json_object_get(d, "uid")) ||
	    !json_is_integer(json_object_get(d, "schemaVersion")) ||
	    !json_is_array(panels) || json_array_size(panels) == 0) {
		snprintf(why, cap, "no title, uid, schemaVersion or panels");
		goto out;
	}
	json_array_foreach(json_object_get(json_object_get(d, "templating"),
	    "list"), i, v)
		if (json_is_string(json_object_get(v, "type")) &&
		    strcmp(json_string_value(json_object_get(v, "type")),
		    "datasource") == 0 && json_is_string(json_object_get(v,
		    "query")) && strcmp(json_string_value(json_object_get(v,
		    "query")), "prometheus") == 0)
			ds = "${datasource}";
	json_array_foreach(json_object_get(d, "__inputs"), i, v)
		if (ds == NULL && json_is_string(json_object_get(v, "name")) &&
		    json_is_string(json_object_get(v, "pluginId")) &&
		    strcmp(json_string_value(json_object_get(v, "pluginId")),
		    "prometheus") == 0)
			ds = json_string_value(json_object_get(v, "name"));
	if (ds == NULL) {
		snprintf(why, cap, "no Prometheus data source variable or input");
		goto out;
	}
	json_array_foreach(panels, i, panel) {
		json_t *targets = json_object_get(panel, "targets");

		snprintf(key, sizeof(key), "%lld", (long long)json_integer_value(
		    json_object_get(panel, "id")));
		if (!json_is_integer(json_object_get(panel, "id")) ||
		    json_object_get(ids, key) != NULL) {
			snprintf(why, cap, "panel %zu: no id, or id %s twice", i,
			    key);
			goto out;
		}
		json_object_set_new(ids, key, json_true());
		if (!json_is_string(json_object_get(panel, "type")) ||
		    !json_is_string(json_object_get(panel, "title")) ||
		    !json_is_object(json_object_get(panel, "gridPos")) ||
		    !json_is_array(targets) || json_array_size(targets) == 0) {
			snprintf(why, cap, "panel %s: no type, title, gridPos "
			    "or targets", key);
			goto out;
		}
		refs = json_object();
		json_array_foreach(targets, j, t) {
			expr = json_string_value(json_object_get(t, "expr"));
			ref = json_string_value(json_object_get(t, "refId"));
			if (expr == NULL || *expr == '\0' || ref == NULL ||
			    json_object_get(refs, ref) != NULL) {
				snprintf(why, cap, "panel %s, target %zu: no "
				    "expr, or no refId or one twice", key, j);
				json_decref(refs);
				goto out;
			}
			json_object_set_new(refs, ref, json_true());
		}
		json_decref(refs);
	}
	rc = 0;
out:
	json_decref(ids);
	return rc;
}

/*
 * promtool check rules on a rules file holding one recording rule per
 * expression: its exit status (0: every one parses as PromQL), its
 * output in *out.
 */
static int
al_promql(const struct al_exprs *x, char **out)
{
	char path[160], *args;
	size_t i;
	const char *c;
	FILE *f;
	int st;

	snprintf(path, sizeof(path), "%s/queries.yml", e2e.dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("groups:\n  - name: dashboard\n    rules:\n", f);
	for (i = 0; i < x->n; i++) {
		fprintf(f, "      - record: dashboard:query_%zu\n"
		    "        expr: \"", i);
		for (c = x->v[i]; *c != '\0'; c++)
			if (*c == '"' || *c == '\\')
				fprintf(f, "\\%c", *c);
			else if (*c == '\n')
				fputs("\\n", f);
			else
				fputc(*c, f);
		fputs("\"\n", f);
	}
	ck_assert_int_eq(fclose(f), 0);
	args = test_fmt("check rules %s", path);
	st = al_promtool(args, out);
	free(args);
	return st;
}

/* Is [s, s+n) a line of list ("\nname\nname\n")? */
static int
al_known(const char *list, const char *s, size_t n)
{
	const char *p = list;

	while ((p = strstr(p, "\n")) != NULL && p[1] != '\0') {
		if (strncmp(p + 1, s, n) == 0 && p[1 + n] == '\n')
			return 1;
		p++;
	}
	return 0;
}

static int
al_ident(int c)
{
	return isalnum((unsigned char)c) || c == '_' || c == ':';
}

/* Does s start with the word w? */
static int
al_word(const char *s, const char *w)
{
	size_t n = strlen(w);

	return strncmp(s, w, n) == 0 && !al_ident(s[n]);
}

/* Note an unknown name in bad (a line each); the count of them. */
static int
al_check_name(const char *list, const char *what, const char *s, size_t n,
    char *bad, size_t cap)
{
	size_t len = strlen(bad);

	if (al_known(list, s, n))
		return 0;
	snprintf(bad + len, cap - len, "%s %.*s\n", what, (int)n, s);
	return 1;
}

/*
 * The metric and label names a PromQL expression reads, each looked up
 * in names and labels ("\n"-separated, as al_scrape() makes them): the
 * number not found, listed in bad.  A lexer, not a parser (promtool has
 * parsed the expression): strings and ranges are skipped, an identifier
 * before "(" is a function or aggregation, the lists after by, without,
 * on, ignoring, group_left and group_right and the names left of a
 * matcher's operator in {} are labels.  An aggregation's name may come
 * before its by or without.
 */
static int
al_unknown_names(const char *expr, const char *names, const char *labels,
    char *bad, size_t cap)
{
	/* Keywords; the first AL_NLISTKW take a list of labels. */
	static const char *const kw[] = {
		"by", "without", "on", "ignoring", "group_left", "group_right",
		"and", "or", "unless", "bool", "offset", "inf", "nan", "Inf",
		"NaN",
	};
	const char *p = expr, *s, *q;
	size_t n, k;
	int unknown = 0, in_braces = 0, in_list = 0;

	while (*p != '\0') {
		if (*p == '"' || *p == '\'' || *p == '`') {
			for (q = p + 1; *q != '\0' && *q != *p; q++)
				if (*q == '\\' && *p != '`' && q[1] != '\0')
					q++;
			p = *q != '\0' ? q + 1 : q;
		} else if (*p == '[') {
			p += strcspn(p, "]");
		} else if (*p == '{' || *p == '}') {
			in_braces = *p++ == '{';
		} else if (*p == ')' && in_list) {
			in_list = 0;
			p++;
		} else if (isdigit((unsigned char)*p) || *p == '.') {
			while (al_ident(*p) || *p == '.')
				p++;
		} else if (al_ident(*p)) {
			for (s = p; al_ident(*p); p++)
				;
			n = (size_t)(p - s);
			if (in_braces || in_list) {
				unknown += al_check_name(labels, "label", s, n,
				    bad, cap);
				continue;
			}
			for (q = p; *q == ' ' || *q == '\n'; q++)
				;
			for (k = 0; k < sizeof(kw) / sizeof(kw[0]); k++)
				if (strlen(kw[k]) == n &&
				    strncmp(kw[k], s, n) == 0)
					break;
			if (k < sizeof(kw) / sizeof(kw[0])) {
				if (*q == '(' && k < AL_NLISTKW) {
					in_list = 1;
					p = q + 1;
				}
			} else if (*q != '(' && !al_word(q, "by") &&
			    !al_word(q, "without"))	/* sum by (...) (...) */
				unknown += al_check_name(names, "metric", s, n,
				    bad, cap);
		} else
			p++;
	}
	return unknown;
}

/* Every expression's unknown names, into bad; their count. */
static int
al_unknown_all(const struct al_exprs *x, const char *names,
    const char *labels, char *bad, size_t cap)
{
	size_t i;
	int n = 0;

	bad[0] = '\0';
	for (i = 0; i < x->n; i++)
		n += al_unknown_names(x->v[i], names, labels, bad, cap);
	return n;
}

/*
 * Scrape a running antomd: the sample names and the label names it
 * exports, each list "\n"-separated with a leading "\n" (caller frees
 * both).  Prometheus adds up and the target's job and instance labels.
 */
static void
al_scrape(char **names, char **labels)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n";
	struct client_response r;
	char *nl, *ll, *line, *save = NULL, *t;

	ck_assert_int_eq(e2e_send(e2e.metrics_port, req, sizeof(req) - 1, &r),
	    200);
	nl = strdup("\nup\n");
	ll = strdup("\njob\ninstance\n");
	ck_assert(nl != NULL && ll != NULL);
	for (line = strtok_r(r.body, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		const char *p = line;
		size_t n = strcspn(line, "{ ");

		if (*line == '#')
			continue;
		t = test_fmt("%s%.*s\n", nl, (int)n, line);
		free(nl);
		nl = t;
		/* Label names: after "{" or ",", up to "=". */
		for (p = line + n; *p == '{' || *p == ','; ) {
			size_t m = strcspn(p + 1, "=");

			t = test_fmt("%s%.*s\n", ll, (int)m, p + 1);
			free(ll);
			ll = t;
			p += 1 + m + 1;		/* the value, quoted */
			for (p++; *p != '\0' && *p != '"'; p++)
				if (*p == '\\' && p[1] != '\0')
					p++;
			if (*p == '"')
				p++;
		}
	}
	client_response_free(&r);
	*names = nl;
	*labels = ll;
}

/* promtool VERB FILE (a path under tests/) must succeed; its output. */
static char *
al_promtool_ok(const char *verb, const char *rel)
{
	char path[512], *args, *out;
	int st;

	args = test_fmt("%s %s", verb, test_path(path, sizeof(path), rel));
	st = al_promtool(args, &out);
	ck_assert_msg(st == 0, "promtool %s:\n%s", args, out);
	free(args);
	return out;
}

/* The rules parse, every alert among them. */
START_TEST(test_rules_check)
{
	char *out = al_promtool_ok("check rules", AL_RULES);
	char *want = test_fmt("SUCCESS: %d rules found", AL_NRULES);

	ck_assert_msg(strstr(out, want) != NULL, "not %s:\n%s", want, out);
	free(want);
	free(out);
}
END_TEST

/* Each alert fires on its "bad" series and not on its "good" ones. */
START_TEST(test_rules_unit)
{
	free(al_promtool_ok("test rules", AL_RULES_TEST));
}
END_TEST

/*
 * The unit tests hold every alert to its meaning: each rule made wrong
 * (a threshold or a matcher changed) fails them, naming that alert.
 */
static const struct {
	const char	*alert, *from, *to;
} al_mutants[] = {
	{ "AntomdNotificationsAtRisk", "antomd_notifications_at_risk > 0",
	    "antomd_notifications_at_risk > 5" },
	{ "AntomdSignatureFailureBurst", "[5m])) > 50", "[5m])) > 500" },
	{ "AntomdSignatureFailureShare", "> 0.5", "> 0.05" },
	{ "AntomdSustained503", "status=\"503\"}[5m])) > 0",
	    "status=\"503\"}[5m])) > 1" },
	{ "AntomdCommitFailed", "antomd_last_commit_failed == 1",
	    "antomd_last_commit_failed >= 0" },
	{ "AntomdDatabaseNotWritable", "antomd_database_writable == 0",
	    "antomd_database_writable < 2" },
	{ "AntomdWriterStuck", "antomd_writer_batch_age_seconds > 15",
	    "antomd_writer_batch_age_seconds > 1" },
	{ "AntomdWalGrowing", "antomd_wal_frames > 24576",
	    "antomd_wal_frames > 4096" },
	{ "AntomdDatabaseLarge", "antomd_database_bytes > 10e9",
	    "antomd_database_bytes > 20e9" },
	{ "AntomdLogLinesDropped", "dropped_total[10m])) > 0",
	    "dropped_total[10m])) > 10" },
	{ "AntomdDown", "up{job=\"antomd\"} == 0", "up == 0" },
	{ "AntomdClientQuiet", "[6h])) == 0", "[1h])) == 0" },
};

START_TEST(test_rules_unit_catch_mutants)
{
	char path[512], dst[256], *rules, *unit, *args, *out, *p, *mut;
	size_t i;
	FILE *f;

	rules = test_slurp(test_path(path, sizeof(path), AL_RULES), NULL);
	unit = test_slurp(test_path(path, sizeof(path), AL_RULES_TEST), NULL);
	/* The unit test's rule_files path, ../../conf/..., as in the tree. */
	args = test_fmt("mkdir -p %s/conf/prometheus %s/tests/prometheus",
	    e2e.dir, e2e.dir);
	ck_assert_int_eq(system(args), 0);
	free(args);
	snprintf(dst, sizeof(dst), "%s/tests/%s", e2e.dir, AL_RULES_TEST);
	ck_assert_ptr_nonnull(f = fopen(dst, "w"));
	fputs(unit, f);
	ck_assert_int_eq(fclose(f), 0);
	for (i = 0; i < sizeof(al_mutants) / sizeof(al_mutants[0]); i++) {
		p = strstr(rules, al_mutants[i].from);
		ck_assert_msg(p != NULL && strstr(p + 1, al_mutants[i].from) ==
		    NULL, "%s: \"%s\" not once in the rules",
		    al_mutants[i].alert, al_mutants[i].from);
		mut = test_fmt("%.*s%s%s", (int)(p - rules), rules,
		    al_mutants[i].to, p + strlen(al_mutants[i].from));
		snprintf(dst, sizeof(dst), "%s/conf/prometheus/"
		    "antomd-rules.yml", e2e.dir);
		ck_assert_ptr_nonnull(f = fopen(dst, "w"));
		fputs(mut, f);
		ck_assert_int_eq(fclose(f), 0);
		args = test_fmt("test rules %s/tests/%s", e2e.dir,
		    AL_RULES_TEST);
		ck_assert_msg(al_promtool(args, &out) != 0, "%s: the unit tests "
		    "pass with \"%s\" made \"%s\"", al_mutants[i].alert,
		    al_mutants[i].from, al_mutants[i].to);
		p = test_fmt("alertname: %s", al_mutants[i].alert);
		ck_assert_msg(strstr(out, p) != NULL, "%s: promtool's failure "
		    "names another alert:\n%s", al_mutants[i].alert, out);
		free(p);
		free(out);
		free(args);
		free(mut);
	}
	free(unit);
	free(rules);
}
END_TEST

static json_t *
al_load_dashboard(void)
{
	char path[512];
	json_error_t jerr;
	json_t *d;

	d = json_load_file(test_path(path, sizeof(path), AL_DASHBOARD),
	    JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(d != NULL, "%s:%d: %s", path, jerr.line, jerr.text);
	return d;
}

/* Set panel i's first target's expr; for the broken copies. */
static void
al_set_expr(json_t *d, size_t i, const char *expr)
{
	json_t *t = json_array_get(json_object_get(json_array_get(
	    json_object_get(d, "panels"), i), "targets"), 0);

	ck_assert_int_eq(json_object_set_new(t, "expr", json_string(expr)), 0);
}

/* The dashboard imports as it is; copies broken each way do not pass. */
START_TEST(test_dashboard_shape)
{
	json_t *d = al_load_dashboard(), *bad, *panels;
	char why[256] = "";

	ck_assert_msg(al_dash_shape(d, why, sizeof(why)) == 0, "%s", why);

	bad = json_deep_copy(d);
	panels = json_object_get(bad, "panels");
	json_object_set(json_array_get(panels, 1), "id", json_object_get(
	    json_array_get(panels, 0), "id"));
	ck_assert_int_eq(al_dash_shape(bad, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "twice"));
	json_decref(bad);

	bad = json_deep_copy(d);
	json_object_del(json_array_get(json_object_get(bad, "panels"), 2),
	    "targets");
	ck_assert_int_eq(al_dash_shape(bad, why, sizeof(why)), -1);
	json_decref(bad);

	bad = json_deep_copy(d);
	al_set_expr(bad, 3, "");
	ck_assert_int_eq(al_dash_shape(bad, why, sizeof(why)), -1);
	json_decref(bad);

	bad = json_deep_copy(d);
	json_object_del(bad, "templating");
	ck_assert_int_eq(al_dash_shape(bad, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "data source"));
	json_decref(bad);
	json_decref(d);
}
END_TEST

/* Every query parses as PromQL; one with a syntax error does not. */
START_TEST(test_dashboard_promql)
{
	json_t *d = al_load_dashboard();
	struct al_exprs x = { .n = 0 };
	char *out;
	int st;

	al_dash_exprs(d, &x);
	ck_assert_uint_ge(x.n, 30);
	st = al_promql(&x, &out);
	ck_assert_msg(st == 0, "promtool check rules on the dashboard's "
	    "queries:\n%s", out);
	free(out);
	al_exprs_free(&x);

	al_set_expr(d, 6, "sum by (type) (rate(antomd_notifications_total"
	    "[$__rate_interval])");
	al_dash_exprs(d, &x);
	ck_assert_int_ne(al_promql(&x, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "parse error"));
	free(out);
	al_exprs_free(&x);
	json_decref(d);
}
END_TEST

/*
 * Every metric and label the rules and the dashboard name is one antomd
 * exports, as a running daemon's /metrics shows after a delivery and a
 * forged request (the series that appear only then); a made-up metric or
 * label is caught.
 */
START_TEST(test_names_exported)
{
	struct client_response r;
	struct al_exprs x = { .n = 0 };
	char path[512], bad[2048], *names, *labels, *rules;
	char *body = e2e_pay_body("PR-AL1", "PAYMENT_RESULT", "S");
	json_t *d = al_load_dashboard();

	e2e_write_small_conf(NULL, NULL);
	e2e_with_metrics = 1;
	e2e_start_daemon();
	e2e_deliver_ok(body);
	e2e_expect_status(e2e_post("/antom/notify", SANDBOX, E2E_RTIME,
	    "algorithm=RSA256,keyVersion=1,signature=AAAA", body, &r), 401,
	    &r);
	al_scrape(&names, &labels);
	ck_assert_ptr_nonnull(strstr(names,
	    "\nantomd_unverified_refusals_total\n"));

	rules = test_slurp(test_path(path, sizeof(path), AL_RULES), NULL);
	al_rule_exprs(rules, &x);
	ck_assert_uint_eq(x.n, AL_NRULES);
	ck_assert_msg(al_unknown_all(&x, names, labels, bad, sizeof(bad)) ==
	    0, "the rules name what antomd does not export:\n%s", bad);
	al_exprs_free(&x);

	al_dash_exprs(d, &x);
	ck_assert_msg(al_unknown_all(&x, names, labels, bad, sizeof(bad)) ==
	    0, "the dashboard names what antomd does not export:\n%s", bad);
	al_exprs_free(&x);

	/* The check itself: a made-up metric and label are caught. */
	al_set_expr(d, 6, "sum by (kind) (rate(antomd_made_up_total"
	    "{instance=~\"$instance\"}[$__rate_interval]))");
	al_dash_exprs(d, &x);
	ck_assert_int_eq(al_unknown_all(&x, names, labels, bad, sizeof(bad)),
	    2);
	ck_assert_str_eq(bad, "label kind\nmetric antomd_made_up_total\n");
	al_exprs_free(&x);
	al_exprs_add(&x, strdup("sum by (instance) (increase("
	    "antomd_storage_failure_total[5m])) > 0"));
	ck_assert_int_eq(al_unknown_all(&x, names, labels, bad, sizeof(bad)),
	    1);
	al_exprs_free(&x);

	ck_assert_int_eq(e2e_stop_daemon(), 0);
	free(rules);
	free(names);
	free(labels);
	free(body);
	json_decref(d);
}
END_TEST

Suite *
alerts_suite(void)
{
	Suite *s = suite_create("alerts");
	TCase *tc = tcase_create("alerts");

	tcase_add_checked_fixture(tc, al_setup, e2e_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_rules_check);
	tcase_add_test(tc, test_rules_unit);
	tcase_add_test(tc, test_rules_unit_catch_mutants);
	tcase_add_test(tc, test_dashboard_shape);
	tcase_add_test(tc, test_dashboard_promql);
	tcase_add_test(tc, test_names_exported);
	suite_add_tcase(s, tc);
	return s;
}
