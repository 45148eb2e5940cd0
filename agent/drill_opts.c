/* `ward drill`'s command line: flags, durations, the plan, faults, targets.
 * Every reason names the flag and the value; see drill.h. */
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/drill.h"

#define DAY_MS (24ULL * 3600 * 1000)
#define MAX_RATE 10000
#define MAX_LONG 1000

static const char *const kind_names[] = {
    "svids", "ca", "root", "workload-api-down", "server-restart", "svid", "bundle",
};

const char *ward_drill_kind_name(enum ward_drill_kind k)
{
	return (size_t)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "?";
}

void ward_drill_usage(FILE *out)
{
	fputs("usage: ward drill --target ADDR --agent ADMIN_ADDR [--agent ...]\n"
	      "                  [--server-admin SOCKET [--plan LIST] [--interval DUR]]\n"
	      "                  [--fault SPEC --server-pid PID] [--json FILE] [--html FILE] ...\n"
	      "\n"
	      "Rehearses certificate rotation under load and proves nothing broke. It opens\n"
	      "new connections to the targets at --rate a second and keeps --long connections\n"
	      "open, each exchanging a message every 100 ms; it reads every agent's /certs and\n"
	      "/metrics about every 100 ms; with --server-admin it forces the plan's rotations\n"
	      "through ward server's admin socket, --interval apart, else it observes the\n"
	      "rotations that happen (SPIRE, cert-manager or spiffe-helper files) for\n"
	      "--duration. Then it reports each rotation and a verdict (README, \"Drills\").\n"
	      "\n"
	      "load\n"
	      "  -t, --target ADDR          ip:port of a TCP echo service, or http://ip:port/path\n"
	      "                             (numeric; repeatable, up to 16, used in turn)\n"
	      "  -r, --rate N               new connections a second, all targets (20; 0: none)\n"
	      "  -l, --long N               long-lived connections, a message each 100 ms (4)\n"
	      "watch\n"
	      "  -a, --agent ADMIN_ADDR     an agent's admin address, ip:port (repeatable,\n"
	      "                             at least one, up to 16)\n"
	      "act\n"
	      "  -s, --server-admin SOCKET  ward server's admin socket: force the plan\n"
	      "  -p, --plan LIST            kinds and counts, in order, e.g. svids:5,ca:2,root:1\n"
	      "                             (default svids,ca,root)\n"
	      "  -i, --interval DUR         from one step's trigger to the next (10s); a step\n"
	      "                             that takes longer is waited for, plus 1 s\n"
	      "  -f, --fault SPEC           workload-api-down:DUR (ward server stopped for DUR,\n"
	      "                             then started again) or server-restart; in the\n"
	      "                             middle of the plan (or of --duration); repeatable;\n"
	      "                             needs --server-pid\n"
	      "      --server-pid PID       ward server's pid: the drill stops it and starts it\n"
	      "                             again with the same command line, directory,\n"
	      "                             environment and output files\n"
	      "timing\n"
	      "  -d, --duration DUR         how long to observe (required without\n"
	      "                             --server-admin); with a plan it can only make the\n"
	      "                             drill longer\n"
	      "      --warmup DUR           load before the first step (3s): \"before\" latency\n"
	      "      --cooldown DUR         load after the last step (3s): \"after\" latency\n"
	      "      --max-propagation DUR  every rotation must reach every agent in DUR (5s)\n"
	      "output\n"
	      "  -j, --json FILE            every event and figure, as JSON\n"
	      "      --html FILE            one self-contained page with an SVG timeline\n"
	      "      --progress             the live line on stderr (default: on a terminal)\n"
	      "      --no-progress          no live line\n"
	      "  -h, --help                 this help\n"
	      "\n"
	      "DUR is a number with ms, s, m or h (500ms, 10s, 1.5m), at most a day. The\n"
	      "summary goes to stdout; errors and the live line go to stderr.\n"
	      "Exit status: 0 PASS; 1 FAIL (each broken condition is named, also when\n"
	      "interrupted); 2 bad usage, or an agent, the admin socket or the server pid\n"
	      "that cannot be reached at the start.\n",
	      out);
}

int ward_drill_parse_duration(const char *text, uint64_t *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	char *end;
	double v = strtod(text, &end);

	ENSURE(end != text && isdigit((unsigned char)text[0]), WARD_ERR_INVALID,
	       "\"%.40s\" is not a duration (e.g. 500ms, 10s, 2m)", text);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		ENSURE(isfinite(v) && v * units[i].ms <= (double)DAY_MS, WARD_ERR_INVALID,
		       "\"%.40s\": at most a day", text);
		*ms = (uint64_t)llround(v * units[i].ms);
		return 0;
	}
	return ward_err_set(WARD_ERR_INVALID, "\"%.40s\": the unit must be ms, s, m or h", text);
}

