/* Unit tests of `ward iptables`: option parsing and the rendered
 * iptables-restore input. Nothing here needs root or touches the kernel. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/cli.h"
#include "agent/iptables.h"
#include "agent/iptables_ssh.h"

#define MAX_ARGS 32

/* parse(&o, "--x", "1", NULL): runs the real option parser on argv. */
static int parse(struct ward_iptables_opts *o, ...)
{
	char *argv[MAX_ARGS] = {"iptables"};
	int argc = 1;
	va_list ap;

	va_start(ap, o);
	while (argc < MAX_ARGS - 1 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	return ward_iptables_opts_parse(o, argc, argv);
}

static char *render(const struct ward_iptables_opts *o, int family,
		    const struct ward_iptables_jumps *existing)
{
	static char buf[1 << 16];
	int n = ward_iptables_render(o, family, existing, buf, sizeof(buf));

	assert_true(n > 0);
	assert_true((size_t)n < sizeof(buf));
	assert_int_equal(strlen(buf), n);
	return buf;
}

/* Number of lines of text exactly equal to line. */
static int lines(const char *text, const char *line)
{
	size_t n = strlen(line);
	int count = 0;

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			count++;
	return count;
}

static const char default_v4[] = "*nat\n"
				 ":WARD_INBOUND - [0:0]\n"
				 ":WARD_IN_REDIRECT - [0:0]\n"
				 ":WARD_OUTPUT - [0:0]\n"
				 ":WARD_REDIRECT - [0:0]\n"
				 "-A WARD_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n"
				 "-A WARD_INBOUND -p tcp --dport 15020 -j RETURN\n"
				 "-A WARD_INBOUND -p tcp --dport 15008 -j RETURN\n"
				 "-A WARD_INBOUND -p tcp -j WARD_IN_REDIRECT\n"
				 "-A WARD_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"
				 "-A WARD_OUTPUT -m owner --uid-owner 1337 -j RETURN\n"
				 "-A WARD_OUTPUT -m owner --gid-owner 1337 -j RETURN\n"
				 "-A WARD_OUTPUT -o lo -j RETURN\n"
				 "-A WARD_OUTPUT -p tcp -j WARD_REDIRECT\n"
				 "-A PREROUTING -p tcp -j WARD_INBOUND\n"
				 "-A OUTPUT -p tcp -j WARD_OUTPUT\n"
				 "COMMIT\n"
				 "*filter\n"
				 ":WARD_GUARD - [0:0]\n"
				 "-A WARD_GUARD -p tcp -m owner --uid-owner 1337 -m conntrack "
				 "--ctstate DNAT -j REJECT --reject-with tcp-reset\n"
				 "-A WARD_GUARD -p tcp -m owner --gid-owner 1337 -m conntrack "
				 "--ctstate DNAT -j REJECT --reject-with tcp-reset\n"
				 "-A WARD_GUARD -m owner --uid-owner 1337 -j RETURN\n"
				 "-A WARD_GUARD -m owner --gid-owner 1337 -j RETURN\n"
				 "-A WARD_GUARD -p tcp -m conntrack --ctstate DNAT "
				 "--ctreplsrcport 15001 -j RETURN\n"
				 "-A WARD_GUARD -p tcp -j REJECT --reject-with tcp-reset\n"
				 "-I OUTPUT ! -o lo -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN "
				 "-j WARD_GUARD\n"
				 "COMMIT\n";

static void test_defaults(void **state)
{
	struct ward_iptables_opts o;

	assert_int_equal(parse(&o, NULL), 0);
	assert_int_equal(o.proxy_uid, 1337);
	assert_int_equal(o.proxy_gid, 1337);
	assert_int_equal(o.outbound_port, 15001);
	assert_int_equal(o.inbound_port, 15006);
	assert_int_equal(o.admin_port, 15020);
	assert_int_equal(o.tunnel_port, 15008);
	assert_true(o.in_include.all && o.out_include.all && o.out_cidr_include.all);
	assert_int_equal(o.ipv6, WARD_IPTABLES_IPV6_AUTO);
	assert_false(o.dry_run || o.cleanup);
	assert_string_equal(render(&o, AF_INET, NULL), default_v4);
	/* Without CIDR lists the two families get the same rules. */
	assert_string_equal(render(&o, AF_INET6, NULL), default_v4);
}

static void test_gid_follows_uid(void **state)
{
	struct ward_iptables_opts o;
	char *text;

	assert_int_equal(parse(&o, "--proxy-uid", "999", NULL), 0);
	assert_int_equal(o.proxy_gid, 999);
	assert_int_equal(parse(&o, "--proxy-gid", "7", "--proxy-uid", "0", NULL), 0);
	assert_int_equal(o.proxy_uid, 0);
	assert_int_equal(o.proxy_gid, 7);
	text = render(&o, AF_INET, NULL);
	assert_int_equal(lines(text, "-A WARD_OUTPUT -m owner --uid-owner 0 -j RETURN"), 1);
	assert_int_equal(lines(text, "-A WARD_OUTPUT -m owner --gid-owner 7 -j RETURN"), 1);
}

static void test_ports(void **state)
{
	struct ward_iptables_opts o;
	char *text;

	assert_int_equal(parse(&o, "--outbound-port", "16001", "--inbound-port", "16006",
			       "--admin-port", "9901", "--tunnel-port", "16008",
			       "--include-inbound-ports", "80,8080", "--exclude-inbound-ports",
			       "22,9090", "--include-outbound-ports", "443",
			       "--exclude-outbound-ports", "25,3306", NULL),
			 0);
	text = render(&o, AF_INET, NULL);
	assert_int_equal(lines(text, "-A WARD_IN_REDIRECT -p tcp -j REDIRECT --to-ports 16006"), 1);
	assert_int_equal(lines(text, "-A WARD_REDIRECT -p tcp -j REDIRECT --to-ports 16001"), 1);
	assert_int_equal(lines(text, "-A WARD_INBOUND -p tcp --dport 9901 -j RETURN"), 1);
	assert_int_equal(lines(text, "-A WARD_INBOUND -p tcp --dport 16008 -j RETURN"), 1);
	assert_int_equal(lines(text, "-A WARD_INBOUND -p tcp --dport 22 -j RETURN"), 1);
	assert_int_equal(lines(text, "-A WARD_INBOUND -p tcp --dport 9090 -j RETURN"), 1);
	assert_int_equal(lines(text, "-A WARD_INBOUND -p tcp --dport 80 -j WARD_IN_REDIRECT"), 1);
	assert_int_equal(lines(text, "-A WARD_INBOUND -p tcp --dport 8080 -j WARD_IN_REDIRECT"), 1);
	/* An include list replaces the catch-all rule. */
	assert_int_equal(lines(text, "-A WARD_INBOUND -p tcp -j WARD_IN_REDIRECT"), 0);
	assert_int_equal(lines(text, "-A WARD_OUTPUT -p tcp -j WARD_REDIRECT"), 0);
	assert_int_equal(lines(text, "-A WARD_OUTPUT -p tcp --dport 443 -j WARD_REDIRECT"), 1);
	assert_int_equal(lines(text, "-A WARD_OUTPUT -p tcp --dport 25 -j RETURN"), 1);
	assert_int_equal(lines(text, "-A WARD_OUTPUT -p tcp --dport 3306 -j RETURN"), 1);
	/* RETURN rules must come before the rules that capture. */
	assert_true(strstr(text, "--dport 9090 -j RETURN") < strstr(text, "--dport 80 -j WARD_IN"));
	assert_true(strstr(text, "--dport 3306 -j RETURN") < strstr(text, "--dport 443 -j WARD_R"));
	assert_true(strstr(text, "--uid-owner") < strstr(text, "-j WARD_REDIRECT"));
}

static void test_empty_include_captures_nothing(void **state)
{
	struct ward_iptables_opts o;
	char *text;

	assert_int_equal(parse(&o, "--include-inbound-ports", "", NULL), 0);
	assert_false(o.in_include.all);
	assert_int_equal(o.in_include.n, 0);
	text = render(&o, AF_INET, NULL);
	assert_null(strstr(text, "-j WARD_IN_REDIRECT"));
	assert_non_null(strstr(text, "-j WARD_REDIRECT"));
}

static void test_cidr_family_split(void **state)
{
	struct ward_iptables_opts o;
	char *text;

	assert_int_equal(parse(&o, "--include-outbound-cidrs", "10.0.0.0/8,fd00::/8",
			       "--exclude-outbound-cidrs", "10.1.0.0/16,fd00:1::/32,169.254.1.1/32",
			       "--include-outbound-ports", "80,443", NULL),
			 0);
	text = render(&o, AF_INET, NULL);
	assert_int_equal(lines(text, "-A WARD_OUTPUT -d 10.1.0.0/16 -j RETURN"), 1);
	assert_int_equal(lines(text, "-A WARD_OUTPUT -d 169.254.1.1/32 -j RETURN"), 1);
	assert_int_equal(
	    lines(text, "-A WARD_OUTPUT -d 10.0.0.0/8 -p tcp --dport 80 -j WARD_REDIRECT"), 1);
	assert_int_equal(
	    lines(text, "-A WARD_OUTPUT -d 10.0.0.0/8 -p tcp --dport 443 -j WARD_REDIRECT"), 1);
	assert_null(strstr(text, "fd00"));
	assert_true(strstr(text, "10.1.0.0/16 -j RETURN") < strstr(text, "10.0.0.0/8"));

	text = render(&o, AF_INET6, NULL);
	assert_int_equal(lines(text, "-A WARD_OUTPUT -d fd00:1::/32 -j RETURN"), 1);
	assert_int_equal(
	    lines(text, "-A WARD_OUTPUT -d fd00::/8 -p tcp --dport 80 -j WARD_REDIRECT"), 1);
	assert_null(strstr(text, "10."));
	assert_null(strstr(text, "169.254"));
}

static void test_cidr_only_other_family(void **state)
{
	struct ward_iptables_opts o;

	/* An explicit v4-only include list captures no IPv6 destination. */
	assert_int_equal(parse(&o, "--include-outbound-cidrs", "10.0.0.0/8", NULL), 0);
	assert_null(strstr(render(&o, AF_INET6, NULL), "-j WARD_REDIRECT"));
	assert_int_equal(lines(render(&o, AF_INET, NULL),
			       "-A WARD_OUTPUT -d 10.0.0.0/8 -p tcp -j WARD_REDIRECT"),
			 1);
}

/* The config's rule for CIDRs (ward_cidr_parse): a prefix length, no host
 * bits; and no entry twice in one list. */
static void test_cidr_parse(void **state)
{
	struct ward_capture_cidrs l;
	struct ward_capture_ports p;
	char s[INET6_ADDRSTRLEN];

	assert_int_equal(ward_capture_parse_cidrs("10.0.0.0/8,fd00:a000::/20,::/0", false, &l), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.cidr[0].family, AF_INET);
	assert_int_equal(l.cidr[0].prefix_len, 8);
	assert_string_equal(inet_ntop(AF_INET, l.cidr[0].addr, s, sizeof(s)), "10.0.0.0");
	assert_int_equal(l.cidr[1].family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, l.cidr[1].addr, s, sizeof(s)), "fd00:a000::");
	assert_int_equal(l.cidr[2].prefix_len, 0);

	static const char *const bad[] = {"10.0.0.0/33", "10.0.0/8",   "1.2.3.4/",   "/8",
					  "fd00::/129",	 "::1",	       "10.1.2.3",   "host.example",
					  "1.2.3.4/8x",	 "1.2.3.4/-1", "256.0.0.0/8"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ward_capture_parse_cidrs(bad[i], false, &l) != WARD_ERR_INVALID)
			fail_msg("%s: accepted", bad[i]);
		assert_non_null(strstr(ward_err_msg(), "not a CIDR"));
	}
	assert_int_equal(ward_capture_parse_cidrs("10.1.2.3/8", false, &l), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "host bits set"));
	assert_int_equal(ward_capture_parse_cidrs("fd00:abcd::1/20", false, &l), WARD_ERR_INVALID);
	assert_int_equal(
	    ward_capture_parse_cidrs("10.0.0.0/8,192.168.0.0/16,10.0.0.0/8", false, &l),
	    WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "10.0.0.0/8 listed twice"));
	assert_int_equal(ward_capture_parse_ports("22,80,22", false, &p), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "port 22 listed twice"));
}

