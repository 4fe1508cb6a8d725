# antomd - Antom payment notification receiver.
#
#   make            build bin/antomd and bin/antomctl
#   make run        install missing Debian packages, build, run on conf/antomd.conf
#   make check      install missing Debian packages, build, run every test
#   make asan       the same tests under AddressSanitizer + UBSan
#   make bench      benchmarks (not part of check)
#   make install    PREFIX=/usr/local DESTDIR=
#
# V=1 shows the commands.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
DESTDIR	?=

PKGS	:= libmicrohttpd jansson sqlite3 openssl libsystemd
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

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
CHECK_LIBS = $(shell pkg-config --libs $(CHECK_PKG) 2>/dev/null)

ifeq ($(V),1)
Q :=
else
Q := @
endif

BIN	:= $(BUILD)/bin

# Modules shared by the daemon, the tool and the tests.
CORE	:= util log verify notif conf walvfs store http metrics admin proxy
TOOL	:= sign client fixture $(patsubst src/%.c,%,$(wildcard src/ctl_*.c))
CORE_OBJ := $(CORE:%=$(BUILD)/obj/%.o)
TOOL_OBJ := $(TOOL:%=$(BUILD)/obj/%.o)

TEST_SRC := $(wildcard tests/check_*.c) tests/e2e.c
TEST_OBJ := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o)

.PHONY: all run check asan valgrind torture bench install uninstall clean deps deps-test deps-bench

all: $(BIN)/antomd $(BIN)/antomctl bin/antomd bin/antomctl

# bin/ always points at the normal build, so paths in the docs stay short.
bin/antomd bin/antomctl: bin/%: build/bin/%
	@mkdir -p bin
	$(Q)ln -sf ../build/bin/$* $@

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags $(CHECK_PKG)) -c -o $@ $<

$(BIN)/antomd: $(BUILD)/obj/main.o $(CORE_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BIN)/antomctl: $(BUILD)/obj/antomctl.o $(TOOL_OBJ) $(CORE_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BIN)/check_antomd: $(TEST_OBJ) $(TOOL_OBJ) $(CORE_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS)

$(BUILD)/obj/bench-%.o: bench/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BIN)/antom-bench-gen: $(BUILD)/obj/bench-gen.o $(TOOL_OBJ) $(CORE_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BIN)/antom-bench-store: $(BUILD)/obj/bench-store_bench.o $(CORE_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BIN)/antom-bench-sqlite: $(BUILD)/obj/bench-sqlite_ceiling.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

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
	$(Q)$(MAKE) --no-print-directory all $(BIN)/antom-bench-gen $(BIN)/antom-bench-sqlite $(BIN)/antom-bench-store
	$(Q)bench/run

# The suites that run the daemon (e2e, hostile, ops: nginx's upstream
# too), with it under valgrind (memcheck; definite leaks and any error
# fail the test that stops it).
valgrind: deps-test
	$(Q)$(MAKE) --no-print-directory all $(BIN)/check_antomd
	$(Q)for suite in e2e hostile ops; do \
	  ANTOMD_VALGRIND=1 CK_TIMEOUT_MULTIPLIER=10 CK_RUN_SUITE=$$suite \
	  ANTOMD_BIN=$(CURDIR)/$(BIN) ANTOMD_TESTS=$(CURDIR)/tests \
	  $(BIN)/check_antomd || exit 1; done

# The long forms of the fault tests: 20 SIGKILL cycles under load.
torture: deps-test
	$(Q)$(MAKE) --no-print-directory all $(BIN)/check_antomd
	$(Q)ANTOMD_CRASH_CYCLES=20 CK_TIMEOUT_MULTIPLIER=5 CK_RUN_SUITE=e2e \
	  CK_RUN_CASE=crash ANTOMD_BIN=$(CURDIR)/$(BIN) \
	  ANTOMD_TESTS=$(CURDIR)/tests $(BIN)/check_antomd

clean:
	rm -rf build bin

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/tests/*.d)
include fuzz/fuzz.mk
