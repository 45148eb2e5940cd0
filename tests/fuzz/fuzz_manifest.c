/* libFuzzer target for manifest streams (YAML and JSON), which `ward inject`
 * reads from users and CI: parsing must never crash, and what ward writes
 * must read back as the same documents (the emitter's quoting keeps every
 * string a string). Injecting must not crash either. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/inject.h"
#include "kube/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ward_inject_opts opts;
	static int ready;
	struct ward_manifest m, again;
	struct ward_buf out;
	json_t *doc, *notes;
	size_t i;

	if (!ready)
		ready = ward_inject_opts_init(&opts) == 0;
	if (ward_manifest_parse((const char *)data, size, &m) < 0)
		return 0;
	ward_buf_init(&out, 1u << 24);
	if (ward_manifest_render(&m, &out) == 0) {
		if (ward_manifest_parse((const char *)out.data, ward_buf_len(&out), &again) < 0 ||
		    !json_equal(m.docs, again.docs))
			abort();
		ward_manifest_free(&again);
	}
	ward_buf_drop(&out);
	notes = json_array();
	json_array_foreach(m.docs, i, doc)
	{
		if (ward_inject_doc(&opts, WARD_INJECT, doc, (unsigned)i + 1, notes) < 0)
			break;
	}
	json_decref(notes);
	ward_manifest_free(&m);
	return 0;
}