static void test_port_and_id_parse(void **state)
{
	uint16_t port;
	uint32_t id;

	assert_int_equal(ward_capture_parse_port("1", &port), 0);
	assert_int_equal(port, 1);
	assert_int_equal(ward_capture_parse_port("65535", &port), 0);
	assert_int_equal(port, 65535);
	static const char *const bad_ports[] = {
	    "0", "65536", "70000", "-1", "", "80a", " 80", "0x50", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad_ports) / sizeof(bad_ports[0]); i++)
		assert_int_equal(ward_capture_parse_port(bad_ports[i], &port), WARD_ERR_INVALID);

	assert_int_equal(ward_capture_parse_id("0", &id), 0);
	assert_int_equal(ward_capture_parse_id("4294967294", &id), 0);
	assert_int_equal(id, 4294967294u);
	static const char *const bad_ids[] = {"-1", "4294967295", "abc", "", "1337 "};
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++)
		assert_int_equal(ward_capture_parse_id(bad_ids[i], &id), WARD_ERR_INVALID);
}

static void test_lists(void **state)
{
	struct ward_capture_ports p;
	char many[WARD_CAPTURE_MAX_LIST * 6 + 8] = "";

	assert_int_equal(ward_capture_parse_ports("*", true, &p), 0);
	assert_true(p.all);
	assert_int_equal(ward_capture_parse_ports("*", false, &p), WARD_ERR_INVALID);
	assert_int_equal(ward_capture_parse_ports("80,*", true, &p), WARD_ERR_INVALID);
	assert_int_equal(ward_capture_parse_ports("80,", true, &p), WARD_ERR_INVALID);
	assert_int_equal(ward_capture_parse_ports(",80", true, &p), WARD_ERR_INVALID);
	assert_int_equal(ward_capture_parse_ports("80,81,82", true, &p), 0);
	assert_false(p.all);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.port[2], 82);
	for (int i = 0; i < WARD_CAPTURE_MAX_LIST; i++)
		sprintf(many + strlen(many), "%s%d", i ? "," : "", 1000 + i);
	assert_int_equal(ward_capture_parse_ports(many, false, &p), 0);
	assert_int_equal(p.n, WARD_CAPTURE_MAX_LIST);
	strcat(many, ",2000");
	assert_int_equal(ward_capture_parse_ports(many, false, &p), WARD_ERR_RANGE);
}

