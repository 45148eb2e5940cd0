/* The inbound side's way to the app; see app.h. */
#include "agent/app.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/proxy_v2.h"

/* --- addresses --- */

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* An address of family: ip (4 or 16 bytes), or loopback when NULL; and port. */
static void make_addr(int family, const uint8_t *ip, uint16_t port, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (ip)
			memcpy(&s6->sin6_addr, ip, 16);
		else
			s6->sin6_addr = in6addr_loopback;
		return;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)out;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	if (ip)
		memcpy(&s4->sin_addr, ip, 4);
	else
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static socklen_t addr_len(int family)
{
	return family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static const void *ip_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return &((const struct sockaddr_in6 *)ss)->sin6_addr;
	return &((const struct sockaddr_in *)ss)->sin_addr;
}

/* --- the per-worker memory of loopback-only apps --- */

static size_t slot_of(uint16_t port, int family)
{
	return ((size_t)port * 2 + (family == AF_INET6)) % WARD_APP_MEMORY_SLOTS;
}

static bool remembered(const struct ward_app_memory *m, const struct ward_app_dial *d,
		       uint64_t now_ms)
{
	size_t i = slot_of(d->port, d->family);

	return m->slot[i].until_ms > now_ms && m->slot[i].port == d->port &&
	       m->slot[i].family == d->family;
}

static void set_memory(struct ward_app_memory *m, const struct ward_app_dial *d, uint64_t until_ms)
{
	size_t i = slot_of(d->port, d->family);

	m->slot[i].until_ms = until_ms;
	m->slot[i].port = d->port;
	m->slot[i].family = d->family;
}

/* --- the dial --- */

void ward_app_dial_init(struct ward_app_dial *d, const struct ward_config *cfg,
			const struct ward_app_memory *m, const struct sockaddr_storage *dst,
			uint64_t now_ms)
{
	memset(d, 0, sizeof(*d));
	d->family = (uint8_t)dst->ss_family;
	d->port = port_of(dst);
	memcpy(d->pod_ip, ip_of(dst), dst->ss_family == AF_INET6 ? 16 : 4);
	d->transparent = cfg->inbound.preserve_source;
	d->proxy_header = ward_config_is_proxy_protocol_port(cfg, d->port);
	/* A transparent socket cannot reach loopback: the kernel will not
	 * deliver a foreign source address there. */
	d->loopback = !d->transparent && remembered(m, d, now_ms);
}

void ward_app_dial_target(const struct ward_app_dial *d, struct sockaddr_storage *to)
{
	make_addr(d->family, d->loopback ? NULL : d->pod_ip, d->port, to);
}

static int set_opt(int fd, int level, int opt, const char *name)
{
	int one = 1;

	if (setsockopt(fd, level, opt, &one, sizeof(one)) == 0)
		return 0;
	return ward_err_set(errno == EPERM ? WARD_ERR_PERM : WARD_ERR_IO,
			    "%s: %s (inbound.preserve_source needs CAP_NET_ADMIN)", name,
			    strerror(errno));
}

/* IP_TRANSPARENT lets the socket bind an address that is not ours; the
 * kernel picks the port at connect (IP_BIND_ADDRESS_NO_PORT), so callers
 * behind one address do not run out of ports. */
int ward_app_dial_socket(const struct ward_app_dial *d, int fd,
			 const struct ward_app_caller *caller)
{
	struct sockaddr_storage src;
	char text[64];

	if (!d->transparent)
		return 0;
	ENSURE(caller->src.ss_family == d->family, WARD_ERR_INVALID,
	       "caller %s and app address are of different families",
	       ward_addr_format((const struct sockaddr *)&caller->src, text, sizeof(text)));
	if (d->family == AF_INET6)
		GUARD(set_opt(fd, SOL_IPV6, IPV6_TRANSPARENT, "IPV6_TRANSPARENT"));
	else
		GUARD(set_opt(fd, SOL_IP, IP_TRANSPARENT, "IP_TRANSPARENT"));
	GUARD(set_opt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, "IP_BIND_ADDRESS_NO_PORT"));
	make_addr(d->family, ip_of(&caller->src), 0, &src);
	ENSURE(bind(fd, (const struct sockaddr *)&src, addr_len(d->family)) == 0, WARD_ERR_IO,
	       "binding the caller's address %s: %s",
	       ward_addr_format((const struct sockaddr *)&src, text, sizeof(text)),
	       strerror(errno));
	return 0;
}

