/* libFuzzer target for admission reviews: the webhook's request bodies come
 * from the API server, and a malformed one must get a 400, never a crash. */
#include <stdint.h>
#include <stdlib.h>

#include "kube/admission.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ward_inject_opts opts;
	static int ready;
	struct ward_admission_reply r;

	if (!ready)
		ready = ward_inject_opts_init(&opts) == 0;
	if (ward_admission_review(&opts, (const char *)data, size, &r) == 0 && r.status != 200 &&
	    r.status != 400)
		abort();
	ward_admission_reply_free(&r);
	return 0;
}
