#!/usr/bin/env bash
# Install the readers `make bench` compares edge-ocr with. Every step may fail (no apt, not root,
# no network): the bench then reports that peer as skipped, it never fails because of it.
#
#   bash bench/install_peers.sh [PYTHON]      (default: .venv/bin/python)
#
# - Tesseract 5 and its English model from Debian/Ubuntu (apt-get, as root only);
# - tesserocr (Tesseract's C API in-process; binary wheels only, never a source build) and
#   pytesseract (the fallback: one tesseract process per crop);
# - RapidOCR with ONNX Runtime. rapidocr-onnxruntime is installed without its dependencies and
#   they are added by hand, all but opencv-python: that distribution would overwrite the
#   opencv-python-headless that edge-ocr uses (both own the same cv2 folder), and removing
#   either later would break cv2 for everything in the venv.
set -u

PY="${1:-.venv/bin/python}"
note() { echo "install_peers: $*" >&2; }

have_tessdata() {
  for dir in "${TESSDATA_PREFIX:-}" /usr/share/tesseract-ocr/5/tessdata \
      /usr/share/tesseract-ocr/4.00/tessdata /usr/share/tessdata /usr/local/share/tessdata; do
    [ -n "$dir" ] && [ -f "$dir/eng.traineddata" ] && return 0
  done
  return 1
}

if command -v tesseract >/dev/null 2>&1 && have_tessdata; then
  note "tesseract and eng.traineddata already installed"
elif ! command -v apt-get >/dev/null 2>&1; then
  note "no apt-get here: install tesseract-ocr with its English data yourself to compare with it"
elif [ "$(id -u)" != "0" ]; then
  note "not root: skipping apt-get install tesseract-ocr tesseract-ocr-eng (run it with sudo)"
else
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q tesseract-ocr tesseract-ocr-eng >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 \
         && apt-get install -y -q tesseract-ocr tesseract-ocr-eng >/dev/null 2>&1; } \
    || note "apt-get install tesseract-ocr tesseract-ocr-eng failed: Tesseract will be skipped"
fi

if [ ! -x "$PY" ]; then
  note "$PY not found: cannot install the Python peers"
  exit 0
fi

pip_install() {
  "$PY" -m pip install -q --disable-pip-version-check "$@" >/dev/null 2>&1
}

if "$PY" -c "import tesserocr" >/dev/null 2>&1; then
  note "tesserocr already installed"
else
  pip_install --only-binary=:all: tesserocr \
    || note "no tesserocr wheel for this platform: Tesseract will run through pytesseract"
fi
if ! "$PY" -c "import pytesseract" >/dev/null 2>&1; then
  pip_install pytesseract || note "pip install pytesseract failed"
fi

if "$PY" -c "import rapidocr_onnxruntime, onnxruntime" >/dev/null 2>&1; then
  note "rapidocr-onnxruntime and onnxruntime already installed"
else
  { pip_install onnxruntime pyclipper shapely pyyaml six tqdm pillow \
    && pip_install --no-deps rapidocr-onnxruntime; } \
    || note "pip install rapidocr-onnxruntime onnxruntime failed: RapidOCR will be skipped"
fi
exit 0