int ward_app_dial_failed(struct ward_app_dial *d, struct ward_app_memory *m, int status)
{
	struct sockaddr_storage to;
	char text[64];

	ward_app_dial_target(d, &to);
	ward_addr_format((const struct sockaddr *)&to, text, sizeof(text));
	ENSURE(status == UV_ECONNREFUSED, WARD_ERR_IO, "%s: %s", text, uv_err_name(status));
	ENSURE(!d->transparent, WARD_ERR_IO,
	       "%s: ECONNREFUSED (with inbound.preserve_source the app must listen on the pod "
	       "IP or on all addresses: loopback cannot see a caller's address)",
	       text);
	ENSURE(!d->switched, WARD_ERR_IO,
	       "ECONNREFUSED on the pod IP and on loopback, port %u: is the app listening?",
	       d->port);
	if (d->loopback)
		set_memory(m, d, 0); /* the app moved off loopback: forget */
	d->loopback = !d->loopback;
	d->switched = true;
	return 0;
}

void ward_app_dial_connected(const struct ward_app_dial *d, struct ward_app_memory *m,
			     uint64_t now_ms)
{
	/* Learned just now: the pod IP refused, loopback answered. Remembered
	 * from now, not refreshed by later successes, so a moved app is
	 * found again within the memory's lifetime. */
	if (d->loopback && d->switched)
		set_memory(m, d, now_ms + WARD_APP_LOOPBACK_MEMORY_MS);
}

/* --- what the app is told --- */

int ward_app_proxy_header(const struct ward_app_caller *caller, uint8_t **data, size_t *len)
{
	/* PP2_TYPE_SSL (§2.2.5): the caller's connection was TLS, it sent a
	 * certificate in this session and, unless resumed, on this connection;
	 * verify 0 = verified (we would not be here otherwise). */
	struct ward_proxy_v2_ssl ssl = {
	    .client = WARD_PROXY_V2_CLIENT_SSL | WARD_PROXY_V2_CLIENT_CERT_SESS |
		      (caller->resumed ? 0 : WARD_PROXY_V2_CLIENT_CERT_CONN),
	    .version = caller->tls_version,
	    .cipher = caller->tls_cipher,
	};
	struct ward_proxy_v2_tlv id = {WARD_APP_TLV_SPIFFE_ID, caller->peer_id,
				       caller->peer_id ? strlen(caller->peer_id) : 0};
	struct ward_proxy_v2 h = {
	    .src = (const struct sockaddr *)&caller->src,
	    .dst = (const struct sockaddr *)&caller->dst,
	    .ssl = caller->tls_version ? &ssl : NULL,
	    .tlvs = &id,
	    .n_tlvs = caller->peer_id ? 1 : 0,
	};
	struct ward_buf b;

	ward_buf_init(&b, WARD_PROXY_V2_MAX);
	GUARD(ward_proxy_v2_encode(&h, &b));
	*data = ward_buf_detach(&b, len);
	return 0;
}

json_t *ward_app_describe(const struct ward_app_dial *d, int fd)
{
	struct sockaddr_storage to, seen = {0};
	socklen_t slen = sizeof(seen);
	char addr[64], source[64];

	ward_app_dial_target(d, &to);
	ward_addr_format((const struct sockaddr *)&to, addr, sizeof(addr));
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&seen, &slen) < 0 || port_of(&seen) == 0)
		source[0] = '\0';
	else
		ward_addr_format((const struct sockaddr *)&seen, source, sizeof(source));
	return json_pack("{s:s,s:s,s:b,s:s?,s:b,s:b}", "addr", addr, "via",
			 d->loopback ? "loopback" : "pod_ip", "retried", d->switched, "source",
			 source[0] ? source : NULL, "preserve_source", d->transparent,
			 "proxy_header", d->proxy_header);
}

int ward_app_check(const struct ward_config *cfg)
{
	int fd, rc;

	if (!cfg->inbound.preserve_source)
		return 0;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ENSURE(fd >= 0, WARD_ERR_IO, "socket: %s", strerror(errno));
	rc = set_opt(fd, SOL_IP, IP_TRANSPARENT, "IP_TRANSPARENT");
	close(fd);
	if (rc < 0)
		return ward_err_prefix(rc, "inbound.preserve_source: start the agent as root with "
					   "CAP_NET_ADMIN (it keeps only that one as proxy.uid)");
	return 0;
}
