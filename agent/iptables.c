/* ward's capture rules rendered as iptables-restore input: a pure function
 * of the options (iptables_apply.c applies them, iptables_cli.c is the
 * command). */
#include "agent/iptables.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ward_iptables_opts_init(struct ward_iptables_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->proxy_uid = WARD_IPTABLES_DEFAULT_ID;
	o->proxy_gid = WARD_IPTABLES_DEFAULT_ID;
	o->outbound_port = WARD_IPTABLES_DEFAULT_OUTBOUND_PORT;
	o->inbound_port = WARD_IPTABLES_DEFAULT_INBOUND_PORT;
	o->admin_port = WARD_IPTABLES_DEFAULT_ADMIN_PORT;
	o->tunnel_port = WARD_IPTABLES_DEFAULT_TUNNEL_PORT;
	o->in_include.all = true;
	o->out_include.all = true;
	o->out_cidr_include.all = true;
	o->ipv6 = WARD_IPTABLES_IPV6_AUTO;
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
const char ward_iptables_jump_source[] = "-A OUTPUT -p tcp -j WARD_SOURCE";
/* As `iptables -S` prints it, so that the apply step can count it. */
const char ward_iptables_jump_guard[] =
    "-A OUTPUT ! -o lo -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j WARD_GUARD";
#define GUARD_REJECT "REJECT --reject-with tcp-reset"

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
	put(w, "-A WARD_INBOUND -p tcp --dport %u -j RETURN\n", o->tunnel_port);
	for (size_t i = 0; i < o->in_exclude.n; i++)
		put(w, "-A WARD_INBOUND -p tcp --dport %u -j RETURN\n", o->in_exclude.port[i]);
	if (o->in_include.all)
		put(w, "-A WARD_INBOUND -p tcp -j WARD_IN_REDIRECT\n");
	for (size_t i = 0; i < o->in_include.n; i++)
		put(w, "-A WARD_INBOUND -p tcp --dport %u -j WARD_IN_REDIRECT\n",
		    o->in_include.port[i]);
}

/* One rule per captured (CIDR of this family) x (port), "*" dropping the
 * match, in chain with target: the capture itself, and the fail-closed guard. */
static void put_out_includes(struct sink *w, const struct ward_iptables_opts *o, int family,
			     const char *chain, const char *target)
{
	const struct ward_capture_cidrs *cl = &o->out_cidr_include;
	const struct ward_capture_ports *pl = &o->out_include;
	char d[INET6_ADDRSTRLEN + 16], p[32];
	size_t nc = cl->all ? 1 : cl->n, np = pl->all ? 1 : pl->n;

	for (size_t i = 0; i < nc; i++) {
		d[0] = '\0';
		if (!cl->all) {
			if (cl->cidr[i].family != family)
				continue;
			snprintf(d, sizeof(d), " -d ");
			ward_cidr_format(&cl->cidr[i], d + 4, sizeof(d) - 4);
		}
		for (size_t j = 0; j < np; j++) {
			p[0] = '\0';
			if (!pl->all)
				snprintf(p, sizeof(p), " --dport %u", pl->port[j]);
			put(w, "-A %s%s -p tcp%s -j %s\n", chain, d, p, target);
		}
	}
}

/* What outbound capture leaves alone, in chain: excluded CIDRs and ports. */
static void put_out_excludes(struct sink *w, const struct ward_iptables_opts *o, int family,
			     const char *chain)
{
	const struct ward_capture_cidrs *ex = &o->out_cidr_exclude;
	char c[INET6_ADDRSTRLEN + 8];

	for (size_t i = 0; i < ex->n; i++)
		if (ex->cidr[i].family == family)
			put(w, "-A %s -d %s -j RETURN\n", chain,
			    ward_cidr_format(&ex->cidr[i], c, sizeof(c)));
	for (size_t i = 0; i < o->out_exclude.n; i++)
		put(w, "-A %s -p tcp --dport %u -j RETURN\n", chain, o->out_exclude.port[i]);
}

static void put_outbound(struct sink *w, const struct ward_iptables_opts *o, int family)
{
	put(w, "-A WARD_REDIRECT -p tcp -j REDIRECT --to-ports %u\n", o->outbound_port);
	/* The agent's own upstream connections must reach the network as-is. */
	put(w, "-A WARD_OUTPUT -m owner --uid-owner %u -j RETURN\n", (unsigned)o->proxy_uid);
	put(w, "-A WARD_OUTPUT -m owner --gid-owner %u -j RETURN\n", (unsigned)o->proxy_gid);
	/* As Linkerd: nothing that stays on lo is meshed (localhost, own pod IP). */
	put(w, "-A WARD_OUTPUT -o lo -j RETURN\n");
	put_out_excludes(w, o, family, "WARD_OUTPUT");
	put_out_includes(w, o, family, "WARD_OUTPUT", "WARD_REDIRECT");
}

/* The fail-closed guard, in the filter table (see iptables.h). nat is only
 * consulted for a connection's first packet: an app SYN that matches a
 * conntrack entry the agent's own flow left (its peer reset it, so no
 * TIME-WAIT held the 4-tuple) skips the REDIRECT and would leave in clear.
 * Every SYN leaving the pod passes here; one in the capture scope that was
 * not REDIRECTed (no DNAT in its conntrack entry) and is not the agent's is
 * refused with a reset. The agent's own SYN that was REDIRECTed (it reused the
 * 4-tuple of an app flow) is refused too: it would loop back into the agent. */
