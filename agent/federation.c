#include "agent/federation.h"

#include <stdlib.h>
#include <string.h>

#include "certs/svid.h"
#include "spiffe/id.h"
#include "agent/tls_ctx.h"

bool ward_fed_supported(void)
{
#ifdef WOLFSSL_ALWAYS_VERIFY_CB
	return true;
#else
	return false;
#endif
}

static void domain_free(struct ward_fed_domain *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->der[i]);
	free(d->der);
	free(d->der_len);
	free(d->trust_domain);
}

void ward_fed_free(struct ward_fed *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_domains; i++)
		domain_free(&f->domains[i]);
	free(f->domains);
	free(f);
}

static int domain_copy(struct ward_fed_domain *d, const char *td, const struct ward_tls_der *certs,
		       size_t n)
{
	d->trust_domain = strdup(td);
	d->der = calloc(n ? n : 1, sizeof(*d->der));
	d->der_len = calloc(n ? n : 1, sizeof(*d->der_len));
	ENSURE(d->trust_domain && d->der && d->der_len, WARD_ERR_NOMEM, "federation");
	for (; d->n < n; d->n++) {
		d->der[d->n] = malloc(certs[d->n].len);
		ENSURE(d->der[d->n], WARD_ERR_NOMEM, "federation");
		memcpy(d->der[d->n], certs[d->n].data, certs[d->n].len);
		d->der_len[d->n] = certs[d->n].len;
	}
	return 0;
}

static int check_federated(const struct ward_fed *f, const struct ward_fed_bundle *b)
{
	GUARD(ward_spiffe_trust_domain_validate(b->trust_domain, strlen(b->trust_domain)));
	ENSURE(b->n_certs > 0, WARD_ERR_INVALID, "federated bundle of %s is empty",
	       b->trust_domain);
	ENSURE(!ward_fed_knows(f, b->trust_domain, strlen(b->trust_domain)), WARD_ERR_INVALID,
	       "trust domain %s given twice (or is our own)", b->trust_domain);
	return 0;
}

int ward_fed_new(const char *own_td, const struct ward_tls_der *own, size_t n_own,
		 const struct ward_fed_bundle *federated, size_t n_federated, struct ward_fed **out)
{
	struct ward_fed *f;
	int rc;

	ENSURE(n_federated == 0 || ward_fed_supported(), WARD_ERR_UNSUPPORTED,
	       "federated bundles need wolfSSL built with WOLFSSL_ALWAYS_VERIFY_CB (ward's own "
	       "build; not Debian's libwolfssl)");
	f = calloc(1, sizeof(*f));
	ENSURE(f, WARD_ERR_NOMEM, "federation");
	f->domains = calloc(1 + n_federated, sizeof(*f->domains));
	rc = f->domains ? domain_copy(&f->domains[0], own_td, own, n_own)
			: ward_err_set(WARD_ERR_NOMEM, "federation");
	f->n_domains = f->domains ? 1 : 0;
	for (size_t i = 0; rc == 0 && i < n_federated; i++) {
		rc = check_federated(f, &federated[i]);
		if (rc == 0)
			rc = domain_copy(&f->domains[f->n_domains++], federated[i].trust_domain,
					 federated[i].certs, federated[i].n_certs);
	}
	if (rc < 0) {
		ward_fed_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

bool ward_fed_knows(const struct ward_fed *f, const char *td, size_t td_len)
{
	for (size_t i = 0; f && i < f->n_domains; i++)
		if (strlen(f->domains[i].trust_domain) == td_len &&
		    !memcmp(f->domains[i].trust_domain, td, td_len))
			return true;
	return false;
}

static const struct ward_fed_domain *find(const struct ward_fed *f, const char *td, size_t len)
{
	for (size_t i = 0; i < f->n_domains; i++)
		if (strlen(f->domains[i].trust_domain) == len &&
		    !memcmp(f->domains[i].trust_domain, td, len))
			return &f->domains[i];
	return NULL;
}

/* Verifies the peer's chain link by link from the top, against only d's
 * anchors: each certificate must be signed by an anchor or by a certificate
 * already verified this way. */
static bool anchored_in(const struct ward_fed_domain *d, const WOLFSSL_BUFFER_INFO *certs, int n)
{
	WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
	bool ok = cm != NULL;

	for (size_t i = 0; ok && i < d->n; i++)
		ok = wolfSSL_CertManagerLoadCABuffer(cm, d->der[i], (long)d->der_len[i],
						     WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS;
	for (int i = n - 1; ok && i >= 0; i--) {
		ok = wolfSSL_CertManagerVerifyBuffer(cm, certs[i].buffer, (long)certs[i].length,
						     WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS;
		if (ok && i > 0)
			ok = wolfSSL_CertManagerLoadCABuffer(
				 cm, certs[i].buffer, (long)certs[i].length,
				 WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS;
	}
	if (cm)
		wolfSSL_CertManagerFree(cm);
	return ok;
}

/* Called by wolfSSL for the peer's leaf once its chain verified against the
 * union of all anchors (WOLFSSL_ALWAYS_VERIFY_CB), and on any failure. */
static int verify_binding(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	const struct ward_fed *f = store->userCtx;
	const struct ward_fed_domain *d;
	struct ward_spiffe_id id;
	const char *td;
	size_t td_len;

	if (!preverify || store->error_depth != 0)
		return preverify;
	if (!f || store->totalCerts < 1 ||
	    ward_svid_leaf_check(store->certs[0].buffer, store->certs[0].length, &id) < 0)
		return 0;
	td = ward_spiffe_id_trust_domain(&id, &td_len);
	d = find(f, td, td_len);
	return d && anchored_in(d, store->certs, store->totalCerts);
}

int ward_fed_install(const struct ward_fed *f, WOLFSSL_CTX *c)
{
	int rc;

	if (f->n_domains < 2)
		return 0;
	for (size_t i = 1; i < f->n_domains; i++)
		for (size_t j = 0; j < f->domains[i].n; j++) {
			rc = wolfSSL_CTX_load_verify_buffer(c, f->domains[i].der[j],
							    (long)f->domains[i].der_len[j],
							    WOLFSSL_FILETYPE_ASN1);
			ENSURE(rc == WOLFSSL_SUCCESS, WARD_ERR_TLS,
			       "federated bundle of %s: certificate %zu rejected (%s)",
			       f->domains[i].trust_domain, j,
			       wolfSSL_ERR_reason_error_string((unsigned long)rc));
		}
	wolfSSL_CTX_set_verify(c, WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			       verify_binding);
	wolfSSL_CTX_SetCertCbCtx(c, (void *)f);
	return 0;
}
