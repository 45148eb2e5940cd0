/* `ward drill`: a cert-rotation drill as a command. While it generates load
 * of its own through the mesh (new connections at a rate, long-lived ones
 * exchanging a message every 100 ms), it watches every agent's /certs and
 * /metrics about every 100 ms, forces the rotations of a plan through `ward
 * server`'s admin socket (or observes the rotations that happen, under SPIRE
 * or identity files), can take ward server down in the middle, and reports
 * per rotation what the workloads saw; PASS only when nothing broke.
 *
 * The pieces, all on one libuv loop:
 *   drill_opts.c    flags, durations, the plan, faults, targets (pure)
 *   drill_conn.c    one TCP client connection: echo or HTTP exchanges
 *   drill_load.c    the load: new connections and long-lived ones
 *   drill_watch.c   the agents' /certs and /metrics, into samples
 *   drill_sample.c  parsing /certs and /metrics (pure)
 *   drill_act.c     the plan's rotations and faults
 *   drill_server.c  the ward server process the faults stop and start
 *   drill_record.c  what was seen, in time order (the report's input)
 *   drill_report.c  the report (JSON), from the record (pure), with
 *                   drill_rotations.c (which rotations), drill_verdict.c
 *                   (PASS or FAIL) and drill_timeline.c (per 100 ms, events)
 *   drill_text.c    the summary on stdout, from the report
 *   drill_html.c    one self-contained HTML page with an SVG timeline
 *   drill_cli.c     the command: flags, progress line, exit status
 * Times are milliseconds since the drill started (uv_hrtime), as doubles. */
#ifndef WARD_AGENT_DRILL_H
#define WARD_AGENT_DRILL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "agent/metrics.h"
#include "lib/addr.h"
#include "lib/err.h"

#define WARD_DRILL_MAX_TARGETS 16
#define WARD_DRILL_MAX_AGENTS 16
#define WARD_DRILL_MAX_STEPS 256
#define WARD_DRILL_MAX_BUNDLE 16 /* CAs per agent bundle that are tracked */
#define WARD_DRILL_SERIAL_MAX 80
#define WARD_DRILL_BUCKET_MS 100 /* the timeline's resolution */

/* ---- options ------------------------------------------------------------ */

enum ward_drill_kind {
	WARD_DRILL_SVIDS,	  /* rotate svids */
	WARD_DRILL_CA,		  /* rotate ca */
	WARD_DRILL_ROOT,	  /* rotate root */
	WARD_DRILL_API_DOWN,	  /* fault: ward server stopped for down_ms, then started */
	WARD_DRILL_RESTART,	  /* fault: ward server restarted */
	WARD_DRILL_OBSERVED_SVID, /* seen, not forced: an agent's SVID changed */
	WARD_DRILL_OBSERVED_CA,	  /* seen, not forced: a CA joined the agents' bundles */
};
const char *ward_drill_kind_name(enum ward_drill_kind k);

struct ward_drill_step {
	enum ward_drill_kind kind;
	uint64_t down_ms; /* WARD_DRILL_API_DOWN */
};

struct ward_drill_target {
	char text[160]; /* as given */
	bool http;	/* http://host:port/path, else host:port (TCP echo) */
	struct ward_addr addr;
	char host[80]; /* the Host header */
	char path[96];
};

struct ward_drill_opts {
	struct ward_drill_target targets[WARD_DRILL_MAX_TARGETS];
	size_t n_targets;
	double rate;	 /* new connections per second, over all targets */
	unsigned n_long; /* long-lived connections */
	struct ward_addr agents[WARD_DRILL_MAX_AGENTS];
	char agent_text[WARD_DRILL_MAX_AGENTS][64];
	size_t n_agents;
	const char *server_admin;			    /* NULL: observe */
	pid_t server_pid;				    /* 0: faults impossible */
	struct ward_drill_step steps[WARD_DRILL_MAX_STEPS]; /* plan, faults in the middle */
	size_t n_steps;
	uint64_t interval_ms, duration_ms, warmup_ms, cooldown_ms, max_propagation_ms;
	const char *json_path, *html_path;
	int progress; /* 1 on, 0 off, -1 when stderr is a terminal */
};

