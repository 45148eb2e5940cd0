/* TLS cipher profiles (see tls_profile.h). The profiles are lists of IANA names
 * that go through the same lookup as a user's explicit lists, so there is
 * one code path from a name to what wolfSSL is given. */
#include "lib/tls_profile.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

/* RFC 8446 appendix B.4. AES-CCM is left out: ward's wolfSSL build does not
 * enable it, and nothing in a mesh needs it. */
struct suite {
	const char *iana;
	const char *wolf; /* wolfSSL's cipher_names[] entry */
	bool fips;
};

static const struct suite suites[] = {
    {"TLS_AES_128_GCM_SHA256", "TLS13-AES128-GCM-SHA256", true},
    {"TLS_AES_256_GCM_SHA384", "TLS13-AES256-GCM-SHA384", true},
    {"TLS_CHACHA20_POLY1305_SHA256", "TLS13-CHACHA20-POLY1305-SHA256", false},
};

/* ML-KEM and the hybrid groups, as the linked wolfSSL was configured
 * (--enable-mlkem --enable-pqc-hybrids in deploy/wolfssl.sh). */
#if defined(WOLFSSL_HAVE_MLKEM) && defined(WOLFSSL_PQC_HYBRIDS) && !defined(WOLFSSL_NO_ML_KEM)
#define HAVE_HYBRIDS true
_Static_assert(WOLFSSL_SECP256R1MLKEM768 == WARD_TLS_SECP256R1MLKEM768, "code point");
_Static_assert(WOLFSSL_X25519MLKEM768 == WARD_TLS_X25519MLKEM768, "code point");
_Static_assert(WOLFSSL_SECP384R1MLKEM1024 == WARD_TLS_SECP384R1MLKEM1024, "code point");
#else
#define HAVE_HYBRIDS false
#endif

/* IANA "TLS Supported Groups" names first, spelt as IANA does, then the
 * aliases people type (names match without regard to case). */
struct group {
	const char *names[3];
	int wolf;
	bool fips;
	bool pq; /* hybrid post-quantum: needs ML-KEM in the linked wolfSSL */
};

/* X25519MLKEM768 is not in "fips": X25519 is not a FIPS-approved curve.
 * SecP256r1MLKEM768 and SecP384r1MLKEM1024 combine approved parts only. */
static const struct group groups[] = {
    {{"X25519MLKEM768"}, WARD_TLS_X25519MLKEM768, false, true},
    {{"SecP256r1MLKEM768"}, WARD_TLS_SECP256R1MLKEM768, true, true},
    {{"SecP384r1MLKEM1024"}, WARD_TLS_SECP384R1MLKEM1024, true, true},
    {{"x25519"}, WOLFSSL_ECC_X25519, false, false},
    {{"secp256r1", "P-256", "prime256v1"}, WOLFSSL_ECC_SECP256R1, true, false},
    {{"secp384r1", "P-384"}, WOLFSSL_ECC_SECP384R1, true, false},
};

/* RFC 8446 section 4.2.3 SignatureScheme names -> wolfSSL's "<sig>+<hash>"
 * tokens. wolfSSL's "RSA-PSS+SHAn" enables both rsa_pss_rsae_shaN and
 * rsa_pss_pss_shaN, so either name yields the same token. Ed25519 exists
 * only when the wolfSSL build has it (the assembly build does not). */
struct sigalg {
	const char *iana;
	const char *wolf;
	bool fips;
};

static const struct sigalg sigalgs[] = {
    {"ecdsa_secp256r1_sha256", "ECDSA+SHA256", true},
    {"ecdsa_secp384r1_sha384", "ECDSA+SHA384", true},
    {"ecdsa_secp521r1_sha512", "ECDSA+SHA512", true},
    {"rsa_pss_rsae_sha256", "RSA-PSS+SHA256", true},
    {"rsa_pss_rsae_sha384", "RSA-PSS+SHA384", true},
    {"rsa_pss_rsae_sha512", "RSA-PSS+SHA512", true},
    {"rsa_pss_pss_sha256", "RSA-PSS+SHA256", true},
    {"rsa_pss_pss_sha384", "RSA-PSS+SHA384", true},
    {"rsa_pss_pss_sha512", "RSA-PSS+SHA512", true},
#ifdef HAVE_ED25519
    {"ed25519", "ED25519", false},
#endif
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct profile {
	const char *name;
	bool fips;
	const char *const *suites, *const *groups, *const *sigalgs;
	size_t n_suites, n_groups, n_sigalgs;
};

static const char *const modern_suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
					    "TLS_CHACHA20_POLY1305_SHA256"};
