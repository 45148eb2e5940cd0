/* The ward server process that `ward drill`'s faults stop and start again
 * (--server-pid). What it takes to start it again as it was started is read
 * from /proc when the drill begins: its command line, environment, working
 * directory, binary and the files its stdout and stderr went to. It is
 * started again detached, from the drill's own namespaces, so that it
 * outlives the drill; /proc must be readable for the drill's user (the
 * same user, or root). */
#ifndef WARD_AGENT_DRILL_SERVER_H
#define WARD_AGENT_DRILL_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

#include "lib/err.h"

struct ward_drill_server {
	pid_t pid;		 /* now: a start changes it */
	char *cmdline, *environ; /* owned: NUL-separated, as /proc gives them */
	char **argv, **env;	 /* owned arrays into them */
	char exe[PATH_MAX], cwd[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
};

/* Reads what it takes to start pid again; the reason names the file. */
int ward_drill_server_capture(struct ward_drill_server *s, pid_t pid) WARD_MUST_CHECK;
/* The process is gone, or a zombie its parent has not reaped yet. */
bool ward_drill_server_gone(const struct ward_drill_server *s);
/* Starts it again (s->pid is the new one); its output goes where it went. */
int ward_drill_server_start(struct ward_drill_server *s, uv_loop_t *loop) WARD_MUST_CHECK;
void ward_drill_server_free(struct ward_drill_server *s);

#endif
