/* The agent's source ports; the contract is in ports.h. */
#include "lib/ports.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/file.h"

#define MAX_TRIES 32

static int add_range(struct ward_ports *p, unsigned long lo, unsigned long hi)
{
	if (lo > hi || hi > 65535 || lo == 0)
		return 0;
	ENSURE(p->n < WARD_PORTS_RANGES, WARD_ERR_RANGE, "more than %d port ranges",
	       WARD_PORTS_RANGES);
	p->range[p->n].lo = (uint16_t)lo;
	p->range[p->n].hi = (uint16_t)hi;
	p->n++;
	p->size += (uint32_t)(hi - lo + 1);
	return 0;
}

static int read_sys(const char *proc_sys, const char *name, char **text)
{
	char path[256];
	size_t len;

	snprintf(path, sizeof(path), "%s/net/ipv4/%s", proc_sys, name);
	return ward_file_read(path, 64 * 1024, text, &len, NULL);
}

/* "1-5,8,10-12" (ip_local_reserved_ports' format); empty is fine. */
static int add_list(struct ward_ports *p, const char *s)
{
	char *end;
	unsigned long lo, hi;

	while (*s && *s != '\n') {
		lo = strtoul(s, &end, 10);
		hi = *end == '-' ? strtoul(end + 1, &end, 10) : lo;
		ENSURE(end != s && (*end == ',' || *end == '\n' || !*end), WARD_ERR_INVALID,
		       "ip_local_reserved_ports: cannot read \"%.40s\"", s);
		GUARD(add_range(p, lo, hi));
		s = *end == ',' ? end + 1 : end;
	}
	return 0;
}

int ward_ports_load(struct ward_ports *p, const char *proc_sys)
{
	unsigned long lo, hi;
	char *text;
	int rc;

	memset(p, 0, sizeof(*p));
	GUARD(read_sys(proc_sys, "ip_local_port_range", &text));
	rc = sscanf(text, "%lu %lu", &lo, &hi) == 2
		 ? 0
		 : ward_err_set(WARD_ERR_INVALID, "ip_local_port_range: cannot read \"%.40s\"",
				text);
	free(text);
	GUARD(rc);
	if (hi < 65535)
		GUARD(add_range(p, hi + 1 > 1024 ? hi + 1 : 1024, 65535));
	GUARD(read_sys(proc_sys, "ip_local_reserved_ports", &text));
	rc = add_list(p, text);
	free(text);
	return rc;
}

static uint16_t port_at(const struct ward_ports *p, uint32_t i)
{
	for (unsigned r = 0; r < p->n; r++) {
		uint32_t n = (uint32_t)(p->range[r].hi - p->range[r].lo) + 1;

		if (i < n)
			return (uint16_t)(p->range[r].lo + i);
		i -= n;
	}
	return 0;
}

static int bind_port(int fd, int family, uint16_t port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};

	if (family == AF_INET6)
		return bind(fd, (struct sockaddr *)&a6, sizeof(a6));
	return bind(fd, (struct sockaddr *)&a4, sizeof(a4));
}

int ward_ports_bind(const struct ward_ports *p, uint32_t *cursor, int fd, int family)
{
	ENSURE(p->size > 0, WARD_ERR_NOTFOUND, "no source ports outside the ephemeral range");
	for (int i = 0; i < MAX_TRIES; i++) {
		uint16_t port = port_at(p, (*cursor)++ % p->size);

		if (bind_port(fd, family, port) == 0)
			return 0;
		if (errno != EADDRINUSE && errno != EACCES)
			return ward_err_set(WARD_ERR_IO, "bind to source port %u: %s", port,
					    strerror(errno));
	}
	return ward_err_set(WARD_ERR_NOTFOUND, "no free source port in %d tries", MAX_TRIES);
}
