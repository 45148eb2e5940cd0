/* App probe values; see probe.h. */
#include "config/probe.h"

#include <string.h>

#define TOKEN_CHARS "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

static bool visible(const char *s, bool space_ok)
{
	for (; *s; s++)
		if ((unsigned char)*s > 0x7e ||
		    ((unsigned char)*s < 0x21 && !(space_ok && *s == ' ')))
			return false;
	return true;
}

bool ward_probe_path_ok(const char *path)
{
	return path[0] == '/' && strlen(path) <= WARD_PROBE_PATH_MAX && visible(path, false);
}

bool ward_probe_header_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= WARD_PROBE_HEADER_NAME_MAX && strspn(name, TOKEN_CHARS) == n;
}

bool ward_probe_header_value_ok(const char *value)
{
	return strlen(value) <= WARD_PROBE_HEADER_VALUE_MAX && visible(value, true);
}

bool ward_probe_service_ok(const char *service)
{
	return strlen(service) <= WARD_PROBE_SERVICE_MAX;
}
