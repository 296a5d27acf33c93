#!/usr/bin/env bash
# Debian packages some tests need, installed when missing (apt-get, with sudo unless root): a real
# OpenSSH server on 127.0.0.1 (tests/test_benchmark.py) and a JDK with JUnit 4 for the Android
# app's JVM module (tests/test_android_jvm.py). Those tests fail, not skip, under CI without them.
set -euo pipefail
packages=()
[ -x /usr/sbin/sshd ] || packages+=(openssh-server)
command -v javac >/dev/null || packages+=(default-jdk-headless)
[ -f /usr/share/java/junit4.jar ] || packages+=(junit4)
if [ ${#packages[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "error: missing ${packages[*]} and no apt-get here: install them with this system's package manager" >&2
    exit 1
  fi
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  echo "installing ${packages[*]} (apt-get)" >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi
