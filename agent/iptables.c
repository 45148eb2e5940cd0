/* `ward iptables`: renders ward's capture rules and applies them with
 * iptables-restore. The init container runs it once per pod; it must be safe
 * to run again (a restarted init container) and to undo (--cleanup). */
#include "iptables.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_PROXY_ID 1337
#define DEFAULT_OUTBOUND_PORT 15001
#define DEFAULT_INBOUND_PORT 15006
#define DEFAULT_ADMIN_PORT 15020

void ward_iptables_opts_init(struct ward_iptables_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->proxy_uid = DEFAULT_PROXY_ID;
	o->proxy_gid = DEFAULT_PROXY_ID;
	o->outbound_port = DEFAULT_OUTBOUND_PORT;
	o->inbound_port = DEFAULT_INBOUND_PORT;
	o->admin_port = DEFAULT_ADMIN_PORT;
	o->in_include.all = true;
	o->out_include.all = true;
	o->out_cidr_include.all = true;
	o->ipv6 = WARD_IPTABLES_IPV6_AUTO;
}

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

int ward_iptables_parse_port(const char *s, uint16_t *port)
{
	unsigned long v;

	ENSURE(parse_uint(s, 65535, &v) == 0 && v > 0, WARD_ERR_INVALID,
	       "'%s' is not a port number (1-65535)", s);
	*port = (uint16_t)v;
	return 0;
}

int ward_iptables_parse_id(const char *s, uint32_t *id)
{
	unsigned long v;

	/* (uid_t)-1 means "no change" to the kernel; never a real owner. */
	ENSURE(parse_uint(s, UINT32_MAX - 1, &v) == 0, WARD_ERR_INVALID,
	       "'%s' is not a numeric id (0-%u)", s, UINT32_MAX - 1);
	*id = (uint32_t)v;
	return 0;
}

int ward_iptables_parse_cidr(const char *s, struct ward_iptables_cidr *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix;

	memset(out, 0, sizeof(*out));
	ENSURE(alen > 0 && alen < sizeof(addr), WARD_ERR_INVALID, "'%s' is not a CIDR", s);
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	out->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	ENSURE(inet_pton(out->family, addr, out->addr) == 1, WARD_ERR_INVALID,
	       "'%s' is not a CIDR (bad address '%s')", s, addr);
	prefix = out->family == AF_INET ? 32 : 128;
	if (slash)
		ENSURE(parse_uint(slash + 1, prefix, &prefix) == 0, WARD_ERR_INVALID,
		       "'%s' is not a CIDR (prefix length must be 0-%u)", s,
		       out->family == AF_INET ? 32 : 128);
	out->prefix = (uint8_t)prefix;
	/* Host bits cleared, as iptables itself would, so output is canonical. */
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * i : 0;

		out->addr[i] &= (uint8_t)(0xff00u >> keep);
	}
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
		ENSURE(*n < WARD_IPTABLES_MAX_LIST, WARD_ERR_RANGE, "more than %d entries",
		       WARD_IPTABLES_MAX_LIST);
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

static int add_port(const char *tok, void *ctx)
{
	struct ward_iptables_ports *l = ctx;

	return ward_iptables_parse_port(tok, &l->port[l->n]);
}

static int add_cidr(const char *tok, void *ctx)
{
	struct ward_iptables_cidrs *l = ctx;

	return ward_iptables_parse_cidr(tok, &l->cidr[l->n]);
}

int ward_iptables_parse_ports(const char *s, bool star_ok, struct ward_iptables_ports *out)
{
	return split_list(s, star_ok, &out->all, &out->n, add_port, out);
}

int ward_iptables_parse_cidrs(const char *s, bool star_ok, struct ward_iptables_cidrs *out)
{
	return split_list(s, star_ok, &out->all, &out->n, add_cidr, out);
}

enum {
	OPT_PROXY_UID = 256,
	OPT_PROXY_GID,
	OPT_OUTBOUND_PORT,
	OPT_INBOUND_PORT,
	OPT_ADMIN_PORT,
	OPT_IN_INCLUDE,
	OPT_IN_EXCLUDE,
	OPT_OUT_INCLUDE,
	OPT_OUT_EXCLUDE,
	OPT_CIDR_INCLUDE,
	OPT_CIDR_EXCLUDE,
	OPT_IPV6,
	OPT_DRY_RUN,
	OPT_CLEANUP,
};

static const struct option long_opts[] = {
    {"proxy-uid", required_argument, NULL, OPT_PROXY_UID},
    {"proxy-gid", required_argument, NULL, OPT_PROXY_GID},
    {"outbound-port", required_argument, NULL, OPT_OUTBOUND_PORT},
    {"inbound-port", required_argument, NULL, OPT_INBOUND_PORT},
    {"admin-port", required_argument, NULL, OPT_ADMIN_PORT},
    {"include-inbound-ports", required_argument, NULL, OPT_IN_INCLUDE},
    {"exclude-inbound-ports", required_argument, NULL, OPT_IN_EXCLUDE},
    {"include-outbound-ports", required_argument, NULL, OPT_OUT_INCLUDE},
    {"exclude-outbound-ports", required_argument, NULL, OPT_OUT_EXCLUDE},
    {"include-outbound-cidrs", required_argument, NULL, OPT_CIDR_INCLUDE},
    {"exclude-outbound-cidrs", required_argument, NULL, OPT_CIDR_EXCLUDE},
    {"ipv6", required_argument, NULL, OPT_IPV6},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"cleanup", no_argument, NULL, OPT_CLEANUP},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: ward iptables [options]\n\n"
	    "Installs (or with --cleanup removes) the nat-table rules that send this network\n"
	    "namespace's TCP traffic through the ward agent. Run once per pod, as the init\n"
	    "container, with CAP_NET_ADMIN. Running it again leaves one set of rules.\n\n"
	    "  --proxy-uid N                  uid of the ward agent, never captured (%d)\n"
	    "  --proxy-gid N                  gid of the ward agent, never captured (= uid)\n"
	    "  --outbound-port PORT           agent's outbound listener (%d)\n"
	    "  --inbound-port PORT            agent's inbound listener (%d)\n"
	    "  --admin-port PORT              agent's admin port, never captured inbound (%d)\n"
	    "  --include-inbound-ports LIST   inbound ports to capture, '*' = all (*)\n"
	    "  --exclude-inbound-ports LIST   inbound ports never captured (none)\n"
	    "  --include-outbound-ports LIST  outbound ports to capture, '*' = all (*)\n"
	    "  --exclude-outbound-ports LIST  outbound ports never captured (none)\n"
	    "  --include-outbound-cidrs LIST  destinations to capture, '*' = all (*)\n"
	    "  --exclude-outbound-cidrs LIST  destinations never captured (none)\n"
	    "  --ipv6 auto|on|off             IPv6 rules too; auto = when ip6tables-restore\n"
	    "                                 exists and the namespace has IPv6 (auto)\n"
	    "  --dry-run                      print the iptables-restore input, change nothing\n"
	    "  --cleanup                      remove ward's rules and chains, nothing else\n"
	    "  -h, --help                     this text\n\n"
	    "LIST is comma-separated. Traffic leaving through lo (localhost, the pod's own\n"
	    "address) is never captured. Exit status: 0 ok, 1 failed, 2 bad usage.\n",
	    DEFAULT_PROXY_ID, DEFAULT_OUTBOUND_PORT, DEFAULT_INBOUND_PORT, DEFAULT_ADMIN_PORT);
}

static int parse_ipv6(const char *s, enum ward_iptables_ipv6 *v)
{
	if (!strcmp(s, "auto"))
		*v = WARD_IPTABLES_IPV6_AUTO;
	else if (!strcmp(s, "on"))
		*v = WARD_IPTABLES_IPV6_ON;
	else if (!strcmp(s, "off"))
		*v = WARD_IPTABLES_IPV6_OFF;
	else
		return ward_err_set(WARD_ERR_INVALID, "'%s' is not one of auto, on, off", s);
	return 0;
}