/* The hybrid group first, so that mesh traffic recorded today cannot be
 * decrypted by a future quantum computer; the classic groups after it, for
 * peers without ML-KEM. */
static const char *const modern_groups[] = {"X25519MLKEM768", "x25519", "secp256r1"};
/* RSA-PSS stays in modern because SPIRE can issue RSA SVIDs; Ed25519 stays
 * out so that the profile is the same whichever wolfSSL ward is linked to. */
static const char *const modern_sigalgs[] = {"ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384",
					     "rsa_pss_rsae_sha256"};
static const char *const fips_suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"};
static const char *const fips_groups[] = {"SecP256r1MLKEM768", "secp256r1", "secp384r1"};
static const char *const fips_sigalgs[] = {"ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384"};

static const struct profile profiles[] = {
    {"modern", false, modern_suites, modern_groups, modern_sigalgs, N(modern_suites),
     N(modern_groups), N(modern_sigalgs)},
    {"fips", true, fips_suites, fips_groups, fips_sigalgs, N(fips_suites), N(fips_groups),
     N(fips_sigalgs)},
};

static int find_profile(const char *name, const struct profile **out)
{
	size_t i;

	if (!name)
		name = "modern";
	for (i = 0; i < N(profiles); i++) {
		if (!strcmp(profiles[i].name, name)) {
			*out = &profiles[i];
			return 0;
		}
	}
	return ward_err_set(WARD_ERR_INVALID,
			    "tls.profile: must be one of modern, fips (got \"%.64s\")", name);
}

/* Appends tok to a ':'-joined list. */
static int append(char *list, size_t size, const char *tok)
{
	size_t used = strlen(list);
	int n = snprintf(list + used, size - used, "%s%s", used ? ":" : "", tok);

	if (n < 0 || (size_t)n >= size - used) {
		list[used] = '\0';
		return ward_err_set(WARD_ERR_RANGE, "list too long for wolfSSL");
	}
	return 0;
}

static bool has_token(const char *list, const char *tok)
{
	size_t len = strlen(tok);
	const char *p = list;

	while ((p = strstr(p, tok))) {
		if ((p == list || p[-1] == ':') && (p[len] == ':' || p[len] == '\0'))
			return true;
		p += len;
	}
	return false;
}

static int find_suite(const char *name, bool fips, const struct suite **out)
{
	size_t i;

	for (i = 0; i < N(suites); i++) {
		if (strcmp(suites[i].iana, name))
			continue;
		ENSURE(suites[i].fips || !fips, WARD_ERR_INVALID,
		       "\"%s\" is not allowed by tls.profile \"fips\"", name);
		*out = &suites[i];
		return 0;
	}
	/* Every TLS 1.2-and-earlier IANA suite name has the form
	 * TLS_<kx>_WITH_<cipher>; TLS 1.3 names never do (RFC 8446 B.4). */
	ENSURE(!strstr(name, "_WITH_"), WARD_ERR_INVALID,
	       "\"%.64s\" is a TLS 1.2 cipher suite; ward is TLS 1.3 only", name);
	ENSURE(strncmp(name, "TLS_AES_128_CCM", 15), WARD_ERR_INVALID,
	       "\"%s\" is not supported (AES-GCM and ChaCha20-Poly1305 only)", name);
	return ward_err_set(
	    WARD_ERR_INVALID,
	    "unknown cipher suite \"%.64s\" (use IANA names, e.g. TLS_AES_128_GCM_SHA256)", name);
}

static int find_group(const char *name, bool fips, const struct group **out)
{
	size_t i, j;

	for (i = 0; i < N(groups); i++) {
		for (j = 0; j < N(groups[i].names) && groups[i].names[j]; j++) {
			if (strcasecmp(groups[i].names[j], name))
				continue;
			ENSURE(groups[i].fips || !fips, WARD_ERR_INVALID,
			       "\"%s\" is not allowed by tls.profile \"fips\"", name);
			*out = &groups[i];
			return 0;
		}
	}
	return ward_err_set(WARD_ERR_INVALID,
			    "unknown group \"%.64s\" (known: X25519MLKEM768, SecP256r1MLKEM768, "
			    "SecP384r1MLKEM1024, x25519, secp256r1 (P-256), secp384r1 (P-384))",
			    name);
}

