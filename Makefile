# Makefile - builds ./rwfs and its tests, and sets a machine up for them.
#
#   make            build ./rwfs
#   make run        install what is missing, build, mount ./mnt in the foreground
#   make test       install what is missing, build, run every test twice:
#                   plain, then under AddressSanitizer and UBSan
#   make bench      install what is missing, build, print the benchmark table
#
# The sanitizer build lives in build/san (its daemon is build/san/rwfs).

BUILD   ?= build
SAN     ?=
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=gnu11 -Wall -Wextra -Werror
ifdef SAN
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
ALL_CFLAGS = $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP
# Deferred (=), so that a sub-make started after `deps` sees the packages.
FUSE_CFLAGS = $(shell pkg-config --cflags fuse3)
FUSE_LIBS = $(shell pkg-config --libs fuse3)

PACKAGES := gcc make pkg-config libfuse3-dev fuse3 libcmocka-dev libcrypt-dev python3 util-linux attr

ENGINE_SRC := $(wildcard fs/engine/*.c)
FS_SRC     := $(wildcard fs/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
TOOL_SRC   := $(filter-out tools/common.c,$(wildcard tools/*.c))
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
FS_OBJ     := $(FS_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
DAEMON     := $(if $(SAN),$(BUILD)/rwfs,rwfs)
# The tools live beside their sources (tools/producer); a sanitizer build
# keeps its own copies in $(BUILD)/tools.
TOOLS      := $(TOOL_SRC:tools/%.c=$(if $(SAN),$(BUILD)/tools/%,tools/%))

.PHONY: all deps run test check unit integration bench clean

all: $(DAEMON) $(TOOLS)

$(DAEMON): $(FS_OBJ) $(ENGINE_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(FUSE_LIBS) -lcrypt -lpthread

$(BUILD)/fs/%.o: fs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUSE_CFLAGS) -c -o $@ $<

# The engine knows nothing of FUSE: it is built without its headers.
$(BUILD)/fs/engine/%.o: fs/engine/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(TOOLS): $(if $(SAN),$(BUILD)/tools/%,tools/%): tools/%.c tools/common.c tools/common.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(SANFLAGS) -o $@ $(filter %.c,$^)

$(BUILD)/tests/%: tests/unit/%.c $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ifs/engine -o $@ $(filter %.c %.o,$^) -lcmocka -lcrypt -lpthread

deps:
	@missing=$$(for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

run: deps
	$(MAKE) all
	./rwfs -f mnt

unit: $(UNIT_BIN)
	@failed=0; for t in $(UNIT_BIN); do $$t || failed=1; done; exit $$failed

integration: all
	RWFS=$(DAEMON) TOOLS=$(if $(SAN),$(BUILD)/tools,tools) tests/integration/run.sh

check: unit integration

test: deps
	$(MAKE) check
	$(MAKE) check SAN=1 BUILD=$(BUILD)/san

bench: deps
	$(MAKE) all
	bench/run.sh

clean:
	rm -rf $(BUILD) rwfs $(TOOL_SRC:.c=)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
