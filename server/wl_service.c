/* The Workload API's answers from registration, issuer and CA; see
 * wl_service.h. */
#include "server/wl_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "spiffe/grpc.h"
#include "spiffe/workload_msg.h"

#define MAX_BUNDLE_CERTS 64
#define BUNDLE_MAX (1024 * 1024)

struct call {
	enum ward_wl_method method;
	size_t entries[WARD_WL_MAX_SVIDS]; /* matching entries, file order */
	size_t n;
	pid_t pid;
};

static void fail(struct ward_wl_status *st, int code, const char *why)
{
	st->code = code;
	snprintf(st->message, sizeof(st->message), "%s", why);
}

static void svc_open(void *arg, enum ward_wl_method method, const struct ward_attest_creds *creds,
		     void **out, struct ward_wl_status *st)
{
	struct ward_wl_service *svc = arg;
	struct ward_selectors sel;
	struct call *call;
	char why[WARD_WL_WHY_MAX];
	size_t total;

	*out = NULL;
	if (!creds)
		return fail(st, WARD_GRPC_PERMISSION_DENIED, "caller's credentials unavailable");
	if (ward_attest_selectors(creds, &svc->attest, &sel) < 0) {
		snprintf(why, sizeof(why), "workload attestation failed: %s", ward_err_msg());
		ward_log(WARD_LOG_WARN, "attestation_failed", "{s:i,s:s}", "pid", (int)creds->pid,
			 "reason", ward_err_msg());
		return fail(st, WARD_GRPC_INTERNAL, why);
	}
	call = calloc(1, sizeof(*call));
	if (!call) {
		ward_selectors_free(&sel);
		return fail(st, WARD_GRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	total = ward_registration_match(svc->reg, &sel, call->entries, WARD_WL_MAX_SVIDS);
	ward_selectors_free(&sel);
	call->n = total < WARD_WL_MAX_SVIDS ? total : WARD_WL_MAX_SVIDS;
	call->method = method;
	call->pid = creds->pid;
	ward_log(WARD_LOG_DEBUG, "workload_api_call", "{s:s,s:i,s:i,s:i}", "method",
		 method == WARD_WL_FETCH_X509_SVID ? "FetchX509SVID" : "FetchX509Bundles", "pid",
		 (int)creds->pid, "uid", (int)creds->uid, "entries", (int)total);
	if (call->n == 0) {
		free(call);
		return fail(st, WARD_GRPC_PERMISSION_DENIED, "no identity issued");
	}
	for (size_t i = 0; i < call->n; i++)
		ward_issuer_hold(svc->issuer, call->entries[i]);
	*out = call;
}

static void svc_close(void *arg, void *c)
{
	struct ward_wl_service *svc = arg;
	struct call *call = c;

	for (size_t i = 0; i < call->n; i++)
		ward_issuer_put(svc->issuer, call->entries[i]);
	free(call);
}

static struct ward_wl_bytes bytes(const void *p, size_t len)
{
	return (struct ward_wl_bytes){p, len};
}

static struct ward_wl_bytes text(const char *s)
{
	return bytes(s, s ? strlen(s) : 0);
}

/* The trust domain's bundle as the concatenated DER the messages carry. */
static int own_bundle(struct ward_wl_service *svc, struct ward_buf *out)
{
	struct ward_der certs[MAX_BUNDLE_CERTS];
	size_t n = ward_ca_manager_bundle(svc->ca, svc->now(), certs, MAX_BUNDLE_CERTS);

	for (size_t i = 0; i < n; i++)
		GUARD(ward_buf_append(out, certs[i].data, certs[i].len));
	return 0;
}

/* The federated bundles of the call's entries, each trust domain once. */
static size_t federated(const struct ward_wl_service *svc, const struct call *call,
			struct ward_wl_bundle *out, size_t max)
{
	size_t n = 0;

	for (size_t f = 0; f < svc->n_fed && n < max; f++) {
		const char *td = svc->fed[f].td_id + WARD_SPIFFE_SCHEME_LEN;
		bool wanted = false;

		for (size_t i = 0; i < call->n && !wanted; i++) {
			const struct ward_reg_entry *e = &svc->reg->entries[call->entries[i]];

			for (size_t j = 0; j < e->n_federates_with && !wanted; j++)
				wanted = !strcmp(e->federates_with[j], td);
		}
		if (wanted)
			out[n++] = (struct ward_wl_bundle){
			    text(svc->fed[f].td_id),
			    bytes(svc->fed[f].der.data, svc->fed[f].der.len)};
	}
	return n;
}

static int svid_response(struct ward_wl_service *svc, const struct call *call,
			 const struct ward_buf *bundle, struct ward_buf *msg)
{
	struct ward_wl_x509_svid_response r;
	const struct ward_issued *s;

	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < call->n; i++) {
		const struct ward_reg_entry *e = &svc->reg->entries[call->entries[i]];

		GUARD(ward_issuer_get(svc->issuer, call->entries[i], svc->ca, svc->now(), &s));
		r.svids[r.n_svids++] = (struct ward_wl_svid){
		    .spiffe_id = bytes(s->id.text, s->id.len),
		    .x509_svid = bytes(s->chain.data, s->chain.len),
		    .x509_svid_key = bytes(s->key_pkcs8.data, s->key_pkcs8.len),
		    .bundle = bytes(ward_buf_peek(bundle), ward_buf_len(bundle)),
		    .hint = text(e->hint),
		};
	}
	r.n_svids_total = r.n_svids;
	r.n_federated = federated(svc, call, r.federated, WARD_WL_MAX_BUNDLES);
	return ward_wl_x509_svid_response_encode(&r, msg);
}

static int bundles_response(struct ward_wl_service *svc, const struct call *call,
			    const struct ward_buf *bundle, struct ward_buf *msg)
{
	struct ward_wl_x509_bundles_response r;
	char td_id[WARD_SPIFFE_SCHEME_LEN + WARD_SPIFFE_TD_MAX + 1];

	memset(&r, 0, sizeof(r));
	snprintf(td_id, sizeof(td_id), WARD_SPIFFE_SCHEME "%s", svc->trust_domain);
	r.bundles[0] = (struct ward_wl_bundle){text(td_id),
					       bytes(ward_buf_peek(bundle), ward_buf_len(bundle))};
	r.n_bundles = 1 + federated(svc, call, r.bundles + 1, WARD_WL_MAX_BUNDLES - 1);
	return ward_wl_x509_bundles_response_encode(&r, msg);
}

static void svc_build(void *arg, void *c, struct ward_buf *msg, struct ward_wl_status *st)
{
	struct ward_wl_service *svc = arg;
	struct call *call = c;
	struct ward_buf bundle;
	int rc;

	ward_buf_init(&bundle, BUNDLE_MAX);
	rc = own_bundle(svc, &bundle);
	if (rc == 0)
		rc = call->method == WARD_WL_FETCH_X509_SVID
			 ? svid_response(svc, call, &bundle, msg)
			 : bundles_response(svc, call, &bundle, msg);
	ward_buf_drop(&bundle); /* certificates only: nothing secret */
	if (rc < 0) {
		ward_log(WARD_LOG_ERROR, "workload_api_failed", "{s:i,s:s}", "pid", (int)call->pid,
			 "reason", ward_err_msg());
		fail(st, WARD_GRPC_INTERNAL, "cannot issue the SVID now");
	}
}

const struct ward_wl_ops ward_wl_service_ops = {
    .open = svc_open,
    .build = svc_build,
    .close = svc_close,
};
