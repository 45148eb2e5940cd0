/* The SPIFFE ID policy; see policy.h. */
#include "agent/policy.h"

#include <string.h>

#include "spiffe/pattern.h"

static bool ids_allow(char *const *patterns, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (ward_id_pattern_match(patterns[i], id, strlen(id)))
			return true;
	return false;
}

bool ward_policy_inbound_allowed(const struct ward_config *cfg, uint16_t port, const char *id)
{
	const struct ward_port_ids *wildcard = NULL;

	for (size_t i = 0; i < cfg->inbound.n_allowed_client_ids; i++) {
		const struct ward_port_ids *p = &cfg->inbound.allowed_client_ids[i];

		if (p->port == port)
			return ids_allow(p->ids, p->n_ids, id);
		if (p->port == 0)
			wildcard = p;
	}
	return wildcard && ids_allow(wildcard->ids, wildcard->n_ids, id);
}

bool ward_policy_outbound_allowed(const struct ward_config *cfg, const char *id)
{
	return ids_allow(cfg->outbound.allowed_server_ids, cfg->outbound.n_allowed_server_ids, id);
}