static int parse_kind(const char *name, size_t len, enum ward_drill_kind *out)
{
	for (size_t k = WARD_DRILL_SVIDS; k <= WARD_DRILL_ROOT; k++) {
		if (strlen(kind_names[k]) == len && !strncmp(name, kind_names[k], len)) {
			*out = (enum ward_drill_kind)k;
			return 0;
		}
	}
	return ward_err_set(WARD_ERR_INVALID, "\"%.*s\" is not svids, ca or root", (int)len, name);
}

/* One "kind[:count]" item of a plan. */
static int plan_item(const char *item, size_t len, struct ward_drill_step *steps, size_t max,
		     size_t *n)
{
	const char *colon = memchr(item, ':', len);
	enum ward_drill_kind kind = WARD_DRILL_SVIDS;
	unsigned long count = 1;
	char digits[16], *end;

	GUARD(parse_kind(item, colon ? (size_t)(colon - item) : len, &kind));
	if (colon) {
		size_t dl = len - (size_t)(colon + 1 - item);

		ENSURE(dl > 0 && dl < sizeof(digits), WARD_ERR_INVALID,
		       "\"%.*s\": the count must be a number from 1", (int)len, item);
		memcpy(digits, colon + 1, dl);
		digits[dl] = '\0';
		count = strtoul(digits, &end, 10);
		ENSURE(*end == '\0' && isdigit((unsigned char)digits[0]) && count >= 1,
		       WARD_ERR_INVALID, "\"%.*s\": the count must be a number from 1", (int)len,
		       item);
	}
	ENSURE(count <= max - *n, WARD_ERR_RANGE, "more than %zu steps", max);
	for (unsigned long i = 0; i < count; i++)
		steps[(*n)++] = (struct ward_drill_step){kind, 0};
	return 0;
}

