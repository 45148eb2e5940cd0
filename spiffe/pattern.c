/* SPIFFE ID patterns; the grammar and its reasons are in pattern.h. */
#include "spiffe/pattern.h"

#include <stdio.h>
#include <string.h>

#include "spiffe/id.h"

/* Index of the next '/' in s[from..len), or len. */
static size_t seg_end(const char *s, size_t len, size_t from)
{
	const char *slash = from < len ? memchr(s + from, '/', len - from) : NULL;

	return slash ? (size_t)(slash - s) : len;
}

static bool is_star(const char *seg, size_t len)
{
	return len == 1 && seg[0] == '*';
}

static bool is_globstar(const char *seg, size_t len)
{
	return len == 2 && seg[0] == '*' && seg[1] == '*';
}

/* NULL if p[0..len) is a valid pattern, else the rule it breaks. The literal
 * parts are held to the full SPIFFE ID rules by validating a copy in which
 * each wildcard segment is replaced by plain letters. */
static const char *check(const char *p, size_t len)
{
	char buf[WARD_SPIFFE_ID_MAX];
	size_t td_end, start, end;

	if (len < WARD_SPIFFE_SCHEME_LEN || len > WARD_SPIFFE_ID_MAX ||
	    memcmp(p, WARD_SPIFFE_SCHEME, WARD_SPIFFE_SCHEME_LEN))
		return ward_spiffe_id_check(p, len);
	td_end = seg_end(p, len, WARD_SPIFFE_SCHEME_LEN);
	if (memchr(p, '*', td_end))
		return "trust domain must be literal (no wildcards)";
	memcpy(buf, p, len);
	for (start = td_end; start < len; start = end) {
		const char *seg = p + start + 1;
		size_t seg_len;

		end = seg_end(p, len, start + 1);
		seg_len = end - start - 1;
		if (is_globstar(seg, seg_len) && end != len)
			return "\"**\" is allowed only as the last segment";
		if (is_star(seg, seg_len) || is_globstar(seg, seg_len))
			memset(buf + start + 1, 'x', seg_len);
		else if (memchr(seg, '*', seg_len))
			return "\"*\" must be a whole path segment";
	}
	return ward_spiffe_id_check(buf, len);
}

int ward_id_pattern_validate(const char *pattern)
{
	const char *why = check(pattern, strlen(pattern));

	if (!why)
		return 0;
	/* Patterns come from configuration, so quoting them whole is safe;
	 * %.120s keeps the reason within ward_err's buffer. */
	return ward_err_set(WARD_ERR_INVALID, "id pattern \"%.120s\": %s", pattern, why);
}

bool ward_id_pattern_match(const char *pattern, const char *id, size_t id_len)
{
	size_t p_len = strlen(pattern), pi, ii;

	if (check(pattern, p_len) || ward_spiffe_id_check(id, id_len))
		return false;
	/* Scheme and trust domain: literal, byte for byte (SPIFFE-ID §2.1). */
	pi = seg_end(pattern, p_len, WARD_SPIFFE_SCHEME_LEN);
	ii = seg_end(id, id_len, WARD_SPIFFE_SCHEME_LEN);
	if (pi != ii || memcmp(pattern, id, pi))
		return false;
	/* Path: pi and ii each sit on a '/' or at the end. */
	while (pi < p_len) {
		size_t pe = seg_end(pattern, p_len, pi + 1), ie;

		if (is_globstar(pattern + pi + 1, pe - pi - 1))
			return true;
		if (ii == id_len)
			return false;
		ie = seg_end(id, id_len, ii + 1);
		if (!is_star(pattern + pi + 1, pe - pi - 1) &&
		    (pe - pi != ie - ii || memcmp(pattern + pi, id + ii, pe - pi)))
			return false;
		pi = pe;
		ii = ie;
	}
	return ii == id_len;
}
