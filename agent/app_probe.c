/* Running the app's original probes for the kubelet; see app_probe.h. */
#include "agent/app_probe_impl.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "spiffe/grpc.h"
#include "spiffe/proto.h"

#define GRPC_RESPONSE_MAX 1024 /* HealthCheckResponse is a few bytes */
#define HEALTH_SERVING 1       /* HealthCheckResponse.ServingStatus */

/* One probe in flight: the kubelet's request waits on it. */
struct run {
	struct ward_list_node link; /* in p->running */
	struct ward_app_probes *p;
	const struct ward_app_probe_spec *spec;
	CURL *easy;			   /* owned */
	struct ward_http_pending *pending; /* the kubelet's request */
	struct curl_slist *grpc_headers;   /* owned */
	struct curl_slist *connect_to;	   /* owned: the pod's address, second try */
	struct ward_grpc_reader reader;	   /* grpc: the response message */
	long health;			   /* grpc: ServingStatus; -1 until read */
	bool at_pod_ip;			   /* the second try: the pod's address */
	uint64_t started_ms;
	char fail[128]; /* why we stopped reading ourselves */
	char curl_err[CURL_ERROR_SIZE];
};

static void answer(struct ward_http_response *r, int status, const char *why)
{
	if (ward_http_response_text(r, status, "%s", why) < 0)
		r->status = status; /* no body: still an answer */
}

static void run_free(struct run *run)
{
	curl_easy_cleanup(run->easy);
	curl_slist_free_all(run->grpc_headers);
	curl_slist_free_all(run->connect_to);
	ward_grpc_reader_free(&run->reader);
	free(run);
}

static void finish(struct run *run, int status, const char *why)
{
	struct ward_http_response r = {0};

	if (status != 200)
		ward_log(WARD_LOG_DEBUG, "app_probe_failed", "{s:s,s:s}", "path", run->spec->path,
			 "reason", why);
	answer(&r, status, why);
	ward_list_remove(&run->p->running, &run->link);
	ward_http_pending_reply(run->pending, &r);
	run_free(run);
}

/* --- what the app answered --- */

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* HealthCheckResponse { ServingStatus status = 1; } */
static int read_health(struct run *run, const uint8_t *msg, size_t len)
{
	struct ward_proto_reader pr;
	enum ward_proto_wire wire;
	uint32_t field;
	uint64_t v;

	ward_proto_reader_init(&pr, msg, len);
	run->health = 0; /* proto3: an absent field is UNKNOWN */
	while (!ward_proto_reader_done(&pr)) {
		GUARD(ward_proto_read_tag(&pr, &field, &wire));
		if (field != 1) {
			GUARD(ward_proto_skip(&pr, wire));
			continue;
		}
		GUARD(ward_proto_want_wire(wire, WARD_PROTO_VARINT));
		GUARD(ward_proto_read_varint(&pr, &v));
		run->health = v > 3 ? 0 : (long)v;
	}
	return 0;
}

static size_t on_grpc_body(char *data, size_t size, size_t n, void *arg)
{
	struct run *run = arg;
	const uint8_t *msg;
	size_t len;
	int rc = ward_grpc_reader_feed(&run->reader, (const uint8_t *)data, size * n);

	while (rc == 0 && (rc = ward_grpc_reader_next(&run->reader, &msg, &len)) == 0)
		rc = read_health(run, msg, len);
	if (rc != WARD_ERR_WOULDBLOCK) {
		snprintf(run->fail, sizeof(run->fail), "bad gRPC response: %s", ward_err_msg());
		return 0; /* aborts the transfer */
	}
	return size * n;
}

static int grpc_status_of(CURL *easy)
{
	struct curl_header *h;

	if (curl_easy_header(easy, "grpc-status", 0, CURLH_HEADER | CURLH_TRAILER, -1, &h) !=
	    CURLHE_OK)
		return -1;
	return ward_grpc_status_parse(h->value);
}

static const char *const health_names[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};

