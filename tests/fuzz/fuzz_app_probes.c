/* libFuzzer target for WARD_APP_PROBES, the app probes a pod spec hands to
 * the agent (agent/app_probe_parse.c). Invariants: no crash, overread or
 * leak; an accepted value holds at most WARD_APP_PROBE_MAX probes, each with
 * a path under /app-health/, a loopback URL and a timeout of 1-60 s. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/app_probe_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ward_app_probes *p = NULL;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ward_app_probes_parse(text, &p) == 0) {
		if (p->n > WARD_APP_PROBE_MAX)
			abort();
		for (unsigned i = 0; i < p->n; i++) {
			const struct ward_app_probe_spec *s = &p->specs[i];

			if (strncmp(s->path, WARD_APP_PROBE_PREFIX,
				    strlen(WARD_APP_PROBE_PREFIX)) ||
			    strncmp(s->url + strcspn(s->url, ":"), "://127.0.0.1:", 13) ||
			    s->timeout_ms < 1000 || s->timeout_ms > WARD_PROBE_MAX_TIMEOUT_S * 1000)
				abort();
		}
		ward_app_probes_specs_free(p);
		free(p);
	}
	free(text);
	return 0;
}
