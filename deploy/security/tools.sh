#!/usr/bin/env bash
# Provision the secret scanner into .cache/security (first run only; later runs find it in place
# and print nothing). Pinned; from the Go module proxy only (go install), like deploy/k8s/tools.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

GITLEAKS_VERSION=v8.30.1

OUT=.cache/security
BIN=$OUT/bin
mkdir -p "$BIN"
if [[ ! -f $OUT/.gitleaks-$GITLEAKS_VERSION || ! -x $BIN/gitleaks ]]; then
  echo "secrets-check: installing gitleaks $GITLEAKS_VERSION (first run)"
  GOBIN="$PWD/$BIN" GOFLAGS=-mod=mod go install \
    -ldflags "-X github.com/zricethezav/gitleaks/v8/version.Version=$GITLEAKS_VERSION" \
    "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION"
  touch "$OUT/.gitleaks-$GITLEAKS_VERSION"
fi
