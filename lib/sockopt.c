#include "lib/sockopt.h"

#include <errno.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

static int set_int(int fd, int level, int opt, int val, const char *name)
{
	if (setsockopt(fd, level, opt, &val, sizeof(val)) < 0)
		return ward_err_set(WARD_ERR_IO, "setsockopt %s: %s", name, strerror(errno));
	return 0;
}

int ward_sockopt_apply(int fd, const struct ward_tcp_opts *tcp, bool upstream)
{
	if (tcp->nodelay)
		GUARD(set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY"));
	if (tcp->keepalive_idle_s) {
		GUARD(set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE"));
		GUARD(set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)tcp->keepalive_idle_s,
			      "TCP_KEEPIDLE"));
		GUARD(set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)tcp->keepalive_interval_s,
			      "TCP_KEEPINTVL"));
		GUARD(set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, (int)tcp->keepalive_count,
			      "TCP_KEEPCNT"));
	}
	if (upstream && tcp->congestion && tcp->congestion[0]) {
		const char *cc = tcp->congestion;

		if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0)
			return ward_err_set(WARD_ERR_UNSUPPORTED,
					    "tcp.congestion \"%s\": %s (is the module loaded? see "
					    "/proc/sys/net/ipv4/tcp_available_congestion_control)",
					    cc, strerror(errno));
	}
	return 0;
}

int ward_sockopt_nodelay(int fd, const struct ward_tcp_opts *tcp)
{
	return tcp->nodelay ? set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY") : 0;
}

int ward_sockopt_fastopen_connect(int fd)
{
	return set_int(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1, "TCP_FASTOPEN_CONNECT");
}

int ward_sockopt_original_dst(int fd, struct sockaddr_storage *out,
			      struct sockaddr_storage *local_out)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);

	if (getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		return ward_err_set(WARD_ERR_IO, "getsockname: %s", strerror(errno));
	if (local_out)
		*local_out = local;
	memset(out, 0, sizeof(*out));
	len = sizeof(*out);
	if (local.ss_family == AF_INET6) {
		/* An IPv4 client on a dual-stack socket is still NATed by iptables. */
		if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, out, &len) == 0)
			return 0;
	}
	if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, out, &len) < 0)
		return ward_err_set(WARD_ERR_NOTFOUND,
				    "no original destination (not redirected by iptables?): %s",
				    strerror(errno));
	return 0;
}

int ward_sockopt_listen(const struct ward_addr *addr, bool fastopen, int backlog)
{
	int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	char text[64];
	int rc;

	if (fd < 0)
		return ward_err_set(WARD_ERR_IO, "socket: %s", strerror(errno));
	rc = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
	if (rc == 0 && addr->ss.ss_family == AF_INET6) /* IPv4 has its own listener */
		rc = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
	if (rc == 0)
		rc = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
	if (rc == 0 && fastopen)
		rc = set_int(fd, IPPROTO_TCP, TCP_FASTOPEN, backlog, "TCP_FASTOPEN");
	if (rc == 0 && bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0)
		rc = ward_err_set(
		    WARD_ERR_IO, "bind %s: %s",
		    ward_addr_format((const struct sockaddr *)&addr->ss, text, sizeof(text)),
		    strerror(errno));
	if (rc == 0 && listen(fd, backlog) < 0)
		rc = ward_err_set(WARD_ERR_IO, "listen: %s", strerror(errno));
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

int ward_sockopt_tcp_info(int fd, struct tcp_info *out)
{
	socklen_t len = sizeof(*out);

	memset(out, 0, sizeof(*out));
	ENSURE(fd >= 0 && getsockopt(fd, IPPROTO_TCP, TCP_INFO, out, &len) == 0, WARD_ERR_IO,
	       "TCP_INFO: %s", strerror(errno));
	return 0;
}

static const char *tcp_state_name(uint8_t state)
{
	static const char *const names[] = {"unknown",	  "established", "syn_sent",  "syn_recv",
					    "fin_wait1",  "fin_wait2",	 "time_wait", "close",
					    "close_wait", "last_ack",	 "listen",    "closing"};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

json_t *ward_sockopt_tcp_json(int fd)
{
	struct tcp_info ti;
	char cc[32] = "";
	socklen_t len = sizeof(cc) - 1;

	if (fd < 0 || ward_sockopt_tcp_info(fd, &ti) < 0)
		return json_null();
	if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &len) < 0)
		cc[0] = '\0';
	return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:s}", "state", tcp_state_name(ti.tcpi_state),
			 "rtt_us", (json_int_t)ti.tcpi_rtt, "rttvar_us", (json_int_t)ti.tcpi_rttvar,
			 "snd_cwnd", (json_int_t)ti.tcpi_snd_cwnd, "retransmits",
			 (json_int_t)ti.tcpi_total_retrans, "unacked", (json_int_t)ti.tcpi_unacked,
			 "congestion", cc);
}
