# SPDX-License-Identifier: Apache-2.0
#
# tests/fuzz: libFuzzer harnesses over the parsers of untrusted bytes, built
# apart from everything else: the libraries again with clang, libFuzzer's
# coverage, ASan and UBSan (any UB aborts), into $(O)/fuzz; for line
# coverage once more with clang's source coverage, into $(O)/fuzz-cov.
# tests/fuzz/run-fuzz runs them (its table: sizes, timeouts, sources).
#
#   make check-fuzz   each harness over its seeds and past crashes, then
#                     FUZZ_CHECK_TIME s of mutation (part of `make check`)
#   make fuzz         each harness FUZZ_TIME s (FUZZ=name... for some),
#                     then a table of executions, edges and line coverage

FUZZ_TIME ?= 60
FUZZ_CHECK_TIME ?= 3
LLVM_PROFDATA ?= llvm-profdata
LLVM_COV ?= llvm-cov

FUZZ_O := $(O)/fuzz
FUZZ_COV_O := $(O)/fuzz-cov
FUZZ_ALL := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ ?= $(FUZZ_ALL)
FUZZ_BINS := $(patsubst %,$(FUZZ_O)/fuzz_%,$(FUZZ))
FUZZ_COV_BINS := $(patsubst %,$(FUZZ_COV_O)/fuzz_%,$(FUZZ))

# Every library a harness may call, instrumented: libzerohop, the CNI
# plugin's protocol side, the AF_XDP wire format.
FUZZ_LIB_SRCS := $(LIB_SRCS) $(CNI_LIB_SRCS) \
	$(filter-out user/xsk/zh_xsk_echo.c,$(wildcard user/xsk/*.c))

FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined
FUZZ_COV_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link \
	-fprofile-instr-generate -fcoverage-mapping
FUZZ_COV_LDFLAGS := -fsanitize=fuzzer -fprofile-instr-generate
FUZZ_LINK_LIBS := $(PKG_LIBS) $(K8S_LIBS)

$(FUZZ_O)/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(ZH_CFLAGS) -Itests/fuzz $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_COV_O)/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(call msg,COV-CC,$@)
	$(Q)$(CLANG) $(ZH_CFLAGS) -Itests/fuzz $(FUZZ_COV_CFLAGS) -c $< -o $@

$(FUZZ_O)/libzerohop-fuzz.a: $(patsubst %.c,$(FUZZ_O)/obj/%.o,$(FUZZ_LIB_SRCS))
$(FUZZ_COV_O)/libzerohop-fuzz.a: $(patsubst %.c,$(FUZZ_COV_O)/obj/%.o,$(FUZZ_LIB_SRCS))
$(FUZZ_O)/libzerohop-fuzz.a $(FUZZ_COV_O)/libzerohop-fuzz.a:
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_O)/fuzz_%: $(FUZZ_O)/obj/tests/fuzz/fuzz_%.o $(FUZZ_O)/libzerohop-fuzz.a
	$(call msg,FUZZ-LD,$@)
	$(Q)$(CLANG) $(FUZZ_LDFLAGS) $^ $(FUZZ_LINK_LIBS) -o $@

$(FUZZ_COV_O)/fuzz_%: $(FUZZ_COV_O)/obj/tests/fuzz/fuzz_%.o $(FUZZ_COV_O)/libzerohop-fuzz.a
	$(call msg,COV-LD,$@)
	$(Q)$(CLANG) $(FUZZ_COV_LDFLAGS) $^ $(FUZZ_LINK_LIBS) -o $@

fuzz-build: $(FUZZ_BINS)

check-fuzz: $(FUZZ_BINS)
	$(Q)tests/fuzz/run-fuzz check --out $(FUZZ_O) --time $(FUZZ_CHECK_TIME) \
		$(FUZZ)

fuzz: $(FUZZ_BINS) $(FUZZ_COV_BINS)
	$(Q)LLVM_PROFDATA=$(LLVM_PROFDATA) LLVM_COV=$(LLVM_COV) \
		tests/fuzz/run-fuzz fuzz --out $(FUZZ_O) --cov $(FUZZ_COV_O) \
		--time $(FUZZ_TIME) $(FUZZ)

