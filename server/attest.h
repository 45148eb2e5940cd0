/* Workload attestation for `ward server`: who is on the other end of a
 * Workload API connection, as selectors in the vocabulary of SPIRE's unix
 * workload attestor (doc/plugin_agent_workloadattestor_unix.md in
 * spiffe/spire), so that SPIRE registration entries carry over unchanged:
 *
 *   unix:uid:<uid>                      unix:user:<name>
 *   unix:gid:<gid>                      unix:group:<name>
 *   unix:supplementary_gid:<gid>        unix:supplementary_group:<name>
 *   unix:path:<binary path>             unix:sha256:<hex digest of the binary>
 *
 * The caller is identified by the kernel (SO_PEERCRED on the unix socket),
 * never by anything it sends. user/group selectors are present only when
 * the ids have a name in this host's user database; supplementary groups
 * come from /proc/<pid>/status; path is the target of /proc/<pid>/exe
 * (as seen in the caller's mount namespace), and sha256 hashes that binary
 * by the same link, so a file renamed or replaced after exec is not what
 * gets hashed. Hashing reads the whole binary, so it is done only when an
 * entry needs it and only up to a size limit (SPIRE's workload_size_limit).
 *
 * The process is read when a call arrives: a caller that has exited by
 * then, or whose binary cannot be read, fails attestation. A caller in a pid
 * namespace this process cannot see (SO_PEERCRED gives pid 0: a pod calling
 * ward server in its own pod without hostPID) gets only the uid, user, gid
 * and group selectors, which the kernel vouches for without /proc; entries
 * that also need supplementary groups, path or sha256 do not match it. */
#ifndef WARD_SPIFFE_ATTEST_H
#define WARD_SPIFFE_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/err.h"

#define WARD_SELECTOR_MAX 512 /* bytes of one "type:key:value" selector */
#define WARD_ATTEST_MAX_SELECTORS 96

struct ward_attest_creds {
	pid_t pid; /* 0: not visible from this pid namespace */
	uid_t uid;
	gid_t gid;
};

struct ward_attest_opts {
	bool want_sha256;      /* some entry has a unix:sha256 selector */
	long long size_limit;  /* hash binaries up to this many bytes; 0 = no limit */
	const char *proc_root; /* "/proc"; tests point it at a fake tree */
};

/* The selectors of one caller, as owned NUL-terminated strings. */
struct ward_selectors {
	char **items;
	size_t n;
};

/* The kernel's credentials of the peer of unix socket fd. */
int ward_attest_peer_creds(int fd, struct ward_attest_creds *out) WARD_MUST_CHECK;

/* Builds the selectors of creds into *out (initialised by the call). On
 * failure the reason says what could not be read. */
int ward_attest_selectors(const struct ward_attest_creds *creds,
			  const struct ward_attest_opts *opts,
			  struct ward_selectors *out) WARD_MUST_CHECK;

void ward_selectors_free(struct ward_selectors *s);
bool ward_selectors_contain(const struct ward_selectors *s, const char *selector);

/* Checks that selector (a registration entry's) is one of the kinds above
 * with a well-formed value: NULL if so, else a static reason ("uid must be
 * a number"). */
const char *ward_attest_selector_check(const char *selector);

#endif