/* "10s", "500ms", "2m", "1.5s", "1h": a duration of at most a day. */
int ward_drill_parse_duration(const char *text, uint64_t *ms) WARD_MUST_CHECK;
/* "svids:5,ca:2,root:1" (a kind alone counts once): the steps in order. */
int ward_drill_parse_plan(const char *text, struct ward_drill_step *steps, size_t max,
			  size_t *n) WARD_MUST_CHECK;
/* "workload-api-down:20s" or "server-restart". */
int ward_drill_parse_fault(const char *text, struct ward_drill_step *out) WARD_MUST_CHECK;
/* "10.0.0.2:8080" (TCP echo) or "http://10.0.0.2:8080/path" (numeric). */
int ward_drill_parse_target(const char *text, struct ward_drill_target *out) WARD_MUST_CHECK;
/* The whole command line (argv[0] is "drill"). WARD_ERR_INVALID with the
 * reason for a usage error; *help when --help was asked. */
int ward_drill_opts_parse(int argc, char **argv, struct ward_drill_opts *o,
			  bool *help) WARD_MUST_CHECK;
void ward_drill_usage(FILE *out);

/* ---- how a piece of the drill stops (drill_record.c) ---------------------- */

/* The load, the watch and the actions each count what they hold open
 * (libuv handles, calls under way); once stopping and down to zero, the
 * owner is told and the piece frees itself. */
struct ward_drill_life {
	unsigned open;
	bool stopping;
	void (*done)(void *arg);
	void *arg;
};
/* Starts stopping; false when it already was. */
bool ward_drill_life_stop(struct ward_drill_life *l, void (*done)(void *arg), void *arg);
/* One thing closed. True when the piece must free itself now: it was
 * stopping, nothing is open, and done has been told. */
bool ward_drill_life_put(struct ward_drill_life *l);

/* ---- the record: what was seen ------------------------------------------ */

/* Why a request or a long-lived connection failed. */
enum ward_drill_why {
	WARD_DRILL_OK,
	WARD_DRILL_REFUSED,	    /* connect: refused */
	WARD_DRILL_CONNECT_TIMEOUT, /* connect: no answer */
	WARD_DRILL_CONNECT_FAILED,  /* connect: another error */
	WARD_DRILL_RESET,	    /* the peer reset the connection */
	WARD_DRILL_CLOSED,	    /* the peer closed before the answer was whole */
	WARD_DRILL_TIMEOUT,	    /* no (whole) answer within 5 s */
	WARD_DRILL_MISMATCH,	    /* the echo differs from what was sent */
	WARD_DRILL_HTTP_STATUS,	    /* an HTTP status of 400 or more */
	WARD_DRILL_BAD_RESPONSE,    /* not HTTP, or too big */
	WARD_DRILL_IO,		    /* a local error (no memory, no socket) */
	WARD_DRILL_N_WHY
};
const char *ward_drill_why_name(enum ward_drill_why why);

/* One look at one agent. */
struct ward_drill_sample {
	double t;			   /* the look started */
	double t_seen;			   /* /certs answered: what it says held by then */
	bool ok;			   /* /certs and /metrics both answered */
	bool has_svid;			   /* spiffe_id was not null */
	int serial;			   /* interned serial of the SVID served */
	int64_t not_after;		   /* of that SVID, unix seconds */
	int64_t wall;			   /* the drill's clock at the sample, unix seconds */
	int bundle[WARD_DRILL_MAX_BUNDLE]; /* interned serials of the CAs trusted */
	size_t n_bundle;
	uint64_t hs_fail[WARD_REASONS]; /* both directions */
	uint64_t hs_ok, hs_count;	/* handshakes; hs_count of the histogram */
	double hs_sum_s;		/* histogram sum, seconds */
	int wl_connected;		/* ward_workload_api_connected; -1 unknown */
};