/* Every bad value is refused with a message naming the option and value. */
static void test_bad_options(void **state)
{
	static const struct {
		const char *opt, *val, *msg;
	} cases[] = {
	    {"--outbound-port", "0", "--outbound-port '0'"},
	    {"--inbound-port", "70000", "--inbound-port '70000'"},
	    {"--admin-port", "http", "--admin-port 'http'"},
	    {"--tunnel-port", "0", "--tunnel-port '0'"},
	    {"--proxy-uid", "-5", "--proxy-uid '-5'"},
	    {"--proxy-gid", "nobody", "--proxy-gid 'nobody'"},
	    {"--include-outbound-cidrs", "10.0.0.0/8,bad", "\"bad\" is not a CIDR"},
	    {"--exclude-outbound-cidrs", "10.0.0.0/40", "--exclude-outbound-cidrs"},
	    {"--exclude-outbound-cidrs", "*", "'*' must be the whole list"},
	    {"--exclude-inbound-ports", "22,0", "'0' is not a port"},
	    {"--exclude-inbound-ports", "22,9090,22", "port 22 listed twice"},
	    {"--exclude-outbound-cidrs", "169.254.169.254", "\"169.254.169.254\" is not a CIDR"},
	    {"--include-outbound-cidrs", "10.1.0.0/8", "\"10.1.0.0/8\" has host bits set"},
	    {"--outbound-port", "15020",
	     "--outbound-port and --admin-port must differ (both 15020)"},
	    {"--inbound-port", "15020", "--inbound-port and --admin-port must differ (both 15020)"},
	    {"--admin-port", "15001", "--outbound-port and --admin-port must differ (both 15001)"},
	    {"--ipv6", "maybe", "--ipv6 'maybe': 'maybe' is not one of auto, on, off"},
	};
	struct ward_iptables_opts o;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ward_err_clear();
		assert_int_equal(parse(&o, cases[i].opt, cases[i].val, NULL), WARD_ERR_INVALID);
		if (!strstr(ward_err_msg(), cases[i].msg))
			fail_msg("%s %s: message '%s' lacks '%s'", cases[i].opt, cases[i].val,
				 ward_err_msg(), cases[i].msg);
	}
	assert_int_equal(parse(&o, "--no-such-option", NULL), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "--no-such-option"));
	assert_int_equal(parse(&o, "--proxy-uid", NULL), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "needs a value"));
	assert_int_equal(parse(&o, "stray", NULL), WARD_ERR_INVALID);
	assert_int_equal(parse(&o, "--inbound-port", "15001", NULL), WARD_ERR_INVALID);
	assert_int_equal(parse(&o, "--tunnel-port", "15006", NULL), WARD_ERR_INVALID);
}

