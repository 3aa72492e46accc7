/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_ours.h - our services file, {"services": [...]}: every field, its
 * default and its rules are in svc.h. Strict: an unknown field is an
 * error.
 */
#ifndef ZH_SVC_OURS_H
#define ZH_SVC_OURS_H

#include <stddef.h>
#include <jansson.h>

#include "svc.h"

/*
 * The services of @root, an object with a "services" member, added to
 * @b. Returns 0, -EINVAL with a message naming the entry and field
 * ("services[2].backends[0].port: 70000 is not a port (1-65535)"), or
 * -ENOMEM; what was added before an error stays in @b.
 */
int zh_svc_ours_parse(const json_t *root, struct zh_svc_build *b, char *err,
		      size_t errlen);

#endif /* ZH_SVC_OURS_H */
