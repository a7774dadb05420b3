# Makefile - builds ./rwfs and its tests, and sets a machine up for them.
#
#   make            build ./rwfs
#   make run        install what is missing, build, mount ./mnt in the foreground
#   make test       install what is missing, build, run every test twice:
#                   plain, then under AddressSanitizer and UBSan
#   make bench      install what is missing, build, print the benchmark table
#   make fuzz       build the libFuzzer harnesses (clang) and run each a while:
#                   FUZZ_SECONDS=60 by default
#   make man-check  render every man page and fail on any warning (part of check)
#   make install    install under PREFIX (default /usr/local), staged under
#                   DESTDIR when given; make uninstall removes it again
#
# CC, CFLAGS, CPPFLAGS and LDFLAGS are honoured.  Warnings are errors only in
# the project's own test builds (make test sets WERROR=-Werror); a change of
# flags rebuilds everything.  The sanitizer build lives in build/san (its
# daemon is build/san/rwfs).

BUILD   ?= build
SAN     ?=
CC      ?= cc
CFLAGS  ?= -O2 -g
WERROR  ?=
WARN    := -std=gnu11 -Wall -Wextra $(WERROR)
ifdef SAN
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
ALL_CFLAGS = $(WARN) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) -MMD -MP
# The daemon is linked with link-time optimisation: a request crosses many
# small functions of several files (register write: 2,626 instructions in
# the daemon without, 2,555 with).  The objects also keep ordinary code,
# which the unit tests link against without it.  NO_LTO=1 turns it off.
ifeq ($(SAN)$(NO_LTO),)
LTO_OBJ  := -flto=auto -ffat-lto-objects
LTO_LINK := -flto=auto
endif
# Deferred (=), so that a sub-make started after `deps` sees the packages.
FUSE_CFLAGS = $(shell pkg-config --cflags fuse3)
FUSE_LIBS = $(shell pkg-config --libs fuse3)

PACKAGES := gcc make pkg-config libfuse3-dev fuse3 libcmocka-dev libcrypt-dev zlib1g-dev \
	    nettle-dev python3 util-linux attr man-db groff-base libcurl4-openssl-dev \
	    libjson-c-dev etcd-server etcd-client
FUZZ_PACKAGES := clang
BENCH_PACKAGES := gnuplot-nox redis-server redis-tools
FUZZ_SECONDS ?= 60
LIBS := -lcrypt -lnettle -lz -lcurl -ljson-c -lpthread

