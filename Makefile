# The two commands of README.rst: `make run` and `make check`.
# Both install what they need (Debian packages, via scripts/install-deps).

BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
MESON_OPTS ?=

.PHONY: all deps build build-fuzz check run bench clean

all: build

deps:
	@./scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dwerror=true $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# libFuzzer targets need clang; they get a build directory of their own.
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzzing=true \
	    -Db_sanitize=address,undefined -Db_lundef=false

build-fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)

# The guest kit (a cold build takes minutes) is built before the tests'
# clock starts; if it cannot be built, the guest tests say why and skip.
check: build build-fuzz
	-./tests/guest/build-kit
	/usr/bin/python3 tests/run-all.py --build $(BUILD) --fuzz-build $(FUZZ_BUILD)

run: build
	./scripts/run-demo $(BUILD)

bench: build
	./tests/bench/run-all $(BUILD)

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)

# riscv64 Linux + busybox guest kit (cached in /var/cache/qx-guest).
.PHONY: guest-kit
guest-kit: deps
	./tests/guest/build-kit
