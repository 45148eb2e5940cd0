/* The SVID's TLS context: see tls_ctx.h. */
#include "agent/tls_ctx.h"

#include <stdlib.h>
#include <string.h>

#include "certs/svid.h"
#include "spiffe/id.h"

static atomic_ullong next_generation = 1;

static int load_identity(WOLFSSL_CTX *c, const struct ward_tls_material *m, const uint8_t *chain,
			 size_t chain_len)
{
	int rc;

	rc = wolfSSL_CTX_use_certificate_chain_buffer_format(c, chain, (long)chain_len,
							     WOLFSSL_FILETYPE_ASN1);
	ENSURE(rc == WOLFSSL_SUCCESS, WARD_ERR_TLS, "identity: certificate chain rejected (%s)",
	       wolfSSL_ERR_reason_error_string((unsigned long)rc));
	rc = wolfSSL_CTX_use_PrivateKey_buffer(c, m->key.data, (long)m->key.len,
					       WOLFSSL_FILETYPE_ASN1);
	ENSURE(rc == WOLFSSL_SUCCESS, WARD_ERR_TLS, "identity: private key rejected (%s)",
	       wolfSSL_ERR_reason_error_string((unsigned long)rc));
	ENSURE(wolfSSL_CTX_check_private_key(c) == WOLFSSL_SUCCESS, WARD_ERR_TLS,
	       "identity: private key does not match the certificate");
	for (size_t i = 0; i < m->n_bundle; i++) {
		rc = wolfSSL_CTX_load_verify_buffer(c, m->bundle[i].data, (long)m->bundle[i].len,
						    WOLFSSL_FILETYPE_ASN1);
		ENSURE(rc == WOLFSSL_SUCCESS, WARD_ERR_TLS,
		       "identity: bundle certificate %zu rejected (%s)", i,
		       wolfSSL_ERR_reason_error_string((unsigned long)rc));
	}
	return 0;
}