# One version, in fs/fs.h; the tools print it too.
VERSION := $(shell sed -n 's/^\#define RWFS_VERSION "\([^"]*\)".*/\1/p' fs/fs.h)
TOOL_VERSION := -DRWFS_VERSION='"$(VERSION)"'
ENGINE_SRC := $(wildcard fs/engine/*.c)
LOG_SRC    := $(wildcard fs/log/*.c)
FS_SRC     := $(wildcard fs/*.c fs/class/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
TOOL_SRC   := $(filter-out tools/common.c,$(wildcard tools/*.c))
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o) $(LOG_SRC:%.c=$(BUILD)/%.o)
FS_OBJ     := $(FS_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
DAEMON     := $(if $(SAN),$(BUILD)/rwfs,rwfs)
# The tools live beside their sources (tools/producer); a sanitizer build
# keeps its own copies in $(BUILD)/tools.
TOOLS      := $(TOOL_SRC:tools/%.c=$(if $(SAN),$(BUILD)/tools/%,tools/%))

FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

MAN_PAGES  := $(wildcard man/*.[178])

# Where make install puts things.  The tools get an rwfs- prefix (their
# names alone, groups above all, are taken); the shell demos stay together
# with the common.sh they source, in LIBEXECDIR/rwfs.  mount(8) looks for
# its helper mount.fuse.rwfs in /sbin: MOUNTHELPERDIR=/sbin for a PREFIX
# other than /usr.
PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
SBINDIR        ?= $(PREFIX)/sbin
LIBEXECDIR     ?= $(PREFIX)/libexec
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/rwfs
MOUNTHELPERDIR ?= $(SBINDIR)
INSTALL        ?= install
TOOL_NAMES     := $(TOOL_SRC:tools/%.c=%)
SCRIPTS        := tools/reader.sh tools/writer.sh

.PHONY: all deps install-packages run cluster cluster-stop test check unit unit-bins integration man-check \
	bench fuzz install uninstall clean FORCE

all: $(DAEMON) $(TOOLS)

# The flags every object is built with: a change (CFLAGS=..., WERROR=...)
# makes them older than this file, so they are built again.
FLAGS_FILE := $(BUILD)/flags
$(FLAGS_FILE): FORCE
	@mkdir -p $(dir $@)
	@echo '$(CC) $(ALL_CFLAGS) $(LTO_OBJ) $(LDFLAGS)' | cmp -s - $@ || \
		echo '$(CC) $(ALL_CFLAGS) $(LTO_OBJ) $(LDFLAGS)' >$@

$(DAEMON): $(FS_OBJ) $(ENGINE_OBJ)
	$(CC) $(ALL_CFLAGS) $(LTO_LINK) $(LDFLAGS) -o $@ $(filter %.o,$^) $(FUSE_LIBS) $(LIBS)

$(BUILD)/fs/%.o: fs/%.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LTO_OBJ) $(FUSE_CFLAGS) -c -o $@ $<

# The engine and the log know nothing of FUSE: they are built without its
# headers.
$(BUILD)/fs/engine/%.o: fs/engine/%.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LTO_OBJ) -c -o $@ $<

$(BUILD)/fs/log/%.o: fs/log/%.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LTO_OBJ) -c -o $@ $<

$(TOOLS): $(if $(SAN),$(BUILD)/tools/%,tools/%): tools/%.c tools/common.c tools/common.h fs/engine/le.h \
		$(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(TOOL_VERSION) $(CFLAGS) $(SANFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) -lz

$(BUILD)/tests/%: tests/unit/%.c $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Ifs/engine -Ifs/log -o $@ $(filter %.c %.o,$^) -lcmocka $(LIBS)

deps:
	@$(MAKE) --no-print-directory install-packages WANT="$(PACKAGES)"

# Installs the Debian packages in WANT that are missing.
install-packages:
	@missing=$$(for p in $(WANT); do \
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

# A local three-member etcd cluster on 127.0.0.1 (client ports 2379, 22379,
# 32379; data in ./etcd.cluster) for trying ./rwfs --etcd=... on one machine.
cluster: deps
	tools/etcd-cluster.sh start

cluster-stop:
	tools/etcd-cluster.sh stop

unit-bins: $(UNIT_BIN)

unit: $(UNIT_BIN)
	@failed=0; for t in $(UNIT_BIN); do $$t || failed=1; done; exit $$failed

integration: all
	RWFS=$(DAEMON) TOOLS=$(if $(SAN),$(BUILD)/tools,tools) tests/integration/run.sh

# Every page renders without a warning from man or groff.
man-check:
	@failed=0; for page in $(MAN_PAGES); do \
		out=$$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
			man --warnings -E UTF-8 -l -Tutf8 -Z $$page 2>&1 >/dev/null); \
		if [ -n "$$out" ]; then echo "$$page:"; echo "$$out"; failed=1; fi; \
	done; exit $$failed

check: man-check unit integration

# Each half builds on every CPU first, then runs its tests: the unit tests
# one at a time, the integration tests with the etcd ones in a lane of their
# own beside the rest (tests/integration/run.sh).
JOBS := $(shell nproc 2>/dev/null || echo 2)

test: deps
	$(MAKE) -j$(JOBS) all unit-bins WERROR=-Werror
	$(MAKE) check WERROR=-Werror
	$(MAKE) -j$(JOBS) all unit-bins WERROR=-Werror SAN=1 BUILD=$(BUILD)/san
	$(MAKE) check WERROR=-Werror SAN=1 BUILD=$(BUILD)/san

install: $(DAEMON) $(TOOLS)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MOUNTHELPERDIR) \
		$(DESTDIR)$(LIBEXECDIR)/rwfs $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 755 rwfs $(DESTDIR)$(BINDIR)/rwfs
	for t in $(TOOL_NAMES); do $(INSTALL) -m 755 tools/$$t $(DESTDIR)$(BINDIR)/rwfs-$$t || exit 1; done
	$(INSTALL) -m 755 $(SCRIPTS) $(DESTDIR)$(LIBEXECDIR)/rwfs
	$(INSTALL) -m 644 tools/common.sh $(DESTDIR)$(LIBEXECDIR)/rwfs
	sed 's|@BINDIR@|$(BINDIR)|g' contrib/mount.fuse.rwfs >$(DESTDIR)$(MOUNTHELPERDIR)/mount.fuse.rwfs
	chmod 755 $(DESTDIR)$(MOUNTHELPERDIR)/mount.fuse.rwfs
	for s in 1 7 8; do \
		for p in man/*.$$s; do $(INSTALL) -m 644 $$p $(DESTDIR)$(MANDIR)/man$$s || exit 1; done; \
	done
	sed 's|@BINDIR@|$(BINDIR)|g' contrib/rwfs.service >$(DESTDIR)$(DOCDIR)/examples/rwfs.service
	$(INSTALL) -m 644 contrib/srv-rwfs.mount $(DESTDIR)$(DOCDIR)/examples

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rwfs $(TOOL_NAMES:%=$(DESTDIR)$(BINDIR)/rwfs-%) \
		$(DESTDIR)$(MOUNTHELPERDIR)/mount.fuse.rwfs \
		$(SCRIPTS:tools/%=$(DESTDIR)$(LIBEXECDIR)/rwfs/%) $(DESTDIR)$(LIBEXECDIR)/rwfs/common.sh \
		$(foreach p,$(notdir $(MAN_PAGES)),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(p)) \
		$(DESTDIR)$(DOCDIR)/examples/rwfs.service $(DESTDIR)$(DOCDIR)/examples/srv-rwfs.mount
	-rmdir $(DESTDIR)$(LIBEXECDIR)/rwfs $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)

bench:
	@$(MAKE) --no-print-directory install-packages WANT="$(PACKAGES) $(BENCH_PACKAGES)"
	$(MAKE) all
	bench/run.sh
	bench/etcd.sh

# libFuzzer harnesses of every parser and of the replay; not part of make
# test.  Each runs FUZZ_SECONDS on its own corpus in build/fuzz/.
$(BUILD)/fuzz/%: tests/fuzz/%.c $(ENGINE_SRC) $(LOG_SRC)
	@mkdir -p $(dir $@)
	clang $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined -Ifs/engine -Ifs/log \
		-o $@ $< $(ENGINE_SRC) $(LOG_SRC) $(LIBS)

fuzz:
	@$(MAKE) --no-print-directory install-packages WANT="$(PACKAGES) $(FUZZ_PACKAGES)"
	$(MAKE) $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
		mkdir -p $$f.corpus; \
		echo "== $$f"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$f.corpus \
			> $$f.log 2>&1; status=$$?; \
		grep -E '^stat::(number_of_executed_units|peak_rss_mb)' $$f.log; \
		if [ $$status -ne 0 ]; then tail -n 40 $$f.log; exit 1; fi; \
	done

clean:
	rm -rf $(BUILD) rwfs $(TOOL_SRC:.c=)

FORCE:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