/* SSH_CONNECTION: which port the session came in on, and whether here. */
static void test_ssh_parse(void **state)
{
	static const char *const bad[] = {"",
					  "10.0.0.9 50122 127.0.0.1",
					  "a b c d",
					  "10.0.0.9 50122 127.0.0.1 99999",
					  "10.0.0.9 50122 127.0.0.1 22 extra",
					  "10.0.0.9 1 host 22"};
	uint16_t port;
	bool local;

	(void)state;
	assert_int_equal(ward_iptables_ssh_parse("10.0.0.9 50122 127.0.0.1 22", &port, &local), 0);
	assert_int_equal(port, 22);
	assert_true(local);
	assert_int_equal(ward_iptables_ssh_parse("10.0.0.9 50122 203.0.113.9 2222", &port, &local),
			 0);
	assert_int_equal(port, 2222);
	assert_false(local);
	assert_int_equal(ward_iptables_ssh_parse("2001:db8::9 50122 2001:db8::1 22", &port, &local),
			 0);
	assert_false(local);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ward_iptables_ssh_parse(bad[i], &port, &local) != WARD_ERR_INVALID)
			fail_msg("'%s': accepted", bad[i]);
}

/* Applying rules that capture this session's port needs an explicit choice. */
static void test_ssh_guard(void **state)
{
	const char *here = "10.0.0.9 50122 127.0.0.1 22";
	struct ward_iptables_opts o;

	(void)state;
	assert_int_equal(parse(&o, NULL), 0);
	assert_int_equal(ward_iptables_ssh_guard(&o, here), WARD_ERR_INVALID);
	assert_non_null(strstr(ward_err_msg(), "over SSH to port 22"));
	assert_non_null(strstr(ward_err_msg(), "--exclude-inbound-ports 22"));
	assert_non_null(strstr(ward_err_msg(), "--capture-ssh"));
	assert_int_equal(ward_iptables_ssh_guard(&o, NULL), 0);
	assert_int_equal(ward_iptables_ssh_guard(&o, ""), 0);
	assert_int_equal(ward_iptables_ssh_guard(&o, "10.0.0.9 50122 203.0.113.9 22"), 0);
	assert_int_equal(ward_iptables_ssh_guard(&o, "garbage"), WARD_ERR_INVALID);

	assert_int_equal(parse(&o, "--exclude-inbound-ports", "80,22", NULL), 0);
	assert_int_equal(ward_iptables_ssh_guard(&o, here), 0);
	assert_int_equal(parse(&o, "--include-inbound-ports", "80,443", NULL), 0);
	assert_int_equal(ward_iptables_ssh_guard(&o, here), 0);
	assert_int_equal(parse(&o, "--include-inbound-ports", "80,22", NULL), 0);
	assert_int_equal(ward_iptables_ssh_guard(&o, here), WARD_ERR_INVALID);
	assert_int_equal(parse(&o, "--capture-ssh", NULL), 0);
	assert_true(o.capture_ssh);
	assert_int_equal(ward_iptables_ssh_guard(&o, here), 0);
	assert_int_equal(parse(&o, "--cleanup", NULL), 0);
	assert_int_equal(ward_iptables_ssh_guard(&o, here), 0);
	assert_int_equal(parse(&o, NULL), 0); /* the admin port is never captured */
	assert_int_equal(ward_iptables_ssh_guard(&o, "10.0.0.9 50122 127.0.0.1 15020"), 0);
}

