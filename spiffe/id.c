/* SPIFFE ID validation; the rules and their sections are listed in id.h. */
#include "spiffe/id.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Characters of a trust domain (SPIFFE-ID §2.1): lowercase only, so that a
 * trust domain has one spelling and compares byte-wise. */
static bool td_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* Characters of a path segment (SPIFFE-ID §2.2): the RFC 3986 unreserved set
 * minus "~", with no percent-encoding. */
static bool path_char(unsigned char c)
{
	return td_char(c) || (c >= 'A' && c <= 'Z');
}

/* Why a byte that is neither a trust domain nor a path character is refused,
 * for the URI components it would start (SPIFFE-ID §2, §2.1). */
static const char *uri_why(unsigned char c)
{
	switch (c) {
	case '%':
		return "percent-encoding is not allowed";
	case '?':
		return "a query is not allowed";
	case '#':
		return "a fragment is not allowed";
	}
	return NULL;
}

static const char *td_char_why(unsigned char c)
{
	const char *why = uri_why(c);

	if (why)
		return why;
	if (c >= 'A' && c <= 'Z')
		return "trust domain has an uppercase letter";
	if (c == ':')
		return "trust domain has a port or a ':'";
	if (c == '@')
		return "trust domain has userinfo";
	return "trust domain has a character outside [a-z0-9.-_]";
}

static const char *check_td(const char *td, size_t len)
{
	if (len == 0)
		return "trust domain is empty";
	if (len > WARD_SPIFFE_TD_MAX)
		return "trust domain is longer than 255 bytes";
	for (size_t i = 0; i < len; i++)
		if (!td_char((unsigned char)td[i]))
			return td_char_why((unsigned char)td[i]);
	return NULL;
}

/* p[0..len) is empty or starts with '/'. */
static const char *check_path(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start = ++i; /* skip the '/' */

		for (; i < len && p[i] != '/'; i++) {
			unsigned char c = (unsigned char)p[i];
			const char *why = uri_why(c);

			if (!path_char(c))
				return why ? why : "path has a character outside [a-zA-Z0-9.-_]";
		}
		if (i == start)
			return i == len ? "path has a trailing slash" : "path has an empty segment";
		if (p[start] == '.' && (i - start == 1 || (i - start == 2 && p[start + 1] == '.')))
			return "path has a \".\" or \"..\" segment";
	}
	return NULL;
}

const char *ward_spiffe_id_check(const char *s, size_t len)
{
	const char *td, *slash, *why;
	size_t rest;

	if (len == 0)
		return "is empty";
	if (len > WARD_SPIFFE_ID_MAX)
		return "is longer than 2048 bytes";
	if (memchr(s, '\0', len))
		return "contains a NUL byte";
	if (len < WARD_SPIFFE_SCHEME_LEN || memcmp(s, WARD_SPIFFE_SCHEME, WARD_SPIFFE_SCHEME_LEN)) {
		if (len >= WARD_SPIFFE_SCHEME_LEN &&
		    !strncasecmp(s, WARD_SPIFFE_SCHEME, WARD_SPIFFE_SCHEME_LEN))
			return "scheme must be lowercase \"spiffe\"";
		return "scheme is not \"spiffe://\"";
	}
	td = s + WARD_SPIFFE_SCHEME_LEN;
	rest = len - WARD_SPIFFE_SCHEME_LEN;
	slash = memchr(td, '/', rest);
	why = check_td(td, slash ? (size_t)(slash - td) : rest);
	if (why || !slash)
		return why;
	return check_path(slash, rest - (size_t)(slash - td));
}

/* Quotes untrusted bytes for a reason: printable ASCII as is, the rest as
 * \xNN, cut short with "..." so that one bad ID cannot fill the log line. */
static void quote(char *dst, size_t cap, const char *s, size_t len)
{
	size_t o = 0, i;

	dst[o++] = '"';
	for (i = 0; i < len && o + 10 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
	}
	if (i < len)
		o += (size_t)snprintf(dst + o, cap - o, "...");
	snprintf(dst + o, cap - o, "\"");
}

int ward_spiffe_id_parse(const char *s, size_t len, struct ward_spiffe_id *out)
{
	const char *why = ward_spiffe_id_check(s, len);
	const char *slash;
	char q[160];

	out->text[0] = '\0';
	out->len = out->td_len = 0;
	if (why) {
		quote(q, sizeof(q), s, len);
		return ward_err_set(WARD_ERR_INVALID, "spiffe id %s: %s", q, why);
	}
	memcpy(out->text, s, len);
	out->text[len] = '\0';
	out->len = len;
	slash = memchr(s + WARD_SPIFFE_SCHEME_LEN, '/', len - WARD_SPIFFE_SCHEME_LEN);
	out->td_len =
	    slash ? (size_t)(slash - s) - WARD_SPIFFE_SCHEME_LEN : len - WARD_SPIFFE_SCHEME_LEN;
	return 0;
}

int ward_spiffe_trust_domain_validate(const char *td, size_t len)
{
	const char *why = memchr(td, '\0', len) ? "contains a NUL byte" : check_td(td, len);
	char q[160];

	if (!why)
		return 0;
	quote(q, sizeof(q), td, len);
	return ward_err_set(WARD_ERR_INVALID, "trust domain %s: %s", q, why);
}

const char *ward_spiffe_id_trust_domain(const struct ward_spiffe_id *id, size_t *len)
{
	*len = id->td_len;
	return id->text + WARD_SPIFFE_SCHEME_LEN;
}

const char *ward_spiffe_id_path(const struct ward_spiffe_id *id)
{
	if (id->len == 0)
		return "";
	return id->text + WARD_SPIFFE_SCHEME_LEN + id->td_len;
}

bool ward_spiffe_id_member_of(const struct ward_spiffe_id *id, const char *td, size_t len)
{
	return id->len != 0 && id->td_len == len &&
	       !memcmp(id->text + WARD_SPIFFE_SCHEME_LEN, td, len);
}

bool ward_spiffe_id_equal(const struct ward_spiffe_id *a, const struct ward_spiffe_id *b)
{
	return a->len == b->len && !memcmp(a->text, b->text, a->len);
}
