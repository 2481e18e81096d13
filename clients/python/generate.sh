#!/usr/bin/env bash
# Regenerates the generated part of the Python client package, src/concordat: messages
# (*_pb2.py), gRPC stubs (*_pb2_grpc.py) and their type stubs (*.pyi, mypy-protobuf), from every
# .proto under proto/concordat, with the pinned tools of tests/python/.venv (made by
# tests/python/setup.sh). With --check it writes nothing and exits 1 if the checked-in code is
# not what proto/ generates now.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/tests/python/.venv"
[[ -x "$venv/bin/python" ]] || "$root/tests/python/setup.sh"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$root"
mapfile -t protos < <(find proto/concordat -name '*.proto' | LC_ALL=C sort)
PATH="$venv/bin:$PATH" "$venv/bin/python" -m grpc_tools.protoc -I proto \
    --python_out="$tmp" --grpc_python_out="$tmp" \
    --mypy_out="$tmp" --mypy_grpc_out="$tmp" "${protos[@]}" 2> >(grep -v "^Writing mypy to" >&2)
find "$tmp/concordat" -type d -exec touch {}/__init__.py \;
touch "$tmp/concordat/py.typed"

if [[ "${1:-}" == "--check" ]]; then
    if ! diff -r -q "$tmp/concordat" "$here/src/concordat" >/dev/null; then
        diff -r -q "$tmp/concordat" "$here/src/concordat" || true
        echo "clients/python/src/concordat is stale against proto/: run clients/python/generate.sh" >&2
        exit 1
    fi
    exit 0
fi
rm -rf "$here/src/concordat"
mv "$tmp/concordat" "$here/src/concordat"
