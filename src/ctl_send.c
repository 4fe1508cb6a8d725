/*
 * ctl_send.c - antomctl send: sign a notification exactly as Antom does
 * and POST it, or print the exact request.
 *
 * Exit status: 0 HTTP 200 with Antom's exact acknowledgement body, 1 any
 * other answer or none (what would make Antom retry), 2 usage error, 3
 * key, file or output error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "antom.h"
#include "client.h"
#include "ctl.h"
#include "fixture.h"
#include "sign.h"
#include "util.h"

#define CTL_BODY_MAX		(1024 * 1024)
#define CTL_DEFAULT_URL		"http://127.0.0.1:8080/antom/notify"
#define CTL_DEFAULT_TIMEOUT_MS	5000

/* getopt_long() names the program by argv[0]; make it name the command. */
static char ctl_prog_send[] = "antomctl send";

/* What the command line asks for. */
struct send_args {
	const char		*url;
	const char		*keypath;
	const char		*client_id;
	const char		*rtime;		/* --request-time, or NULL */
	const char		*sign_path;
	const char		*bodypath;
	const char		*fixture;
	const char		**sets;		/* owned array, borrowed strings */
	size_t			 nsets;
	struct sign_options	 so;
	long			 timeout_ms;
	int			 iso;
	int			 print;
	int			 have_fixture;
};

/* What send_parse() found. */
enum send_parse {
	SEND_RUN,
	SEND_HELP,	/* --help: printed, exit 0 */
	SEND_USAGE	/* said why on stderr, exit 2 */
};

static void
send_usage(FILE *f)
{
	size_t i;

	fputs("usage: antomctl send --key PRIVATE.pem --client-id ID "
	    "[options] [FIXTURE]\n"
	    "\n"
	    "Sign a notification exactly as Antom does and POST it; print the\n"
	    "status line and the body of the answer.\n"
	    "\n"
	    "  --url URL            notify URL (default " CTL_DEFAULT_URL ")\n"
	    "  --key FILE           PEM private key to sign with (required)\n"
	    "  --client-id ID       client-id header (required)\n"
	    "  --key-version N      keyVersion in the signature header "
	    "(default 1)\n"
	    "  --time millis|iso    request-time as epoch milliseconds "
	    "(default) or ISO 8601\n"
	    "  --request-time STR   request-time header, verbatim\n"
	    "  --lower-hex          %2b, not %2B, in the signature "
	    "(as .NET sends it)\n"
	    "  --blanks             \", \" between signature header fields\n"
	    "  --raw-signature      base64 signature not URL-encoded\n"
	    "  --sign-path PATH     path to sign (default: the URL's path, "
	    "no query)\n"
	    "  --body FILE|-        send these exact bytes (at most 1 MiB), "
	    "not a fixture\n"
	    "  --set KEY=VALUE      set a fixture field (repeatable): a "
	    "top-level field,\n"
	    "                       or amount=, currency=, resultCode=, "
	    "resultStatus=,\n"
	    "                       resultMessage=\n"
	    "  --timeout-ms N       limit for the whole exchange "
	    "(default 5000)\n"
	    "  --print              print the exact request (CRLF line ends) "
	    "instead of\n"
	    "                       sending it\n"
	    "  -h, --help           show this help\n"
	    "\n"
	    "FIXTURE is one of (ids not set are fresh random ones; like\n"
	    "Antom's, a refund names no payment: link it in refund_links):\n",
	    f);
	for (i = 0; fixture_names[i] != NULL; i++)
		fprintf(f, "  %s%s\n", fixture_names[i],
		    i == 0 ? " (default)" : "");
	fprintf(f, "\n"
	    "Exit status: 0 when antomd answers HTTP 200 with the body\n"
	    "%s\n"
	    "1 for any other answer or none (Antom would retry), 2 usage "
	    "error,\n"
	    "3 key or file error.\n", ANTOM_SUCCESS_BODY);
}

/* The long options; each is its own value, above any short option's. */
enum {
	OPT_URL = 256, OPT_KEY, OPT_CLIENT_ID, OPT_KEY_VERSION, OPT_TIME,
	OPT_REQUEST_TIME, OPT_LOWER_HEX, OPT_BLANKS, OPT_RAW, OPT_SIGN_PATH,
	OPT_BODY, OPT_SET, OPT_TIMEOUT, OPT_PRINT
};

/* Print exactly what client_post() would send.  0, or -1 with err. */
static int
send_print_request(const char *url, const struct client_header *hdrs,
    size_t nhdr, const char *body, size_t len, char *err, size_t errlen)
{
	char *req;
	size_t n;

	if ((req = client_post_request(url, hdrs, nhdr, body, len, &n, err,
	    errlen)) == NULL)
		return -1;
	fwrite(req, 1, n, stdout);
	if (isatty(STDOUT_FILENO))
		putchar('\n');
	free(req);
	return 0;
}

