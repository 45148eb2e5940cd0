/* The checks of `ward doctor`; the command itself is in doctor_cli.c. */
#include "agent/doctor.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "certs/pem.h"
#include "certs/svid.h"
#include "agent/fdlimit.h"
#include "agent/iptables.h"
#include "lib/tls.h"
#include "agent/wlidentity.h"
#include "lib/file.h"

#define WANT_SOMAXCONN 4096	 /* the backlog ward asks for on its listeners */
#define DEFAULT_PORT_RANGE 28232 /* Linux's default 32768-60999 */
#define MANY_TIME_WAIT 10000
#define MANY_CLOSE_WAIT 100

const char *ward_check_status_name(enum ward_check_status s)
{
	static const char *const names[] = {"ok", "warn", "fail", "skip"};

	return names[s];
}

static void set(struct ward_check *c, const char *name, enum ward_check_status st, const char *why)
{
	c->name = name;
	c->status = st;
	c->why = why;
}

static void WARD_PRINTF(3, 4) fmt(char *dst, size_t len, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(dst, len, f, ap);
	va_end(ap);
}
#define VALUE(c, ...) fmt((c)->value, sizeof((c)->value), __VA_ARGS__)
#define RECOMMEND(c, ...) fmt((c)->recommended, sizeof((c)->recommended), __VA_ARGS__)

/* One line of a /proc file, without its newline; false if unreadable. */
static bool read_proc(const struct ward_doctor_env *env, const char *rel, char *out, size_t len)
{
	char path[512];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", env->proc, rel);
	f = ward_file_fopen_read(path);
	if (!f)
		return false;
	ok = fgets(out, (int)len, f) != NULL;
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
	return ok;
}

static bool read_long(const struct ward_doctor_env *env, const char *rel, long *v)
{
	char line[64], *end;

	if (!read_proc(env, rel, line, sizeof(line)))
		return false;
	errno = 0;
	*v = strtol(line, &end, 10);
	return errno == 0 && end != line;
}

static bool unreadable(struct ward_check *c, const char *name, const char *rel)
{
	set(c, name, WARD_CHECK_SKIP, "the kernel setting could not be read");
	VALUE(c, "cannot read /proc/%s", rel);
	return true;
}

/* --- kernel TCP settings --- */

