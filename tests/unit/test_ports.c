/* The agent's source ports: the pool is what the kernel never gives an app
 * (above ip_local_port_range, and ip_local_reserved_ports), and binding skips
 * ports in use and moves on. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/ports.h"

static char root[64];

static void sys(const char *range, const char *reserved)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/net/ipv4/ip_local_port_range", root);
	assert_non_null(f = fopen(path, "w"));
	fputs(range, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/net/ipv4/ip_local_reserved_ports", root);
	assert_non_null(f = fopen(path, "w"));
	fputs(reserved, f);
	fclose(f);
}

static int setup(void **state)
{
	char path[128];

	(void)state;
	strcpy(root, "/tmp/ward-ports-test.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(path, sizeof(path), "%s/net", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/net/ipv4", root);
	return mkdir(path, 0700);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

static void test_pool(void **state)
{
	struct ward_ports p;

	(void)state;
	sys("32768\t60999\n", "\n");
	assert_int_equal(ward_ports_load(&p, root), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.range[0].lo, 61000);
	assert_int_equal(p.range[0].hi, 65535);
	assert_int_equal(p.size, 4536);
	/* The whole range ephemeral: only reserved ports are left. */
	sys("1024 65535\n", "40000-40009,40100\n");
	assert_int_equal(ward_ports_load(&p, root), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.size, 11);
	sys("1024 65535\n", "\n");
	assert_int_equal(ward_ports_load(&p, root), 0);
	assert_int_equal(p.size, 0);
	/* Never below the unprivileged ports. */
	sys("100 200\n", "\n");
	assert_int_equal(ward_ports_load(&p, root), 0);
	assert_int_equal(p.range[0].lo, 1024);
	sys("garbage\n", "\n");
	assert_int_equal(ward_ports_load(&p, root), WARD_ERR_INVALID);
	sys("32768 60999\n", "40000-x\n");
	assert_int_equal(ward_ports_load(&p, root), WARD_ERR_INVALID);
}

static uint16_t local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static void test_bind_skips_ports_in_use(void **state)
{
	struct ward_ports p = {.n = 1, .size = 3};
	int a = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET, SOCK_STREAM, 0);
	int c = socket(AF_INET, SOCK_STREAM, 0), d = socket(AF_INET, SOCK_STREAM, 0);
	uint32_t cursor = 0;

	(void)state;
	p.range[0].lo = 64500;
	p.range[0].hi = 64502;
	assert_int_equal(ward_ports_bind(&p, &cursor, a, AF_INET), 0);
	assert_int_equal(local_port(a), 64500);
	cursor = 0; /* 64500 is taken: the next is tried */
	assert_int_equal(ward_ports_bind(&p, &cursor, b, AF_INET), 0);
	assert_int_equal(local_port(b), 64501);
	assert_int_equal(ward_ports_bind(&p, &cursor, c, AF_INET), 0);
	assert_int_equal(local_port(c), 64502);
	assert_int_equal(ward_ports_bind(&p, &cursor, d, AF_INET), WARD_ERR_NOTFOUND);
	p.size = 0;
	assert_int_equal(ward_ports_bind(&p, &cursor, d, AF_INET), WARD_ERR_NOTFOUND);
	close(a);
	close(b);
	close(c);
	close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pool),
	    cmocka_unit_test(test_bind_skips_ports_in_use),
	};

	return cmocka_run_group_tests_name("ports", tests, setup, teardown);
}
