#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cluster test (cluster.sh) with "routing": "vxlan", through the kernel's
# routes: the fast path's helpers reported absent, forwarding on.
ZH_ROUTING=vxlan ZH_KERNEL_PATH=1 exec "$(dirname "$0")/cluster.sh" "$@"
