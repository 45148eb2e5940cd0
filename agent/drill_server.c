/* The ward server process faults stop and start; see drill_server.h. */
#include "agent/drill_server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/file.h"

#define IMAGE_MAX (256 * 1024) /* of a command line or an environment */

static int read_proc(pid_t pid, const char *what, char **out, size_t *len)
{
	char path[64];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ENSURE(fd >= 0, WARD_ERR_IO, "--server-pid %d: %s: %s", (int)pid, path, strerror(errno));
	*out = calloc(1, IMAGE_MAX + 1);
	n = *out ? read(fd, *out, IMAGE_MAX) : -1;
	close(fd);
	ENSURE(n > 0, WARD_ERR_IO, "--server-pid %d: %s: %s", (int)pid, path,
	       n == 0 ? "empty (a zombie or a kernel thread?)" : strerror(errno));
	*len = (size_t)n;
	return 0;
}

/* "a\0b\0" -> {"a", "b", NULL}. */
static char **split_nul(char *s, size_t len)
{
	size_t n = 0, k = 0;
	char **v;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '\0';
	v = calloc(n + 2, sizeof(*v));
	for (size_t i = 0; v && i < len; i += strlen(s + i) + 1)
		v[k++] = s + i;
	return v;
}

static void link_of(pid_t pid, const char *what, char *out, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	n = readlink(path, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	/* Only a file the server wrote to is written to again. */
	if (n > 0 && (out[0] != '/' || strstr(out, " (deleted)")))
		out[0] = '\0';
}

int ward_drill_server_capture(struct ward_drill_server *s, pid_t pid)
{
	size_t n;

	GUARD(read_proc(pid, "cmdline", &s->cmdline, &n));
	s->argv = split_nul(s->cmdline, n);
	GUARD(read_proc(pid, "environ", &s->environ, &n));
	s->env = split_nul(s->environ, n);
	ENSURE(s->argv && s->env, WARD_ERR_NOMEM, "drill: out of memory");
	link_of(pid, "exe", s->exe, sizeof(s->exe));
	link_of(pid, "cwd", s->cwd, sizeof(s->cwd));
	link_of(pid, "fd/1", s->out, sizeof(s->out));
	link_of(pid, "fd/2", s->err, sizeof(s->err));
	ENSURE(s->cwd[0], WARD_ERR_IO, "--server-pid %d: its working directory is unknown",
	       (int)pid);
	s->pid = pid;
	return 0;
}

bool ward_drill_server_gone(const struct ward_drill_server *s)
{
	pid_t pid = s->pid;
	char path[64], stat[256], *paren;
	FILE *f;
	size_t n;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = ward_file_fopen_read(path);
	if (!f)
		return true;
	n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	paren = strrchr(stat, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

/* The file the server wrote to, or /dev/null when there was none or it is
 * gone. */
static int open_out(const char *path)
{
	int fd = path[0] ? open(path, O_WRONLY | O_APPEND | O_CLOEXEC) : -1;

	return fd >= 0 ? fd : open("/dev/null", O_WRONLY | O_CLOEXEC);
}

static void on_process_closed(uv_handle_t *h)
{
	free(h);
}

int ward_drill_server_start(struct ward_drill_server *s, uv_loop_t *loop)
{
	uv_process_t *proc = calloc(1, sizeof(*proc));
	uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE}};
	uv_process_options_t opt = {
	    .file = s->exe[0] ? s->exe : s->argv[0],
	    .args = s->argv,
	    .env = s->env,
	    .cwd = s->cwd,
	    .flags = UV_PROCESS_DETACHED,
	    .stdio_count = 3,
	    .stdio = stdio,
	};
	int out = open_out(s->out), err = open_out(s->err), rc;

	stdio[1] = (uv_stdio_container_t){.flags = UV_INHERIT_FD, .data.fd = out};
	stdio[2] = (uv_stdio_container_t){.flags = UV_INHERIT_FD, .data.fd = err};
	rc = !proc ? UV_ENOMEM : out < 0 || err < 0 ? UV_EMFILE : uv_spawn(loop, proc, &opt);
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	if (rc != 0) {
		free(proc);
		return ward_err_set(WARD_ERR_IO, "starting ward server again (%s): %s", opt.file,
				    uv_strerror(rc));
	}
	s->pid = proc->pid;
	uv_close((uv_handle_t *)proc, on_process_closed); /* detached: it lives on */
	return 0;
}

void ward_drill_server_free(struct ward_drill_server *s)
{
	free(s->argv);
	free(s->env);
	free(s->cmdline);
	free(s->environ);
	s->argv = s->env = NULL;
	s->cmdline = s->environ = NULL;
}
