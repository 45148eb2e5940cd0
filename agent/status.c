#include "agent/status.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/admin_client.h"
#include "agent/cli.h"
#include "agent/metrics.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: ward status [--admin ADDR | --config FILE] [--json]\n\n"
		     "Asks a running agent's admin endpoint for a summary: identity and expiry,\n"
		     "listeners, connection counts, handshake success rate and p50/p99\n"
		     "handshake time since start, top failure reasons.\n\n"
		     "  -a, --admin ADDR   the agent's admin address (default 127.0.0.1:15020)\n"
		     "  -c, --config FILE  take the address from the config's admin.listen\n"
		     "      --json         print the agent's /stats document as it is\n"
		     "  -h, --help         this help\n\n"
		     "Exit status: 0 the agent answered and is ready, 1 not ready or no answer,\n"
		     "2 bad usage.\n");
}

static void duration(double s, char *buf, size_t len)
{
	long t = (long)s;

	if (t >= 86400)
		snprintf(buf, len, "%ldd%02ldh", t / 86400, t % 86400 / 3600);
	else if (t >= 3600)
		snprintf(buf, len, "%ldh%02ldm", t / 3600, t % 3600 / 60);
	else if (t >= 60)
		snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(buf, len, "%lds", t);
}

/* The histogram as /stats gives it ("counts": one per bucket and +Inf). */
static int hist_of(const json_t *h, struct ward_hist_snap *s)
{
	const json_t *counts = json_object_get(h, "counts");

	memset(s, 0, sizeof(*s));
	ENSURE(json_array_size(counts) == WARD_HIST_BOUNDS + 1, WARD_ERR_INVALID,
	       "/stats: a histogram without %d buckets", WARD_HIST_BOUNDS + 1);
	for (size_t i = 0; i <= WARD_HIST_BOUNDS; i++) {
		s->buckets[i] = (uint64_t)json_integer_value(json_array_get(counts, i));
		s->count += s->buckets[i];
	}
	return 0;
}

static json_int_t num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static int print_dir(const json_t *stats, const char *dir, FILE *out)
{
	const json_t *d = json_object_get(stats, dir);
	struct ward_hist_snap h;
	json_int_t ok = num(d, "handshakes_ok"), bad = num(d, "handshakes_failed");

	ENSURE(json_is_object(d), WARD_ERR_INVALID, "/stats: no \"%s\"", dir);
	GUARD(hist_of(json_object_get(d, "handshake_seconds"), &h));
	fprintf(out, "  %-9s %lld active, %lld proxied, %lld denied by policy\n", dir,
		(long long)num(d, "active"), (long long)num(d, "proxied"),
		(long long)num(d, "authz_denied"));
	if (ok + bad == 0) {
		fprintf(out, "  %-9s no handshakes yet\n", "");
		return 0;
	}
	fprintf(out, "  %-9s %lld handshakes, %.1f%% successful", "", (long long)(ok + bad),
		100.0 * (double)ok / (double)(ok + bad));
	if (h.count)
		fprintf(out, ", p50 %.2f ms, p99 %.2f ms", ward_hist_quantile(&h, 0.5) * 1e3,
			ward_hist_quantile(&h, 0.99) * 1e3);
	fputc('\n', out);
	return 0;
}

struct reason {
	const char *name, *dir;
	json_int_t n;
};

static int by_count(const void *a, const void *b)
{
	const struct reason *x = a, *y = b;

	return (y->n > x->n) - (y->n < x->n);
}

static void print_reasons(const json_t *stats, FILE *out)
{
	static const char *const dirs[] = {"outbound", "inbound"};
	struct reason r[2 * WARD_REASONS];
	size_t n = 0;

	for (int d = 0; d < 2; d++) {
		const json_t *reasons =
		    json_object_get(json_object_get(stats, dirs[d]), "failure_reasons");
		const char *key;
		json_t *v;

		json_object_foreach((json_t *)reasons, key, v)
		{
			if (n < sizeof(r) / sizeof(r[0]))
				r[n++] = (struct reason){key, dirs[d], json_integer_value(v)};
		}
	}
	if (n == 0) {
		fprintf(out, "failures     none\n"); /* aligned with the list below */
		return;
	}
	qsort(r, n, sizeof(r[0]), by_count);
	fprintf(out, "failures    ");
	for (size_t i = 0; i < n && i < 5; i++)
		fprintf(out, "%s %s %lld (%s)", i ? "," : "", r[i].name, (long long)r[i].n,
			r[i].dir);
	fputc('\n', out);
}