static int parse_one(struct ward_iptables_opts *o, int opt, const char *arg, bool *gid_set)
{
	uint32_t id;

	switch (opt) {
	case OPT_PROXY_UID:
		GUARD(ward_iptables_parse_id(arg, &id));
		o->proxy_uid = id;
		return 0;
	case OPT_PROXY_GID:
		GUARD(ward_iptables_parse_id(arg, &id));
		o->proxy_gid = id;
		*gid_set = true;
		return 0;
	case OPT_OUTBOUND_PORT:
		return ward_iptables_parse_port(arg, &o->outbound_port);
	case OPT_INBOUND_PORT:
		return ward_iptables_parse_port(arg, &o->inbound_port);
	case OPT_ADMIN_PORT:
		return ward_iptables_parse_port(arg, &o->admin_port);
	case OPT_IN_INCLUDE:
		return ward_iptables_parse_ports(arg, true, &o->in_include);
	case OPT_IN_EXCLUDE:
		return ward_iptables_parse_ports(arg, false, &o->in_exclude);
	case OPT_OUT_INCLUDE:
		return ward_iptables_parse_ports(arg, true, &o->out_include);
	case OPT_OUT_EXCLUDE:
		return ward_iptables_parse_ports(arg, false, &o->out_exclude);
	case OPT_CIDR_INCLUDE:
		return ward_iptables_parse_cidrs(arg, true, &o->out_cidr_include);
	case OPT_CIDR_EXCLUDE:
		return ward_iptables_parse_cidrs(arg, false, &o->out_cidr_exclude);
	case OPT_IPV6:
		return parse_ipv6(arg, &o->ipv6);
	}
	return ward_err_set(WARD_ERR_INVALID, "unhandled option");
}

/* getopt_long's own messages would say "iptables: ..." on some paths and
 * nothing useful on others; ward names the option itself. */
static int bad_option(int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		return ward_err_set(WARD_ERR_INVALID, "option '%s' needs a value", arg);
	return ward_err_set(WARD_ERR_INVALID, "unknown option '%s' (see --help)", arg);
}

int ward_iptables_opts_parse(struct ward_iptables_opts *o, int argc, char **argv)
{
	bool gid_set = false;
	int opt, idx;

	ward_iptables_opts_init(o);
	optind = 0; /* full re-initialisation: the tests parse more than once */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", long_opts, &idx)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 1;
		}
		if (opt == OPT_DRY_RUN || opt == OPT_CLEANUP) {
			*(opt == OPT_DRY_RUN ? &o->dry_run : &o->cleanup) = true;
			continue;
		}
		if (opt == '?' || opt == ':')
			return bad_option(opt, argv);
		if (parse_one(o, opt, optarg, &gid_set) < 0)
			return ward_err_prefix(WARD_ERR_INVALID, "--%s '%s'", long_opts[idx].name,
					       optarg);
	}
	ENSURE(optind == argc, WARD_ERR_INVALID, "unexpected argument '%s'", argv[optind]);
	if (!gid_set)
		o->proxy_gid = o->proxy_uid;
	ENSURE(o->inbound_port != o->outbound_port, WARD_ERR_INVALID,
	       "--inbound-port and --outbound-port must differ (both %u)", o->inbound_port);
	return 0;
}

/* snprintf-style sink: counts everything, stores what fits. */
struct sink {
	char *buf;
	size_t len;
	size_t n;
};

static void put(struct sink *w, const char *fmt, ...) WARD_PRINTF(2, 3);

static void put(struct sink *w, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(w->n < w->len ? w->buf + w->n : NULL, w->n < w->len ? w->len - w->n : 0, fmt,
		      ap);
	va_end(ap);
	if (r > 0)
		w->n += (size_t)r;
}

static int sink_done(struct sink *w)
{
	if (w->len > 0 && w->n >= w->len)
		w->buf[w->len - 1] = '\0';
	ENSURE(w->n <= INT_MAX, WARD_ERR_RANGE, "ruleset too large");
	return (int)w->n;
}

static const char *const chains[] = {"WARD_INBOUND", "WARD_IN_REDIRECT", "WARD_OUTPUT",
				     "WARD_REDIRECT"};
