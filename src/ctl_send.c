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

static void
ctl_send_usage(FILE *f)
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
	    "FIXTURE is one of (ids not set are fresh random ones):\n", f);
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

/* Print exactly what client_post() would send. */
static void
ctl_print_request(const char *url, const char *path,
    const struct client_header *hdrs, size_t nhdr, const char *body,
    size_t len)
{
	const char *auth = url + 7;	/* after "http://", validated */
	size_t i;

	printf("POST %s HTTP/1.1\r\nHost: %.*s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n", path, (int)strcspn(auth, "/"), auth, len);
	for (i = 0; i < nhdr; i++)
		printf("%s: %s\r\n", hdrs[i].name, hdrs[i].value);
	fputs("\r\n", stdout);
	fwrite(body, 1, len, stdout);
	if (isatty(STDOUT_FILENO))
		putchar('\n');
}

/* Status line, then the body as received (it may hold any bytes). */
static void
ctl_print_response(const struct client_response *resp)
{
	printf("%.*s\n", (int)strcspn(resp->head, "\r\n"), resp->head);
	fwrite(resp->body, 1, resp->bodylen, stdout);
	if (resp->bodylen > 0 && resp->body[resp->bodylen - 1] != '\n')
		putchar('\n');
}

int
ctl_send(int argc, char **argv)
{
	enum {
		OPT_URL = 256, OPT_KEY, OPT_CLIENT_ID, OPT_KEY_VERSION,
		OPT_TIME, OPT_REQUEST_TIME, OPT_LOWER_HEX, OPT_BLANKS,
		OPT_RAW, OPT_SIGN_PATH, OPT_BODY, OPT_SET, OPT_TIMEOUT,
		OPT_PRINT
	};
	/* has_arg: 1 required_argument, 0 no_argument */
	static const struct option opts[] = {
		{ "url",		1, NULL, OPT_URL },
		{ "key",		1, NULL, OPT_KEY },
		{ "client-id",		1, NULL, OPT_CLIENT_ID },
		{ "key-version",	1, NULL, OPT_KEY_VERSION },
		{ "time",		1, NULL, OPT_TIME },
		{ "request-time",	1, NULL, OPT_REQUEST_TIME },
		{ "lower-hex",		0, NULL, OPT_LOWER_HEX },
		{ "blanks",		0, NULL, OPT_BLANKS },
		{ "raw-signature",	0, NULL, OPT_RAW },
		{ "sign-path",		1, NULL, OPT_SIGN_PATH },
		{ "body",		1, NULL, OPT_BODY },
		{ "set",		1, NULL, OPT_SET },
		{ "timeout-ms",		1, NULL, OPT_TIMEOUT },
		{ "print",		0, NULL, OPT_PRINT },
		{ "help",		0, NULL, 'h' },
		{ NULL,			0, NULL, 0 }
	};
	struct sign_options so;
	struct client_header hdrs[3];
	struct client_response resp;
	const char *url = CTL_DEFAULT_URL, *keypath = NULL, *client_id = NULL;
	const char *rtime = NULL, *sign_path = NULL, *bodypath = NULL;
	const char *fixture = "payment-success", *upath;
	const char **sets = NULL;
	char host[256], port[16], tbuf[64], sig[SIGN_HEADER_MAX], err[512];
	char *path = NULL, *body = NULL;
	EVP_PKEY *key = NULL;
	size_t nsets = 0, bodylen = 0;
	long v, timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
	int c, iso = 0, print = 0, have_fixture = 0, rc = CTL_EXIT_USAGE;

	memset(&so, 0, sizeof(so));
	memset(&resp, 0, sizeof(resp));
	argv[0] = ctl_prog_send;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			url = optarg;
			break;
		case OPT_KEY:
			keypath = optarg;
			break;
		case OPT_CLIENT_ID:
			client_id = optarg;
			break;
		case OPT_KEY_VERSION:
			if (util_parse_long(optarg, 1, INT_MAX, &v) == -1) {
				ctl_warnx(NULL, "send: --key-version wants a "
				    "positive integer, not '%s'", optarg);
				goto fail;
			}
			so.key_version = v;
			break;
		case OPT_TIME:
			if (strcmp(optarg, "millis") == 0)
				iso = 0;
			else if (strcmp(optarg, "iso") == 0)
				iso = 1;
			else {
				ctl_warnx(NULL, "send: --time wants millis or iso, "
				    "not '%s'", optarg);
				goto fail;
			}
			break;
		case OPT_REQUEST_TIME:
			rtime = optarg;
			break;
		case OPT_LOWER_HEX:
			so.lower_hex = 1;
			break;
		case OPT_BLANKS:
			so.blanks = 1;
			break;
		case OPT_RAW:
			so.raw = 1;
			break;
		case OPT_SIGN_PATH:
			sign_path = optarg;
			break;
		case OPT_BODY:
			bodypath = optarg;
			break;
		case OPT_SET:
			sets = xrealloc(sets, (nsets + 1) * sizeof(*sets));
			sets[nsets++] = optarg;
			break;
		case OPT_TIMEOUT:
			if (util_parse_long(optarg, 1, 3600000, &timeout_ms)
			    == -1) {
				ctl_warnx(NULL, "send: --timeout-ms wants 1 to "
				    "3600000, not '%s'", optarg);
				goto fail;
			}
			break;
		case OPT_PRINT:
			print = 1;
			break;
		case 'h':
			ctl_send_usage(stdout);
			rc = CTL_EXIT_OK;
			goto fail;
		default:
			fputs("Try 'antomctl send --help'.\n", stderr);
			goto fail;
		}
	}
	if (optind < argc) {
		fixture = argv[optind++];
		have_fixture = 1;
	}
	if (optind < argc) {
		ctl_warnx(NULL, "send: one FIXTURE at most ('%s' is extra)",
		    argv[optind]);
		goto fail;
	}
	if (keypath == NULL || client_id == NULL) {
		ctl_warnx(NULL, "send: --key and --client-id are required");
		fputs("Try 'antomctl send --help'.\n", stderr);
		goto fail;
	}
	if (bodypath != NULL && (have_fixture || nsets > 0)) {
		ctl_warnx(NULL, "send: --body excludes FIXTURE and --set");
		goto fail;
	}
	if (!ctl_header_safe(client_id) ||
	    (rtime != NULL && !ctl_header_safe(rtime))) {
		ctl_warnx(NULL, "send: control characters in --client-id or "
		    "--request-time");
		goto fail;
	}
	if (client_url_parse(url, host, sizeof(host), port, sizeof(port),
	    &upath) == -1) {
		ctl_warnx(NULL, "send: bad URL '%s' (want http://host[:port]/path; "
		    "https is not supported)", url);
		goto fail;
	}
	path = xstrdup(sign_path != NULL ? sign_path : upath);
	if (sign_path == NULL)
		path[strcspn(path, "?")] = '\0';

	rc = CTL_EXIT_ERR;
	if ((key = sign_key_load(keypath, err, sizeof(err))) == NULL) {
		ctl_warnx(NULL, "send: %s", err);
		goto fail;
	}
	if (bodypath != NULL) {
		switch (ctl_read_file(bodypath, CTL_BODY_MAX, &body, &bodylen,
		    err, sizeof(err))) {
		case CTL_READ_OK:
			break;
		case CTL_READ_TOO_BIG:
			util_err(err, sizeof(err), "%s: body larger than %d "
			    "bytes", bodypath, CTL_BODY_MAX);
			/* FALLTHROUGH */
		case CTL_READ_ERR:
			body = NULL;
			break;
		}
	} else {
		body = fixture_build(fixture, sets, nsets, err, sizeof(err));
		if (body == NULL)
			rc = CTL_EXIT_USAGE;
		else
			bodylen = strlen(body);
	}
	if (body == NULL) {
		ctl_warnx(NULL, "send: %s", err);
		goto fail;
	}
	if (rtime == NULL) {
		sign_request_time(iso, tbuf, sizeof(tbuf));
		rtime = tbuf;
	}
	if (sign_request(key, &(struct verify_content){ path, client_id, rtime,
	    (const unsigned char *)body, bodylen }, &so, sig, sizeof(sig), err,
	    sizeof(err)) == -1) {
		ctl_warnx(NULL, "send: %s", err);
		goto fail;
	}
	ctl_antom_headers(hdrs, client_id, rtime, sig);

	if (print) {
		ctl_print_request(url, upath, hdrs, 3, body, bodylen);
		rc = CTL_EXIT_OK;
	} else if (client_post(url, hdrs, 3, body, bodylen, (int)timeout_ms,
	    &resp, err, sizeof(err)) == -1) {
		ctl_warnx(NULL, "send: %s", err);
		rc = CTL_EXIT_FAIL;
	} else {
		ctl_print_response(&resp);
		rc = antom_acknowledged(resp.status, resp.body,
		    resp.bodylen) ? CTL_EXIT_OK : CTL_EXIT_FAIL;
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_warnx(NULL, "send: writing the output: %s", strerror(errno));
		rc = CTL_EXIT_ERR;
	}
fail:
	client_response_free(&resp);
	EVP_PKEY_free(key);
	free(body);
	free(path);
	free(sets);
	return rc;
}