static void put_guard_rules(struct sink *w, const struct ward_iptables_opts *o, int family)
{
	const char *owner[] = {"--uid-owner", "--gid-owner"};
	unsigned id[] = {(unsigned)o->proxy_uid, (unsigned)o->proxy_gid};

	for (int i = 0; i < 2; i++)
		put(w,
		    "-A WARD_GUARD -p tcp -m owner %s %u -m conntrack --ctstate DNAT "
		    "-j " GUARD_REJECT "\n",
		    owner[i], id[i]);
	for (int i = 0; i < 2; i++)
		put(w, "-A WARD_GUARD -m owner %s %u -j RETURN\n", owner[i], id[i]);
	/* Only ward's own REDIRECT passes (its reply comes from the outbound
	 * listener), not a DNAT by other nat rules that ran before ward's. */
	put(w, "-A WARD_GUARD -p tcp -m conntrack --ctstate DNAT --ctreplsrcport %u -j RETURN\n",
	    o->outbound_port);
	put_out_excludes(w, o, family, "WARD_GUARD");
	put_out_includes(w, o, family, "WARD_GUARD", GUARD_REJECT);
}

/* WARD_GUARD in filter, jumped to first from OUTPUT; removed (with its jumps)
 * when o is NULL. */
static void put_guard(struct sink *w, const struct ward_iptables_opts *o, int family,
		      const struct ward_iptables_jumps *existing)
{
	put(w, "*filter\n:WARD_GUARD - [0:0]\n");
	for (unsigned i = 0; existing && i < existing->guard; i++)
		put(w, "-D%s\n", ward_iptables_jump_guard + 2);
	if (o) {
		put_guard_rules(w, o, family);
		put(w, "-I%s\n", ward_iptables_jump_guard + 2);
	} else {
		put(w, "-X WARD_GUARD\n");
	}
	put(w, "COMMIT\n");
}

/* --preserve-source, one table: connections the agent opened from a caller's
 * (non-local) address are marked, and so are the app's replies to them
 * (mangle); the agent's side of them gets a conntrack zone (raw). */
static void put_source_rules(struct sink *w, const struct ward_iptables_opts *o, bool raw)
{
	const char *owner[] = {"--uid-owner", "--gid-owner"};
	unsigned id[] = {(unsigned)o->proxy_uid, (unsigned)o->proxy_gid};

	if (!raw)
		put(w, "-A WARD_SOURCE -m connmark --mark 0x%x -j MARK --set-mark 0x%x\n",
		    WARD_IPTABLES_SOURCE_MARK, WARD_IPTABLES_SOURCE_MARK);
	for (int i = 0; i < 2; i++) {
		put(w, "-A WARD_SOURCE -m owner %s %u -m addrtype ! --src-type LOCAL -j ", owner[i],
		    id[i]);
		if (raw)
			put(w, "CT --zone-orig %u\n", WARD_IPTABLES_SOURCE_ZONE);
		else
			put(w, "CONNMARK --set-mark 0x%x\n", WARD_IPTABLES_SOURCE_MARK);
	}
}

/* WARD_SOURCE in mangle and raw: installed with preserve_source, removed
 * when an earlier run left jumps to it; absent from the input otherwise. */
static void put_source(struct sink *w, const struct ward_iptables_opts *o,
		       const struct ward_iptables_jumps *existing)
{
	static const char *const tables[] = {"mangle", "raw"};
	bool install = o && o->preserve_source && !o->cleanup;

	if (!install && !(existing && (existing->source_mangle || existing->source_raw)))
		return;
	for (int raw = 0; raw < 2; raw++) {
		unsigned have = !existing ? 0
				: raw	  ? existing->source_raw
					  : existing->source_mangle;

		put(w, "*%s\n:WARD_SOURCE - [0:0]\n", tables[raw]);
		for (unsigned i = 0; i < have; i++)
			put(w, "-D%s\n", ward_iptables_jump_source + 2);
		if (install) {
			put_source_rules(w, o, raw);
			put(w, "%s\n", ward_iptables_jump_source);
		} else {
			put(w, "-X WARD_SOURCE\n");
		}
		put(w, "COMMIT\n");
	}
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
	put_guard(&w, o, family, existing);
	put_source(&w, o, existing);
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
	put_guard(&w, NULL, AF_UNSPEC, existing);
	put_source(&w, NULL, existing);
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
	const struct ward_iptables_jumps none = {0};
	const struct ward_iptables_jumps one = {.prerouting = 1,
						.output = 1,
						.guard = 1,
						.source_mangle = o->preserve_source,
						.source_raw = o->preserve_source};

	for (size_t i = 0; i < 2; i++) {
		char *text;

		if (fams[i].family == AF_INET6 && o->ipv6 == WARD_IPTABLES_IPV6_OFF)
			break;
		/* A cleanup preview assumes the rules are installed. */
		GUARD(ward_iptables_render_alloc(o, fams[i].family, o->cleanup ? &one : &none,
						 &text));
		fprintf(out, "# ward iptables: %s rules, input of `%s --noflush`\n%s", fams[i].name,
			fams[i].tool, text);
		free(text);
		if (o->preserve_source)
			fprintf(out,
				"# then, with iproute2:\n"
				"#   ip %s rule %s fwmark 0x%x lookup %u\n"
				"#   ip %s route %s table %u\n",
				i ? "-6" : "-4", o->cleanup ? "del" : "add",
				WARD_IPTABLES_SOURCE_MARK, WARD_IPTABLES_SOURCE_TABLE,
				i ? "-6" : "-4",
				o->cleanup ? "flush" : "replace local default dev lo",
				WARD_IPTABLES_SOURCE_TABLE);
	}
	ENSURE(fflush(out) == 0, WARD_ERR_IO, "writing the rules: %s", strerror(errno));
	return 0;
}
