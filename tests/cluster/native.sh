#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cluster test (cluster.sh) with "routing": "native".
ZH_ROUTING=native exec "$(dirname "$0")/cluster.sh" "$@"
