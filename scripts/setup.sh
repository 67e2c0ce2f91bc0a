#!/usr/bin/env bash
# One idempotent set-up: installs every native piece epc needs from PyPI only
# (libtorch via the torch wheel, ONNX Runtime via the onnxruntime wheel, a CMake
# new enough for the bundled HDF5, onnx/h5py for the interoperability tests, maturin,
# pandas, xarray and pytest for the Python package) into a version-keyed virtual environment
# under ~/.cache shared by every clone, and builds the Python package `epc` into it.
#   scripts/setup.sh          CPU ONNX Runtime
#   scripts/setup.sh --gpu    onnxruntime-gpu instead (CUDA inference), in its own venv;
#                             export EPC_ORT_GPU=1 so that scripts/env.sh points there too
#   scripts/setup.sh --slurm  also Debian's slurm-wlm and munge (a one-node test cluster for
#                             tests/slurm.rs; needs root or sudo; CI uses it)
#   scripts/setup.sh --no-python  do not build and install the Python package `epc` (python/)
#                             into the venv (it is built once, when the venv has none;
#                             scripts/build_python.sh rebuilds it after changes)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
want_slurm=0
want_python=1
for arg in "$@"; do
  case "$arg" in
    --gpu) export EPC_ORT_GPU=1 ;;
    --slurm) want_slurm=1 ;;
    --no-python) want_python=0 ;;
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) echo "setup: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
# shellcheck source=scripts/env.sh
source "$here/env.sh"
say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

if [ "${want_slurm:-0}" = 1 ]; then
  if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v munged >/dev/null; then
    say "slurm-wlm and munge already installed"
  else
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    say "installing slurm-wlm and munge from Debian"
    # Only the Slurm test needs them (it skips without them), so a failed install warns.
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq slurm-wlm munge >/dev/null; }; then
      say "warning: could not install slurm-wlm and munge; tests/slurm.rs will be skipped"
    fi
  fi
fi

stamp="$EPC_VENV/.epc-setup-complete"
extras="${EPC_PY_EXTRA[*]}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$extras" ]; then
  say "native dependencies already installed in $EPC_VENV"
elif [ -f "$stamp" ]; then
  # A venv of the same torch and ONNX Runtime made before the extra packages changed: add them.
  say "updating the extra Python packages in $EPC_VENV ($extras)"
  "$EPC_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${EPC_PY_EXTRA[@]}" \
    || die "pip install of the extra packages failed (see above)"
  echo "$extras" > "$stamp"
else
  command -v python3 >/dev/null || die "python3 not found (need Python 3.11 with pip)"
  if [ ! -x "$EPC_VENV/bin/python" ]; then
    say "creating virtual environment $EPC_VENV"
    mkdir -p "$(dirname "$EPC_VENV")"
    python3 -m venv "$EPC_VENV" || die "python3 -m venv failed (is the venv module installed?)"
  fi
  py="$EPC_VENV/bin/python"
  say "installing torch==$EPC_TORCH_VERSION ($EPC_ORT_PKG, $EPC_CMAKE_SPEC); the torch wheel is about 2.7 GB the first time"
  "$py" -m pip install --quiet --disable-pip-version-check --upgrade pip \
    || die "could not upgrade pip in $EPC_VENV"
  "$py" -m pip install --quiet --disable-pip-version-check \
    "torch==$EPC_TORCH_VERSION" "$EPC_ORT_PKG" "$EPC_CMAKE_SPEC" "${EPC_PY_EXTRA[@]}" \
    || die "pip install failed (see above); nothing else to try: fix the network or the disk and rerun"
  got=$("$py" -c 'import torch;print(torch.__version__.split("+")[0])') \
    || die "torch does not import in $EPC_VENV"
  [ "$got" = "$EPC_TORCH_VERSION" ] || die "torch $got installed, but tch 0.24.0 needs $EPC_TORCH_VERSION"
  echo "$extras" > "$stamp"
  say "installed into $EPC_VENV"
fi
source "$here/env.sh"
[ -f "$LIBTORCH/lib/libtorch_cpu.so" ] || die "libtorch not found under $LIBTORCH"
[ -n "$ORT_DYLIB_PATH" ] && [ -f "$ORT_DYLIB_PATH" ] || die "libonnxruntime.so not found under $EPC_SITE/onnxruntime/capi"
"$CMAKE" --version >/dev/null || die "cmake from the venv does not run"
if [ "$want_python" = 1 ] && ! (cd / && "$EPC_PYTHON" -c 'import epc') >/dev/null 2>&1; then
  command -v cargo >/dev/null || die "cargo not found: the Python package epc is built from Rust (or pass --no-python)"
  say "building the Python package epc (python/) into $EPC_VENV"
  bash "$here/build_python.sh" || die "building the Python package failed (see above; --no-python skips it)"
fi
say "LIBTORCH=$LIBTORCH"
say "ORT_DYLIB_PATH=$ORT_DYLIB_PATH"
say "CMAKE=$CMAKE"
