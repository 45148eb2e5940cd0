/* Authorization policy on SPIFFE IDs, as the config states it: which client
 * IDs may reach which local port (inbound.allowed_client_ids) and which
 * server IDs outbound traffic accepts (outbound.allowed_server_ids). The one
 * place both the direct mTLS path and the tunnel ask. */
#ifndef WARD_AGENT_POLICY_H
#define WARD_AGENT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

/* The client id may reach local port: the port's own list, or "*"'s. */
bool ward_policy_inbound_allowed(const struct ward_config *cfg, uint16_t port, const char *id);
/* A server presenting id is acceptable to outbound traffic. */
bool ward_policy_outbound_allowed(const struct ward_config *cfg, const char *id);

#endif
