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
static int count_jump(const char *ctl, const char *name, const char *chain, const char *rule,
		      unsigned *count)
{
	char *argv[] = {(char *)name, "-w", "-t", "nat", "-S", (char *)chain, NULL};
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

static int apply_family(const struct ward_iptables_opts *o, struct family *f)
{
	char *argv[] = {(char *)f->restore_name, "-w", "--noflush", NULL};
	struct ward_iptables_jumps have;
	struct job j = {.path = f->restore, .argv = argv};
	char *text;
	int rc;

	GUARD(count_jump(f->ctl, f->ctl_name, "PREROUTING", ward_iptables_jump_prerouting,
			 &have.prerouting));
	GUARD(count_jump(f->ctl, f->ctl_name, "OUTPUT", ward_iptables_jump_output, &have.output));
	GUARD(ward_iptables_render_alloc(o, f->af, &have, &text));
	j.in = text;
	j.in_len = strlen(text);
	rc = run_job(&j);
	free(text);
	free(j.out);
	GUARD(rc);
	return j.status == 0 ? 0 : job_error(&j, f->restore_name);
}

int ward_iptables_show(int family, char **out)
{
	const char *name = family == AF_INET6 ? "ip6tables" : "iptables";
	char path[PATH_MAX];
	char *argv[] = {(char *)name, "-w", "-t", "nat", "-S", NULL};
	struct job j = {.path = path, .argv = argv};

	GUARD(find_binary(name, path, sizeof(path)));
	GUARD(run_job(&j));
	if (j.status != 0) {
		free(j.out);
		return job_error(&j, name);
	}
	*out = j.out;
	return 0;
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

int ward_iptables_apply(const struct ward_iptables_opts *o)
{
	struct family v4 = {
	    .af = AF_INET, .ctl_name = "iptables", .restore_name = "iptables-restore"};
	struct family v6 = {
	    .af = AF_INET6, .ctl_name = "ip6tables", .restore_name = "ip6tables-restore"};
	bool want6 = o->ipv6 == WARD_IPTABLES_IPV6_ON;

	if (o->ipv6 == WARD_IPTABLES_IPV6_AUTO)
		want6 = find_tools(&v6) == 0 && has_ipv6();
	/* Every binary is found before anything changes. */
	GUARD(find_tools(&v4));
	if (want6)
		GUARD(find_tools(&v6));
	GUARD(apply_family(o, &v4));
	if (want6)
		GUARD(apply_family(o, &v6));
	return 0;
}
