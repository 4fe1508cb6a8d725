# fuzz/fuzz.mk - libFuzzer targets for every parser of untrusted input.
#
# Included from the top Makefile (or run alone from the repository root:
# make -f fuzz/fuzz.mk fuzz-short).  Self-contained: every variable is
# FUZZ_-prefixed and nothing here changes the default goal.
#
#   make fuzz            build, then run each target FUZZ_SECONDS (300)
#   make fuzz-short      the same for 10 s each (make check)
#   make fuzz-build      build only
#
# Targets are built with clang -fsanitize=fuzzer,address,undefined into
# build/fuzz/ from their own objects (build/fuzz/obj/), never from
# build/obj.  Each runs from the repository root (fuzz_conf loads
# tests/vectors/ keys by relative path) on build/fuzz/corpus/<target>, a
# working copy seeded from fuzz/corpus/<target> that keeps what earlier
# runs found; fuzz/regress/<target>/ is replayed but never written.  A
# crash, leak, timeout or sanitizer report fails the target; the input is
# left in build/fuzz/artifacts/<target>/ and the log in
# build/fuzz/<target>.log.  One line per target is printed either way.
#
# FUZZ_AVAILABLE expands to "yes" when $(FUZZ_CC) can link a libFuzzer
# binary (evaluated only where used), for example:
#   check: ... $(if $(FUZZ_AVAILABLE),fuzz-short)

FUZZ_CC		?= clang
FUZZ_SECONDS	?= 300
FUZZ_MAXLEN	?= 8192
FUZZ_TIMEOUT	?= 10
FUZZ_FLAGS	?=

FUZZ_TARGETS	:= fuzz_sighdr fuzz_decode fuzz_notif fuzz_conf fuzz_target
FUZZ_OUT	:= build/fuzz
FUZZ_PKGS	:= openssl jansson sqlite3 libmicrohttpd libsystemd libpq

# The modules each target links (no main()).
FUZZ_MODS_fuzz_sighdr	:= verify util
FUZZ_MODS_fuzz_decode	:= verify util
FUZZ_MODS_fuzz_notif	:= notif refusal store store_sqlite store_state \
			   store_replay store_judge store_db store_ckpt \
			   store_schema store_schema_v8 store_pg_engine store_pg \
			   store_pg_pipe store_pg_sql store_pg_replay store_pg_schema \
			   verify verify_key \
			   walvfs log util
FUZZ_MODS_fuzz_conf	:= conf verify verify_key log util
FUZZ_MODS_fuzz_target	:= target

FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=all \
		   -fno-omit-frame-pointer
FUZZ_WARN	:= -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
		   -Wmissing-prototypes -Wformat=2
FUZZ_CFLAGS	= -std=c11 -D_GNU_SOURCE -g -O1 $(FUZZ_SAN) $(FUZZ_WARN) \
		   -Iinclude $(shell pkg-config --cflags $(FUZZ_PKGS)) -MMD -MP
FUZZ_LIBS	= $(shell pkg-config --libs $(FUZZ_PKGS)) -lpthread

FUZZ_Q		:= $(if $(filter 1,$(V)),,@)

FUZZ_AVAILABLE	= $(shell printf 'int LLVMFuzzerTestOneInput(const char *d, \
		   unsigned long n) { (void)d; (void)n; return 0; }\n' | \
		   $(FUZZ_CC) -x c -fsanitize=fuzzer,address,undefined \
		   -o /dev/null - >/dev/null 2>&1 && echo yes)

FUZZ_BINS	:= $(FUZZ_TARGETS:%=$(FUZZ_OUT)/%)
FUZZ_RUNS	:= $(FUZZ_TARGETS:%=fuzz-run-%)

FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

.PHONY: fuzz fuzz-short fuzz-build $(FUZZ_RUNS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_RUNS)

# Target-specific, so the run rules below see it too.
fuzz-short: FUZZ_SECONDS = 10
fuzz-short: $(FUZZ_RUNS)

