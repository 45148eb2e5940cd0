/* `ward iptables`: the traffic-capture rules of one pod's network namespace.
 *
 * Options are parsed into a struct ward_iptables_opts; the rules are rendered
 * from it as iptables-restore input by a pure function, and applied with
 * `iptables-restore --noflush` (and ip6tables-restore) so that a namespace
 * never holds half a ruleset. The capture rules live in the nat table, in
 * chains of its own (WARD_INBOUND, WARD_IN_REDIRECT, WARD_OUTPUT,
 * WARD_REDIRECT) reached by one jump each from PREROUTING and OUTPUT.
 *
 * --preserve-source adds what the agent's inbound.preserve_source needs: a
 * chain WARD_SOURCE in the mangle and raw tables (one jump each from OUTPUT)
 * and, with iproute2, a policy-routing rule and table. The agent's connection
 * to the app carries the caller's address (IP_TRANSPARENT); the app's replies
 * go to that foreign address and would leave the pod. The mangle rules mark
 * those connections and their replies, the fwmark rule routes the replies to
 * a table whose only route is "local default dev lo", so they come back to
 * the agent (the TPROXY-mode pattern). The raw rule puts the agent's side of
 * those connections in a conntrack zone of its own, since it may carry the
 * same 4-tuple as the caller's own, REDIRECTed connection.
 *
 * Capture is fail-closed: a chain WARD_GUARD in the filter table, jumped to
 * first from OUTPUT for every SYN that leaves through an interface other than
 * lo, refuses (with a TCP reset) a new connection of the app's that is in the
 * outbound capture scope but was not REDIRECTed to the agent. The nat table
 * is only consulted for a connection's first packet, and after a peer reset
 * (which leaves no TIME-WAIT) an app's SYN can match the conntrack entry of
 * the agent's own earlier flow with the same 4-tuple and skip it. The agent
 * takes its upstream source ports from those the kernel never hands to apps
 * (lib/sockopt.h), so that this rarely happens; the guard makes sure that
 * when it does, nothing leaves the pod in clear. */
#ifndef WARD_IPTABLES_H
#define WARD_IPTABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config/capture.h"
#include "lib/err.h"

#define WARD_IPTABLES_DEFAULT_ID 1337
#define WARD_IPTABLES_DEFAULT_OUTBOUND_PORT 15001
#define WARD_IPTABLES_DEFAULT_INBOUND_PORT 15006
#define WARD_IPTABLES_DEFAULT_ADMIN_PORT 15020
#define WARD_IPTABLES_DEFAULT_TUNNEL_PORT 15008
/* --preserve-source: firewall mark, routing table and conntrack zone. */
#define WARD_IPTABLES_SOURCE_MARK 0x7761
#define WARD_IPTABLES_SOURCE_TABLE 7761
#define WARD_IPTABLES_SOURCE_ZONE 7761

enum ward_iptables_ipv6 {
	WARD_IPTABLES_IPV6_AUTO,
	WARD_IPTABLES_IPV6_ON,
	WARD_IPTABLES_IPV6_OFF,
};

struct ward_iptables_opts {
	uid_t proxy_uid;
	gid_t proxy_gid;
	uint16_t outbound_port;
	uint16_t inbound_port;
	uint16_t admin_port;
	uint16_t tunnel_port; /* the agent's tunnel listener: peers reach it as is */
	struct ward_capture_ports in_include, in_exclude;
	struct ward_capture_ports out_include, out_exclude;
	struct ward_capture_cidrs out_cidr_include, out_cidr_exclude;
	enum ward_iptables_ipv6 ipv6;
	bool preserve_source; /* the agent's inbound.preserve_source */
	bool dry_run;
	bool cleanup;
	bool capture_ssh; /* capture the port of this SSH session (iptables_ssh.h) */
};

/* How many of ward's own jump rules (`-A PREROUTING -p tcp -j WARD_INBOUND`,
 * `-A OUTPUT -p tcp -j WARD_OUTPUT`) the namespace holds now. The apply step
 * asks the kernel, and the rendered input deletes that many before adding one,
 * so running twice never leaves two jumps. */
struct ward_iptables_jumps {
	unsigned prerouting;
	unsigned output;
	unsigned source_mangle, source_raw; /* `-A OUTPUT -p tcp -j WARD_SOURCE` */
	unsigned guard;			    /* filter: ward_iptables_jump_guard */
};

/* The documented defaults (see --help): capture all TCP in and out, proxy uid
 * and gid 1337, ports 15001 / 15006 / 15020 / 15008, IPv6 auto. */
void ward_iptables_opts_init(struct ward_iptables_opts *o);

/* Parses argv (argv[0] = "iptables") into o, which it initialises first.
 * Returns 0, 1 when --help was printed to stdout, or WARD_ERR_INVALID with
 * a reason that names the option and the value. */
WARD_MUST_CHECK int ward_iptables_opts_parse(struct ward_iptables_opts *o, int argc, char **argv);

/* Renders the iptables-restore input that installs ward's rules for family
 * (AF_INET or AF_INET6): deletes the jumps counted in existing (NULL: none),
 * (re)creates the WARD_* chains and adds one jump each. Only CIDRs of family
 * are rendered. The mangle and raw tables appear only with preserve_source,
 * or to remove what an earlier --preserve-source left (existing counts it). Like snprintf: writes
 * at most len bytes (NUL-terminated when len > 0) and returns the length of the whole text, so a
 * return >= len means "call again with a bigger buffer"; negative on invalid options. */
WARD_MUST_CHECK int ward_iptables_render(const struct ward_iptables_opts *o, int family,
					 const struct ward_iptables_jumps *existing, char *buf,
					 size_t len);

/* Renders the input that deletes the jumps counted in existing and all four
 * nat WARD_* chains and filter's WARD_GUARD, whether or not they exist, and
 * WARD_SOURCE where existing counts a jump to it; same contract as render. */
WARD_MUST_CHECK int ward_iptables_render_cleanup(const struct ward_iptables_jumps *existing,
						 char *buf, size_t len);

/* Writes what --dry-run prints: the v4 and (unless --ipv6 off) v6 input. */
WARD_MUST_CHECK int ward_iptables_dry_run(const struct ward_iptables_opts *o, FILE *out);

/* The jump rules from the nat table's built-in chains into ward's own. */
extern const char ward_iptables_jump_prerouting[];
extern const char ward_iptables_jump_output[];
extern const char ward_iptables_jump_source[]; /* in mangle and raw */
extern const char ward_iptables_jump_guard[];  /* in filter */

/* Renders into a malloc'd buffer (*text, freed by the caller) sized by a
 * first, counting pass; cleanup rules when o->cleanup. Returns the length. */
int ward_iptables_render_alloc(const struct ward_iptables_opts *o, int family,
			       const struct ward_iptables_jumps *existing,
			       char **text) WARD_MUST_CHECK;

/* The nat and filter tables as `iptables -S` (`ip6tables -S` for AF_INET6)
 * prints them, one after the other, malloc'd; reads only (`ward doctor`). */
int ward_iptables_show(int family, char **out) WARD_MUST_CHECK;

/* Installs (or, with o->cleanup, removes) the rules in this network
 * namespace, IPv6 too when o->ipv6 asks for it; then, with preserve_source,
 * the policy routing (`ip rule` / `ip route`), or removes what an earlier
 * run installed. */
int ward_iptables_apply(const struct ward_iptables_opts *o) WARD_MUST_CHECK;

#endif
