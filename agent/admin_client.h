/* The client side of the admin endpoint, for `ward status` and `ward doctor`:
 * one GET with libcurl, bounded in time and size. */
#ifndef WARD_ADMIN_CLIENT_H
#define WARD_ADMIN_CLIENT_H

#include <jansson.h>

#include "config/config.h"
#include "lib/err.h"

/* GETs path from the agent whose admin.listen is addr (a wildcard address
 * means this host's loopback). *body gets the malloc'd, NUL-terminated body
 * (at most 4 MiB) and *status the HTTP status. WARD_ERR_IO names the URL and
 * curl's reason when no answer came. */
int ward_admin_get(const struct ward_addr *addr, const char *path, char **body,
		   long *status) WARD_MUST_CHECK;
/* The same, parsed as JSON; a non-200 answer or a body that is not JSON is
 * an error naming the path. */
int ward_admin_get_json(const struct ward_addr *addr, const char *path,
			json_t **out) WARD_MUST_CHECK;

#endif
