#!/bin/sh
echo "coverage is not supported in the offline evnet workspace" >&2
exit 1
