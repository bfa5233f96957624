#!/usr/bin/env bash
# Several files in, several files out: a folder of texts and a script go to the job under /inputs; the job
# writes a count per text and a report under /outputs; --outputs saves them all here, in out/.
#   bash docs/examples/files/run.sh      (with `make run` going, or API_SERVER_ADDRESS set)
set -euo pipefail
cd "$(dirname "$0")"
IMAGE="${IMAGE:-asman/busybox:latest}"  # any image with a POSIX shell: busybox, alpine, debian...
rm -rf out
asman job add local --image "$IMAGE" --file texts --file count-words.sh \
    -c 'sh /inputs/count-words.sh' --wait --outputs out/
echo "--- out/report.csv"
cat out/report.csv
echo "--- out/top-words.txt"
cat out/top-words.txt
