#!/usr/bin/python3
"""promparse.py - check a Prometheus text exposition (format 0.0.4) on stdin
with the Prometheus Python client's own parser, and print every sample as

    name{label="value",...} value

(labels sorted), one a line, for the C test to look values up.  Exit 1 when
the parser rejects the text, when a family has no HELP or TYPE line, or when
a line is neither a comment nor a sample."""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    if not text.endswith("\n"):
        sys.exit("malformed: the exposition does not end with a newline")
    helped, typed = set(), set()
    for line in text.splitlines():
        m = re.match(r"# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$", line)
        if m:
            (helped if m.group(1) == "HELP" else typed).add(m.group(2))
        elif line.startswith("#") or not line:
            sys.exit("malformed: unexpected line %r" % line)
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and friends
        sys.exit("malformed: %s" % e)
    for f in families:
        if f.type == "unknown" or not f.documentation:
            sys.exit("family %s has no TYPE or HELP" % f.name)
        if f.type == "counter":
            name = f.name + "_total"
        else:
            name = f.name
        if name not in helped or name not in typed:
            sys.exit("family %s: HELP/TYPE not under its own name" % name)
        for s in f.samples:
            labels = ",".join('%s="%s"' % (k, v)
                              for k, v in sorted(s.labels.items()))
            print("%s{%s} %r" % (s.name, labels, float(s.value)))


main()
