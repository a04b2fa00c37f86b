#!/usr/bin/env bash
# Installs what tsbuild's demo and tests need on a Debian machine: Deno from
# npm, and runc, containerd, the registry, skopeo, git and a static busybox
# from Debian's packages. Skips what is already there.
set -euo pipefail

DENO_VERSION=2.9.6
SYSTEM_PACKAGES=(runc containerd docker-registry skopeo git busybox-static ca-certificates mount util-linux)

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

missing=()
for package in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "==> Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "$(deno --version 2>/dev/null | head -n 1)" != "deno ${DENO_VERSION} "* ]]; then
  if ! command -v npm >/dev/null; then
    echo "==> Installing npm from Debian, to install Deno"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  echo "==> Installing Deno ${DENO_VERSION} from npm"
  as_root npm install -g --no-fund --no-audit "deno@${DENO_VERSION}"
  if [[ "$(deno --version 2>/dev/null | head -n 1)" != "deno ${DENO_VERSION} "* ]]; then
    echo "error: Deno ${DENO_VERSION} is not on PATH after installing it with npm" >&2
    echo "       (npm's global bin directory is $(npm prefix -g)/bin)" >&2
    exit 1
  fi
fi

echo "==> Deno ${DENO_VERSION}, runc, containerd, docker-registry, skopeo, git and busybox are installed"
