#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cluster test (cluster.sh) with "routing": "native", through the kernel's
# routes: the fast path's helpers reported absent, forwarding on.
ZH_ROUTING=native ZH_KERNEL_PATH=1 exec "$(dirname "$0")/cluster.sh" "$@"