static bool word_in(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

void ward_doctor_congestion(const struct ward_doctor_env *env, struct ward_check *c)
{
	static const char why[] =
	    "BBR keeps throughput up and queues short on lossy or long paths where CUBIC "
	    "backs off; ward sets it per upstream socket with tcp.congestion";
	char cur[64], avail[256];
	const char *want = env->cfg->tcp.congestion;

	if (!read_proc(env, "sys/net/ipv4/tcp_congestion_control", cur, sizeof(cur)) ||
	    !read_proc(env, "sys/net/ipv4/tcp_available_congestion_control", avail,
		       sizeof(avail))) {
		unreadable(c, "congestion_control", "sys/net/ipv4/tcp_congestion_control");
		return;
	}
	VALUE(c, "%s (available: %s; tcp.congestion: \"%s\")", cur, avail, want);
	RECOMMEND(c, "bbr available (modprobe tcp_bbr) and tcp.congestion: \"bbr\"");
	if (want[0] && !word_in(avail, want))
		set(c, "congestion_control", WARD_CHECK_FAIL,
		    "tcp.congestion names an algorithm the kernel does not offer: ward logs "
		    "sockopt_failed and upstream sockets keep the default");
	else if (!strcmp(cur, "bbr") || !strcmp(want, "bbr"))
		set(c, "congestion_control", WARD_CHECK_OK, why);
	else
		set(c, "congestion_control", WARD_CHECK_WARN, why);
}

static void tw_reuse(const struct ward_doctor_env *env, struct ward_check *c)
{
	long v;

	if (!read_long(env, "sys/net/ipv4/tcp_tw_reuse", &v) &&
	    unreadable(c, "tcp_tw_reuse", "sys/net/ipv4/tcp_tw_reuse"))
		return;
	VALUE(c, "%ld", v);
	RECOMMEND(c, "1");
	set(c, "tcp_tw_reuse", v == 1 ? WARD_CHECK_OK : WARD_CHECK_WARN,
	    "a sidecar opens an upstream connection per app connection; with 1 the kernel may "
	    "reuse a TIME-WAIT port for a new outgoing connection instead of running out of "
	    "ports (2, the default, allows it on loopback only)");
}

void ward_doctor_somaxconn(const struct ward_doctor_env *env, struct ward_check *c)
{
	long v;

	if (!read_long(env, "sys/net/core/somaxconn", &v) &&
	    unreadable(c, "somaxconn", "sys/net/core/somaxconn"))
		return;
	VALUE(c, "%ld", v);
	RECOMMEND(c, ">= %d", WANT_SOMAXCONN);
	set(c, "somaxconn", v >= WANT_SOMAXCONN ? WARD_CHECK_OK : WARD_CHECK_WARN,
	    "the kernel caps every listen backlog at somaxconn; ward asks for 4096, and a short "
	    "backlog drops SYNs under bursts (clients see 1 s, 3 s retransmit stalls)");
}

void ward_doctor_port_range(const struct ward_doctor_env *env, struct ward_check *c)
{
	char line[64];
	long lo = 0, hi = 0, ports;

	if (!read_proc(env, "sys/net/ipv4/ip_local_port_range", line, sizeof(line)) ||
	    sscanf(line, "%ld %ld", &lo, &hi) != 2) {
		unreadable(c, "ip_local_port_range", "sys/net/ipv4/ip_local_port_range");
		return;
	}
	ports = hi >= lo ? hi - lo + 1 : 0;
	VALUE(c, "%ld %ld (%ld ports)", lo, hi, ports);
	RECOMMEND(c, ">= %d ports and >= limits.max_connections (%u)", DEFAULT_PORT_RANGE,
		  env->cfg->limits.max_connections);
	set(c, "ip_local_port_range",
	    ports >= DEFAULT_PORT_RANGE && ports >= env->cfg->limits.max_connections
		? WARD_CHECK_OK
		: WARD_CHECK_WARN,
	    "every upstream connection to one destination address and port needs its own "
	    "ephemeral port; past the range, connect() fails with EADDRNOTAVAIL");
}

static void keepalive(const struct ward_doctor_env *env, struct ward_check *c)
{
	long t, i, p;

	if ((!read_long(env, "sys/net/ipv4/tcp_keepalive_time", &t) ||
	     !read_long(env, "sys/net/ipv4/tcp_keepalive_intvl", &i) ||
	     !read_long(env, "sys/net/ipv4/tcp_keepalive_probes", &p)) &&
	    unreadable(c, "tcp_keepalive", "sys/net/ipv4/tcp_keepalive_time"))
		return;
	VALUE(c, "kernel %ld/%ld/%ld s; ward's sockets %u/%u/%u (tcp.keepalive)", t, i, p,
	      env->cfg->tcp.keepalive_idle_s, env->cfg->tcp.keepalive_interval_s,
	      env->cfg->tcp.keepalive_count);
	RECOMMEND(c, "kernel time <= 600 s; tcp.keepalive below any idle timeout on the path");
	set(c, "tcp_keepalive", t <= 600 ? WARD_CHECK_OK : WARD_CHECK_WARN,
	    "ward sets keepalive on its own sockets; app sockets that enable SO_KEEPALIVE use the "
	    "kernel's values, and with 7200 s a dead peer or a NAT that forgot the flow goes "
	    "unnoticed for over two hours");
}

static void fastopen(const struct ward_doctor_env *env, struct ward_check *c)
{
	long v;

	if (!read_long(env, "sys/net/ipv4/tcp_fastopen", &v) &&
	    unreadable(c, "tcp_fastopen", "sys/net/ipv4/tcp_fastopen"))
		return;
	VALUE(c, "%ld (tcp.fastopen: %s)", v, env->cfg->tcp.fastopen ? "true" : "false");
	RECOMMEND(c, "3 when tcp.fastopen is true");
	if (env->cfg->tcp.fastopen && (v & 3) != 3)
		set(c, "tcp_fastopen", WARD_CHECK_FAIL,
		    "tcp.fastopen is on, but the kernel allows TFO on only one side (1 = client, "
		    "2 = server): the first flight still waits a round trip");
	else
		set(c, "tcp_fastopen", WARD_CHECK_OK,
		    "TCP Fast Open sends the ClientHello with the SYN and saves a round trip on "
		    "repeat connections; it needs both bits (3)");
}

/* --- sockets --- */

/* Counts sockets in state st (hex, as /proc/net/tcp writes it: 06 TIME_WAIT,
 * 08 CLOSE_WAIT) in one table; -1 if it cannot be read. */
static long count_state(const struct ward_doctor_env *env, const char *rel, unsigned st)
{
	char path[512], line[512];
	unsigned state;
	long n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", env->proc, rel);
	f = ward_file_fopen_read(path);
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f)) { /* header */
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %x", &state) == 1 && state == st)
			n++;
	fclose(f);
	return n;
}

