# Sourced by scripts/test, scripts/demo and the other scripts: installs what a fresh machine
# lacks (Debian, root, Rust by rustup, Node and npm; registries only) and skips whatever is
# already there. Every step that installs says so first, and a step that fails says which one
# and why, then stops the script: never a silent exit.

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Stops the calling script with a message naming the setup step that could not be done.
setup_failed() {
  printf '\033[1;31msetup failed: %s\033[0m\n' "$*" >&2
  exit 1
}

# Runs `$@` for step `$1`; a failure names the step, the command and its exit code.
setup_run() {
  local step=$1 status=0
  shift
  "$@" || status=$?
  [ "$status" -eq 0 ] || setup_failed "$step: '$*' exited with $status"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The version a tool prints, or nothing when the tool is absent. (A plain
# `$(tool --version | cut …)` under `set -o pipefail` ends the script with 127 and no message
# exactly when the tool is missing, i.e. on a fresh machine.)
tool_version() {
  local tool=$1 field=${2:-2}
  { "$tool" --version 2>/dev/null || true; } | head -n 1 | cut -d' ' -f"$field"
}

apt_updated=
# Debian packages, with one `apt-get update` per script run.
apt_install() {
  local step="apt-get install $*"
  log "$step"
  if [ -z "$apt_updated" ]; then
    setup_run "$step" as_root apt-get update -qq
    apt_updated=1
  fi
  # dpkg's progress is noise when all goes well: kept aside, and shown when it does not.
  local output status=0
  output=$(mktemp)
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$output" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    tail -n 30 "$output" >&2
    rm -f "$output"
    setup_failed "$step: apt-get exited with $status (its last lines are above)"
  fi
  rm -f "$output"
}

# A C toolchain: cargo links with `cc`, and some crates (SQLite, geckodriver's) compile C.
ensure_c_compiler() {
  if ! command -v cc >/dev/null 2>&1; then
    apt_install build-essential
  fi
}

ensure_rust_components() {
  ensure_c_compiler
  local installed
  installed=$(rustup component list --installed 2>/dev/null || true)
  for component in rustfmt clippy; do
    if ! grep -q "^$component" <<<"$installed"; then
      log "rustup component add $component"
      setup_run "rustup component add $component" rustup component add "$component"
    fi
  done
}

ensure_wasm_target() {
  if ! { rustup target list --installed 2>/dev/null || true; } | grep -qx wasm32-unknown-unknown; then
    log "rustup target add wasm32-unknown-unknown"
    setup_run "rustup target add wasm32-unknown-unknown" rustup target add wasm32-unknown-unknown
  fi
}

# Debian's Chromium and its driver: browser downloads from anywhere else fail on these machines.
ensure_chromium() {
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    apt_install chromium chromium-driver
  fi
}

# Debian's Firefox ESR, driven by playwright-core 1.60 (WebDriver BiDi) and by geckodriver.
ensure_firefox() {
  if [ ! -x /usr/bin/firefox-esr ]; then
    apt_install firefox-esr
  fi
}

# geckodriver for wasm-bindgen-test-runner in Firefox; builds from crates.io.
ensure_geckodriver() {
  local want=0.37.1
  if [ "$(tool_version geckodriver)" != "$want" ]; then
    log "cargo install geckodriver $want"
    setup_run "cargo install geckodriver $want" cargo install geckodriver --version "$want" --locked --quiet
  fi
}

# WebKitGTK's WebDriver and MiniBrowser, and the X server MiniBrowser needs (it has no
# headless mode here).
WEBKIT_MINIBROWSER=/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser
ensure_webkit() {
  if [ ! -x /usr/bin/WebKitWebDriver ] || [ ! -x "$WEBKIT_MINIBROWSER" ] || [ ! -x /usr/bin/Xvfb ]; then
    apt_install webkit2gtk-driver xvfb
  fi
  [ -x "$WEBKIT_MINIBROWSER" ] ||
    setup_failed "ensure_webkit: webkit2gtk-driver is installed but $WEBKIT_MINIBROWSER is not there"
}

ensure_browsers() {
  ensure_chromium
  ensure_firefox
  ensure_webkit
}

# npm packages exactly as package-lock.json pins them; reinstalled only when the lockfile changes.
ensure_npm_packages() {
  local stamp=node_modules/.authfetch-lock.sha256 want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    log "npm ci"
    setup_run "npm ci" npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
  fi
}

# The wasm-bindgen CLI must match the library's version in Cargo.lock exactly.
ensure_wasm_bindgen() {
  local want have
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  [ -n "$want" ] || setup_failed "ensure_wasm_bindgen: no wasm-bindgen version in Cargo.lock"
  have=$(tool_version wasm-bindgen)
  if [ "$have" != "$want" ]; then
    log "cargo install wasm-bindgen-cli $want${have:+ (found $have)}"
    # --locked first; some registry snapshots lack a pinned transitive version, so fall back.
    cargo install wasm-bindgen-cli --version "$want" --locked --quiet ||
      setup_run "cargo install wasm-bindgen-cli $want" cargo install wasm-bindgen-cli --version "$want" --quiet
  fi
}

# PostgreSQL's server programs, for the throwaway cluster of scripts/with-postgres. Debian keeps
# them off PATH, under /usr/lib/postgresql/<major>/bin; PG_BIN is set to that directory.
pg_bin_dir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && PG_BIN=$dir
  done
  [ -n "${PG_BIN:-}" ]
}
ensure_postgres() {
  if ! pg_bin_dir; then
    apt_install postgresql
    pg_bin_dir || setup_failed "ensure_postgres: postgresql is installed but no /usr/lib/postgresql/*/bin/initdb"
  fi
}

# The interop fixtures' Python server (tests/interop/requirements.txt) in its own venv under
# target/; reinstalled only when the requirements change.
ensure_interop_venv() {
  local venv=target/interop-venv want
  local stamp=$venv/.authfetch-requirements.sha256
  want=$(sha256sum tests/interop/requirements.txt | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    log "python3 -m venv $venv; pip install -r tests/interop/requirements.txt"
    if ! python3 -m venv --clear "$venv" 2>/dev/null; then
      apt_install python3-venv
      setup_run "python3 -m venv $venv" python3 -m venv --clear "$venv"
    fi
    setup_run "pip install -r tests/interop/requirements.txt" \
      "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
    echo "$want" >"$stamp"
  fi
}
