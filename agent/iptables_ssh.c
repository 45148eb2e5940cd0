#include "agent/iptables_ssh.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>

/* Whether addr (AF_INET / AF_INET6 bytes) is an address of an interface here. */
static bool is_local(int family, const uint8_t *addr)
{
	struct ifaddrs *all, *i;
	bool found = false;

	if (getifaddrs(&all) < 0)
		return true; /* cannot tell: assume the worst */
	for (i = all; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != family)
			continue;
		if (family == AF_INET)
			found = !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr, 4);
		else
			found = !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, addr, 16);
	}
	freeifaddrs(all);
	return found;
}

int ward_iptables_ssh_parse(const char *ssh_connection, uint16_t *port, bool *local)
{
	char client[64], client_port[8], server[64], server_port[8], extra;
	uint8_t addr[16];
	int family;

	ENSURE(sscanf(ssh_connection, "%63s %7s %63s %7s %c", client, client_port, server,
		      server_port, &extra) == 4,
	       WARD_ERR_INVALID, "SSH_CONNECTION '%.80s' is not 'client port server port'",
	       ssh_connection);
	server[strcspn(server, "%")] = '\0'; /* a link-local zone */
	family = strchr(server, ':') ? AF_INET6 : AF_INET;
	ENSURE(inet_pton(family, server, addr) == 1, WARD_ERR_INVALID,
	       "SSH_CONNECTION: '%s' is not an address", server);
	GUARD(ward_capture_parse_port(server_port, port));
	*local = is_local(family, addr);
	return 0;
}

static bool listed(const struct ward_capture_ports *l, uint16_t port)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->port[i] == port)
			return true;
	return false;
}

/* As the rules order them: the admin port and exclusions return first. */
bool ward_iptables_captures_inbound(const struct ward_iptables_opts *o, uint16_t port)
{
	if (port == o->admin_port || listed(&o->in_exclude, port))
		return false;
	return o->in_include.all || listed(&o->in_include, port);
}

int ward_iptables_ssh_guard(const struct ward_iptables_opts *o, const char *ssh_connection)
{
	uint16_t port;
	bool local;

	if (!ssh_connection || !*ssh_connection || o->capture_ssh || o->cleanup)
		return 0;
	GUARD(ward_iptables_ssh_parse(ssh_connection, &port, &local));
	if (!local || !ward_iptables_captures_inbound(o, port))
		return 0;
	return ward_err_set(WARD_ERR_INVALID,
			    "this shell came in over SSH to port %u here (SSH_CONNECTION), and the "
			    "rules would capture that port inbound: new SSH connections would go "
			    "to the agent, which speaks only mTLS, and the host is lost once this "
			    "session ends. Add --exclude-inbound-ports %u (and put it in whatever "
			    "runs this at boot), or --capture-ssh to capture it anyway",
			    port, port);
}