static int make_side(WOLFSSL_METHOD *method, const struct ward_tls_material *m,
		     const struct ward_tls_policy *p, const struct ward_fed *fed,
		     const uint8_t *chain, size_t chain_len, WOLFSSL_CTX **out)
{
	WOLFSSL_CTX *c;
	int rc;

	ENSURE(method, WARD_ERR_NOMEM, "tls: no TLS 1.3 method");
	c = wolfSSL_CTX_new(method);
	ENSURE(c, WARD_ERR_NOMEM, "tls: wolfSSL_CTX_new failed");
	/* TLS 1.3 only (the method already pins it); a peer offering less is refused
	 * with protocol_version (RFC 8446 §4.2.1). Mutual: the server requires a
	 * client certificate; neither side checks a hostname, identity is the
	 * SPIFFE ID checked after the chain (X509-SVID §5). */
	wolfSSL_CTX_set_verify(c, WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* Tickets would outlive an SVID rotation; until resumption is tied to the
	 * SVID's lifetime every handshake is a full one. */
	wolfSSL_CTX_no_ticket_TLSv13(c);
	rc = ward_tls_policy_apply(c, p);
	if (rc == 0)
		rc = load_identity(c, m, chain, chain_len);
	if (rc == 0)
		rc = ward_fed_install(fed, c);
	if (rc < 0) {
		wolfSSL_CTX_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int concat_chain(const struct ward_tls_material *m, uint8_t **out, size_t *out_len)
{
	size_t total = 0, off = 0;
	uint8_t *p;

	ENSURE(m->n_chain > 0, WARD_ERR_INVALID, "identity: empty certificate chain");
	for (size_t i = 0; i < m->n_chain; i++)
		total += m->chain[i].len;
	p = malloc(total);
	ENSURE(p, WARD_ERR_NOMEM, "identity: chain of %zu bytes", total);
	for (size_t i = 0; i < m->n_chain; i++) {
		memcpy(p + off, m->chain[i].data, m->chain[i].len);
		off += m->chain[i].len;
	}
	*out = p;
	*out_len = total;
	return 0;
}

static int describe_leaf(struct ward_tls_ctx *t, const struct ward_tls_der *leaf,
			 const char *trust_domain)
{
	struct ward_spiffe_id id;
	struct ward_svid_info info;
	size_t td_len;
	const char *td;

	GUARD(ward_svid_leaf_check(leaf->data, leaf->len, &id));
	GUARD(ward_svid_info(leaf->data, leaf->len, &info));
	ENSURE(ward_spiffe_id_member_of(&id, trust_domain, strlen(trust_domain)), WARD_ERR_INVALID,
	       "identity: SVID %s is not in trust domain %s", id.text, trust_domain);
	td = ward_spiffe_id_trust_domain(&id, &td_len);
	snprintf(t->spiffe_id, sizeof(t->spiffe_id), "%s", id.text);
	snprintf(t->trust_domain, sizeof(t->trust_domain), "%.*s", (int)td_len, td);
	snprintf(t->serial, sizeof(t->serial), "%s", info.serial_hex);
	t->not_before = info.not_before;
	t->not_after = info.not_after;
	return 0;
}

/* Before a context serves traffic it must complete an mTLS handshake with
 * itself, in memory. This proves what no single library check does on every
 * wolfSSL build: the key matches the certificate, the chain verifies against
 * our own bundle, and the SVID is within its validity period. */
static int self_check(struct ward_tls_ctx *t)
{
	struct ward_tls_session client = {0}, server = {0};
	int cerr = 0, serr = 0, rc;

	rc = ward_tls_ctx_session(t, WARD_TLS_CLIENT, &client);
	if (rc == 0)
		rc = ward_tls_ctx_session(t, WARD_TLS_SERVER, &server);
	if (rc == 0 && ward_tls_session_pair(&client, &server, &cerr, &serr) < 0) {
		const char *why = serr ? ward_tls_failure_reason(server.ssl, serr)
				       : ward_tls_failure_reason(client.ssl, cerr);

		rc = ward_err_set(WARD_ERR_TLS,
				  "identity: self-check handshake failed (%s): the key must match "
				  "the certificate, the chain must verify against the bundle, and "
				  "the SVID must be valid now",
				  why);
	}
	ward_tls_session_close(&client);
	ward_tls_session_close(&server);
	return rc;
}

static int summarize(const struct ward_tls_der *certs, size_t n, struct ward_tls_cert_summary **out,
		     size_t *n_out)
{
	struct ward_tls_cert_summary *s = calloc(n, sizeof(*s));
	struct ward_svid_info info;

	ENSURE(s, WARD_ERR_NOMEM, "certificate summaries");
	for (size_t i = 0; i < n; i++) {
		if (ward_svid_info(certs[i].data, certs[i].len, &info) < 0) {
			free(s);
			return ward_err_prefix(WARD_ERR_INVALID, "certificate %zu", i);
		}
		snprintf(s[i].subject, sizeof(s[i].subject), "%s", info.subject);
		snprintf(s[i].issuer, sizeof(s[i].issuer), "%s", info.issuer);
		snprintf(s[i].serial, sizeof(s[i].serial), "%s", info.serial_hex);
		s[i].not_before = info.not_before;
		s[i].not_after = info.not_after;
	}
	*out = s;
	*n_out = n;
	return 0;
}

int ward_tls_ctx_new(const struct ward_tls_material *m, const struct ward_tls_policy *policy,
		     const char *trust_domain, struct ward_tls_ctx **out)
{
	struct ward_tls_ctx *t;
	uint8_t *chain = NULL;
	size_t chain_len = 0;
	int rc;

	ENSURE(m->n_bundle > 0, WARD_ERR_INVALID, "identity: empty trust bundle");
	t = calloc(1, sizeof(*t));
	ENSURE(t, WARD_ERR_NOMEM, "tls context");
	atomic_init(&t->refs, 1);
	t->policy = *policy;
	rc = describe_leaf(t, &m->chain[0], trust_domain);
	if (rc == 0)
		rc = concat_chain(m, &chain, &chain_len);
	if (rc == 0)
		rc = ward_fed_new(t->trust_domain, m->bundle, m->n_bundle, m->federated,
				  m->n_federated, &t->fed);
	if (rc == 0)
		rc = make_side(wolfTLSv1_3_server_method(), m, policy, t->fed, chain, chain_len,
			       &t->server);
	if (rc == 0)
		rc = make_side(wolfTLSv1_3_client_method(), m, policy, t->fed, chain, chain_len,
			       &t->client);
	if (rc == 0)
		rc = self_check(t);
	if (rc == 0)
		rc = summarize(m->chain, m->n_chain, &t->chain_info, &t->n_chain_info);
	if (rc == 0)
		rc = summarize(m->bundle, m->n_bundle, &t->bundle_info, &t->n_bundle_info);
	free(chain);
	if (rc < 0) {
		ward_tls_ctx_put(t);
		return rc;
	}
	t->generation = atomic_fetch_add(&next_generation, 1);
	*out = t;
	return 0;
}

struct ward_tls_ctx *ward_tls_ctx_get(struct ward_tls_ctx *ctx)
{
	if (ctx)
		atomic_fetch_add(&ctx->refs, 1);
	return ctx;
}

void ward_tls_ctx_put(struct ward_tls_ctx *ctx)
{
	if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1)
		return;
	if (ctx->server)
		wolfSSL_CTX_free(ctx->server);
	if (ctx->client)
		wolfSSL_CTX_free(ctx->client);
	ward_fed_free(ctx->fed); /* after the contexts whose callback reads it */
	free(ctx->chain_info);
	free(ctx->bundle_info);
	free(ctx);
}

int ward_tls_ctx_session(struct ward_tls_ctx *ctx, enum ward_tls_role role,
			 struct ward_tls_session *out)
{
	int rc;

	if (role == WARD_TLS_SERVER)
		return ward_tls_session_open(out, ctx->server);
	GUARD(ward_tls_session_open(out, ctx->client));
	rc = ward_tls_policy_key_shares(out->ssl, &ctx->policy);
	if (rc < 0)
		ward_tls_session_close(out);
	return rc;
}

int ward_tls_ctx_peer_id(WOLFSSL *ssl, const struct ward_tls_ctx *ctx, char *id, size_t id_len)
{
	const char *td;
	size_t td_len;
	WOLFSSL_X509 *leaf = wolfSSL_get_peer_certificate(ssl);
	struct ward_spiffe_id peer;
	const unsigned char *der;
	int der_len = 0, rc;

	ENSURE(leaf, WARD_ERR_DENIED, "peer presented no certificate");
	der = wolfSSL_X509_get_der(leaf, &der_len);
	rc = der && der_len > 0 ? ward_svid_leaf_check(der, (size_t)der_len, &peer)
				: ward_err_set(WARD_ERR_DENIED, "peer certificate unavailable");
	wolfSSL_X509_free(leaf);
	GUARD(rc);
	/* A leaf naming a trust domain we hold no bundle for is an identity none
	 * of our anchors has authority over (X509-SVID §5.2). */
	td = ward_spiffe_id_trust_domain(&peer, &td_len);
	ENSURE(ward_fed_knows(ctx->fed, td, td_len), WARD_ERR_DENIED,
	       "peer %s is not in trust domain %s or one it federates with", peer.text,
	       ctx->trust_domain);
	snprintf(id, id_len, "%s", peer.text);
	return 0;
}
