/* TLS cipher profiles: turns the config's tls.profile and its explicit
 * cipher_suites / groups / signature_algorithms lists (IANA and RFC 8446
 * names) into the strings and numbers wolfSSL takes, and maps what wolfSSL
 * negotiated back to IANA names for logs and metrics.
 *
 * ward speaks TLS 1.3 only, so every name is checked here: an unknown name,
 * a TLS 1.2 name, or an algorithm the "fips" profile does not allow is an
 * error naming the config key and the entry. */
#ifndef WARD_PROFILE_H
#define WARD_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

#define WARD_TLS_MAX_GROUPS 8

struct ward_tls_policy {
	/* For wolfSSL_CTX_set_cipher_list(): wolfSSL suite names joined by
	 * ':', e.g. "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384". */
	char cipher_list[256];
	/* For wolfSSL_CTX_set_groups(): WOLFSSL_ECC_X25519 etc., in order of
	 * preference (the first one gets the client's key share). */
	int groups[WARD_TLS_MAX_GROUPS];
	int n_groups;
	/* For wolfSSL_CTX_set1_sigalgs_list(): "ECDSA+SHA256:RSA-PSS+SHA256". */
	char sigalgs[256];
};

/* The names a user chose: a profile and explicit lists that override it. */
struct ward_tls_names {
	const char *profile; /* "modern" or "fips"; NULL = modern */
	char *const *cipher_suites;
	size_t n_cipher_suites;
	char *const *groups;
	size_t n_groups;
	char *const *signature_algorithms;
	size_t n_signature_algorithms;
};

/* Resolves names into *out; on error *out is untouched and the reason names
 * the config key, e.g. `tls.cipher_suites[1]: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
 * is a TLS 1.2 cipher suite; ward is TLS 1.3 only`. */
int ward_tls_policy_build(const struct ward_tls_names *names,
			  struct ward_tls_policy *out) WARD_MUST_CHECK;

/* wolfSSL_get_cipher_name() ("TLS13-AES128-GCM-SHA256") -> IANA name
 * ("TLS_AES_128_GCM_SHA256"). Unknown names come back unchanged; NULL gives
 * "none". */
const char *ward_tls_cipher_iana(const char *wolf_name);
/* A WOLFSSL_ECC_* / WOLFSSL_FFDHE_* group number -> IANA name ("x25519",
 * "secp256r1"); "unknown" if not known. */
const char *ward_tls_group_name(int wolf_group);
/* wolfSSL_get_curve_name() ("SECP256R1", "X25519") -> IANA name. Unknown
 * names come back unchanged; NULL gives "none". */
const char *ward_tls_group_iana(const char *wolf_curve_name);

#endif
