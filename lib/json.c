#include "lib/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/file.h"

int ward_json_load_file(const char *path, json_t **out)
{
	json_error_t jerr;
	char *text;
	size_t len;

	*out = NULL;
	GUARD(ward_file_read_input(path, WARD_JSON_FILE_MAX, WARD_JSON_PIPE_WAIT_MS, &text, &len));
	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (*out)
		return 0;
	return ward_err_set(WARD_ERR_INVALID, "%s: line %d column %d: %s", path, jerr.line,
			    jerr.column, jerr.text);
}

const char *ward_json_key_path(char *buf, size_t len, const char *path, const char *key)
{
	snprintf(buf, len, "%s%s%.64s", path, *path ? "." : "", key);
	return buf;
}

const char *ward_json_index_path(char *buf, size_t len, const char *path, size_t i)
{
	snprintf(buf, len, "%s[%zu]", path, i);
	return buf;
}

/* Renders a JSON value for "(got ...)": strings quoted and cut short,
 * containers named rather than dumped. */
const char *ward_json_describe(const json_t *v, char *buf, size_t len)
{
	const char *s;
	size_t i, o = 0;

	switch (json_typeof(v)) {
	case JSON_STRING:
		s = json_string_value(v);
		buf[o++] = '"';
		for (i = 0; s[i] && o + 5 < len && i < 64; i++)
			buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
		snprintf(buf + o, len - o, "%s\"", s[i] ? "..." : "");
		return buf;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	case JSON_NULL:
		return "null";
	case JSON_ARRAY:
		return "an array";
	case JSON_OBJECT:
		return "an object";
	}
	return "?";
}

static int want(const json_t *v, const char *path, const char *what)
{
	char buf[64];

	return ward_err_set(WARD_ERR_INVALID, "%s: must be %s (got %s)", path, what,
			    ward_json_describe(v, buf, sizeof(buf)));
}

int ward_json_object(const json_t *v, const char *path)
{
	return json_is_object(v) ? 0 : want(v, path, "an object");
}

int ward_json_array(const json_t *v, const char *path, size_t max, size_t *n)
{
	if (!json_is_array(v))
		return want(v, path, "an array");
	*n = json_array_size(v);
	ENSURE(*n <= max, WARD_ERR_INVALID, "%s: more than %zu elements", path, max);
	return 0;
}

int ward_json_string(const json_t *v, const char *path, const char **out)
{
	if (!json_is_string(v) || json_string_length(v) == 0)
		return want(v, path, "a non-empty string");
	/* jansson allows "\u0000"; no name or path ward reads may hold one. */
	ENSURE(strlen(json_string_value(v)) == json_string_length(v), WARD_ERR_INVALID,
	       "%s: must not contain a NUL character", path);
	*out = json_string_value(v);
	return 0;
}

int ward_json_int(const json_t *v, const char *path, long long min, long long max, long long *out)
{
	char what[80];

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(what, sizeof(what), "an integer from %lld to %lld", min, max);
		return want(v, path, what);
	}
	*out = json_integer_value(v);
	return 0;
}

int ward_json_unknown(const char *path)
{
	return ward_err_set(WARD_ERR_INVALID, "%s: unknown key", path);
}

int ward_json_members(const json_t *v, const char *path, ward_json_member_fn fn, void *ctx)
{
	char sub[WARD_JSON_PATH_MAX];
	const char *key;
	json_t *member;

	GUARD(ward_json_object(v, path));
	json_object_foreach((json_t *)v, key, member)
	{
		ward_json_key_path(sub, sizeof(sub), path, key);
		GUARD(fn(ctx, key, member, sub));
	}
	return 0;
}