static int find_sigalg(const char *name, bool fips, const struct sigalg **out)
{
	size_t i;

	for (i = 0; i < N(sigalgs); i++) {
		if (strcmp(sigalgs[i].iana, name))
			continue;
		ENSURE(sigalgs[i].fips || !fips, WARD_ERR_INVALID,
		       "\"%s\" is not allowed by tls.profile \"fips\"", name);
		*out = &sigalgs[i];
		return 0;
	}
	/* RFC 8446 section 4.2.3: PKCS#1 v1.5, SHA-1 and DSA schemes may not
	 * sign a TLS 1.3 handshake. */
	ENSURE(strncmp(name, "rsa_pkcs1_", 10) && strncmp(name, "dsa_", 4) &&
		   strcmp(name, "ecdsa_sha1"),
	       WARD_ERR_INVALID, "\"%s\" is a TLS 1.2 signature algorithm; ward is TLS 1.3 only",
	       name);
	ENSURE(strcmp(name, "ed25519") && strcmp(name, "ed448"), WARD_ERR_INVALID,
	       "\"%s\" is not supported by this wolfSSL build", name);
	return ward_err_set(WARD_ERR_INVALID,
			    "unknown signature algorithm \"%.64s\" (use RFC 8446 names, e.g. "
			    "ecdsa_secp256r1_sha256)",
			    name);
}

static int add_suite(const char *name, bool fips, struct ward_tls_policy *pol)
{
	const struct suite *s = NULL;

	GUARD(find_suite(name, fips, &s));
	ENSURE(!has_token(pol->cipher_list, s->wolf), WARD_ERR_INVALID, "\"%s\" is listed twice",
	       name);
	return append(pol->cipher_list, sizeof(pol->cipher_list), s->wolf);
}

static int add_group(const char *name, bool fips, struct ward_tls_policy *pol)
{
	const struct group *g = NULL;
	int i;

	GUARD(find_group(name, fips, &g));
	for (i = 0; i < pol->n_groups; i++)
		ENSURE(pol->groups[i] != g->wolf, WARD_ERR_INVALID, "\"%s\" is listed twice", name);
	ENSURE(!g->pq || HAVE_HYBRIDS, WARD_ERR_INVALID,
	       "\"%s\" is a post-quantum hybrid group and this build of ward has no ML-KEM "
	       "(wolfSSL %s; build with deploy/wolfssl.sh)",
	       name, wolfSSL_lib_version());
	ENSURE(pol->n_groups < WARD_TLS_MAX_GROUPS, WARD_ERR_INVALID, "more than %d groups",
	       WARD_TLS_MAX_GROUPS);
	pol->groups[pol->n_groups++] = g->wolf;
	return 0;
}

/* A profile's group: a hybrid one this build cannot offer is left out. */
static int add_profile_group(const char *name, bool fips, struct ward_tls_policy *pol)
{
	const struct group *g = NULL;

	GUARD(find_group(name, fips, &g));
	if (g->pq && !HAVE_HYBRIDS) {
		pol->n_pq_unavailable++;
		return 0;
	}
	return add_group(name, fips, pol);
}

/* The first hybrid and the first classic group get a key share. */
static void pick_key_shares(struct ward_tls_policy *pol)
{
	bool have_pq = false, have_classic = false;

	for (int i = 0; i < pol->n_groups; i++) {
		bool pq = ward_tls_group_is_pq(pol->groups[i]);

		if (pq ? have_pq : have_classic)
			continue;
		pol->key_shares[pol->n_key_shares++] = pol->groups[i];
		have_pq |= pq;
		have_classic |= !pq;
	}
}

/* Sigalgs are not checked for duplicates by token: rsa_pss_rsae_sha256 and
 * rsa_pss_pss_sha256 legitimately share one. */
static int add_sigalg(const char *name, bool fips, struct ward_tls_policy *pol)
{
	const struct sigalg *s = NULL;

	GUARD(find_sigalg(name, fips, &s));
	if (has_token(pol->sigalgs, s->wolf))
		return 0;
	return append(pol->sigalgs, sizeof(pol->sigalgs), s->wolf);
}

typedef int (*add_fn)(const char *name, bool fips, struct ward_tls_policy *pol);

/* Feeds the user's list if it has entries, else the profile's (through
 * add_dflt). Errors in the user's list are prefixed with the key path and
 * index. */
static int add_all(const char *key, char *const *user, size_t n_user, const char *const *dflt,
		   size_t n_dflt, bool fips, add_fn add, add_fn add_dflt,
		   struct ward_tls_policy *pol)
{
	size_t i;

	if (!n_user) {
		for (i = 0; i < n_dflt; i++)
			GUARD(add_dflt(dflt[i], fips, pol));
		return 0;
	}
	for (i = 0; i < n_user; i++) {
		int rc = add(user[i], fips, pol);

		if (rc < 0)
			return ward_err_prefix(rc, "tls.%s[%zu]", key, i);
	}
	return 0;
}

