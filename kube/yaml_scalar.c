/* Plain scalars as Kubernetes' YAML reader types them (YAML 1.1
 * resolution, see yaml.h), and floats written so they read back the same:
 * what the loader and the emitter agree on. */
#include "kube/yaml.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ward_yaml_format_real(double v, char *buf, size_t len)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (!strpbrk(buf, ".eEn") && strlen(buf) + 3 <= len)
		strcat(buf, ".0");
}

static bool is_one_of(const char *s, size_t len, const char *const *set)
{
	for (; *set; set++)
		if (strlen(*set) == len && !memcmp(*set, s, len))
			return true;
	return false;
}

/* Go's strconv.ParseInt(s, 0, 64) after go-yaml removed the underscores. */
static bool parse_go_int(const char *s, long long *out)
{
	bool neg = false;
	unsigned base = 10;
	unsigned long long v = 0, max;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		base = 8, s += 2;
	else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
		base = 2, s += 2;
	else if (s[0] == '0' && s[1])
		base = 8, s += 1;
	if (!*s)
		return false;
	max = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (*s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return false;
		if (d >= base || v > (max - d) / base)
			return false;
		v = v * base + d;
	}
	*out = neg ? (long long)(0 - v) : (long long)v;
	return true;
}

static size_t digits(const char *s)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n;
}

/* go-yaml's ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool is_yaml_float(const char *s)
{
	size_t n;

	if (*s == '+' || *s == '-')
		s++;
	if (*s == '.') {
		if (!(n = digits(s + 1)))
			return false;
		s += 1 + n;
	} else {
		if (!(n = digits(s)))
			return false;
		s += n;
		if (*s == '.')
			s += 1 + digits(s + 1);
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(n = digits(s)))
			return false;
		s += n;
	}
	return *s == '\0';
}

static json_t *resolve_number(const char *s, size_t len)
{
	static const char *const special[] = {".inf",  ".Inf",	".INF",	 "+.inf", "+.Inf",
					      "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
					      ".NaN",  ".NAN",	NULL};
	char *plain;
	json_t *v = NULL;
	long long i;
	size_t n = 0;

	if (is_one_of(s, len, special)) {
		ward_err_set(WARD_ERR_INVALID, "'%.*s' has no JSON value", (int)len, s);
		return NULL;
	}
	plain = malloc(len + 1);
	if (!plain) {
		ward_err_set(WARD_ERR_NOMEM, "scalar");
		return NULL;
	}
	for (size_t k = 0; k < len; k++)
		if (s[k] != '_')
			plain[n++] = s[k];
	plain[n] = '\0';
	if (strlen(plain) == n && parse_go_int(plain, &i))
		v = json_integer(i);
	else if (strlen(plain) == n && is_yaml_float(plain))
		v = json_real(strtod(plain, NULL));
	else
		v = json_stringn(s, len);
	free(plain);
	if (!v)
		ward_err_set(WARD_ERR_NOMEM, "scalar");
	return v;
}

json_t *ward_yaml_resolve_plain(const char *s, size_t len)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const yes[] = {"y",	  "Y",	  "yes", "Yes", "YES", "true",
					  "True", "TRUE", "on",	 "On",	"ON",  NULL};
	static const char *const no[] = {"n",	  "N",	   "no",  "No",	 "NO",	"false",
					 "False", "FALSE", "off", "Off", "OFF", NULL};
	json_t *v;

	if (is_one_of(s, len, nulls))
		return json_null();
	if (is_one_of(s, len, yes))
		return json_true();
	if (is_one_of(s, len, no))
		return json_false();
	if (len > 0 && strchr("+-.0123456789", s[0]))
		return resolve_number(s, len);
	v = json_stringn(s, len);
	if (!v)
		ward_err_set(WARD_ERR_NOMEM, "scalar");
	return v;
}
