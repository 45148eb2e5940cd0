/* Unix workload attestation from SO_PEERCRED and /proc; see attest.h. */
#include "server/attest.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#define PREFIX "unix:"
#define STATUS_MAX (64 * 1024)
#define NAME_BUF (16 * 1024) /* getpwuid_r / getgrgid_r scratch */
#define HASH_CHUNK (64 * 1024)
#define MAX_GROUPS 64

int ward_attest_peer_creds(int fd, struct ward_attest_creds *out)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	ENSURE(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof(cred),
	       WARD_ERR_IO, "SO_PEERCRED: %s", strerror(errno));
	/* pid 0: the peer is in a pid namespace that this one cannot see (a
	 * pod calling ward server's pod); its uid and gid are still the
	 * kernel's, translated into our user namespace. */
	*out = (struct ward_attest_creds){cred.pid, cred.uid, cred.gid};
	return 0;
}

void ward_selectors_free(struct ward_selectors *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->items[i]);
	free(s->items);
	s->items = NULL;
	s->n = 0;
}

bool ward_selectors_contain(const struct ward_selectors *s, const char *selector)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->items[i], selector))
			return true;
	return false;
}

static int add(struct ward_selectors *s, const char *fmt, ...) WARD_PRINTF(2, 3);
static int add(struct ward_selectors *s, const char *fmt, ...)
{
	char **items;
	va_list ap;
	int n;

	ENSURE(s->n < WARD_ATTEST_MAX_SELECTORS, WARD_ERR_RANGE, "more than %d selectors",
	       WARD_ATTEST_MAX_SELECTORS);
	items = realloc(s->items, (s->n + 1) * sizeof(*items));
	ENSURE(items, WARD_ERR_NOMEM, "selectors: out of memory");
	s->items = items;
	va_start(ap, fmt);
	n = vasprintf(&items[s->n], fmt, ap);
	va_end(ap);
	ENSURE(n >= 0, WARD_ERR_NOMEM, "selectors: out of memory");
	s->n++;
	return 0;
}

static int add_user(struct ward_selectors *s, uid_t uid)
{
	struct passwd pw, *found = NULL;
	char *buf = malloc(NAME_BUF);
	int rc = 0;

	ENSURE(buf, WARD_ERR_NOMEM, "selectors: out of memory");
	if (getpwuid_r(uid, &pw, buf, NAME_BUF, &found) == 0 && found)
		rc = add(s, PREFIX "user:%s", found->pw_name);
	free(buf);
	return rc;
}

static int add_group(struct ward_selectors *s, const char *kind, gid_t gid)
{
	struct group gr, *found = NULL;
	char *buf = malloc(NAME_BUF);
	int rc = 0;

	ENSURE(buf, WARD_ERR_NOMEM, "selectors: out of memory");
	if (getgrgid_r(gid, &gr, buf, NAME_BUF, &found) == 0 && found)
		rc = add(s, PREFIX "%s:%s", kind, found->gr_name);
	free(buf);
	return rc;
}

/* Reads a small /proc file into buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ENSURE(fd >= 0, WARD_ERR_IO, "%s: %s", path, strerror(errno));
	while (got < cap - 1 && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	ENSURE(n >= 0, WARD_ERR_IO, "%s: %s", path, strerror(errno));
	buf[got] = '\0';
	return 0;
}

/* The line "Groups:\t4 24 27" of /proc/<pid>/status (proc(5)). */
static int parse_groups(struct ward_selectors *s, const char *path, char *status)
{
	char *p = strstr(status, "\nGroups:"), *eol, *end;
	unsigned long gid;
	int n = 0;

	if (!p)
		return 0;
	p += strlen("\nGroups:");
	if ((eol = strchr(p, '\n')))
		*eol = '\0';
	for (;; p = end) {
		errno = 0;
		gid = strtoul(p, &end, 10);
		if (end == p)
			break;
		ENSURE(!errno && gid <= UINT_MAX - 1 && ++n <= MAX_GROUPS, WARD_ERR_INVALID,
		       "%s: bad Groups line", path);
		GUARD(add(s, PREFIX "supplementary_gid:%lu", gid));
		GUARD(add_group(s, "supplementary_group", (gid_t)gid));
	}
	p += strspn(p, " \t");
	ENSURE(*p == '\0', WARD_ERR_INVALID, "%s: bad Groups line", path);
	return 0;
}

static int add_supplementary(struct ward_selectors *s, const char *proc, pid_t pid)
{
	char path[PATH_MAX], *status;
	int rc;

	snprintf(path, sizeof(path), "%s/%d/status", proc, (int)pid);
	status = malloc(STATUS_MAX);
	ENSURE(status, WARD_ERR_NOMEM, "selectors: out of memory");
	rc = read_small(path, status, STATUS_MAX);
	if (rc == 0)
		rc = parse_groups(s, path, status);
	free(status);
	return rc;
}

