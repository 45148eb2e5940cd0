/* Capture scope values as `ward iptables` flags and the injector's
 * annotations write them; see capture.h. */
#include "config/capture.h"

#include <limits.h>
#include <string.h>

/* Digits only: strtoul would accept "-1", " 7" and "0x10". */
static int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	unsigned long n = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (unsigned long)(*s - '0');
		if (n > max)
			return -1;
	}
	*v = n;
	return 0;
}

int ward_capture_parse_port(const char *s, uint16_t *port)
{
	unsigned long v;

	ENSURE(parse_uint(s, 65535, &v) == 0 && v > 0, WARD_ERR_INVALID,
	       "'%s' is not a port number (1-65535)", s);
	*port = (uint16_t)v;
	return 0;
}

int ward_capture_parse_id(const char *s, uint32_t *id)
{
	unsigned long v;

	/* (uid_t)-1 means "no change" to the kernel; never a real owner. */
	ENSURE(parse_uint(s, UINT32_MAX - 1, &v) == 0, WARD_ERR_INVALID,
	       "'%s' is not a numeric id (0-%u)", s, UINT32_MAX - 1);
	*id = (uint32_t)v;
	return 0;
}

/* Calls each(token) for every comma-separated entry of s. An empty s is an
 * empty list; "*" alone is the "all" list when star_ok. */
static int split_list(const char *s, bool star_ok, bool *all, size_t *n,
		      int (*each)(const char *tok, void *ctx), void *ctx)
{
	char tok[INET6_ADDRSTRLEN + 8];

	*all = false;
	*n = 0;
	if (star_ok && !strcmp(s, "*")) {
		*all = true;
		return 0;
	}
	while (*s) {
		size_t len = strcspn(s, ",");

		ENSURE(len > 0, WARD_ERR_INVALID, "empty list entry");
		ENSURE(len < sizeof(tok), WARD_ERR_INVALID, "entry '%.*s' too long", (int)len, s);
		ENSURE(*n < WARD_CAPTURE_MAX_LIST, WARD_ERR_RANGE, "more than %d entries",
		       WARD_CAPTURE_MAX_LIST);
		memcpy(tok, s, len);
		tok[len] = '\0';
		ENSURE(strcmp(tok, "*"), WARD_ERR_INVALID, "'*' must be the whole list");
		GUARD(each(tok, ctx));
		(*n)++;
		s += len;
		if (*s == ',' && !*++s)
			return ward_err_set(WARD_ERR_INVALID, "empty list entry");
	}
	return 0;
}

/* A list that names an entry twice is a typo, or two edits that crossed. */
static int add_port(const char *tok, void *ctx)
{
	struct ward_capture_ports *l = ctx;

	GUARD(ward_capture_parse_port(tok, &l->port[l->n]));
	for (size_t i = 0; i < l->n; i++)
		ENSURE(l->port[i] != l->port[l->n], WARD_ERR_INVALID, "port %s listed twice", tok);
	return 0;
}

static int add_cidr(const char *tok, void *ctx)
{
	struct ward_capture_cidrs *l = ctx;

	GUARD(ward_cidr_parse(tok, &l->cidr[l->n]));
	for (size_t i = 0; i < l->n; i++)
		ENSURE(memcmp(&l->cidr[i], &l->cidr[l->n], sizeof(l->cidr[i])), WARD_ERR_INVALID,
		       "%s listed twice", tok);
	return 0;
}

int ward_capture_parse_ports(const char *s, bool star_ok, struct ward_capture_ports *out)
{
	return split_list(s, star_ok, &out->all, &out->n, add_port, out);
}

int ward_capture_parse_cidrs(const char *s, bool star_ok, struct ward_capture_cidrs *out)
{
	return split_list(s, star_ok, &out->all, &out->n, add_cidr, out);
}
