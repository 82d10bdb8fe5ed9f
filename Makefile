# deckhand: one plain GNU Makefile for the agent, gateway, CLI and tests.
#
#   make          build everything (hardened, -Werror) into $(BUILD)
#   make deps     install build and test dependencies (apt-get), idempotent
#   make check    deps + build + every test suite (unit, fuzz replay, integration)
#   make demo     deps + build + run the main job on the embedded gateway
#   make asan     the whole suite under ASan+UBSan (separate build dir)
#   make fuzz     build every libFuzzer target with clang and run each briefly
#   make install  DESTDIR=... install under FHS paths
#   make deb      build .deb packages with dpkg-deb

VERSION := 0.1.0
BUILD ?= build/release
CC ?= cc
PREFIX ?= /usr
DESTDIR ?=
FUZZ_SECONDS ?= 15

PKGS := libcurl openssl libwebsockets libcjson libarchive sqlite3 expat
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -Wno-unused-parameter
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
HARDEN_LD := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
OPT := -O2 -g

ifeq ($(SAN),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
HARDEN := -fstack-protector-strong -fPIE
HARDEN_LD += -fsanitize=address,undefined
endif

ifeq ($(SAN),fuzz)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-DDH_FUZZING
HARDEN := -fPIE
HARDEN_LD += -fsanitize=address,undefined
endif

INCLUDES := -Icommon -Iplugins/session -Iplugins/patch -Iagent -Igateway -Icli
CFLAGS_ALL = -std=gnu11 $(OPT) $(WARN) $(HARDEN) $(INCLUDES) $(PKG_CFLAGS) \
	-DDH_VERSION='"$(VERSION)"' $(EXTRA_CFLAGS)
LDFLAGS_ALL = $(HARDEN_LD) $(EXTRA_LDFLAGS)
LIBS_ALL = $(PKG_LIBS) -lm -lpthread

# Library code: every .c in these folders except main.c.
LIBDIRS := common plugins/session plugins/patch agent gateway cli
src_of = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
obj_of = $(patsubst %.c,$(BUILD)/obj/%.o,$(call src_of,$(1)))
lib_of = $(BUILD)/lib/lib$(subst /,_,$(1)).a

# Link order: dependents first, common last.
LINK_ORDER := cli gateway agent plugins/patch plugins/session common
ALL_LIBS = $(foreach d,$(LINK_ORDER),$(if $(call src_of,$(d)),$(call lib_of,$(d))))

PROGS :=
ifneq ($(wildcard agent/main.c),)
PROGS += $(BUILD)/deckhand-agent
endif
ifneq ($(wildcard gateway/main.c),)
PROGS += $(BUILD)/deckhand-gateway
endif
ifneq ($(wildcard cli/main.c),)
PROGS += $(BUILD)/deckhand
endif

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/replay/%,$(FUZZ_SRC))
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: libs all deps check test unit replay integration demo asan fuzz install \
	deb clean check-src

all: $(PROGS) $(UNIT_BIN) $(REPLAY_BIN) $(TOOL_BIN) $(BENCH_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

define lib_rule
$(call lib_of,$(1)): $(call obj_of,$(1))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach d,$(LIBDIRS),$(if $(call src_of,$(d)),$(eval $(call lib_rule,$(d)))))

$(BUILD)/deckhand-agent: $(BUILD)/obj/agent/main.o $(ALL_LIBS)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(ALL_LIBS) $(LIBS_ALL)
$(BUILD)/deckhand-gateway: $(BUILD)/obj/gateway/main.o $(ALL_LIBS)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(ALL_LIBS) $(LIBS_ALL)
$(BUILD)/deckhand: $(BUILD)/obj/cli/main.o $(ALL_LIBS)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(ALL_LIBS) $(LIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(ALL_LIBS) $(LIBS_ALL) -lcmocka

$(BUILD)/replay/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/obj/tests/fuzz/replay.o $(ALL_LIBS) $(LIBS_ALL)

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(ALL_LIBS) $(LIBS_ALL)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(ALL_LIBS) $(LIBS_ALL)

# Keep objects of pattern-chained targets (tests, tools) between builds.
.SECONDARY:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

deps:
	@sh install/deps.sh

# The README's test command: set-up, build, then every suite.
check: deps
	$(MAKE) all
	$(MAKE) check-src
	sh tests/run.sh $(BUILD)

# Test suites only (no dependency installation).
test: all
	sh tests/run.sh $(BUILD)

unit: all
	sh tests/run.sh $(BUILD) unit

integration: all
	sh tests/run.sh $(BUILD) integration

check-src:
	@sh tests/check-src.sh

demo: deps
	$(MAKE) all
	sh install/demo.sh $(BUILD)

asan: deps
	$(MAKE) BUILD=build/asan SAN=1 all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	DH_SANITIZED=1 sh tests/run.sh build/asan

# libFuzzer: the libraries are built once with clang (coverage-instrumented),
# then each target is linked with -fsanitize=fuzzer.
FUZZ_BUILD := build/fuzz
fuzz: deps
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang SAN=fuzz libs
	@set -e; for f in $(FUZZ_SRC); do \
		n=$$(basename $$f .c); \
		echo "fuzz: building $$n"; \
		clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
			$(INCLUDES) $(PKG_CFLAGS) -o $(FUZZ_BUILD)/$$n $$f \
			$(subst $(BUILD),$(FUZZ_BUILD),$(ALL_LIBS)) $(LIBS_ALL); \
	done
	sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

libs: $(ALL_LIBS)

install: all
	sh install/install-files.sh "$(BUILD)" "$(DESTDIR)" "$(PREFIX)"

deb: all
	sh packaging/build-deb.sh "$(BUILD)" "$(VERSION)"

clean:
	rm -rf build