static int hash_file(int fd, const char *path, long long limit, char hex[65])
{
	uint8_t digest[WC_SHA256_DIGEST_SIZE], *chunk;
	struct stat st;
	wc_Sha256 sha;
	ssize_t n = 0;

	ENSURE(fstat(fd, &st) == 0, WARD_ERR_IO, "%s: %s", path, strerror(errno));
	ENSURE(limit <= 0 || st.st_size <= limit, WARD_ERR_RANGE,
	       "%s: binary of %lld bytes is over the %lld-byte hashing limit", path,
	       (long long)st.st_size, limit);
	chunk = malloc(HASH_CHUNK);
	ENSURE(chunk, WARD_ERR_NOMEM, "hash: out of memory");
	wc_InitSha256(&sha);
	while ((n = read(fd, chunk, HASH_CHUNK)) > 0)
		wc_Sha256Update(&sha, chunk, (word32)n);
	wc_Sha256Final(&sha, digest);
	wc_Sha256Free(&sha);
	free(chunk);
	ENSURE(n == 0, WARD_ERR_IO, "%s: %s", path, strerror(errno));
	for (size_t i = 0; i < sizeof(digest); i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	return 0;
}

static int add_binary(struct ward_selectors *s, const struct ward_attest_opts *o, pid_t pid)
{
	char link[PATH_MAX], target[PATH_MAX], hex[65];
	ssize_t n;
	int fd, rc;

	snprintf(link, sizeof(link), "%s/%d/exe", o->proc_root, (int)pid);
	n = readlink(link, target, sizeof(target) - 1);
	ENSURE(n > 0, WARD_ERR_IO, "%s: %s", link, n < 0 ? strerror(errno) : "empty");
	target[n] = '\0';
	GUARD(add(s, PREFIX "path:%s", target));
	if (!o->want_sha256)
		return 0;
	/* Through the link: the binary the process runs, even if its path now
	 * names another file. */
	fd = open(link, O_RDONLY | O_CLOEXEC);
	ENSURE(fd >= 0, WARD_ERR_IO, "%s: %s", link, strerror(errno));
	rc = hash_file(fd, link, o->size_limit, hex);
	close(fd);
	return rc < 0 ? rc : add(s, PREFIX "sha256:%s", hex);
}

int ward_attest_selectors(const struct ward_attest_creds *c, const struct ward_attest_opts *o,
			  struct ward_selectors *out)
{
	const char *proc = o->proc_root ? o->proc_root : "/proc";
	struct ward_attest_opts opts = *o;
	int rc;

	out->items = NULL;
	out->n = 0;
	opts.proc_root = proc;
	rc = add(out, PREFIX "uid:%u", (unsigned)c->uid);
	if (rc == 0)
		rc = add_user(out, c->uid);
	if (rc == 0)
		rc = add(out, PREFIX "gid:%u", (unsigned)c->gid);
	if (rc == 0)
		rc = add_group(out, "group", c->gid);
	/* Without a visible process there are no supplementary groups, path or
	 * hash to read: entries that need them do not match (fail closed). */
	if (rc == 0 && c->pid > 0)
		rc = add_supplementary(out, proc, c->pid);
	if (rc == 0 && c->pid > 0)
		rc = add_binary(out, &opts, c->pid);
	if (rc < 0)
		ward_selectors_free(out);
	return rc;
}

/* ---- the selector grammar entries are checked against ------------------- */

static const char *check_id(const char *v)
{
	unsigned long long n = 0;

	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return "must be a decimal number";
		n = n * 10 + (unsigned)(*p - '0');
		if (n > UINT_MAX - 1)
			return "is out of range";
	}
	return v[0] == '0' && v[1] ? "must not have leading zeros" : NULL;
}

static const char *check_name(const char *v)
{
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f || *p == ':')
			return "must not contain spaces, control characters or ':'";
	return NULL;
}

static const char *check_path(const char *v)
{
	return v[0] == '/' ? NULL : "must be an absolute path";
}

static const char *check_sha256(const char *v)
{
	size_t i;

	for (i = 0; v[i]; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			return "must be 64 lowercase hex digits";
	return i == 64 ? NULL : "must be 64 lowercase hex digits";
}

static const struct {
	const char *key;
	const char *(*check)(const char *value);
} kinds[] = {
    {"uid", check_id},	  {"gid", check_id},	    {"supplementary_gid", check_id},
    {"user", check_name}, {"group", check_name},    {"supplementary_group", check_name},
    {"path", check_path}, {"sha256", check_sha256},
};

const char *ward_attest_selector_check(const char *sel)
{
	const char *key, *colon;
	size_t key_len;

	if (strlen(sel) > WARD_SELECTOR_MAX)
		return "is too long";
	if (strncmp(sel, PREFIX, strlen(PREFIX)))
		return "type must be \"unix\" (as \"unix:uid:1000\")";
	key = sel + strlen(PREFIX);
	colon = strchr(key, ':');
	if (!colon || colon[1] == '\0')
		return "must be unix:<kind>:<value>";
	key_len = (size_t)(colon - key);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i].key) == key_len && !strncmp(kinds[i].key, key, key_len))
			return kinds[i].check(colon + 1);
	return "kind must be uid, user, gid, group, supplementary_gid, supplementary_group, "
	       "path or sha256";
}
