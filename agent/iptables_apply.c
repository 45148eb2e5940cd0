/* `ward iptables`, applying: finds the iptables tools, counts ward's existing
 * jump rules, and feeds the rendered rules to iptables-restore --noflush in a
 * child process (no shell), forwarding its stderr into the error. */
#include "agent/iptables.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/file.h"

/* An init container's PATH may lack the sbin directories. */
static int find_binary(const char *name, char *path, size_t len)
{
	static const char fallback[] = "/usr/sbin:/sbin:/usr/local/sbin:/usr/bin:/bin";
	const char *dirs[] = {getenv("PATH"), fallback};

	for (size_t d = 0; d < 2; d++) {
		for (const char *s = dirs[d]; s && *s;) {
			size_t n = strcspn(s, ":");

			if (n > 0 &&
			    (size_t)snprintf(path, len, "%.*s/%s", (int)n, s, name) < len &&
			    access(path, X_OK) == 0)
				return 0;
			s += n + (s[n] == ':');
		}
	}
	return ward_err_set(WARD_ERR_NOTFOUND,
			    "%s not found (searched $PATH and %s); install the iptables package",
			    name, fallback);
}

/* One run of an iptables binary. Its stdout and stderr go to memfds rather
 * than pipes, so a chatty child can never block while we write its stdin. */
struct job {
	const char *path;
	char *const *argv;
	const char *in; /* fed on stdin; NULL: empty stdin */
	size_t in_len;
	char *out;     /* owned: the child's whole stdout, NUL-terminated */
	char err[320]; /* the child's stderr, one line, truncated */
	int status;    /* exit status, 128 + signal when killed */
};

static _Noreturn void child(const struct job *j, int in, int out, int err)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};

	/* Only async-signal-safe calls between fork and exec. */
	sigaction(SIGPIPE, &dfl, NULL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	execv(j->path, j->argv);
	_exit(127);
}

static int write_all(int fd, const char *p, size_t n)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	int rc = 0;

	/* A child that dies early (no permission) must not kill us with SIGPIPE;
	 * its exit status and stderr tell the story. */
	sigaction(SIGPIPE, &ign, &old);
	if (ward_file_write_all(fd, p, n) < 0 && errno != EPIPE)
		rc = ward_err_set(WARD_ERR_IO, "write: %s", strerror(errno));
	sigaction(SIGPIPE, &old, NULL);
	return rc;
}

static char *slurp(int fd)
{
	struct stat st;
	char *buf;
	ssize_t r;

	if (fstat(fd, &st) < 0 || !(buf = malloc((size_t)st.st_size + 1)))
		return NULL;
	r = pread(fd, buf, (size_t)st.st_size, 0);
	buf[r > 0 ? r : 0] = '\0';
	return buf;
}

