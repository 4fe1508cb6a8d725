# antomd - Antom payment notification receiver.
#
#   make            build bin/antomd and bin/antomctl
#   make run        install missing Debian packages, build, run on conf/antomd.conf
#   make check      install missing Debian packages, build, run every test
#   make asan       the same tests under AddressSanitizer + UBSan
#   make valgrind   the suites that run the daemon, with it under memcheck
#   make torture    the crash test, 20 cycles
#   make bench      benchmarks (not part of check; bench/RESULTS.md)
#   make install    PREFIX=/usr/local DESTDIR=
#
# V=1 shows the commands.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
DESTDIR	?=

PKGS	:= libmicrohttpd jansson sqlite3 openssl libsystemd libpq
CHECK_PKG := check

CC	?= cc
WARN	:= -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	   -Wmissing-prototypes -Wmissing-declarations -Wformat=2 -Wsign-compare
HARDEN	:= -fstack-protector-strong -fPIE
OPT	?= -O2 -g
CFLAGS	?=
LDFLAGS	?=
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) -Iinclude \
	   $(PKG_CFLAGS) -MMD -MP $(EXTRA_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(EXTRA_LDFLAGS) $(LDFLAGS)

# _FORTIFY_SOURCE needs optimisation and fights with the sanitizers.
ifeq ($(SAN),)
ALL_CFLAGS += -D_FORTIFY_SOURCE=2
BUILD	:= build
else
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ALL_LDFLAGS += -fsanitize=address,undefined
BUILD	:= build/asan
endif

# pkg-config runs once, here, and only for goals that build: run, check,
# asan, valgrind, torture and bench first install what is missing (the
# deps targets) and then build in a sub-make, which is where a package
# still missing stops the build, named.  Check is asked for only by goals
# that build the test runner, so "make all" never needs it.
NOBUILD_GOALS := run check asan valgrind torture bench deps deps-test \
	deps-bench clean uninstall

# $(call pkg_require,PACKAGES): stop make, naming the first one pkg-config
# does not know.
pkg_require = $(if $(shell command -v pkg-config),,$(error pkg-config is \
	not installed: run 'make deps' as root (scripts/install-deps)))$(foreach \
	p,$1,$(if $(shell pkg-config --exists $p && echo yes),,$(error \
	pkg-config: package '$p' not found: as root, 'make deps' (or \
	'make deps-test' for the tests) installs it (scripts/install-deps))))

ifneq ($(filter-out $(NOBUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
$(call pkg_require,$(PKGS))
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lpthread
endif
ifneq ($(filter %/check_antomd $(BUILD)/tests/%,$(MAKECMDGOALS)),)
$(call pkg_require,$(CHECK_PKG))
CHECK_CFLAGS := $(shell pkg-config --cflags $(CHECK_PKG))
CHECK_LIBS := $(shell pkg-config --libs $(CHECK_PKG))
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

BIN	:= $(BUILD)/bin

# Modules shared by the daemon, the tool and the tests; the daemon's own
# (its HTTP front end and operators' listener), which antomctl never links.
CORE	:= util log verify verify_key notif conf pathvar target walvfs \
	   store_schema store_schema_v8 store_judge store_ckpt store_db refusal \
	   store_state store_replay store_sqlite store_pg_schema store_pg \
	   store_pg_pipe store_pg_sql store_pg_replay store_pg_engine store
DAEMON	:= http metrics admin proxy misroute
TOOL	:= sign client fixture $(patsubst src/%.c,%,$(wildcard src/ctl_*.c))
CORE_OBJ := $(CORE:%=$(BUILD)/obj/%.o)
DAEMON_OBJ := $(DAEMON:%=$(BUILD)/obj/%.o)
TOOL_OBJ := $(TOOL:%=$(BUILD)/obj/%.o)

TEST_SRC := tests/runner.c tests/helpers.c tests/e2e.c tests/pg.c tests/storedb.c $(wildcard tests/check_*.c)
TEST_OBJ := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o)

.PHONY: all run check asan valgrind torture bench install uninstall clean deps deps-test deps-bench

all: $(BIN)/antomd $(BIN)/antomctl bin/antomd bin/antomctl

# bin/ always points at the normal build, so paths in the docs stay short.
bin/antomd bin/antomctl: bin/%: build/bin/%
	@mkdir -p bin
	$(Q)ln -sf ../build/bin/$* $@

# The one compile recipe and the one link recipe; $(call link,LIBS) puts
# LIBS before the packages' libraries.
define compile
@mkdir -p $(@D)
@$(if $(Q),echo "  CC      $<")
$(Q)$(CC) $(ALL_CFLAGS) $1 -c -o $@ $<
endef

define link
@mkdir -p $(@D)
@$(if $(Q),echo "  LD      $@")
$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $1 $(PKG_LIBS)
endef

$(BUILD)/obj/%.o: src/%.c
	$(call compile)

$(BUILD)/tests/%.o: tests/%.c
	$(call compile,$(CHECK_CFLAGS))

$(BUILD)/obj/bench-%.o: bench/%.c
	$(call compile)

$(BIN)/antomd: $(BUILD)/obj/main.o $(DAEMON_OBJ) $(CORE_OBJ)
	$(call link)

$(BIN)/antomctl: $(BUILD)/obj/antomctl.o $(TOOL_OBJ) $(CORE_OBJ)
	$(call link)

$(BIN)/check_antomd: $(TEST_OBJ) $(TOOL_OBJ) $(DAEMON_OBJ) $(CORE_OBJ)
	$(call link,$(CHECK_LIBS))

$(BIN)/antom-bench-gen: $(BUILD)/obj/bench-gen.o $(TOOL_OBJ) $(CORE_OBJ)
	$(call link)

$(BIN)/antom-bench-store: $(BUILD)/obj/bench-store_bench.o $(BUILD)/obj/fixture.o $(CORE_OBJ)
	$(call link)

$(BIN)/antom-bench-sqlite: $(BUILD)/obj/bench-sqlite_ceiling.o
	$(call link)

$(BIN)/antom-bench-disk: $(BUILD)/obj/bench-disk_pause.o
	$(call link)

$(BIN)/antom-bench-preread: $(BUILD)/obj/bench-preread.o
	$(call link)

# make install PREFIX=/usr/local DESTDIR=: the daemon, the tool, a
# configuration to edit (never overwritten), the systemd units with the
# installed binary's path, and the sysusers and tmpfiles snippets.
UNITDIR	?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
CONFDIR	:= $(SYSCONFDIR)/antomd
MANDIR	?= $(PREFIX)/share/man
MANPAGES := $(wildcard man/man*/*.[0-9])

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(CONFDIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0755 build/bin/antomd $(DESTDIR)$(SBINDIR)/antomd
	install -m 0755 build/bin/antomctl $(DESTDIR)$(BINDIR)/antomctl
	sed -e 's|/usr/local/sbin/antomd|$(SBINDIR)/antomd|g' \
	    -e 's|/etc/antomd/|$(CONFDIR)/|g' systemd/antomd.service \
	    > $(DESTDIR)$(UNITDIR)/antomd.service
	install -m 0644 systemd/antomd.socket $(DESTDIR)$(UNITDIR)/antomd.socket
	install -m 0644 systemd/antomd.sysusers $(DESTDIR)$(SYSUSERSDIR)/antomd.conf
	install -m 0644 systemd/antomd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/antomd.conf
	for m in $(MANPAGES); do \
	    d=$(DESTDIR)$(MANDIR)/$$(basename $$(dirname $$m)); \
	    install -d $$d && install -m 0644 $$m $$d/; \
	done
	@if [ -e $(DESTDIR)$(CONFDIR)/antomd.conf ]; then \
	    echo "keeping $(DESTDIR)$(CONFDIR)/antomd.conf"; \
	else \
	    sed -e 's|^database ./var/antomd.db|database /var/lib/antomd/antomd.db|' \
	        -e 's|^client DEMO_CLIENT.*|# client YOUR_CLIENT_ID 1 MIIBIjANBgkqh...(Antom public key)|' \
	        conf/antomd.conf > $(DESTDIR)$(CONFDIR)/antomd.conf; \
	    chmod 0640 $(DESTDIR)$(CONFDIR)/antomd.conf; \
	    echo "installed $(DESTDIR)$(CONFDIR)/antomd.conf: add your client key"; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/antomd $(DESTDIR)$(BINDIR)/antomctl \
	    $(DESTDIR)$(UNITDIR)/antomd.service $(DESTDIR)$(UNITDIR)/antomd.socket \
	    $(DESTDIR)$(SYSUSERSDIR)/antomd.conf $(DESTDIR)$(TMPFILESDIR)/antomd.conf
	for m in $(MANPAGES); do \
	    rm -f $(DESTDIR)$(MANDIR)/$$(basename $$(dirname $$m))/$$(basename $$m); \
	done
	@echo "kept $(DESTDIR)$(CONFDIR)/antomd.conf and /var/lib/antomd"

# Debian packages: installed only when missing, only as root.
deps:
	$(Q)sh scripts/install-deps build

deps-test:
	$(Q)sh scripts/install-deps test

deps-bench:
	$(Q)sh scripts/install-deps bench

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh scripts/demo-setup
	@exec bin/antomd -c conf/antomd.conf

# The tests find the binaries under test through ANTOMD_BIN.  A short
# fuzzing pass (10 s a target) runs first when clang can build libFuzzer
# targets; the Check runner's summary stays the last line.
check: deps-test
	$(Q)$(MAKE) --no-print-directory all $(BIN)/check_antomd
	$(Q)$(if $(FUZZ_AVAILABLE),$(MAKE) --no-print-directory fuzz-short,echo "fuzz: clang with libFuzzer not available, skipped")
	$(Q)ANTOMD_BIN=$(CURDIR)/$(BIN) ANTOMD_TESTS=$(CURDIR)/tests $(BIN)/check_antomd

asan: deps-test
	$(Q)$(MAKE) --no-print-directory SAN=1 build/asan/bin/antomd build/asan/bin/antomctl build/asan/bin/check_antomd
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ANTOMD_BIN=$(CURDIR)/build/asan/bin ANTOMD_TESTS=$(CURDIR)/tests build/asan/bin/check_antomd

# Benchmarks are not tests: they print numbers and append them to
# bench/results/, and are not part of check.
bench: deps-bench
	$(Q)$(MAKE) --no-print-directory all $(BIN)/antom-bench-gen $(BIN)/antom-bench-sqlite $(BIN)/antom-bench-store $(BIN)/antom-bench-disk $(BIN)/antom-bench-preread
	$(Q)bench/run

# The suites that run the daemon (check_e2e_*.c, check_hostile.c,
# check_ops.c, check_install.c: nginx's upstream too, check_corpus.c,
# check_alerts.c: one scrape),
# with it under
# valgrind (memcheck; definite leaks and any error fail the test that
# stops it).
DAEMON_SUITES := e2e_protocol e2e_faults e2e_lifecycle hostile ops install \
		 e2e_pg corpus alerts

valgrind: deps-test
	$(Q)$(MAKE) --no-print-directory all $(BIN)/check_antomd
	$(Q)for suite in $(DAEMON_SUITES); do \
	  ANTOMD_VALGRIND=1 CK_TIMEOUT_MULTIPLIER=10 CK_RUN_SUITE=$$suite \
	  ANTOMD_BIN=$(CURDIR)/$(BIN) ANTOMD_TESTS=$(CURDIR)/tests \
	  $(BIN)/check_antomd || exit 1; done

# The long form of the crash test: 20 SIGKILL cycles under load.
torture: deps-test
	$(Q)$(MAKE) --no-print-directory all $(BIN)/check_antomd
	$(Q)ANTOMD_CRASH_CYCLES=20 CK_TIMEOUT_MULTIPLIER=5 CK_RUN_SUITE=e2e_faults \
	  CK_RUN_CASE=crash ANTOMD_BIN=$(CURDIR)/$(BIN) \
	  ANTOMD_TESTS=$(CURDIR)/tests $(BIN)/check_antomd

clean:
	rm -rf build bin

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/tests/*.d)
include fuzz/fuzz.mk