struct ward_drill_req {
	double t0, t1;
	uint8_t why; /* enum ward_drill_why */
	uint8_t target;
};

struct ward_drill_drop {
	double t;
	unsigned conn;
	uint8_t why;
};

/* A forced step as it went. */
struct ward_drill_action {
	enum ward_drill_kind kind;
	double t_trigger, t_done; /* t_done: reply, or the server back and agents reconnected */
	double t_down, t_up;	  /* faults: server stopped, started again */
	uint64_t down_ms;	  /* workload-api-down: for how long */
	bool ok;
	char error[256];
	int new_ca;    /* interned serial of the CA it brought; -1 none */
	json_t *reply; /* owned: the server's reply */
};

struct ward_drill_record {
	double t_end;
	int64_t wall_start_ms; /* unix ms when t was 0 */
	char **strings;	       /* interned */
	size_t n_strings;
	struct ward_drill_sample *samples[WARD_DRILL_MAX_AGENTS]; /* per agent */
	size_t n_samples[WARD_DRILL_MAX_AGENTS];
	char agent_error[WARD_DRILL_MAX_AGENTS][160]; /* the last failure to watch it */
	char agent_id[WARD_DRILL_MAX_AGENTS][256];    /* its SPIFFE ID */
	struct ward_drill_req *reqs;
	size_t n_reqs;
	struct ward_drill_drop *drops;
	size_t n_drops;
	struct {
		double t;
		unsigned alive;
	} * alive; /* the count of healthy long-lived connections, at each change */
	size_t n_alive;
	unsigned long long long_opened;
	struct ward_drill_action actions[WARD_DRILL_MAX_STEPS];
	size_t n_actions;
	pid_t server_pid; /* the server's pid at the end (a restart changes it) */
	bool interrupted;
	size_t caps[4]; /* private: capacities of strings, reqs, drops, alive */
	size_t sample_caps[WARD_DRILL_MAX_AGENTS];
};

void ward_drill_record_init(struct ward_drill_record *r);
void ward_drill_record_free(struct ward_drill_record *r);
/* The index of s in the string table (added once); -1 out of memory. */
int ward_drill_intern(struct ward_drill_record *r, const char *s);
int ward_drill_record_sample(struct ward_drill_record *r, size_t agent,
			     const struct ward_drill_sample *s) WARD_MUST_CHECK;
int ward_drill_record_req(struct ward_drill_record *r, double t0, double t1,
			  enum ward_drill_why why, unsigned target) WARD_MUST_CHECK;
int ward_drill_record_drop(struct ward_drill_record *r, double t, unsigned conn,
			   enum ward_drill_why why) WARD_MUST_CHECK;
int ward_drill_record_alive(struct ward_drill_record *r, double t, unsigned alive) WARD_MUST_CHECK;

/* ---- parsing what agents say (drill_sample.c) ---------------------------- */

/* /certs into s (serial, not_after, bundle CAs, SVID or not). */
int ward_drill_parse_certs(const char *body, size_t len, struct ward_drill_record *r,
			   struct ward_drill_sample *s, char *spiffe_id,
			   size_t id_len) WARD_MUST_CHECK;
/* /metrics (Prometheus text) into s's counters. */
int ward_drill_parse_metrics(const char *body, size_t len,
			     struct ward_drill_sample *s) WARD_MUST_CHECK;

/* ---- the report (drill_report.c, drill_text.c, drill_html.c) ------------ */

/* Everything the drill saw and concluded, as one JSON object (the --json
 * file); the summary and the HTML page are made from it. NULL: no memory. */
json_t *ward_drill_report(const struct ward_drill_record *r, const struct ward_drill_opts *o);
/* The value at a dotted path ("totals.requests.ok") of the report, or NULL. */
const json_t *ward_drill_get(const json_t *o, const char *path);
/* Whether the report's verdict is PASS. */
bool ward_drill_report_passed(const json_t *report);
void ward_drill_text(const json_t *report, FILE *out);
int ward_drill_html(const json_t *report, FILE *out) WARD_MUST_CHECK;

#endif
