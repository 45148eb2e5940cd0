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
#define WARD_TLS_MAX_KEY_SHARES 2

/* The hybrid post-quantum groups (draft-ietf-tls-ecdhe-mlkem): an ECDH share
 * and an ML-KEM (FIPS 203) encapsulation in one key share. These are their
 * IANA code points, which wolfSSL uses as its group numbers too
 * (WOLFSSL_X25519MLKEM768 etc., in builds that have them). */
#define WARD_TLS_SECP256R1MLKEM768 0x11EB
#define WARD_TLS_X25519MLKEM768 0x11EC
#define WARD_TLS_SECP384R1MLKEM1024 0x11ED

struct ward_tls_policy {
	/* For wolfSSL_CTX_set_cipher_list(): wolfSSL suite names joined by
	 * ':', e.g. "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384". */
	char cipher_list[256];
	/* For wolfSSL_CTX_set_groups(): WOLFSSL_ECC_X25519 etc., in order of
	 * preference; only groups the linked wolfSSL has. */
	int groups[WARD_TLS_MAX_GROUPS];
	int n_groups;
	/* The groups a client sends a key share for (wolfSSL_UseKeyShare), in
	 * the order of `groups`: the first hybrid group and the first classic
	 * one. A peer without ML-KEM then finds a share it can use and needs no
	 * HelloRetryRequest, a round trip on every connection (RFC 8446
	 * §4.1.4). With one kind of group only, just the first group. */
	int key_shares[WARD_TLS_MAX_KEY_SHARES];
	int n_key_shares;
	/* Hybrid groups the profile offers that this build cannot (its wolfSSL
	 * has no ML-KEM): left out of `groups`, and said once at start. */
	int n_pq_unavailable;
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
 * is a TLS 1.2 cipher suite; ward is TLS 1.3 only`. A hybrid group in an
 * explicit `tls.groups` on a build without ML-KEM is such an error too; in a
 * profile it is left out (counted in n_pq_unavailable). */
int ward_tls_policy_build(const struct ward_tls_names *names,
			  struct ward_tls_policy *out) WARD_MUST_CHECK;

/* wolfSSL_get_cipher_name() ("TLS13-AES128-GCM-SHA256") -> IANA name
 * ("TLS_AES_128_GCM_SHA256"). Unknown names come back unchanged; NULL gives
 * "none". */
const char *ward_tls_cipher_iana(const char *wolf_name);
/* The policy's groups as IANA names joined by ", " (cut to fit len). */
void ward_tls_policy_group_names(const struct ward_tls_policy *p, char *out, size_t len);

/* Whether the linked wolfSSL has ML-KEM and the hybrid groups (decided by
 * its options.h: ward's source build has them, Debian 12's 5.5.4 does not). */
bool ward_tls_pq_supported(void);
/* Whether a group number is a hybrid post-quantum one. */
bool ward_tls_group_is_pq(int wolf_group);

/* A WOLFSSL_ECC_* / WOLFSSL_FFDHE_* / hybrid group number -> IANA name
 * ("x25519", "secp256r1", "X25519MLKEM768"); "unknown" if not known. */
const char *ward_tls_group_name(int wolf_group);
/* wolfSSL_get_curve_name() ("SECP256R1", "X25519", "X25519MLKEM768") ->
 * IANA name, spelt as IANA does. Unknown names come back unchanged; NULL
 * gives "none". */
const char *ward_tls_group_iana(const char *wolf_curve_name);

#endif
