/* Socket-level knobs on proxied connections: TCP options from config, and the
 * original destination of a connection that iptables REDIRECTed to us. */
#ifndef WARD_SOCKOPT_H
#define WARD_SOCKOPT_H

#include <jansson.h>
#include <stdbool.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "lib/addr.h"
#include "lib/err.h"

/* The TCP options of proxied sockets (the config's "tcp" object). */
struct ward_tcp_opts {
	bool nodelay;
	unsigned keepalive_idle_s, keepalive_interval_s, keepalive_count;
	char *congestion; /* owned by the config; "" = kernel default */
	bool fastopen;
};

/* TCP_NODELAY, keepalive idle/interval/count; congestion control when
 * upstream is true (it is a per-upstream-socket choice). On a listener the
 * options carry over to every socket it accepts (Linux copies them), which
 * saves five system calls per accepted connection. A failure to set the
 * congestion algorithm (module not loaded) is returned as WARD_ERR_UNSUPPORTED
 * with a reason, so the caller can log it once and carry on. */
int ward_sockopt_apply(int fd, const struct ward_tcp_opts *tcp, bool upstream) WARD_MUST_CHECK;

/* TCP_NODELAY alone, when tcp asks for it (a socket to a local app). */
int ward_sockopt_nodelay(int fd, const struct ward_tcp_opts *tcp) WARD_MUST_CHECK;

/* TCP_FASTOPEN_CONNECT on a not-yet-connected upstream socket. */
int ward_sockopt_fastopen_connect(int fd) WARD_MUST_CHECK;

/* TCP_INFO of a connected socket: RTT, congestion window, retransmits. */
int ward_sockopt_tcp_info(int fd, struct tcp_info *out) WARD_MUST_CHECK;

/* The kernel's view of a connected socket as JSON (state, RTTs in
 * microseconds, congestion window and algorithm, retransmits); JSON null
 * when fd < 0 or TCP_INFO fails. */
json_t *ward_sockopt_tcp_json(int fd);

/* SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6) of an accepted fd;
 * local (may be NULL) gets the address it was accepted on. */
int ward_sockopt_original_dst(int fd, struct sockaddr_storage *out,
			      struct sockaddr_storage *local) WARD_MUST_CHECK;

/* Listener socket: SO_REUSEADDR + SO_REUSEPORT (one listener per worker
 * sharing the port), TCP_FASTOPEN when asked. Returns a bound, listening fd. */
int ward_sockopt_listen(const struct ward_addr *addr, bool fastopen, int backlog) WARD_MUST_CHECK;

#endif
