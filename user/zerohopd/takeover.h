/* SPDX-License-Identifier: Apache-2.0 */
/*
 * takeover.h - zerohopd at start, where another version or another build
 * of zerohop runs the node's pods: take them over without dropping a flow
 * (upgrade.h).
 */
#ifndef ZH_TAKEOVER_H
#define ZH_TAKEOVER_H

#include "pin.h"

/*
 * Every other version under @objs->root: its state carried into our maps,
 * its attachments moved to our programs, its pins removed once unused.
 * Then, if the programs pinned for our version are another build's, ours
 * take their place (and @objs is opened again). One line logged for each.
 * Call with the pin lock held, after the objects are opened and before
 * anything is written to them (the Services are carried only into empty
 * maps). Failures are logged: the agent runs on, and what could not be
 * handed over stays as it was. *@left: the attachments of the others'
 * programs still in place (they run on: they make Service flows without
 * marking them in zh_svc_be). Returns 0, or the error of opening @objs
 * again (then it is closed).
 */
int zh_agent_takeover(struct zh_objs *objs, const struct zh_load_opts *opts,
		      int *left);

#endif /* ZH_TAKEOVER_H */