static void test_main_exit_status(void **state)
{
	char *bad[] = {"iptables", "--outbound-port", "0", NULL};
	char *ipv6[] = {"iptables", "--ipv6", "sometimes", NULL};

	assert_int_equal(ward_iptables_main(3, bad), 2);
	assert_int_equal(ward_iptables_main(3, ipv6), 2);
}

static void test_existing_jumps_replaced(void **state)
{
	struct ward_iptables_opts o;
	struct ward_iptables_jumps have = {.prerouting = 2, .output = 1};
	char *text;

	assert_int_equal(parse(&o, NULL), 0);
	text = render(&o, AF_INET, &have);
	assert_int_equal(lines(text, "-D PREROUTING -p tcp -j WARD_INBOUND"), 2);
	assert_int_equal(lines(text, "-D OUTPUT -p tcp -j WARD_OUTPUT"), 1);
	assert_int_equal(lines(text, "-A PREROUTING -p tcp -j WARD_INBOUND"), 1);
	assert_int_equal(lines(text, "-A OUTPUT -p tcp -j WARD_OUTPUT"), 1);
	/* Deletes must precede the re-add, all in one COMMIT per table. */
	assert_true(strstr(text, "-D PREROUTING") < strstr(text, "-A PREROUTING"));
	assert_int_equal(lines(text, "COMMIT"), 2);
}

