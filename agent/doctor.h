/* `ward doctor`: the checks an experienced operator runs on a host or pod
 * before blaming the application: kernel TCP settings, sockets piling up in
 * TIME-WAIT / CLOSE-WAIT, file-descriptor headroom, the capture rules, the
 * Workload API socket, the SVID's expiry and the clock, and whether the key
 * exchange is post-quantum. Each check reports
 * its value, the recommended value and why. Reads only; changes nothing.
 *
 * The checks take their inputs through struct ward_doctor_env so that tests
 * can point them at a fake /proc and a given ruleset. */
#ifndef WARD_DOCTOR_H
#define WARD_DOCTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config/config.h"
#include "lib/err.h"

enum ward_check_status { WARD_CHECK_OK, WARD_CHECK_WARN, WARD_CHECK_FAIL, WARD_CHECK_SKIP };

struct ward_check {
	const char *name; /* stable, for --json consumers */
	enum ward_check_status status;
	char value[256];
	char recommended[256];
	const char *why;
};

struct ward_doctor_env {
	const char *proc;	       /* "/proc", or a test's copy */
	const struct ward_config *cfg; /* the agent's config (defaults without --config) */
	bool have_config;	       /* a config file was given */
	time_t now;
	/* `iptables -t nat -S` output; NULL to run iptables (and the error, if
	 * that fails, in iptables_error). */
	const char *iptables_text;
	const char *iptables_error;
	/* RLIMIT_NOFILE of the agent, from its admin endpoint (/stats "process"),
	 * when agent_pid > 0; otherwise the doctor's own soft limit, and
	 * agent_error says why the agent's could not be read. */
	unsigned long fd_limit;
	unsigned long fd_hard;
	int agent_pid;
	const char *agent_error;
};

#define WARD_DOCTOR_CHECKS 14

/* Runs every check into out[WARD_DOCTOR_CHECKS]; returns how many failed. */
int ward_doctor_run(const struct ward_doctor_env *env, struct ward_check *out);

/* Single checks, exported for the tests. */
void ward_doctor_congestion(const struct ward_doctor_env *env, struct ward_check *c);
void ward_doctor_somaxconn(const struct ward_doctor_env *env, struct ward_check *c);
void ward_doctor_port_range(const struct ward_doctor_env *env, struct ward_check *c);
void ward_doctor_socket_states(const struct ward_doctor_env *env, struct ward_check *tw,
			       struct ward_check *cw);
void ward_doctor_fd_limit(const struct ward_doctor_env *env, struct ward_check *c);
void ward_doctor_capture(const struct ward_doctor_env *env, struct ward_check *c);
void ward_doctor_post_quantum(const struct ward_doctor_env *env, struct ward_check *c);

const char *ward_check_status_name(enum ward_check_status s);
json_t *ward_doctor_json(const struct ward_check *checks, size_t n);

#endif