# The code under test: instrumented for coverage, no libFuzzer main().
# The gcc build is the warning gate for src/ (-Werror there); clang's
# -Wformat-nonliteral also fires on v*printf helpers without a format
# attribute, which gcc accepts, so it is only reported by the main build.
$(FUZZ_OUT)/obj/src/%.o: src/%.c fuzz/fuzz.mk
	@mkdir -p $(@D)
	@$(if $(FUZZ_Q),echo "  FUZZCC  $<")
	$(FUZZ_Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-format-nonliteral \
	    -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_OUT)/obj/fuzz/%.o: fuzz/%.c fuzz/fuzz.mk
	@mkdir -p $(@D)
	@$(if $(FUZZ_Q),echo "  FUZZCC  $<")
	$(FUZZ_Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BINS): $(FUZZ_OUT)/%: $(FUZZ_OUT)/obj/fuzz/%.o
	@mkdir -p $(@D)
	@$(if $(FUZZ_Q),echo "  FUZZLD  $@")
	$(FUZZ_Q)$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

# Each target's modules, as extra prerequisites (so they are in $^).
$(foreach t,$(FUZZ_TARGETS),$(eval $(FUZZ_OUT)/$(t): \
    $(FUZZ_MODS_$(t):%=$(FUZZ_OUT)/obj/src/%.o)))

# Run one target.  libFuzzer's own exit status catches crashes, leaks,
# timeouts and out-of-memory; the grep catches a sanitizer report that
# somehow did not end the process.  Input files are added to the working
# corpus (cp -n keeps what is there), so seeds edited in the repository
# take effect without throwing away coverage found earlier.
$(FUZZ_RUNS): fuzz-run-%: $(FUZZ_OUT)/%
	@mkdir -p $(FUZZ_OUT)/corpus/$* $(FUZZ_OUT)/artifacts/$*
	@cp -n fuzz/corpus/$*/* $(FUZZ_OUT)/corpus/$*/ 2>/dev/null || true
	$(FUZZ_Q)log=$(FUZZ_OUT)/$*.log; \
	dict=; [ -f fuzz/$*.dict ] && dict=-dict=fuzz/$*.dict; \
	regress=; [ -d fuzz/regress/$* ] && regress=fuzz/regress/$*; \
	cd $(CURDIR) && \
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0$${ASAN_OPTIONS:+:$$ASAN_OPTIONS} \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1$${UBSAN_OPTIONS:+:$$UBSAN_OPTIONS} \
	$(FUZZ_OUT)/$* -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAXLEN) \
	    -timeout=$(FUZZ_TIMEOUT) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_OUT)/artifacts/$*/ $$dict $(FUZZ_FLAGS) \
	    $(FUZZ_OUT)/corpus/$* $$regress >$$log 2>&1; \
	rc=$$?; \
	runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log); \
	rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $$log); \
	corp=$$(ls $(FUZZ_OUT)/corpus/$* | wc -l); \
	if [ $$rc -eq 0 ] && ! grep -Eq '^==[0-9]+== ?ERROR|^SUMMARY: |runtime error:' $$log; then \
		printf '  FUZZ    %-12s ok: %s runs in %s s (%s/s), corpus %s\n' \
		    $* "$${runs:-?}" $(FUZZ_SECONDS) "$${rate:-?}" $$corp; \
	else \
		printf '  FUZZ    %-12s FAILED (exit %s) after %s runs; log %s\n' \
		    $* $$rc "$${runs:-?}" $$log; \
		grep -E -m 20 'ERROR|SUMMARY|runtime error|Assertion|Test unit written' \
		    $$log | sed 's/^/          /'; \
		echo "          reproduce: $(FUZZ_OUT)/$* FILE (from $(CURDIR))"; \
		exit 1; \
	fi

FUZZ_DEPS := $(wildcard $(FUZZ_OUT)/obj/src/*.d $(FUZZ_OUT)/obj/fuzz/*.d)
-include $(FUZZ_DEPS)

# Leave the including Makefile's default goal alone (if this is included
# first, the next rule defined becomes the default, as if we were absent).
.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
