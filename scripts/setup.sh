# Sourced by scripts/test and scripts/demo: installs what a fresh machine lacks (Debian, root,
# Rust by rustup, Node and npm; registries only) and skips whatever is already there.

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_rust_components() {
  local installed
  installed=$(rustup component list --installed 2>/dev/null || true)
  for component in rustfmt clippy; do
    if ! grep -q "^$component" <<<"$installed"; then
      log "rustup component add $component"
      rustup component add "$component"
    fi
  done
}

ensure_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

# Debian's Chromium and its driver: browser downloads from anywhere else fail on these machines.
ensure_chromium() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    return
  fi
  log "apt-get install chromium chromium-driver"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
}

# npm packages exactly as package-lock.json pins them; reinstalled only when the lockfile changes.
ensure_npm_packages() {
  local stamp=node_modules/.authfetch-lock.sha256 want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
  fi
}

# The wasm-bindgen CLI must match the library's version in Cargo.lock exactly.
ensure_wasm_bindgen() {
  local want have
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  have=$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)
  if [ "$have" != "$want" ]; then
    log "cargo install wasm-bindgen-cli $want"
    # --locked first; some registry snapshots lack a pinned transitive version, so fall back.
    cargo install wasm-bindgen-cli --version "$want" --locked ||
      cargo install wasm-bindgen-cli --version "$want"
  fi
}

# The interop fixtures' Python server (tests/interop/requirements.txt) in its own venv under
# target/; reinstalled only when the requirements change.
ensure_interop_venv() {
  local venv=target/interop-venv want
  local stamp=$venv/.authfetch-requirements.sha256
  want=$(sha256sum tests/interop/requirements.txt | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "python3 -m venv $venv; pip install -r tests/interop/requirements.txt"
    if ! python3 -m venv --clear "$venv" 2>/dev/null; then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv --clear "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
    echo "$want" >"$stamp"
  fi
}