const char ward_iptables_jump_prerouting[] = "-A PREROUTING -p tcp -j WARD_INBOUND";
const char ward_iptables_jump_output[] = "-A OUTPUT -p tcp -j WARD_OUTPUT";

static void put_chains(struct sink *w)
{
	/* With --noflush, declaring a chain creates it or empties it. */
	for (size_t i = 0; i < sizeof(chains) / sizeof(chains[0]); i++)
		put(w, ":%s - [0:0]\n", chains[i]);
}

static void put_deletes(struct sink *w, const struct ward_iptables_jumps *existing)
{
	for (unsigned i = 0; existing && i < existing->prerouting; i++)
		put(w, "-D%s\n", ward_iptables_jump_prerouting + 2);
	for (unsigned i = 0; existing && i < existing->output; i++)
		put(w, "-D%s\n", ward_iptables_jump_output + 2);
}

static void put_inbound(struct sink *w, const struct ward_iptables_opts *o)
{
	put(w, "-A WARD_IN_REDIRECT -p tcp -j REDIRECT --to-ports %u\n", o->inbound_port);
	put(w, "-A WARD_INBOUND -p tcp --dport %u -j RETURN\n", o->admin_port);
	for (size_t i = 0; i < o->in_exclude.n; i++)
		put(w, "-A WARD_INBOUND -p tcp --dport %u -j RETURN\n", o->in_exclude.port[i]);
	if (o->in_include.all)
		put(w, "-A WARD_INBOUND -p tcp -j WARD_IN_REDIRECT\n");
	for (size_t i = 0; i < o->in_include.n; i++)
		put(w, "-A WARD_INBOUND -p tcp --dport %u -j WARD_IN_REDIRECT\n",
		    o->in_include.port[i]);
}

static const char *cidr_str(const struct ward_iptables_cidr *c, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, addr, sizeof(addr)))
		addr[0] = '\0';
	snprintf(buf, len, "%s/%u", addr, c->prefix);
	return buf;
}

/* One capture rule per (CIDR of this family) x (port); "*" drops the match. */
static void put_out_includes(struct sink *w, const struct ward_iptables_opts *o, int family)
{
	const struct ward_iptables_cidrs *cl = &o->out_cidr_include;
	const struct ward_iptables_ports *pl = &o->out_include;
	char d[INET6_ADDRSTRLEN + 16], p[32];
	size_t nc = cl->all ? 1 : cl->n, np = pl->all ? 1 : pl->n;

	for (size_t i = 0; i < nc; i++) {
		d[0] = '\0';
		if (!cl->all) {
			if (cl->cidr[i].family != family)
				continue;
			snprintf(d, sizeof(d), " -d ");
			cidr_str(&cl->cidr[i], d + 4, sizeof(d) - 4);
		}
		for (size_t j = 0; j < np; j++) {
			p[0] = '\0';
			if (!pl->all)
				snprintf(p, sizeof(p), " --dport %u", pl->port[j]);
			put(w, "-A WARD_OUTPUT%s -p tcp%s -j WARD_REDIRECT\n", d, p);
		}
	}
}

static void put_outbound(struct sink *w, const struct ward_iptables_opts *o, int family)
{
	const struct ward_iptables_cidrs *ex = &o->out_cidr_exclude;
	char c[INET6_ADDRSTRLEN + 8];

	put(w, "-A WARD_REDIRECT -p tcp -j REDIRECT --to-ports %u\n", o->outbound_port);
	/* The agent's own upstream connections must reach the network as-is. */
	put(w, "-A WARD_OUTPUT -m owner --uid-owner %u -j RETURN\n", (unsigned)o->proxy_uid);
	put(w, "-A WARD_OUTPUT -m owner --gid-owner %u -j RETURN\n", (unsigned)o->proxy_gid);
	/* As Linkerd: nothing that stays on lo is meshed (localhost, own pod IP). */
	put(w, "-A WARD_OUTPUT -o lo -j RETURN\n");
	for (size_t i = 0; i < ex->n; i++)
		if (ex->cidr[i].family == family)
			put(w, "-A WARD_OUTPUT -d %s -j RETURN\n",
			    cidr_str(&ex->cidr[i], c, sizeof(c)));
	for (size_t i = 0; i < o->out_exclude.n; i++)
		put(w, "-A WARD_OUTPUT -p tcp --dport %u -j RETURN\n", o->out_exclude.port[i]);
	put_out_includes(w, o, family);
}

