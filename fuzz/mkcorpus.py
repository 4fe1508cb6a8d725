#!/usr/bin/env python3
"""fuzz/mkcorpus.py - rebuild the seed corpora under fuzz/corpus/.

Seeds come from tests/vectors/*.json (signature headers, their values,
bodies) and conf/antomd.conf, plus a few hand-made edges.  Run from the
repository root when the vectors change; the output is committed, so a
fuzz run needs nothing but clang.
"""
import glob
import json
import os
import re
import shutil
import sys
import urllib.parse

if not os.path.isfile("tests/vectors/README.md"):
    sys.exit("mkcorpus.py: run from the repository root")
C = "fuzz/corpus"
shutil.rmtree(C, ignore_errors=True)
for t in ("fuzz_sighdr", "fuzz_decode", "fuzz_notif", "fuzz_conf",
          "fuzz_target"):
    os.makedirs(os.path.join(C, t))


def seed(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(C, target, name), "wb") as f:
        f.write(data)


antom_key = None
for path in sorted(glob.glob("tests/vectors/*.json")):
    with open(path, encoding="utf-8") as f:
        vectors = json.load(f)
    for v in vectors:
        hdr = next(val for key, val in v["headers"].items()
                   if key.lower() == "signature")
        seed("fuzz_sighdr", v["name"], hdr)
        value = hdr.split("signature=", 1)[1]
        seed("fuzz_decode", "pct-" + v["name"], value)
        seed("fuzz_decode", "b64-" + v["name"], urllib.parse.unquote(value))
        seed("fuzz_notif", v["name"], v["body"])
        antom_key = v.get("antom_public_key", antom_key)
seed("fuzz_decode", "b64-antom-public-key", antom_key)
with open("tests/vectors/test-antom-public.b64") as f:
    seed("fuzz_decode", "b64-test-public-key", re.sub(r"\s", "", f.read()))

# Edges the vectors do not show.
seed("fuzz_sighdr", "short-sig-version-2", "algorithm=RSA256,keyVersion=2,signature=QUJD")
seed("fuzz_sighdr", "blanks-case-unknown", " signature = QQ== , ALGORITHM = rsa256 , x=y")
seed("fuzz_sighdr", "repeated", "algorithm=RSA256,algorithm=RSA256,signature=QQ==")
seed("fuzz_sighdr", "other-algorithm", "algorithm=HmacSHA256,signature=QQ==")
seed("fuzz_decode", "pct-mixed", "%41%2b%2F+%7e")
seed("fuzz_decode", "b64-pad1", "QUI=")
seed("fuzz_notif", "pending-max-amount",
     '{"notifyType":"PAYMENT_PENDING","result":{"resultStatus":"S"},'
     '"paymentRequestId":"p1","paymentAmount":'
     '{"value":"9223372036854775807","currency":"JPY"}}')
seed("fuzz_notif", "dispute",
     '{"disputeNotificationType":"DISPUTE_CREATED","disputeId":"d1","paymentId":"p1"}')
seed("fuzz_notif", "capture-null-amount",
     '{"notifyType":"CAPTURE_RESULT","result":{"resultStatus":"S"},'
     '"captureRequestId":"c1","captureAmount":null,'
     '"captureTime":"2024-01-01T00:00:00Z"}')
seed("fuzz_notif", "not-object", '[1e999,"\\u00e9",null,true]')

# The sample configuration with the test key by relative path (the fuzzer
# runs from the repository root), and small variants.
with open("conf/antomd.conf") as f:
    conf = f.read()
seed("fuzz_conf", "antomd.conf",
     re.sub(r"(?m)^client .*$", "client X 1 tests/vectors/test-antom-public.b64", conf))
seed("fuzz_conf", "minimal", "route /n\nclient X 1 tests/vectors/test-antom-public.b64\n")
seed("fuzz_conf", "ipv6-inline-key-crlf",
     "listen [::1]:8443\r\nroute /local /public/notify\r\n"
     "client SANDBOX 1 %s\r\n"
     "client SANDBOX 2 tests/vectors/test-antom-public.pem # rotation\r\n"
     "log_level DEBUG\r\nthreads 64\r\nbusy_timeout_ms 0\r\n" % antom_key)
seed("fuzz_conf", "unix-socket",
     "listen unix:/run/antomd/antomd.sock\nroute /n\n"
     "client X 1 tests/vectors/test-antom-public.b64\n")
seed("fuzz_conf", "private-key", "route /n\nclient X 1 tests/vectors/test-antom-private.pem\n")

# Request targets: both forms, and the ones refused (src/target.c).
for name, t in (("origin", "/antom/notify"),
                ("origin-query", "/api/back?allPayTn=2019"),
                ("absolute-http", "http://shop.example/antom/notify"),
                ("absolute-https-port-query",
                 "HTTPS://shop.example:8443/antom/notify?order=1"),
                ("absolute-ipv6", "http://[::1]:8080/antom/notify"),
                ("absolute-no-path", "https://shop.example"),
                ("userinfo", "http://user@shop.example/antom/notify"),
                ("authority", "shop.example:443"),
                ("asterisk", "*"),
                ("fragment", "/antom/notify#x")):
    seed("fuzz_target", name, t)
