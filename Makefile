# ward — build, test, demo, bench. `make help` lists the targets.
#   make WOLFSSL=system ...   link Debian's libwolfssl instead of the cached
#                             source build with x86-64 assembly (the default)
WOLFSSL ?= source
CC ?= cc
BUILD := build

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wformat=2 -Wvla -Wno-unused-parameter
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -fstack-protector-strong \
	-D_FORTIFY_SOURCE=2 -fPIE
LDFLAGS_BASE := -pie -Wl,-z,relro,-z,now

ifeq ($(WOLFSSL),system)
WOLF_CFLAGS := $(shell pkg-config --cflags wolfssl 2>/dev/null)
WOLF_LIBS := $(shell pkg-config --libs wolfssl 2>/dev/null || echo -lwolfssl)
WOLF_STAMP :=
else
# deploy/wolfssl.sh prints the prefix of its cached build (building it once).
WOLF_PREFIX = $(shell cat $(BUILD)/wolfssl-prefix)
WOLF_CFLAGS = -I$(WOLF_PREFIX)/include
WOLF_LIBS = $(WOLF_PREFIX)/lib/libwolfssl.a -lm
WOLF_STAMP := $(BUILD)/wolfssl-prefix
endif

PKGS := libuv jansson libcurl libnghttp2 yaml-0.1
DEP_CFLAGS = $(WOLF_CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# http-parser ships no pkg-config file.
DEP_LIBS = $(WOLF_LIBS) $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser -lpthread -lm
CFLAGS_ALL = $(CFLAGS_BASE) $(DEP_CFLAGS) -I. $(CFLAGS)

# Folders from the foundation up; a folder uses only those before it.
SRC_DIRS := lib spiffe certs config agent server kube
LIB_SRCS := $(wildcard $(SRC_DIRS:%=%/*.c))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
HDRS := $(wildcard $(SRC_DIRS:%=%/*.h) tests/unit/*.h)

# Two object trees: the release build and an ASan+UBSan build for the unit tests.
OBJ := $(BUILD)/obj
SAN_OBJ := $(BUILD)/san
SAN_FLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ)/%.o)
SAN_LIB_OBJS := $(LIB_SRCS:%.c=$(SAN_OBJ)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
SAN_UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests-san/%)

.SECONDARY:
.PHONY: all deps deps-test deps-bench test unit unit-san unit-valgrind e2e test-pods demo drill bench \
	fuzz clean help format install uninstall
all: $(BUILD)/ward

help:
	@echo "make            build build/ward"
	@echo "make demo       two meshed pods in network namespaces, one request, a summary"
	@echo "make drill      a cert-rotation drill under load in the demo's pods, with a report"
	@echo "make test       unit tests (plain and ASan/UBSan), e2e scenarios and the pod test (root)"
	@echo "make test-pods  ward's image and injected pods on podman (root)"
	@echo "make bench      ward vs HAProxy vs plaintext in the same topology"
	@echo "make fuzz       bounded libFuzzer runs of the untrusted-input parsers"
	@echo "make install    build/ward, the systemd units and users, example configs"
	@echo "                (PREFIX=/usr/local, SYSCONFDIR=/etc, DESTDIR=); make uninstall"
	@echo "WOLFSSL=system  link Debian's libwolfssl instead of the assembly build"

deps:
	@deploy/deps.sh build
deps-test:
	@deploy/deps.sh test
deps-bench:
	@deploy/deps.sh bench

$(BUILD)/wolfssl-prefix: deploy/wolfssl.sh | deps
	@mkdir -p $(BUILD)
	deploy/wolfssl.sh > $@.tmp && mv $@.tmp $@

$(OBJ)/%.o: %.c $(HDRS) $(WOLF_STAMP) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(SAN_OBJ)/%.o: %.c $(HDRS) $(WOLF_STAMP) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/ward: $(OBJ)/cmd/main.o $(LIB_OBJS)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ $(DEP_LIBS) $(LDFLAGS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_BASE) -o $@ $< $(LIB_OBJS) $(DEP_LIBS) -lcmocka

$(BUILD)/tests-san/%: tests/unit/%.c $(SAN_LIB_OBJS) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SAN_FLAGS) -o $@ $< $(SAN_LIB_OBJS) $(DEP_LIBS) -lcmocka

unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

unit-san: $(SAN_UNIT_BINS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/run-unit.sh $(SAN_UNIT_BINS)

# valgrind on the release build catches what ASan's instrumented build hides
# (uninitialised reads through wolfSSL's assembly, leaks at exit).
unit-valgrind: $(UNIT_BINS) | deps-test
	@VALGRIND="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite" \
		tests/run-unit.sh $(UNIT_BINS)

e2e: $(BUILD)/ward | deps-test
	@WARD_BIN=$(abspath $(BUILD))/ward tests/e2e/run.sh

# ward's image built from this tree, injected manifests played by podman
# (tests/pods/run.sh; podman and the base images come with it).
test-pods: $(BUILD)/ward | deps-test
	@WARD_BIN=$(abspath $(BUILD))/ward tests/pods/run.sh

test: deps-test
	@$(MAKE) --no-print-directory unit unit-san unit-valgrind e2e test-pods

demo: $(BUILD)/ward | deps-test
	@WARD_BIN=$(abspath $(BUILD))/ward tests/e2e/demo.sh

drill: $(BUILD)/ward | deps-test
	@WARD_BIN=$(abspath $(BUILD))/ward DRILL_OUT=$(abspath $(BUILD))/drill tests/e2e/drill_demo.sh

bench: $(BUILD)/ward | deps-bench
	@WARD_BIN=$(abspath $(BUILD))/ward tests/bench/bench.sh

fuzz: | deps-test
	@tests/fuzz/run.sh

# A VM or bare host (README, "Running on a VM"): the binary, the systemd units
# (with this PREFIX's paths), their users, and the configs under
# SYSCONFDIR/ward, which are never overwritten (the examples also go to
# PREFIX/share/ward). uninstall leaves configs and /var/lib/ward (CA keys).
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
BINDIR = $(PREFIX)/bin
UNITDIR = $(PREFIX)/lib/systemd/system
SYSUSERSDIR = $(PREFIX)/lib/sysusers.d
SHAREDIR = $(PREFIX)/share/ward
UNITS := ward-agent.service ward-capture.service ward-server.service
VM_CONFIGS := agent.json server.json entries.json capture.env

install: $(BUILD)/ward
	install -D -m 0755 $(BUILD)/ward $(DESTDIR)$(BINDIR)/ward
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(SYSCONFDIR)/ward
	for u in $(UNITS); do \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
			deploy/systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -D -m 0644 deploy/systemd/ward.sysusers $(DESTDIR)$(SYSUSERSDIR)/ward.conf
	for f in $(VM_CONFIGS); do \
		install -m 0644 deploy/systemd/$$f $(DESTDIR)$(SHAREDIR)/$$f || exit 1; \
		[ -e $(DESTDIR)$(SYSCONFDIR)/ward/$$f ] || \
			install -m 0644 deploy/systemd/$$f $(DESTDIR)$(SYSCONFDIR)/ward/$$f || exit 1; \
	done
	@echo "installed. Next: systemd-sysusers; systemctl daemon-reload; edit $(SYSCONFDIR)/ward/*;"
	@echo "  systemctl enable --now ward-server ward-capture ward-agent"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ward $(DESTDIR)$(SYSUSERSDIR)/ward.conf
	rm -f $(UNITS:%=$(DESTDIR)$(UNITDIR)/%) $(VM_CONFIGS:%=$(DESTDIR)$(SHAREDIR)/%)
	-rmdir $(DESTDIR)$(SHAREDIR) 2>/dev/null
	@echo "left in place: $(SYSCONFDIR)/ward (configs), /var/lib/ward (CA keys), the ward users"

format:
	clang-format -i $(wildcard $(SRC_DIRS:%=%/*.[ch]) cmd/*.c tests/unit/*.[ch])

clean:
	rm -rf $(BUILD)
