#include "agent/wlidentity.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "lib/log.h"
#include "agent/metrics.h"
#include "spiffe/wlclient.h"

/* An SVID chain is a leaf and a few intermediates; a bundle may hold many
 * CAs during overlapping rotations. */
#define MAX_CHAIN 16
#define MAX_BUNDLE 256

struct ward_wlidentity {
	uv_loop_t *loop;
	const struct ward_config *cfg;	      /* borrowed */
	const struct ward_tls_policy *policy; /* borrowed */
	ward_identity_cb on_update;
	void *arg;
	struct ward_wlclient *client; /* owned */
	uv_timer_t expiry;	      /* drops the identity when the SVID expires */
	bool have;		      /* an identity is installed */
	uint8_t bundle_digest[32];    /* of the bundles it was built with */
	bool warned_federation;
	uint8_t digest[32]; /* of the message fields it was built from */
	char spiffe_id[WARD_SPIFFE_ID_MAX + 1];
	time_t not_after;
	bool stopping;
};

static int split(const struct ward_wl_bytes *in, struct ward_tls_der *out, size_t max, size_t *n,
		 const char *what)
{
	struct ward_wl_bytes parts[MAX_BUNDLE];
	int rc = ward_wl_der_split(in->data, in->len, parts, max, n);

	if (rc < 0)
		return ward_err_prefix(rc, "%s", what);
	for (size_t i = 0; i < *n; i++)
		out[i] = (struct ward_tls_der){parts[i].data, parts[i].len};
	return 0;
}

/* Federated bundles as SPIRE keys them ("spiffe://td", or a bare "td"). */
struct federated {
	struct ward_fed_bundle b[WARD_WL_MAX_BUNDLES];
	char td[WARD_WL_MAX_BUNDLES][256];
	struct ward_tls_der *certs; /* owned: every domain's certificates */
	size_t n;
};

static int federated_split(const struct ward_wl_bundle *in, size_t n_in, struct federated *f)
{
	size_t used = 0, n;

	f->certs = calloc(n_in * MAX_BUNDLE + 1, sizeof(*f->certs));
	ENSURE(f->certs, WARD_ERR_NOMEM, "federated bundles");
	for (f->n = 0; f->n < n_in; f->n++) {
		const struct ward_wl_bytes *key = &in[f->n].trust_domain;
		size_t skip = key->len > 9 && !memcmp(key->data, "spiffe://", 9) ? 9 : 0;

		ENSURE(key->len - skip < sizeof(f->td[0]), WARD_ERR_INVALID,
		       "federated_bundles: trust domain name too long");
		memcpy(f->td[f->n], key->data + skip, key->len - skip);
		f->td[f->n][key->len - skip] = '\0';
		if (split(&in[f->n].bundle, f->certs + used, MAX_BUNDLE, &n, "federated bundle") <
		    0)
			return ward_err_prefix(WARD_ERR_INVALID, "%s", f->td[f->n]);
		f->b[f->n] = (struct ward_fed_bundle){f->td[f->n], f->certs + used, n};
		used += n;
	}
	return 0;
}

