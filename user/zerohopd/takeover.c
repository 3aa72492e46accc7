// SPDX-License-Identifier: Apache-2.0
/* takeover.c - zerohopd takes the node over from another version or
 * build (takeover.h). */
#include <stdio.h>
#include <string.h>

#include "takeover.h"
#include "log.h"
#include "upgrade.h"

static void said(const struct zh_upgrade_result *r, void *arg)
{
	int *left = arg;

	*left += r->left;
	if (r->left) {
		pr_warn("took over from %s in part: %d map(s) shared, %d carried (%lu entries), %d attachment(s) moved to our programs in %d netns; %d of its attachments could not be moved, so its pins stay (the agent tries again at its next start)\n",
			r->version, r->shared, r->carried, r->entries, r->moved,
			r->netns, r->left);
		return;
	}
	pr_info("took over from %s: %d map(s) shared, %d carried (%lu entries), %d attachment(s) moved to our programs in %d netns, %d pin(s) removed, %d kept for a rollback (maps we share)%s (%.3f s)\n",
		r->version, r->shared, r->carried, r->entries, r->moved,
		r->netns, r->unpinned, r->kept,
		r->removed ? "; its directory is gone" : "", r->secs);
}

int zh_agent_takeover(struct zh_objs *objs, const struct zh_load_opts *opts,
		      int *left)
{
	char root[ZH_PIN_PATH_MAX];
	struct zh_upgrade_result r;
	bool loaded = objs->loaded;
	int err;

	*left = 0;
	zh_upgrade_takeover(objs, said, left);
	/* Our own programs were just loaded and pinned, every one: they are
	 * this build's. (A load that only made what an earlier build of
	 * this version lacked, a map new to ours, left its programs.) */
	if (objs->loaded && objs->fresh)
		return 0;
	err = zh_upgrade_programs(objs, opts, &r);
	if (err)
		(*left)++; /* the other build's programs run on */
	if (err)
		pr_warn("cannot put this build's programs in place of those pinned in %s: %s%s%s\n",
			objs->dir, strerror(-err), objs->err[0] ? ": " : "",
			objs->err);
	if (!r.unpinned)
		return 0;
	*left += r.left;
	if (r.left)
		pr_warn("this build's programs are pinned in %s, but %d attachment(s) of the earlier build's could not be moved to them\n",
			objs->dir, r.left);
	else
		pr_info("this build's programs replaced an earlier build's in %s: %d attachment(s) moved in %d netns (%.3f s)\n",
			objs->dir, r.moved, r.netns, r.secs);
	/* Our fds name the earlier build's programs: open the pins again. */
	snprintf(root, sizeof(root), "%s", objs->root);
	zh_objs_close(objs);
	err = zh_objs_open(objs, root, ZH_OBJS_LOAD, opts);
	if (err) {
		pr_warn("cannot open the BPF objects again: %s\n", objs->err);
		return err;
	}
	objs->loaded = loaded;
	return 0;
}
