#include "agent/fdlimit.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

unsigned long ward_fdlimit_needed(unsigned max_connections)
{
	return 2ul * max_connections + WARD_FDLIMIT_SLACK;
}

int ward_fdlimit_get(unsigned max_connections, struct ward_fdlimit *out)
{
	struct rlimit rl;

	ENSURE(getrlimit(RLIMIT_NOFILE, &rl) == 0, WARD_ERR_IO, "RLIMIT_NOFILE: %s",
	       strerror(errno));
	out->soft = out->was = (unsigned long)rl.rlim_cur;
	out->hard = (unsigned long)rl.rlim_max;
	out->needed = ward_fdlimit_needed(max_connections);
	return 0;
}

int ward_fdlimit_raise(unsigned max_connections, struct ward_fdlimit *out)
{
	struct rlimit rl;

	GUARD(ward_fdlimit_get(max_connections, out));
	if (out->soft >= out->hard)
		return 0;
	rl.rlim_cur = rl.rlim_max = (rlim_t)out->hard;
	ENSURE(setrlimit(RLIMIT_NOFILE, &rl) == 0, WARD_ERR_IO,
	       "raising RLIMIT_NOFILE from %lu to %lu: %s", out->soft, out->hard, strerror(errno));
	out->soft = out->hard;
	return 0;
}
