/* `ward server`'s configuration: a JSON file (README, "ward server"), parsed
 * and validated into a fresh struct; reasons name the key. Relative paths
 * resolve against the config file's directory.
 *
 *   trust_domain   required
 *   socket         "/run/ward/server.sock"   the Workload API (mode 0777)
 *   admin_socket   "/run/ward/server-admin.sock" (mode 0600)
 *   data_dir       "/var/lib/ward/server"    CA certificates and keys
 *   entries        required: registration entries file
 *   svid_ttl_s     3600 (1 .. 31536000)
 *   ca_ttl_s       86400 (60 .. 315360000)
 *   upstream       { cert, key, bundle }: sign with an intermediate under it
 *   federation     { "<trust domain>": "<bundle PEM file>" }
 *   attestation    { workload_size_limit: 268435456 } bytes hashed at most
 *                  for unix:sha256 (0: no limit), as SPIRE's unix attestor
 *   limits         the Workload API's connections (struct ward_wl_limits):
 *                  { max_connections: 1024, max_connections_per_uid: 512,
 *                    max_pending: 128, max_pending_per_uid: 32,
 *                    idle_timeout_ms: 5000, write_stall_ms: 10000 }
 *   rotation       { grace_ms: 500 (0 .. 60000), max_wait_ms: 5000 (100 .. 60000) }
 *                  a forced CA/root rotation activates grace_ms after every
 *                  open stream was sent the new bundle, or after max_wait_ms
 *   log            { level: "info" } */
#ifndef WARD_SPIFFE_SERVER_CONFIG_H
#define WARD_SPIFFE_SERVER_CONFIG_H

#include <stddef.h>

#include "lib/err.h"
#include "server/wl_server.h"

#define WARD_SERVER_MAX_FEDERATION 64

struct ward_server_federation {
	char *trust_domain; /* owned; bare name */
	char *bundle_file;  /* owned */
};

struct ward_server_config {
	char *trust_domain;
	char *socket;
	char *admin_socket;
	char *data_dir;
	char *entries;
	unsigned svid_ttl_s;
	unsigned ca_ttl_s;
	struct {
		char *cert, *key, *bundle; /* all NULL, or all set */
	} upstream;
	struct ward_server_federation *federation;
	size_t n_federation;
	long long workload_size_limit;
	struct ward_wl_limits limits;
	unsigned rotation_grace_ms, rotation_max_wait_ms;
	char *log_level;
};

int ward_server_config_load_file(const char *path, struct ward_server_config **out) WARD_MUST_CHECK;
int ward_server_config_load_string(const char *json, const char *base_dir,
				   struct ward_server_config **out) WARD_MUST_CHECK;
void ward_server_config_free(struct ward_server_config *cfg);

#endif