int ward_tls_policy_build(const struct ward_tls_names *n, struct ward_tls_policy *out)
{
	const struct profile *prof = NULL;
	struct ward_tls_policy pol;

	memset(&pol, 0, sizeof(pol));
	GUARD(find_profile(n->profile, &prof));
	GUARD(add_all("cipher_suites", n->cipher_suites, n->n_cipher_suites, prof->suites,
		      prof->n_suites, prof->fips, add_suite, add_suite, &pol));
	GUARD(add_all("groups", n->groups, n->n_groups, prof->groups, prof->n_groups, prof->fips,
		      add_group, add_profile_group, &pol));
	GUARD(add_all("signature_algorithms", n->signature_algorithms, n->n_signature_algorithms,
		      prof->sigalgs, prof->n_sigalgs, prof->fips, add_sigalg, add_sigalg, &pol));
	pick_key_shares(&pol);
	*out = pol;
	return 0;
}

const char *ward_tls_cipher_iana(const char *wolf_name)
{
	size_t i;

	if (!wolf_name)
		return "none";
	for (i = 0; i < N(suites); i++)
		if (!strcmp(suites[i].wolf, wolf_name))
			return suites[i].iana;
	return wolf_name;
}

void ward_tls_policy_group_names(const struct ward_tls_policy *p, char *out, size_t len)
{
	size_t used = 0;

	if (!len)
		return;
	out[0] = '\0';
	for (int i = 0; i < p->n_groups && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "",
					 ward_tls_group_name(p->groups[i]));
}

bool ward_tls_pq_supported(void)
{
	return HAVE_HYBRIDS;
}

bool ward_tls_group_is_pq(int wolf_group)
{
	for (size_t i = 0; i < N(groups); i++)
		if (groups[i].wolf == wolf_group)
			return groups[i].pq;
	return false;
}

const char *ward_tls_group_name(int wolf_group)
{
	switch (wolf_group) {
	case WARD_TLS_X25519MLKEM768:
		return "X25519MLKEM768";
	case WARD_TLS_SECP256R1MLKEM768:
		return "SecP256r1MLKEM768";
	case WARD_TLS_SECP384R1MLKEM1024:
		return "SecP384r1MLKEM1024";
	case WOLFSSL_ECC_SECP256R1:
		return "secp256r1";
	case WOLFSSL_ECC_SECP384R1:
		return "secp384r1";
	case WOLFSSL_ECC_SECP521R1:
		return "secp521r1";
	case WOLFSSL_ECC_X25519:
		return "x25519";
	case WOLFSSL_ECC_X448:
		return "x448";
	case WOLFSSL_FFDHE_2048:
		return "ffdhe2048";
	case WOLFSSL_FFDHE_3072:
		return "ffdhe3072";
	case WOLFSSL_FFDHE_4096:
		return "ffdhe4096";
	case WOLFSSL_FFDHE_6144:
		return "ffdhe6144";
	case WOLFSSL_FFDHE_8192:
		return "ffdhe8192";
	}
	return "unknown";
}

/* wolfSSL_get_curve_name() returns "X25519"/"X448", wc_ecc_get_name() names
 * ("SECP256R1"), "FFDHE_2048"-style names, or for a hybrid the IANA name
 * ("X25519MLKEM768"; from 5.9 on). */
const char *ward_tls_group_iana(const char *wolf_curve_name)
{
	static const struct {
		const char *wolf, *iana;
	} map[] = {
	    {"X25519", "x25519"},
	    {"X448", "x448"},
	    {"SECP256R1", "secp256r1"},
	    {"SECP384R1", "secp384r1"},
	    {"SECP521R1", "secp521r1"},
	    {"FFDHE_2048", "ffdhe2048"},
	    {"FFDHE_3072", "ffdhe3072"},
	    {"FFDHE_4096", "ffdhe4096"},
	    {"FFDHE_6144", "ffdhe6144"},
	    {"FFDHE_8192", "ffdhe8192"},
	    {"X25519MLKEM768", "X25519MLKEM768"},
	    {"SecP256r1MLKEM768", "SecP256r1MLKEM768"},
	    {"SecP384r1MLKEM1024", "SecP384r1MLKEM1024"},
	};
	size_t i;

	if (!wolf_curve_name)
		return "none";
	for (i = 0; i < N(map); i++)
		if (!strcasecmp(map[i].wolf, wolf_curve_name))
			return map[i].iana;
	return wolf_curve_name;
}
