#!/usr/bin/env bash
# Regenerates the protobuf code under core/*/gen from the .proto files, with
# buf and protoc-gen-es from npm at the versions pinned here.
set -euo pipefail
cd "$(dirname "$0")/.."
exec npm exec --yes --package=@bufbuild/buf@1.75.0 --package=@bufbuild/protoc-gen-es@2.17.0 -- buf generate