int ward_iptables_render(const struct ward_iptables_opts *o, int family,
			 const struct ward_iptables_jumps *existing, char *buf, size_t len)
{
	struct sink w = {buf, len, 0};

	ENSURE(family == AF_INET || family == AF_INET6, WARD_ERR_INVALID,
	       "address family %d is neither IPv4 nor IPv6", family);
	put(&w, "*nat\n");
	put_chains(&w);
	/* Delete-then-add in one transaction keeps exactly one jump each. */
	put_deletes(&w, existing);
	put_inbound(&w, o);
	put_outbound(&w, o, family);
	put(&w, "%s\n%s\nCOMMIT\n", ward_iptables_jump_prerouting, ward_iptables_jump_output);
	return sink_done(&w);
}

int ward_iptables_render_cleanup(const struct ward_iptables_jumps *existing, char *buf, size_t len)
{
	struct sink w = {buf, len, 0};

	put(&w, "*nat\n");
	/* Declaring first empties the chains (or creates missing ones), so the
	 * -X below neither fails on absent chains nor on references between
	 * them: cleanup succeeds when there is nothing to remove. */
	put_chains(&w);
	put_deletes(&w, existing);
	for (size_t i = 0; i < sizeof(chains) / sizeof(chains[0]); i++)
		put(&w, "-X %s\n", chains[i]);
	put(&w, "COMMIT\n");
	return sink_done(&w);
}

int ward_iptables_render_alloc(const struct ward_iptables_opts *o, int family,
			const struct ward_iptables_jumps *existing, char **text)
{
	int n = o->cleanup ? ward_iptables_render_cleanup(existing, NULL, 0)
			   : ward_iptables_render(o, family, existing, NULL, 0);

	GUARD(n);
	*text = malloc((size_t)n + 1);
	ENSURE(*text, WARD_ERR_NOMEM, "out of memory rendering %d bytes of rules", n);
	n = o->cleanup ? ward_iptables_render_cleanup(existing, *text, (size_t)n + 1)
		       : ward_iptables_render(o, family, existing, *text, (size_t)n + 1);
	if (n < 0) {
		free(*text);
		*text = NULL;
	}
	return n;
}

int ward_iptables_dry_run(const struct ward_iptables_opts *o, FILE *out)
{
	static const struct {
		int family;
		const char *name, *tool;
	} fams[] = {
	    {AF_INET, "IPv4", "iptables-restore"},
	    {AF_INET6, "IPv6", "ip6tables-restore"},
	};
	const struct ward_iptables_jumps none = {0, 0};
	const struct ward_iptables_jumps one = {1, 1};

	for (size_t i = 0; i < 2; i++) {
		char *text;

		if (fams[i].family == AF_INET6 && o->ipv6 == WARD_IPTABLES_IPV6_OFF)
			break;
		/* A cleanup preview assumes the rules are installed. */
		GUARD(ward_iptables_render_alloc(o, fams[i].family, o->cleanup ? &one : &none, &text));
		fprintf(out, "# ward iptables: %s rules, input of `%s --noflush`\n%s", fams[i].name,
			fams[i].tool, text);
		free(text);
	}
	ENSURE(fflush(out) == 0, WARD_ERR_IO, "writing the rules: %s", strerror(errno));
	return 0;
}

int ward_iptables_main(int argc, char **argv)
{
	struct ward_iptables_opts o;
	int rc;

	ward_err_clear();
	rc = ward_iptables_opts_parse(&o, argc, argv);
	if (rc == 1)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "ward iptables: %s\n", ward_err_msg());
		return 2;
	}
	rc = o.dry_run ? ward_iptables_dry_run(&o, stdout) : ward_iptables_apply(&o);
	if (rc < 0) {
		fprintf(stderr, "ward iptables: %s\n", ward_err_msg());
		return 1;
	}
	return 0;
}
