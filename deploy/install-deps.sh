#!/usr/bin/env bash
# Installs what `make run` (default) or `make test` (--test) needs on Debian 12, then the virtualenv.
# Idempotent: a second run checks, prints one line per part, and installs nothing.
#
#   deploy/install-deps.sh          system packages for running + .venv with `pip install -e .`
#   deploy/install-deps.sh --test   also PostgreSQL + .venv with `pip install -e '.[test]'`
#
# System packages need root; the check itself does not, so an up-to-date machine never asks for it.
set -euo pipefail

# --- the one place to list system packages ----------------------------------------------------------
RUN_PACKAGES=(slapd ldap-utils prosody)  # the dev directory (slapd) and its tools; the XMPP server
# The PostgreSQL half of the suite (127.0.0.1:5432 or its own cluster); Chromium for the browser tests;
# a Samba Active Directory domain controller (and ldbadd to seed it) for the AD tests.
TEST_PACKAGES=(postgresql chromium samba-ad-dc samba-ad-provision ldb-tools)
# Packaged services that would take the stack's ports or run a server nobody configured: stopped and
# disabled right after we install them (only on machines where systemd runs).
SERVICES_TO_DISABLE=(slapd prosody samba-ad-dc)
# -----------------------------------------------------------------------------------------------------

PYTHON=${PYTHON:-python3}
MIN_PYTHON=(3 11)

say() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

mode=run
case "${1:-}" in
    "") ;;
    --test) mode=test ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (expected nothing or --test)" ;;
esac
[ $# -le 1 ] || die "too many arguments (expected nothing or --test)"

cd "$(dirname "$0")/.."   # the repository root: .venv and pyproject.toml live there

# --- Python ----------------------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 \
    || die "$PYTHON not found: install Python ${MIN_PYTHON[0]}.${MIN_PYTHON[1]} or newer (apt-get install python3)"
"$PYTHON" -c "import sys; sys.exit(sys.version_info < (${MIN_PYTHON[0]}, ${MIN_PYTHON[1]}))" \
    || die "$("$PYTHON" -c 'import sys; print(sys.version.split()[0])') is too old: intrablog needs Python ${MIN_PYTHON[0]}.${MIN_PYTHON[1]} or newer"

# --- system packages -------------------------------------------------------------------------------
packages=("${RUN_PACKAGES[@]}")
if [ "$mode" = test ]; then
    packages+=("${TEST_PACKAGES[@]}")
fi

# Debian's python3 has no working venv until python3-venv is installed (ensurepip is left out). Only
# matters while .venv does not exist yet.
if [ ! -x .venv/bin/python ] && ! { "$PYTHON" -m venv --help && "$PYTHON" -m ensurepip --version; } >/dev/null 2>&1; then
    packages+=(python3-venv)
fi

installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'; }

missing=()
for package in "${packages[@]}"; do
    installed "$package" || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
    say "system packages present: ${packages[*]}"
else
    [ "$(id -u)" -eq 0 ] \
        || die "missing system packages: ${missing[*]}. Run this as root once: sudo $0${1:+ $1}"
    export DEBIAN_FRONTEND=noninteractive
    # No admin password prompt and no packaged directory: intrablog runs slapd with its own config.
    echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections
    say "installing: ${missing[*]}"
    apt-get update -q
    apt-get install -y -q "${missing[@]}"

    if [ -d /run/systemd/system ]; then   # systemd is running: packaged services may have started
        for service in "${SERVICES_TO_DISABLE[@]}"; do
            for package in "${missing[@]}"; do
                if [ "$package" = "$service" ]; then
                    say "stopping and disabling the packaged $service service (intrablog runs its own)"
                    systemctl disable --now "$service" >/dev/null 2>&1 || true
                fi
            done
        done
    fi
fi

# --- virtualenv ------------------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    say "creating the virtualenv .venv"
    "$PYTHON" -m venv .venv
fi

if [ "$mode" = test ]; then
    target='.[test]'
    stamps=(.venv/.install-stamp-test)
else
    target='.'
    stamps=(.venv/.install-stamp-run .venv/.install-stamp-test)   # the test extras include the run ones
fi

up_to_date=false
for stamp in "${stamps[@]}"; do
    if [ -e "$stamp" ] && [ ! pyproject.toml -nt "$stamp" ]; then
        up_to_date=true
    fi
done

if $up_to_date; then
    say "virtualenv .venv up to date ($target)"
else
    say "installing intrablog and its Python dependencies into .venv ($target; a minute on the first run)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
    touch "${stamps[0]}"
fi
say "done"
