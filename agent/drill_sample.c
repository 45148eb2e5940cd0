/* What an agent's /certs and /metrics say, into a drill sample; see
 * drill.h. Both come from the network: every field is checked for its type
 * and every number for its syntax, and a reason names what was wrong. */
#include <stdlib.h>
#include <string.h>

#include "agent/drill.h"

/* ---- /certs ---------------------------------------------------------------- */

static int bundle_cas(const json_t *bundles, struct ward_drill_record *r,
		      struct ward_drill_sample *s)
{
	size_t i, j;
	json_t *b, *ca;

	ENSURE(json_is_array(bundles), WARD_ERR_INVALID, "/certs: \"bundles\" is not an array");
	json_array_foreach(bundles, i, b)
	{
		const json_t *cas = json_object_get(b, "cas");

		ENSURE(json_is_array(cas), WARD_ERR_INVALID,
		       "/certs: bundles[%zu].cas is not an array", i);
		json_array_foreach(cas, j, ca)
		{
			const char *serial = json_string_value(json_object_get(ca, "serial"));
			int id;

			ENSURE(serial && strlen(serial) < WARD_DRILL_SERIAL_MAX, WARD_ERR_INVALID,
			       "/certs: bundles[%zu].cas[%zu] has no serial", i, j);
			if (s->n_bundle == WARD_DRILL_MAX_BUNDLE)
				return 0; /* the rest is not tracked */
			id = ward_drill_intern(r, serial);
			ENSURE(id >= 0, WARD_ERR_NOMEM, "drill: out of memory");
			s->bundle[s->n_bundle++] = id;
		}
	}
	return 0;
}

int ward_drill_parse_certs(const char *body, size_t len, struct ward_drill_record *r,
			   struct ward_drill_sample *s, char *spiffe_id, size_t id_len)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, 0, &jerr);
	const json_t *id, *serial, *na;
	int rc = 0;

	if (!json_is_object(doc)) {
		json_decref(doc);
		return ward_err_set(WARD_ERR_INVALID, "/certs: not a JSON object (%s)",
				    doc ? "another JSON value" : jerr.text);
	}
	id = json_object_get(doc, "spiffe_id");
	serial = json_object_get(doc, "serial");
	na = json_object_get(doc, "not_after");
	s->has_svid = json_is_string(id);
	s->n_bundle = 0;
	if (!s->has_svid && !json_is_null(id))
		rc = ward_err_set(WARD_ERR_INVALID,
				  "/certs: \"spiffe_id\" is neither a string nor null");
	else if (s->has_svid && (!json_is_string(serial) || !json_is_integer(na) ||
				 strlen(json_string_value(serial)) >= WARD_DRILL_SERIAL_MAX))
		rc = ward_err_set(
		    WARD_ERR_INVALID,
		    "/certs: an SVID without a \"serial\" string and a \"not_after\" integer");
	if (rc == 0 && s->has_svid) {
		snprintf(spiffe_id, id_len, "%s", json_string_value(id));
		s->serial = ward_drill_intern(r, json_string_value(serial));
		s->not_after = json_integer_value(na);
		rc = s->serial < 0 ? ward_err_set(WARD_ERR_NOMEM, "drill: out of memory")
				   : bundle_cas(json_object_get(doc, "bundles"), r, s);
	}
	json_decref(doc);
	return rc;
}

/* ---- /metrics ------------------------------------------------------------- */

/* One sample line of the Prometheus text format: name{labels} value. */
struct line {
	const char *name, *labels, *value; /* into the caller's copy */
	size_t name_len, labels_len;
};

/* The '}' that closes the labels: label values are quoted and may hold a
 * '}' or an escaped quote. NULL if there is none. */
static char *labels_end(char *p)
{
	bool quoted = false;

	for (; *p; p++) {
		if (quoted && *p == '\\' && p[1])
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '}')
			return p;
	}
	return NULL;
}