static long count_both(const struct ward_doctor_env *env, unsigned st)
{
	long v4 = count_state(env, "net/tcp", st), v6 = count_state(env, "net/tcp6", st);

	if (v4 < 0)
		return -1;
	return v4 + (v6 > 0 ? v6 : 0);
}

void ward_doctor_socket_states(const struct ward_doctor_env *env, struct ward_check *tw,
			       struct ward_check *cw)
{
	long t = count_both(env, 0x06), w = count_both(env, 0x08);

	if (t < 0) {
		unreadable(tw, "time_wait_sockets", "net/tcp");
		unreadable(cw, "close_wait_sockets", "net/tcp");
		return;
	}
	VALUE(tw, "%ld", t);
	RECOMMEND(tw, "< %d", MANY_TIME_WAIT);
	set(tw, "time_wait_sockets", t < MANY_TIME_WAIT ? WARD_CHECK_OK : WARD_CHECK_WARN,
	    "each TIME-WAIT socket holds a local port for 60 s; thousands mean short-lived "
	    "connections that a keep-alive or connection pool would reuse");
	VALUE(cw, "%ld", w);
	RECOMMEND(cw, "< %d", MANY_CLOSE_WAIT);
	set(cw, "close_wait_sockets", w < MANY_CLOSE_WAIT ? WARD_CHECK_OK : WARD_CHECK_WARN,
	    "CLOSE-WAIT means the peer closed and the local program never called close(): an "
	    "application leaking connections (each one holds a file descriptor)");
}

void ward_doctor_fd_limit(const struct ward_doctor_env *env, struct ward_check *c)
{
	unsigned max = env->cfg->limits.max_connections;
	unsigned long want = ward_fdlimit_needed(max);

	if (env->agent_pid > 0)
		VALUE(c, "%lu for the agent (pid %d, hard limit %lu; limits.max_connections: %u)",
		      env->fd_limit, env->agent_pid, env->fd_hard, max);
	else
		VALUE(c, "%lu for this shell, not the agent (%.120s; limits.max_connections: %u)",
		      env->fd_limit, env->agent_error ? env->agent_error : "no agent asked", max);
	RECOMMEND(c, ">= %lu (2 per connection + %d)", want, WARD_FDLIMIT_SLACK);
	set(c, "fd_limit", env->fd_limit >= want ? WARD_CHECK_OK : WARD_CHECK_FAIL,
	    "every proxied connection holds two sockets; below this the agent refuses "
	    "connections (EMFILE) before limits.max_connections is reached. The agent raises "
	    "its soft limit to the hard one at start: raise the hard limit (LimitNOFILE, "
	    "ulimit -Hn, the container runtime's nofile)");
}

/* --- capture rules --- */

/* token occurs in line as whole words (not " 1500" inside " 15006"). */
static bool has_token(const char *line, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = line; (p = strstr(p, token)); p++)
		if (p[n] == '\0' || p[n] == ' ')
			return true;
	return false;
}