static void print_identity(const json_t *stats, time_t now, FILE *out)
{
	const char *id = json_string_value(json_object_get(stats, "spiffe_id"));
	json_int_t exp = num(stats, "svid_expiry");
	char left[32], when[32];
	time_t t = (time_t)exp;
	struct tm tm;

	if (!id) {
		fprintf(out, "identity     none loaded yet\n");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	duration(exp > now ? (double)(exp - now) : (double)(now - exp), left, sizeof(left));
	fprintf(out, "identity     %s\n  expires    %s (%s%s%s), %lld rotations\n", id, when,
		exp > now ? "in " : "EXPIRED ", left, exp > now ? "" : " ago",
		(long long)num(stats, "svid_rotations"));
}

int ward_status_print(const json_t *stats, time_t now, FILE *out)
{
	const json_t *l = json_object_get(stats, "listeners");
	const char *why = json_string_value(json_object_get(stats, "not_ready"));
	double start = json_number_value(json_object_get(stats, "start_time"));
	char up[32];

	ENSURE(json_is_object(l), WARD_ERR_INVALID, "/stats: no \"listeners\"");
	duration((double)now - start, up, sizeof(up));
	fprintf(out, "agent        %s%s, up %s, %lld workers, log level %s\n",
		why ? "NOT READY: " : "ready", why ? why : "", up, (long long)num(stats, "workers"),
		json_string_value(json_object_get(stats, "log_level")));
	print_identity(stats, now, out);
	fprintf(out, "listeners    outbound %s, inbound %s (%s), admin %s\n",
		json_string_value(json_object_get(l, "outbound")),
		json_string_value(json_object_get(l, "inbound")),
		json_string_value(json_object_get(l, "inbound_mode")),
		json_string_value(json_object_get(l, "admin")));
	fprintf(out, "connections  (%lld refused at accept)\n", (long long)num(stats, "refused"));
	GUARD(print_dir(stats, "outbound", out));
	GUARD(print_dir(stats, "inbound", out));
	print_reasons(stats, out);
	return 0;
}

static int admin_addr(const char *admin, const char *config, struct ward_addr *out)
{
	struct ward_config *cfg;

	if (!config)
		return ward_addr_parse(admin ? admin : "127.0.0.1:15020", out);
	GUARD(ward_config_load_file(config, &cfg));
	*out = cfg->admin.listen;
	ward_config_free(cfg);
	return 0;
}

int ward_status_main(int argc, char **argv)
{
	static const struct option opts[] = {{"admin", required_argument, NULL, 'a'},
					     {"config", required_argument, NULL, 'c'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *admin = NULL, *config = NULL;
	struct ward_addr addr;
	json_t *stats = NULL;
	bool json = false;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "a:c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			admin = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (admin && config)) {
		fprintf(stderr, "ward status: %s\n",
			optind != argc ? "unexpected argument"
				       : "give --admin or --config, not both");
		usage(stderr);
		return 2;
	}
	/* A bad address or config is named; the usage would only bury it. */
	if (admin_addr(admin, config, &addr) < 0) {
		fprintf(stderr, "ward status: %s%s\n", admin ? "--admin: " : "", ward_err_msg());
		return 2;
	}
	if (ward_admin_get_json(&addr, "/stats", &stats) < 0) {
		fprintf(stderr, "ward status: %s\n", ward_err_msg());
		return 1;
	}
	if (json) {
		json_dumpf(stats, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		rc = 0;
	} else {
		rc = ward_status_print(stats, time(NULL), stdout);
		if (rc < 0)
			fprintf(stderr, "ward status: %s\n", ward_err_msg());
	}
	if (rc == 0 && !json_is_true(json_object_get(stats, "ready")))
		rc = -1;
	json_decref(stats);
	return rc < 0 ? 1 : 0;
}