/* The fail-closed guard mirrors the outbound capture scope exactly: what is
 * excluded passes, what would be captured but was not is refused, and what
 * is outside an include list is none of its business. */
static void test_guard(void **state)
{
	struct ward_iptables_opts o;
	struct ward_iptables_jumps have = {.guard = 2};
	char *text, buf[4096];

	assert_int_equal(parse(&o, "--include-outbound-cidrs", "10.0.0.0/8,fd00::/8",
			       "--include-outbound-ports", "80,443", "--exclude-outbound-cidrs",
			       "10.9.0.0/16", "--exclude-outbound-ports", "22", "--proxy-uid",
			       "1400", NULL),
			 0);
	text = render(&o, AF_INET, &have);
	assert_int_equal(lines(text, "-D OUTPUT ! -o lo -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK "
				     "SYN -j WARD_GUARD"),
			 2);
	assert_int_equal(lines(text, "-I OUTPUT ! -o lo -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK "
				     "SYN -j WARD_GUARD"),
			 1);
	assert_true(strstr(text, "-D OUTPUT ! -o lo") < strstr(text, "-I OUTPUT ! -o lo"));
	assert_int_equal(lines(text, "-A WARD_GUARD -m owner --uid-owner 1400 -j RETURN"), 1);
	assert_int_equal(lines(text, "-A WARD_GUARD -p tcp -m conntrack --ctstate DNAT "
				     "--ctreplsrcport 15001 -j RETURN"),
			 1);
	assert_int_equal(lines(text, "-A WARD_GUARD -d 10.9.0.0/16 -j RETURN"), 1);
	assert_int_equal(lines(text, "-A WARD_GUARD -p tcp --dport 22 -j RETURN"), 1);
	assert_int_equal(lines(text, "-A WARD_GUARD -d 10.0.0.0/8 -p tcp --dport 443 -j REJECT "
				     "--reject-with tcp-reset"),
			 1);
	/* The catch-all is only there when everything is captured. */
	assert_int_equal(lines(text, "-A WARD_GUARD -p tcp -j REJECT --reject-with tcp-reset"), 0);
	assert_null(strstr(text, "fd00::/8"));
	/* The exclusions come before the refusals. */
	assert_true(strstr(text, "-A WARD_GUARD -p tcp --dport 22 -j RETURN") <
		    strstr(text, "-A WARD_GUARD -d 10.0.0.0/8"));
	assert_true(ward_iptables_render_cleanup(&have, buf, sizeof(buf)) > 0);
	assert_int_equal(lines(buf, "-D OUTPUT ! -o lo -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK "
				    "SYN -j WARD_GUARD"),
			 2);
	assert_int_equal(lines(buf, "-X WARD_GUARD"), 1);
	assert_null(strstr(buf, "-A WARD_GUARD"));
}