/* A line "-A CHAIN ..." of text that has every token ("~token": that lacks it). */
static bool has_rule(const char *text, const char *chain, const char *const *tokens)
{
	char head[64];
	size_t hl = (size_t)snprintf(head, sizeof(head), "-A %s ", chain);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		size_t len = strcspn(p, "\n");
		bool all = len > hl && !strncmp(p, head, hl);
		char line[512];

		if (!all || len >= sizeof(line))
			continue;
		memcpy(line, p, len);
		line[len] = '\0';
		for (size_t i = 0; all && tokens[i]; i++)
			all = tokens[i][0] == '~' ? !has_token(line, tokens[i] + 1)
						  : has_token(line, tokens[i]);
		if (all)
			return true;
	}
	return false;
}

/* The first rule the config needs that the table lacks, or NULL. */
static const char *missing_rule(const char *text, const struct ward_config *cfg, char *buf,
				size_t len)
{
	char in[32], out[32], adm[32], uid[32], tun[32];

	snprintf(in, sizeof(in), "--to-ports %u", ward_addr_port(&cfg->inbound.listen));
	snprintf(out, sizeof(out), "--to-ports %u", ward_addr_port(&cfg->outbound.listen));
	snprintf(adm, sizeof(adm), "--dport %u", ward_addr_port(&cfg->admin.listen));
	snprintf(uid, sizeof(uid), "--uid-owner %u", cfg->proxy.uid);
	snprintf(tun, sizeof(tun), "--dport %u", ward_addr_port(&cfg->inbound.tunnel_listen));
	const struct {
		const char *chain, *what;
		const char *tokens[5];
	} need[] = {
	    {"PREROUTING", "jump PREROUTING -> WARD_INBOUND", {"-j WARD_INBOUND"}},
	    {"OUTPUT", "jump OUTPUT -> WARD_OUTPUT", {"-j WARD_OUTPUT"}},
	    {"WARD_IN_REDIRECT", "inbound REDIRECT to inbound.listen's port", {"-j REDIRECT", in}},
	    {"WARD_REDIRECT", "outbound REDIRECT to outbound.listen's port", {"-j REDIRECT", out}},
	    {"WARD_INBOUND", "admin port excluded from capture", {adm, "-j RETURN"}},
	    {"WARD_OUTPUT", "proxy.uid excluded from capture", {uid, "-j RETURN"}},
	    {"WARD_INBOUND", "tunnel port excluded from capture", {tun, "-j RETURN"}},
	    {"OUTPUT",
	     "fail-closed jump OUTPUT -> WARD_GUARD (filter table)",
	     {"-j WARD_GUARD", "SYN", "!", "lo"}},
	    {"WARD_GUARD", "fail-closed: proxy.uid passes WARD_GUARD", {uid, "-j RETURN"}},
	    {"WARD_GUARD",
	     "fail-closed: REDIRECTed connections pass WARD_GUARD",
	     {"--ctstate DNAT", "-j RETURN"}},
	    {"WARD_GUARD",
	     "fail-closed: uncaptured app connections refused",
	     {"-j REJECT", "tcp-reset", "~DNAT"}},
	};
	size_t n = sizeof(need) / sizeof(need[0]) - (cfg->inbound.tunnel ? 0 : 1);

	for (size_t i = 0; i < n; i++)
		if (!has_rule(text, need[i].chain, need[i].tokens)) {
			snprintf(buf, len, "%s", need[i].what);
			return buf;
		}
	return NULL;
}

