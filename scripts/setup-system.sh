#!/usr/bin/env bash
# System packages htx-keys needs on Debian/Ubuntu. Safe to run again: installs only what is
# missing. Plain: Chromium, its headless build (chromium-headless-shell: what headless runs use,
# lighter than the full browser) and ffmpeg (for the demo and video). --test adds what the tests
# run for real: Dovecot (IMAP + LMTP), gnome-keyring with D-Bus, secret-tool, Xvfb, and
# tesseract (the leak check reads screenshots and video frames for secrets) and poppler-utils
# (pdftoppm renders guide.pdf's pages for it; pdfinfo and pdftotext check the PDF).
set -euo pipefail

packages=(chromium chromium-headless-shell ffmpeg fonts-liberation ca-certificates)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(dovecot-imapd dovecot-lmtpd gnome-keyring dbus dbus-x11 libsecret-tools xvfb xauth
    tesseract-ocr tesseract-ocr-eng poppler-utils)
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "setup-system: all system packages present" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "setup-system: missing ${missing[*]}; install them with your package manager" >&2
  exit 1
fi
sudo=()
if [[ "$(id -u)" != 0 ]]; then sudo=(sudo); fi
echo "setup-system: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