static void test_cleanup_render(void **state)
{
	struct ward_iptables_jumps have = {.prerouting = 1, .output = 3};
	char buf[4096];
	int n;

	n = ward_iptables_render_cleanup(NULL, buf, sizeof(buf));
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	assert_null(strstr(buf, "-D "));
	assert_null(strstr(buf, "-A "));
	assert_int_equal(lines(buf, "-X WARD_INBOUND"), 1);
	assert_int_equal(lines(buf, "-X WARD_IN_REDIRECT"), 1);
	assert_int_equal(lines(buf, "-X WARD_OUTPUT"), 1);
	assert_int_equal(lines(buf, "-X WARD_REDIRECT"), 1);
	/* Declared (emptied) before deletion, so absent chains are no error. */
	assert_true(strstr(buf, ":WARD_OUTPUT - [0:0]") < strstr(buf, "-X WARD_OUTPUT"));
	/* Only ward's chains: never a built-in one or a flush of the table. */
	assert_null(strstr(buf, ":PREROUTING"));
	assert_null(strstr(buf, "-F"));

	n = ward_iptables_render_cleanup(&have, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(lines(buf, "-D PREROUTING -p tcp -j WARD_INBOUND"), 1);
	assert_int_equal(lines(buf, "-D OUTPUT -p tcp -j WARD_OUTPUT"), 3);
	assert_true(strstr(buf, "-D OUTPUT") < strstr(buf, "-X WARD_OUTPUT"));
}

static void test_render_truncates_like_snprintf(void **state)
{
	struct ward_iptables_opts o;
	char small[16];
	int full;

	assert_int_equal(parse(&o, NULL), 0);
	full = ward_iptables_render(&o, AF_INET, NULL, NULL, 0);
	assert_int_equal(full, strlen(default_v4));
	memset(small, 'x', sizeof(small));
	assert_int_equal(ward_iptables_render(&o, AF_INET, NULL, small, sizeof(small)), full);
	assert_int_equal(small[sizeof(small) - 1], '\0');
	assert_memory_equal(small, default_v4, sizeof(small) - 1);
	assert_int_equal(ward_iptables_render(&o, 12345, NULL, small, sizeof(small)),
			 WARD_ERR_INVALID);
}

/* --preserve-source: WARD_SOURCE in mangle and raw, one jump each; a rerun
 * without it removes them, and the default output never mentions them. */
static void test_preserve_source(void **state)
{
	struct ward_iptables_opts o;
	struct ward_iptables_jumps have = {.source_mangle = 1, .source_raw = 2};
	char *text, buf[4096];

	assert_int_equal(parse(&o, "--preserve-source", "--proxy-uid", "1400", NULL), 0);
	assert_true(o.preserve_source);
	text = render(&o, AF_INET6, NULL);
	assert_true(strstr(text, "*nat\n") < strstr(text, "*mangle\n"));
	assert_true(strstr(text, "*mangle\n") < strstr(text, "*raw\n"));
	assert_int_equal(lines(text, "COMMIT"), 4);
	assert_int_equal(lines(text, "-A OUTPUT -p tcp -j WARD_SOURCE"), 2);
	assert_int_equal(
	    lines(text, "-A WARD_SOURCE -m connmark --mark 0x7761 -j MARK --set-mark 0x7761"), 1);
	assert_int_equal(lines(text, "-A WARD_SOURCE -m owner --uid-owner 1400 -m addrtype ! "
				     "--src-type LOCAL -j CONNMARK --set-mark 0x7761"),
			 1);
	assert_int_equal(lines(text, "-A WARD_SOURCE -m owner --gid-owner 1400 -m addrtype ! "
				     "--src-type LOCAL -j CT --zone-orig 7761"),
			 1);
	text = render(&o, AF_INET, &have);
	assert_int_equal(lines(text, "-D OUTPUT -p tcp -j WARD_SOURCE"), 3);
	assert_int_equal(lines(text, "-A OUTPUT -p tcp -j WARD_SOURCE"), 2);
	assert_null(strstr(text, "-X WARD_SOURCE"));

	assert_int_equal(parse(&o, NULL), 0);
	assert_null(strstr(render(&o, AF_INET, NULL), "WARD_SOURCE"));
	text = render(&o, AF_INET, &have);
	assert_int_equal(lines(text, "-D OUTPUT -p tcp -j WARD_SOURCE"), 3);
	assert_int_equal(lines(text, "-X WARD_SOURCE"), 2);
	assert_null(strstr(text, "-A WARD_SOURCE"));
	assert_null(strstr(text, "-A OUTPUT -p tcp -j WARD_SOURCE"));

	assert_true(ward_iptables_render_cleanup(&have, buf, sizeof(buf)) > 0);
	assert_int_equal(lines(buf, "-X WARD_SOURCE"), 2);
	assert_true(ward_iptables_render_cleanup(NULL, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "WARD_SOURCE"));
}

static char *dry_run(struct ward_iptables_opts *o)
{
	static char out[1 << 16];
	FILE *f = fmemopen(out, sizeof(out), "w");

	assert_non_null(f);
	assert_int_equal(ward_iptables_dry_run(o, f), 0);
	fclose(f);
	return out;
}

static void test_dry_run(void **state)
{
	struct ward_iptables_opts o;
	char *out;

	assert_int_equal(
	    parse(&o, "--dry-run", "--exclude-outbound-cidrs", "10.9.0.0/16,fd09::/16", NULL), 0);
	assert_true(o.dry_run);
	out = dry_run(&o);
	assert_non_null(strstr(out, "# ward iptables: IPv4 rules"));
	assert_non_null(strstr(out, "# ward iptables: IPv6 rules"));
	assert_int_equal(lines(out, "COMMIT"), 4); /* nat and filter, each family */
	assert_int_equal(lines(out, "-A OUTPUT -p tcp -j WARD_OUTPUT"), 2);
	/* Each CIDR lands in its own family's section only. */
	assert_true(strstr(out, "10.9.0.0/16") < strstr(out, "# ward iptables: IPv6"));
	assert_true(strstr(out, "fd09::/16") > strstr(out, "# ward iptables: IPv6"));

	assert_int_equal(parse(&o, "--dry-run", "--ipv6", "off", NULL), 0);
	out = dry_run(&o);
	assert_null(strstr(out, "IPv6"));
	assert_int_equal(lines(out, "COMMIT"), 2);

	assert_int_equal(parse(&o, "--dry-run", "--cleanup", "--ipv6", "on", NULL), 0);
	out = dry_run(&o);
	assert_int_equal(lines(out, "-D PREROUTING -p tcp -j WARD_INBOUND"), 2);
	assert_int_equal(lines(out, "-X WARD_REDIRECT"), 2);
	assert_int_equal(lines(out, "-X WARD_GUARD"), 2);
	assert_null(strstr(out, "-A "));
	assert_null(strstr(out, "WARD_SOURCE"));

	assert_int_equal(parse(&o, "--dry-run", "--preserve-source", "--ipv6", "on", NULL), 0);
	out = dry_run(&o);
	assert_int_equal(lines(out, "#   ip -4 rule add fwmark 0x7761 lookup 7761"), 1);
	assert_int_equal(lines(out, "#   ip -6 route replace local default dev lo table 7761"), 1);
	assert_int_equal(lines(out, "-A OUTPUT -p tcp -j WARD_SOURCE"), 4);
	assert_int_equal(parse(&o, "--dry-run", "--preserve-source", "--cleanup", NULL), 0);
	out = dry_run(&o);
	assert_int_equal(lines(out, "-X WARD_SOURCE"), 4);
	assert_int_equal(lines(out, "#   ip -4 rule del fwmark 0x7761 lookup 7761"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_gid_follows_uid),
	    cmocka_unit_test(test_ports),
	    cmocka_unit_test(test_empty_include_captures_nothing),
	    cmocka_unit_test(test_cidr_family_split),
	    cmocka_unit_test(test_cidr_only_other_family),
	    cmocka_unit_test(test_cidr_parse),
	    cmocka_unit_test(test_ssh_parse),
	    cmocka_unit_test(test_ssh_guard),
	    cmocka_unit_test(test_port_and_id_parse),
	    cmocka_unit_test(test_lists),
	    cmocka_unit_test(test_bad_options),
	    cmocka_unit_test(test_main_exit_status),
	    cmocka_unit_test(test_existing_jumps_replaced),
	    cmocka_unit_test(test_guard),
	    cmocka_unit_test(test_cleanup_render),
	    cmocka_unit_test(test_render_truncates_like_snprintf),
	    cmocka_unit_test(test_dry_run),
	    cmocka_unit_test(test_preserve_source),
	};

	return cmocka_run_group_tests_name("iptables", tests, NULL, NULL);
}
