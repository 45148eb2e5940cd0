/* Source ports for the agent's own upstream connections that the kernel
 * never gives an app: the ports above the namespace's ephemeral range
 * (net.ipv4.ip_local_port_range, by default 61000-65535) and those listed in
 * net.ipv4.ip_local_reserved_ports. An app's connect() can then never be
 * handed the 4-tuple of a flow the agent just had reset (which leaves no
 * TIME-WAIT to hold it), so its SYN never meets that flow's conntrack entry
 * and always goes through the capture rules; and the agent never meets the
 * entry of an app's REDIRECTed flow (which would loop back into it).
 *
 * Each port is bound exclusively (no SO_REUSEADDR): a port in use, or held
 * by one of our connections in TIME-WAIT, fails the bind and the next one
 * is tried, so a connect() from a bound port never finds its 4-tuple taken.
 * When no port is free after a few tries the caller lets the kernel choose;
 * capture's fail-closed rule (agent/iptables.h) still keeps the app's
 * traffic from leaving in clear. */
#ifndef WARD_PORTS_H
#define WARD_PORTS_H

#include <stdint.h>

#include "lib/err.h"

#define WARD_PORTS_RANGES 32

struct ward_ports {
	struct {
		uint16_t lo, hi;
	} range[WARD_PORTS_RANGES];
	unsigned n;
	uint32_t size; /* ports in all ranges */
};

/* Reads the pool from proc_sys (normally "/proc/sys"): the ports above
 * ip_local_port_range, and ip_local_reserved_ports (at most
 * WARD_PORTS_RANGES ranges in all). An empty pool is not an error. */
int ward_ports_load(struct ward_ports *p, const char *proc_sys) WARD_MUST_CHECK;
/* Binds the unbound TCP socket fd (of family) to a free port of the pool,
 * starting at *cursor (which moves on). 0 when bound; WARD_ERR_NOTFOUND when
 * the pool is empty or no port was free within a few tries; WARD_ERR_IO for
 * another failure. */
int ward_ports_bind(const struct ward_ports *p, uint32_t *cursor, int fd,
		    int family) WARD_MUST_CHECK;

#endif