/* Status line, then the body as received (it may hold any bytes). */
static void
send_print_response(const struct client_response *resp)
{
	printf("%.*s\n", (int)strcspn(resp->head, "\r\n"), resp->head);
	fwrite(resp->body, 1, resp->bodylen, stdout);
	if (resp->bodylen > 0 && resp->body[resp->bodylen - 1] != '\n')
		putchar('\n');
}

/* One option into a; SEND_USAGE (said why) when its value is bad. */
static enum send_parse
send_option(struct send_args *a, int c, const char *arg)
{
	long v;

	switch (c) {
	case OPT_URL:		a->url = arg; break;
	case OPT_KEY:		a->keypath = arg; break;
	case OPT_CLIENT_ID:	a->client_id = arg; break;
	case OPT_REQUEST_TIME:	a->rtime = arg; break;
	case OPT_LOWER_HEX:	a->so.lower_hex = 1; break;
	case OPT_BLANKS:	a->so.blanks = 1; break;
	case OPT_RAW:		a->so.raw = 1; break;
	case OPT_SIGN_PATH:	a->sign_path = arg; break;
	case OPT_BODY:		a->bodypath = arg; break;
	case OPT_PRINT:		a->print = 1; break;
	case OPT_KEY_VERSION:
		if (util_parse_long(arg, 1, INT_MAX, &v) == -1) {
			ctl_warnx("send", "--key-version wants a positive "
			    "integer, not '%s'", arg);
			return SEND_USAGE;
		}
		a->so.key_version = v;
		break;
	case OPT_TIME:
		if (strcmp(arg, "millis") != 0 && strcmp(arg, "iso") != 0) {
			ctl_warnx("send", "--time wants millis or iso, not "
			    "'%s'", arg);
			return SEND_USAGE;
		}
		a->iso = strcmp(arg, "iso") == 0;
		break;
	case OPT_SET:
		a->sets = xrealloc(a->sets, (a->nsets + 1) * sizeof(*a->sets));
		a->sets[a->nsets++] = arg;
		break;
	case OPT_TIMEOUT:
		if (util_parse_long(arg, 1, 3600000, &a->timeout_ms) == -1) {
			ctl_warnx("send", "--timeout-ms wants 1 to 3600000, "
			    "not '%s'", arg);
			return SEND_USAGE;
		}
		break;
	case 'h':
		send_usage(stdout);
		return SEND_HELP;
	default:
		fputs("Try 'antomctl send --help'.\n", stderr);
		return SEND_USAGE;
	}
	return SEND_RUN;
}

/* The command line into a, checked for everything but the key and body. */
static enum send_parse
send_parse(int argc, char **argv, struct send_args *a)
{
	static const struct option opts[] = {
		{ "url",		required_argument, NULL, OPT_URL },
		{ "key",		required_argument, NULL, OPT_KEY },
		{ "client-id",		required_argument, NULL, OPT_CLIENT_ID },
		{ "key-version",	required_argument, NULL, OPT_KEY_VERSION },
		{ "time",		required_argument, NULL, OPT_TIME },
		{ "request-time",	required_argument, NULL, OPT_REQUEST_TIME },
		{ "lower-hex",		no_argument,	   NULL, OPT_LOWER_HEX },
		{ "blanks",		no_argument,	   NULL, OPT_BLANKS },
		{ "raw-signature",	no_argument,	   NULL, OPT_RAW },
		{ "sign-path",		required_argument, NULL, OPT_SIGN_PATH },
		{ "body",		required_argument, NULL, OPT_BODY },
		{ "set",		required_argument, NULL, OPT_SET },
		{ "timeout-ms",		required_argument, NULL, OPT_TIMEOUT },
		{ "print",		no_argument,	   NULL, OPT_PRINT },
		{ "help",		no_argument,	   NULL, 'h' },
		{ NULL,			0,		   NULL, 0 }
	};
	enum send_parse r;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		if ((r = send_option(a, c, optarg)) != SEND_RUN)
			return r;
	if (optind < argc) {
		a->fixture = argv[optind++];
		a->have_fixture = 1;
	}
	if (optind < argc) {
		ctl_warnx("send", "one FIXTURE at most ('%s' is extra)",
		    argv[optind]);
		return SEND_USAGE;
	}
	if (a->keypath == NULL || a->client_id == NULL) {
		ctl_warnx("send", "--key and --client-id are required");
		fputs("Try 'antomctl send --help'.\n", stderr);
		return SEND_USAGE;
	}
	if (a->bodypath != NULL && (a->have_fixture || a->nsets > 0)) {
		ctl_warnx("send", "--body excludes FIXTURE and --set");
		return SEND_USAGE;
	}
	if (!ctl_header_safe(a->client_id) ||
	    (a->rtime != NULL && !ctl_header_safe(a->rtime))) {
		ctl_warnx("send", "control characters in --client-id or "
		    "--request-time");
		return SEND_USAGE;
	}
	return SEND_RUN;
}

