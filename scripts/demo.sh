#!/usr/bin/env bash
# The README's first command: installs what is missing, builds mkimg, and shows its main job on
# an example. (Until the build engine lands this parses the example Dockerfile.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
build/builder/mkimg parse --dump examples/hello/Dockerfile