void ward_doctor_capture(const struct ward_doctor_env *env, struct ward_check *c)
{
	static const char why[] =
	    "without the nat rules the app's traffic bypasses ward in plaintext; with "
	    "rules for other ports, it reaches nothing or loops; without the fail-closed "
	    "filter rule, an app connection that reuses the 4-tuple of one the agent's peer "
	    "reset skips capture and leaves in clear";
	char *owned = NULL, buf[128];
	const char *text = env->iptables_text, *missing;

	RECOMMEND(c, "ward iptables with ports %u/%u, admin %u, proxy uid %u",
		  ward_addr_port(&env->cfg->outbound.listen),
		  ward_addr_port(&env->cfg->inbound.listen),
		  ward_addr_port(&env->cfg->admin.listen), env->cfg->proxy.uid);
	if (!text && !env->iptables_error && ward_iptables_show(AF_INET, &owned) == 0)
		text = owned;
	if (!text) {
		set(c, "capture_rules", WARD_CHECK_SKIP, why);
		VALUE(c, "cannot read the nat table: %.200s",
		      env->iptables_error ? env->iptables_error : ward_err_msg());
		return;
	}
	missing = missing_rule(text, env->cfg, buf, sizeof(buf));
	if (missing)
		VALUE(c, "missing: %s", missing);
	else
		VALUE(c, "present and consistent with the config");
	set(c, "capture_rules", missing ? WARD_CHECK_FAIL : WARD_CHECK_OK, why);
	free(owned);
}

/* --- identity --- */

static const char *socket_path(const struct ward_config *cfg)
{
	const char *uri = cfg->identity.workload_api;

	if (!uri && !cfg->identity.cert_file)
		uri = getenv("SPIFFE_ENDPOINT_SOCKET");
	if (uri && !strncmp(uri, "unix://", 7))
		return uri + 7;
	return uri;
}

