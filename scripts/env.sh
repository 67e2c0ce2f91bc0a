# Sourced, not run: points the build and the binaries at the native pieces that
# scripts/setup.sh installs. One place that knows the versions and the paths.
# Usage: source scripts/env.sh
EPC_TORCH_VERSION=2.11.0
EPC_ORT_VERSION=1.32.0
EPC_ORT_GPU_VERSION=1.31.1
EPC_CMAKE_SPEC='cmake>=3.26,<4'
# The interoperability tests' packages, and the Python package's (python/: maturin builds it,
# pandas/xarray are its tables and arrays, pytest runs python/tests, nbclient/ipykernel execute
# examples/notebooks/ in them, matplotlib draws there).
EPC_PY_EXTRA=(onnx==1.23.2 h5py==3.16.0 numpy maturin==1.16.0 pandas==3.1.1 xarray==2026.9.0 pytest==9.2.0
  nbclient==0.11.0 nbformat==5.11.1 ipykernel==7.4.0 matplotlib==3.11.2)
if [ "${EPC_ORT_GPU:-0}" = 1 ]; then
  EPC_ORT_PKG="onnxruntime-gpu==$EPC_ORT_GPU_VERSION"
  EPC_VENV_TAG="py311-torch$EPC_TORCH_VERSION-ortgpu$EPC_ORT_GPU_VERSION"
else
  EPC_ORT_PKG="onnxruntime==$EPC_ORT_VERSION"
  EPC_VENV_TAG="py311-torch$EPC_TORCH_VERSION-ort$EPC_ORT_VERSION"
fi
EPC_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/epc/venv-$EPC_VENV_TAG"
if [ -x "$EPC_VENV/bin/python" ]; then
  EPC_SITE=$("$EPC_VENV/bin/python" -c 'import sysconfig;print(sysconfig.get_paths()["purelib"])')
  export LIBTORCH="$EPC_SITE/torch"
  export LIBTORCH_BYPASS_VERSION_CHECK=1
  EPC_ORT_LIB=$(ls "$EPC_SITE"/onnxruntime/capi/libonnxruntime.so.* 2>/dev/null | head -n 1)
  export ORT_DYLIB_PATH="$EPC_ORT_LIB"
  export CMAKE="$EPC_VENV/bin/cmake"
  export EPC_PYTHON="$EPC_VENV/bin/python"
  export PATH="$EPC_VENV/bin:$PATH"
fi