static int split_line(char *p, struct line *l)
{
	char *brace, *space;

	memset(l, 0, sizeof(*l));
	l->name = p;
	l->name_len = strcspn(p, "{ ");
	brace = p[l->name_len] == '{' ? p + l->name_len : NULL;
	if (brace) {
		char *close = labels_end(brace + 1);

		ENSURE(close, WARD_ERR_INVALID, "labels without '}'");
		l->labels = brace + 1;
		l->labels_len = (size_t)(close - brace - 1);
		p = close + 1;
	} else {
		p += l->name_len;
	}
	ENSURE(*p == ' ', WARD_ERR_INVALID, "no value");
	l->value = p + 1;
	space = strchr(l->value, ' '); /* an optional timestamp follows */
	if (space)
		*space = '\0';
	return 0;
}

static bool name_is(const struct line *l, const char *name)
{
	return l->name_len == strlen(name) && !strncmp(l->name, name, l->name_len);
}

/* The value of label key, copied into out (empty when absent). */
static void label(const struct line *l, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	const char *p = l->labels, *end = l->labels + l->labels_len;

	out[0] = '\0';
	while (p && p < end) {
		const char *q = memchr(p, '"', (size_t)(end - p)), *close;

		if (!q || q + 1 >= end)
			return;
		for (close = q + 1; close < end && *close != '"'; close++)
			close += *close == '\\' && close + 1 < end;
		if (close >= end)
			return;
		if ((size_t)(q - p) == kl + 1 && !strncmp(p, key, kl) && p[kl] == '=') {
			snprintf(out, len, "%.*s", (int)(close - q - 1), q + 1);
			return;
		}
		p = close + 1;
		p += p < end && *p == ',';
	}
}

static int number(const struct line *l, double *out)
{
	char *end;

	*out = strtod(l->value, &end);
	ENSURE(end != l->value && *end == '\0', WARD_ERR_INVALID, "%.*s: \"%.20s\" is not a number",
	       (int)l->name_len, l->name, l->value);
	return 0;
}

/* Takes the series the drill needs from one line; others are skipped. */
static int take(const struct line *l, struct ward_drill_sample *s)
{
	char v[32];
	double n;

	if (name_is(l, "ward_tls_handshake_errors_total")) {
		GUARD(number(l, &n));
		label(l, "reason", v, sizeof(v));
		for (size_t r = 0; r < WARD_REASONS; r++)
			if (!strcmp(v, ward_metrics_reason_name((enum ward_reason)r)))
				s->hs_fail[r] += (uint64_t)n;
	} else if (name_is(l, "ward_tls_handshakes_total")) {
		GUARD(number(l, &n));
		label(l, "result", v, sizeof(v));
		if (!strcmp(v, "success"))
			s->hs_ok += (uint64_t)n;
	} else if (name_is(l, "ward_tls_handshake_duration_seconds_sum")) {
		GUARD(number(l, &n));
		s->hs_sum_s += n;
	} else if (name_is(l, "ward_tls_handshake_duration_seconds_count")) {
		GUARD(number(l, &n));
		s->hs_count += (uint64_t)n;
	} else if (name_is(l, "ward_workload_api_connected")) {
		GUARD(number(l, &n));
		s->wl_connected = n > 0;
	}
	return 0;
}

int ward_drill_parse_metrics(const char *body, size_t len, struct ward_drill_sample *s)
{
	char *text = strndup(body, len), *p, *nl;
	unsigned line_no = 0;
	struct line l;
	int rc = 0;

	ENSURE(text, WARD_ERR_NOMEM, "drill: out of memory");
	memset(s->hs_fail, 0, sizeof(s->hs_fail));
	s->hs_ok = s->hs_count = 0;
	s->hs_sum_s = 0;
	s->wl_connected = -1;
	for (p = text; rc == 0 && *p; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		line_no++;
		if (*p == '#' || *p == '\0')
			continue;
		rc = split_line(p, &l);
		if (rc == 0)
			rc = take(&l, s);
		if (rc < 0)
			rc = ward_err_prefix(rc, "/metrics: line %u", line_no);
	}
	free(text);
	return rc;
}
