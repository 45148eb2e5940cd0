/* The values of an app probe that ward runs for the kubelet (agent/app_probe.h)
 * and that `ward inject` hands over from a pod's probes: shared, so that the
 * injector only hands over what the agent will accept (and leaves other
 * probes alone, with a warning) instead of writing a WARD_APP_PROBES that
 * stops the proxy from starting. */
#ifndef WARD_PROBE_H
#define WARD_PROBE_H

#include <stdbool.h>

#define WARD_PROBE_MAX_HEADERS 16
#define WARD_PROBE_PATH_MAX 2048
#define WARD_PROBE_HEADER_NAME_MAX 256
#define WARD_PROBE_HEADER_VALUE_MAX 766
#define WARD_PROBE_SERVICE_MAX 256
#define WARD_PROBE_MAX_TIMEOUT_S 60 /* the agent's bound on one probe */

/* An httpGet path: starts with '/', visible ASCII only (it goes into a
 * request line), at most WARD_PROBE_PATH_MAX bytes. */
bool ward_probe_path_ok(const char *path);
/* An httpHeaders name: an HTTP token (RFC 9110 §5.1). */
bool ward_probe_header_name_ok(const char *name);
/* An httpHeaders value: visible ASCII and spaces, no line breaks. */
bool ward_probe_header_value_ok(const char *value);
/* A gRPC health service name: at most WARD_PROBE_SERVICE_MAX bytes. */
bool ward_probe_service_ok(const char *service);

#endif