static void workload_api(const struct ward_doctor_env *env, struct ward_check *c)
{
	static const char why[] = "the agent fetches and rotates its SVID over this socket";
	const char *path = socket_path(env->cfg);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, rc;

	RECOMMEND(c, "a SPIRE agent or ward server listening on the socket");
	if (!path) {
		set(c, "workload_api_socket", WARD_CHECK_SKIP, why);
		VALUE(c, "not used (identity from files)");
		return;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	VALUE(c, "%s: %s", path, rc == 0 ? "accepts connections" : strerror(errno));
	if (fd >= 0)
		close(fd);
	set(c, "workload_api_socket", rc == 0 ? WARD_CHECK_OK : WARD_CHECK_FAIL, why);
}

/* With the Workload API, the SVID the server issues to the doctor's uid:
 * run it as the proxy uid to see the agent's. */
static int fetched_info(const struct ward_config *cfg, struct ward_svid_info *info)
{
	struct ward_tls_policy policy;
	struct ward_tls_ctx *tls;

	ENSURE(cfg->identity.workload_api && cfg->trust_domain, WARD_ERR_INVALID,
	       "no identity source configured");
	GUARD(ward_tls_policy_resolve(cfg, &policy));
	GUARD(ward_wlidentity_fetch_once(cfg, &policy, 3000, &tls));
	info->not_before = tls->not_before;
	info->not_after = tls->not_after;
	ward_tls_ctx_put(tls);
	return 0;
}

static int leaf_info(const struct ward_config *cfg, struct ward_svid_info *info)
{
	struct ward_pem_certs chain = {0};
	int rc;

	if (!cfg->identity.cert_file)
		return fetched_info(cfg, info);
	GUARD(ward_pem_certs_load_file(cfg->identity.cert_file, &chain));
	rc = chain.count
		 ? ward_svid_info(chain.certs[0].data, chain.certs[0].len, info)
		 : ward_err_set(WARD_ERR_INVALID, "%s: no certificate", cfg->identity.cert_file);
	ward_pem_certs_free(&chain);
	return rc;
}

static void svid_checks(const struct ward_doctor_env *env, struct ward_check *exp,
			struct ward_check *skew)
{
	static const char why_exp[] =
	    "an expired SVID fails every handshake; rotation should replace it at about half "
	    "its lifetime";
	static const char why_skew[] =
	    "a clock behind the CA's sees a fresh SVID as not yet valid, and peers refuse it; "
	    "a clock far ahead sees it expire early";
	struct ward_svid_info info;
	long long left, since;

	RECOMMEND(exp, "> 300 s left, renewed at half the lifetime");
	RECOMMEND(skew, "now >= not-before (clock synchronised, e.g. NTP)");
	if (!env->have_config || leaf_info(env->cfg, &info) < 0) {
		const char *why = env->have_config ? ward_err_msg() : "no --config given";

		set(exp, "svid_expiry", WARD_CHECK_SKIP, why_exp);
		VALUE(exp, "%.200s", why);
		set(skew, "clock_skew", WARD_CHECK_SKIP, why_skew);
		VALUE(skew, "%.200s", why);
		return;
	}
	left = (long long)(info.not_after - env->now);
	since = (long long)(env->now - info.not_before);
	VALUE(exp, "%lld s left (not-after %lld)", left, (long long)info.not_after);
	set(exp, "svid_expiry",
	    left <= 0	 ? WARD_CHECK_FAIL
	    : left < 300 ? WARD_CHECK_WARN
			 : WARD_CHECK_OK,
	    why_exp);
	VALUE(skew, "now is %lld s %s the SVID's not-before", since < 0 ? -since : since,
	      since < 0 ? "before" : "after");
	set(skew, "clock_skew", since < 0 ? WARD_CHECK_FAIL : WARD_CHECK_OK, why_skew);
}

/* --- TLS --- */

void ward_doctor_post_quantum(const struct ward_doctor_env *env, struct ward_check *c)
{
	static const char why[] =
	    "traffic recorded today can be decrypted once a large quantum computer exists "
	    "(harvest now, decrypt later); a hybrid group adds ML-KEM to the key exchange and "
	    "stays as strong as X25519 or P-256 against today's attacks";
	struct ward_tls_policy p;
	char groups[160];
	bool offered = false;

	RECOMMEND(c,
		  "a hybrid post-quantum group first (X25519MLKEM768; ward's own wolfSSL build)");
	if (ward_tls_policy_resolve(env->cfg, &p) < 0) {
		set(c, "post_quantum", WARD_CHECK_SKIP, why);
		VALUE(c, "%.200s", ward_err_msg());
		return;
	}
	ward_tls_policy_group_names(&p, groups, sizeof(groups));
	for (int i = 0; i < p.n_groups; i++)
		offered |= ward_tls_group_is_pq(p.groups[i]);
	if (offered)
		VALUE(c, "offered: %s (wolfSSL %s)", groups, wolfSSL_lib_version());
	else if (!ward_tls_pq_supported())
		VALUE(c, "unavailable: this build's wolfSSL %s has no ML-KEM; offering %s",
		      wolfSSL_lib_version(), groups);
	else
		VALUE(c, "not offered: tls.groups is %s", groups);
	set(c, "post_quantum", offered ? WARD_CHECK_OK : WARD_CHECK_WARN, why);
}

int ward_doctor_run(const struct ward_doctor_env *env, struct ward_check *out)
{
	int failed = 0;

	memset(out, 0, sizeof(*out) * WARD_DOCTOR_CHECKS);
	ward_doctor_congestion(env, &out[0]);
	tw_reuse(env, &out[1]);
	ward_doctor_somaxconn(env, &out[2]);
	ward_doctor_port_range(env, &out[3]);
	keepalive(env, &out[4]);
	fastopen(env, &out[5]);
	ward_doctor_socket_states(env, &out[6], &out[7]);
	ward_doctor_fd_limit(env, &out[8]);
	ward_doctor_capture(env, &out[9]);
	workload_api(env, &out[10]);
	svid_checks(env, &out[11], &out[12]);
	ward_doctor_post_quantum(env, &out[13]);
	for (int i = 0; i < WARD_DOCTOR_CHECKS; i++)
		failed += out[i].status == WARD_CHECK_FAIL;
	return failed;
}

json_t *ward_doctor_json(const struct ward_check *checks, size_t n)
{
	json_t *a = json_array();
	size_t counts[4] = {0};

	for (size_t i = 0; a && i < n; i++) {
		counts[checks[i].status]++;
		json_array_append_new(
		    a, json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", checks[i].name, "status",
				 ward_check_status_name(checks[i].status), "value", checks[i].value,
				 "recommended", checks[i].recommended, "why", checks[i].why));
	}
	return json_pack("{s:o,s:I,s:I,s:I,s:I}", "checks", a, "ok", (json_int_t)counts[0], "warn",
			 (json_int_t)counts[1], "fail", (json_int_t)counts[2], "skip",
			 (json_int_t)counts[3]);
}
