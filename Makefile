# A thin layer over CMake: the two commands of the quick start, and a few more.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure build demo test asan bench clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# Build and run the main example.
demo: build
	@$(BUILD)/examples/rill-demo

# Build and run every test.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	@$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DRILL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)"

bench: build
	@for b in $(BUILD)/bench/bench-*; do echo "== $$b"; $$b; done

clean:
	rm -rf build build-asan build-fuzz
