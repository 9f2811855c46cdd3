# Shared by scripts/*: install what the project needs, nothing by hand.

# install_debian_packages PKG...: apt-get install the missing ones (root only).
install_debian_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "not root (or no apt-get): please install ${missing[*]}" >&2
    return 0
  fi
  echo "== apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# make_venv DIR SPEC: create a virtualenv and pip install SPEC (e.g. '.[test]') into it.
# pip's output is shown only when it fails (it warns about every absent local index).
make_venv() {
  [ -x "$1/bin/python" ] || { echo "== creating the virtualenv $1"; python3 -m venv "$1"; }
  echo "== pip install $2 into $1 (about 20 s the first time)"
  local log
  log=$(mktemp)
  if ! "$1/bin/python" -m pip install -q --disable-pip-version-check -e "$2" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

# require_commands CMD...: check that every command the tests call exists. One line names
# the missing ones; in CI (CI=true) that is a failure, elsewhere a warning (tests skip).
require_commands() {
  local missing=()
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] || missing+=("$cmd")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "${CI:-}" = true ]; then
    echo "missing commands the tests need: ${missing[*]} (scripts/test installs them as root)" >&2
    return 1
  fi
  echo "warning: missing commands, their tests will be skipped: ${missing[*]}" >&2
}
