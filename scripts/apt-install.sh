# Sourced by the install-*.sh scripts: installs one Debian package with apt-get, as root (directly, or
# through password-less sudo). It never fails the caller: where the package cannot be installed,
# `apt_skip` says why and exits 0, and the tests that need it are skipped with the same hint.
#
#   name=chromium package=chromium skipped="the browser test will be skipped"
#   apt_install
apt_skip() {
  echo "install-$name: $1; $skipped (install Debian's $package package as root)" >&2
  exit 0
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || apt_skip "no apt-get here"
  local as_root=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || apt_skip "not root, and no password-less sudo"
    as_root=(sudo -n)
  fi
  echo "install-$name: installing Debian's $package package"
  "${as_root[@]}" apt-get update -qq || apt_skip "apt-get update failed"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null \
    || apt_skip "apt-get install $package failed"
}
