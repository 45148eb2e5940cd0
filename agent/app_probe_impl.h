/* Shared between the files of the app prober; not a public contract. */
#ifndef WARD_AGENT_APP_PROBE_IMPL_H
#define WARD_AGENT_APP_PROBE_IMPL_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/app_probe.h"
#include "lib/curl_loop.h"
#include "lib/list.h"

enum ward_app_probe_kind { WARD_APP_PROBE_HTTP, WARD_APP_PROBE_TCP, WARD_APP_PROBE_GRPC };

/* One original probe, ready for libcurl. */
struct ward_app_probe_spec {
	char *path; /* "/app-health/web/readiness", owned */
	enum ward_app_probe_kind kind;
	unsigned port;
	char *url;		    /* owned: http(s)://127.0.0.1:PORT/... */
	struct curl_slist *headers; /* owned: the probe's httpHeaders */
	uint8_t *grpc_req;	    /* owned: the framed HealthCheckRequest */
	size_t grpc_req_len;
	long timeout_ms;
};

struct ward_app_probes {
	struct ward_app_probe_spec specs[WARD_APP_PROBE_MAX];
	unsigned n;
	uv_loop_t *loop;	     /* NULL until started */
	struct ward_curl_loop *curl; /* owned; NULL until started */
	struct ward_list running;    /* probes in flight */
	char pod_ip[48];	     /* the pod's address ("" if none): the second try */
};

/* The spec whose path is path[0..len), or NULL. */
const struct ward_app_probe_spec *ward_app_probes_find(const struct ward_app_probes *p,
						       const char *path, size_t len);
void ward_app_probes_specs_free(struct ward_app_probes *p);

#endif