/*
 * The body to send: the file's exact bytes, or the fixture built.  The
 * caller owns *body.  CTL_EXIT_OK, or the exit status with a message.
 */
static int
send_body(const struct send_args *a, char **body, size_t *len)
{
	char err[512];

	if (a->bodypath != NULL) {
		switch (ctl_read_file(a->bodypath, CTL_BODY_MAX, body, len,
		    err, sizeof(err))) {
		case CTL_READ_OK:
			return CTL_EXIT_OK;
		case CTL_READ_TOO_BIG:
			ctl_warnx("send", "%s: body larger than %d bytes",
			    a->bodypath, CTL_BODY_MAX);
			return CTL_EXIT_ERR;
		case CTL_READ_ERR:
			break;
		}
		ctl_warnx("send", "%s", err);
		return CTL_EXIT_ERR;
	}
	/* A wrong name or override is the user's; the rest is ours. */
	if (fixture_check(a->fixture, a->sets, a->nsets, err,
	    sizeof(err)) == -1) {
		ctl_warnx("send", "%s", err);
		return CTL_EXIT_USAGE;
	}
	if ((*body = fixture_build(a->fixture, a->sets, a->nsets, err,
	    sizeof(err))) == NULL) {
		ctl_warnx("send", "%s", err);
		return CTL_EXIT_ERR;
	}
	*len = strlen(*body);
	return CTL_EXIT_OK;
}

/* POST (or print) the signed request; the exit status. */
static int
send_deliver(const struct send_args *a, const struct client_header hdrs[3],
    const char *body, size_t len)
{
	struct client_response resp;
	char err[512];
	int rc;

	if (a->print) {
		rc = CTL_EXIT_OK;
		if (send_print_request(a->url, hdrs, 3, body, len, err,
		    sizeof(err)) == -1) {
			ctl_warnx("send", "%s", err);
			rc = CTL_EXIT_ERR;
		}
	} else if (client_post(a->url, hdrs, 3, body, len, (int)a->timeout_ms,
	    &resp, err, sizeof(err)) == -1) {
		ctl_warnx("send", "%s", err);
		rc = CTL_EXIT_FAIL;
	} else {
		send_print_response(&resp);
		rc = antom_acknowledged(resp.status, resp.body,
		    resp.bodylen) ? CTL_EXIT_OK : CTL_EXIT_FAIL;
		client_response_free(&resp);
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_warnx("send", "writing the output: %s", strerror(errno));
		rc = CTL_EXIT_ERR;
	}
	return rc;
}

int
ctl_send(int argc, char **argv)
{
	struct send_args a;
	struct client_header hdrs[3];
	struct verify_content content;
	char tbuf[64], sig[SIGN_HEADER_MAX], err[512];
	char *path = NULL, *body = NULL;
	EVP_PKEY *key = NULL;
	size_t bodylen = 0;
	int rc = CTL_EXIT_USAGE;

	memset(&a, 0, sizeof(a));
	a.url = CTL_DEFAULT_URL;
	a.fixture = "payment-success";
	a.timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
	argv[0] = ctl_prog_send;
	switch (send_parse(argc, argv, &a)) {
	case SEND_RUN:
		break;
	case SEND_HELP:
		rc = CTL_EXIT_OK;
		/* FALLTHROUGH */
	case SEND_USAGE:
		goto fail;
	}
	if ((path = ctl_sign_path("send", a.url, a.sign_path)) == NULL)
		goto fail;

	rc = CTL_EXIT_ERR;
	if ((key = sign_key_load(a.keypath, err, sizeof(err))) == NULL) {
		ctl_warnx("send", "%s", err);
		goto fail;
	}
	if ((rc = send_body(&a, &body, &bodylen)) != CTL_EXIT_OK)
		goto fail;
	if (a.rtime == NULL) {
		sign_request_time(a.iso, tbuf, sizeof(tbuf));
		a.rtime = tbuf;
	}
	content.path = path;
	content.client_id = a.client_id;
	content.request_time = a.rtime;
	content.body = (const unsigned char *)body;
	content.bodylen = bodylen;
	if (sign_request(key, &content, &a.so, sig, sizeof(sig), err,
	    sizeof(err)) == -1) {
		ctl_warnx("send", "%s", err);
		rc = CTL_EXIT_ERR;
		goto fail;
	}
	ctl_antom_headers(hdrs, a.client_id, a.rtime, sig);
	rc = send_deliver(&a, hdrs, body, bodylen);
fail:
	EVP_PKEY_free(key);
	free(body);
	free(path);
	free(a.sets);
	return rc;
}