/* The last lines of stderr matter most; fold them into one line. */
static void fold_err(struct job *j, int fd)
{
	char *s = slurp(fd), *p;
	size_t n;

	j->err[0] = '\0';
	if (!s)
		return;
	for (p = s; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
	snprintf(j->err, sizeof(j->err), "%s", n < sizeof(j->err) ? s : s + n - sizeof(j->err) + 1);
	free(s);
}

static int wait_child(pid_t pid, int *status)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		ENSURE(errno == EINTR, WARD_ERR_IO, "waitpid: %s", strerror(errno));
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

static int run_job(struct job *j)
{
	int in[2] = {-1, -1}, out = -1, err = -1, rc;
	pid_t pid;

	j->out = NULL;
	out = memfd_create("ward-iptables-out", MFD_CLOEXEC);
	err = memfd_create("ward-iptables-err", MFD_CLOEXEC);
	if (out < 0 || err < 0 || pipe2(in, O_CLOEXEC) < 0) {
		rc = ward_err_set(WARD_ERR_IO, "running %s: %s", j->path, strerror(errno));
		goto close_fds;
	}
	pid = fork();
	if (pid < 0) {
		rc = ward_err_set(WARD_ERR_IO, "fork: %s", strerror(errno));
		goto close_fds;
	}
	if (pid == 0)
		child(j, in[0], out, err);
	close(in[0]);
	in[0] = -1;
	rc = write_all(in[1], j->in ? j->in : "", j->in ? j->in_len : 0);
	close(in[1]);
	in[1] = -1;
	if (wait_child(pid, &j->status) < 0 && rc == 0)
		rc = WARD_ERR_IO;
	if (rc == 0) {
		j->out = slurp(out);
		fold_err(j, err);
		rc = j->out ? 0 : ward_err_set(WARD_ERR_NOMEM, "reading %s output", j->path);
	}
close_fds:
	for (int i = 0; i < 2; i++)
		if (in[i] >= 0)
			close(in[i]);
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	return rc;
}

static bool denied(const char *err)
{
	return strstr(err, "Permission denied") || strstr(err, "you must be root") ||
	       strstr(err, "Operation not permitted");
}

/* Turns a failed run into the one error a user can act on. */
static int job_error(const struct job *j, const char *name)
{
	if (j->status == 127 && !j->err[0])
		return ward_err_set(WARD_ERR_NOTFOUND, "could not execute %s", j->path);
	if (denied(j->err))
		return ward_err_set(
		    WARD_ERR_PERM,
		    "not permitted to change iptables rules (needs CAP_NET_ADMIN in "
		    "the pod's network namespace); %s said: %s",
		    name, j->err);
	return ward_err_set(WARD_ERR_IO, "%s failed (exit %d): %s", name, j->status,
			    j->err[0] ? j->err : "no message");
}

static unsigned count_lines(const char *text, const char *line)
{
	size_t n = strlen(line);
	unsigned count = 0;

	for (const char *p = text; *p; p += strcspn(p, "\n"), p += *p == '\n')
		if (!strncmp(p, line, n) && (p[n] == '\n' || p[n] == '\0'))
			count++;
	return count;
}

/* Counts ward's jumps with `iptables -S CHAIN`, whose lines have the same
 * canonical form as iptables-save's. */
static int count_jump(const char *ctl, const char *name, const char *table, const char *chain,
		      const char *rule, unsigned *count)
{
	char *argv[] = {(char *)name, "-w", "-t", (char *)table, "-S", (char *)chain, NULL};
	struct job j = {.path = ctl, .argv = argv};

	GUARD(run_job(&j));
	if (j.status != 0) {
		free(j.out);
		return job_error(&j, name);
	}
	*count = count_lines(j.out, rule);
	free(j.out);
	return 0;
}

struct family {
	int af;
	const char *ctl_name, *restore_name;
	char ctl[PATH_MAX], restore[PATH_MAX];
};

static int find_tools(struct family *f)
{
	GUARD(find_binary(f->restore_name, f->restore, sizeof(f->restore)));
	return find_binary(f->ctl_name, f->ctl, sizeof(f->ctl));
}

/* The jumps to WARD_SOURCE. Without --preserve-source a table that cannot be
 * listed holds none of ours (a kernel without it): nothing to remove. */
static int count_source_jumps(const struct ward_iptables_opts *o, const struct family *f,
			      struct ward_iptables_jumps *have)
{
	int rc = count_jump(f->ctl, f->ctl_name, "mangle", "OUTPUT", ward_iptables_jump_source,
			    &have->source_mangle);

	if (rc == 0)
		rc = count_jump(f->ctl, f->ctl_name, "raw", "OUTPUT", ward_iptables_jump_source,
				&have->source_raw);
	if (rc < 0 && !o->preserve_source) {
		have->source_mangle = have->source_raw = 0;
		return 0;
	}
	return rc;
}

static int apply_family(const struct ward_iptables_opts *o, struct family *f, bool *had_source)
{
	char *argv[] = {(char *)f->restore_name, "-w", "--noflush", NULL};
	struct ward_iptables_jumps have = {0};
	struct job j = {.path = f->restore, .argv = argv};
	char *text;
	int rc;

	GUARD(count_jump(f->ctl, f->ctl_name, "nat", "PREROUTING", ward_iptables_jump_prerouting,
			 &have.prerouting));
	GUARD(count_jump(f->ctl, f->ctl_name, "nat", "OUTPUT", ward_iptables_jump_output,
			 &have.output));
	GUARD(count_jump(f->ctl, f->ctl_name, "filter", "OUTPUT", ward_iptables_jump_guard,
			 &have.guard));
	GUARD(count_source_jumps(o, f, &have));
	*had_source |= have.source_mangle || have.source_raw;
	GUARD(ward_iptables_render_alloc(o, f->af, &have, &text));
	j.in = text;
	j.in_len = strlen(text);
	rc = run_job(&j);
	free(text);
	free(j.out);
	GUARD(rc);
	return j.status == 0 ? 0 : job_error(&j, f->restore_name);
}

static int show_table(const char *path, const char *name, const char *table, char **out)
{
	char *argv[] = {(char *)name, "-w", "-t", (char *)table, "-S", NULL};
	struct job j = {.path = path, .argv = argv};

	GUARD(run_job(&j));
	if (j.status != 0) {
		free(j.out);
		return job_error(&j, name);
	}
	*out = j.out;
	return 0;
}

int ward_iptables_show(int family, char **out)
{
	const char *name = family == AF_INET6 ? "ip6tables" : "iptables";
	char path[PATH_MAX], *nat, *filter = NULL;
	int rc;

	GUARD(find_binary(name, path, sizeof(path)));
	GUARD(show_table(path, name, "nat", &nat));
	rc = show_table(path, name, "filter", &filter);
	if (rc == 0 && asprintf(out, "%s%s", nat, filter) < 0)
		rc = ward_err_set(WARD_ERR_NOMEM, "%s: out of memory", name);
	free(nat);
	free(filter); /* set only when show_table succeeded */
	return rc;
}

/* auto: the namespace has an IPv6 address (lo has ::1 once it is up). */
static bool has_ipv6(void)
{
	FILE *f = ward_file_fopen_read("/proc/net/if_inet6");
	bool any;

	if (!f)
		return false;
	any = fgetc(f) != EOF;
	fclose(f);
	return any;
}

/* --- --preserve-source: the policy routing of the app's replies --- */

/* `ip FAM ARGS...`; with out, its stdout (malloc'd). */
static int run_ip(const char *ip, const char *fam, const char *const *args, char **out)
{
	char *argv[16] = {"ip", (char *)fam};
	struct job j = {.path = ip, .argv = argv};
	size_t n = 2;
	int rc;

	for (; *args && n < 15; args++)
		argv[n++] = (char *)*args;
	GUARD(run_job(&j));
	rc = j.status == 0 ? 0 : job_error(&j, "ip");
	if (rc == 0 && out)
		*out = j.out;
	else
		free(j.out);
	return rc;
}

/* Exactly one `fwmark M lookup T` rule and T's local default route when
 * install, none of them otherwise. Listing first keeps a rerun from adding a
 * second rule, and never leaves a moment without one. */
static int source_routing_family(const char *ip, const char *fam, bool install)
{
	char mark[16], table[16], *list;
	unsigned have;

	snprintf(mark, sizeof(mark), "0x%x", WARD_IPTABLES_SOURCE_MARK);
	snprintf(table, sizeof(table), "%u", WARD_IPTABLES_SOURCE_TABLE);
	const char *ls[] = {"rule", "list", "fwmark", mark, "lookup", table, NULL};
	const char *add[] = {"rule", "add", "fwmark", mark, "lookup", table, NULL};
	const char *del[] = {"rule", "del", "fwmark", mark, "lookup", table, NULL};
	const char *route[] = {"route", "replace", "local", "default", "dev",
			       "lo",	"table",   table,   NULL};
	const char *flush[] = {"route", "flush", "table", table, NULL};

	GUARD(run_ip(ip, fam, ls, &list));
	have = 0;
	for (const char *p = list; *p; p += strcspn(p, "\n"), p += *p == '\n')
		have++;
	free(list);
	for (; have > (install ? 1u : 0u); have--)
		GUARD(run_ip(ip, fam, del, NULL));
	if (!install) {
		if (run_ip(ip, fam, flush, NULL) < 0) /* "FIB table does not exist": fine */
			ward_err_clear();
		return 0;
	}
	if (have == 0)
		GUARD(run_ip(ip, fam, add, NULL));
	return run_ip(ip, fam, route, NULL);
}

/* With --preserve-source, install; without it (or with --cleanup), remove
 * what an earlier run added, when its chains were still there (had_source)
 * and `ip` exists. ip is "" when it does not. */
static int source_routing(const struct ward_iptables_opts *o, const char *ip, bool want6,
			  bool had_source)
{
	bool install = o->preserve_source && !o->cleanup;

	if ((!install && !had_source) || !ip[0])
		return 0;
	GUARD(source_routing_family(ip, "-4", install));
	return want6 ? source_routing_family(ip, "-6", install) : 0;
}

int ward_iptables_apply(const struct ward_iptables_opts *o)
{
	struct family v4 = {
	    .af = AF_INET, .ctl_name = "iptables", .restore_name = "iptables-restore"};
	struct family v6 = {
	    .af = AF_INET6, .ctl_name = "ip6tables", .restore_name = "ip6tables-restore"};
	bool want6 = o->ipv6 == WARD_IPTABLES_IPV6_ON, had_source = false;
	char ip[PATH_MAX] = "";

	if (o->ipv6 == WARD_IPTABLES_IPV6_AUTO)
		want6 = find_tools(&v6) == 0 && has_ipv6();
	/* Every binary is found before anything changes. */
	GUARD(find_tools(&v4));
	if (want6)
		GUARD(find_tools(&v6));
	if (find_binary("ip", ip, sizeof(ip)) < 0) {
		ENSURE(!o->preserve_source || o->cleanup, WARD_ERR_NOTFOUND,
		       "--preserve-source needs `ip` (iproute2); it is not on $PATH nor in "
		       "the sbin directories");
		ip[0] = '\0';
	}
	GUARD(apply_family(o, &v4, &had_source));
	if (want6)
		GUARD(apply_family(o, &v6, &had_source));
	return source_routing(o, ip, want6, had_source);
}
