#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cluster test (cluster.sh) with "routing": "vxlan", n2's tunnel the
# kernel's VXLAN device (its kernel lacks the BPF tunnel's features), n1's
# and n3's in BPF: each decapsulates what the other kind encapsulated.
ZH_ROUTING=vxlan ZH_VXLAN_MIXED=1 exec "$(dirname "$0")/cluster.sh" "$@"
