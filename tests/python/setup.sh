#!/usr/bin/env bash
# Prepares the Python client of the Concordat API, idempotently and quietly:
#   1. tests/python/.venv with requirements.txt installed (re-created when requirements.txt or
#      the interpreter changes; tracked by tests/python/.requirements.stamp);
#   2. tests/python/gen: Python stubs for every .proto under proto/concordat, for the load scripts
#      (regenerated when a .proto, requirements.txt or this script changes; tracked by gen/.stamp);
#   3. the client package clients/python (concordat-client: `concordat_client` and the generated
#      `concordat.*`), built as a wheel with the pinned `build` and hatchling and installed into
#      the venv, for the golden scenario driver (rebuilt and reinstalled when a file of the
#      package, requirements.txt, the interpreter or this script changes; tracked by
#      .venv/.client.stamp, so a new venv gets it again).
# Prints nothing on success. Set PYTHON to choose the interpreter (default python3.11, then
# python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
gen="$here/gen"
req="$here/requirements.txt"
req_stamp="$here/.requirements.stamp"
gen_stamp="$gen/.stamp"

die() {
    echo "setup.sh: $*" >&2
    exit 1
}

if [[ -n "${PYTHON:-}" ]]; then
    python="$PYTHON"
elif command -v python3.11 >/dev/null 2>&1; then
    python=python3.11
elif command -v python3 >/dev/null 2>&1; then
    python=python3
else
    die "no python3 found (set PYTHON=/path/to/python3.9+)"
fi
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null \
    || die "$python is not Python 3.9 or newer"

# 1. The virtual environment.
want_req="$(
    {
        sha256sum "$req"
        "$python" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
)"
have_req="$(cat "$req_stamp" 2>/dev/null || true)"
if [[ ! -x "$venv/bin/python" || "$want_req" != "$have_req" ]]; then
    rm -f "$req_stamp"
    log="$(mktemp)"
    trap 'rm -f "$log"' EXIT
    if ! "$python" -m venv --clear "$venv" >"$log" 2>&1; then
        cat "$log" >&2
        die "could not create $venv (on Debian/Ubuntu: apt-get install python3-venv)"
    fi
    if ! PIP_NO_INPUT=1 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$req" >"$log" 2>&1; then
        cat "$log" >&2
        die "pip install -r $req failed"
    fi
    rm -f "$log"
    trap - EXIT
    echo "$want_req" >"$req_stamp"
fi

# 2. The generated stubs, from the repository root so imports follow proto/'s layout.
cd "$root"
mapfile -t protos < <(find proto/concordat -name '*.proto' | LC_ALL=C sort)
((${#protos[@]} > 0)) || die "no .proto files under $root/proto/concordat"
want_gen="$(
    {
        echo "$want_req"
        sha256sum "${protos[@]}" "$here/setup.sh"
    } | sha256sum | cut -d' ' -f1
)"
have_gen="$(cat "$gen_stamp" 2>/dev/null || true)"
if [[ "$want_gen" != "$have_gen" ]]; then
    tmp="$(mktemp -d "$here/.gen.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    if ! out="$("$venv/bin/python" -m grpc_tools.protoc -I proto \
        --python_out="$tmp" --pyi_out="$tmp" --grpc_python_out="$tmp" \
        "${protos[@]}" 2>&1)"; then
        echo "$out" >&2
        die "protoc failed"
    fi
    # protoc warnings (e.g. unused imports) are worth seeing even on success.
    [[ -z "$out" ]] || echo "$out" >&2
    find "$tmp" -mindepth 1 -type d -exec touch {}/__init__.py \;
    echo "$want_gen" >"$tmp/.stamp"
    rm -rf "$gen"
    mv "$tmp" "$gen"
    chmod 755 "$gen"
    trap - EXIT
fi

# 3. The client package, from its wheel (as a user installs it, not from the source tree).
pkg="$root/clients/python"
client_stamp="$venv/.client.stamp"
want_client="$(
    {
        echo "$want_req"
        (cd "$pkg" && find pyproject.toml README.md src -type f \
            ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
        sha256sum "$here/setup.sh"
    } | sha256sum | cut -d' ' -f1
)"
have_client="$(cat "$client_stamp" 2>/dev/null || true)"
if [[ "$want_client" != "$have_client" ]]; then
    rm -f "$client_stamp"
    dist="$(mktemp -d)"
    log="$(mktemp)"
    trap 'rm -rf "$dist" "$log"' EXIT
    # --no-isolation: the build backend is requirements.txt's hatchling, already in the venv.
    if ! "$venv/bin/python" -m build --wheel --no-isolation --outdir "$dist" "$pkg" \
        >"$log" 2>&1; then
        cat "$log" >&2
        die "building the wheel of $pkg failed"
    fi
    wheels=("$dist"/concordat_client-*.whl)
    [[ ${#wheels[@]} -eq 1 && -f "${wheels[0]}" ]] || die "no single wheel built in $dist"
    # The same version may be installed already: --force-reinstall replaces it, --no-deps leaves
    # the pinned dependencies of requirements.txt as they are; pip check then confirms they
    # satisfy the package's.
    if ! PIP_NO_INPUT=1 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-deps --force-reinstall "${wheels[0]}" >"$log" 2>&1; then
        cat "$log" >&2
        die "pip install ${wheels[0]##*/} failed"
    fi
    if ! "$venv/bin/python" -m pip check --disable-pip-version-check >"$log" 2>&1; then
        cat "$log" >&2
        die "the venv's packages do not satisfy ${wheels[0]##*/}'s requirements"
    fi
    rm -rf "$dist" "$log"
    trap - EXIT
    echo "$want_client" >"$client_stamp"
fi