/* 0 when the probe succeeded, else why not in why. */
static int verdict(struct run *run, CURLcode res, char *why, size_t len)
{
	long code = 0, os_errno = 0;
	int grpc;

	curl_easy_getinfo(run->easy, CURLINFO_RESPONSE_CODE, &code);
	if (run->fail[0])
		snprintf(why, len, "%s", run->fail);
	else if (res == CURLE_OPERATION_TIMEDOUT)
		snprintf(why, len, "no answer from port %u within %ld ms", run->spec->port,
			 run->spec->timeout_ms);
	else if (res == CURLE_COULDNT_CONNECT) {
		curl_easy_getinfo(run->easy, CURLINFO_OS_ERRNO, &os_errno);
		snprintf(why, len, "cannot connect to 127.0.0.1:%u%s%s: %s", run->spec->port,
			 run->at_pod_ip ? " or " : "", run->at_pod_ip ? run->p->pod_ip : "",
			 os_errno ? strerror((int)os_errno) : curl_easy_strerror(res));
	} else if (res != CURLE_OK)
		snprintf(why, len, "%s",
			 run->curl_err[0] ? run->curl_err : curl_easy_strerror(res));
	else if (run->spec->kind == WARD_APP_PROBE_TCP)
		return 0;
	else if (run->spec->kind == WARD_APP_PROBE_HTTP && code >= 200 && code < 400)
		return 0;
	else if (run->spec->kind == WARD_APP_PROBE_HTTP || code != 200)
		snprintf(why, len, "HTTP status %ld", code);
	else if ((grpc = grpc_status_of(run->easy)) != WARD_GRPC_OK)
		snprintf(why, len, "grpc-status %s",
			 grpc < 0 ? "missing" : ward_grpc_status_name(grpc));
	else if (run->health != HEALTH_SERVING)
		snprintf(why, len, "health status %s",
			 run->health < 0 ? "missing" : health_names[run->health]);
	else
		return 0;
	return WARD_ERR_DENIED;
}

static bool retry_at_pod_ip(struct run *run);

static void on_done(CURL *easy, CURLcode res, void *arg)
{
	struct run *run = arg;
	char why[256];

	(void)easy;
	if (res == CURLE_COULDNT_CONNECT && !run->at_pod_ip && retry_at_pod_ip(run))
		return;
	if (verdict(run, res, why, sizeof(why)) == 0)
		finish(run, 200, "ok");
	else
		finish(run, 503, why);
}

/* --- starting a probe --- */

/* Refused on loopback: the app may listen on the pod's address only, where
 * the kubelet would have probed it (and where ward's inbound side reaches
 * it too). Same request, same deadline, connected there instead. */
static bool retry_at_pod_ip(struct run *run)
{
	struct ward_app_probes *p = run->p;
	uint64_t spent = uv_now(p->loop) - run->started_ms;
	char target[96];

	if (!p->pod_ip[0] || spent + 1 >= (uint64_t)run->spec->timeout_ms)
		return false;
	snprintf(target, sizeof(target), "127.0.0.1:%u:%s:%u", run->spec->port, p->pod_ip,
		 run->spec->port);
	curl_slist_free_all(run->connect_to);
	run->connect_to = curl_slist_append(NULL, target);
	if (!run->connect_to ||
	    curl_easy_setopt(run->easy, CURLOPT_CONNECT_TO, run->connect_to) != CURLE_OK ||
	    curl_easy_setopt(run->easy, CURLOPT_TIMEOUT_MS,
			     (long)(run->spec->timeout_ms - (long)spent)) != CURLE_OK)
		return false;
	run->at_pod_ip = true;
	run->fail[0] = run->curl_err[0] = '\0';
	return ward_curl_loop_add(p->curl, run->easy, on_done, run) == 0;
}

static int set_grpc(struct run *run, CURL *e)
{
	static const char *const lines[] = {"content-type: application/grpc", "te: trailers"};
	int rc = 0;

	for (size_t i = 0; i < 2; i++) {
		struct curl_slist *next = curl_slist_append(run->grpc_headers, lines[i]);

		if (!next)
			return CURLE_OUT_OF_MEMORY;
		run->grpc_headers = next;
	}
	rc |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, run->grpc_headers);
	rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)run->spec->grpc_req);
	rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)run->spec->grpc_req_len);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_grpc_body);
	return rc;
}

static int set_options(struct run *run, CURL *e)
{
	const struct ward_app_probe_spec *s = run->spec;
	int rc = 0;

	rc |= curl_easy_setopt(e, CURLOPT_URL, s->url);
	/* A connection of its own, closed after it, as the kubelet probes (and
	 * libcurl 7.88 fails requests on a reused prior-knowledge HTTP/2
	 * connection, curl issue 10634: a second grpc probe would fail). */
	rc |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, s->timeout_ms);
	rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, run->curl_err);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, run);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	switch (s->kind) {
	case WARD_APP_PROBE_TCP:
		rc |= curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
		break;
	case WARD_APP_PROBE_HTTP:
		/* As the kubelet: its User-Agent unless the probe sets one, no
		 * certificate checks, redirects not followed (a 3xx passes). */
		rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "kube-probe/ward");
		rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
		rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
		break;
	case WARD_APP_PROBE_GRPC:
		rc |= set_grpc(run, e);
		break;
	}
	ENSURE(rc == 0, WARD_ERR_UNSUPPORTED, "app probe: libcurl refused an option");
	return 0;
}

