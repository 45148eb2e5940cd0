/* `ward iptables` on a VM or bare host, run from an SSH session: inbound
 * capture would redirect every new SSH connection to the agent's inbound
 * listener, which speaks only mTLS, so the next login fails, and so does this
 * session's next packet when conntrack was not yet tracking it (a host with
 * no nat rule before: the flow then looks new to the nat table). The host is
 * lost. The guard refuses such a
 * ruleset unless the user chose: leave the port out (--exclude-inbound-ports,
 * or an --include-inbound-ports list without it) or capture it on purpose
 * (--capture-ssh). It only applies when the SSH connection arrives in this
 * network namespace, so `ip netns exec` into a pod from an SSH shell is not
 * affected, nor is a Kubernetes init container (no SSH_CONNECTION). */
#ifndef WARD_IPTABLES_SSH_H
#define WARD_IPTABLES_SSH_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/iptables.h"
#include "lib/err.h"

/* The server side of an SSH_CONNECTION value ("client_ip client_port
 * server_ip server_port"): its port, and whether its address belongs to an
 * interface of this network namespace. WARD_ERR_INVALID when the value is
 * not that shape. */
int ward_iptables_ssh_parse(const char *ssh_connection, uint16_t *port,
			    bool *local) WARD_MUST_CHECK;

/* Whether the rules o renders redirect inbound connections to port. */
bool ward_iptables_captures_inbound(const struct ward_iptables_opts *o, uint16_t port);

/* 0 when applying o cannot lock this SSH session's host out (no
 * ssh_connection, not arriving here, its port left out, or --capture-ssh);
 * otherwise WARD_ERR_INVALID saying what to add. */
int ward_iptables_ssh_guard(const struct ward_iptables_opts *o,
			    const char *ssh_connection) WARD_MUST_CHECK;

#endif