int ward_wlidentity_build(const struct ward_wl_svid *svid, const struct ward_wl_bundle *federated,
			  size_t n_federated, const struct ward_config *cfg,
			  const struct ward_tls_policy *policy, struct ward_tls_ctx **out)
{
	struct ward_tls_der chain[MAX_CHAIN], bundle[MAX_BUNDLE];
	struct ward_tls_material m = {.chain = chain, .bundle = bundle};
	struct federated *fed = NULL;
	struct ward_tls_ctx *ctx;
	int rc;

	ENSURE(svid->x509_svid.len > 0, WARD_ERR_INVALID, "x509_svid is empty");
	ENSURE(svid->x509_svid_key.len > 0, WARD_ERR_INVALID, "x509_svid_key is empty");
	ENSURE(svid->bundle.len > 0, WARD_ERR_INVALID, "bundle is empty");
	GUARD(split(&svid->x509_svid, chain, MAX_CHAIN, &m.n_chain, "x509_svid"));
	GUARD(split(&svid->bundle, bundle, MAX_BUNDLE, &m.n_bundle, "bundle"));
	m.key = (struct ward_tls_der){svid->x509_svid_key.data, svid->x509_svid_key.len};
	if (n_federated > 0) {
		fed = calloc(1, sizeof(*fed));
		rc = fed ? federated_split(federated, n_federated, fed)
			 : ward_err_set(WARD_ERR_NOMEM, "federated bundles");
		m.federated = fed ? fed->b : NULL;
		m.n_federated = fed ? fed->n : 0;
	} else {
		rc = 0;
	}
	if (rc == 0)
		rc = ward_tls_ctx_new(&m, policy, cfg->trust_domain, &ctx);
	if (fed)
		free(fed->certs);
	free(fed);
	GUARD(rc);
	/* The spiffe_id field is informational; the certificate is the truth,
	 * and the two disagreeing means a confused server. */
	if (svid->spiffe_id.len != strlen(ctx->spiffe_id) ||
	    memcmp(svid->spiffe_id.data, ctx->spiffe_id, svid->spiffe_id.len)) {
		rc = ward_err_set(WARD_ERR_INVALID,
				  "spiffe_id \"%.*s\" does not match the certificate's %s",
				  (int)(svid->spiffe_id.len > 256 ? 256 : svid->spiffe_id.len),
				  (const char *)svid->spiffe_id.data, ctx->spiffe_id);
		ward_tls_ctx_put(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

static void digest_bytes(wc_Sha256 *sha, const struct ward_wl_bytes *b)
{
	uint64_t len = b->len; /* framed, so that fields cannot run into each other */

	wc_Sha256Update(sha, (const uint8_t *)&len, sizeof(len));
	if (b->len)
		wc_Sha256Update(sha, b->data, (word32)b->len);
}

/* Two digests, so that a push is recognised as unchanged, and a change is
 * counted as an SVID rotation and/or a bundle update. */
static void digest_response(const struct ward_wl_x509_svid_response *r, size_t n_federated,
			    uint8_t svid[32], uint8_t bundles[32])
{
	const struct ward_wl_svid *s = &r->svids[0];
	wc_Sha256 sha;

	wc_InitSha256(&sha);
	digest_bytes(&sha, &s->spiffe_id);
	digest_bytes(&sha, &s->x509_svid);
	digest_bytes(&sha, &s->x509_svid_key);
	wc_Sha256Final(&sha, svid);
	wc_Sha256Free(&sha);
	wc_InitSha256(&sha);
	digest_bytes(&sha, &s->bundle);
	for (size_t i = 0; i < n_federated; i++) {
		digest_bytes(&sha, &r->federated[i].trust_domain);
		digest_bytes(&sha, &r->federated[i].bundle);
	}
	wc_Sha256Final(&sha, bundles);
	wc_Sha256Free(&sha);
}

static void drop(struct ward_wlidentity *id, const char *event, const char *why)
{
	if (!id->have)
		return;
	ward_log(WARD_LOG_ERROR, event, "{s:s,s:s,s:s}", "spiffe_id", id->spiffe_id, "reason", why,
		 "action", "refusing mesh traffic until a new SVID arrives");
	id->have = false;
	memset(id->digest, 0, sizeof(id->digest));
	memset(id->bundle_digest, 0, sizeof(id->bundle_digest));
	uv_timer_stop(&id->expiry);
	id->on_update(NULL, id->arg);
}

static void on_expiry(uv_timer_t *t)
{
	struct ward_wlidentity *id = t->data;

	drop(id, "svid_expired", "the SVID expired and the Workload API sent no new one");
}

static void install(struct ward_wlidentity *id, struct ward_tls_ctx *ctx, const uint8_t digest[32],
		    const uint8_t bundle_digest[32])
{
	time_t now = time(NULL);
	uint64_t left_ms = ctx->not_after > now ? (uint64_t)(ctx->not_after - now) * 1000 : 0;

	ward_log(WARD_LOG_INFO, id->have ? "identity_rotated" : "identity_loaded",
		 "{s:s,s:s,s:s,s:I,s:I,s:I}", "source", "workload_api", "spiffe_id", ctx->spiffe_id,
		 "serial", ctx->serial, "not_after", (json_int_t)ctx->not_after, "generation",
		 (json_int_t)ctx->generation, "federated_domains",
		 (json_int_t)(ctx->fed ? ctx->fed->n_domains - 1 : 0));
	if (id->have && memcmp(digest, id->digest, 32))
		ward_metrics_identity_rotated();
	if (id->have && memcmp(bundle_digest, id->bundle_digest, 32))
		ward_metrics_bundle_updated();
	id->have = true;
	memcpy(id->digest, digest, 32);
	memcpy(id->bundle_digest, bundle_digest, 32);
	snprintf(id->spiffe_id, sizeof(id->spiffe_id), "%s", ctx->spiffe_id);
	id->not_after = ctx->not_after;
	uv_timer_start(&id->expiry, on_expiry, left_ms + 1000, 0);
	id->on_update(ctx, id->arg);
}

static void on_response(const struct ward_wl_x509_svid_response *r, void *arg)
{
	struct ward_wlidentity *id = arg;
	size_t n_federated = r->n_federated;
	struct ward_tls_ctx *ctx;
	uint8_t digest[32], bundle_digest[32];

	if (r->n_svids == 0) {
		drop(id, "identity_redacted", "the Workload API withdrew our SVID");
		return;
	}
	if (n_federated > 0 && !ward_fed_supported()) {
		/* Trusting a foreign CA without binding it to its domain would let
		 * it mint our IDs; serving our own domain is still safe. */
		if (!id->warned_federation)
			ward_log(
			    WARD_LOG_WARN, "federated_bundles_ignored", "{s:I,s:s}", "count",
			    (json_int_t)n_federated, "reason",
			    "this wolfSSL build cannot bind a peer's chain to its trust domain");
		id->warned_federation = true;
		n_federated = 0;
	}
	digest_response(r, n_federated, digest, bundle_digest);
	if (id->have && !memcmp(digest, id->digest, sizeof(digest)) &&
	    !memcmp(bundle_digest, id->bundle_digest, sizeof(bundle_digest)))
		return;
	if (ward_wlidentity_build(&r->svids[0], r->federated, n_federated, id->cfg, id->policy,
				  &ctx) < 0) {
		ward_log(WARD_LOG_WARN, "workload_api_update_rejected", "{s:s,s:s}", "reason",
			 ward_err_msg(), "action",
			 id->have ? "keeping the current identity" : "still without an identity");
		return;
	}
	install(id, ctx, digest, bundle_digest);
	ward_tls_ctx_put(ctx);
}

static void on_bad_message(const char *reason, void *arg)
{
	struct ward_wlidentity *id = arg;

	ward_log(WARD_LOG_WARN, "workload_api_update_rejected", "{s:s,s:s}", "reason", reason,
		 "action", id->have ? "keeping the current identity" : "still without an identity");
}

static void on_error(const struct ward_wlclient_error *e, void *arg)
{
	struct ward_wlidentity *id = arg;
	time_t now = time(NULL);

	ward_metrics_workload_api_error(e->code);
	ward_metrics_workload_api_connected(false);
	ward_log(e->retrying ? WARD_LOG_WARN : WARD_LOG_ERROR, "workload_api_error",
		 "{s:s,s:s,s:i,s:s,s:b,s:i,s:I}", "endpoint", id->cfg->identity.workload_api,
		 "code", e->code, "grpc_status", e->grpc_status, "message", e->message, "retrying",
		 e->retrying, "retry_in_ms", (int)e->retry_in_ms, "identity_expires_in_s",
		 (json_int_t)(id->have && id->not_after > now ? id->not_after - now : 0));
}

static void on_connected(void *arg)
{
	struct ward_wlidentity *id = arg;

	ward_metrics_workload_api_connected(true);
	ward_log(WARD_LOG_INFO, "workload_api_connected", "{s:s}", "endpoint",
		 id->cfg->identity.workload_api);
}

int ward_wlidentity_start(uv_loop_t *loop, const struct ward_config *cfg,
			  const struct ward_tls_policy *policy, ward_identity_cb on_update,
			  void *arg, struct ward_wlidentity **out)
{
	static const struct ward_wlclient_callbacks cb = {.on_response = on_response,
							  .on_bad_message = on_bad_message,
							  .on_error = on_error,
							  .on_connected = on_connected};
	struct ward_wlidentity *id = calloc(1, sizeof(*id));
	int rc;

	ENSURE(id, WARD_ERR_NOMEM, "workload api identity");
	*id = (struct ward_wlidentity){
	    .loop = loop, .cfg = cfg, .policy = policy, .on_update = on_update, .arg = arg};
	rc = ward_wlclient_start(loop, cfg->identity.workload_api, &cb, id, &id->client);
	if (rc < 0) {
		free(id);
		return rc;
	}
	uv_timer_init(loop, &id->expiry);
	id->expiry.data = id;
	*out = id;
	return 0;
}

void ward_wlidentity_restart(struct ward_wlidentity *id)
{
	ward_wlclient_restart(id->client);
}

static void on_closed(uv_handle_t *h)
{
	free(h->data);
}

void ward_wlidentity_stop(struct ward_wlidentity *id)
{
	if (!id || id->stopping)
		return;
	id->stopping = true;
	ward_wlclient_stop(id->client);
	uv_close((uv_handle_t *)&id->expiry, on_closed);
}

struct fetch_once {
	struct ward_tls_ctx *tls;
	bool timed_out;
};

static void on_fetched(struct ward_tls_ctx *ctx, void *arg)
{
	struct fetch_once *f = arg;

	if (ctx && !f->tls)
		f->tls = ward_tls_ctx_get(ctx);
}

static void on_fetch_timeout(uv_timer_t *t)
{
	struct fetch_once *f = t->data;

	f->timed_out = true;
}

int ward_wlidentity_fetch_once(const struct ward_config *cfg, const struct ward_tls_policy *policy,
			       unsigned timeout_ms, struct ward_tls_ctx **out)
{
	struct fetch_once f = {0};
	struct ward_wlidentity *id;
	uv_timer_t timeout;
	uv_loop_t loop;
	int rc;

	ENSURE(uv_loop_init(&loop) == 0, WARD_ERR_IO, "workload api: event loop");
	rc = ward_wlidentity_start(&loop, cfg, policy, on_fetched, &f, &id);
	if (rc == 0) {
		uv_timer_init(&loop, &timeout);
		timeout.data = &f;
		uv_timer_start(&timeout, on_fetch_timeout, timeout_ms, 0);
		while (!f.tls && !f.timed_out)
			uv_run(&loop, UV_RUN_ONCE);
		uv_close((uv_handle_t *)&timeout, NULL);
		ward_wlidentity_stop(id);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	GUARD(rc);
	ENSURE(f.tls, WARD_ERR_NOTFOUND, "no usable SVID from the Workload API at %s within %u ms",
	       cfg->identity.workload_api, timeout_ms);
	*out = f.tls;
	return 0;
}
