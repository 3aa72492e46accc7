/* SPDX-License-Identifier: Apache-2.0 */
/* sha256.h - SHA-256 of a buffer (FIPS 180-4), for digests of names. */
#ifndef ZH_SHA256_H
#define ZH_SHA256_H

#include <stddef.h>
#include <stdint.h>

void zh_sha256(const void *data, size_t len, unsigned char out[32]);

#endif /* ZH_SHA256_H */
