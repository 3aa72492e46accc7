#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cluster test (cluster.sh) with "routing": "vxlan".
ZH_ROUTING=vxlan exec "$(dirname "$0")/cluster.sh" "$@"
