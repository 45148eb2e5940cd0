/* This pod's addresses; see local_addrs.h. */
#include "agent/local_addrs.h"

#include "lib/addr.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

#define RELOAD_MS 1000

int ward_local_addrs_load(struct ward_local_addrs *l, uint64_t now_ms)
{
	struct ifaddrs *all, *i;

	ENSURE(getifaddrs(&all) == 0, WARD_ERR_IO, "getifaddrs: %s", strerror(errno));
	l->n = 0;
	for (i = all; i && l->n < WARD_LOCAL_ADDRS_MAX; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) ||
		    (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		ward_addr_ip(i->ifa_addr, &l->addr[l->n++]);
	}
	freeifaddrs(all);
	l->loaded_ms = now_ms ? now_ms : 1;
	return 0;
}

static bool find(const struct ward_local_addrs *l, const struct sockaddr_storage *want)
{
	for (size_t i = 0; i < l->n; i++)
		if (ward_addr_ip_equal(&l->addr[i], want))
			return true;
	return false;
}

bool ward_local_addrs_has(struct ward_local_addrs *l, const struct sockaddr *a, uint64_t now_ms)
{
	struct sockaddr_storage want;

	ward_addr_ip(a, &want);
	if (want.ss_family != AF_INET && want.ss_family != AF_INET6)
		return false;
	if (find(l, &want))
		return true;
	if (l->loaded_ms && now_ms - l->loaded_ms < RELOAD_MS)
		return false;
	return ward_local_addrs_load(l, now_ms) == 0 && find(l, &want);
}
