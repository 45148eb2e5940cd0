/* This pod's addresses; see local_addrs.h. */
#include "agent/local_addrs.h"

#include "lib/addr.h"

#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
	if (!l->stale && find(l, &want))
		return true;
	if (!l->stale && l->loaded_ms && now_ms - l->loaded_ms < RELOAD_MS)
		return false;
	l->stale = false;
	return ward_local_addrs_load(l, now_ms) == 0 && find(l, &want);
}

/* Any address message: the list is stale (what changed does not matter). */
static void on_change(uv_poll_t *h, int status, int events)
{
	struct ward_local_addrs *l = h->data;
	char buf[4096];

	(void)events;
	while (status == 0 && recv(l->watch_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	l->stale = true;
}

int ward_local_addrs_watch(struct ward_local_addrs *l, uv_loop_t *loop)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
				 .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	l->watch_fd = -1;
	ENSURE(fd >= 0, WARD_ERR_IO, "rtnetlink socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    uv_poll_init(loop, &l->watch, fd) < 0) {
		int err = errno;

		close(fd);
		return ward_err_set(WARD_ERR_IO, "rtnetlink: %s", strerror(err));
	}
	l->watch_fd = fd;
	l->watch.data = l;
	l->watching = true;
	uv_poll_start(&l->watch, UV_READABLE, on_change);
	uv_unref((uv_handle_t *)&l->watch); /* never what keeps the loop alive */
	return 0;
}

static void on_watch_closed(uv_handle_t *h)
{
	struct ward_local_addrs *l = h->data;

	close(l->watch_fd);
	l->watch_fd = -1;
}

void ward_local_addrs_unwatch(struct ward_local_addrs *l)
{
	if (!l->watching)
		return;
	l->watching = false;
	uv_close((uv_handle_t *)&l->watch, on_watch_closed);
}