int ward_drill_parse_plan(const char *text, struct ward_drill_step *steps, size_t max, size_t *n)
{
	const char *p = text;

	*n = 0;
	ENSURE(*text, WARD_ERR_INVALID, "the plan is empty");
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		ENSURE(len > 0, WARD_ERR_INVALID, "\"%.60s\": an empty item", text);
		GUARD(plan_item(p, len, steps, max, n));
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int ward_drill_parse_fault(const char *text, struct ward_drill_step *out)
{
	static const char down[] = "workload-api-down:";

	if (!strcmp(text, "server-restart")) {
		*out = (struct ward_drill_step){WARD_DRILL_RESTART, 0};
		return 0;
	}
	ENSURE(!strncmp(text, down, sizeof(down) - 1), WARD_ERR_INVALID,
	       "\"%.40s\" is not workload-api-down:DUR or server-restart", text);
	*out = (struct ward_drill_step){WARD_DRILL_API_DOWN, 0};
	GUARD(ward_drill_parse_duration(text + sizeof(down) - 1, &out->down_ms));
	ENSURE(out->down_ms >= 100, WARD_ERR_INVALID, "\"%.40s\": at least 100ms", text);
	return 0;
}

/* "http://1.2.3.4:80/path": host, address and path. */
static int parse_url(const char *text, struct ward_drill_target *t)
{
	const char *hostport = text + strlen("http://"), *slash = strchr(hostport, '/');
	size_t hl = slash ? (size_t)(slash - hostport) : strlen(hostport);

	ENSURE(hl > 0 && hl < sizeof(t->host), WARD_ERR_INVALID, "\"%.60s\": no host:port", text);
	memcpy(t->host, hostport, hl);
	t->host[hl] = '\0';
	snprintf(t->path, sizeof(t->path), "%s", slash ? slash : "/");
	ENSURE(strlen(slash ? slash : "/") < sizeof(t->path), WARD_ERR_INVALID,
	       "\"%.60s\": the path is too long", text);
	for (const char *c = t->path; *c; c++)
		ENSURE(*c > ' ' && *c < 0x7f, WARD_ERR_INVALID,
		       "\"%.60s\": the path must be printable ASCII without spaces", text);
	t->http = true;
	return ward_addr_parse(t->host, &t->addr);
}

int ward_drill_parse_target(const char *text, struct ward_drill_target *t)
{
	int rc;

	memset(t, 0, sizeof(*t));
	ENSURE(strlen(text) < sizeof(t->text), WARD_ERR_INVALID, "\"%.60s...\": too long", text);
	snprintf(t->text, sizeof(t->text), "%s", text);
	ENSURE(strncmp(text, "https://", 8), WARD_ERR_INVALID,
	       "\"%.60s\": plain http:// only: the mesh adds the TLS", text);
	if (!strncmp(text, "http://", 7))
		rc = parse_url(text, t);
	else
		rc = ward_addr_parse(text, &t->addr);
	if (rc < 0)
		return ward_err_set(WARD_ERR_INVALID,
				    "\"%.60s\" is not ip:port or http://ip:port/path (numeric "
				    "addresses: the drill resolves no names)",
				    text);
	ENSURE(ward_addr_port(&t->addr) != 0, WARD_ERR_INVALID, "\"%.60s\": port 0", text);
	return 0;
}

/* ---- the command line ------------------------------------------------------ */

enum {
	OPT_SERVER_PID = 256,
	OPT_WARMUP,
	OPT_COOLDOWN,
	OPT_MAX_PROPAGATION,
	OPT_HTML,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
};

static const struct option long_opts[] = {
    {"target", required_argument, NULL, 't'},
    {"rate", required_argument, NULL, 'r'},
    {"long", required_argument, NULL, 'l'},
    {"agent", required_argument, NULL, 'a'},
    {"server-admin", required_argument, NULL, 's'},
    {"plan", required_argument, NULL, 'p'},
    {"interval", required_argument, NULL, 'i'},
    {"fault", required_argument, NULL, 'f'},
    {"server-pid", required_argument, NULL, OPT_SERVER_PID},
    {"duration", required_argument, NULL, 'd'},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"cooldown", required_argument, NULL, OPT_COOLDOWN},
    {"max-propagation", required_argument, NULL, OPT_MAX_PROPAGATION},
    {"json", required_argument, NULL, 'j'},
    {"html", required_argument, NULL, OPT_HTML},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The flags as typed, before they are checked against each other. */
struct raw {
	const char *plan;
	struct ward_drill_step faults[8];
	size_t n_faults;
	bool duration_set;
};

static int number(const char *flag, const char *v, double min, double max, double *out)
{
	char *end;

	*out = strtod(v, &end);
	ENSURE(end != v && *end == '\0' && isfinite(*out) && *out >= min && *out <= max,
	       WARD_ERR_INVALID, "%s: \"%.40s\" must be a number from %g to %g", flag, v, min, max);
	return 0;
}

static int duration(const char *flag, const char *v, uint64_t *ms)
{
	if (ward_drill_parse_duration(v, ms) < 0)
		return ward_err_prefix(WARD_ERR_INVALID, "%s", flag);
	return 0;
}

static int add_agent(struct ward_drill_opts *o, const char *v)
{
	ENSURE(o->n_agents < WARD_DRILL_MAX_AGENTS, WARD_ERR_INVALID, "--agent: at most %d",
	       WARD_DRILL_MAX_AGENTS);
	if (ward_addr_parse(v, &o->agents[o->n_agents]) < 0 ||
	    ward_addr_port(&o->agents[o->n_agents]) == 0)
		return ward_err_set(WARD_ERR_INVALID,
				    "--agent: \"%.60s\" is not ip:port (the agent's admin.listen)",
				    v);
	snprintf(o->agent_text[o->n_agents++], sizeof(o->agent_text[0]), "%s", v);
	return 0;
}

static int one_opt(int opt, const char *v, struct ward_drill_opts *o, struct raw *raw)
{
	double d;

	switch (opt) {
	case 't':
		ENSURE(o->n_targets < WARD_DRILL_MAX_TARGETS, WARD_ERR_INVALID,
		       "--target: at most %d", WARD_DRILL_MAX_TARGETS);
		if (ward_drill_parse_target(v, &o->targets[o->n_targets]) < 0)
			return ward_err_prefix(WARD_ERR_INVALID, "--target");
		o->n_targets++;
		return 0;
	case 'r':
		GUARD(number("--rate", v, 0, MAX_RATE, &o->rate));
		return 0;
	case 'l':
		GUARD(number("--long", v, 0, MAX_LONG, &d));
		ENSURE(d == floor(d), WARD_ERR_INVALID, "--long: \"%.40s\" is not a whole number",
		       v);
		o->n_long = (unsigned)d;
		return 0;
	case 'a':
		return add_agent(o, v);
	case 's':
		o->server_admin = v;
		return 0;
	case 'p':
		raw->plan = v;
		return 0;
	case 'i':
		GUARD(duration("--interval", v, &o->interval_ms));
		ENSURE(o->interval_ms >= 100, WARD_ERR_INVALID, "--interval: at least 100ms");
		return 0;
	case 'f':
		ENSURE(raw->n_faults < 8, WARD_ERR_INVALID, "--fault: at most 8");
		if (ward_drill_parse_fault(v, &raw->faults[raw->n_faults]) < 0)
			return ward_err_prefix(WARD_ERR_INVALID, "--fault");
		raw->n_faults++;
		return 0;
	case OPT_SERVER_PID:
		GUARD(number("--server-pid", v, 1, 4194304, &d));
		o->server_pid = (pid_t)d;
		return 0;
	case 'd':
		raw->duration_set = true;
		return duration("--duration", v, &o->duration_ms);
	case OPT_WARMUP:
		return duration("--warmup", v, &o->warmup_ms);
	case OPT_COOLDOWN:
		return duration("--cooldown", v, &o->cooldown_ms);
	case OPT_MAX_PROPAGATION:
		return duration("--max-propagation", v, &o->max_propagation_ms);
	case 'j':
		o->json_path = v;
		return 0;
	case OPT_HTML:
		o->html_path = v;
		return 0;
	case OPT_PROGRESS:
	case OPT_NO_PROGRESS:
		o->progress = opt == OPT_PROGRESS;
		return 0;
	}
	return ward_err_set(WARD_ERR_INVALID, "unknown option");
}

/* The plan (or its default), with the faults in its middle. */
static int build_steps(struct ward_drill_opts *o, const struct raw *raw)
{
	struct ward_drill_step plan[WARD_DRILL_MAX_STEPS];
	size_t n = 0, mid;

	ENSURE(!raw->plan || o->server_admin, WARD_ERR_INVALID,
	       "--plan: forced rotations need --server-admin (without it the drill observes)");
	ENSURE(!raw->n_faults || o->server_pid, WARD_ERR_INVALID,
	       "--fault: the drill stops and starts ward server only when given its pid "
	       "(--server-pid)");
	if (o->server_admin && ward_drill_parse_plan(raw->plan ? raw->plan : "svids,ca,root", plan,
						     WARD_DRILL_MAX_STEPS - 8, &n) < 0)
		return ward_err_prefix(WARD_ERR_INVALID, "--plan");
	mid = n / 2;
	for (size_t i = 0; i < mid; i++)
		o->steps[o->n_steps++] = plan[i];
	for (size_t i = 0; i < raw->n_faults; i++)
		o->steps[o->n_steps++] = raw->faults[i];
	for (size_t i = mid; i < n; i++)
		o->steps[o->n_steps++] = plan[i];
	return 0;
}

static int check(struct ward_drill_opts *o, const struct raw *raw)
{
	ENSURE(o->n_targets > 0, WARD_ERR_INVALID,
	       "--target: at least one (ip:port of a TCP echo service, or an http:// URL)");
	ENSURE(o->n_agents > 0, WARD_ERR_INVALID,
	       "--agent: at least one agent's admin address (e.g. 127.0.0.1:15020)");
	ENSURE(o->rate > 0 || o->n_long > 0, WARD_ERR_INVALID,
	       "--rate 0 and --long 0: the drill needs some load");
	GUARD(build_steps(o, raw));
	ENSURE(o->server_admin || raw->duration_set, WARD_ERR_INVALID,
	       "--duration: how long to observe (no --server-admin, so nothing is forced)");
	if (!raw->duration_set)
		o->duration_ms = 0; /* a plan lasts as long as it takes */
	ENSURE(o->max_propagation_ms >= 100, WARD_ERR_INVALID, "--max-propagation: at least 100ms");
	return 0;
}

int ward_drill_opts_parse(int argc, char **argv, struct ward_drill_opts *o, bool *help)
{
	struct raw raw = {0};
	int opt;

	memset(o, 0, sizeof(*o));
	*o = (struct ward_drill_opts){.rate = 20,
				      .n_long = 4,
				      .interval_ms = 10000,
				      .duration_ms = 60000,
				      .warmup_ms = 3000,
				      .cooldown_ms = 3000,
				      .max_propagation_ms = 5000,
				      .progress = -1};
	*help = false;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":t:r:l:a:s:p:i:f:d:j:h", long_opts, NULL)) != -1) {
		if (opt == 'h') {
			*help = true;
			return 0;
		}
		ENSURE(opt != '?', WARD_ERR_INVALID, "unknown option %s", argv[optind - 1]);
		ENSURE(opt != ':', WARD_ERR_INVALID, "%s needs a value", argv[optind - 1]);
		GUARD(one_opt(opt, optarg, o, &raw));
	}
	ENSURE(optind == argc, WARD_ERR_INVALID, "unexpected argument \"%.60s\"", argv[optind]);
	return check(o, &raw);
}
