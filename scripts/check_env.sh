#!/usr/bin/env bash
# Checks what crackgan needs before it installs or runs: Python 3.11, Java 17 or
# newer for Spark, and free disk space for the install. Each failure names the fix.
#
# Usage: scripts/check_env.sh install PYTHON VENV MIN_FREE_GB
#        scripts/check_env.sh run VENV
set -euo pipefail

# Print the problem and its fix, then stop.
fail() {
    local problem="$1" fix="$2"
    {
        echo ""
        echo "crackgan set-up: $problem"
        echo "Fix: $fix"
    } >&2
    exit 1
}

# Python 3.11: the interpreter the virtual environment is built from, or is built with.
check_python() {
    local python="$1" fix="$2"
    if ! command -v "$python" >/dev/null 2>&1; then
        fail "'$python' was not found; crackgan needs Python 3.11 (TensorFlow 2.21
and the pinned wheels are built for it)." "$fix"
    fi
    local version
    version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' \
        2>/dev/null)" || fail "'$python' is on the PATH but could not be run; crackgan
needs Python 3.11." "$fix"
    if [ "$version" != "3.11" ]; then
        fail "$python is Python $version; crackgan needs Python 3.11 (TensorFlow
2.21 and the pinned wheels are built for it)." "$fix"
    fi
}

# Java 17 or newer, which PySpark 4 needs to start its JVM.
check_java() {
    local java="java"
    if [ -n "${JAVA_HOME:-}" ]; then
        java="$JAVA_HOME/bin/java"
    fi
    local fix="install Java 17; on Debian or Ubuntu:
    apt-get install -y openjdk-17-jre-headless
or set JAVA_HOME to an installed Java 17 or newer."
    if ! command -v "$java" >/dev/null 2>&1; then
        fail "Java was not found ($java); data_preprocessing.py runs on Spark 4,
which needs Java 17 or newer." "$fix"
    fi
    local line first second
    line="$("$java" -version 2>&1 | head -n 1)"
    read -r first second <<<"$(echo "$line" \
        | sed -E 's/.*version "([0-9]+)(\.([0-9]+))?.*/\1 \3/')"
    if [ "$first" = "1" ]; then
        first="${second:-0}"
    fi
    if ! [ "$first" -ge 17 ] 2>/dev/null; then
        fail "found $line; Spark 4 needs Java 17 or newer." "$fix"
    fi
}

# Free space on the disk that will hold the virtual environment.
check_disk() {
    local folder="$1" min_free_gb="$2"
    local free_kb
    free_kb="$(df -Pk "$folder" | awk 'NR == 2 {print $4}')"
    if [ "$free_kb" -lt $((min_free_gb * 1024 * 1024)) ]; then
        fail "only $((free_kb / 1024 / 1024)) GiB free on the disk holding $folder;
the install (TensorFlow, PySpark, PyTorch CPU) needs about $min_free_gb GiB." \
            "free some space, or put the environment on a bigger disk:
    make VENV=/bigger/disk/crackgan-venv test"
    fi
}

mode="${1:-}"
case "$mode" in
    install)
        python="$2" venv="$3" min_free_gb="$4"
        check_python "$python" "install Python 3.11 (Debian/Ubuntu:
    apt-get install -y python3.11 python3.11-venv
or pyenv install 3.11), then name it when you run make, e.g.
    make PYTHON=python3.11 test"
        check_java
        parent="$(dirname "$venv")"
        mkdir -p "$parent"
        check_disk "$parent" "$min_free_gb"
        ;;
    run)
        venv="$2"
        check_python "$venv/bin/python" "$venv was built with another Python; remove
it and rebuild it with Python 3.11:
    rm -rf $venv && make PYTHON=python3.11 test"
        check_java
        ;;
    *)
        echo "usage: $0 install PYTHON VENV MIN_FREE_GB | run VENV" >&2
        exit 2
        ;;
esac
