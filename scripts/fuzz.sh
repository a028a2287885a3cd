#!/usr/bin/env bash
# Fuzz the msgpack event decoder with libFuzzer for a while.
#
#   scripts/fuzz.sh [seconds]        (default 60)
#
# Builds tests/fuzz/fuzz_decode.c with clang -fsanitize=fuzzer,address,undefined
# into build-fuzz/, copies the seed corpus from tests/fuzz/corpus/ to
# build-fuzz/corpus/ (which keeps what the fuzzer finds between runs) and runs
# it. Exits non-zero when the fuzzer finds a crash (the input is saved in
# build-fuzz/ as crash-*); prints a message and exits 0 when clang or
# libFuzzer is not installed.
set -euo pipefail

SECONDS_TO_RUN="${1:-60}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/build-fuzz"
CC="${FUZZ_CC:-clang}"

if ! command -v "$CC" >/dev/null 2>&1; then
  echo "fuzz: $CC not found; skipping (install clang and libclang-rt-dev)"
  exit 0
fi
mkdir -p "$OUT/corpus"
probe="$OUT/probe.c"
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$probe"
if ! "$CC" -fsanitize=fuzzer "$probe" -o "$OUT/probe" >/dev/null 2>&1; then
  echo "fuzz: $CC cannot link libFuzzer; skipping (install libclang-rt-dev)"
  rm -f "$probe"
  exit 0
fi
rm -f "$probe" "$OUT/probe"

PKG_CFLAGS="$(pkg-config --cflags msgpack libxxhash 2>/dev/null || true)"
PKG_LIBS="$(pkg-config --libs msgpack libxxhash 2>/dev/null || echo -lmsgpackc -lxxhash)"
echo "fuzz: building $OUT/fuzz_decode"
# shellcheck disable=SC2086
"$CC" -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -fno-omit-frame-pointer -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
  -I "$ROOT/include" -I "$ROOT" $PKG_CFLAGS \
  "$ROOT/tests/fuzz/fuzz_decode.c" \
  "$ROOT/engine/codec_decode.c" "$ROOT/engine/codec_encode.c" "$ROOT/engine/buf.c" \
  "$ROOT/engine/batch.c" "$ROOT/engine/schema.c" "$ROOT/engine/error.c" \
  -o "$OUT/fuzz_decode" $PKG_LIBS -lm

cp -n "$ROOT"/tests/fuzz/corpus/* "$OUT/corpus/" 2>/dev/null || true
echo "fuzz: running for ${SECONDS_TO_RUN}s"
cd "$OUT"
# One job: the machine is shared. -max_len covers batches of a few dozen events.
exec ./fuzz_decode -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=10 \
  -print_final_stats=1 corpus