static int start_run(struct ward_app_probes *p, const struct ward_app_probe_spec *s,
		     struct ward_http_server *srv, const struct ward_http_request *req)
{
	struct run *run = calloc(1, sizeof(*run));

	ENSURE(run, WARD_ERR_NOMEM, "out of memory");
	*run = (struct run){.p = p, .spec = s, .health = -1, .started_ms = uv_now(p->loop)};
	ward_grpc_reader_init(&run->reader, GRPC_RESPONSE_MAX);
	run->easy = curl_easy_init();
	if (!run->easy || set_options(run, run->easy) < 0 ||
	    ward_curl_loop_add(p->curl, run->easy, on_done, run) < 0) {
		run_free(run);
		return ward_err_set(WARD_ERR_UNSUPPORTED, "cannot start the probe");
	}
	run->pending = ward_http_defer(srv, req);
	if (!run->pending) {
		ward_curl_loop_remove(p->curl, run->easy);
		run_free(run);
		return ward_err_set(WARD_ERR_NOMEM, "cannot hold the request");
	}
	ward_list_add(&p->running, &run->link);
	return 0;
}

bool ward_app_probes_serve(struct ward_app_probes *p, struct ward_http_server *srv,
			   const struct ward_http_request *req, struct ward_http_response *r)
{
	const size_t pre = strlen(WARD_APP_PROBE_PREFIX);
	const struct ward_app_probe_spec *s;

	if (req->path.len < pre || memcmp(req->path.p, WARD_APP_PROBE_PREFIX, pre))
		return false;
	if (!(s = ward_app_probes_find(p, req->path.p, req->path.len)))
		answer(r, 404, "no such app probe (see " WARD_APP_PROBES_ENV ")");
	else if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
		answer(r, 405, "use GET");
		r->allow = "GET, HEAD";
	} else if (!p->curl)
		answer(r, 503, "app probes not started");
	else if (p->running.n >= WARD_APP_PROBE_MAX_INFLIGHT)
		answer(r, 503, "too many app probes in flight");
	else if (start_run(p, s, srv, req) < 0)
		answer(r, 503, ward_err_msg());
	return true;
}

/* The pod's own address: its first interface up that is not loopback, IPv4
 * first (as the kubelet's podIP); an IPv6 one in brackets for a URL host. */
static void find_pod_ip(char *out, size_t len)
{
	struct ifaddrs *all, *i;
	char text[INET6_ADDRSTRLEN];

	out[0] = '\0';
	if (getifaddrs(&all) < 0)
		return;
	for (int family = AF_INET; !out[0]; family = AF_INET6) {
		for (i = all; i && !out[0]; i = i->ifa_next) {
			const void *a;

			if (!i->ifa_addr || i->ifa_addr->sa_family != family ||
			    (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
				continue;
			a = family == AF_INET
				? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
				: (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			if (family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)a))
				continue;
			if (inet_ntop(family, a, text, sizeof(text)))
				snprintf(out, len, family == AF_INET ? "%s" : "[%s]", text);
		}
		if (family == AF_INET6)
			break;
	}
	freeifaddrs(all);
}

int ward_app_probes_start(struct ward_app_probes *p, uv_loop_t *loop)
{
	if (!p->n || p->curl)
		return 0;
	p->loop = loop;
	find_pod_ip(p->pod_ip, sizeof(p->pod_ip));
	return ward_curl_loop_new(loop, &p->curl);
}

void ward_app_probes_free(struct ward_app_probes *p)
{
	struct ward_list_node *n, *tmp;

	if (!p)
		return;
	ward_list_each(&p->running, n, tmp)
	{
		struct run *run = ward_list_entry(n, struct run, link);

		ward_curl_loop_remove(p->curl, run->easy);
		finish(run, 503, "shutting down");
	}
	ward_curl_loop_free(p->curl);
	ward_app_probes_specs_free(p);
	free(p);
}
